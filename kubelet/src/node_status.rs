//! The node's own object: registration with capacity, allocatable, addresses, system info,
//! labels and images; its status posted when it changes and at least every 5 minutes; and its
//! Lease in kube-node-lease renewed every 10 s (the heartbeat the node controller reads).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{ContainerImage, Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio_util::sync::CancellationToken;

use crate::Shared;

/// The kubelet version the node reports (the API server serves 1.33).
pub const KUBELET_VERSION: &str = "v1.33.0-corekube";
const LEASE_DURATION_SECONDS: i32 = 40;
const LEASE_RENEW: Duration = Duration::from_secs(10);
const STATUS_CHECK: Duration = Duration::from_secs(10);
/// Upstream posts an unchanged status this often (nodeStatusReportFrequency).
const STATUS_REPORT: Duration = Duration::from_secs(300);
const MAX_PODS: i64 = 110;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Total memory in bytes, from /proc/meminfo.
fn memory_bytes() -> i64 {
    read("/proc/meminfo").lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok()).unwrap_or(0) * 1024
}

/// Bytes of the file system holding `path`.
fn disk_bytes(path: &std::path::Path) -> i64 {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else { return 0 };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    (st.f_blocks as i64) * (st.f_frsize as i64)
}

fn os_image() -> String {
    read("/etc/os-release").lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).map(|v| v.trim_matches('"').to_string()).unwrap_or_else(|| "Linux".into())
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn condition(kind: &str, status: &str, reason: &str, message: &str, previous: &[NodeCondition], now: &Time) -> NodeCondition {
    let since = previous.iter().find(|c| c.type_ == kind && c.status == status).and_then(|c| c.last_transition_time.clone()).unwrap_or_else(|| now.clone());
    NodeCondition {
        type_: kind.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(since),
    }
}

/// The node's status now (heartbeat times aside, it changes only when the machine does).
async fn status(shared: &Shared, previous: &[NodeCondition]) -> NodeStatus {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as i64;
    let memory = memory_bytes();
    let disk = disk_bytes(&shared.root_dir);
    let mut capacity = BTreeMap::new();
    capacity.insert("cpu".to_string(), Quantity(cpus.to_string()));
    capacity.insert("memory".to_string(), Quantity(format!("{}Ki", memory / 1024)));
    capacity.insert("pods".to_string(), Quantity(MAX_PODS.to_string()));
    capacity.insert("ephemeral-storage".to_string(), Quantity(format!("{}Ki", disk / 1024)));
    let mut allocatable = capacity.clone();
    for (resource, reserved) in &shared.system_reserved {
        if let Some(q) = allocatable.get_mut(resource) {
            *q = match resource.as_str() {
                "cpu" => Quantity(format!("{}m", (crate::runtime_config::millicores(q) - crate::runtime_config::millicores(reserved)).max(0))),
                _ => Quantity(format!("{}", (crate::runtime_config::bytes(q) - crate::runtime_config::bytes(reserved)).max(0))),
            };
        }
    }
    let version = shared.cri.version().await.ok();
    let images = shared.cri.list_images().await.unwrap_or_default();
    let now = Time(jiff::Timestamp::now());
    let ready_message = "kubelet is posting ready status";
    NodeStatus {
        capacity: Some(capacity),
        allocatable: Some(allocatable),
        daemon_endpoints: (shared.api_port != 0).then(|| k8s_openapi::api::core::v1::NodeDaemonEndpoints {
            kubelet_endpoint: Some(k8s_openapi::api::core::v1::DaemonEndpoint { port: i32::from(shared.api_port) }),
        }),
        addresses: Some(vec![
            NodeAddress { type_: "InternalIP".into(), address: shared.node_ip.clone() },
            NodeAddress { type_: "Hostname".into(), address: shared.node_name.clone() },
        ]),
        conditions: Some(vec![
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", previous, &now),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", previous, &now),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", previous, &now),
            condition("Ready", "True", "KubeletReady", ready_message, previous, &now),
        ]),
        node_info: Some(NodeSystemInfo {
            architecture: arch().into(),
            boot_id: read("/proc/sys/kernel/random/boot_id").trim().into(),
            machine_id: read("/etc/machine-id").trim().into(),
            system_uuid: read("/sys/class/dmi/id/product_uuid").trim().into(),
            kernel_version: read("/proc/sys/kernel/osrelease").trim().into(),
            os_image: os_image(),
            operating_system: "linux".into(),
            container_runtime_version: version.map(|v| format!("{}://{}", v.runtime_name, v.runtime_version.trim_start_matches('v'))).unwrap_or_default(),
            kubelet_version: KUBELET_VERSION.into(),
            kube_proxy_version: String::new(),
            ..Default::default()
        }),
        images: Some(
            images
                .into_iter()
                .filter(|i| !i.repo_tags.is_empty() || !i.repo_digests.is_empty())
                .map(|i| ContainerImage { names: Some(i.repo_digests.into_iter().chain(i.repo_tags).collect()), size_bytes: Some(i.size as i64) })
                .collect(),
        ),
        ..Default::default()
    }
}

/// Leaves the heartbeat times out, to tell whether anything else changed.
fn without_heartbeats(mut s: NodeStatus) -> NodeStatus {
    for c in s.conditions.iter_mut().flatten() {
        c.last_heartbeat_time = None;
    }
    s
}

/// Creates the Node, or brings an existing one's labels and spec up to date.
pub async fn register(shared: &Shared) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(shared.client.clone());
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), shared.node_name.clone()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch().to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), arch().to_string()),
    ]);
    let node = Node {
        metadata: ObjectMeta { name: Some(shared.node_name.clone()), labels: Some(labels.clone()), ..Default::default() },
        spec: Some(NodeSpec {
            pod_cidr: Some(shared.pod_cidr.clone()),
            pod_cidrs: Some(vec![shared.pod_cidr.clone()]),
            taints: (!shared.register_taints.is_empty()).then(|| shared.register_taints.clone()),
            ..Default::default()
        }),
        status: None,
    };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let patch = serde_json::json!({"metadata": {"labels": labels}});
            nodes.patch(&shared.node_name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        }
        Err(e) => return Err(e),
    }
    post_status(shared, &[]).await.map(|_| ())
}

async fn post_status(shared: &Shared, previous: &[NodeCondition]) -> Result<NodeStatus, kube::Error> {
    let nodes: Api<Node> = Api::all(shared.client.clone());
    let s = status(shared, previous).await;
    nodes.patch_status(&shared.node_name, &PatchParams::default(), &Patch::Merge(&serde_json::json!({"status": s}))).await?;
    Ok(s)
}

/// Posts the node's status when it changes (checked every 10 s) and at least every 5 minutes.
pub async fn status_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut last: Option<NodeStatus> = None;
    let mut posted_at = tokio::time::Instant::now();
    loop {
        tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(STATUS_CHECK) => {} }
        let previous = last.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        let now = status(&shared, &previous).await;
        let changed = last.clone().map(without_heartbeats) != Some(without_heartbeats(now.clone()));
        if changed || posted_at.elapsed() >= STATUS_REPORT {
            match post_status(&shared, &previous).await {
                Ok(s) => {
                    last = Some(s);
                    posted_at = tokio::time::Instant::now();
                }
                Err(e) => tracing::warn!(error = %e, "posting node status failed"),
            }
        }
    }
}

/// Creates and renews the node's Lease in kube-node-lease.
pub async fn lease_loop(shared: Arc<Shared>, shutdown: CancellationToken) {
    let leases: Api<Lease> = Api::namespaced(shared.client.clone(), "kube-node-lease");
    loop {
        let now = MicroTime(jiff::Timestamp::now());
        let spec = LeaseSpec {
            holder_identity: Some(shared.node_name.clone()),
            lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
            renew_time: Some(now),
            ..Default::default()
        };
        let lease = Lease { metadata: ObjectMeta { name: Some(shared.node_name.clone()), ..Default::default() }, spec: Some(spec.clone()) };
        let result = match leases.create(&PostParams::default(), &lease).await {
            Err(kube::Error::Api(e)) if e.code == 409 => {
                leases.patch(&shared.node_name, &PatchParams::default(), &Patch::Merge(&serde_json::json!({"spec": spec}))).await.map(|_| ())
            }
            other => other.map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "renewing the node lease failed");
        }
        tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(LEASE_RENEW) => {} }
    }
}
