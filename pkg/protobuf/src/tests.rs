//! Whole request bodies shaped like the ones kubectl's typed clients send, checked against their JSON.

use serde_json::{json, Value};

use crate::testenc::{body, Enc};
use crate::{decode_body, DecodeError};

/// ObjectMeta as Go writes it: every non-pointer field, zero or not, and an empty creationTimestamp.
fn object_meta(name: &str, namespace: &str, labels: &[(&str, &str)]) -> Enc {
    let mut meta = Enc::new()
        .str(1, name)
        .str(2, "")
        .str(3, namespace)
        .str(4, "")
        .str(5, "")
        .str(6, "")
        .int(7, 0)
        .msg(8, Enc::new());
    for (k, v) in labels {
        meta = meta.str_entry(11, k, v);
    }
    meta
}

/// A container as kubectl builds it from `--image`, with Go's zero-valued non-pointer fields.
fn container(name: &str, image: &str) -> Enc {
    Enc::new()
        .str(1, name)
        .str(2, image)
        .str(5, "")
        .msg(8, Enc::new())
        .str(13, "")
        .str(14, "")
        .bool(16, false)
        .bool(17, false)
        .bool(18, false)
        .str(20, "")
}

/// A PodSpec holding `containers`, with Go's zero-valued non-pointer fields around them.
fn pod_spec(containers: Vec<Enc>, extra: Enc) -> Enc {
    let mut spec = Enc::new();
    for c in containers {
        spec = spec.msg(2, c);
    }
    spec.str(3, "")
        .str(6, "")
        .str(8, "")
        .str(9, "")
        .str(10, "")
        .bool(11, false)
        .bool(12, false)
        .bool(13, false)
        .str(16, "")
        .str(17, "")
        .str(19, "")
        .str(24, "")
        .raw(&extra.finish())
}

/// `kubectl create deployment nginx --image=nginx:1.25 --replicas=2`.
fn nginx_deployment() -> Vec<u8> {
    let labels = [("app", "nginx")];
    let spec = Enc::new()
        .int(1, 2)
        .msg(2, Enc::new().str_entry(1, "app", "nginx"))
        .msg(3, Enc::new().msg(1, object_meta("", "", &labels)).msg(2, pod_spec(vec![container("nginx", "nginx:1.25")], Enc::new())))
        .msg(4, Enc::new().str(1, ""))
        .int(5, 0)
        .bool(7, false);
    let status = (1..=5).chain([7]).fold(Enc::new(), |s, tag| s.int(tag, 0));
    body("apps/v1", "Deployment", Enc::new().msg(1, object_meta("nginx", "", &labels)).msg(2, spec).msg(3, status))
}

#[test]
fn decodes_kubectl_shaped_objects() {
    let cases: Vec<(&str, Vec<u8>, Value)> = vec![
        (
            "create deployment",
            nginx_deployment(),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "nginx"}},
                    "template": {
                        "metadata": {"labels": {"app": "nginx"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "resources": {}}]}
                    },
                    "strategy": {}
                },
                "status": {}
            }),
        ),
        (
            "create namespace",
            body("v1", "Namespace", Enc::new().msg(1, object_meta("team-a", "", &[])).msg(2, Enc::new()).msg(3, Enc::new().str(1, ""))),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {}, "status": {}}),
        ),
        (
            "create configmap --from-literal",
            body(
                "v1",
                "ConfigMap",
                Enc::new().msg(1, object_meta("settings", "default", &[])).str_entry(2, "mode", "fast").str_entry(2, "empty", ""),
            ),
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "default"},
                "data": {"mode": "fast", "empty": ""}
            }),
        ),
        (
            "create secret generic",
            body(
                "v1",
                "Secret",
                Enc::new()
                    .msg(1, object_meta("creds", "", &[]))
                    .map_entry(2, "password", Enc::new().bytes(2, b"hunter2"))
                    .map_entry(2, "key", Enc::new().bytes(2, &[0xff, 0x00, 0x10]))
                    .str(3, "Opaque"),
            ),
            json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "creds"},
                "data": {"password": "aHVudGVyMg==", "key": "/wAQ"},
                "type": "Opaque"
            }),
        ),
        (
            "create service clusterip --tcp",
            body(
                "v1",
                "Service",
                Enc::new()
                    .msg(1, object_meta("web", "", &[("app", "web")]))
                    .msg(
                        2,
                        Enc::new()
                            .msg(1, Enc::new().str(1, "80-8080").str(2, "TCP").int(3, 80).msg(4, Enc::new().int(1, 0).int(2, 8080).str(3, "")).int(5, 0))
                            .msg(1, Enc::new().str(1, "https").str(2, "TCP").int(3, 443).msg(4, Enc::new().int(1, 1).int(2, 0).str(3, "https")).int(5, 0))
                            .str_entry(2, "app", "web")
                            .str(3, "")
                            .str(4, "ClusterIP")
                            .str(7, "")
                            .int(12, 0)
                            .bool(13, false),
                    )
                    .msg(3, Enc::new().msg(1, Enc::new())),
            ),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "ports": [
                        {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                        {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"}
                    ],
                    "selector": {"app": "web"},
                    "type": "ClusterIP"
                },
                "status": {"loadBalancer": {}}
            }),
        ),
        (
            "pod with probes, env, volumes, tolerations, affinity",
            body("v1", "Pod", Enc::new().msg(1, object_meta("web", "default", &[])).msg(2, rich_pod_spec()).msg(3, Enc::new().str(1, ""))),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "volumes": [{"name": "cfg", "configMap": {"name": "app-config", "defaultMode": 420}}],
                    "containers": [{
                        "name": "app", "image": "app:1",
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "env": [
                            {"name": "MODE", "value": "prod"},
                            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}
                        ],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                        "volumeMounts": [{"name": "cfg", "readOnly": true, "mountPath": "/etc/app"}],
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
                        "readinessProbe": {"exec": {"command": ["true"]}}
                    }],
                    "terminationGracePeriodSeconds": 0,
                    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]
                    }}}
                },
                "status": {}
            }),
        ),
        (
            "lease with micro times",
            body(
                "coordination.k8s.io/v1",
                "Lease",
                Enc::new().msg(1, object_meta("leader", "kube-system", &[])).msg(
                    2,
                    Enc::new().str(1, "node-1").int(2, 15).msg(4, Enc::new().int(1, 1_700_000_000).int(2, 123_456_789)),
                ),
            ),
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "leader", "namespace": "kube-system"},
                "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 15, "renewTime": "2023-11-14T22:13:20.123456Z"}
            }),
        ),
        (
            "delete options in any group version",
            body("apps/v1", "DeleteOptions", Enc::new().int(1, 0).str(4, "Foreground")),
            json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"}),
        ),
        (
            "empty raw object",
            body("v1", "ConfigMap", Enc::new()),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
        ),
    ];
    for (name, bytes, want) in cases {
        assert_eq!(decode_body(&bytes).unwrap(), want, "{name}");
    }
}

fn rich_pod_spec() -> Enc {
    let app = Enc::new()
        .str(1, "app")
        .str(2, "app:1")
        .msg(6, Enc::new().str(1, "").int(2, 0).int(3, 8080).str(4, "TCP").str(5, ""))
        .msg(7, Enc::new().str(1, "MODE").str(2, "prod"))
        .msg(7, Enc::new().str(1, "PASSWORD").str(2, "").msg(3, Enc::new().msg(4, Enc::new().msg(1, Enc::new().str(1, "creds")).str(2, "password"))))
        .msg(
            8,
            Enc::new()
                .map_entry(1, "cpu", Enc::new().msg(2, Enc::new().str(1, "500m")))
                .map_entry(1, "memory", Enc::new().msg(2, Enc::new().str(1, "128Mi"))),
        )
        .msg(9, Enc::new().str(1, "cfg").bool(2, true).str(3, "/etc/app").str(4, "").str(6, ""))
        .msg(
            10,
            Enc::new()
                .msg(1, Enc::new().msg(2, Enc::new().str(1, "/healthz").msg(2, Enc::new().int(1, 0).int(2, 8080)).str(3, "").str(4, "")))
                .int(2, 0)
                .int(3, 0)
                .int(4, 10),
        )
        .msg(11, Enc::new().msg(1, Enc::new().msg(1, Enc::new().str(1, "true"))));
    let extra = Enc::new()
        .int(4, 0)
        .msg(18, Enc::new().msg(1, Enc::new().msg(1, Enc::new().msg(1, Enc::new().msg(1, Enc::new().str(1, "zone").str(2, "In").str(3, "a").str(3, "b"))))))
        .msg(22, Enc::new().str(1, "node.kubernetes.io/not-ready").str(2, "Exists").str(3, "").str(4, "NoExecute").int(5, 300));
    let volume = Enc::new().str(1, "cfg").msg(2, Enc::new().msg(19, Enc::new().msg(1, Enc::new().str(1, "app-config")).int(3, 420)));
    Enc::new().msg(1, volume).raw(&pod_spec(vec![app], extra).finish())
}

#[test]
fn rejects_bad_bodies() {
    let deployment = nginx_deployment();
    let gzip = {
        let unknown = Enc::new().msg(1, Enc::new().str(1, "v1").str(2, "Namespace")).msg(2, Enc::new()).str(3, "gzip");
        [b"k8s\0".as_slice(), &unknown.finish()].concat()
    };
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        ("empty", vec![], DecodeError::BadMagic),
        ("json", br#"{"kind":"Namespace"}"#.to_vec(), DecodeError::BadMagic),
        ("wrong magic", [b"k9s\0".as_slice(), &deployment[4..]].concat(), DecodeError::BadMagic),
        ("magic only", b"k8s\0".to_vec(), DecodeError::MissingKind),
        ("gzip", gzip, DecodeError::UnsupportedEncoding("gzip".into())),
        (
            "unknown kind",
            body("example.com/v1", "Widget", Enc::new()),
            DecodeError::UnsupportedKind { api_version: "example.com/v1".into(), kind: "Widget".into() },
        ),
        (
            "envelope typeMeta as a number",
            [b"k8s\0".as_slice(), &[0x08, 0x01]].concat(),
            DecodeError::malformed("envelope field typeMeta has wire type 0, expected 2"),
        ),
    ];
    for (name, bytes, want) in cases {
        assert_eq!(decode_body(&bytes).unwrap_err(), want, "{name}");
    }
}

#[test]
fn truncated_bodies_say_so() {
    // Cutting the trailing contentEncoding/contentType (4 bytes) and 2 bytes of the object.
    let deployment = nginx_deployment();
    let err = decode_body(&deployment[..deployment.len() - 6]).unwrap_err().to_string();
    let numbers: Vec<usize> = err.split(' ').filter_map(|w| w.parse().ok()).collect();
    assert!(err.starts_with("invalid protobuf body: field 2 claims "), "{err}");
    assert!(matches!(numbers[..], [2, claimed, left] if claimed == left + 2), "{err}");
}

#[test]
fn truncated_object_names_the_field() {
    // The object ends in the middle of metadata.name: the inner length runs past its message.
    let meta = Enc::new().raw(&[0x0a, 0x09, b'n', b'g']);
    let err = decode_body(&body("v1", "Namespace", Enc::new().msg(1, meta))).unwrap_err();
    assert_eq!(err.to_string(), "invalid protobuf body at metadata: field 1 claims 9 bytes but only 2 remain");
}

#[test]
fn never_panics_on_damaged_input() {
    let deployment = nginx_deployment();
    for end in 0..deployment.len() {
        let _ = decode_body(&deployment[..end]);
    }
    for at in 4..deployment.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut damaged = deployment.clone();
            damaged[at] ^= flip;
            let _ = decode_body(&damaged);
        }
    }
}
