//! The field manager of one kind and subresource: the layers upstream stacks around the
//! structured updater (version check, last-applied interop, before-first-apply, update-manager
//! cap, manager identifiers, timestamps, metadata stripping), reading and writing
//! `metadata.managedFields` of the objects it is given.

use serde_json::{json, Value};

use crate::conflict::{Conflict, Conflicts};
use crate::fieldset::FieldSet;
use crate::lastapplied::{allowed_conflicts, build_last_applied, has_last_applied, set_last_applied, KUBECTL_MANAGER};
use crate::managed::{manager_identifier, ManagedFields, VersionedSet, APPLY, MAX_UPDATE_MANAGERS, UPDATE};
use crate::schema::{Schema, TypeRef};
use crate::strip::strip_set;
use crate::typed::ValidationErrors;
use crate::updater::Updater;

/// The manager that owns the fields of an object that had no managedFields when first applied.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The manager name used when none is given and none can be derived.
pub const UNKNOWN_MANAGER: &str = "unknown";
const CURRENT_OPERATION: &str = "current-operation";

/// Why a write could not be tracked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The applied configuration's apiVersion/kind is not the resource's (`apps/v1, Kind=Foo`;
    /// `/v1, Kind=` when missing). Upstream: 400 BadRequest.
    #[error("invalid object type: {0}")]
    InvalidObjectType(String),
    /// Upstream: 400 BadRequest.
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInConfig,
    /// The applied configuration does not fit the schema (undeclared fields, bad list
    /// elements). Upstream returns it as a plain error: 500 with reason "" (kubectl prints
    /// `Error from server: failed to create typed patch object ...`).
    #[error("failed to create typed patch object ({object}): {errors}")]
    InvalidConfig { object: String, errors: ValidationErrors },
    /// The updated object does not fit the schema (see [`FieldManager::update_no_errors`]).
    #[error("failed to create typed new object ({object}): {errors}")]
    InvalidObject { object: String, errors: ValidationErrors },
    /// The live object's managedFields are unreadable. Upstream: 500.
    #[error("failed to decode managed fields: {0}")]
    DecodeManagedFields(String),
    /// Upstream: 409 Conflict with one `FieldManagerConflict` cause per conflict
    /// ([`Conflicts::causes`]); the message is [`Conflicts::message`].
    #[error("{0}")]
    Conflicts(Conflicts),
}

/// Upstream's default manager name for a request without `fieldManager`: the User-Agent up to
/// its first `/` (`kubectl/v1.33.0 (linux/amd64) ...` -> `kubectl`), non-printable characters
/// dropped, at most 128 bytes.
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}

/// Tracks managed fields for the writes to one kind through one subresource.
#[derive(Debug, Clone)]
pub struct FieldManager {
    schema: &'static Schema,
    ty: TypeRef,
    group: String,
    version: String,
    kind: String,
    subresource: String,
    reset: FieldSet,
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(Value::Object(meta)) = o.get_mut("metadata") {
        meta.remove("managedFields");
    }
    o
}

fn str_at<'v>(obj: &'v Value, ptr: &str) -> &'v str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

impl FieldManager {
    /// The manager of `group/version, Kind=kind` (group "" for core) writes through
    /// `subresource` ("" or "status"), ignoring `reset` fields (see [`crate::reset_fields`]).
    /// Kinds the served OpenAPI does not describe are tracked schemaless (deduced).
    pub fn new(group: &str, version: &str, kind: &str, subresource: &str, reset: FieldSet) -> FieldManager {
        let schema = Schema::global();
        let ty = schema.kind_type(group, version, kind).unwrap_or(TypeRef::Deduced);
        FieldManager {
            schema,
            ty,
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            subresource: subresource.into(),
            reset,
        }
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn gvk_string(group: &str, version: &str, kind: &str) -> String {
        format!("{group}/{version}, Kind={kind}")
    }

    /// Upstream's `namespace/name; group/version, Kind=kind` naming of an object in errors.
    fn object_name(&self, obj: &Value) -> String {
        format!(
            "{}/{}; {}",
            str_at(obj, "/metadata/namespace"),
            str_at(obj, "/metadata/name"),
            Self::gvk_string(&self.group, &self.version, &self.kind)
        )
    }

    fn updater(&self) -> Updater<'_> {
        Updater { schema: self.schema, ty: &self.ty, api_version: self.api_version(), ignored: &self.reset }
    }

    /// Server-side apply of `config` by `manager` onto `live` (`{}` when the object does not
    /// exist yet). Returns the new object with `metadata.managedFields` set; `now` (RFC 3339)
    /// stamps the applier's entry and any entry that changed.
    pub fn apply(&self, live: &Value, config: &Value, manager: &str, force: bool, now: &str) -> Result<Value, Error> {
        let (group, version) = match str_at(config, "/apiVersion").split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), str_at(config, "/apiVersion").to_string()),
        };
        let kind = str_at(config, "/kind");
        if (group.as_str(), version.as_str(), kind) != (self.group.as_str(), self.version.as_str(), self.kind.as_str()) {
            return Err(Error::InvalidObjectType(Self::gvk_string(&group, &version, kind)));
        }
        if config.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
            return Err(Error::ManagedFieldsInConfig);
        }
        let managed = ManagedFields::decode(live).map_err(Error::DecodeManagedFields)?;
        if let Err(errors) = self.schema.to_field_set(config, &self.ty, false) {
            return Err(Error::InvalidConfig { object: self.object_name(config), errors });
        }
        let live_clean = without_managed_fields(live);
        let mut result = self.apply_layers(&live_clean, config, managed.clone(), manager, force, now);
        if manager == KUBECTL_MANAGER {
            if let Err(Error::Conflicts(conflicts)) = &result {
                if let Some(allowed) = allowed_conflicts(self.schema, &self.ty, &self.api_version(), live) {
                    let remaining: Vec<Conflict> = conflicts.0.iter().filter(|c| !allowed.has(&c.path)).cloned().collect();
                    result = if remaining.is_empty() {
                        self.apply_layers(&live_clean, config, managed, manager, true, now)
                    } else {
                        Err(Error::Conflicts(Conflicts(remaining)))
                    };
                }
            }
        }
        let (mut obj, managed) = result?;
        if manager == KUBECTL_MANAGER && has_last_applied(&obj) {
            set_last_applied(&mut obj, build_last_applied(config));
        }
        managed.encode_into(&mut obj);
        Ok(obj)
    }

    fn apply_layers(&self, live: &Value, config: &Value, mut managed: ManagedFields, manager: &str, force: bool, now: &str) -> Result<(Value, ManagedFields), Error> {
        if managed.is_empty() {
            self.update_layers(&json!({}), live, &mut managed, BEFORE_FIRST_APPLY, now);
        }
        let manager = if manager.is_empty() { UNKNOWN_MANAGER } else { manager };
        let id = manager_identifier(manager, APPLY, "", &self.subresource);
        let obj = self.updater().apply(live, config, &mut managed, &id, force).map_err(Error::Conflicts)?;
        strip(&mut managed, &id);
        managed.times.insert(id, now.to_string());
        managed.cap_update_managers(MAX_UPDATE_MANAGERS);
        Ok((obj, managed))
    }

    fn update_layers(&self, live: &Value, new: &Value, managed: &mut ManagedFields, manager: &str, now: &str) {
        let manager = if manager.is_empty() { UNKNOWN_MANAGER } else { manager };
        let api_version = self.api_version();
        let id = manager_identifier(manager, UPDATE, &api_version, &self.subresource);
        self.updater().update_object(live, new, managed, CURRENT_OPERATION);
        strip(managed, CURRENT_OPERATION);
        if let Some(vs) = managed.fields.remove(CURRENT_OPERATION) {
            let set = match managed.fields.get(&id) {
                Some(previous) => vs.set.union(&previous.set),
                None => vs.set,
            };
            managed.fields.insert(id.clone(), VersionedSet { set, api_version: api_version.clone(), applied: false });
            managed.times.insert(id, now.to_string());
        }
        managed.cap_update_managers(MAX_UPDATE_MANAGERS);
    }

    /// Records a create (`live` None) or update (incl. patches other than apply) by `manager`:
    /// the fields that changed become `manager`'s. Managed fields come from `new` when it
    /// carries any (clients may edit them; not on subresources), else from `live`. An existing
    /// object without managedFields stays untracked until its first apply. Returns `new` with
    /// `metadata.managedFields` set.
    pub fn update(&self, live: Option<&Value>, new: &Value, manager: &str, now: &str) -> Result<Value, Error> {
        let mut new = new.clone();
        self.update_in_place(live, &mut new, manager, now)?;
        Ok(new)
    }

    /// [`update`](Self::update) on an owned object, which on error is left without
    /// managedFields (the API server's write path; no copy of the object is made).
    fn update_in_place(&self, live: Option<&Value>, new: &mut Value, manager: &str, now: &str) -> Result<(), Error> {
        let own = new.get_mut("metadata").and_then(Value::as_object_mut).and_then(|m| m.remove("managedFields"));
        let from_new = match own {
            Some(m) if self.subresource.is_empty() => {
                ManagedFields::decode(&json!({"metadata": {"managedFields": m}})).ok().filter(|m| !m.is_empty())
            }
            _ => None,
        };
        let mut managed = match from_new {
            Some(m) => m,
            None => live.and_then(|l| ManagedFields::decode(l).ok()).unwrap_or_default(),
        };
        let is_create = live.is_none_or(|l| str_at(l, "/metadata/uid").is_empty());
        if managed.is_empty() && !is_create {
            return Ok(());
        }
        let set = match self.schema.to_field_set(new, &self.ty, true) {
            Ok(set) => set,
            Err(errors) => return Err(Error::InvalidObject { object: self.object_name(new), errors }),
        };
        if is_create && managed.is_empty() {
            // A plain create: its manager owns every field the object sets, which is what
            // comparing with an empty object yields, taken from the walk that just checked the
            // object instead of a second comparison walk (most of a create's bookkeeping cost).
            self.record_create(set, &mut managed, manager, now);
        } else {
            let empty = json!({});
            let live = without_managed_fields(live.unwrap_or(&empty));
            self.update_layers(&live, new, &mut managed, manager, now);
        }
        managed.encode_into(new);
        Ok(())
    }

    fn record_create(&self, set: FieldSet, managed: &mut ManagedFields, manager: &str, now: &str) {
        let mut set = set;
        set.add_prefixes_as_members();
        set.remove(&self.reset, true);
        set.remove(strip_set(), false);
        if set.is_empty() {
            return;
        }
        let manager = if manager.is_empty() { UNKNOWN_MANAGER } else { manager };
        let api_version = self.api_version();
        let id = manager_identifier(manager, UPDATE, &api_version, &self.subresource);
        managed.fields.insert(id.clone(), VersionedSet { set, api_version, applied: false });
        managed.times.insert(id, now.to_string());
    }

    /// The create bookkeeping through the general comparison, for checking `record_create`.
    #[cfg(test)]
    pub(crate) fn update_by_comparison(&self, new: &Value, manager: &str, now: &str) -> Value {
        let mut managed = ManagedFields::default();
        let mut new = without_managed_fields(new);
        self.update_layers(&json!({}), &new, &mut managed, manager, now);
        managed.encode_into(&mut new);
        new
    }

    /// [`update`](Self::update), and on error `new` without managedFields, as upstream's
    /// `UpdateNoErrors` (which logs the error).
    pub fn update_no_errors(&self, live: Option<&Value>, mut new: Value, manager: &str, now: &str) -> Value {
        let _ = self.update_in_place(live, &mut new, manager, now);
        new
    }

    /// The fields `obj` sets under this kind's schema.
    pub fn fields_of(&self, obj: &Value) -> Result<FieldSet, ValidationErrors> {
        self.schema.to_field_set(obj, &self.ty, false)
    }
}

/// Upstream's `IgnoreManagedFieldsTimestampsTransformer`, for the update and patch paths after
/// the field manager ran: when `new` differs from `old` only in managedFields timestamps, the
/// old timestamps are kept so that a no-op write (e.g. re-applying the same configuration)
/// stays a no-op. Otherwise `new` is returned unchanged.
pub fn ignore_managed_fields_timestamps(old: &Value, new: Value) -> Value {
    fn entries(v: &Value) -> &[Value] {
        v.pointer("/metadata/managedFields").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }
    let (old_mf, new_mf) = (entries(old), entries(&new));
    let same_but_time = |a: &Value, b: &Value| equal_except(a, b, "time");
    // Compared in place: this runs on every update, and most change more than timestamps.
    if old_mf.len() != new_mf.len() || !old_mf.iter().zip(new_mf).all(|(a, b)| same_but_time(a, b)) || !equal_but_managed_fields(old, &new) {
        return new;
    }
    let mut new = new;
    if let (false, Some(Value::Object(meta))) = (old_mf.is_empty(), new.get_mut("metadata")) {
        meta.insert("managedFields".into(), Value::Array(old_mf.to_vec()));
    }
    new
}

/// Whether two objects are equal apart from `metadata.managedFields`.
fn equal_but_managed_fields(a: &Value, b: &Value) -> bool {
    equal_except(a, b, "metadata")
        && match (a.get("metadata"), b.get("metadata")) {
            (Some(x), Some(y)) => equal_except(x, y, "managedFields"),
            (x, y) => x == y,
        }
}

/// Whether two values are equal, ignoring member `key` when both are objects.
fn equal_except(a: &Value, b: &Value, key: &str) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => a.iter().filter(|(k, _)| *k != key).eq(b.iter().filter(|(k, _)| *k != key)),
        _ => a == b,
    }
}

/// Drops the untracked metadata from `manager`'s set (and the entry if nothing is left).
fn strip(managed: &mut ManagedFields, manager: &str) {
    if let Some(vs) = managed.fields.get_mut(manager) {
        vs.set.remove(strip_set(), false);
        if vs.set.is_empty() {
            managed.fields.remove(manager);
        }
    }
}
