//! The generic store: keys, resourceVersion preconditions, conflicts, finalizers and graceful
//! deletion live here once, over `corekube_storage::EtcdStore`; per-kind differences come from
//! `crate::strategy` and the kinds registry entries it asks.

mod delete;
pub mod list;
mod write;

use corekube_api::{ApiError, ResourceDef};
use corekube_storage::{EtcdStore, StorageError};
use serde_json::Value;

pub use delete::{delete, delete_collection, DeleteParams};
pub use list::list;
pub use write::{create, create_json, update};

use crate::strategy;

/// Where a request operates: one resource, optionally within one namespace.
#[derive(Clone, Debug)]
pub struct Scope {
    pub def: &'static ResourceDef,
    pub namespace: Option<String>,
}

impl Scope {
    pub fn key(&self, name: &str) -> String {
        corekube_storage::object_key(self.def.storage_resource, self.namespace.as_deref(), name)
    }

    /// The key prefix of the collection (all namespaces when none is given).
    pub fn prefix(&self) -> String {
        corekube_storage::collection_prefix(self.def.storage_resource, self.namespace.as_deref())
    }

    pub fn not_found(&self, name: &str) -> ApiError {
        ApiError::NotFound { resource: self.def.group_resource(), name: name.to_string() }
    }

    pub fn conflict(&self, name: &str) -> ApiError {
        ApiError::Conflict {
            resource: self.def.group_resource(),
            name: name.to_string(),
            detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
        }
    }

    /// Storage failures in this scope's terms.
    pub fn storage_error(&self, name: &str, e: StorageError) -> ApiError {
        match e {
            StorageError::NotFound => self.not_found(name),
            StorageError::AlreadyExists => ApiError::AlreadyExists { resource: self.def.group_resource(), name: name.to_string() },
            StorageError::Conflict { .. } => self.conflict(name),
            StorageError::Compacted { requested, compacted } => ApiError::Expired {
                message: format!("too old resource version: {requested} ({compacted})"),
                continue_token: None,
            },
            StorageError::FutureRevision { .. } => ApiError::TooLargeResourceVersion("Too large resource version".into()),
            StorageError::Corrupt { .. } | StorageError::Unavailable(_) => {
                tracing::warn!(error = %e, "storage failure");
                ApiError::Internal(e.to_string())
            }
        }
    }
}

/// Reads one object in its served form.
pub async fn get(store: &EtcdStore, scope: &Scope, name: &str) -> Result<Value, ApiError> {
    let obj = store.get(&scope.key(name)).await.map_err(|e| scope.storage_error(name, e))?;
    match obj {
        Some(o) => Ok(strategy::to_served(scope.def, o)),
        None => Err(scope.not_found(name)),
    }
}

/// Reads one stored object, or 404.
pub(crate) async fn get_stored(store: &EtcdStore, scope: &Scope, name: &str) -> Result<Value, ApiError> {
    store.get(&scope.key(name)).await.map_err(|e| scope.storage_error(name, e))?.ok_or_else(|| scope.not_found(name))
}
