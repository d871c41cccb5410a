//! TaintToleration: NoSchedule/NoExecute taints must be tolerated; untolerated
//! PreferNoSchedule taints lower the score.

use k8s_openapi::api::core::v1::{Pod, Taint, Toleration};

use crate::framework::{
    default_normalize_score, CycleState, FilterPlugin, NodeInfo, Plugin, PreScorePlugin, ScorePlugin, Snapshot, Status,
    MAX_NODE_SCORE,
};
use crate::plugins::names::TAINT_TOLERATION;

pub struct TaintToleration;

/// upstream `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty()) {
        if key != taint.key {
            return false;
        }
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

fn tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or(&[])
}

fn taints(node: &NodeInfo) -> &[Taint] {
    node.node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or(&[])
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        TAINT_TOLERATION
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

impl FilterPlugin for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Status {
        let tols = tolerations(pod);
        let untolerated = taints(node)
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .find(|t| !tolerations_tolerate(tols, t));
        match untolerated {
            None => Status::success(),
            Some(t) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            )),
        }
    }
}

/// The pod's tolerations that matter for PreferNoSchedule (that effect, or any effect).
#[derive(Clone)]
struct PreScoreState(Vec<Toleration>);

impl PreScorePlugin for TaintToleration {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot, _: &[&NodeInfo]) -> Status {
        let tols = tolerations(pod)
            .iter()
            .filter(|t| matches!(t.effect.as_deref(), None | Some("") | Some("PreferNoSchedule")))
            .cloned()
            .collect();
        state.write(TAINT_TOLERATION, PreScoreState(tols));
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    /// The number of untolerated PreferNoSchedule taints (fewer is better).
    fn score(&self, state: &CycleState, _: &Pod, node: &NodeInfo, _: &Snapshot) -> i64 {
        let tols = state.read::<PreScoreState>(TAINT_TOLERATION).map_or(&[][..], |s| &s.0[..]);
        taints(node)
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule" && !tolerations_tolerate(tols, t))
            .count() as i64
    }

    fn normalize_score(&self, _: &CycleState, _: &Pod, _: &[&NodeInfo], scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::testing::*;

    #[test]
    fn filter() {
        let cp = "node-role.kubernetes.io/control-plane";
        let cases = vec![
            ("no taints", pod("p").build(), node("n").build(), Code::Success, ""),
            (
                "untolerated NoSchedule",
                pod("p").build(),
                node("n").taint(cp, "", "NoSchedule").build(),
                Code::UnschedulableAndUnresolvable,
                "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
            ),
            (
                "untolerated NoExecute with value",
                pod("p").build(),
                node("n").taint("k", "v", "NoExecute").build(),
                Code::UnschedulableAndUnresolvable,
                "node(s) had untolerated taint {k: v}",
            ),
            ("PreferNoSchedule does not filter", pod("p").build(), node("n").taint("k", "v", "PreferNoSchedule").build(), Code::Success, ""),
            ("Exists", pod("p").toleration(cp, "Exists", "", "").build(), node("n").taint(cp, "", "NoSchedule").build(), Code::Success, ""),
            ("empty key Exists tolerates all", pod("p").toleration("", "Exists", "", "").build(), node("n").taint("k", "v", "NoSchedule").build(), Code::Success, ""),
            ("Equal value", pod("p").toleration("k", "Equal", "v", "NoSchedule").build(), node("n").taint("k", "v", "NoSchedule").build(), Code::Success, ""),
            (
                "Equal wrong value",
                pod("p").toleration("k", "Equal", "w", "NoSchedule").build(),
                node("n").taint("k", "v", "NoSchedule").build(),
                Code::UnschedulableAndUnresolvable,
                "node(s) had untolerated taint {k: v}",
            ),
            (
                "wrong effect",
                pod("p").toleration("k", "Exists", "", "NoExecute").build(),
                node("n").taint("k", "v", "NoSchedule").build(),
                Code::UnschedulableAndUnresolvable,
                "node(s) had untolerated taint {k: v}",
            ),
        ];
        for (name, p, n, code, reason) in cases {
            let got = run_filter(&TaintToleration, &p, &snapshot(vec![n], vec![]));
            assert_eq!((got[0].1, got[0].2.as_str()), (code, reason), "{name}");
        }
    }

    #[test]
    fn score() {
        let snap = snapshot(
            vec![
                node("a").build(),
                node("b").taint("k1", "v", "PreferNoSchedule").build(),
                node("c").taint("k1", "v", "PreferNoSchedule").taint("k2", "v", "PreferNoSchedule").build(),
            ],
            vec![],
        );
        assert_eq!(run_score(&TaintToleration, &pod("p").build(), &snap), vec![100, 50, 0]);
        let tolerant = pod("p").toleration("k1", "Exists", "", "PreferNoSchedule").build();
        assert_eq!(run_score(&TaintToleration, &tolerant, &snap), vec![100, 100, 0]);
    }
}
