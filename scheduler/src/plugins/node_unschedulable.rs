//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods tolerating
//! `node.kubernetes.io/unschedulable:NoSchedule`.

use k8s_openapi::api::core::v1::{Pod, Taint};

use crate::framework::{CycleState, FilterPlugin, NodeInfo, Plugin, Snapshot, Status};
use crate::plugins::names::NODE_UNSCHEDULABLE;
use crate::plugins::taint_toleration::tolerations_tolerate;

pub const REASON: &str = "node(s) were unschedulable";
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NODE_UNSCHEDULABLE
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Status {
        if !node.node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
            return Status::success();
        }
        let taint = Taint { key: TAINT_NODE_UNSCHEDULABLE.into(), effect: "NoSchedule".into(), ..Default::default() };
        let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
        if tolerations_tolerate(tolerations, &taint) {
            Status::success()
        } else {
            Status::unresolvable(REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::testing::*;

    #[test]
    fn filter() {
        let cases = vec![
            ("schedulable", pod("p").build(), node("n").build(), Code::Success),
            ("cordoned", pod("p").build(), node("n").unschedulable().build(), Code::UnschedulableAndUnresolvable),
            (
                "tolerated",
                pod("p").toleration(TAINT_NODE_UNSCHEDULABLE, "Exists", "", "NoSchedule").build(),
                node("n").unschedulable().build(),
                Code::Success,
            ),
            (
                "wrong effect",
                pod("p").toleration(TAINT_NODE_UNSCHEDULABLE, "Exists", "", "NoExecute").build(),
                node("n").unschedulable().build(),
                Code::UnschedulableAndUnresolvable,
            ),
        ];
        for (name, p, n, want) in cases {
            let got = run_filter(&NodeUnschedulable, &p, &snapshot(vec![n], vec![]));
            assert_eq!(got[0].1, want, "{name}");
            if want != Code::Success {
                assert_eq!(got[0].2, REASON);
            }
        }
    }
}
