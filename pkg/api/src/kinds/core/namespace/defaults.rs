//! Namespace defaults: the `kubernetes.io/metadata.name` label, the `kubernetes` finalizer... as upstream.

use serde_json::{json, Value};

use crate::defaults::{set_if_zero, value_struct, Object};

pub(super) fn default_namespace(namespace: &mut Object) {
    let name = namespace.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("");
    // A namespace asked for by generateName has no name yet; upstream labels it once named.
    if !name.is_empty() {
        let name = json!(name);
        let labels = value_struct(namespace, "metadata").and_then(|metadata| value_struct(metadata, "labels"));
        if let Some(labels) = labels {
            labels.insert("kubernetes.io/metadata.name".into(), name);
        }
    }
    if let Some(status) = value_struct(namespace, "status") {
        set_if_zero(status, "phase", json!("Active"));
    }
}
