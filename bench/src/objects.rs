//! The objects the benchmark writes. The same JSON bytes go to corekube (as a request body) and
//! to etcd (as a value), so both sides store comparable sizes.

use serde_json::{json, Value};

/// The annotation carrying the send time (ns on the benchmark's clock) of a watched update.
pub const SENT_ANNOTATION: &str = "bench.corekube.io/sent";
/// How the annotation looks in compact JSON, as corekube and the benchmark serialize it.
pub const SENT_PATTERN: &str = "\"bench.corekube.io/sent\":\"";

/// Labels every object gets: `bench-group` has 100 values, so one value matches 1 %.
pub fn group_label(i: usize) -> String {
    format!("g{}", i % 100)
}

/// A ConfigMap whose JSON is about `size` bytes.
pub fn configmap(ns: &str, name: &str, i: usize, size: usize) -> Vec<u8> {
    let mut obj = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench", "bench-group": group_label(i)}},
        "data": {"payload": ""},
    });
    let base = serde_json::to_vec(&obj).unwrap().len();
    let pad = size.saturating_sub(base);
    obj["data"]["payload"] = Value::String(filler(i, pad));
    serde_json::to_vec(&obj).unwrap()
}

/// Deterministic printable filler of `len` bytes.
fn filler(seed: usize, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = (seed as u64).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// A realistic Pod (two containers with env, resources, probes and mounts; about 2.5 KiB of JSON).
pub fn pod_value(ns: &str, name: &str, i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app": "web", "tier": "frontend", "bench-group": group_label(i), "pod-template-hash": "7d4b9c8f6d"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9102"},
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "registry.example.com/team/web:1.27.3",
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["--port=8080", "--metrics-port=9102", "--log-format=json"],
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9102, "protocol": "TCP"}
                    ],
                    "env": [
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                        {"name": "LOG_LEVEL", "value": "info"},
                        {"name": "CACHE_SIZE_MB", "value": "128"}
                    ],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5, "timeoutSeconds": 1},
                    "livenessProbe": {"httpGet": {"path": "/livez", "port": 8080}, "initialDelaySeconds": 10, "periodSeconds": 10},
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/web", "readOnly": true},
                        {"name": "cache", "mountPath": "/var/cache/web"}
                    ],
                    "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false}
                },
                {
                    "name": "log-shipper",
                    "image": "registry.example.com/infra/log-shipper:2.4.0",
                    "args": ["--input=/var/log/web", "--output=stdout"],
                    "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
                    "volumeMounts": [{"name": "cache", "mountPath": "/var/log/web", "readOnly": true}]
                }
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": "web-config"}},
                {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}
            ],
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}}
            ]}}
        }
    })
}

pub fn pod(ns: &str, name: &str, i: usize) -> Vec<u8> {
    serde_json::to_vec(&pod_value(ns, name, i)).unwrap()
}

/// Reads the send time out of a serialized object carrying the `SENT_ANNOTATION`.
pub fn sent_ns(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let at = text.find(SENT_PATTERN)? + SENT_PATTERN.len();
    let rest = &text[at..];
    let end = rest.find('"')?;
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cm = configmap("ns", "cm-1", 1, 1024);
        assert!((1020..=1030).contains(&cm.len()), "{}", cm.len());
        let p = pod("ns", "pod-1", 1);
        assert!((2000..=3500).contains(&p.len()), "{}", p.len());
    }

    #[test]
    fn sent_annotation_round_trip() {
        let mut v = pod_value("ns", "p", 0);
        v["metadata"]["annotations"][SENT_ANNOTATION] = json!("123456789");
        assert_eq!(sent_ns(&serde_json::to_vec(&v).unwrap()), Some(123456789));
        assert_eq!(sent_ns(b"{}"), None);
    }
}
