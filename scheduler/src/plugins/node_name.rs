//! NodeName: a pod with `spec.nodeName` fits only that node.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{CycleState, FilterPlugin, NodeInfo, Plugin, Snapshot, Status};
use crate::plugins::names::NODE_NAME;

pub const REASON: &str = "node(s) didn't match the requested node name";

pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NODE_NAME
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Status {
        match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            Some(n) if !n.is_empty() && n != node.name() => Status::unresolvable(REASON),
            _ => Status::success(),
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
        let snap = snapshot(vec![node("a").build(), node("b").build()], vec![]);
        for (p, want) in [
            (pod("p").build(), vec![Code::Success, Code::Success]),
            (pod("p").node("b").build(), vec![Code::UnschedulableAndUnresolvable, Code::Success]),
        ] {
            let got: Vec<Code> = run_filter(&NodeName, &p, &snap).into_iter().map(|r| r.1).collect();
            assert_eq!(got, want);
        }
    }
}
