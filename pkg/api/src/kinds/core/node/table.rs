//! Node printer: readiness status, roles from labels, versions and addresses.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, list, name, or, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(NODE_COLUMNS, node_cells);

const NODE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Status", "string", "The status of the node"),
    Column::new("Roles", "string", "The roles of the node"),
    Column::AGE,
    Column::new("Version", "string", doc::NODE_INFO_KUBELET_VERSION),
    Column::wide("Internal-IP", "string", doc::NODE_STATUS_ADDRESSES),
    Column::wide("External-IP", "string", doc::NODE_STATUS_ADDRESSES),
    Column::wide("OS-Image", "string", doc::NODE_INFO_OS_IMAGE),
    Column::wide("Kernel-Version", "string", doc::NODE_INFO_KERNEL_VERSION),
    Column::wide(
        "Container-Runtime",
        "string",
        doc::NODE_INFO_CONTAINER_RUNTIME_VERSION,
    ),
];

/// Each `node-role.kubernetes.io/<role>` label key names a role.
const ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io/";
/// The older form: the role is this label's value.
const ROLE_LABEL: &str = "kubernetes.io/role";

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let info = |field: &str| {
        or(
            text(node, &format!("/status/nodeInfo/{field}")),
            "<unknown>",
        )
        .to_string()
    };
    vec![
        json!(name(node)),
        json!(status(node)),
        json!(roles(node)),
        age(node, now),
        json!(text(node, "/status/nodeInfo/kubeletVersion")),
        json!(address(node, "InternalIP")),
        json!(address(node, "ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// `Ready`, `NotReady` or `Unknown` from the Ready condition (the last one listed wins, as in
/// upstream's map by type), plus `SchedulingDisabled` for a cordoned node.
fn status(node: &Value) -> String {
    let ready = list(node, "/status/conditions")
        .iter()
        .rev()
        .find(|c| text(c, "/type") == "Ready");
    let mut status = vec![match ready {
        Some(c) if text(c, "/status") == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if node.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

/// Sorted, de-duplicated roles, comma-joined, or `<none>`.
fn roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (key, value) in labels {
            let value = value.as_str().unwrap_or("");
            if let Some(role) = key.strip_prefix(ROLE_LABEL_PREFIX) {
                if !role.is_empty() {
                    roles.insert(role);
                }
            } else if key == ROLE_LABEL && !value.is_empty() {
                roles.insert(value);
            }
        }
    }
    if roles.is_empty() {
        return "<none>".to_string();
    }
    roles.into_iter().collect::<Vec<_>>().join(",")
}

/// The first address of a type, or `<none>`.
fn address<'a>(node: &'a Value, address_type: &str) -> &'a str {
    list(node, "/status/addresses")
        .iter()
        .find(|a| text(a, "/type") == address_type)
        .map_or("<none>", |a| text(a, "/address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_cells_cases() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let cases = [
            (
                "bare node",
                json!({"metadata": {"name": "n0"}}),
                json!([
                    "n0",
                    "Unknown",
                    "<none>",
                    "<unknown>",
                    "",
                    "<none>",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
            (
                "ready control plane",
                json!({
                    "metadata": {"name": "n1", "creationTimestamp": "2024-04-28T12:00:00Z",
                                 "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "x",
                                            "kubernetes.io/role": "master", "kubernetes.io/hostname": "n1"}},
                    "status": {
                        "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                        "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.1"},
                                      {"type": "InternalIP", "address": "10.0.0.2"}, {"type": "ExternalIP", "address": "1.2.3.4"}],
                        "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                     "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0"},
                    },
                }),
                json!([
                    "n1",
                    "Ready",
                    "control-plane,master",
                    "3d",
                    "v1.33.0",
                    "10.0.0.1",
                    "1.2.3.4",
                    "Debian GNU/Linux 12 (bookworm)",
                    "6.1.0",
                    "containerd://1.7.0"
                ]),
            ),
            (
                "cordoned and not ready",
                json!({"metadata": {"name": "n2", "labels": {"node-role.kubernetes.io/worker": "", "kubernetes.io/role": ""}},
                       "spec": {"unschedulable": true},
                       "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
                json!([
                    "n2",
                    "NotReady,SchedulingDisabled",
                    "worker",
                    "<unknown>",
                    "",
                    "<none>",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
            (
                "cordoned without conditions",
                json!({"metadata": {"name": "n3"}, "spec": {"unschedulable": true}}),
                json!([
                    "n3",
                    "Unknown,SchedulingDisabled",
                    "<none>",
                    "<unknown>",
                    "",
                    "<none>",
                    "<none>",
                    "<unknown>",
                    "<unknown>",
                    "<unknown>"
                ]),
            ),
        ];
        for (case, obj, want) in cases {
            assert_eq!(json!(node_cells(&obj, now)), want, "{case}");
        }
    }
}
