//! `/version`: the Kubernetes version whose API is served (the k8s-openapi feature built with).
//! kubectl's dispatcher picks its bundled minor from `minor`.

use serde_json::{json, Value};

pub const MAJOR: &str = "1";
pub const MINOR: &str = "33";

pub fn info() -> Value {
    json!({
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": format!("v{MAJOR}.{MINOR}.0+corekube-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": option_env!("COREKUBE_GIT_COMMIT").unwrap_or("unknown"),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "none (Rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
    })
}
