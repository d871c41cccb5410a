//! core/v1 Service: defaults, validation, printer, field labels; status starts empty; an update
//! keeps the allocated cluster IPs and families it leaves out.

mod defaults;
mod table;
pub mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{field, status_of, ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "Service", plural: "services", singular: "service", namespaced: true,
    short_names: &["svc"], categories: &["all"], verbs: ALL_VERBS,
    subresources: &[status_of("", "v1", "Service")],
    storage_resource: "services",
    field_labels: &[field("spec.clusterIP", "spec.clusterIP"), field("spec.type", "spec.type")],
    codec: typed::<core::Service>,
    behaviour: &Service,
};

#[derive(Debug)]
pub struct Service;

impl Behaviour for Service {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_service(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::Service>(obj, op, validation::validate_service, validation::validate_service_update, validation::validate_service_status_update)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

    // Status is written by controllers through /status, never by the creator.
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = serde_json::json!({});
    }

    // Fields the server fills in when a Service is created stay as they were when an update
    // leaves them out, as upstream's service REST keeps them.
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            let missing = new.pointer(&format!("/spec/{field}")).is_none_or(|v| v.is_null());
            if let (true, Some(v)) = (missing, old.pointer(&format!("/spec/{field}"))) {
                new["spec"][field] = v.clone();
            }
        }
    }

}
