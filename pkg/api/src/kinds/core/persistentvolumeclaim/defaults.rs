//! PersistentVolumeClaim defaults (upstream `SetDefaults_PersistentVolumeClaim` and its spec).

use serde_json::json;

use crate::defaults::{set_if_zero, value_struct, Object};

pub(super) fn default_persistent_volume_claim(obj: &mut Object) {
    if let Some(status) = value_struct(obj, "status") {
        set_if_zero(status, "phase", json!("Pending"));
    }
    if let Some(spec) = value_struct(obj, "spec") {
        crate::defaults::default_claim_spec(spec);
    }
}
