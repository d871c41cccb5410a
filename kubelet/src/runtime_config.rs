//! The CRI configuration of a pod's sandbox and containers, from its spec: names and labels,
//! hostname and DNS, port mappings, cgroup parent by QoS class, resources, security context,
//! mounts and log paths. Pure: volumes and environment are resolved by the caller.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::cri;
use crate::labels;

/// The node-side facts a pod's runtime configuration needs.
pub struct NodeContext<'a> {
    /// Where pods' container logs go: `<dir>/<namespace>_<name>_<uid>/<container>/<n>.log`.
    pub log_root: &'a Path,
    /// The DNS servers, search domains and options of the node (from its resolv.conf).
    pub dns: cri::DnsConfig,
}

pub fn pod_log_dir(log_root: &Path, pod: &Pod) -> PathBuf {
    let m = &pod.metadata;
    log_root.join(format!("{}_{}_{}", m.namespace.as_deref().unwrap_or_default(), m.name.as_deref().unwrap_or_default(), m.uid.as_deref().unwrap_or_default()))
}

fn names(pod: &Pod) -> (&str, &str, &str) {
    let m = &pod.metadata;
    (m.namespace.as_deref().unwrap_or_default(), m.name.as_deref().unwrap_or_default(), m.uid.as_deref().unwrap_or_default())
}

/// The cgroup a pod's containers live under, by QoS class (the cgroupfs layout of upstream's
/// kubelet: `/kubepods/pod<uid>` for Guaranteed, `/kubepods/<qos>/pod<uid>` otherwise).
pub fn cgroup_parent(pod: &Pod) -> String {
    let (_, _, uid) = names(pod);
    match crate::pod_status::qos_class(pod).as_str() {
        "Guaranteed" => format!("/kubepods/pod{uid}"),
        "Burstable" => format!("/kubepods/burstable/pod{uid}"),
        _ => format!("/kubepods/besteffort/pod{uid}"),
    }
}

pub fn sandbox_config(pod: &Pod, attempt: u32, node: &NodeContext) -> cri::PodSandboxConfig {
    let (namespace, name, uid) = names(pod);
    let spec = pod.spec.clone().unwrap_or_default();
    let hostname = spec.hostname.clone().unwrap_or_else(|| name.chars().take(63).collect());
    let port_mappings = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.unwrap_or(0) > 0)
        .map(|p| cri::PortMapping {
            protocol: match p.protocol.as_deref() {
                Some("UDP") => cri::Protocol::Udp as i32,
                Some("SCTP") => cri::Protocol::Sctp as i32,
                _ => cri::Protocol::Tcp as i32,
            },
            container_port: p.container_port,
            host_port: p.host_port.unwrap_or(0),
            host_ip: p.host_ip.clone().unwrap_or_default(),
        })
        .collect();
    let host_network = spec.host_network.unwrap_or(false);
    let dns_config = match spec.dns_policy.as_deref() {
        Some("None") => spec.dns_config.as_ref().map(|d| cri::DnsConfig {
            servers: d.nameservers.clone().unwrap_or_default(),
            searches: d.searches.clone().unwrap_or_default(),
            options: d.options.iter().flatten().map(|o| match &o.value { Some(v) => format!("{}:{v}", o.name.clone().unwrap_or_default()), None => o.name.clone().unwrap_or_default() }).collect(),
        }),
        // ClusterFirst falls back to the node's resolver while the cluster has no DNS service.
        _ => Some(node.dns.clone()),
    };
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata { name: name.into(), uid: uid.into(), namespace: namespace.into(), attempt }),
        hostname,
        log_directory: pod_log_dir(node.log_root, pod).display().to_string(),
        dns_config,
        port_mappings,
        labels: labels::pod_labels(namespace, name, uid),
        annotations: pod.metadata.annotations.clone().unwrap_or_default().into_iter().collect(),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent(pod),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: if host_network { cri::NamespaceMode::Node as i32 } else { cri::NamespaceMode::Pod as i32 },
                    pid: if spec.share_process_namespace.unwrap_or(false) { cri::NamespaceMode::Pod as i32 } else { cri::NamespaceMode::Container as i32 },
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                run_as_user: spec.security_context.as_ref().and_then(|s| s.run_as_user).map(|value| cri::Int64Value { value }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        windows: None,
    }
}

/// A quantity scaled to 10^-`scale` units, rounded up as upstream's Value()/MilliValue()
/// (through the API's own parser); 0 when malformed (validation refused those already).
fn scaled(q: &Quantity, scale: u32) -> i64 {
    corekube_api::validation::quantity::parse(q.0.trim()).map(|v| v.ceil_scaled(scale).clamp(0, i64::MAX as i128) as i64).unwrap_or(0)
}

/// CPU in millicores (`500m`, `1`, `1.5`).
pub fn millicores(q: &Quantity) -> i64 {
    scaled(q, 3)
}

/// Bytes from a memory quantity (`64Mi`, `1G`, `128974848`, `1e3`).
pub fn bytes(q: &Quantity) -> i64 {
    scaled(q, 0)
}

/// Upstream's conversion of requests and limits to Linux resources: shares from the CPU
/// request (2 at least), a CFS quota from the CPU limit over a 100 ms period, the memory limit.
pub fn linux_resources(c: &Container) -> cri::LinuxContainerResources {
    let r = c.resources.clone().unwrap_or_default();
    let (requests, limits) = (r.requests.unwrap_or_default(), r.limits.unwrap_or_default());
    let cpu_request = requests.get("cpu").or(limits.get("cpu")).map(millicores);
    let cpu_shares = cpu_request.map(|m| (m * 1024 / 1000).max(2)).unwrap_or(2);
    const PERIOD: i64 = 100_000;
    let cpu_quota = limits.get("cpu").map(millicores).map(|m| (m * PERIOD / 1000).max(1000)).unwrap_or(0);
    cri::LinuxContainerResources {
        cpu_period: if cpu_quota > 0 { PERIOD } else { 0 },
        cpu_quota,
        cpu_shares,
        memory_limit_in_bytes: limits.get("memory").map(bytes).unwrap_or(0),
        ..Default::default()
    }
}

fn security_context(c: &Container, pod: &Pod) -> cri::LinuxContainerSecurityContext {
    let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.clone()).unwrap_or_default();
    let sc = c.security_context.clone().unwrap_or_default();
    let caps = sc.capabilities.clone().unwrap_or_default();
    cri::LinuxContainerSecurityContext {
        capabilities: Some(cri::Capability {
            add_capabilities: caps.add.unwrap_or_default(),
            drop_capabilities: caps.drop.unwrap_or_default(),
            ..Default::default()
        }),
        privileged: sc.privileged.unwrap_or(false),
        run_as_user: sc.run_as_user.or(pod_sc.run_as_user).map(|value| cri::Int64Value { value }),
        run_as_group: sc.run_as_group.or(pod_sc.run_as_group).map(|value| cri::Int64Value { value }),
        readonly_rootfs: sc.read_only_root_filesystem.unwrap_or(false),
        supplemental_groups: pod_sc.supplemental_groups.unwrap_or_default(),
        no_new_privs: sc.allow_privilege_escalation == Some(false),
        namespace_options: Some(cri::NamespaceOption {
            network: if pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false) { cri::NamespaceMode::Node as i32 } else { cri::NamespaceMode::Pod as i32 },
            pid: if pod.spec.as_ref().and_then(|s| s.share_process_namespace).unwrap_or(false) { cri::NamespaceMode::Pod as i32 } else { cri::NamespaceMode::Container as i32 },
            ipc: cri::NamespaceMode::Pod as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What the caller resolved for one container: its environment and its mounts.
pub struct Resolved {
    pub env: Vec<(String, String)>,
    pub mounts: Vec<cri::Mount>,
    pub command: Vec<String>,
    pub args: Vec<String>,
}

pub fn container_config(pod: &Pod, c: &Container, attempt: u32, init: bool, resolved: Resolved) -> cri::ContainerConfig {
    let (namespace, name, uid) = names(pod);
    let grace = pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30);
    let annotations = HashMap::from([
        (labels::RESTART_COUNT.to_string(), attempt.to_string()),
        (labels::GRACE_PERIOD.to_string(), grace.to_string()),
        (labels::INIT.to_string(), init.to_string()),
    ]);
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata { name: c.name.clone(), attempt }),
        image: Some(cri::ImageSpec { image: c.image.clone().unwrap_or_default(), ..Default::default() }),
        command: resolved.command,
        args: resolved.args,
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: resolved.env.into_iter().map(|(key, value)| cri::KeyValue { key, value }).collect(),
        mounts: resolved.mounts,
        labels: labels::container_labels(namespace, name, uid, &c.name),
        annotations,
        log_path: format!("{}/{attempt}.log", c.name),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
        linux: Some(cri::LinuxContainerConfig { resources: Some(linux_resources(c)), security_context: Some(security_context(c, pod)) }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(millicores(&Quantity("500m".into())), 500);
        assert_eq!(millicores(&Quantity("1.5".into())), 1500);
        assert_eq!(bytes(&Quantity("64Mi".into())), 64 << 20);
        assert_eq!(bytes(&Quantity("1G".into())), 1_000_000_000);
        assert_eq!(bytes(&Quantity("1024".into())), 1024);
    }

    #[test]
    fn resources_become_shares_quota_and_memory_limit() {
        let c: Container = serde_json::from_value(json!({"name": "a", "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "32Mi"}}})).unwrap();
        let r = linux_resources(&c);
        assert_eq!((r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit_in_bytes), (256, 50_000, 100_000, 32 << 20));
        let none: Container = serde_json::from_value(json!({"name": "a"})).unwrap();
        assert_eq!(linux_resources(&none).cpu_shares, 2);
    }
}
