//! NodePorts: the pod's host ports must be free on the node (same protocol and port on the
//! same or a wildcard address conflicts).

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{CycleState, FilterPlugin, HostPort, NodeInfo, Plugin, PreFilterPlugin, Snapshot, Status};
use crate::framework::pod_host_ports;
use crate::plugins::names::NODE_PORTS;

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub struct NodePorts;

#[derive(Clone)]
struct State(Vec<HostPort>);

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NODE_PORTS
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        let ports = pod_host_ports(pod);
        if ports.is_empty() {
            return Status::skip();
        }
        state.write(NODE_PORTS, State(ports));
        Status::success()
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, state: &CycleState, _: &Pod, node: &NodeInfo, _: &Snapshot) -> Status {
        let Some(State(wanted)) = state.read::<State>(NODE_PORTS) else { return Status::success() };
        if wanted.iter().any(|w| node.used_ports.iter().any(|u| u.conflicts(w))) {
            Status::unschedulable(REASON)
        } else {
            Status::success()
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
        let existing = |ip: &str, proto: &str, port| pod("e").node("n").host_port(ip, proto, port).build();
        let cases = vec![
            ("no ports", pod("p").build(), vec![existing("", "", 80)], Code::Success),
            ("same port", pod("p").host_port("", "", 80).build(), vec![existing("", "", 80)], Code::Unschedulable),
            ("other protocol", pod("p").host_port("", "UDP", 80).build(), vec![existing("", "TCP", 80)], Code::Success),
            ("other port", pod("p").host_port("", "", 81).build(), vec![existing("", "", 80)], Code::Success),
            ("distinct ips", pod("p").host_port("10.0.0.1", "", 80).build(), vec![existing("10.0.0.2", "", 80)], Code::Success),
            ("wildcard existing", pod("p").host_port("10.0.0.1", "", 80).build(), vec![existing("0.0.0.0", "", 80)], Code::Unschedulable),
            ("wildcard wanted", pod("p").host_port("", "", 80).build(), vec![existing("10.0.0.2", "", 80)], Code::Unschedulable),
        ];
        for (name, p, pods, want) in cases {
            let got = run_filter(&NodePorts, &p, &snapshot(vec![node("n").build()], pods));
            assert_eq!(got[0].1, want, "{name}");
            if want == Code::Unschedulable {
                assert_eq!(got[0].2, REASON);
            }
        }
    }
}
