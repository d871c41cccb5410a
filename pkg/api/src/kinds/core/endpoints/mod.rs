//! core/v1 Endpoints: port protocols default to TCP; validation and printer.

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::{self, Printer};
use crate::validation::{self, FieldError, Op};

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
        crate::defaults::default_endpoints(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        use validation::service;
        validation::typed::<core::Endpoints>(obj, op, service::validate_endpoints, service::validate_endpoints_update, validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::ENDPOINTS)
    }

}
