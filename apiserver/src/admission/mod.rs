//! Admission: changes and checks a create needs from other objects, after defaults and before
//! validation (upstream's mutating admission plugins that corekube has). A kind's behaviour names
//! the plugins its creates go through (`Behaviour::admission`).

mod default_storage_class;
mod default_tolerations;
mod priority;

use corekube_api::kinds::Admission;
use corekube_api::ApiError;
use serde_json::Value;

use crate::state::AppState;
use crate::store::Scope;

/// Admits a new object (stored form) into `scope`.
pub async fn admit_create(state: &AppState, scope: &Scope, obj: &mut Value) -> Result<(), ApiError> {
    for plugin in scope.def.storage_def().behaviour.admission() {
        match plugin {
            Admission::Priority => priority::admit_pod(state, scope, obj)?,
            Admission::DefaultTolerationSeconds => default_tolerations::admit_pod(obj),
            Admission::DefaultStorageClass => default_storage_class::admit_claim(state, obj)?,
        }
    }
    Ok(())
}
