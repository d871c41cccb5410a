//! Rough CPU cost of each typed step of a pod create, on a pod like the benchmark's
//! (run with `cargo run --release -p corekube-api --example create_cost`). Figures are
//! single-threaded with warm caches, so a loaded server spends more on each (the pod create
//! benchmark at 64 clients measured about 310 us of server CPU per pod; these steps and the
//! managedFields bookkeeping, `corekube-fieldmanager`'s `update_cost`, add up to about 55 us).
use std::hint::black_box;
use std::time::Instant;

use corekube_api::decode::{self, BodyFormat};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pod-1", "namespace": "bench", "labels": {"app": "web", "tier": "frontend", "bench-group": "g1", "pod-template-hash": "7d4b9c8f6d"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9102"}},
        "spec": {
            "containers": [
                {"name": "web", "image": "registry.example.com/team/web:1.27.3", "imagePullPolicy": "IfNotPresent",
                 "args": ["--port=8080", "--metrics-port=9102", "--log-format=json"],
                 "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"name": "metrics", "containerPort": 9102, "protocol": "TCP"}],
                 "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                         {"name": "LOG_LEVEL", "value": "info"}, {"name": "CACHE_SIZE_MB", "value": "128"}],
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5, "timeoutSeconds": 1},
                 "livenessProbe": {"httpGet": {"path": "/livez", "port": 8080}, "initialDelaySeconds": 10, "periodSeconds": 10},
                 "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": true}, {"name": "cache", "mountPath": "/var/cache/web"}],
                 "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false}},
                {"name": "log-shipper", "image": "registry.example.com/infra/log-shipper:2.4.0", "args": ["--input=/var/log/web", "--output=stdout"],
                 "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
                 "volumeMounts": [{"name": "cache", "mountPath": "/var/log/web", "readOnly": true}]}
            ],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}, {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}],
            "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}}]}}
        }
    })
}

/// Mean microseconds per call of `f` over `n` calls.
fn time<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    black_box(f());
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let n = 5000;
    let body = serde_json::to_vec(&pod()).unwrap();
    let parsed = decode::parse_body(&body, BodyFormat::Json).unwrap().value;
    let normalized = decode::typed::<Pod>(parsed.clone()).unwrap().value;
    let mut defaulted = normalized.clone();
    corekube_api::defaults::apply_defaults("", "Pod", &mut defaulted);

    println!("pod body: {} bytes, {} after defaults", body.len(), serde_json::to_vec(&defaulted).unwrap().len());
    println!("parse body (duplicate check):  {:6.1} us", time(n, || decode::parse_body(&body, BodyFormat::Json).unwrap()));
    println!("normalize through the type:    {:6.1} us", time(n, || decode::typed::<Pod>(parsed.clone()).unwrap()));
    println!("  of which cloning the input:  {:6.1} us", time(n, || parsed.clone()));
    println!("defaults:                      {:6.1} us", time(n, || {
        let mut v = normalized.clone();
        corekube_api::defaults::apply_defaults("", "Pod", &mut v);
        v
    }));
    println!("validation:                    {:6.1} us", time(n, || {
        let mut v = defaulted.clone();
        corekube_api::validation::validate_create("", "Pod", &mut v)
    }));
    println!("  of which cloning the input:  {:6.1} us", time(n, || defaulted.clone()));
    println!("encode for storage:            {:6.1} us", time(n, || serde_json::to_vec(&defaulted).unwrap()));
}
