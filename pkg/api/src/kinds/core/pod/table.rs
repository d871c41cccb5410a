//! Pod and PodTemplate printers; the pod summary cells come from `pod_status`.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, container_cells, format_labels, list, name, or, text};
use super::table_status::summarize;
use crate::table::{Column, Printer};

pub(crate) static PRINTER: Printer = Printer::of(POD_COLUMNS, pod_cells).with_conditions(row_conditions);
/// PodTemplates print their template (their kind folder points here).
pub(crate) static TEMPLATE_PRINTER: Printer = Printer::of(POD_TEMPLATE_COLUMNS, pod_template_cells);

const POD_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column::new("Status", "string", "The aggregate status of the containers in this pod."),
    Column::new(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    Column::AGE,
    Column::wide("IP", "string", doc::POD_STATUS_POD_IP),
    Column::wide("Node", "string", doc::POD_SPEC_NODE_NAME),
    Column::wide("Nominated Node", "string", doc::POD_STATUS_NOMINATED_NODE_NAME),
    Column::wide("Readiness Gates", "string", doc::POD_SPEC_READINESS_GATES),
];

const POD_TEMPLATE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new(
        "Containers",
        "string",
        "Names of each container in the template.",
    ),
    Column::new(
        "Images",
        "string",
        "Images referenced by each container in the template.",
    ),
    Column::new("Pod Labels", "string", "The labels for the pod template."),
];

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let summary = summarize(pod, now);
    vec![
        json!(name(pod)),
        json!(summary.ready),
        json!(summary.status),
        json!(summary.restarts),
        age(pod, now),
        json!(or(pod_ip(pod), "<none>")),
        json!(or(text(pod, "/spec/nodeName"), "<none>")),
        json!(or(text(pod, "/status/nominatedNodeName"), "<none>")),
        json!(readiness_gates(pod)),
    ]
}

/// The primary pod IP: `podIP`, which upstream's v1 conversion treats as authoritative, else
/// the first of `podIPs`.
fn pod_ip(pod: &Value) -> &str {
    match text(pod, "/status/podIP") {
        "" => list(pod, "/status/podIPs")
            .first()
            .map_or("", |ip| text(ip, "/ip")),
        ip => ip,
    }
}

/// `true/total` over `spec.readinessGates`, each judged by the first condition of its type.
fn readiness_gates(pod: &Value) -> String {
    let gates = list(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = list(pod, "/status/conditions");
    let satisfied = gates
        .iter()
        .filter(|gate| {
            let wanted = text(gate, "/conditionType");
            conditions
                .iter()
                .find(|c| text(c, "/type") == wanted)
                .is_some_and(|c| text(c, "/status") == "True")
        })
        .count();
    format!("{satisfied}/{}", gates.len())
}

/// The row conditions upstream puts on finished pods so clients may grey them out.
fn row_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(pod, "/status/phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

fn pod_template_cells(template: &Value, _now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(list(template, "/template/spec/containers"));
    vec![
        json!(name(template)),
        json!(names),
        json!(images),
        json!(format_labels(template.pointer("/template/metadata/labels"))),
    ]
}
#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    /// A pod created 10 minutes before `now()` with the given spec and status.
    fn pod(spec: Value, status: Value) -> Value {
        json!({"kind": "Pod", "apiVersion": "v1",
               "metadata": {"name": "p", "creationTimestamp": "2024-05-01T11:50:00Z"},
               "spec": spec, "status": status})
    }

    fn one_container() -> Value {
        json!({"containers": [{"name": "app", "image": "busybox"}]})
    }

    #[test]
    fn wide_cells() {
        let cases = [
            (
                json!({}),
                json!({}),
                ["<none>", "<none>", "<none>", "<none>"],
            ),
            (
                json!({"nodeName": "n1", "readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]}),
                json!({"podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}], "nominatedNodeName": "n2",
                       "conditions": [{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]}),
                ["10.0.0.9", "n1", "n2", "1/2"],
            ),
            (
                json!({}),
                json!({"podIP": "10.1.1.1", "podIPs": [{"ip": "10.1.1.1"}]}),
                ["10.1.1.1", "<none>", "<none>", "<none>"],
            ),
        ];
        for (spec, status, want) in cases {
            let mut spec = spec;
            spec["containers"] = json!([]);
            let cells = pod_cells(&pod(spec, status), now());
            assert_eq!(cells[5..], want.map(|s| json!(s)));
        }
    }

    #[test]
    fn row_conditions_only_for_finished_pods() {
        let cases = [
            ("Running", None),
            ("Succeeded", Some("Succeeded")),
            ("Failed", Some("Failed")),
        ];
        for (phase, reason) in cases {
            let got = row_conditions(&pod(one_container(), json!({"phase": phase})));
            assert_eq!(
                got.map(|c| c[0]["reason"].clone()),
                reason.map(|r| json!(r)),
                "{phase}"
            );
        }
    }

    #[test]
    fn pod_template_cells_list_containers_and_labels() {
        let cases = [
            (json!({"metadata": {"name": "t"}}), ["t", "", "", "<none>"]),
            (
                json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}, {"name": "log", "image": "fluentd"}]}}}),
                ["t", "web,log", "nginx,fluentd", "a=1,b=2"],
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(pod_template_cells(&obj, now()), want.map(|s| json!(s)));
        }
    }
}
