//! core/v1 PersistentVolumeClaim: defaults, validation, printer; created Pending; the
//! DefaultStorageClass admission plugin.

mod defaults;
mod table;
mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{status_of, Admission, ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim", namespaced: true, short_names: &["pvc"], categories: &[], verbs: ALL_VERBS,
    subresources: &[status_of("", "v1", "PersistentVolumeClaim")],
    storage_resource: "persistentvolumeclaims", field_labels: &[],
    codec: typed::<core::PersistentVolumeClaim>,
    behaviour: &PersistentVolumeClaim,
};

#[derive(Debug)]
pub struct PersistentVolumeClaim;

impl Behaviour for PersistentVolumeClaim {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_persistent_volume_claim(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::PersistentVolumeClaim>(obj, op, validation::validate_persistent_volume_claim, validation::validate_persistent_volume_claim_update, validation::validate_persistent_volume_claim_status_update)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

    // Status is written by controllers through /status, never by the creator.
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = serde_json::json!({"phase": "Pending"});
    }

    fn admission(&self) -> &'static [Admission] {
        &[Admission::DefaultStorageClass]
    }

}
