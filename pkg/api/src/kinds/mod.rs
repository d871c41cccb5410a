//! The kinds registry: the one table of served resources. Routes, discovery, field selectors and storage keys are all
//! derived from it, so adding a kind is one entry here plus its strategy in the apiserver.

use k8s_openapi::api::{
    apps::v1 as apps, coordination::v1 as coordination, core::v1 as core, events::v1 as events, scheduling::v1 as scheduling,
    storage::v1 as storage,
};

use crate::decode::{typed, Codec};

/// A field a field selector may name, where its value lives in the stored object, and the value
/// used when the object does not set it (upstream's field-label functions return "" or "false").
#[derive(Debug)]
pub struct FieldLabel {
    pub label: &'static str,
    /// Dotted path into the stored JSON object.
    pub path: &'static str,
    pub default: &'static str,
}

const fn field(label: &'static str, path: &'static str) -> FieldLabel {
    FieldLabel { label, path, default: "" }
}

const fn field_or(label: &'static str, path: &'static str, default: &'static str) -> FieldLabel {
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
        RESOURCES.iter().find(|d| d.storage_resource == self.storage_resource).expect("every storage resource has an entry")
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

const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const NO_COLLECTION_DELETE: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

const SCALE: SubresourceDef = SubresourceDef { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: STATUS_VERBS };

const fn status_of(group: &'static str, version: &'static str, kind: &'static str) -> SubresourceDef {
    SubresourceDef { name: "status", group, version, kind, verbs: STATUS_VERBS }
}

const POD_FIELDS: &[FieldLabel] = &[
    field("spec.nodeName", "spec.nodeName"),
    field("spec.restartPolicy", "spec.restartPolicy"),
    field("spec.schedulerName", "spec.schedulerName"),
    field("spec.serviceAccountName", "spec.serviceAccountName"),
    field_or("spec.hostNetwork", "spec.hostNetwork", "false"),
    field("status.phase", "status.phase"),
    field("status.podIP", "status.podIP"),
    field("status.nominatedNodeName", "status.nominatedNodeName"),
];

const EVENT_FIELDS: &[FieldLabel] = &[
    field("involvedObject.kind", "involvedObject.kind"),
    field("involvedObject.namespace", "involvedObject.namespace"),
    field("involvedObject.name", "involvedObject.name"),
    field("involvedObject.uid", "involvedObject.uid"),
    field("involvedObject.apiVersion", "involvedObject.apiVersion"),
    field("involvedObject.resourceVersion", "involvedObject.resourceVersion"),
    field("involvedObject.fieldPath", "involvedObject.fieldPath"),
    field("reason", "reason"),
    field("reportingComponent", "reportingComponent"),
    field("source", "source.component"),
    field("type", "type"),
];

/// events.k8s.io names the same stored fields after its own schema.
const EVENTS_V1_FIELDS: &[FieldLabel] = &[
    field("regarding.kind", "involvedObject.kind"),
    field("regarding.namespace", "involvedObject.namespace"),
    field("regarding.name", "involvedObject.name"),
    field("regarding.uid", "involvedObject.uid"),
    field("regarding.apiVersion", "involvedObject.apiVersion"),
    field("regarding.resourceVersion", "involvedObject.resourceVersion"),
    field("regarding.fieldPath", "involvedObject.fieldPath"),
    field("reason", "reason"),
    field("reportingController", "reportingComponent"),
    field("type", "type"),
    field("deprecatedSource.component", "source.component"),
];

/// Every served resource, in discovery order (which is also the order `kubectl get all` lists).
pub static RESOURCES: &[ResourceDef] = &[
    ResourceDef {
        group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod", namespaced: true,
        short_names: &["po"], categories: &["all"], verbs: ALL_VERBS,
        subresources: &[
            status_of("", "v1", "Pod"),
            SubresourceDef { name: "binding", group: "", version: "v1", kind: "Binding", verbs: &["create"] },
        ],
        storage_resource: "pods", field_labels: POD_FIELDS,
        codec: typed::<core::Pod>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "Service", plural: "services", singular: "service", namespaced: true,
        short_names: &["svc"], categories: &["all"], verbs: ALL_VERBS,
        subresources: &[status_of("", "v1", "Service")],
        storage_resource: "services",
        field_labels: &[field("spec.clusterIP", "spec.clusterIP"), field("spec.type", "spec.type")],
        codec: typed::<core::Service>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false,
        short_names: &["ns"], categories: &[], verbs: NO_COLLECTION_DELETE,
        subresources: &[
            status_of("", "v1", "Namespace"),
            SubresourceDef { name: "finalize", group: "", version: "v1", kind: "Namespace", verbs: &["update"] },
        ],
        storage_resource: "namespaces", field_labels: &[field("status.phase", "status.phase")],
        codec: typed::<core::Namespace>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "Node", plural: "nodes", singular: "node", namespaced: false,
        short_names: &["no"], categories: &[], verbs: ALL_VERBS,
        subresources: &[status_of("", "v1", "Node")],
        storage_resource: "nodes", field_labels: &[field_or("spec.unschedulable", "spec.unschedulable", "false")],
        codec: typed::<core::Node>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true,
        short_names: &["ev"], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "events", field_labels: EVENT_FIELDS,
        codec: typed::<core::Event>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", singular: "configmap", namespaced: true,
        short_names: &["cm"], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "configmaps", field_labels: &[],
        codec: typed::<core::ConfigMap>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "Secret", plural: "secrets", singular: "secret", namespaced: true,
        short_names: &[], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "secrets", field_labels: &[field("type", "type")],
        codec: typed::<core::Secret>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", singular: "serviceaccount",
        namespaced: true, short_names: &["sa"], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "serviceaccounts", field_labels: &[],
        codec: typed::<core::ServiceAccount>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "Endpoints", plural: "endpoints", singular: "endpoints", namespaced: true,
        short_names: &["ep"], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "endpoints", field_labels: &[],
        codec: typed::<core::Endpoints>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "PersistentVolume", plural: "persistentvolumes", singular: "persistentvolume",
        namespaced: false, short_names: &["pv"], categories: &[], verbs: ALL_VERBS,
        subresources: &[status_of("", "v1", "PersistentVolume")],
        storage_resource: "persistentvolumes", field_labels: &[],
        codec: typed::<core::PersistentVolume>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim", namespaced: true, short_names: &["pvc"], categories: &[], verbs: ALL_VERBS,
        subresources: &[status_of("", "v1", "PersistentVolumeClaim")],
        storage_resource: "persistentvolumeclaims", field_labels: &[],
        codec: typed::<core::PersistentVolumeClaim>,
    },
    ResourceDef {
        group: "", version: "v1", kind: "PodTemplate", plural: "podtemplates", singular: "podtemplate", namespaced: true,
        short_names: &[], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "podtemplates", field_labels: &[],
        codec: typed::<core::PodTemplate>,
    },
    ResourceDef {
        group: "apps", version: "v1", kind: "Deployment", plural: "deployments", singular: "deployment", namespaced: true,
        short_names: &["deploy"], categories: &["all"], verbs: ALL_VERBS,
        subresources: &[status_of("apps", "v1", "Deployment"), SCALE],
        storage_resource: "deployments", field_labels: &[],
        codec: typed::<apps::Deployment>,
    },
    ResourceDef {
        group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", singular: "replicaset", namespaced: true,
        short_names: &["rs"], categories: &["all"], verbs: ALL_VERBS,
        subresources: &[status_of("apps", "v1", "ReplicaSet"), SCALE],
        storage_resource: "replicasets", field_labels: &[field_or("status.replicas", "status.replicas", "0")],
        codec: typed::<apps::ReplicaSet>,
    },
    ResourceDef {
        group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", singular: "storageclass",
        namespaced: false, short_names: &["sc"], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "storageclasses", field_labels: &[],
        codec: typed::<storage::StorageClass>,
    },
    ResourceDef {
        group: "scheduling.k8s.io", version: "v1", kind: "PriorityClass", plural: "priorityclasses", singular: "priorityclass",
        namespaced: false, short_names: &["pc"], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "priorityclasses", field_labels: &[],
        codec: typed::<scheduling::PriorityClass>,
    },
    ResourceDef {
        group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", singular: "lease", namespaced: true,
        short_names: &[], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "leases", field_labels: &[],
        codec: typed::<coordination::Lease>,
    },
    ResourceDef {
        group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true,
        short_names: &["ev"], categories: &[], verbs: ALL_VERBS, subresources: &[],
        storage_resource: "events", field_labels: EVENTS_V1_FIELDS,
        codec: typed::<events::Event>,
    },
];

/// The served resource at `/api[s]/{group}/{version}/{plural}`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES.iter().find(|d| d.group == group && d.version == version && d.plural == plural)
}

/// The served resource of a kind in a group-version, for checking a body's `kind`.
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceDef> {
    RESOURCES.iter().find(|d| d.group == group && d.version == version && d.kind == kind)
}

/// Group names in discovery order, the core group ("") first.
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for d in RESOURCES {
        if !out.contains(&d.group) {
            out.push(d.group);
        }
    }
    out
}

/// Versions served for a group, preferred first.
pub fn versions(group: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for d in RESOURCES.iter().filter(|d| d.group == group) {
        if !out.contains(&d.version) {
            out.push(d.version);
        }
    }
    out
}

/// Resources of one group-version, in registry order.
pub fn resources_of<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static ResourceDef> + 'a {
    RESOURCES.iter().filter(move |d| d.group == group && d.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_storage_resource_has_one_owner_and_unique_routes() {
        for d in RESOURCES {
            assert_eq!(d.storage_def().storage_resource, d.storage_resource);
            let same_route = RESOURCES.iter().filter(|o| o.group == d.group && o.version == d.version && o.plural == d.plural).count();
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
    fn groups_start_with_core() {
        assert_eq!(groups()[0], "");
        assert!(groups().contains(&"apps"));
        assert_eq!(versions("apps"), vec!["v1"]);
    }
}
