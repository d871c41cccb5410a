//! core/v1 PodTemplate: its template defaults and validates as a pod's.

mod defaults;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{self, FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "PodTemplate", plural: "podtemplates", singular: "podtemplate", namespaced: true,
    short_names: &[], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "podtemplates", field_labels: &[],
    codec: typed::<core::PodTemplate>,
    behaviour: &PodTemplate,
};

#[derive(Debug)]
pub struct PodTemplate;

impl Behaviour for PodTemplate {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_pod_template_object(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        use crate::kinds::core::pod::validation as pod;
        validation::typed::<core::PodTemplate>(obj, op, pod::validate_pod_template, pod::validate_pod_template_update, validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&crate::kinds::core::pod::table::TEMPLATE_PRINTER)
    }

}
