//! Which plugins a scheduler profile enables, and their score weights.

pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScoringStrategy {
    /// Prefer emptier nodes (spread).
    #[default]
    LeastAllocated,
    /// Prefer fuller nodes (bin-pack).
    MostAllocated,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginEntry {
    pub name: &'static str,
    /// Score weight; ignored by plugins without Score.
    pub weight: i64,
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub scheduler_name: String,
    /// In pipeline order (upstream's MultiPoint order): filters run in this order and a node's
    /// first failing filter is the one reported.
    pub plugins: Vec<PluginEntry>,
    /// 0 = upstream's adaptive percentage; 100 = evaluate every node.
    pub percentage_of_nodes_to_score: u32,
    pub scoring_strategy: ScoringStrategy,
    /// Weight of existing pods' required affinity terms in InterPodAffinity scoring.
    pub hard_pod_affinity_weight: i64,
}

impl Default for Profile {
    /// v1.33 `getDefaultPlugins`, minus plugins corekube does not implement (VolumeRestrictions,
    /// NodeVolumeLimits, VolumeZone, DynamicResources; DefaultBinder is the runtime).
    fn default() -> Profile {
        use crate::plugins::names::*;
        let p = |name, weight| PluginEntry { name, weight };
        Profile {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            plugins: vec![
                p(PRIORITY_SORT, 0),
                p(NODE_UNSCHEDULABLE, 0),
                p(NODE_NAME, 0),
                p(TAINT_TOLERATION, 3),
                p(NODE_AFFINITY, 2),
                p(NODE_PORTS, 0),
                p(NODE_RESOURCES_FIT, 1),
                p(VOLUME_BINDING, 0),
                p(POD_TOPOLOGY_SPREAD, 2),
                p(INTER_POD_AFFINITY, 2),
                p(DEFAULT_PREEMPTION, 0),
                p(NODE_RESOURCES_BALANCED_ALLOCATION, 1),
                p(IMAGE_LOCALITY, 1),
            ],
            percentage_of_nodes_to_score: 0,
            scoring_strategy: ScoringStrategy::LeastAllocated,
            hard_pod_affinity_weight: 1,
        }
    }
}
