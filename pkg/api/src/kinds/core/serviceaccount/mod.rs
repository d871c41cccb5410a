//! core/v1 ServiceAccount: validation and printer; nothing to default.

mod table;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{self, FieldError, Op};

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
        use validation::config;
        validation::typed::<core::ServiceAccount>(obj, op, config::validate_service_account, config::validate_service_account_update, validation::meta_only)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

}
