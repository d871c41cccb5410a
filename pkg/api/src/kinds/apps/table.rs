//! Deployment and ReplicaSet printers: replica counts, template containers and selectors.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, container_cells, format_label_selector, int, label_selector, list, name};
use crate::table::{Column, Printer};

pub(super) static DEPLOYMENT: Printer = Printer::of(DEPLOYMENT_COLUMNS, deployment_cells);
pub(super) static REPLICA_SET: Printer = Printer::of(REPLICA_SET_COLUMNS, replica_set_cells);
/// The scale subresource's kind (autoscaling/v1 Scale), as both apps kinds serve it.
pub(super) static SCALE: Printer = Printer::of(SCALE_COLUMNS, scale_cells);

const CONTAINERS: Column = Column::wide(
    "Containers",
    "string",
    "Names of each container in the template.",
);
const IMAGES: Column = Column::wide(
    "Images",
    "string",
    "Images referenced by each container in the template.",
);

const DEPLOYMENT_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Ready", "string", "Number of the pod with ready state"),
    Column::new(
        "Up-to-date",
        "string",
        doc::DEPLOYMENT_STATUS_UPDATED_REPLICAS,
    ),
    Column::new(
        "Available",
        "string",
        doc::DEPLOYMENT_STATUS_AVAILABLE_REPLICAS,
    ),
    Column::AGE,
    CONTAINERS,
    IMAGES,
    Column::wide("Selector", "string", doc::DEPLOYMENT_SPEC_SELECTOR),
];

const REPLICA_SET_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Desired", "integer", doc::REPLICA_SET_SPEC_REPLICAS),
    Column::new("Current", "integer", doc::REPLICA_SET_STATUS_REPLICAS),
    Column::new("Ready", "integer", doc::REPLICA_SET_STATUS_READY_REPLICAS),
    Column::AGE,
    CONTAINERS,
    IMAGES,
    Column::wide("Selector", "string", doc::REPLICA_SET_SPEC_SELECTOR),
];

fn deployment_cells(deployment: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(list(deployment, "/spec/template/spec/containers"));
    // Unlike other printers, the deployment one shows an empty selector as "" and a broken one
    // as `<invalid>`.
    let selector = label_selector(deployment.pointer("/spec/selector"))
        .unwrap_or_else(|()| "<invalid>".to_string());
    vec![
        json!(name(deployment)),
        json!(format!(
            "{}/{}",
            int(deployment, "/status/readyReplicas"),
            int(deployment, "/spec/replicas")
        )),
        json!(int(deployment, "/status/updatedReplicas")),
        json!(int(deployment, "/status/availableReplicas")),
        age(deployment, now),
        json!(names),
        json!(images),
        json!(selector),
    ]
}

fn replica_set_cells(replica_set: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(list(replica_set, "/spec/template/spec/containers"));
    vec![
        json!(name(replica_set)),
        json!(int(replica_set, "/spec/replicas")),
        json!(int(replica_set, "/status/replicas")),
        json!(int(replica_set, "/status/readyReplicas")),
        age(replica_set, now),
        json!(names),
        json!(images),
        json!(format_label_selector(replica_set.pointer("/spec/selector"))),
    ]
}

/// Upstream's printer for the `scale` subresource of Deployments and ReplicaSets.
const SCALE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Desired", "integer", "Number of desired replicas"),
    Column::new("Available", "integer", "Number of actual replicas"),
    Column::AGE,
];

fn scale_cells(scale: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(scale)),
        json!(scale.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)),
        json!(scale.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0)),
        age(scale, now),
    ]
}


#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "side", "image": "busybox"}]}})
    }

    #[test]
    fn deployment_cells_cases() {
        let cases = [
            (
                json!({"metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:55:00Z"},
                       "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
                       "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
                json!([
                    "web",
                    "2/3",
                    3,
                    2,
                    "5m",
                    "web,side",
                    "nginx:1.27,busybox",
                    "app=web"
                ]),
            ),
            (
                json!({"metadata": {"name": "new"}, "spec": {"replicas": 1}}),
                json!(["new", "0/1", 0, 0, "<unknown>", "", "", ""]),
            ),
            (
                json!({"metadata": {"name": "bad"}, "spec": {"replicas": 0, "selector": {"matchExpressions": [
                    {"key": "app", "operator": "Like", "values": ["x"]}]}}}),
                json!(["bad", "0/0", 0, 0, "<unknown>", "", "", "<invalid>"]),
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(json!(deployment_cells(&obj, now())), want);
        }
    }

    #[test]
    fn replica_set_cells_cases() {
        let cases = [
            (
                json!({"metadata": {"name": "web-5d4f", "creationTimestamp": "2024-05-01T11:55:00Z"},
                       "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f"}},
                                "template": template()},
                       "status": {"replicas": 3, "readyReplicas": 1}}),
                json!([
                    "web-5d4f",
                    3,
                    3,
                    1,
                    "5m",
                    "web,side",
                    "nginx:1.27,busybox",
                    "app=web,pod-template-hash=5d4f"
                ]),
            ),
            (
                json!({"metadata": {"name": "rs"}}),
                json!(["rs", 0, 0, 0, "<unknown>", "", "", "<none>"]),
            ),
            (
                json!({"metadata": {"name": "rs"}, "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}}),
                json!(["rs", 0, 0, 0, "<unknown>", "", "", "<error>"]),
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(json!(replica_set_cells(&obj, now())), want);
        }
    }
}
