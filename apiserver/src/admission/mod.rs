//! Admission: changes and checks a create needs from other objects, after defaults and before
//! validation (upstream's mutating admission plugins that corekube has).

mod default_storage_class;
mod default_tolerations;
mod priority;

use corekube_api::ApiError;
use serde_json::Value;

use crate::state::AppState;
use crate::store::Scope;

/// Admits a new object (stored form) into `scope`.
pub async fn admit_create(state: &AppState, scope: &Scope, obj: &mut Value) -> Result<(), ApiError> {
    let storage = scope.def.storage_def();
    if (storage.group, storage.kind) == ("", "Pod") {
        priority::admit_pod(state, scope, obj)?;
        default_tolerations::admit_pod(obj);
    }
    if (storage.group, storage.kind) == ("", "PersistentVolumeClaim") {
        default_storage_class::admit_claim(state, obj)?;
    }
    Ok(())
}
