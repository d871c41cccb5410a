//! The scheduling framework: per-node state, the snapshot, plugin extension points, and the
//! `Framework` that runs one scheduling cycle over them.

mod cycle_state;
mod fit_error;
mod interface;
mod node_info;
mod profile;
mod runtime;
mod snapshot;
mod status;

pub use cycle_state::{CycleState, StateData};
pub use fit_error::{Diagnosis, FitError};
pub use interface::{
    BindPlugin, FilterPlugin, Plugin, PostFilterPlugin, PostFilterResult, PreFilterPlugin, PreScorePlugin,
    QueueSortPlugin, ReservePlugin, ScorePlugin, default_normalize_score, MAX_NODE_SCORE,
};
pub use node_info::{pod_host_ports, AffinityTerm, HostPort, NodeInfo, PodAffinityInfo, PodInfo, WeightedAffinityTerm};
pub(crate) use node_info::{node_labels, pod_labels};
pub use profile::{PluginEntry, Profile, ScoringStrategy, DEFAULT_SCHEDULER_NAME};
pub use runtime::{num_feasible_nodes_to_find, Framework, FrameworkError, ScheduleResult};
pub use snapshot::Snapshot;
pub use status::{Code, Status};
