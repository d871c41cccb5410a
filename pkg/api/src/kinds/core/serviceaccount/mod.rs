//! core/v1 ServiceAccount: validation and printer; nothing to default.

mod table;
mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", singular: "serviceaccount",
    namespaced: true, short_names: &["sa"], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "serviceaccounts", field_labels: &[],
    codec: typed::<core::ServiceAccount>,
    behaviour: &ServiceAccount,
};

#[derive(Debug)]
pub struct ServiceAccount;

impl Behaviour for ServiceAccount {
    fn defaults(&self, _obj: &mut Map<String, Value>) {}

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::ServiceAccount>(obj, op, validation::validate_service_account, validation::validate_service_account_update, crate::validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
