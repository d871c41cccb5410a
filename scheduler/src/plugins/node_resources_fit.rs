//! NodeResourcesFit: the pod's requests must fit the node's free allocatable; scores by
//! LeastAllocated (spread, default) or MostAllocated (bin-pack) over cpu and memory.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{
    Code, CycleState, FilterPlugin, NodeInfo, Plugin, PreFilterPlugin, PreScorePlugin, ScorePlugin, ScoringStrategy,
    Snapshot, Status, MAX_NODE_SCORE,
};
use crate::plugins::names::NODE_RESOURCES_FIT;
use crate::resources::{pod_requests, Resource};

pub const TOO_MANY_PODS: &str = "Too many pods";

pub struct NodeResourcesFit {
    strategy: ScoringStrategy,
}

impl NodeResourcesFit {
    pub fn new(strategy: ScoringStrategy) -> NodeResourcesFit {
        NodeResourcesFit { strategy }
    }
}

#[derive(Clone)]
struct PreFilterState(Resource);

/// cpu and memory requests with the non-zero defaults (scoring counts empty pods too).
#[derive(Clone)]
struct PreScoreState {
    cpu: i64,
    memory: i64,
}

const SCORE_KEY: &str = "PreScoreNodeResourcesFit";

/// One unmet resource: its reason, and whether even an empty node could not hold the pod.
pub struct Insufficient {
    pub reason: Cow<'static, str>,
    pub unresolvable: bool,
}

/// upstream `fitsRequest`: pod count, then cpu, memory, ephemeral-storage, extended resources.
pub fn insufficient_resources(req: &Resource, node: &NodeInfo) -> Vec<Insufficient> {
    let mut out = Vec::new();
    let alloc = &node.allocatable;
    let used = &node.requested;
    if node.pods.len() as i64 + 1 > alloc.allowed_pod_number {
        out.push(Insufficient { reason: TOO_MANY_PODS.into(), unresolvable: false });
    }
    if req.milli_cpu == 0 && req.memory == 0 && req.ephemeral_storage == 0 && req.scalar.values().all(|&v| v == 0) {
        return out;
    }
    let mut check = |want: i64, have: i64, used: i64, reason: Cow<'static, str>| {
        if want > 0 && want > have - used {
            out.push(Insufficient { reason, unresolvable: want > have });
        }
    };
    check(req.milli_cpu, alloc.milli_cpu, used.milli_cpu, "Insufficient cpu".into());
    check(req.memory, alloc.memory, used.memory, "Insufficient memory".into());
    check(req.ephemeral_storage, alloc.ephemeral_storage, used.ephemeral_storage, "Insufficient ephemeral-storage".into());
    for (name, &want) in &req.scalar {
        let have = alloc.scalar.get(name).copied().unwrap_or(0);
        let u = used.scalar.get(name).copied().unwrap_or(0);
        if want > 0 && want > have - u {
            out.push(Insufficient { reason: format!("Insufficient {name}").into(), unresolvable: want > have });
        }
    }
    out
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NODE_RESOURCES_FIT
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

impl PreFilterPlugin for NodeResourcesFit {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        state.write(NODE_RESOURCES_FIT, PreFilterState(pod_requests(pod, false)));
        Status::success()
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Status {
        let computed;
        let req = match state.read::<PreFilterState>(NODE_RESOURCES_FIT) {
            Some(s) => &s.0,
            None => {
                computed = pod_requests(pod, false);
                &computed
            }
        };
        let insufficient = insufficient_resources(req, node);
        if insufficient.is_empty() {
            return Status::success();
        }
        let code = if insufficient.iter().any(|i| i.unresolvable) {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        };
        Status { code, reasons: insufficient.into_iter().map(|i| i.reason).collect(), plugin: "" }
    }
}

impl PreScorePlugin for NodeResourcesFit {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot, _: &[&NodeInfo]) -> Status {
        let r = pod_requests(pod, true);
        state.write(SCORE_KEY, PreScoreState { cpu: r.milli_cpu, memory: r.memory });
        Status::success()
    }
}

/// `(capacity - requested) * 100 / capacity`, 0 when over capacity.
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// `requested * 100 / capacity`, capped at 100.
pub fn most_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    requested.min(capacity) * MAX_NODE_SCORE / capacity
}

impl ScorePlugin for NodeResourcesFit {
    /// Weighted (cpu 1, memory 1) mean of the per-resource scores, skipping resources the node
    /// has none of.
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> i64 {
        let (cpu, memory) = match state.read::<PreScoreState>(SCORE_KEY) {
            Some(s) => (s.cpu, s.memory),
            None => {
                let r = pod_requests(pod, true);
                (r.milli_cpu, r.memory)
            }
        };
        let f = match self.strategy {
            ScoringStrategy::LeastAllocated => least_requested_score,
            ScoringStrategy::MostAllocated => most_requested_score,
        };
        let pairs = [
            (node.non_zero_requested.milli_cpu + cpu, node.allocatable.milli_cpu),
            (node.non_zero_requested.memory + memory, node.allocatable.memory),
        ];
        let (mut sum, mut weights) = (0, 0);
        for (requested, capacity) in pairs {
            if capacity == 0 {
                continue;
            }
            sum += f(requested, capacity);
            weights += 1;
        }
        if weights == 0 { 0 } else { sum / weights }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn filter() {
        let n = || node("n").alloc("cpu", "2").alloc("memory", "4Gi").alloc("pods", "2").alloc("example.com/gpu", "1").build();
        let existing = || pod("e").node("n").container("1", "1Gi").build();
        let cases: Vec<(&str, Pod, Vec<Pod>, Code, &str)> = vec![
            ("fits", pod("p").container("1", "1Gi").build(), vec![existing()], Code::Success, ""),
            ("best effort fits", pod("p").build(), vec![existing()], Code::Success, ""),
            ("cpu", pod("p").container("1500m", "").build(), vec![existing()], Code::Unschedulable, "Insufficient cpu"),
            (
                "cpu and memory",
                pod("p").container("1500m", "3.5Gi").build(),
                vec![existing()],
                Code::Unschedulable,
                "Insufficient cpu, Insufficient memory",
            ),
            ("larger than the node", pod("p").container("3", "").build(), vec![], Code::UnschedulableAndUnresolvable, "Insufficient cpu"),
            ("pods", pod("p").build(), vec![existing(), pod("e2").node("n").build()], Code::Unschedulable, TOO_MANY_PODS),
            ("extended ok", pod("p").request("example.com/gpu", "1").build(), vec![], Code::Success, ""),
            (
                "extended",
                pod("p").request("example.com/gpu", "2").build(),
                vec![],
                Code::UnschedulableAndUnresolvable,
                "Insufficient example.com/gpu",
            ),
            (
                "ephemeral storage",
                pod("p").request("ephemeral-storage", "1Gi").build(),
                vec![],
                Code::UnschedulableAndUnresolvable,
                "Insufficient ephemeral-storage",
            ),
        ];
        for (name, p, pods, code, reason) in cases {
            let got = run_filter(&NodeResourcesFit::new(ScoringStrategy::LeastAllocated), &p, &snapshot(vec![n()], pods));
            assert_eq!((got[0].1, got[0].2.as_str()), (code, reason), "{name}");
        }
    }

    #[test]
    fn score() {
        // Node a is empty; node b has 3 of 4 cpu and 4Gi of 8Gi requested.
        let snap = snapshot(vec![node("a").build(), node("b").build()], vec![pod("e").node("b").container("3", "4Gi").build()]);
        let p = pod("p").container("1", "2Gi").build();
        // a: cpu (4-1)/4=75, mem (8-2)/8=75 -> 75; b: cpu 0, mem (8-6)/8=25 -> 12
        assert_eq!(run_score(&NodeResourcesFit::new(ScoringStrategy::LeastAllocated), &p, &snap), vec![75, 12]);
        // a: 25, 25 -> 25; b: 100, 75 -> 87
        assert_eq!(run_score(&NodeResourcesFit::new(ScoringStrategy::MostAllocated), &p, &snap), vec![25, 87]);
        // A best-effort pod counts 100m / 200Mi: a: cpu 97, mem 97 -> 97.
        assert_eq!(run_score(&NodeResourcesFit::new(ScoringStrategy::LeastAllocated), &pod("q").image("busybox").build(), &snap)[0], 97);
    }
}
