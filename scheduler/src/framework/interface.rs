//! The extension points. A plugin implements `Plugin` plus the point traits it takes part in,
//! and advertises them through the `as_*` accessors so one object serves several points.

use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;

use super::cycle_state::CycleState;
use super::fit_error::FitError;
use super::node_info::{NodeInfo, PodInfo};
use super::runtime::Framework;
use super::snapshot::Snapshot;
use super::status::Status;

/// Scores are normalized to 0..=MAX_NODE_SCORE before weights are applied.
pub const MAX_NODE_SCORE: i64 = 100;

pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn as_queue_sort(&self) -> Option<&dyn QueueSortPlugin> {
        None
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        None
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        None
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        None
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        None
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        None
    }
    fn as_reserve(&self) -> Option<&dyn ReservePlugin> {
        None
    }
    fn as_bind(&self) -> Option<&dyn BindPlugin> {
        None
    }
}

/// Orders the scheduling queue.
pub trait QueueSortPlugin: Plugin {
    /// Whether `a` (queued at `a_ts`) should be popped before `b`.
    fn less(&self, a: &Pod, a_ts: Instant, b: &Pod, b_ts: Instant) -> bool;
}

/// Runs once per cycle before Filter; precomputes per-pod data into the cycle state.
pub trait PreFilterPlugin: Plugin {
    /// Success, Skip (this plugin's Filter is then not run), or a rejection for every node.
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, snapshot: &Snapshot) -> Status;

    /// Preemption's what-if: `added` now runs on `node`; update the precomputed state.
    fn add_pod(&self, _state: &mut CycleState, _pod: &Pod, _added: &PodInfo, _node: &NodeInfo, _snapshot: &Snapshot) {}

    /// Preemption's what-if: `removed` no longer runs on `node`.
    fn remove_pod(&self, _state: &mut CycleState, _pod: &Pod, _removed: &PodInfo, _node: &NodeInfo, _snapshot: &Snapshot) {
    }
}

/// Decides whether the pod can run on one node. Must be cheap: it runs for thousands of nodes.
pub trait FilterPlugin: Plugin {
    /// Success, or Unschedulable / UnschedulableAndUnresolvable with the reasons.
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Status;
}

/// What a PostFilter (preemption) decided.
#[derive(Clone, Debug, Default)]
pub struct PostFilterResult {
    pub nominated_node: Option<String>,
    pub victims: Vec<std::sync::Arc<Pod>>,
    /// The message appended to the FitError ("preemption: ..."), empty if none.
    pub message: String,
}

/// Runs when no node fits.
pub trait PostFilterPlugin: Plugin {
    fn post_filter(&self, fw: &Framework, pod: &Pod, snapshot: &Snapshot, fit: &FitError) -> PostFilterResult;
}

/// Runs once before Score with the feasible nodes.
pub trait PreScorePlugin: Plugin {
    /// Success, or Skip (this plugin's Score is then not run).
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, snapshot: &Snapshot, nodes: &[&NodeInfo]) -> Status;
}

/// Ranks feasible nodes.
pub trait ScorePlugin: Plugin {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> i64;

    /// Maps raw scores (same order as `nodes`) into 0..=MAX_NODE_SCORE; default: already there.
    fn normalize_score(&self, _state: &CycleState, _pod: &Pod, _nodes: &[&NodeInfo], _scores: &mut [i64]) {}
}

/// Claims (and releases) resources for a pod once a node is chosen, before binding.
pub trait ReservePlugin: Plugin {
    fn reserve(&self, state: &mut CycleState, pod: &Pod, node: &str) -> Status;
    fn unreserve(&self, state: &mut CycleState, pod: &Pod, node: &str);
}

/// Binds the pod to the node. The runtime binds through the API; this is the seam for it.
pub trait BindPlugin: Plugin {
    fn bind(&self, state: &CycleState, pod: &Pod, node: &str) -> Status;
}

/// upstream `framework.DefaultNormalizeScore`: scale to 0..=max by the highest score, and
/// optionally reverse (lower raw score is better).
pub fn default_normalize_score(max: i64, reverse: bool, scores: &mut [i64]) {
    let highest = scores.iter().copied().max().unwrap_or(0);
    if highest == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = max * *s / highest;
        if reverse {
            *s = max - *s;
        }
    }
}
