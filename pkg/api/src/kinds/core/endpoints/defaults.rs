//! Endpoints defaults: port protocols TCP.

use serde_json::json;

use crate::defaults::{items, set_if_zero, Object};

pub(super) fn default_endpoints(obj: &mut Object) {
    for subset in items(obj, "subsets") {
        for port in items(subset, "ports") {
            set_if_zero(port, "protocol", json!("TCP"));
        }
    }
}
