//! The namespace lifecycle and service account controllers, through the real kubectl: deleting
//! a namespace empties it and then removes it, finalizers on its content hold it (and say so in
//! its conditions), and every namespace gets its `default` ServiceAccount and `kube-root-ca.crt`.

mod common;

use std::time::{Duration, Instant};

use common::{wait_until, Cluster};

/// How long a namespace with nothing holding its content may take to go away.
const DELETION_BOUND: Duration = Duration::from_secs(30);

fn gone(c: &Cluster, ns: &str) -> bool {
    let out = c.kubectl(&["get", "namespace", ns]);
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound")
}

fn namespace_json(c: &Cluster, ns: &str) -> serde_json::Value {
    serde_json::from_str(&c.ok(&["get", "namespace", ns, "-o", "json"])).unwrap()
}

fn condition(ns: &serde_json::Value, type_: &str) -> Option<serde_json::Value> {
    ns["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_).cloned()
}

#[test]
fn deleting_a_namespace_removes_its_content_and_then_itself() {
    let c = common::shared();
    let ns = common::namespace(c, "ns-delete");
    for i in 0..3 {
        c.ok(&["create", "configmap", &format!("cm-{i}"), "-n", &ns, "--from-literal=k=v"]);
    }
    c.ok(&["create", "secret", "generic", "creds", "-n", &ns, "--from-literal=password=x"]);
    let rs = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: c\n        image: busybox:1.35\n";
    c.ok_stdin(&["create", "-n", &ns, "-f", "-"], rs);
    wait_until(Duration::from_secs(20), "the ReplicaSet's two pods", || c.ok(&["get", "pods", "-n", &ns, "-o", "name"]).lines().count() == 2);

    let started = Instant::now();
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
    wait_until(DELETION_BOUND, "the namespace to be gone", || gone(c, &ns));
    eprintln!("namespace with 3 configmaps, a secret, a ReplicaSet and 2 pods gone in {:?}", started.elapsed());
    // Nothing of it is left behind in storage.
    for kind in ["configmaps", "secrets", "replicasets", "pods", "serviceaccounts"] {
        let left = c.ok(&["get", kind, "-n", &ns, "-o", "name"]);
        assert!(left.trim().is_empty(), "{kind} left in the deleted namespace {ns}: {left}");
    }
}

#[test]
fn content_finalizers_hold_the_namespace_and_are_named_in_its_conditions() {
    let c = common::shared();
    let ns = common::namespace(c, "ns-finalizer");
    let held = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/x]\ndata: {k: v}\n";
    c.ok_stdin(&["create", "-n", &ns, "-f", "-"], held);
    c.ok(&["create", "configmap", "free", "-n", &ns, "--from-literal=k=v"]);
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);

    wait_until(Duration::from_secs(20), "NamespaceFinalizersRemaining to be True", || {
        condition(&namespace_json(c, &ns), "NamespaceFinalizersRemaining").is_some_and(|c| c["status"] == "True")
    });
    let status = namespace_json(c, &ns);
    assert_eq!(status["status"]["phase"], "Terminating");
    let finalizers = condition(&status, "NamespaceFinalizersRemaining").unwrap();
    assert_eq!(finalizers["reason"], "SomeFinalizersRemain");
    assert_eq!(finalizers["message"], "Some content in the namespace has finalizers remaining: example.com/x in 1 resource instances");
    let remaining = condition(&status, "NamespaceContentRemaining").unwrap();
    assert_eq!(remaining["status"], "True");
    assert_eq!(remaining["reason"], "SomeResourcesRemain");
    assert_eq!(remaining["message"], "Some resources are remaining: configmaps. has 1 resource instances");
    for (type_, reason) in [
        ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions"),
        ("NamespaceDeletionContentFailure", "ContentDeleted"),
    ] {
        let cond = condition(&status, type_).unwrap_or_else(|| panic!("{type_} missing: {status}"));
        assert_eq!((cond["status"].as_str(), cond["reason"].as_str()), (Some("False"), Some(reason)), "{type_}");
    }
    assert_eq!(status["spec"]["finalizers"], serde_json::json!(["kubernetes"]));
    // The free content is gone; the held one waits, marked for deletion; nothing new may enter.
    assert_eq!(c.ok(&["get", "configmaps", "-n", &ns, "-o", "name"]).trim(), "configmap/held");
    let refused = c.fails(&["create", "configmap", "late", "-n", &ns]);
    assert!(refused.contains("because it is being terminated"), "{refused}");

    let started = Instant::now();
    c.ok(&["patch", "configmap", "held", "-n", &ns, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    wait_until(DELETION_BOUND, "the namespace to be gone once the finalizer is removed", || gone(c, &ns));
    eprintln!("namespace gone {:?} after its last finalizer was removed", started.elapsed());
}

/// The CA certificate (PEM) of the cluster in the admin kubeconfig.
fn kubeconfig_ca(c: &Cluster) -> String {
    let data = c.ok(&["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"]);
    let bytes: k8s_openapi::ByteString = serde_json::from_value(serde_json::Value::String(data.trim().to_string())).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

#[test]
fn every_namespace_gets_its_default_service_account_and_root_ca() {
    let c = common::shared();
    let ns = common::namespace(c, "ns-sa");
    let bound = Duration::from_secs(10);
    let exists = |what: &str| c.kubectl(&["get", what, "-n", &ns]).status.success();
    wait_until(bound, "serviceaccount/default", || exists("serviceaccount/default"));
    wait_until(bound, "configmap/kube-root-ca.crt", || exists("configmap/kube-root-ca.crt"));

    let ca = kubeconfig_ca(c);
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let ca_of = || c.ok(&["get", "configmap", "kube-root-ca.crt", "-n", &ns, "-o", r"jsonpath={.data.ca\.crt}"]);
    assert_eq!(ca_of(), ca);
    let description = c.ok(&["get", "configmap", "kube-root-ca.crt", "-n", &ns, "-o", r"jsonpath={.metadata.annotations.kubernetes\.io/description}"]);
    assert_eq!(
        description,
        "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
    );

    // Deleted: created again (a new object); edited: reset.
    let uid = |what: &str| c.kubectl(&["get", what, "-n", &ns, "-o", "jsonpath={.metadata.uid}"]);
    let sa_uid = String::from_utf8(uid("serviceaccount/default").stdout).unwrap();
    c.ok(&["delete", "serviceaccount", "default", "-n", &ns]);
    wait_until(bound, "serviceaccount/default to come back", || {
        let out = uid("serviceaccount/default");
        out.status.success() && String::from_utf8_lossy(&out.stdout) != sa_uid
    });
    let cm_uid = String::from_utf8(uid("configmap/kube-root-ca.crt").stdout).unwrap();
    c.ok(&["delete", "configmap", "kube-root-ca.crt", "-n", &ns]);
    wait_until(bound, "configmap/kube-root-ca.crt to come back", || {
        let out = uid("configmap/kube-root-ca.crt");
        out.status.success() && String::from_utf8_lossy(&out.stdout) != cm_uid
    });
    assert_eq!(ca_of(), ca);
    c.ok(&["patch", "configmap", "kube-root-ca.crt", "-n", &ns, "--type=merge", "-p", r#"{"data":{"ca.crt":"edited"}}"#]);
    wait_until(bound, "the edited ca.crt to be reset", || ca_of() == ca);

    // The system namespaces have theirs too.
    for system in ["default", "kube-system", "kube-public"] {
        wait_until(bound, "the system namespaces' root CA", || c.kubectl(&["get", "configmap/kube-root-ca.crt", "-n", system]).status.success());
        wait_until(bound, "the system namespaces' default ServiceAccount", || {
            c.kubectl(&["get", "serviceaccount/default", "-n", system]).status.success()
        });
    }
}
