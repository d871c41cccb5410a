//! The kinds registry: one entry per served kind, each pointing at everything the kind does
//! differently (its [`Behaviour`]). Routes, discovery, OpenAPI, tables, field selectors,
//! defaults, validation, strategies and storage keys are all derived from it. A kind lives in
//! one folder (`kinds/<group>/<kind>/`), whose `DEF` is its entry; adding a built-in kind is that
//! folder plus one line in [`BUILTIN`]. Entries can also be added and removed while the server
//! runs ([`add`], [`remove`]); requests read a cheap snapshot of the current table.

mod behaviour;
pub mod apps;
pub mod coordination;
pub mod core;
pub mod discovery;
pub mod events;
pub mod scheduling;
pub mod storage;

use std::sync::{Arc, LazyLock, PoisonError, RwLock};

pub use behaviour::{Admission, Behaviour, DeletePlan, Generic};

use crate::decode::Codec;
use crate::table::Printer;

/// A field a field selector may name, where its value lives in the stored object, and the value
/// used when the object does not set it (upstream's field-label functions return "" or "false").
#[derive(Debug)]
pub struct FieldLabel {
    pub label: &'static str,
    /// Dotted path into the stored JSON object.
    pub path: &'static str,
    pub default: &'static str,
}

pub const fn field(label: &'static str, path: &'static str) -> FieldLabel {
    FieldLabel { label, path, default: "" }
}

pub const fn field_or(label: &'static str, path: &'static str, default: &'static str) -> FieldLabel {
    FieldLabel { label, path, default }
}

/// A subresource such as `pods/status`.
#[derive(Debug)]
pub struct SubresourceDef {
    pub name: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
    /// The printer of the subresource's kind (the scale subresource's), if it has one.
    pub printer: Option<&'static Printer>,
}

/// One served resource of one group-version.
#[derive(Debug)]
pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub subresources: &'static [SubresourceDef],
    /// The etcd key segment. Two APIs serving the same objects (core and events.k8s.io events)
    /// share it, and both read and write the storage form of the first.
    pub storage_resource: &'static str,
    /// Field selector labels beyond `metadata.name` and `metadata.namespace`.
    pub field_labels: &'static [FieldLabel],
    /// Reads a body of this kind through its k8s-openapi type.
    pub codec: Codec,
    /// Everything the kind does differently from the generic rules. The API server uses the
    /// storage entry's behaviour for writes and this entry's for tables.
    pub behaviour: &'static dyn Behaviour,
}

impl ResourceDef {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn group_resource(&self) -> crate::error::GroupResource {
        crate::error::GroupResource::new(self.group, self.plural)
    }

    pub fn subresource(&'static self, name: &str) -> Option<&'static SubresourceDef> {
        self.subresources.iter().find(|s| s.name == name)
    }

    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s.name == "status")
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// Whether this API serves objects stored in another API's form (events.k8s.io events).
    pub fn is_converted_view(&self) -> bool {
        self.storage_def().kind != self.kind || self.storage_def().group != self.group
    }

    /// The entry whose object form is the one kept in storage.
    pub fn storage_def(&self) -> &'static ResourceDef {
        with_entries(|entries| entries.iter().copied().find(|d| d.storage_resource == self.storage_resource))
            .expect("every storage resource has an entry")
    }

    /// The value a field selector label has on a stored object, or None if the label is not
    /// supported by this resource.
    pub fn field_value(&self, obj: &serde_json::Value, label: &str) -> Option<String> {
        let (path, default) = match label {
            "metadata.name" => ("metadata.name", ""),
            "metadata.namespace" => ("metadata.namespace", ""),
            _ => {
                let f = self.field_labels.iter().find(|f| f.label == label)?;
                (f.path, f.default)
            }
        };
        let mut cur = obj;
        for part in path.split('.') {
            match cur.get(part) {
                Some(v) => cur = v,
                None => return Some(default.to_string()),
            }
        }
        Some(match cur {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => default.to_string(),
            other => other.to_string(),
        })
    }
}

pub const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
pub const NO_COLLECTION_DELETE: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
pub const STATUS_VERBS: &[&str] = &["get", "patch", "update"];


pub const fn status_of(group: &'static str, version: &'static str, kind: &'static str) -> SubresourceDef {
    SubresourceDef { name: "status", group, version, kind, verbs: STATUS_VERBS, printer: None }
}

/// The built-in kinds, in discovery order (which is also the order `kubectl get all` lists).
pub static BUILTIN: &[&ResourceDef] = &[
    &core::pod::DEF,
    &core::service::DEF,
    &core::namespace::DEF,
    &core::node::DEF,
    &core::event::DEF,
    &core::configmap::DEF,
    &core::secret::DEF,
    &core::serviceaccount::DEF,
    &core::endpoints::DEF,
    &core::persistentvolume::DEF,
    &core::persistentvolumeclaim::DEF,
    &core::podtemplate::DEF,
    &apps::deployment::DEF,
    &apps::replicaset::DEF,
    &storage::storageclass::DEF,
    &scheduling::priorityclass::DEF,
    &coordination::lease::DEF,
    &events::event::DEF,
    &discovery::endpointslice::DEF,
];

/// The served entries: the built-ins, then those added at run time. Writers replace the whole
/// list (entries change rarely); readers clone the `Arc` or look through it under the read lock.
static ENTRIES: LazyLock<RwLock<Arc<[&'static ResourceDef]>>> = LazyLock::new(|| RwLock::new(BUILTIN.into()));

fn with_entries<R>(f: impl FnOnce(&[&'static ResourceDef]) -> R) -> R {
    f(&ENTRIES.read().unwrap_or_else(PoisonError::into_inner))
}

/// Every served entry as of now, in discovery order. The snapshot stays valid while entries are
/// added or removed.
pub fn snapshot() -> Arc<[&'static ResourceDef]> {
    ENTRIES.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Serves a new entry (a kind known only at run time). Refused when its route is already served
/// or its storage resource belongs to another kind's entry.
pub fn add(def: &'static ResourceDef) -> Result<(), String> {
    let mut entries = ENTRIES.write().unwrap_or_else(PoisonError::into_inner);
    if entries.iter().any(|d| d.group == def.group && d.version == def.version && d.plural == def.plural) {
        return Err(format!("{}/{} {} is already served", def.group, def.version, def.plural));
    }
    let mut next: Vec<&'static ResourceDef> = entries.to_vec();
    next.push(def);
    *entries = next.into();
    Ok(())
}

/// Stops serving an entry added at run time, returning it. Built-in entries stay. The entry's
/// memory is not reclaimed: requests in flight may still hold it.
pub fn remove(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    let mut entries = ENTRIES.write().unwrap_or_else(PoisonError::into_inner);
    let found = entries.iter().copied().find(|d| d.group == group && d.version == version && d.plural == plural)?;
    if BUILTIN.iter().any(|b| std::ptr::eq(*b, found)) {
        return None;
    }
    *entries = entries.iter().copied().filter(|d| !std::ptr::eq(*d, found)).collect::<Vec<_>>().into();
    Some(found)
}

/// The served resource at `/api[s]/{group}/{version}/{plural}`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    with_entries(|entries| entries.iter().copied().find(|d| d.group == group && d.version == version && d.plural == plural))
}

/// The served resource of a kind in a group-version, for checking a body's `kind`.
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceDef> {
    with_entries(|entries| entries.iter().copied().find(|d| d.group == group && d.version == version && d.kind == kind))
}

/// Group names in discovery order, the core group ("") first.
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for d in snapshot().iter() {
        if !out.contains(&d.group) {
            out.push(d.group);
        }
    }
    out
}

/// Versions served for a group, preferred first.
pub fn versions(group: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for d in snapshot().iter().filter(|d| d.group == group) {
        if !out.contains(&d.version) {
            out.push(d.version);
        }
    }
    out
}

/// Resources of one group-version, in registry order.
pub fn resources_of(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceDef> {
    let of: Vec<&'static ResourceDef> = snapshot().iter().copied().filter(|d| d.group == group && d.version == version).collect();
    of.into_iter()
}

/// The first served entry of a kind in a group, any version (for callers that name a kind, such
/// as tests and benchmarks).
pub fn find_group_kind(group: &str, kind: &str) -> Option<&'static ResourceDef> {
    with_entries(|entries| entries.iter().copied().find(|d| d.group == group && d.kind == kind))
}

/// The behaviour of a kind in a group; kinds not served follow the generic rules.
pub fn behaviour(group: &str, kind: &str) -> &'static dyn Behaviour {
    find_group_kind(group, kind).map_or(&Generic, |d| d.behaviour)
}

/// The printer of a kind in a group: a served kind's, or a subresource kind's (autoscaling Scale).
pub fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    if let Some(def) = find_group_kind(group, kind) {
        return def.behaviour.printer();
    }
    with_entries(|entries| {
        entries.iter().flat_map(|d| d.subresources.iter()).find(|s| s.group == group && s.kind == kind).and_then(|s| s.printer)
    })
}

/// Every printer of a served entry or subresource, with the kind it prints.
pub fn printers() -> Vec<(String, &'static Printer)> {
    let mut out: Vec<(String, &'static Printer)> = Vec::new();
    for d in snapshot().iter() {
        if let Some(p) = d.behaviour.printer() {
            out.push((format!("{}/{}", d.group, d.kind), p));
        }
        for s in d.subresources {
            if let Some(p) = s.printer {
                out.push((format!("{}/{} {}", d.group, d.kind, s.name), p));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_storage_resource_has_one_owner_and_unique_routes() {
        // The built-ins: another test adds and removes an entry meanwhile.
        for d in BUILTIN {
            assert_eq!(d.storage_def().storage_resource, d.storage_resource);
            let same_route = BUILTIN.iter().filter(|o| o.group == d.group && o.version == d.version && o.plural == d.plural).count();
            assert_eq!(same_route, 1, "{} served twice", d.plural);
        }
        assert!(find("events.k8s.io", "v1", "events").unwrap().is_converted_view());
        assert!(!find("", "v1", "events").unwrap().is_converted_view());
    }

    #[test]
    fn field_values_use_defaults_and_reject_unknown_labels() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "a", "namespace": "ns"}, "spec": {"nodeName": "n1"}});
        assert_eq!(pods.field_value(&pod, "spec.nodeName").as_deref(), Some("n1"));
        assert_eq!(pods.field_value(&pod, "status.phase").as_deref(), Some(""));
        assert_eq!(pods.field_value(&pod, "spec.hostNetwork").as_deref(), Some("false"));
        assert_eq!(pods.field_value(&pod, "metadata.namespace").as_deref(), Some("ns"));
        assert_eq!(pods.field_value(&pod, "spec.foo"), None);
        let rs = find("apps", "v1", "replicasets").unwrap();
        assert_eq!(rs.field_value(&json!({"status": {"replicas": 3}}), "status.replicas").as_deref(), Some("3"));
    }

    #[test]
    fn entries_come_and_go_at_run_time() {
        static WIDGETS: ResourceDef = ResourceDef {
            group: "example.com", version: "v1", kind: "Widget", plural: "widgets", singular: "widget", namespaced: true,
            short_names: &[], categories: &[], verbs: ALL_VERBS, subresources: &[], storage_resource: "widgets.example.com",
            field_labels: &[], codec: crate::decode::typed::<k8s_openapi::api::core::v1::ConfigMap>, behaviour: &Generic,
        };
        let before = snapshot();
        add(&WIDGETS).unwrap();
        assert!(add(&WIDGETS).is_err(), "a route is served once");
        assert!(std::ptr::eq(find("example.com", "v1", "widgets").unwrap(), &WIDGETS));
        assert!(groups().contains(&"example.com"));
        assert_eq!(WIDGETS.storage_def().kind, "Widget");
        assert!(printer("example.com", "Widget").is_none(), "the default table");
        // A snapshot taken before keeps its entries.
        assert!(!before.iter().any(|d| d.plural == "widgets"));
        assert!(std::ptr::eq(remove("example.com", "v1", "widgets").unwrap(), &WIDGETS));
        assert!(find("example.com", "v1", "widgets").is_none());
        assert!(remove("", "v1", "pods").is_none(), "built-in entries stay");
        assert!(find("", "v1", "pods").is_some());
    }

    #[test]
    fn groups_start_with_core() {
        assert_eq!(groups()[0], "");
        assert!(groups().contains(&"apps"));
        assert_eq!(versions("apps"), vec!["v1"]);
    }
}
