//! Which k8s-openapi type describes which group-version-kind. The registry names kinds; this
//! table turns a kind into its schemars schema. It lists more kinds than the registry serves so a
//! new registry entry usually needs nothing here; a kind missing from it still gets a document,
//! with a permissive placeholder schema (see `placeholder`).

use k8s_openapi::api::{
    apps::v1 as apps, authentication::v1 as authentication, autoscaling::v1 as autoscaling, batch::v1 as batch,
    coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery, events::v1 as events,
    networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling,
    storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::{JsonSchema, Schema, SchemaGenerator};

pub(crate) type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn sub<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// (group, version, kind, schema of the kind).
static KINDS: &[(&str, &str, &str, SchemaFn)] = &[
    ("", "v1", "Pod", sub::<core::Pod>),
    ("", "v1", "Service", sub::<core::Service>),
    ("", "v1", "Namespace", sub::<core::Namespace>),
    ("", "v1", "Node", sub::<core::Node>),
    ("", "v1", "Event", sub::<core::Event>),
    ("", "v1", "ConfigMap", sub::<core::ConfigMap>),
    ("", "v1", "Secret", sub::<core::Secret>),
    ("", "v1", "ServiceAccount", sub::<core::ServiceAccount>),
    ("", "v1", "Endpoints", sub::<core::Endpoints>),
    ("", "v1", "PersistentVolume", sub::<core::PersistentVolume>),
    ("", "v1", "PersistentVolumeClaim", sub::<core::PersistentVolumeClaim>),
    ("", "v1", "PodTemplate", sub::<core::PodTemplate>),
    ("", "v1", "ReplicationController", sub::<core::ReplicationController>),
    ("", "v1", "LimitRange", sub::<core::LimitRange>),
    ("", "v1", "ResourceQuota", sub::<core::ResourceQuota>),
    ("", "v1", "Binding", sub::<core::Binding>),
    ("", "v1", "ComponentStatus", sub::<core::ComponentStatus>),
    ("apps", "v1", "Deployment", sub::<apps::Deployment>),
    ("apps", "v1", "ReplicaSet", sub::<apps::ReplicaSet>),
    ("apps", "v1", "StatefulSet", sub::<apps::StatefulSet>),
    ("apps", "v1", "DaemonSet", sub::<apps::DaemonSet>),
    ("apps", "v1", "ControllerRevision", sub::<apps::ControllerRevision>),
    ("autoscaling", "v1", "Scale", sub::<autoscaling::Scale>),
    ("autoscaling", "v1", "HorizontalPodAutoscaler", sub::<autoscaling::HorizontalPodAutoscaler>),
    ("batch", "v1", "Job", sub::<batch::Job>),
    ("batch", "v1", "CronJob", sub::<batch::CronJob>),
    ("storage.k8s.io", "v1", "StorageClass", sub::<storage::StorageClass>),
    ("storage.k8s.io", "v1", "CSIDriver", sub::<storage::CSIDriver>),
    ("storage.k8s.io", "v1", "CSINode", sub::<storage::CSINode>),
    ("storage.k8s.io", "v1", "VolumeAttachment", sub::<storage::VolumeAttachment>),
    ("coordination.k8s.io", "v1", "Lease", sub::<coordination::Lease>),
    ("events.k8s.io", "v1", "Event", sub::<events::Event>),
    ("networking.k8s.io", "v1", "Ingress", sub::<networking::Ingress>),
    ("networking.k8s.io", "v1", "IngressClass", sub::<networking::IngressClass>),
    ("networking.k8s.io", "v1", "NetworkPolicy", sub::<networking::NetworkPolicy>),
    ("rbac.authorization.k8s.io", "v1", "Role", sub::<rbac::Role>),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", sub::<rbac::RoleBinding>),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", sub::<rbac::ClusterRole>),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", sub::<rbac::ClusterRoleBinding>),
    ("discovery.k8s.io", "v1", "EndpointSlice", sub::<discovery::EndpointSlice>),
    ("policy", "v1", "PodDisruptionBudget", sub::<policy::PodDisruptionBudget>),
    ("policy", "v1", "Eviction", sub::<policy::Eviction>),
    ("authentication.k8s.io", "v1", "TokenRequest", sub::<authentication::TokenRequest>),
    ("authentication.k8s.io", "v1", "TokenReview", sub::<authentication::TokenReview>),
    ("authentication.k8s.io", "v1", "SelfSubjectReview", sub::<authentication::SelfSubjectReview>),
    ("scheduling.k8s.io", "v1", "PriorityClass", sub::<scheduling::PriorityClass>),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", sub::<apiextensions::CustomResourceDefinition>),
];

/// The schema function for a kind, if this table knows it.
pub(crate) fn schema_fn(group: &str, version: &str, kind: &str) -> Option<SchemaFn> {
    KINDS.iter().find(|(g, v, k, _)| *g == group && *v == version && *k == kind).map(|e| e.3)
}

pub(crate) fn delete_options(g: &mut SchemaGenerator) -> Schema {
    sub::<meta::DeleteOptions>(g)
}
pub(crate) fn status(g: &mut SchemaGenerator) -> Schema {
    sub::<meta::Status>(g)
}
pub(crate) fn patch(g: &mut SchemaGenerator) -> Schema {
    sub::<meta::Patch>(g)
}
pub(crate) fn watch_event(g: &mut SchemaGenerator) -> Schema {
    sub::<meta::WatchEvent<()>>(g)
}
pub(crate) fn list_meta(g: &mut SchemaGenerator) -> Schema {
    sub::<meta::ListMeta>(g)
}
pub(crate) fn object_meta(g: &mut SchemaGenerator) -> Schema {
    sub::<meta::ObjectMeta>(g)
}
pub(crate) fn api_resource_list(g: &mut SchemaGenerator) -> Schema {
    sub::<meta::APIResourceList>(g)
}

/// The definition name of a kind that has no k8s-openapi type here: upstream's naming for
/// built-in groups (`io.k8s.api.<first label of group>.<version>.<Kind>`).
pub(crate) fn placeholder_name(group: &str, version: &str, kind: &str) -> String {
    let g = if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) };
    format!("io.k8s.api.{g}.{version}.{kind}")
}

/// A permissive schema for a kind without a k8s-openapi type: any fields are accepted.
pub(crate) fn placeholder(kind: &str, object_meta_ref: &str) -> serde_json::Value {
    serde_json::json!({
        "description": format!("{kind} (no detailed schema is published by this server)."),
        "type": "object",
        "properties": {
            "apiVersion": {"description": crate::spec::API_VERSION_DOC, "type": "string"},
            "kind": {"description": crate::spec::KIND_DOC, "type": "string"},
            "metadata": {"description": crate::spec::METADATA_DOC, "allOf": [{"$ref": object_meta_ref}]},
        },
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
