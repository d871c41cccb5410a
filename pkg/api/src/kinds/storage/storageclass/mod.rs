//! storage.k8s.io/v1 StorageClass: defaults, validation and printer.

mod defaults;
mod table;
mod validation;

use k8s_openapi::api::storage::v1 as storage;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", singular: "storageclass",
    namespaced: false, short_names: &["sc"], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "storageclasses", field_labels: &[],
    codec: typed::<storage::StorageClass>,
    behaviour: &StorageClass,
};

#[derive(Debug)]
pub struct StorageClass;

impl Behaviour for StorageClass {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_storage_class(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<storage::StorageClass>(obj, op, validation::validate_storage_class, validation::validate_storage_class_update, crate::validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
