//! ReplicaSet defaults: one replica, the template's pod defaults.

use serde_json::json;

use crate::defaults::{set_if_missing, value_struct, Object};

pub(super) fn default_replica_set(obj: &mut Object) {
    if let Some(spec) = value_struct(obj, "spec") {
        set_if_missing(spec, "replicas", json!(1));
        if let Some(template) = value_struct(spec, "template") {
            crate::kinds::core::pod::defaults::default_pod_template(template);
        }
    }
}
