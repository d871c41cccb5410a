//! apps/v1 ReplicaSet: defaults, validation, printer, the `status.replicas` field label; status
//! starts empty; generation counts spec changes.

mod defaults;

use k8s_openapi::api::apps::v1 as apps;
use serde_json::{Map, Value};

use super::SCALE;
use crate::decode::typed;
use crate::kinds::{field_or, status_of, ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", singular: "replicaset", namespaced: true,
    short_names: &["rs"], categories: &["all"], verbs: ALL_VERBS,
    subresources: &[status_of("apps", "v1", "ReplicaSet"), SCALE],
    storage_resource: "replicasets", field_labels: &[field_or("status.replicas", "status.replicas", "0")],
    codec: typed::<apps::ReplicaSet>,
    behaviour: &ReplicaSet,
};

#[derive(Debug)]
pub struct ReplicaSet;

impl Behaviour for ReplicaSet {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_replica_set(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        use super::validation as v;
        let given = v::selector_given(obj);
        crate::validation::typed::<apps::ReplicaSet>(
            obj,
            op,
            |r| v::replica_set_errors(r, given),
            |n, o| v::replica_set_update_errors(n, o, given),
            v::validate_replica_set_status_update,
        )
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&super::table::REPLICA_SET)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    // Status is written by controllers through /status, never by the creator.
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = serde_json::json!({});
    }

}
