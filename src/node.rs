//! The node in this process: its container runtime (a managed containerd unless a CRI socket
//! is given, with the offline image archives loaded) and its kubelet. `corekube server` and
//! `corekube kubelet` both go through here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tokio_util::sync::CancellationToken;

use crate::cli::NodeOptions;
use crate::containerd::{self, ManagedContainerd, PodNetwork};

/// A running runtime: its socket, and the managed containerd's stop switch and task.
pub struct NodeRuntime {
    pub socket: PathBuf,
    managed: Option<(CancellationToken, tokio::task::JoinHandle<Result<(), String>>)>,
}

/// The managed containerd's socket under a kubelet root directory.
pub fn managed_socket(root_dir: &Path) -> PathBuf {
    root_dir.join("containerd/containerd.sock")
}

/// Starts (or finds) the runtime and loads the image archives of `image_dir`. A managed
/// containerd that dies later cancels `failure`.
pub async fn start_runtime(opts: &NodeOptions, root_dir: &Path, image_dir: &Path, failure: CancellationToken) -> Result<NodeRuntime, String> {
    let runtime = match &opts.container_runtime_endpoint {
        Some(socket) => NodeRuntime { socket: socket.clone(), managed: None },
        None => {
            let net = PodNetwork {
                pod_cidr: opts.pod_cidr.clone(),
                cluster_cidr: opts.cluster_cidr.clone(),
                bridge: opts.bridge_name(),
                ipam_dir: root_dir.join("containerd/cni/ipam"),
            };
            let managed = ManagedContainerd::start(&root_dir.join("containerd"), &net).await.map_err(|e| e.to_string())?;
            tracing::info!(socket = %managed.socket.display(), "managed containerd is ready");
            let socket = managed.socket.clone();
            let stop = CancellationToken::new();
            let task = {
                let stop = stop.clone();
                tokio::spawn(async move {
                    let r = managed.supervise(stop).await;
                    if r.is_err() {
                        failure.cancel();
                    }
                    r
                })
            };
            NodeRuntime { socket, managed: Some((stop, task)) }
        }
    };
    let loaded = containerd::import_images_from(&runtime.socket, image_dir).map_err(|e| e.to_string())?;
    if loaded > 0 {
        tracing::info!(count = loaded, dir = %image_dir.display(), "image archives loaded into the node's runtime");
    }
    Ok(runtime)
}

impl NodeRuntime {
    /// Stops the managed containerd (after the kubelet), reporting whether it had died.
    pub async fn stop(self) -> Result<(), String> {
        let Some((stop, task)) = self.managed else { return Ok(()) };
        stop.cancel();
        match tokio::time::timeout(std::time::Duration::from_secs(10), task).await {
            Ok(Ok(r)) => r,
            _ => Ok(()),
        }
    }
}

fn parse_reserved(items: &[String]) -> Result<BTreeMap<String, Quantity>, String> {
    items
        .iter()
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), Quantity(v.to_string()))),
            _ => Err(format!("--system-reserved: {item:?} is not RESOURCE=QUANTITY")),
        })
        .collect()
}

/// A taint from `KEY=VALUE:EFFECT` or `KEY:EFFECT` (upstream's --register-with-taints form).
fn parse_taint(spec: &str) -> Result<k8s_openapi::api::core::v1::Taint, String> {
    let bad = || format!("--register-with-taints: {spec:?} is not KEY[=VALUE]:EFFECT with EFFECT NoSchedule, PreferNoSchedule or NoExecute");
    let (key_value, effect) = spec.rsplit_once(':').ok_or_else(bad)?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(bad());
    }
    let (key, value) = match key_value.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (key_value, None),
    };
    if key.is_empty() {
        return Err(bad());
    }
    Ok(k8s_openapi::api::core::v1::Taint { key: key.into(), value, effect: effect.into(), time_added: None })
}

/// Bytes from a size quantity (`10Mi`, `1G`, `1048576`); None when malformed or not positive.
fn parse_quantity_bytes(s: &str) -> Option<u64> {
    let q = corekube_api::validation::quantity::parse(s.trim()).ok()?;
    u64::try_from(q.ceil_scaled(0)).ok().filter(|n| *n > 0)
}

/// The host name, as the node's default name (lower-cased, as upstream).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into()).trim().to_lowercase()
}

/// The PEM of the CA a kubeconfig's current cluster trusts (the cluster CA).
fn kubeconfig_ca(kubeconfig: &Path) -> Result<String, String> {
    use base64::Engine;
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| format!("reading {}: {e}", kubeconfig.display()))?;
    let context = kc.current_context.as_deref().and_then(|name| kc.contexts.iter().find(|c| c.name == name)).and_then(|c| c.context.as_ref());
    let cluster_name = context.map(|c| c.cluster.clone());
    let cluster = kc.clusters.iter().find(|c| Some(&c.name) == cluster_name.as_ref()).or(kc.clusters.first()).and_then(|c| c.cluster.as_ref());
    let cluster = cluster.ok_or_else(|| format!("{} names no cluster", kubeconfig.display()))?;
    if let Some(data) = &cluster.certificate_authority_data {
        let pem = base64::engine::general_purpose::STANDARD.decode(data.trim()).map_err(|e| format!("{}: certificate-authority-data: {e}", kubeconfig.display()))?;
        return String::from_utf8(pem).map_err(|e| e.to_string());
    }
    if let Some(file) = &cluster.certificate_authority {
        return std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"));
    }
    Err(format!("{} has no certificate authority for its cluster", kubeconfig.display()))
}

/// Runs the kubelet with `kubeconfig`'s identity until `shutdown`.
/// `serving` is the kubelet API's certificate and key (PEM); its clients are checked against
/// the CA of `kubeconfig`'s cluster.
pub async fn run_kubelet(kubeconfig: &Path, opts: &NodeOptions, root_dir: &Path, socket: &Path, serving: Option<(String, String)>, shutdown: CancellationToken) -> Result<(), String> {
    let client = corekube_client::client_from_kubeconfig(kubeconfig, "kubelet").await.map_err(|e| e.to_string())?;
    let node_ip = opts.node_ip.clone().unwrap_or_else(corekube_kubelet::default_node_ip);
    let api = match serving {
        Some((cert_pem, key_pem)) => {
            let ip: std::net::IpAddr = node_ip.parse().map_err(|_| format!("--node-ip {node_ip:?} is not an IP address"))?;
            let client_ca_pem = kubeconfig_ca(kubeconfig)?;
            Some(corekube_kubelet::server::ServeConfig { listen: std::net::SocketAddr::new(ip, opts.kubelet_port), cert_pem, key_pem, client_ca_pem })
        }
        None => None,
    };
    let cri = corekube_kubelet::cri::Cri::connect(socket).map_err(|e| e.to_string())?;
    let config = corekube_kubelet::Config {
        client,
        node_name: opts.node_name.clone().unwrap_or_else(host_name),
        node_ip,
        pod_cidr: opts.pod_cidr.clone(),
        cri,
        root_dir: root_dir.to_path_buf(),
        system_reserved: parse_reserved(&opts.system_reserved)?,
        stop_pods_on_exit: !opts.keep_pods_on_exit,
        api,
        log_limits: corekube_kubelet::log_rotation::Limits {
            max_bytes: parse_quantity_bytes(&opts.container_log_max_size).ok_or_else(|| format!("--container-log-max-size {:?} is not a size such as 10Mi", opts.container_log_max_size))?,
            max_files: opts.container_log_max_files as usize,
        },
        register_taints: opts.register_with_taints.iter().filter(|t| !t.is_empty()).map(|t| parse_taint(t)).collect::<Result<_, _>>()?,
    };
    corekube_kubelet::run(config, shutdown).await.map_err(|e| e.to_string())
}
