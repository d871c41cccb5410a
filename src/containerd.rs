//! The managed containerd: a child `containerd` with its own root, state, socket and CNI
//! configuration under the data directory, so it never collides with another containerd on
//! the machine. Pods get a bridge of their own with the node's pod CIDR, routes to the
//! cluster's pod range only, and no NAT: their traffic cannot leave the machine. Started
//! before the kubelet, stopped after it; if it dies on its own, corekube stops with an error.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use corekube_kubelet::cri::Cri;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// The sandbox image every pod starts with, loaded from the local archives (images/build).
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";
/// How long containerd gets to answer CRI Version.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    #[error("{what} is missing: install it with: apt-get install {package}")]
    Missing { what: String, package: &'static str },
    #[error("cannot start containerd: {0}")]
    Spawn(std::io::Error),
    #[error("containerd exited during start-up ({status}); see {log}")]
    ExitedEarly { status: String, log: String },
    #[error("containerd's CRI did not answer within {0:?}; see {1}")]
    NotReady(Duration, String),
    #[error("containerd directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("importing image archive {file}: {detail}")]
    Import { file: String, detail: String },
}

/// The node's network: its pod CIDR on its own bridge, inside the cluster's range.
pub struct PodNetwork {
    pub pod_cidr: String,
    pub cluster_cidr: String,
    pub bridge: String,
    /// Where host-local keeps its address leases: this node's own, so two nodes on one
    /// machine never hand out each other's addresses.
    pub ipam_dir: PathBuf,
}

/// Fails with the Debian packages to install when a program the node needs is missing.
pub fn check_binaries() -> Result<(), ContainerdError> {
    let on_path = |p: &str| std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()));
    for (program, package) in [("containerd", "containerd"), ("ctr", "containerd"), ("containerd-shim-runc-v2", "containerd"), ("runc", "runc")] {
        if !on_path(program) {
            return Err(ContainerdError::Missing { what: format!("`{program}`"), package });
        }
    }
    for plugin in ["bridge", "host-local", "portmap", "loopback"] {
        if !Path::new("/usr/lib/cni").join(plugin).is_file() {
            return Err(ContainerdError::Missing { what: format!("the CNI plugin /usr/lib/cni/{plugin}"), package: "containernetworking-plugins" });
        }
    }
    Ok(())
}

fn config_toml(dir: &Path) -> String {
    let root = dir.display();
    format!(
        r#"# Written by corekube: this containerd's own root, state, socket and CNI configuration.
version = 2
root = "{root}/root"
state = "{root}/state"
# Lowering its own oom_score_adj needs CAP_SYS_RESOURCE, which these machines may not grant.
oom_score = 0

[grpc]
  address = "{root}/containerd.sock"

[ttrpc]
  address = "{root}/containerd.sock.ttrpc"

[debug]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "{root}/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    # No registry may be reachable: the pause image comes from the local archives.
    sandbox_image = "{PAUSE_IMAGE}"
    # Without it every sandbox fails where runc cannot lower oom_score_adj.
    restrict_oom_score_adj = true
    disable_apparmor = true
    enable_selinux = false
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    max_container_log_line_size = 16384
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "{root}/cni/net.d"
      max_conf_num = 1
"#
    )
}

/// The bridge network of the node's pods. Pods get a route to the cluster's pod range only
/// (no default route) and no masquerading, so nothing they send can leave the machine.
fn cni_conflist(net: &PodNetwork) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "corekube",
        "plugins": [
            {
                "type": "bridge",
                "bridge": net.bridge,
                "isGateway": true,
                "isDefaultGateway": false,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": net.pod_cidr}]],
                    "routes": [{"dst": net.cluster_cidr}],
                    "dataDir": net.ipam_dir,
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    }))
    .expect("a JSON literal serializes")
}

/// Makes the cluster's pod range unreachable from the machine except through the nodes'
/// bridges (whose own routes are more specific), so nothing addressed to it is routed away.
fn install_unreachable_route(cluster_cidr: &str) {
    let exists = std::process::Command::new("ip").args(["route", "show", "type", "unreachable", cluster_cidr]).output().map(|o| !o.stdout.is_empty()).unwrap_or(false);
    if !exists {
        match std::process::Command::new("ip").args(["route", "add", "unreachable", cluster_cidr]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => tracing::warn!(cidr = cluster_cidr, error = %String::from_utf8_lossy(&o.stderr).trim(), "cannot add the unreachable route for the cluster's pod range"),
            Err(e) => tracing::warn!(cidr = cluster_cidr, error = %e, "cannot run `ip` (install iproute2)"),
        }
    }
}

pub struct ManagedContainerd {
    pub socket: PathBuf,
    log_path: PathBuf,
    child: Child,
}

impl ManagedContainerd {
    /// Writes the configuration under `dir`, starts containerd and waits until its CRI answers.
    pub async fn start(dir: &Path, net: &PodNetwork) -> Result<ManagedContainerd, ContainerdError> {
        check_binaries()?;
        let cni_dir = dir.join("cni/net.d");
        std::fs::create_dir_all(&cni_dir).map_err(|e| ContainerdError::Dir(cni_dir.clone(), e))?;
        crate::etcd::set_mode(dir, 0o700);
        let config = dir.join("containerd.toml");
        std::fs::write(&config, config_toml(dir)).map_err(|e| ContainerdError::Dir(config.clone(), e))?;
        let conflist = cni_dir.join("10-corekube.conflist");
        std::fs::write(&conflist, cni_conflist(net)).map_err(|e| ContainerdError::Dir(conflist.clone(), e))?;
        install_unreachable_route(&net.cluster_cidr);
        let log_path = dir.join("containerd.log");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| ContainerdError::Dir(log_path.clone(), e))?;
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(&config).stdin(Stdio::null()).stdout(log.try_clone().map_err(|e| ContainerdError::Dir(log_path.clone(), e))?).stderr(log).kill_on_drop(true);
        // If corekube dies without stopping it, the kernel does (the pods' shims live on, as
        // they do under any containerd, and the next start adopts or removes them).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(ContainerdError::Spawn)?;
        let mut c = ManagedContainerd { socket: dir.join("containerd.sock"), log_path, child };
        c.wait_ready().await?;
        Ok(c)
    }

    async fn wait_ready(&mut self) -> Result<(), ContainerdError> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ContainerdError::ExitedEarly { status: status.to_string(), log: self.log_path.display().to_string() });
            }
            if self.socket.exists() {
                if let Ok(cri) = Cri::connect(&self.socket) {
                    if cri.version().await.is_ok() {
                        return Ok(());
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ContainerdError::NotReady(READY_TIMEOUT, self.log_path.display().to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs until containerd exits or `shutdown` fires; an error if it exited on its own.
    pub async fn supervise(mut self, shutdown: CancellationToken) -> Result<(), String> {
        crate::child::supervise(&mut self.child, "containerd", &self.log_path, STOP_GRACE, shutdown).await
    }
}

/// Loads an OCI or docker image archive into the runtime's CRI image store (containerd's
/// `k8s.io` namespace), through containerd's own `ctr`.
pub fn import_image(socket: &Path, archive: &Path) -> Result<(), ContainerdError> {
    let out = std::process::Command::new("ctr")
        .arg("--address")
        .arg(socket)
        .args(["--namespace", "k8s.io", "images", "import"])
        .arg(archive)
        .output()
        .map_err(|e| ContainerdError::Import { file: archive.display().to_string(), detail: format!("cannot run ctr ({e}); apt-get install containerd") })?;
    if !out.status.success() {
        return Err(ContainerdError::Import { file: archive.display().to_string(), detail: String::from_utf8_lossy(&out.stderr).trim().to_string() });
    }
    Ok(())
}

/// Imports every `*.tar` archive in `dir` (what `images/build` writes), if the folder exists.
pub fn import_images_from(socket: &Path, dir: &Path) -> Result<usize, ContainerdError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    let mut archives: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "tar")).collect();
    archives.sort();
    for a in &archives {
        import_image(socket, a)?;
    }
    Ok(archives.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_routes_to_the_cluster_range_only_and_no_nat() {
        let net = PodNetwork { pod_cidr: "10.42.1.0/24".into(), cluster_cidr: "10.42.0.0/16".into(), bridge: "ckbr1".into(), ipam_dir: "/tmp/x/ipam".into() };
        let conf: serde_json::Value = serde_json::from_str(&cni_conflist(&net)).unwrap();
        let bridge = &conf["plugins"][0];
        assert_eq!((bridge["bridge"].as_str(), bridge["ipMasq"].as_bool(), bridge["isDefaultGateway"].as_bool()), (Some("ckbr1"), Some(false), Some(false)));
        assert_eq!(bridge["ipam"]["routes"], serde_json::json!([{"dst": "10.42.0.0/16"}]));
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.42.1.0/24");
        let toml = config_toml(Path::new("/tmp/x"));
        assert!(toml.contains("restrict_oom_score_adj = true") && toml.contains("address = \"/tmp/x/containerd.sock\""), "{toml}");
    }
}
