//! core/v1 Pod: defaults, validation, printer, field labels and strategy (status starts
//! Pending with its QoS class; deleting a pod bound to a node is graceful).

mod strategy;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{field, field_or, status_of, Admission, Behaviour, DeletePlan, FieldLabel, ResourceDef, SubresourceDef, ALL_VERBS};
use crate::table::{self, Printer};
use crate::validation::{self, FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod", namespaced: true,
    short_names: &["po"], categories: &["all"], verbs: ALL_VERBS,
    subresources: &[
        status_of("", "v1", "Pod"),
        SubresourceDef { name: "binding", group: "", version: "v1", kind: "Binding", verbs: &["create"], printer: None },
    ],
    storage_resource: "pods", field_labels: FIELDS,
    codec: typed::<core::Pod>,
    behaviour: &Pod,
};

/// Upstream's pod field labels (`PodToSelectableFields`).
const FIELDS: &[FieldLabel] = &[
    field("spec.nodeName", "spec.nodeName"),
    field("spec.restartPolicy", "spec.restartPolicy"),
    field("spec.schedulerName", "spec.schedulerName"),
    field("spec.serviceAccountName", "spec.serviceAccountName"),
    field_or("spec.hostNetwork", "spec.hostNetwork", "false"),
    field("status.phase", "status.phase"),
    field("status.podIP", "status.podIP"),
    field("status.nominatedNodeName", "status.nominatedNodeName"),
];

#[derive(Debug)]
pub struct Pod;

impl Behaviour for Pod {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        crate::defaults::default_pod(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        use validation::pod;
        validation::typed::<core::Pod>(obj, op, pod::validate_pod, pod::validate_pod_update, pod::validate_pod_status_update)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::POD)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        strategy::prepare_for_create(obj);
    }

    fn admission(&self) -> &'static [Admission] {
        &[Admission::Priority, Admission::DefaultTolerationSeconds]
    }

    fn delete_plan(&self, obj: &Value, grace_seconds: Option<i64>) -> DeletePlan {
        strategy::delete_plan(obj, grace_seconds)
    }
}
