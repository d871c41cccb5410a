//! core/v1 ConfigMap: validation and printer; nothing to default.

mod table;
pub(crate) mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", singular: "configmap", namespaced: true,
    short_names: &["cm"], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "configmaps", field_labels: &[],
    codec: typed::<core::ConfigMap>,
    behaviour: &ConfigMap,
};

#[derive(Debug)]
pub struct ConfigMap;

impl Behaviour for ConfigMap {
    fn defaults(&self, _obj: &mut Map<String, Value>) {}

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::ConfigMap>(obj, op, validation::validate_config_map, validation::validate_config_map_update, crate::validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
