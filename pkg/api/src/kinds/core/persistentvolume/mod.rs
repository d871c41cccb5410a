//! core/v1 PersistentVolume: defaults, validation, printer; created Pending.

mod defaults;
pub(crate) mod table;
pub(crate) mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{status_of, ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "PersistentVolume", plural: "persistentvolumes", singular: "persistentvolume",
    namespaced: false, short_names: &["pv"], categories: &[], verbs: ALL_VERBS,
    subresources: &[status_of("", "v1", "PersistentVolume")],
    storage_resource: "persistentvolumes", field_labels: &[],
    codec: typed::<core::PersistentVolume>,
    behaviour: &PersistentVolume,
};

#[derive(Debug)]
pub struct PersistentVolume;

impl Behaviour for PersistentVolume {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_persistent_volume(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::PersistentVolume>(obj, op, validation::validate_persistent_volume, validation::validate_persistent_volume_update, crate::validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

    // Status is written by controllers through /status, never by the creator.
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = serde_json::json!({"phase": "Pending"});
    }

}
