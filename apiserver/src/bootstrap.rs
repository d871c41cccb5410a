//! Objects every cluster starts with: the system namespaces.

use std::time::Duration;

use corekube_api::{registry, ApiError};
use serde_json::json;

use crate::state::AppState;
use crate::store::{self, Scope};

pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces that are missing, retrying (bounded) while etcd is unreachable.
pub async fn ensure_system_namespaces(state: &AppState) {
    let def = registry::find("", "v1", "namespaces").expect("namespaces are served");
    let scope = Scope { def, namespace: None };
    for name in SYSTEM_NAMESPACES {
        for attempt in 0..60 {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            let ns = (def.codec)(ns).expect("a namespace literal decodes").value;
            match store::create(state, &scope, ns, false).await {
                Ok(_) | Err(ApiError::AlreadyExists { .. }) => break,
                Err(e) => {
                    tracing::warn!(namespace = name, attempt, error = %e, "cannot create system namespace yet");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}
