//! core/v1 ConfigMap: validation and printer; nothing to default.

mod table;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{self, FieldError, Op};

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
        use validation::config;
        validation::typed::<core::ConfigMap>(obj, op, config::validate_config_map, config::validate_config_map_update, validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
