//! Secret defaults: `type` Opaque.

use serde_json::json;

use crate::defaults::{set_if_zero, Object};

pub(super) fn default_secret(obj: &mut Object) {
    set_if_zero(obj, "type", json!("Opaque"));
}
