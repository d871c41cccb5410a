//! Per-resource strategies: what the generic store does differently for each kind on create,
//! update, status writes and delete. Everything not named here follows the generic rules.

mod event;
mod namespace;
mod pod;
mod secret;

use corekube_api::{validation, ApiError, Cause, ResourceDef};
use serde_json::Value;

pub use namespace::{is_protected_namespace, is_terminating};

/// Kinds whose `metadata.generation` counts spec changes.
fn tracks_generation(def: &ResourceDef) -> bool {
    matches!((def.group, def.kind), ("", "Pod") | ("apps", "Deployment") | ("apps", "ReplicaSet"))
}

/// The stored object in the form this API serves (events.k8s.io events are stored as core).
pub fn to_served(def: &ResourceDef, stored: Value) -> Value {
    if def.is_converted_view() {
        event::to_events_v1(stored)
    } else {
        stored
    }
}

/// A served-form object in its stored form, normalised through the stored kind's type.
pub fn to_stored(def: &ResourceDef, served: Value) -> Result<Value, ApiError> {
    if !def.is_converted_view() {
        return Ok(served);
    }
    let core = event::to_core(served);
    (def.storage_def().codec)(core).map(|n| n.value).map_err(ApiError::BadRequest)
}

/// Server-owned fields of a new object, after defaults.
pub fn prepare_for_create(def: &ResourceDef, obj: &mut Value) {
    let storage = def.storage_def();
    corekube_api::defaults::apply_defaults(storage.group, storage.kind, obj);
    if tracks_generation(storage) {
        corekube_api::meta::set(obj, "generation", 1.into());
    }
    match (storage.group, storage.kind) {
        ("", "Pod") => pod::prepare_for_create(obj),
        ("", "Namespace") => namespace::prepare_for_create(obj),
        ("", "Secret") => secret::merge_string_data(obj),
        // Status is written by controllers through /status, never by the creator.
        ("apps", "Deployment") | ("apps", "ReplicaSet") | ("", "Service") => {
            obj["status"] = serde_json::json!({});
        }
        ("", "PersistentVolume") | ("", "PersistentVolumeClaim") => {
            obj["status"] = serde_json::json!({"phase": "Pending"});
        }
        _ => {}
    }
}

/// Merges what an update may change into the old object: the main resource keeps the old
/// status, the status subresource keeps everything but status.
pub fn prepare_for_update(def: &ResourceDef, subresource: Option<&str>, new: &mut Value, old: &Value) {
    let storage = def.storage_def();
    match subresource {
        Some("status") => {
            let status = new.get("status").cloned();
            let mut merged = old.clone();
            match status {
                Some(s) => merged["status"] = s,
                None => {
                    if let Some(o) = merged.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            // The resourceVersion precondition comes from the request.
            if let Some(rv) = corekube_api::meta::resource_version(new).map(String::from) {
                corekube_api::meta::set(&mut merged, "resourceVersion", rv.into());
            }
            *new = merged;
        }
        // A binding was computed from the current pod by the binding handler: it sets
        // spec.nodeName and the PodScheduled condition, which no other write may do.
        Some("binding") => {}
        Some("finalize") => {
            // Only spec.finalizers may change through namespaces/{name}/finalize.
            let finalizers = new.pointer("/spec/finalizers").cloned();
            let mut merged = old.clone();
            merged["spec"]["finalizers"] = finalizers.unwrap_or(Value::Array(vec![]));
            *new = merged;
        }
        _ => {
            if storage.kind == "Service" && storage.group.is_empty() {
                keep_allocated_service_fields(new, old);
            }
            corekube_api::defaults::apply_defaults(storage.group, storage.kind, new);
            if def.has_status() {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            match (storage.group, storage.kind) {
                ("", "Namespace") => namespace::prepare_for_update(new, old),
                ("", "Secret") => secret::merge_string_data(new),
                _ => {}
            }
        }
    }
    // Server-owned metadata never changes through an update.
    for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match corekube_api::meta::meta(old).and_then(|m| m.get(field)).cloned() {
            Some(v) => corekube_api::meta::set(new, field, v),
            None => corekube_api::meta::remove(new, field),
        }
    }
    // A binding writes the pod past its strategy upstream, so it leaves the generation alone.
    if tracks_generation(storage) && subresource != Some("binding") && new.get("spec") != old.get("spec") {
        let g = corekube_api::meta::generation(old);
        corekube_api::meta::set(new, "generation", (g + 1).into());
    }
}

/// Fields the server fills in when a Service is created stay as they were when an update
/// leaves them out, as upstream's service REST keeps them.
fn keep_allocated_service_fields(new: &mut Value, old: &Value) {
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        let missing = new.pointer(&format!("/spec/{field}")).is_none_or(|v| v.is_null());
        if let (true, Some(v)) = (missing, old.pointer(&format!("/spec/{field}"))) {
            new["spec"][field] = v.clone();
        }
    }
}

/// Validates a create; `obj` is returned unchanged (see `validation::validate_create`).
pub fn validate_create(def: &ResourceDef, obj: &mut Value) -> Vec<Cause> {
    let storage = def.storage_def();
    validation::validate_create(storage.group, storage.kind, obj)
}

/// Validates an update; both objects are returned unchanged.
pub fn validate_update(def: &ResourceDef, subresource: Option<&str>, new: &mut Value, old: &mut Value) -> Vec<Cause> {
    let storage = def.storage_def();
    match subresource {
        Some("status") => validation::validate_status_update(storage.group, storage.kind, new, old),
        // The binding handler changes exactly spec.nodeName and one condition, checked there.
        Some("binding") => Vec::new(),
        _ => validation::validate_update(storage.group, storage.kind, new, old),
    }
}

/// What a DELETE does to an object that has no finalizers holding it.
#[derive(Debug, PartialEq, Eq)]
pub enum DeletePlan {
    /// Remove it from storage now.
    Immediate,
    /// Set deletionTimestamp this many seconds ahead; the node's kubelet removes it.
    Graceful(i64),
    /// Mark it Terminating; a controller empties and removes it.
    Terminate,
}

pub fn delete_plan(def: &ResourceDef, obj: &Value, grace_seconds: Option<i64>) -> DeletePlan {
    let storage = def.storage_def();
    match (storage.group, storage.kind) {
        ("", "Pod") => pod::delete_plan(obj, grace_seconds),
        ("", "Namespace") => namespace::delete_plan(obj),
        _ => DeletePlan::Immediate,
    }
}

/// Applies a delete plan that keeps the object, returning the object to store.
pub fn mark_deleting(def: &ResourceDef, obj: &Value, plan: &DeletePlan) -> Value {
    let mut obj = obj.clone();
    let grace = match plan {
        DeletePlan::Graceful(s) => *s,
        _ => 0,
    };
    if corekube_api::meta::deletion_timestamp(&obj).is_none() {
        corekube_api::meta::set(&mut obj, "deletionTimestamp", corekube_api::meta::rfc3339_in(grace).into());
        corekube_api::meta::set(&mut obj, "deletionGracePeriodSeconds", grace.into());
    } else if let DeletePlan::Graceful(s) = plan {
        // A second delete may only shorten the grace period.
        let current = corekube_api::meta::meta(&obj).and_then(|m| m.get("deletionGracePeriodSeconds")).and_then(|g| g.as_i64()).unwrap_or(i64::MAX);
        if *s < current {
            corekube_api::meta::set(&mut obj, "deletionTimestamp", corekube_api::meta::rfc3339_in(*s).into());
            corekube_api::meta::set(&mut obj, "deletionGracePeriodSeconds", (*s).into());
        }
    }
    if matches!(plan, DeletePlan::Terminate) && def.storage_def().kind == "Namespace" {
        obj["status"]["phase"] = "Terminating".into();
    }
    obj
}
