//! Node defaults.

use crate::defaults::{pointer_struct, set_if_missing, Object};

pub(super) fn default_node(node: &mut Object) {
    let Some(status) = pointer_struct(node, "status") else { return };
    let capacity = status.get("capacity").filter(|c| !c.is_null()).cloned();
    if let Some(capacity) = capacity {
        set_if_missing(status, "allocatable", capacity);
    }
}
