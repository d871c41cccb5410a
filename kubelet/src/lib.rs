//! The kubelet: registers its node, watches the pods bound to it, and runs them through a CRI
//! runtime (containerd), one worker per pod, reporting their status through the API server.
//! A runtime relist every second (upstream's PLEG) tells workers when their containers change;
//! containers found at start are adopted by their pods' workers, and those of pods that are
//! gone are removed.

pub mod cri;
mod env;
mod hooks;
mod labels;
pub mod log_rotation;
mod node_status;
mod pod_status;
mod pod_worker;
mod prober;
mod runtime_config;
pub mod server;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use corekube_client::informer::{self, Change};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::Api;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::Client;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use node_status::KUBELET_VERSION;
use pod_worker::{PodRuntime, Update, Worker};

/// How often the runtime is relisted (upstream's PLEG period).
const RELIST: Duration = Duration::from_secs(1);
/// How long the runtime may take to answer its first Version call.
const RUNTIME_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the container runtime at {socket} does not answer: {detail}")]
    Runtime { socket: String, detail: String },
    #[error("registering node {node}: {detail}")]
    Register { node: String, detail: String },
    #[error("{detail}")]
    Api { detail: String },
}

/// A completed kubelet configuration.
pub struct Config {
    /// A client with the node's identity (CN=system:node:NAME, O=system:nodes).
    pub client: Client,
    pub node_name: String,
    /// The address the node reports (InternalIP) and pods see as their hostIP.
    pub node_ip: String,
    pub pod_cidr: String,
    pub cri: cri::Cri,
    /// Where pod volumes live (`pods/<uid>/volumes`) and container logs go (`logs/`).
    pub root_dir: PathBuf,
    /// Resources kept from pods (`--system-reserved cpu=500m,memory=1Gi`).
    pub system_reserved: BTreeMap<String, Quantity>,
    /// Whether stopping the kubelet stops its pods' containers.
    pub stop_pods_on_exit: bool,
    /// The kubelet API (logs, exec, attach, port-forward); None leaves it off.
    pub api: Option<server::ServeConfig>,
    /// When container logs are rotated.
    pub log_limits: log_rotation::Limits,
    /// Taints the Node gets when this kubelet first registers it (`--register-with-taints`).
    pub register_taints: Vec<k8s_openapi::api::core::v1::Taint>,
}

/// What every pod worker shares.
pub(crate) struct Shared {
    pub client: Client,
    pub cri: cri::Cri,
    pub node_name: String,
    pub node_ip: String,
    pub pod_cidr: String,
    pub root_dir: PathBuf,
    pub log_root: PathBuf,
    pub dns: k8s_cri::v1::DnsConfig,
    pub recorder: Recorder,
    pub system_reserved: BTreeMap<String, Quantity>,
    /// The port the kubelet API listens on (the Node's daemonEndpoints), 0 when it is off.
    pub api_port: u16,
    /// The pods bound to this node as last seen, by UID (the kubelet API's `/pods` and lookups).
    pub pods: std::sync::RwLock<HashMap<String, Pod>>,
    pub register_taints: Vec<k8s_openapi::api::core::v1::Taint>,
}

impl Shared {
    /// The UID of the pod `namespace/name` this kubelet runs, if it knows one.
    pub fn pod_uid(&self, namespace: &str, name: &str) -> Option<String> {
        let pods = self.pods.read().expect("pods lock");
        pods.values()
            .find(|p| p.metadata.namespace.as_deref() == Some(namespace) && p.metadata.name.as_deref() == Some(name))
            .and_then(|p| p.metadata.uid.clone())
    }
}

/// The node's resolver (nameservers, search domains, options), for pods using it.
fn node_dns() -> k8s_cri::v1::DnsConfig {
    let mut dns = k8s_cri::v1::DnsConfig::default();
    for line in std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default().lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => dns.servers.extend(words.next().map(String::from)),
            Some("search") => dns.searches = words.map(String::from).collect(),
            Some("options") => dns.options = words.map(String::from).collect(),
            _ => {}
        }
    }
    dns
}

/// The first non-loopback IPv4 address of the machine (what the node reports as InternalIP).
pub fn default_node_ip() -> String {
    let mut found = None;
    unsafe {
        let mut addrs: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut addrs) == 0 {
            let mut cur = addrs;
            while !cur.is_null() && found.is_none() {
                let a = &*cur;
                if !a.ifa_addr.is_null() && i32::from((*a.ifa_addr).sa_family) == libc::AF_INET && a.ifa_flags & libc::IFF_LOOPBACK as u32 == 0 && a.ifa_flags & libc::IFF_UP as u32 != 0 {
                    let sin = &*(a.ifa_addr as *const libc::sockaddr_in);
                    found = Some(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)).to_string());
                }
                cur = a.ifa_next;
            }
            libc::freeifaddrs(addrs);
        }
    }
    found.unwrap_or_else(|| "127.0.0.1".into())
}

/// What the main loop hears about. (A pod is large, but each input moves once through a
/// channel; boxing it would only add an allocation.)
#[allow(clippy::large_enum_variant)]
enum Input {
    Pod(Change<Pod>),
    /// The runtime's pods, from a relist that started at that instant.
    Relist(HashMap<String, PodRuntime>, tokio::time::Instant),
}

struct WorkerHandle {
    tx: mpsc::Sender<Update>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs the kubelet until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + RUNTIME_WAIT;
    let version = loop {
        match config.cri.version().await {
            Ok(v) => break v,
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(Error::Runtime { socket: config.cri.socket.display().to_string(), detail: e.to_string() }),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    tracing::info!(node = %config.node_name, runtime = %version.runtime_name, version = %version.runtime_version, "kubelet starting");
    let reporter = Reporter { controller: "kubelet".into(), instance: Some(config.node_name.clone()) };
    // The API listens before the node registers, so the Node names the port it really got.
    let api = match &config.api {
        Some(api) => Some((server::bind(api).await.map_err(|detail| Error::Api { detail })?, api.clone())),
        None => None,
    };
    let api_port = api.as_ref().map(|((_, port), _)| *port).unwrap_or(0);
    let shared = Arc::new(Shared {
        recorder: Recorder::new(config.client.clone(), reporter),
        client: config.client,
        cri: config.cri,
        log_root: config.root_dir.join("logs"),
        root_dir: config.root_dir,
        node_name: config.node_name,
        node_ip: config.node_ip,
        pod_cidr: config.pod_cidr,
        dns: node_dns(),
        system_reserved: config.system_reserved,
        api_port,
        pods: Default::default(),
        register_taints: config.register_taints,
    });
    if let Some(((listener, port), api)) = api {
        tracing::info!(port, "kubelet API listening");
        tokio::spawn(server::serve(listener, api, shared.clone(), shutdown.clone()));
    }
    let _ = std::fs::create_dir_all(&shared.log_root);
    node_status::register(&shared).await.map_err(|e| Error::Register { node: shared.node_name.clone(), detail: e.to_string() })?;
    tokio::spawn(node_status::status_loop(shared.clone(), shutdown.clone()));
    tokio::spawn(node_status::lease_loop(shared.clone(), shutdown.clone()));
    tokio::spawn(log_rotation::run(shared.clone(), config.log_limits, shutdown.clone()));

    // What the runtime already runs is known before any pod worker starts, so that a worker
    // adopts its pod's running containers instead of starting them again.
    let mut last_listed = tokio::time::Instant::now();
    let mut last_runtime = relist(&shared.cri).await.map_err(|e| Error::Runtime { socket: shared.cri.socket.display().to_string(), detail: e.to_string() })?;
    let (tx, mut inputs) = mpsc::channel(1024);
    let pods: Api<Pod> = Api::all(shared.client.clone());
    let selector = watcher::Config::default().fields(&format!("spec.nodeName={}", shared.node_name));
    informer::spawn(pods, selector, Input::Pod, tx.clone(), shutdown.clone());
    tokio::spawn(relist_loop(shared.clone(), tx, shutdown.clone()));

    let mut workers: HashMap<String, WorkerHandle> = HashMap::new();
    let mut seen_in_relist: Vec<String> = Vec::new();
    let mut synced = false;
    loop {
        let input = tokio::select! {
            _ = shutdown.cancelled() => break,
            i = inputs.recv() => match i { Some(i) => i, None => break },
        };
        workers.retain(|_, w| !w.task.is_finished());
        match input {
            Input::Pod(Change::Apply(pod)) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                shared.pods.write().expect("pods lock").insert(uid.clone(), pod.clone());
                seen_in_relist.push(uid.clone());
                let worker = workers.entry(uid.clone()).or_insert_with(|| {
                    let (wtx, wrx) = mpsc::channel(64);
                    let task = tokio::spawn(Worker::new(shared.clone(), pod.clone()).run(wrx));
                    // A new worker starts from what the runtime already has: adoption.
                    let _ = wtx.try_send(Update::Runtime(last_runtime.get(&uid).cloned().unwrap_or_default(), last_listed));
                    WorkerHandle { tx: wtx, task }
                });
                let _ = worker.tx.send(Update::Pod(Box::new(pod))).await;
            }
            Input::Pod(Change::Delete(pod)) => {
                shared.pods.write().expect("pods lock").remove(pod.metadata.uid.as_deref().unwrap_or_default());
                if let Some(w) = workers.get(pod.metadata.uid.as_deref().unwrap_or_default()) {
                    let _ = w.tx.send(Update::Gone).await;
                }
            }
            Input::Pod(Change::Relist) => seen_in_relist.clear(),
            Input::Pod(Change::Synced) => {
                synced = true;
                shared.pods.write().expect("pods lock").retain(|uid, _| seen_in_relist.contains(uid));
                for (uid, w) in &workers {
                    if !seen_in_relist.contains(uid) {
                        let _ = w.tx.send(Update::Gone).await;
                    }
                }
            }
            Input::Relist(runtime, listed_at) => {
                last_listed = listed_at;
                for (uid, rt) in &runtime {
                    if last_runtime.get(uid) == Some(rt) {
                        continue;
                    }
                    match workers.get(uid) {
                        Some(w) => {
                            let _ = w.tx.try_send(Update::Runtime(rt.clone(), listed_at));
                        }
                        // Left by a pod that is gone (deleted while the kubelet was down).
                        None if synced => {
                            let (cri, sandboxes) = (shared.cri.clone(), rt.sandboxes.clone());
                            tracing::info!(pod_uid = %uid, "removing the containers of a pod that no longer exists");
                            tokio::spawn(async move { pod_worker::remove_sandboxes(&cri, &sandboxes).await });
                        }
                        None => {}
                    }
                }
                last_runtime = runtime;
            }
        }
    }
    // Stopping: each worker stops its pod's containers (or leaves them), bounded in time.
    for w in workers.values() {
        let _ = w.tx.send(Update::Shutdown { stop_containers: config.stop_pods_on_exit }).await;
    }
    let all = futures::future::join_all(workers.into_values().map(|w| w.task));
    let _ = tokio::time::timeout(Duration::from_secs(40), all).await;
    Ok(())
}

/// The runtime's sandboxes and containers, grouped by the UID of the pod they belong to.
async fn relist(cri: &cri::Cri) -> Result<HashMap<String, PodRuntime>, cri::CriError> {
    let (sandboxes, containers) = tokio::join!(cri.list_pod_sandboxes(), cri.list_containers());
    let mut by_pod: HashMap<String, PodRuntime> = HashMap::new();
    for s in sandboxes? {
        if let Some(uid) = s.labels.get(labels::POD_UID).cloned() {
            by_pod.entry(uid).or_default().sandboxes.push(s);
        }
    }
    for c in containers? {
        if let Some(uid) = c.labels.get(labels::POD_UID).cloned() {
            by_pod.entry(uid).or_default().containers.push(c);
        }
    }
    for rt in by_pod.values_mut() {
        rt.sandboxes.sort_by(|a, b| a.id.cmp(&b.id));
        rt.containers.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok(by_pod)
}

/// Relists the runtime every second (upstream's PLEG), for the main loop.
async fn relist_loop(shared: Arc<Shared>, tx: mpsc::Sender<Input>, shutdown: CancellationToken) {
    loop {
        tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(RELIST) => {} }
        let listed_at = tokio::time::Instant::now();
        match relist(&shared.cri).await {
            Ok(by_pod) => {
                if tx.send(Input::Relist(by_pod, listed_at)).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "runtime relist failed"),
        }
    }
}
