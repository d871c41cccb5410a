//! scheduling.k8s.io/v1 PriorityClass: defaults, validation and printer.

use k8s_openapi::api::scheduling::v1 as scheduling;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::{self, Printer};
use crate::validation::{self, FieldError, Op};

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
        crate::defaults::default_priority_class(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        use validation::priority_class;
        validation::typed::<scheduling::PriorityClass>(obj, op, priority_class::validate_priority_class, priority_class::validate_priority_class_update, validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRIORITY_CLASS)
    }

}
