//! Interop with client-side `kubectl apply` and its
//! `kubectl.kubernetes.io/last-applied-configuration` annotation, for the manager `kubectl`
//! only (upstream's lastAppliedManager and lastAppliedUpdater): conflicts on fields whose live
//! value is still the last client-side applied one are not conflicts, and a server-side apply
//! keeps an existing annotation up to date.

use serde_json::{Map, Value};

use crate::fieldset::FieldSet;
use crate::schema::{Schema, TypeRef};
use crate::serialize::to_go_json;

pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The field manager `kubectl apply --server-side` uses by default.
pub const KUBECTL_MANAGER: &str = "kubectl";
/// Upstream's limit on the total size of an object's annotations.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

fn last_applied(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations")?.get(LAST_APPLIED_ANNOTATION)?.as_str().filter(|s| !s.is_empty())
}

pub(crate) fn has_last_applied(obj: &Value) -> bool {
    last_applied(obj).is_some()
}

/// The fields of the last client-side applied configuration whose live value is still the
/// applied one; `None` without a usable annotation.
pub(crate) fn allowed_conflicts(schema: &Schema, ty: &TypeRef, api_version: &str, live: &Value) -> Option<FieldSet> {
    let last: Value = serde_json::from_str(last_applied(live)?).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let set = schema.to_field_set(&last, ty, false).ok()?;
    let c = schema.compare(&last, live, ty);
    Some(set.difference(&c.modified).difference(&c.added).difference(&c.removed))
}

/// The annotation value for an applied configuration: the configuration without the annotation,
/// as Go's encoder writes it (sorted keys, trailing newline).
pub(crate) fn build_last_applied(config: &Value) -> String {
    let mut c = config.clone();
    if let Some(Value::Object(ann)) = c.pointer_mut("/metadata/annotations") {
        ann.remove(LAST_APPLIED_ANNOTATION);
    }
    let mut s = to_go_json(&c);
    s.push('\n');
    s
}

/// Sets the annotation, dropping it instead when the annotations would grow too large.
pub(crate) fn set_last_applied(obj: &mut Value, value: String) {
    let Some(o) = obj.as_object_mut() else { return };
    let meta = o.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else { return };
    let ann = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if !ann.is_object() {
        *ann = Value::Object(Map::new());
    }
    let ann = ann.as_object_mut().expect("made an object");
    ann.insert(LAST_APPLIED_ANNOTATION.into(), Value::String(value));
    let size: usize = ann.iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum();
    if size > TOTAL_ANNOTATION_SIZE_LIMIT {
        ann.remove(LAST_APPLIED_ANNOTATION);
    }
}
