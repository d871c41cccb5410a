//! apps/v1 Deployment: defaults, validation, printer; status starts empty; generation counts
//! spec changes.

mod defaults;

use k8s_openapi::api::apps::v1 as apps;
use serde_json::{Map, Value};

use super::SCALE;
use crate::decode::typed;
use crate::kinds::{status_of, ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "apps", version: "v1", kind: "Deployment", plural: "deployments", singular: "deployment", namespaced: true,
    short_names: &["deploy"], categories: &["all"], verbs: ALL_VERBS,
    subresources: &[status_of("apps", "v1", "Deployment"), SCALE],
    storage_resource: "deployments", field_labels: &[],
    codec: typed::<apps::Deployment>,
    behaviour: &Deployment,
};

#[derive(Debug)]
pub struct Deployment;

impl Behaviour for Deployment {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_deployment(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        use super::validation as v;
        let given = v::selector_given(obj);
        crate::validation::typed::<apps::Deployment>(
            obj,
            op,
            |d| v::deployment_errors(d, given),
            |n, o| v::deployment_update_errors(n, o, given),
            v::validate_deployment_status_update,
        )
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&super::table::DEPLOYMENT)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    // Status is written by controllers through /status, never by the creator.
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = serde_json::json!({});
    }

}
