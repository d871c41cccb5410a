//! The node controllers: pod range allocation (node IPAM), node health with its taints
//! (node lifecycle), eviction of pods from NoExecute-tainted nodes (taint eviction), and the
//! pod garbage collector.

pub(crate) mod ipam;
pub(crate) mod lifecycle;
pub(crate) mod podgc;
pub(crate) mod taint_eviction;

use std::time::Duration;

/// Settings of the node controllers; the defaults are upstream's.
#[derive(Clone, Debug)]
pub struct Options {
    /// The range node pod ranges are cut from (`--cluster-cidr`).
    pub cluster_cidr: String,
    /// The prefix length of each node's range (`--node-cidr-mask-size`).
    pub node_cidr_mask_size: u8,
    /// How often node health is checked (`--node-monitor-period`).
    pub node_monitor_period: Duration,
    /// How long a node may go without a heartbeat (status or Lease) before it is Unknown
    /// (`--node-monitor-grace-period`).
    pub node_monitor_grace_period: Duration,
    /// Finished pods kept before the oldest are deleted (`--terminated-pod-gc-threshold`).
    pub terminated_pod_gc_threshold: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cluster_cidr: "10.42.0.0/16".into(),
            node_cidr_mask_size: 24,
            node_monitor_period: Duration::from_secs(5),
            node_monitor_grace_period: Duration::from_secs(50),
            terminated_pod_gc_threshold: 12500,
        }
    }
}

/// The taints the node lifecycle controller manages, as upstream's well-known keys.
pub mod taints {
    pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
    pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
    pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
    pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
    pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
    pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
    pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
}
