//! managedFields: which manager set which field, recorded on every write, and server-side
//! apply on top of it (pkg/fieldmanager holds the algorithms; this is where requests meet them).

use corekube_api::{meta, ApiError, Cause, ResourceDef};
use corekube_fieldmanager::{
    ignore_managed_fields_timestamps, manager_from_user_agent, reset_fields, Error, FieldManager, CAUSE_TYPE_FIELD_MANAGER_CONFLICT,
};
use serde_json::Value;

/// The manager a write is recorded for: `fieldManager`, else the User-Agent's program name
/// (`kubectl`, `kube-scheduler`), as upstream.
pub fn manager_name(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    match field_manager {
        Some(m) => m.to_string(),
        None => manager_from_user_agent(user_agent.unwrap_or_default()),
    }
}

fn field_manager(def: &ResourceDef, subresource: Option<&str>) -> FieldManager {
    let sub = subresource.unwrap_or("");
    let has_status = def.subresources.iter().any(|s| s.name == "status");
    FieldManager::new(def.group, def.version, def.kind, sub, reset_fields(def.group, def.kind, sub, has_status))
}

/// Records an Update (create, PUT, or a non-apply PATCH) by `manager` on `new`, the stored
/// form about to be written over `old` (None for a create).
pub fn record_update(def: &ResourceDef, subresource: Option<&str>, old: Option<&Value>, new: Value, manager: &str) -> Value {
    let storage = def.storage_def();
    let now = meta::now_rfc3339();
    let updated = field_manager(storage, subresource).update_no_errors(old, new, manager, &now);
    match old {
        Some(old) => ignore_managed_fields_timestamps(old, updated),
        None => updated,
    }
}

/// Server-side apply of `config` by `manager` onto `live` (served form; `{}` when the object
/// does not exist yet). The result carries its managedFields and, unless the configuration
/// names one, no resourceVersion, so the write is retried rather than failed on a race.
pub fn apply(def: &ResourceDef, subresource: Option<&str>, live: &Value, config: &Value, manager: &str, force: bool) -> Result<Value, ApiError> {
    let now = meta::now_rfc3339();
    let fm = field_manager(def, subresource);
    let applied = fm.apply(live, config, manager, force, &now).map_err(apply_error)?;
    let mut applied = if live.as_object().is_some_and(|o| !o.is_empty()) { ignore_managed_fields_timestamps(live, applied) } else { applied };
    if config.pointer("/metadata/resourceVersion").is_none_or(Value::is_null) {
        meta::remove(&mut applied, "resourceVersion");
    }
    Ok(applied)
}

fn apply_error(e: Error) -> ApiError {
    match e {
        Error::Conflicts(c) => ApiError::ApplyConflict {
            message: c.message(),
            causes: c.causes().into_iter().map(|c| Cause { reason: CAUSE_TYPE_FIELD_MANAGER_CONFLICT.into(), message: c.message, field: c.field }).collect(),
        },
        Error::DecodeManagedFields(_) => ApiError::Internal(e.to_string()),
        other => ApiError::BadRequest(other.to_string()),
    }
}
