//! The generic strategy: what the generic store does to an object on create, update, status
//! writes and delete. What a kind does differently comes from its registry entry's behaviour
//! (`corekube_api::kinds::Behaviour`, in the kind's folder under `pkg/api/src/kinds/`); writes
//! use the behaviour of the entry whose form is stored.

use corekube_api::{defaults, validation, ApiError, Cause, ResourceDef};
use serde_json::Value;

pub use corekube_api::kinds::core::namespace::is_terminating;
pub use corekube_api::kinds::DeletePlan;

/// The stored object in the form this API serves (events.k8s.io events are stored as core).
pub fn to_served(def: &ResourceDef, stored: Value) -> Value {
    if def.is_converted_view() {
        def.behaviour.to_served(stored)
    } else {
        stored
    }
}

/// A served-form object in its stored form, normalised through the stored kind's type.
pub fn to_stored(def: &ResourceDef, served: Value) -> Result<Value, ApiError> {
    if !def.is_converted_view() {
        return Ok(served);
    }
    let stored = def.behaviour.to_stored(served);
    (def.storage_def().codec)(stored).map(|n| n.value).map_err(ApiError::BadRequest)
}

/// Server-owned fields of a new object, after defaults.
pub fn prepare_for_create(def: &ResourceDef, obj: &mut Value) {
    let kind = def.storage_def().behaviour;
    defaults::apply_defaults_of(kind, obj);
    if kind.tracks_generation() {
        corekube_api::meta::set(obj, "generation", 1.into());
    }
    kind.prepare_for_create(obj);
}

/// Merges what an update may change into the old object: the main resource keeps the old
/// status, the status subresource keeps everything but status.
pub fn prepare_for_update(def: &ResourceDef, subresource: Option<&str>, new: &mut Value, old: &Value) {
    let kind = def.storage_def().behaviour;
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
            kind.prepare_for_update(new, old);
            defaults::apply_defaults_of(kind, new);
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
    if kind.tracks_generation() && subresource != Some("binding") && kind.spec_changed(new, old) {
        let g = corekube_api::meta::generation(old);
        corekube_api::meta::set(new, "generation", (g + 1).into());
    }
}

/// Validates a create; `obj` is returned unchanged (see `validation::validate_create`).
pub fn validate_create(def: &ResourceDef, obj: &mut Value) -> Vec<Cause> {
    validation::validate_create_of(def.storage_def().behaviour, obj)
}

/// Validates an update; both objects are returned unchanged.
pub fn validate_update(def: &ResourceDef, subresource: Option<&str>, new: &mut Value, old: &mut Value) -> Vec<Cause> {
    let kind = def.storage_def().behaviour;
    match subresource {
        Some("status") => validation::validate_status_update_of(kind, new, old),
        // The binding handler changes exactly spec.nodeName and one condition, checked there.
        Some("binding") => Vec::new(),
        _ => validation::validate_update_of(kind, new, old),
    }
}

pub fn delete_plan(def: &ResourceDef, obj: &Value, grace_seconds: Option<i64>) -> DeletePlan {
    def.storage_def().behaviour.delete_plan(obj, grace_seconds)
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
    def.storage_def().behaviour.mark_deleting(&mut obj, *plan);
    obj
}
