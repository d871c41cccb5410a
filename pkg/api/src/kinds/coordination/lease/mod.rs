//! coordination.k8s.io/v1 Lease: validation and printer; nothing to default.

mod validation;
mod table;

use k8s_openapi::api::coordination::v1 as coordination;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", singular: "lease", namespaced: true,
    short_names: &[], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "leases", field_labels: &[],
    codec: typed::<coordination::Lease>,
    behaviour: &Lease,
};

#[derive(Debug)]
pub struct Lease;

impl Behaviour for Lease {
    fn defaults(&self, _obj: &mut Map<String, Value>) {}

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<coordination::Lease>(obj, op, validation::validate_lease, validation::validate_lease_update, crate::validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
