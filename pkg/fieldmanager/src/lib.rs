//! Server-side apply and managedFields tracking, as Kubernetes 1.33 does them
//! (sigs.k8s.io/structured-merge-diff v4 and the apiserver's field manager). No IO.
//!
//! * [`FieldSet`] — sets of field paths, with the FieldsV1 encoding of `managedFields`.
//! * [`Schema`] — the type table (struct, map, list-map/set/atomic list, untyped) built once
//!   from the served OpenAPI definitions; [`fields_of`] gives the fields an object sets.
//! * [`FieldManager`] — per kind and subresource: [`FieldManager::apply`] (server-side apply
//!   with conflicts, force and removal of fields no longer applied) and
//!   [`FieldManager::update`] (ownership of what a create/update/patch changed), reading and
//!   writing `metadata.managedFields`.
//! * [`reset_fields`] — what main-resource and status writes ignore.

mod conflict;
mod element;
mod fieldset;
mod lastapplied;
mod managed;
mod manager;
mod merge;
mod schema;
mod serialize;
mod strip;
mod typed;
mod updater;

pub use conflict::{print_manager, Conflict, ConflictCause, Conflicts, CAUSE_TYPE_FIELD_MANAGER_CONFLICT};
pub use element::{compare_values, values_equal, Path, PathElement};
pub use fieldset::FieldSet;
pub use lastapplied::{KUBECTL_MANAGER, LAST_APPLIED_ANNOTATION};
pub use managed::{manager_identifier, ManagedFields, VersionedSet, APPLY, MAX_UPDATE_MANAGERS, UPDATE};
pub use manager::{ignore_managed_fields_timestamps, manager_from_user_agent, Error, FieldManager, BEFORE_FIRST_APPLY, UNKNOWN_MANAGER};
pub use merge::Comparison;
pub use schema::{ListKind, Schema, StructDef, TypeRef};
pub use serialize::{parse_path_element, path_element_key, to_go_json, DecodeError};
pub use strip::{reset_fields, strip_set};
pub use typed::{ValidationError, ValidationErrors};

use serde_json::Value;

/// The root type of a served kind (group "" for core), or [`TypeRef::Deduced`] for kinds the
/// served OpenAPI does not describe.
pub fn kind_type(group: &str, version: &str, kind: &str) -> TypeRef {
    Schema::global().kind_type(group, version, kind).unwrap_or(TypeRef::Deduced)
}

/// The fields `obj` sets (upstream's `ToFieldSet`): scalars, atomic values, list elements,
/// map entries, and empty or null struct fields are members.
pub fn fields_of(obj: &Value, ty: &TypeRef) -> Result<FieldSet, ValidationErrors> {
    Schema::global().to_field_set(obj, ty, false)
}

#[cfg(test)]
mod tests;
