//! core/v1 Node: defaults, validation, printer and the `spec.unschedulable` field label.

mod defaults;
mod table;
pub mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{field_or, status_of, Behaviour, ResourceDef, SubresourceDef, ALL_VERBS};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "Node", plural: "nodes", singular: "node", namespaced: false,
    short_names: &["no"], categories: &[], verbs: ALL_VERBS,
    subresources: &[
        status_of("", "v1", "Node"),
        // Served by the node's kubelet, through the API server.
        SubresourceDef { name: "proxy", group: "", version: "v1", kind: "NodeProxyOptions", verbs: &["create", "delete", "get", "patch", "update"], printer: None },
    ],
    storage_resource: "nodes", field_labels: &[field_or("spec.unschedulable", "spec.unschedulable", "false")],
    codec: typed::<core::Node>,
    behaviour: &Node,
};

#[derive(Debug)]
pub struct Node;

impl Behaviour for Node {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_node(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::Node>(obj, op, validation::validate_node, validation::validate_node_update, validation::validate_node_update)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
