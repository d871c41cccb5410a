//! StorageClass defaults: reclaim Delete, binding Immediate.

use serde_json::json;

use crate::defaults::{set_if_missing, Object};

pub(super) fn default_storage_class(obj: &mut Object) {
    set_if_missing(obj, "reclaimPolicy", json!("Delete"));
    set_if_missing(obj, "volumeBindingMode", json!("Immediate"));
}
