//! scheduling.k8s.io/v1 PriorityClass: defaults, validation and printer.

mod defaults;
pub mod validation;
mod table;

use k8s_openapi::api::scheduling::v1 as scheduling;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "scheduling.k8s.io", version: "v1", kind: "PriorityClass", plural: "priorityclasses", singular: "priorityclass",
    namespaced: false, short_names: &["pc"], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "priorityclasses", field_labels: &[],
    codec: typed::<scheduling::PriorityClass>,
    behaviour: &PriorityClass,
};

#[derive(Debug)]
pub struct PriorityClass;

impl Behaviour for PriorityClass {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_priority_class(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<scheduling::PriorityClass>(obj, op, validation::validate_priority_class, validation::validate_priority_class_update, crate::validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
