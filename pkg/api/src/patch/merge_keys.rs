//! Which fields of the built-in kinds a strategic merge patch treats specially (upstream's `patchStrategy`/`patchMergeKey` struct tags, Kubernetes 1.33).

/// How a strategic merge patch treats one field. The default (all off) means: maps merge
/// key by key, lists are replaced wholesale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldStrategy {
    /// For a merging list of objects: the field identifying an element (`name` for containers).
    /// `None` on a merging list means a list of primitives merged as a set (`finalizers`).
    pub merge_key: Option<&'static str>,
    /// `patchStrategy: merge`: the list is merged element by element instead of replaced.
    pub merge: bool,
    /// `patchStrategy: retainKeys`: the field is a union; clients send `$retainKeys` to clear
    /// the members they switched away from. The server honours `$retainKeys` wherever it
    /// appears, so this flag only documents the field.
    pub retain_keys: bool,
    /// `patchStrategy: replace` on an object field: the patch value replaces the live object
    /// instead of merging into it (e.g. a PodDisruptionBudget's `spec.selector`).
    pub replace: bool,
}

impl FieldStrategy {
    const fn merge_by(key: &'static str) -> Self {
        FieldStrategy { merge_key: Some(key), merge: true, retain_keys: false, replace: false }
    }
    const fn merge_by_retaining(key: &'static str) -> Self {
        FieldStrategy { merge_key: Some(key), merge: true, retain_keys: true, replace: false }
    }
    const fn merge_set() -> Self {
        FieldStrategy { merge_key: None, merge: true, retain_keys: false, replace: false }
    }
    const fn retaining() -> Self {
        FieldStrategy { merge_key: None, merge: false, retain_keys: true, replace: false }
    }
    const fn replacing() -> Self {
        FieldStrategy { merge_key: None, merge: false, retain_keys: false, replace: true }
    }
}

/// One row of a type's table. Paths are object keys joined by `.`; list elements add no segment.
enum Entry {
    /// A field with a non-default strategy.
    Field(&'static str, FieldStrategy),
    /// Another type's table mounted at a path, so shared types (ObjectMeta, PodSpec) are
    /// described once.
    Nested(&'static str, &'static [Entry]),
}

use Entry::{Field, Nested};

const OBJECT_META: &[Entry] = &[
    Field("finalizers", FieldStrategy::merge_set()),
    Field("ownerReferences", FieldStrategy::merge_by("uid")),
];

/// Container and EphemeralContainer share these tags.
const CONTAINER: &[Entry] = &[
    Field("ports", FieldStrategy::merge_by("containerPort")),
    Field("env", FieldStrategy::merge_by("name")),
    Field("volumeMounts", FieldStrategy::merge_by("mountPath")),
    Field("volumeDevices", FieldStrategy::merge_by("devicePath")),
];

const POD_SPEC: &[Entry] = &[
    // retainKeys: a volume's source is a union (emptyDir / configMap / ...).
    Field("volumes", FieldStrategy::merge_by_retaining("name")),
    Field("initContainers", FieldStrategy::merge_by("name")),
    Nested("initContainers", CONTAINER),
    Field("containers", FieldStrategy::merge_by("name")),
    Nested("containers", CONTAINER),
    Field("ephemeralContainers", FieldStrategy::merge_by("name")),
    Nested("ephemeralContainers", CONTAINER),
    Field("imagePullSecrets", FieldStrategy::merge_by("name")),
    Field("hostAliases", FieldStrategy::merge_by("ip")),
    Field("topologySpreadConstraints", FieldStrategy::merge_by("topologyKey")),
    Field("schedulingGates", FieldStrategy::merge_by("name")),
    Field("resourceClaims", FieldStrategy::merge_by_retaining("name")),
    // tolerations, readinessGates, affinity's term lists, args/command/envFrom: no tag, replaced.
];

const CONTAINER_STATUS: &[Entry] = &[
    Field("volumeMounts", FieldStrategy::merge_by("mountPath")),
    Field("allocatedResourcesStatus", FieldStrategy::merge_by("name")),
];

const POD_STATUS: &[Entry] = &[
    Field("conditions", FieldStrategy::merge_by("type")),
    Field("hostIPs", FieldStrategy::merge_by("ip")),
    Field("podIPs", FieldStrategy::merge_by("ip")),
    Field("resourceClaimStatuses", FieldStrategy::merge_by_retaining("name")),
    // The status lists themselves have no tag (replaced); their elements' lists do.
    Nested("containerStatuses", CONTAINER_STATUS),
    Nested("initContainerStatuses", CONTAINER_STATUS),
    Nested("ephemeralContainerStatuses", CONTAINER_STATUS),
];

const POD_TEMPLATE_SPEC: &[Entry] = &[Nested("metadata", OBJECT_META), Nested("spec", POD_SPEC)];

/// `status.conditions` merged by `type`, the most common status tag.
const CONDITIONS_STATUS: &[Entry] = &[Field("conditions", FieldStrategy::merge_by("type"))];

const POD: &[Entry] = &[Nested("metadata", OBJECT_META), Nested("spec", POD_SPEC), Nested("status", POD_STATUS)];

const POD_TEMPLATE: &[Entry] = &[Nested("metadata", OBJECT_META), Nested("template", POD_TEMPLATE_SPEC)];

/// ReplicaSet, StatefulSet, DaemonSet, ReplicationController, Job: a pod template under
/// `spec.template` and conditions merged by type.
const WORKLOAD: &[Entry] = &[
    Nested("metadata", OBJECT_META),
    Nested("spec.template", POD_TEMPLATE_SPEC),
    Nested("status", CONDITIONS_STATUS),
];

const DEPLOYMENT: &[Entry] = &[
    Nested("metadata", OBJECT_META),
    // retainKeys: switching type to Recreate must clear rollingUpdate.
    Field("spec.strategy", FieldStrategy::retaining()),
    Nested("spec.template", POD_TEMPLATE_SPEC),
    Nested("status", CONDITIONS_STATUS),
];

const CRON_JOB: &[Entry] = &[
    Nested("metadata", OBJECT_META),
    Nested("spec.jobTemplate.metadata", OBJECT_META),
    Nested("spec.jobTemplate.spec.template", POD_TEMPLATE_SPEC),
];

const SERVICE: &[Entry] = &[
    Nested("metadata", OBJECT_META),
    // Merged on `port` alone, although the list-map key for server-side apply is
    // (port, protocol): strategic merge patch only reads the struct tag.
    Field("spec.ports", FieldStrategy::merge_by("port")),
    Nested("status", CONDITIONS_STATUS),
];

const NODE: &[Entry] = &[
    Nested("metadata", OBJECT_META),
    Field("spec.podCIDRs", FieldStrategy::merge_set()),
    // spec.taints has no tag: replaced.
    Field("status.conditions", FieldStrategy::merge_by("type")),
    Field("status.addresses", FieldStrategy::merge_by("type")),
];

const SERVICE_ACCOUNT: &[Entry] = &[
    Nested("metadata", OBJECT_META),
    // Only `secrets` is tagged; `imagePullSecrets` is replaced.
    Field("secrets", FieldStrategy::merge_by("name")),
];

/// Namespace (spec.finalizers is untagged: replaced), PersistentVolumeClaim, and the other
/// kinds whose only tag below metadata is `status.conditions`.
const WITH_STATUS_CONDITIONS: &[Entry] = &[Nested("metadata", OBJECT_META), Nested("status", CONDITIONS_STATUS)];

/// ComponentStatus keeps its conditions at the top level.
const COMPONENT_STATUS: &[Entry] = &[Nested("metadata", OBJECT_META), Field("conditions", FieldStrategy::merge_by("type"))];

const POD_DISRUPTION_BUDGET: &[Entry] = &[
    Nested("metadata", OBJECT_META),
    Field("spec.selector", FieldStrategy::replacing()),
    Nested("status", CONDITIONS_STATUS),
];

const CSI_NODE: &[Entry] = &[Nested("metadata", OBJECT_META), Field("spec.drivers", FieldStrategy::merge_by("name"))];

/// Kinds with nothing tagged beyond ObjectMeta (Endpoints' subsets, PersistentVolume's spec,
/// Event, ConfigMap, Secret, StorageClass, Lease, ...), and unknown kinds.
const METADATA_ONLY: &[Entry] = &[Nested("metadata", OBJECT_META)];

/// (group, kind) -> table. Kinds not listed use `METADATA_ONLY`.
const KINDS: &[(&str, &str, &[Entry])] = &[
    ("", "Pod", POD),
    ("", "PodTemplate", POD_TEMPLATE),
    ("", "ReplicationController", WORKLOAD),
    ("", "Service", SERVICE),
    ("", "Node", NODE),
    ("", "Namespace", WITH_STATUS_CONDITIONS),
    ("", "PersistentVolumeClaim", WITH_STATUS_CONDITIONS),
    ("", "ServiceAccount", SERVICE_ACCOUNT),
    ("", "ComponentStatus", COMPONENT_STATUS),
    ("apps", "Deployment", DEPLOYMENT),
    ("apps", "ReplicaSet", WORKLOAD),
    ("apps", "StatefulSet", WORKLOAD),
    ("apps", "DaemonSet", WORKLOAD),
    ("batch", "Job", WORKLOAD),
    ("batch", "CronJob", CRON_JOB),
    ("policy", "PodDisruptionBudget", POD_DISRUPTION_BUDGET),
    ("autoscaling", "HorizontalPodAutoscaler", WITH_STATUS_CONDITIONS),
    ("networking.k8s.io", "ServiceCIDR", WITH_STATUS_CONDITIONS),
    ("storage.k8s.io", "CSINode", CSI_NODE),
];

/// The strategy of the field at `path` (object keys; list elements are skipped, so a
/// container's env is `["spec","containers","env"]`), or `None` when the field has the
/// default treatment.
pub fn strategy_for(group: &str, kind: &str, path: &[&str]) -> Option<FieldStrategy> {
    strategy_for_path(group, kind, path)
}

/// `strategy_for` over owned or borrowed segments, for callers that build paths of `String`s.
pub fn strategy_for_path<S: AsRef<str>>(group: &str, kind: &str, path: &[S]) -> Option<FieldStrategy> {
    let table = KINDS
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map_or(METADATA_ONLY, |(_, _, table)| *table);
    lookup(table, path)
}

fn lookup<S: AsRef<str>>(table: &[Entry], path: &[S]) -> Option<FieldStrategy> {
    table.iter().find_map(|entry| match entry {
        Field(at, strategy) => match strip_segments(at, path) {
            Some([]) => Some(*strategy),
            _ => None,
        },
        Nested(at, inner) => strip_segments(at, path).and_then(|rest| lookup(inner, rest)),
    })
}

/// The rest of `path` after the dotted `prefix`, compared segment by segment (label keys may
/// contain dots, so joining the path would be ambiguous).
fn strip_segments<'p, S: AsRef<str>>(prefix: &str, path: &'p [S]) -> Option<&'p [S]> {
    let mut rest = path;
    for segment in prefix.split('.') {
        let (first, tail) = rest.split_first()?;
        if first.as_ref() != segment {
            return None;
        }
        rest = tail;
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str) -> Vec<&str> {
        path.split('.').collect()
    }

    #[test]
    fn strategies_of_built_in_fields() {
        let merge = FieldStrategy::merge_by;
        let cases: &[(&str, &str, &str, Option<FieldStrategy>)] = &[
            ("", "Pod", "spec.containers", Some(merge("name"))),
            ("", "Pod", "spec.initContainers", Some(merge("name"))),
            ("", "Pod", "spec.ephemeralContainers", Some(merge("name"))),
            ("", "Pod", "spec.containers.env", Some(merge("name"))),
            ("", "Pod", "spec.containers.ports", Some(merge("containerPort"))),
            ("", "Pod", "spec.containers.volumeMounts", Some(merge("mountPath"))),
            ("", "Pod", "spec.initContainers.volumeDevices", Some(merge("devicePath"))),
            ("", "Pod", "spec.ephemeralContainers.env", Some(merge("name"))),
            ("", "Pod", "spec.volumes", Some(FieldStrategy::merge_by_retaining("name"))),
            ("", "Pod", "spec.resourceClaims", Some(FieldStrategy::merge_by_retaining("name"))),
            ("", "Pod", "spec.imagePullSecrets", Some(merge("name"))),
            ("", "Pod", "spec.hostAliases", Some(merge("ip"))),
            ("", "Pod", "spec.topologySpreadConstraints", Some(merge("topologyKey"))),
            ("", "Pod", "spec.schedulingGates", Some(merge("name"))),
            ("", "Pod", "spec.tolerations", None),
            ("", "Pod", "spec.readinessGates", None),
            ("", "Pod", "spec.containers.args", None),
            ("", "Pod", "spec.containers.command", None),
            ("", "Pod", "spec.containers.envFrom", None),
            ("", "Pod", "spec.containers.name", None),
            ("", "Pod", "spec.env", None),
            ("", "Pod", "status.conditions", Some(merge("type"))),
            ("", "Pod", "status.podIPs", Some(merge("ip"))),
            ("", "Pod", "status.hostIPs", Some(merge("ip"))),
            ("", "Pod", "status.resourceClaimStatuses", Some(FieldStrategy::merge_by_retaining("name"))),
            ("", "Pod", "status.containerStatuses", None),
            ("", "Pod", "status.containerStatuses.volumeMounts", Some(merge("mountPath"))),
            ("", "Pod", "status.initContainerStatuses.allocatedResourcesStatus", Some(merge("name"))),
            ("", "Pod", "metadata.finalizers", Some(FieldStrategy::merge_set())),
            ("", "Pod", "metadata.ownerReferences", Some(merge("uid"))),
            ("", "Pod", "metadata.labels", None),
            ("", "PodTemplate", "template.spec.containers", Some(merge("name"))),
            ("", "PodTemplate", "template.spec.containers.env", Some(merge("name"))),
            ("", "PodTemplate", "template.metadata.finalizers", Some(FieldStrategy::merge_set())),
            ("", "PodTemplate", "spec.template.spec.containers", None),
            ("apps", "Deployment", "spec.template.spec.containers", Some(merge("name"))),
            ("apps", "Deployment", "spec.template.spec.containers.env", Some(merge("name"))),
            ("apps", "Deployment", "spec.template.spec.volumes", Some(FieldStrategy::merge_by_retaining("name"))),
            ("apps", "Deployment", "spec.template.spec.tolerations", None),
            ("apps", "Deployment", "spec.strategy", Some(FieldStrategy::retaining())),
            ("apps", "Deployment", "spec.strategy.rollingUpdate", None),
            ("apps", "Deployment", "status.conditions", Some(merge("type"))),
            ("apps", "Deployment", "spec.containers", None),
            ("apps", "ReplicaSet", "spec.template.spec.initContainers", Some(merge("name"))),
            ("apps", "ReplicaSet", "status.conditions", Some(merge("type"))),
            ("apps", "ReplicaSet", "spec.strategy", None),
            ("apps", "StatefulSet", "spec.template.spec.containers.ports", Some(merge("containerPort"))),
            ("batch", "Job", "status.conditions", Some(merge("type"))),
            ("batch", "CronJob", "spec.jobTemplate.spec.template.spec.containers", Some(merge("name"))),
            ("", "Service", "spec.ports", Some(merge("port"))),
            ("", "Service", "status.conditions", Some(merge("type"))),
            ("", "Service", "spec.externalIPs", None),
            ("", "Service", "status.loadBalancer.ingress", None),
            ("", "Endpoints", "subsets", None),
            ("", "Endpoints", "subsets.addresses", None),
            ("", "Endpoints", "metadata.finalizers", Some(FieldStrategy::merge_set())),
            ("", "Node", "spec.taints", None),
            ("", "Node", "spec.podCIDRs", Some(FieldStrategy::merge_set())),
            ("", "Node", "status.conditions", Some(merge("type"))),
            ("", "Node", "status.addresses", Some(merge("type"))),
            ("", "Node", "status.images", None),
            ("", "Namespace", "spec.finalizers", None),
            ("", "Namespace", "status.conditions", Some(merge("type"))),
            ("", "PersistentVolumeClaim", "status.conditions", Some(merge("type"))),
            ("", "PersistentVolumeClaim", "spec.accessModes", None),
            ("", "PersistentVolume", "spec.accessModes", None),
            ("", "ServiceAccount", "secrets", Some(merge("name"))),
            ("", "ServiceAccount", "imagePullSecrets", None),
            ("", "ConfigMap", "data", None),
            ("", "Secret", "metadata.ownerReferences", Some(merge("uid"))),
            ("", "Event", "metadata.finalizers", Some(FieldStrategy::merge_set())),
            ("storage.k8s.io", "StorageClass", "allowedTopologies", None),
            ("coordination.k8s.io", "Lease", "spec.holderIdentity", None),
            ("", "ComponentStatus", "conditions", Some(merge("type"))),
            ("policy", "PodDisruptionBudget", "spec.selector", Some(FieldStrategy::replacing())),
            // The group is part of the identity: a core "Deployment" is unknown.
            ("", "Deployment", "spec.strategy", None),
            ("example.com", "Widget", "spec.items", None),
            ("example.com", "Widget", "metadata.finalizers", Some(FieldStrategy::merge_set())),
        ];
        for (group, kind, path, want) in cases {
            assert_eq!(strategy_for(group, kind, &parse(path)), *want, "{group}/{kind} {path}");
        }
    }

    #[test]
    fn pod_templates_share_the_pod_spec_table() {
        // Every PodSpec fact holds wherever a pod template is mounted.
        let mounts: &[(&str, &str, &str)] = &[
            ("", "Pod", "spec"),
            ("", "PodTemplate", "template.spec"),
            ("", "ReplicationController", "spec.template.spec"),
            ("apps", "Deployment", "spec.template.spec"),
            ("apps", "ReplicaSet", "spec.template.spec"),
            ("apps", "StatefulSet", "spec.template.spec"),
            ("apps", "DaemonSet", "spec.template.spec"),
            ("batch", "Job", "spec.template.spec"),
            ("batch", "CronJob", "spec.jobTemplate.spec.template.spec"),
        ];
        let mut fields = Vec::new();
        collect_fields(POD_SPEC, "", &mut fields);
        assert!(fields.len() >= 20, "{fields:?}");
        for (group, kind, at) in mounts {
            for (field, want) in &fields {
                let path = format!("{at}.{field}");
                assert_eq!(strategy_for(group, kind, &parse(&path)), Some(*want), "{group}/{kind} {path}");
            }
        }
    }

    fn collect_fields(table: &[Entry], prefix: &str, out: &mut Vec<(String, FieldStrategy)>) {
        for entry in table {
            match entry {
                Field(at, s) => out.push((format!("{prefix}{at}"), *s)),
                Nested(at, inner) => collect_fields(inner, &format!("{prefix}{at}."), out),
            }
        }
    }

    #[test]
    fn every_table_entry_is_consistent() {
        for (group, kind, table) in KINDS {
            let mut fields = Vec::new();
            collect_fields(table, "", &mut fields);
            for (path, s) in fields {
                assert!(path.split('.').all(|seg| !seg.is_empty()), "{group}/{kind} {path}");
                // A merge key only makes sense on a merging list; replace excludes merging.
                assert!(s.merge_key.is_none() || s.merge, "{group}/{kind} {path}");
                assert!(!(s.replace && (s.merge || s.retain_keys)), "{group}/{kind} {path}");
                assert!(s.merge || s.retain_keys || s.replace, "{group}/{kind} {path} has the default strategy");
                assert_eq!(strategy_for(group, kind, &parse(&path)), Some(s), "{group}/{kind} {path}");
            }
        }
    }

    #[test]
    fn owned_segments_and_label_keys_with_dots() {
        let path = vec!["spec".to_string(), "template".to_string(), "spec".to_string(), "containers".to_string()];
        assert_eq!(strategy_for_path("apps", "Deployment", &path), Some(FieldStrategy::merge_by("name")));
        // A key that contains the dotted spelling of a tagged field is still just one segment.
        assert_eq!(strategy_for("", "Pod", &["metadata", "labels", "spec.containers"]), None);
        assert_eq!(strategy_for("", "Pod", &["spec.containers"]), None);
        assert_eq!(strategy_for("", "Pod", &[]), None);
    }
}
