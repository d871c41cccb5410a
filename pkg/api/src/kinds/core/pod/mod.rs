//! core/v1 Pod: defaults, validation, printer, field labels and strategy (status starts
//! Pending with its QoS class; deleting a pod bound to a node is graceful).

pub(crate) mod defaults;
mod fields;
mod image;
pub(crate) mod strategy;
pub(crate) mod table;
mod table_status;
pub mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{status_of, Admission, Behaviour, DeletePlan, ResourceDef, SubresourceDef, ALL_VERBS};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod", namespaced: true,
    short_names: &["po"], categories: &["all"], verbs: ALL_VERBS,
    subresources: &[
        status_of("", "v1", "Pod"),
        SubresourceDef { name: "binding", group: "", version: "v1", kind: "Binding", verbs: &["create"], printer: None },
        // Served by the kubelet of the pod's node, through the API server.
        SubresourceDef { name: "attach", group: "", version: "v1", kind: "PodAttachOptions", verbs: &["create", "get"], printer: None },
        SubresourceDef { name: "exec", group: "", version: "v1", kind: "PodExecOptions", verbs: &["create", "get"], printer: None },
        SubresourceDef { name: "log", group: "", version: "v1", kind: "Pod", verbs: &["get"], printer: None },
        SubresourceDef { name: "portforward", group: "", version: "v1", kind: "PodPortForwardOptions", verbs: &["create", "get"], printer: None },
    ],
    storage_resource: "pods", field_labels: fields::FIELDS,
    codec: typed::<core::Pod>,
    behaviour: &Pod,
};

#[derive(Debug)]
pub struct Pod;

impl Behaviour for Pod {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_pod(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::Pod>(obj, op, validation::validate_pod, validation::validate_pod_update, validation::validate_pod_status_update)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
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
