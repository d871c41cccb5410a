//! Defaults for pods and for every pod template: the spec, its containers and its volumes.

use serde_json::{json, Value};

use super::image::default_pull_policy;
use crate::defaults::{items, pointer_struct, set_if_missing, set_if_zero, value_struct, Object};

/// A Pod object: the template defaults plus those upstream keeps to real pods, so that they never
/// appear in (and so never change) the templates of controllers.
pub(crate) fn default_pod(pod: &mut Object) {
    let Some(spec) = value_struct(pod, "spec") else { return };
    for key in ["containers", "initContainers"] {
        for container in items(spec, key) {
            requests_from_limits(container);
        }
    }
    set_if_missing(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork") == Some(&Value::Bool(true)) {
        for key in ["containers", "initContainers"] {
            for container in items(spec, key) {
                for port in items(container, "ports") {
                    let container_port = port.get("containerPort").cloned();
                    if let Some(container_port) = container_port {
                        set_if_zero(port, "hostPort", container_port);
                    }
                }
            }
        }
    }
    default_pod_spec(spec);
}

/// A `PodTemplateSpec` (PodTemplate, Deployment, ReplicaSet): only the spec carries defaults.
pub(crate) fn default_pod_template(template: &mut Object) {
    if let Some(spec) = value_struct(template, "spec") {
        default_pod_spec(spec);
    }
}

fn default_pod_spec(spec: &mut Object) {
    set_if_zero(spec, "dnsPolicy", json!("ClusterFirst"));
    set_if_zero(spec, "restartPolicy", json!("Always"));
    set_if_missing(spec, "securityContext", json!({}));
    set_if_missing(spec, "terminationGracePeriodSeconds", json!(30));
    set_if_zero(spec, "schedulerName", json!("default-scheduler"));
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for container in items(spec, key) {
            default_container(container);
        }
    }
    for volume in items(spec, "volumes") {
        default_volume(volume);
    }
}

/// Requests a container leaves out are taken to equal its limits.
fn requests_from_limits(container: &mut Object) {
    let Some(resources) = pointer_struct(container, "resources") else { return };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else { return };
    let mut requests = resources.get("requests").and_then(Value::as_object).cloned().unwrap_or_default();
    for (name, quantity) in limits {
        requests.entry(name).or_insert(quantity);
    }
    // An empty map would read as a set `requests: {}`, which upstream never shows.
    if !requests.is_empty() {
        resources.insert("requests".into(), Value::Object(requests));
    }
}

fn default_container(container: &mut Object) {
    if container.get("imagePullPolicy").is_none_or(crate::defaults::is_zero) {
        let image = container.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = default_pull_policy(image);
        container.insert("imagePullPolicy".into(), json!(policy));
    }
    set_if_zero(container, "terminationMessagePath", json!("/dev/termination-log"));
    set_if_zero(container, "terminationMessagePolicy", json!("File"));
    // A struct, not a pointer, upstream: always present, if only as `{}`.
    value_struct(container, "resources");
    for port in items(container, "ports") {
        set_if_zero(port, "protocol", json!("TCP"));
    }
    for env in items(container, "env") {
        if let Some(field_ref) = pointer_struct(env, "valueFrom").and_then(|from| pointer_struct(from, "fieldRef")) {
            default_field_selector(field_ref);
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = pointer_struct(container, key) {
            default_probe(probe);
        }
    }
    if let Some(lifecycle) = pointer_struct(container, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(http_get) = pointer_struct(lifecycle, key).and_then(|h| pointer_struct(h, "httpGet")) {
                default_http_get(http_get);
            }
        }
    }
}

fn default_probe(probe: &mut Object) {
    set_if_zero(probe, "timeoutSeconds", json!(1));
    set_if_zero(probe, "periodSeconds", json!(10));
    set_if_zero(probe, "successThreshold", json!(1));
    set_if_zero(probe, "failureThreshold", json!(3));
    if let Some(http_get) = pointer_struct(probe, "httpGet") {
        default_http_get(http_get);
    }
    if let Some(grpc) = pointer_struct(probe, "grpc") {
        set_if_missing(grpc, "service", json!(""));
    }
}

fn default_http_get(http_get: &mut Object) {
    set_if_zero(http_get, "path", json!("/"));
    set_if_zero(http_get, "scheme", json!("HTTP"));
}

fn default_field_selector(field_ref: &mut Object) {
    set_if_zero(field_ref, "apiVersion", json!("v1"));
}

/// 0644, the file mode of projected keys when the volume does not say.
const DEFAULT_FILE_MODE: i32 = 0o644;

fn default_volume(volume: &mut Object) {
    // A volume naming no source at all is a scratch directory.
    if volume.iter().all(|(key, value)| key == "name" || value.is_null()) {
        volume.insert("emptyDir".into(), json!({}));
    }
    crate::defaults::default_legacy_volume_sources(volume);
    for key in ["secret", "configMap"] {
        if let Some(source) = pointer_struct(volume, key) {
            set_if_missing(source, "defaultMode", json!(DEFAULT_FILE_MODE));
        }
    }
    if let Some(downward_api) = pointer_struct(volume, "downwardAPI") {
        default_downward_api(downward_api);
    }
    if let Some(projected) = pointer_struct(volume, "projected") {
        set_if_missing(projected, "defaultMode", json!(DEFAULT_FILE_MODE));
        for source in items(projected, "sources") {
            if let Some(downward_api) = pointer_struct(source, "downwardAPI") {
                default_downward_api_items(downward_api);
            }
            if let Some(token) = pointer_struct(source, "serviceAccountToken") {
                set_if_missing(token, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(claim_template) =
        pointer_struct(volume, "ephemeral").and_then(|e| pointer_struct(e, "volumeClaimTemplate"))
    {
        if let Some(spec) = value_struct(claim_template, "spec") {
            crate::defaults::default_claim_spec(spec);
        }
    }
    if let Some(image) = pointer_struct(volume, "image") {
        if image.get("pullPolicy").is_none_or(crate::defaults::is_zero) {
            let reference = image.get("reference").and_then(Value::as_str).unwrap_or("");
            let policy = default_pull_policy(reference);
            image.insert("pullPolicy".into(), json!(policy));
        }
    }
}

fn default_downward_api(downward_api: &mut Object) {
    set_if_missing(downward_api, "defaultMode", json!(DEFAULT_FILE_MODE));
    default_downward_api_items(downward_api);
}

fn default_downward_api_items(downward_api: &mut Object) {
    for item in items(downward_api, "items") {
        if let Some(field_ref) = pointer_struct(item, "fieldRef") {
            default_field_selector(field_ref);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use crate::defaults::apply_defaults;

    /// What every defaulted container without probes, ports or env looks like besides its image.
    fn container(name: &str, image: &str, policy: &str) -> serde_json::Value {
        json!({
            "name": name, "image": image, "imagePullPolicy": policy, "resources": {},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        })
    }

    /// Pod manifests with the spec each should have once defaulted.
    pub(crate) fn cases() -> Vec<(&'static str, serde_json::Value, serde_json::Value)> {
        vec![
            (
                "minimal pod",
                json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
                json!({"metadata": {"name": "p"}, "spec": {
                    "containers": [container("c", "busybox", "Always")],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30, "enableServiceLinks": true,
                }}),
            ),
            (
                "pull policy per container and init container",
                json!({"spec": {
                    "initContainers": [{"name": "i", "image": "registry:5000/busybox"}],
                    "containers": [
                        {"name": "a", "image": "busybox:latest"},
                        {"name": "b", "image": "busybox:1.36"},
                        {"name": "c", "image": "busybox@sha256:4b4e1b5f1e7e0b4e2b9e2a9f1c3a6f0d1d0b8f8c7e6d5c4b3a29180706050403"},
                    ],
                }}),
                json!({"spec": {
                    "initContainers": [container("i", "registry:5000/busybox", "Always")],
                    "containers": [
                        container("a", "busybox:latest", "Always"),
                        container("b", "busybox:1.36", "IfNotPresent"),
                        container("c", "busybox@sha256:4b4e1b5f1e7e0b4e2b9e2a9f1c3a6f0d1d0b8f8c7e6d5c4b3a29180706050403", "IfNotPresent"),
                    ],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30, "enableServiceLinks": true,
                }}),
            ),
            (
                "never overwrites set values",
                json!({"spec": {
                    "containers": [{
                        "name": "c", "image": "busybox", "imagePullPolicy": "Never",
                        "terminationMessagePath": "/tmp/log", "terminationMessagePolicy": "FallbackToLogsOnError",
                        "resources": {"requests": {"cpu": "1"}},
                        "ports": [{"containerPort": 53, "protocol": "UDP"}],
                        "livenessProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 5, "periodSeconds": 7,
                                          "successThreshold": 1, "failureThreshold": 9},
                    }],
                    "dnsPolicy": "Default", "restartPolicy": "Never", "schedulerName": "mine",
                    "securityContext": {"runAsUser": 1000}, "terminationGracePeriodSeconds": 0,
                    "enableServiceLinks": false,
                }}),
                json!({"spec": {
                    "containers": [{
                        "name": "c", "image": "busybox", "imagePullPolicy": "Never",
                        "terminationMessagePath": "/tmp/log", "terminationMessagePolicy": "FallbackToLogsOnError",
                        "resources": {"requests": {"cpu": "1"}},
                        "ports": [{"containerPort": 53, "protocol": "UDP"}],
                        "livenessProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 5, "periodSeconds": 7,
                                          "successThreshold": 1, "failureThreshold": 9},
                    }],
                    "dnsPolicy": "Default", "restartPolicy": "Never", "schedulerName": "mine",
                    "securityContext": {"runAsUser": 1000}, "terminationGracePeriodSeconds": 0,
                    "enableServiceLinks": false,
                }}),
            ),
            (
                "ports, env field refs, probes and lifecycle hooks",
                json!({"spec": {"containers": [{
                    "name": "c", "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                            {"name": "PLAIN", "value": "x"}],
                    "livenessProbe": {"httpGet": {"port": 80}},
                    "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 2},
                    "startupProbe": {"tcpSocket": {"port": 80}, "failureThreshold": 30},
                    "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/quit"}}},
                }]}}),
                json!({"spec": {
                    "containers": [{
                        "name": "c", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent", "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName", "apiVersion": "v1"}}},
                                {"name": "PLAIN", "value": "x"}],
                        "livenessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                          "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                        "readinessProbe": {"grpc": {"port": 9000, "service": ""}, "timeoutSeconds": 1,
                                           "periodSeconds": 2, "successThreshold": 1, "failureThreshold": 3},
                        "startupProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 1,
                                         "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 30},
                        "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/quit", "scheme": "HTTP"}}},
                    }],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30, "enableServiceLinks": true,
                }}),
            ),
            (
                "zero values count as unset, as upstream cannot tell them apart",
                json!({"spec": {"restartPolicy": "", "containers": [{
                    "name": "c", "image": "busybox:1", "imagePullPolicy": "",
                    "readinessProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 0},
                }]}}),
                json!({"spec": {
                    "containers": [{
                        "name": "c", "image": "busybox:1", "imagePullPolicy": "IfNotPresent", "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "readinessProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 1,
                                           "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    }],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30, "enableServiceLinks": true,
                }}),
            ),
            (
                "requests default to limits and host network ports to container ports",
                json!({"spec": {"hostNetwork": true, "containers": [{
                    "name": "c", "image": "busybox:1",
                    "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "100m"}},
                    "ports": [{"containerPort": 8080}, {"containerPort": 9090, "hostPort": 9091}],
                }]}}),
                json!({"spec": {
                    "hostNetwork": true,
                    "containers": [{
                        "name": "c", "image": "busybox:1", "imagePullPolicy": "IfNotPresent",
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
                        "ports": [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"},
                                  {"containerPort": 9090, "hostPort": 9091, "protocol": "TCP"}],
                    }],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30, "enableServiceLinks": true,
                }}),
            ),
            (
                "volumes",
                json!({"spec": {"containers": [], "volumes": [
                    {"name": "scratch"},
                    {"name": "cm", "configMap": {"name": "x"}},
                    {"name": "sec", "secret": {"secretName": "x", "defaultMode": 256}},
                    {"name": "host", "hostPath": {"path": "/data"}},
                    {"name": "dapi", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"name": "proj", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token"}},
                        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                    ]}},
                    {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                    {"name": "disk", "azureDisk": {"diskName": "d", "diskURI": "u"}},
                    {"name": "img", "image": {"reference": "registry.example/data:latest"}},
                ]}}),
                json!({"spec": {
                    "containers": [],
                    "volumes": [
                        {"name": "scratch", "emptyDir": {}},
                        {"name": "cm", "configMap": {"name": "x", "defaultMode": 420}},
                        {"name": "sec", "secret": {"secretName": "x", "defaultMode": 256}},
                        {"name": "host", "hostPath": {"path": "/data", "type": ""}},
                        {"name": "dapi", "downwardAPI": {"defaultMode": 420, "items": [
                            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels", "apiVersion": "v1"}}]}},
                        {"name": "proj", "projected": {"defaultMode": 420, "sources": [
                            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                            {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace", "apiVersion": "v1"}}]}},
                        ]}},
                        {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}}},
                        {"name": "disk", "azureDisk": {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite",
                                                       "fsType": "ext4", "readOnly": false, "kind": "Shared"}},
                        {"name": "img", "image": {"reference": "registry.example/data:latest", "pullPolicy": "Always"}},
                    ],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30, "enableServiceLinks": true,
                }}),
            ),
        ]
    }

    #[test]
    fn pods() {
        for (name, mut obj, want) in cases() {
            apply_defaults("", "Pod", &mut obj);
            assert_eq!(obj, want, "{name}");
        }
    }

    #[test]
    fn templates_get_spec_defaults_but_not_pod_only_ones() {
        let template = || {
            json!({"metadata": {"labels": {"app": "a"}}, "spec": {"hostNetwork": true, "containers": [{
                "name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80}],
            }]}})
        };
        let want = json!({"metadata": {"labels": {"app": "a"}}, "spec": {
            "hostNetwork": true,
            "containers": [{
                "name": "c", "image": "busybox", "imagePullPolicy": "Always",
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80, "protocol": "TCP"}],
            }],
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "securityContext": {}, "terminationGracePeriodSeconds": 30,
        }});
        let cases = [
            ("", "PodTemplate", json!({"template": template()}), "/template"),
            ("apps", "Deployment", json!({"spec": {"template": template()}}), "/spec/template"),
            ("apps", "ReplicaSet", json!({"spec": {"template": template()}}), "/spec/template"),
        ];
        for (group, kind, mut obj, pointer) in cases {
            apply_defaults(group, kind, &mut obj);
            assert_eq!(obj.pointer(pointer), Some(&want), "{kind}");
        }
    }
}
