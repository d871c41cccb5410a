//! core/v1 Endpoints: port protocols default to TCP; validation and printer.

mod defaults;
mod table;
pub mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "Endpoints", plural: "endpoints", singular: "endpoints", namespaced: true,
    short_names: &["ep"], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "endpoints", field_labels: &[],
    codec: typed::<core::Endpoints>,
    behaviour: &Endpoints,
};

#[derive(Debug)]
pub struct Endpoints;

impl Behaviour for Endpoints {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_endpoints(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::Endpoints>(obj, op, validation::validate_endpoints, validation::validate_endpoints_update, crate::validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
