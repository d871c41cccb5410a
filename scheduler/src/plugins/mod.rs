//! The in-tree plugins, one file each, and the registry that builds them by name.

use std::sync::Arc;

use crate::framework::{Plugin, Profile};

pub mod default_preemption;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_balanced_allocation;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod queue_sort;
pub mod taint_toleration;
pub mod volume_binding;

/// Upstream's plugin names.
pub mod names {
    pub const PRIORITY_SORT: &str = "PrioritySort";
    pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
    pub const NODE_NAME: &str = "NodeName";
    pub const TAINT_TOLERATION: &str = "TaintToleration";
    pub const NODE_AFFINITY: &str = "NodeAffinity";
    pub const NODE_PORTS: &str = "NodePorts";
    pub const NODE_RESOURCES_FIT: &str = "NodeResourcesFit";
    pub const VOLUME_BINDING: &str = "VolumeBinding";
    pub const POD_TOPOLOGY_SPREAD: &str = "PodTopologySpread";
    pub const INTER_POD_AFFINITY: &str = "InterPodAffinity";
    pub const DEFAULT_PREEMPTION: &str = "DefaultPreemption";
    pub const NODE_RESOURCES_BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";
    pub const IMAGE_LOCALITY: &str = "ImageLocality";
}

/// The registry: builds the named in-tree plugin configured from the profile.
pub fn new_plugin(name: &str, profile: &Profile) -> Option<Arc<dyn Plugin>> {
    use names::*;
    Some(match name {
        PRIORITY_SORT => Arc::new(queue_sort::PrioritySort),
        NODE_UNSCHEDULABLE => Arc::new(node_unschedulable::NodeUnschedulable),
        NODE_NAME => Arc::new(node_name::NodeName),
        TAINT_TOLERATION => Arc::new(taint_toleration::TaintToleration),
        NODE_AFFINITY => Arc::new(node_affinity::NodeAffinity),
        NODE_PORTS => Arc::new(node_ports::NodePorts),
        NODE_RESOURCES_FIT => Arc::new(node_resources_fit::NodeResourcesFit::new(profile.scoring_strategy)),
        VOLUME_BINDING => Arc::new(volume_binding::VolumeBinding),
        POD_TOPOLOGY_SPREAD => Arc::new(pod_topology_spread::PodTopologySpread),
        INTER_POD_AFFINITY => Arc::new(inter_pod_affinity::InterPodAffinity::new(profile.hard_pod_affinity_weight)),
        DEFAULT_PREEMPTION => Arc::new(default_preemption::DefaultPreemption),
        NODE_RESOURCES_BALANCED_ALLOCATION => Arc::new(node_resources_balanced_allocation::BalancedAllocation),
        IMAGE_LOCALITY => Arc::new(image_locality::ImageLocality),
        _ => return None,
    })
}
