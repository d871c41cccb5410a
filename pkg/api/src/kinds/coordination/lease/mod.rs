//! coordination.k8s.io/v1 Lease: validation and printer; nothing to default.

use k8s_openapi::api::coordination::v1 as coordination;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::{self, Printer};
use crate::validation::{self, FieldError, Op};

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
        use validation::coordination as v;
        validation::typed::<coordination::Lease>(obj, op, v::validate_lease, v::validate_lease_update, validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::LEASE)
    }

}
