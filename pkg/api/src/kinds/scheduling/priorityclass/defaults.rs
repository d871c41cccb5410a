//! PriorityClass defaults: preemptionPolicy PreemptLowerPriority.

use serde_json::json;

use crate::defaults::{set_if_missing, Object};

pub(super) fn default_priority_class(obj: &mut Object) {
    set_if_missing(obj, "preemptionPolicy", json!("PreemptLowerPriority"));
}
