//! NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory usage fractions (after
//! placing the pod) are close: `(1 - |cpu - mem| / 2) * 100`.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{CycleState, NodeInfo, Plugin, PreScorePlugin, ScorePlugin, Snapshot, Status, MAX_NODE_SCORE};
use crate::plugins::names::NODE_RESOURCES_BALANCED_ALLOCATION;
use crate::resources::pod_requests;

pub struct BalancedAllocation;

#[derive(Clone)]
struct PreScoreState {
    cpu: i64,
    memory: i64,
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NODE_RESOURCES_BALANCED_ALLOCATION
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

impl PreScorePlugin for BalancedAllocation {
    /// Uses the pod's actual requests; best-effort pods are skipped (upstream #129138).
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot, _: &[&NodeInfo]) -> Status {
        let r = pod_requests(pod, false);
        if r.milli_cpu == 0 && r.memory == 0 {
            return Status::skip();
        }
        state.write(NODE_RESOURCES_BALANCED_ALLOCATION, PreScoreState { cpu: r.milli_cpu, memory: r.memory });
        Status::success()
    }
}

/// upstream `balancedResourceScorer` for (requested, allocatable) pairs.
pub fn balanced_score(pairs: &[(i64, i64)]) -> i64 {
    let fractions: Vec<f64> =
        pairs.iter().filter(|(_, a)| *a != 0).map(|&(r, a)| (r as f64 / a as f64).min(1.0)).collect();
    let std = match fractions.len() {
        0 | 1 => 0.0,
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            (fractions.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> i64 {
        let (cpu, memory) = match state.read::<PreScoreState>(NODE_RESOURCES_BALANCED_ALLOCATION) {
            Some(s) => (s.cpu, s.memory),
            None => {
                let r = pod_requests(pod, false);
                (r.milli_cpu, r.memory)
            }
        };
        let cpu_pair = (node.requested.milli_cpu + cpu, node.allocatable.milli_cpu);
        let mem_pair = (node.requested.memory + memory, node.allocatable.memory);
        // Two resources: no allocation needed.
        match (cpu_pair.1 != 0, mem_pair.1 != 0) {
            (true, true) => {
                let f = |(r, a): (i64, i64)| (r as f64 / a as f64).min(1.0);
                ((1.0 - ((f(cpu_pair) - f(mem_pair)) / 2.0).abs()) * MAX_NODE_SCORE as f64) as i64
            }
            _ => MAX_NODE_SCORE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn scorer() {
        for (pairs, want) in [
            (vec![(1, 4), (2, 8)], 100),
            (vec![(4, 4), (0, 8)], 50),
            (vec![(3, 4), (2, 8)], 75),
            (vec![(8, 4), (0, 8)], 50),
            (vec![(1, 0), (2, 8)], 100),
        ] {
            assert_eq!(balanced_score(&pairs), want, "{pairs:?}");
        }
    }

    #[test]
    fn score() {
        let snap = snapshot(vec![node("a").build(), node("b").build()], vec![pod("e").node("b").container("2", "").build()]);
        let p = pod("p").container("1", "2Gi").build();
        // a: cpu 1/4, mem 2/8 -> 100; b: cpu 3/4, mem 2/8 -> 75
        assert_eq!(run_score(&BalancedAllocation, &p, &snap), vec![100, 75]);
        assert_eq!(run_score(&BalancedAllocation, &pod("q").build(), &snap), vec![0, 0]);
    }
}
