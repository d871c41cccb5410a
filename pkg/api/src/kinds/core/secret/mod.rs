//! core/v1 Secret: `stringData` is merged into `data` on every write and never stored.

mod defaults;
mod strategy;
mod table;
pub(crate) mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{field, Behaviour, ResourceDef, ALL_VERBS};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "Secret", plural: "secrets", singular: "secret", namespaced: true,
    short_names: &[], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "secrets", field_labels: &[field("type", "type")],
    codec: typed::<core::Secret>,
    behaviour: &Secret,
};

#[derive(Debug)]
pub struct Secret;

impl Behaviour for Secret {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_secret(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::Secret>(obj, op, validation::validate_secret, validation::validate_secret_update, crate::validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        strategy::merge_string_data(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        strategy::merge_string_data(new);
    }
}
