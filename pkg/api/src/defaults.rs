//! Upstream's defaulting, applied to every created or updated object before validation: the
//! entry points, the helpers every kind's defaults use, and the defaulting test table over all kinds.

// Objects arrive as JSON already normalised through their k8s-openapi type. Upstream defaults Go
// structs, where a plain (non-pointer) string or number cannot be told apart from its zero value,
// so for such fields an explicit `""` or `0` is defaulted too (`set_if_zero`); pointer fields are
// defaulted only when missing (`set_if_missing`). Likewise, Go structs held by value always exist,
// so they are created empty when missing (`value_struct`) while pointer structs are not.


use serde_json::{json, Map, Value};

pub(crate) type Object = Map<String, Value>;

use crate::kinds::Behaviour;

/// Fills in upstream's defaults for an object of `kind` in `group` ("" = core), in place. Never overwrites a set value.
///
/// Two upstream behaviours are kept although they touch set fields: a Namespace's
/// `kubernetes.io/metadata.name` label always equals its name, and a Service with `sessionAffinity: None`
/// loses any `sessionAffinityConfig`.
pub fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    apply_defaults_of(crate::kinds::behaviour(group, kind), obj);
}

/// [`apply_defaults`] for a kind's behaviour (its registry entry's).
pub fn apply_defaults_of(kind: &dyn Behaviour, obj: &mut Value) {
    let Some(obj) = obj.as_object_mut() else { return };
    kind.defaults(obj);
}

// Each kind's defaulting function lives in its folder (`kinds/<group>/<kind>/defaults.rs`) and
// its behaviour calls it; what follows is shared by several kinds. ConfigMap, ServiceAccount,
// Event (both groups) and Lease have nothing visible to default.

/// The spec of a PersistentVolumeClaim, also found in ephemeral volumes' claim templates.
pub(crate) fn default_claim_spec(spec: &mut Object) {
    set_if_missing(spec, "volumeMode", json!("Filesystem"));
}

/// Sources a Pod volume shares with a PersistentVolume, under the same keys in both.
pub(crate) fn default_legacy_volume_sources(volume: &mut Object) {
    if let Some(host_path) = pointer_struct(volume, "hostPath") {
        // The empty type means "no check before mounting".
        set_if_missing(host_path, "type", json!(""));
    }
    if let Some(iscsi) = pointer_struct(volume, "iscsi") {
        set_if_zero(iscsi, "iscsiInterface", json!("default"));
    }
    if let Some(rbd) = pointer_struct(volume, "rbd") {
        set_if_zero(rbd, "pool", json!("rbd"));
        set_if_zero(rbd, "user", json!("admin"));
        set_if_zero(rbd, "keyring", json!("/etc/ceph/keyring"));
    }
    if let Some(azure_disk) = pointer_struct(volume, "azureDisk") {
        set_if_missing(azure_disk, "cachingMode", json!("ReadWrite"));
        set_if_missing(azure_disk, "fsType", json!("ext4"));
        set_if_missing(azure_disk, "readOnly", json!(false));
        set_if_missing(azure_disk, "kind", json!("Shared"));
    }
    if let Some(scale_io) = pointer_struct(volume, "scaleIO") {
        set_if_zero(scale_io, "storageMode", json!("ThinProvisioned"));
        set_if_zero(scale_io, "fsType", json!("xfs"));
    }
}

/// The zero value of a Go string or number, which upstream treats as unset.
pub(crate) fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// Defaults a pointer field: only a missing (or null) one is unset.
pub(crate) fn set_if_missing(obj: &mut Object, key: &str, value: Value) {
    match obj.get(key) {
        None | Some(Value::Null) => {
            obj.insert(key.to_owned(), value);
        }
        Some(_) => {}
    }
}

/// Defaults a plain Go string or number field, where `""` and `0` count as unset.
pub(crate) fn set_if_zero(obj: &mut Object, key: &str, value: Value) {
    if obj.get(key).is_none_or(is_zero) {
        obj.insert(key.to_owned(), value);
    }
}

/// A struct Go holds by value, created empty when missing so its defaults apply; `None` only when
/// the field holds something other than an object.
pub(crate) fn value_struct<'a>(obj: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    let slot = obj.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// A struct Go holds by pointer: defaulted only when sent.
pub(crate) fn pointer_struct<'a>(obj: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    obj.get_mut(key).and_then(Value::as_object_mut)
}

/// The object elements of a list field, if any.
pub(crate) fn items<'a>(obj: &'a mut Object, key: &str) -> impl Iterator<Item = &'a mut Object> {
    obj.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        group: &'static str,
        kind: &'static str,
        input: Value,
        want: Value,
    }

    fn case(name: &'static str, group: &'static str, kind: &'static str, input: Value, want: Value) -> Case {
        Case { name, group, kind, input, want }
    }

    fn cases() -> Vec<Case> {
        let service_ports = json!([{"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}]);
        let defaulted_ports = json!([
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
        ]);
        vec![
            case(
                "service: ClusterIP",
                "",
                "Service",
                json!({"spec": {"selector": {"app": "a"}, "ports": service_ports}}),
                json!({"spec": {
                    "selector": {"app": "a"}, "ports": defaulted_ports, "type": "ClusterIP",
                    "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack",
                }}),
            ),
            case(
                "service: target port 0 is unset",
                "",
                "Service",
                json!({"spec": {"ports": [{"port": 8080, "targetPort": 0}]}}),
                json!({"spec": {
                    "ports": [{"port": 8080, "targetPort": 8080, "protocol": "TCP"}], "type": "ClusterIP",
                    "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack",
                }}),
            ),
            case(
                "service: LoadBalancer",
                "",
                "Service",
                json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 8443}]},
                       "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"}]}}}),
                json!({"spec": {
                    "type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 8443, "protocol": "TCP"}],
                    "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                    "ipFamilyPolicy": "SingleStack", "allocateLoadBalancerNodePorts": true,
                }, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}, {"hostname": "lb.example"}]}}}),
            ),
            case(
                "service: NodePort with client IP affinity",
                "",
                "Service",
                json!({"spec": {"type": "NodePort", "sessionAffinity": "ClientIP"}}),
                json!({"spec": {
                    "type": "NodePort", "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                    "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack",
                }}),
            ),
            case(
                "service: ClusterIP with external IPs is externally accessible",
                "",
                "Service",
                json!({"spec": {"externalIPs": ["10.0.0.9"]}}),
                json!({"spec": {
                    "externalIPs": ["10.0.0.9"], "type": "ClusterIP", "sessionAffinity": "None",
                    "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack",
                }}),
            ),
            case(
                "service: ExternalName gets no traffic or family policy",
                "",
                "Service",
                json!({"spec": {"type": "ExternalName", "externalName": "db.example"}}),
                json!({"spec": {"type": "ExternalName", "externalName": "db.example", "sessionAffinity": "None"}}),
            ),
            case(
                "service: headless without selector requires dual stack",
                "",
                "Service",
                json!({"spec": {"clusterIP": "None"}}),
                json!({"spec": {
                    "clusterIP": "None", "type": "ClusterIP", "sessionAffinity": "None",
                    "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "RequireDualStack",
                }}),
            ),
            case(
                "service: affinity None drops its config",
                "",
                "Service",
                json!({"spec": {"type": "ClusterIP", "sessionAffinity": "None",
                                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}),
                json!({"spec": {
                    "type": "ClusterIP", "sessionAffinity": "None",
                    "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack",
                }}),
            ),
            case(
                "service: never overwrites",
                "",
                "Service",
                json!({"spec": {
                    "type": "NodePort", "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                    "ports": [{"port": 80, "protocol": "SCTP", "targetPort": 81}],
                    "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local", "ipFamilyPolicy": "PreferDualStack",
                }}),
                json!({"spec": {
                    "type": "NodePort", "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                    "ports": [{"port": 80, "protocol": "SCTP", "targetPort": 81}],
                    "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local", "ipFamilyPolicy": "PreferDualStack",
                }}),
            ),
            case("secret", "", "Secret", json!({"data": {}}), json!({"data": {}, "type": "Opaque"})),
            case(
                "secret: never overwrites",
                "",
                "Secret",
                json!({"type": "kubernetes.io/tls"}),
                json!({"type": "kubernetes.io/tls"}),
            ),
            case(
                "namespace",
                "",
                "Namespace",
                json!({"metadata": {"name": "team-a"}}),
                json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
                       "status": {"phase": "Active"}}),
            ),
            case(
                "namespace: the name label always tracks the name",
                "",
                "Namespace",
                json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "other", "x": "y"}},
                       "status": {"phase": "Terminating"}}),
                json!({"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a", "x": "y"}},
                       "status": {"phase": "Terminating"}}),
            ),
            case(
                "namespace: generateName gets no label yet",
                "",
                "Namespace",
                json!({"metadata": {"generateName": "team-"}}),
                json!({"metadata": {"generateName": "team-"}, "status": {"phase": "Active"}}),
            ),
            case(
                "node: allocatable defaults to capacity",
                "",
                "Node",
                json!({"status": {"capacity": {"cpu": "2", "pods": "110"}}}),
                json!({"status": {"capacity": {"cpu": "2", "pods": "110"}, "allocatable": {"cpu": "2", "pods": "110"}}}),
            ),
            case(
                "node: never overwrites",
                "",
                "Node",
                json!({"spec": {}, "status": {"capacity": {"cpu": "2"}, "allocatable": {"cpu": "1900m"}}}),
                json!({"spec": {}, "status": {"capacity": {"cpu": "2"}, "allocatable": {"cpu": "1900m"}}}),
            ),
            case(
                "endpoints",
                "",
                "Endpoints",
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}]}),
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}],
                                    "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}]}),
            ),
            case(
                "persistent volume",
                "",
                "PersistentVolume",
                json!({"spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}}}),
                json!({"spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data", "type": ""},
                                "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
                       "status": {"phase": "Pending"}}),
            ),
            case(
                "persistent volume: never overwrites",
                "",
                "PersistentVolume",
                json!({"spec": {"persistentVolumeReclaimPolicy": "Delete", "volumeMode": "Block",
                                "hostPath": {"path": "/dev/sdb", "type": "BlockDevice"}},
                       "status": {"phase": "Bound"}}),
                json!({"spec": {"persistentVolumeReclaimPolicy": "Delete", "volumeMode": "Block",
                                "hostPath": {"path": "/dev/sdb", "type": "BlockDevice"}},
                       "status": {"phase": "Bound"}}),
            ),
            case(
                "persistent volume claim",
                "",
                "PersistentVolumeClaim",
                json!({"spec": {"accessModes": ["ReadWriteOnce"]}}),
                json!({"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}),
            ),
            case(
                "persistent volume claim: never overwrites",
                "",
                "PersistentVolumeClaim",
                json!({"spec": {"volumeMode": "Block"}, "status": {"phase": "Bound"}}),
                json!({"spec": {"volumeMode": "Block"}, "status": {"phase": "Bound"}}),
            ),
            case(
                "storage class",
                "storage.k8s.io",
                "StorageClass",
                json!({"provisioner": "example.com/p"}),
                json!({"provisioner": "example.com/p", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}),
            ),
            case(
                "storage class: never overwrites",
                "storage.k8s.io",
                "StorageClass",
                json!({"provisioner": "p", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
                json!({"provisioner": "p", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
            ),
            case(
                "deployment",
                "apps",
                "Deployment",
                json!({"spec": {"selector": {}, "template": {"spec": {"containers": []}}}}),
                json!({"spec": {
                    "selector": {}, "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                    "template": {"spec": {
                        "containers": [], "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                        "schedulerName": "default-scheduler", "securityContext": {}, "terminationGracePeriodSeconds": 30,
                    }},
                }}),
            ),
            case(
                "deployment: partial rolling update",
                "apps",
                "Deployment",
                json!({"spec": {"replicas": 0, "strategy": {"rollingUpdate": {"maxSurge": 1}}, "template": {"spec": {"containers": []}}}}),
                json!({"spec": {
                    "replicas": 0, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
                    "template": {"spec": {
                        "containers": [], "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                        "schedulerName": "default-scheduler", "securityContext": {}, "terminationGracePeriodSeconds": 30,
                    }},
                }}),
            ),
            case(
                "deployment: never overwrites",
                "apps",
                "Deployment",
                json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 0,
                                "progressDeadlineSeconds": 60, "template": {"spec": {
                                    "containers": [], "dnsPolicy": "None", "restartPolicy": "Always",
                                    "schedulerName": "s", "securityContext": {}, "terminationGracePeriodSeconds": 1}}}}),
                json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 0,
                                "progressDeadlineSeconds": 60, "template": {"spec": {
                                    "containers": [], "dnsPolicy": "None", "restartPolicy": "Always",
                                    "schedulerName": "s", "securityContext": {}, "terminationGracePeriodSeconds": 1}}}}),
            ),
            case(
                "replica set",
                "apps",
                "ReplicaSet",
                json!({"spec": {"template": {"spec": {"containers": []}}}}),
                json!({"spec": {"replicas": 1, "template": {"spec": {
                    "containers": [], "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                    "schedulerName": "default-scheduler", "securityContext": {}, "terminationGracePeriodSeconds": 30,
                }}}}),
            ),
            case(
                "replica set: never overwrites",
                "apps",
                "ReplicaSet",
                json!({"spec": {"replicas": 0, "template": {"spec": {
                    "containers": [], "dnsPolicy": "Default", "restartPolicy": "Always",
                    "schedulerName": "s", "securityContext": {}, "terminationGracePeriodSeconds": 5}}}}),
                json!({"spec": {"replicas": 0, "template": {"spec": {
                    "containers": [], "dnsPolicy": "Default", "restartPolicy": "Always",
                    "schedulerName": "s", "securityContext": {}, "terminationGracePeriodSeconds": 5}}}}),
            ),
            case("config map", "", "ConfigMap", json!({"data": {"a": "b"}}), json!({"data": {"a": "b"}})),
            case(
                "service account",
                "",
                "ServiceAccount",
                json!({"metadata": {"name": "sa"}}),
                json!({"metadata": {"name": "sa"}}),
            ),
            case("core event", "", "Event", json!({"reason": "r"}), json!({"reason": "r"})),
            case("events.k8s.io event", "events.k8s.io", "Event", json!({"reason": "r"}), json!({"reason": "r"})),
            case("lease", "coordination.k8s.io", "Lease", json!({"spec": {}}), json!({"spec": {}})),
            case("kind from another group", "example.com", "Service", json!({"spec": {}}), json!({"spec": {}})),
        ]
    }

    #[test]
    fn kinds() {
        for Case { name, group, kind, mut input, want } in cases() {
            apply_defaults(group, kind, &mut input);
            assert_eq!(input, want, "{name}");
        }
    }

    #[test]
    fn defaulting_twice_changes_nothing() {
        for Case { name, group, kind, mut input, .. } in cases() {
            apply_defaults(group, kind, &mut input);
            let once = input.clone();
            apply_defaults(group, kind, &mut input);
            assert_eq!(input, once, "{name}");
        }
    }

    /// Misspelled or misplaced defaults would vanish when the object is next read through its type.
    #[test]
    fn defaults_survive_the_typed_round_trip() {
        let pod_cases = crate::kinds::core::pod::defaults::tests::cases()
            .into_iter()
            .map(|(name, input, _)| case(name, "", "Pod", input, json!(null)));
        for Case { name, group, kind, mut input, .. } in cases().into_iter().chain(pod_cases) {
            let Some(def) = crate::kinds::find_group_kind(group, kind) else {
                continue;
            };
            let root = input.as_object_mut().expect("cases are objects");
            root.insert("apiVersion".into(), json!(def.api_version()));
            root.insert("kind".into(), json!(kind));
            // As in the server: read through the type first, then default.
            let mut normalized = (def.codec)(input).unwrap_or_else(|e| panic!("{name}: {e}")).value;
            apply_defaults(group, kind, &mut normalized);
            let typed = (def.codec)(normalized.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(typed.unknown, Vec::<String>::new(), "{name}");
            assert_eq!(typed.value, normalized, "{name}");
        }
    }

    #[test]
    fn non_objects_are_left_alone() {
        for mut value in [json!(null), json!([1]), json!("pod"), json!({"spec": "not an object"})] {
            let before = value.clone();
            apply_defaults("", "Pod", &mut value);
            assert_eq!(value, before);
        }
    }
}
