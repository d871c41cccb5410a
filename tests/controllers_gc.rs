//! The garbage collector and the API server's propagationPolicy end to end, through the real
//! kubectl: background, orphan and foreground deletion of a ReplicaSet and its pods, owners of
//! any served kind, references to owners that never existed, and DeleteOptions validation. No
//! kubelet: pods are never bound, so they go at once unless a finalizer holds them.

mod common;

use std::time::{Duration, Instant};

use common::{namespace, shared, wait_until, Cluster};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn json(c: &Cluster, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&c.ok(&a)).expect("kubectl -o json")
}

fn exists(c: &Cluster, ns: &str, what: &str) -> bool {
    let out = c.kubectl(&["get", what, "-n", ns, "--ignore-not-found", "-o", "name"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

fn pods(c: &Cluster, ns: &str) -> Vec<Value> {
    json(c, &["get", "pods", "-n", ns])["items"].as_array().unwrap().clone()
}

/// How many owner references an object has. (Upstream omits an emptied list; corekube's
/// strategic merge patch leaves `[]` for now, which counts as none here.)
fn owner_references(obj: &Value) -> usize {
    obj["metadata"]["ownerReferences"].as_array().map_or(0, Vec::len)
}

fn uid(c: &Cluster, ns: &str, what: &str) -> String {
    json(c, &["get", what, "-n", ns])["metadata"]["uid"].as_str().unwrap().to_string()
}

/// A ReplicaSet of `replicas` pods, and its pods once the controller made them all.
fn replicaset(c: &Cluster, ns: &str, name: &str, replicas: usize) -> Vec<Value> {
    let manifest = format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        image: busybox:1.35\n"
    );
    c.ok_stdin(&["create", "-f", "-"], &manifest);
    wait_until(WAIT, "the ReplicaSet's pods", || pods(c, ns).len() == replicas);
    let rs_uid = uid(c, ns, &format!("rs/{name}"));
    let pods = pods(c, ns);
    for p in &pods {
        assert_eq!(p["metadata"]["ownerReferences"][0]["uid"], rs_uid.as_str(), "{p}");
        assert_eq!(p["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
    }
    pods
}

fn configmap(c: &Cluster, ns: &str, name: &str, owners: &[(&str, &str, &str, &str)]) {
    let refs: Vec<Value> =
        owners.iter().map(|(api_version, kind, owner, uid)| serde_json::json!({"apiVersion": api_version, "kind": kind, "name": owner, "uid": uid})).collect();
    let mut cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}});
    if !refs.is_empty() {
        cm["metadata"]["ownerReferences"] = Value::Array(refs);
    }
    c.ok_stdin(&["create", "-f", "-"], &cm.to_string());
}

const MISSING_UID: &str = "6d1b7c1e-95a4-4d4b-9a57-000000000001";

#[test]
fn background_deletion_removes_the_replicasets_pods() {
    let c = shared();
    let ns = namespace(c, "gc-background");
    replicaset(c, &ns, "web", 3);
    // kubectl's default cascade is background: the ReplicaSet goes at once, its pods after.
    c.ok(&["delete", "rs", "web", "-n", &ns, "--timeout=30s"]);
    assert!(!exists(c, &ns, "rs/web"));
    let start = Instant::now();
    wait_until(WAIT, "the pods to be collected", || pods(c, &ns).is_empty());
    eprintln!("pods collected {:?} after their ReplicaSet", start.elapsed());
}

#[test]
fn deleting_a_deployment_removes_its_replicasets_and_their_pods() {
    let c = shared();
    let ns = namespace(c, "gc-deployment");
    c.ok(&["create", "deployment", "web", "--image=busybox:1.35", "--replicas=2", "-n", &ns]);
    wait_until(WAIT, "the Deployment's pods", || pods(c, &ns).len() == 2);
    c.ok(&["delete", "deployment", "web", "-n", &ns, "--timeout=30s"]);
    wait_until(WAIT, "its ReplicaSet and pods to be collected", || !exists(c, &ns, "rs") && pods(c, &ns).is_empty());
}

#[test]
fn foreground_deletion_of_a_deployment_goes_down_the_chain() {
    let c = shared();
    let ns = namespace(c, "gc-deployment-fg");
    c.ok(&["create", "deployment", "web", "--image=busybox:1.35", "--replicas=2", "-n", &ns]);
    wait_until(WAIT, "the Deployment's pods", || pods(c, &ns).len() == 2);
    // The ReplicaSet is deleted in the foreground too (it has dependents), its pods first.
    let start = Instant::now();
    c.ok(&["delete", "deployment", "web", "-n", &ns, "--cascade=foreground", "--timeout=30s"]);
    eprintln!("foreground delete of a Deployment with 2 pods took {:?}", start.elapsed());
    assert!(!exists(c, &ns, "rs") && pods(c, &ns).is_empty());
}

#[test]
fn orphan_deletion_keeps_the_pods_and_drops_their_references() {
    let c = shared();
    let ns = namespace(c, "gc-orphan");
    let before = replicaset(c, &ns, "web", 2);
    let start = Instant::now();
    // kubectl waits until the ReplicaSet is gone: after the collector removed its finalizer.
    c.ok(&["delete", "rs", "web", "-n", &ns, "--cascade=orphan", "--timeout=30s"]);
    eprintln!("orphaning delete returned after {:?}", start.elapsed());
    assert!(!exists(c, &ns, "rs/web"));
    let after = pods(c, &ns);
    assert_eq!(after.len(), 2, "the pods stay");
    for p in &after {
        assert_eq!(owner_references(p), 0, "{p}");
        assert!(before.iter().any(|b| b["metadata"]["uid"] == p["metadata"]["uid"]), "the same pods");
    }
    // Nothing adopts or collects them later either.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(pods(c, &ns).len(), 2);
}

#[test]
fn foreground_deletion_removes_the_pods_first_and_the_replicaset_last() {
    let c = shared();
    let ns = namespace(c, "gc-foreground");
    let pods_before = replicaset(c, &ns, "web", 2);
    // One pod held by a finalizer of ours: the ReplicaSet must wait for it.
    let held = pods_before[0]["metadata"]["name"].as_str().unwrap().to_string();
    let other = pods_before[1]["metadata"]["name"].as_str().unwrap().to_string();
    c.ok(&["patch", "pod", &held, "-n", &ns, "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    c.ok(&["delete", "rs", "web", "-n", &ns, "--cascade=foreground", "--wait=false"]);

    wait_until(WAIT, "the unheld pod to go", || !exists(c, &ns, &format!("pod/{other}")));
    let pod = json(c, &["get", "pod", &held, "-n", &ns]);
    assert!(pod["metadata"]["deletionTimestamp"].is_string(), "the held pod is being deleted: {pod}");
    let rs = json(c, &["get", "rs", "web", "-n", &ns]);
    assert!(rs["metadata"]["deletionTimestamp"].is_string(), "{rs}");
    assert_eq!(rs["metadata"]["finalizers"], serde_json::json!(["foregroundDeletion"]));
    // Still there a moment later: a blocking dependent remains.
    std::thread::sleep(Duration::from_millis(500));
    assert!(exists(c, &ns, "rs/web"));
    assert_eq!(pods(c, &ns).len(), 1, "no replacement pod for a ReplicaSet being deleted");

    c.ok(&["patch", "pod", &held, "-n", &ns, "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]);
    let start = Instant::now();
    wait_until(WAIT, "the ReplicaSet to go after its last pod", || !exists(c, &ns, "rs/web"));
    eprintln!("ReplicaSet gone {:?} after its last pod's finalizer was removed", start.elapsed());
    assert!(pods(c, &ns).is_empty());
}

#[test]
fn a_second_delete_switches_foreground_to_orphan() {
    let c = shared();
    let ns = namespace(c, "gc-switch");
    let pods_before = replicaset(c, &ns, "web", 1);
    let held = pods_before[0]["metadata"]["name"].as_str().unwrap().to_string();
    // A finalizer on the ReplicaSet itself keeps it observable through both deletes.
    c.ok(&["patch", "rs", "web", "-n", &ns, "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    c.ok(&["patch", "pod", &held, "-n", &ns, "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    c.ok(&["delete", "rs", "web", "-n", &ns, "--cascade=foreground", "--wait=false"]);
    wait_until(WAIT, "the held pod to be deleted", || pods(c, &ns)[0]["metadata"]["deletionTimestamp"].is_string());
    // The pod is going anyway; orphaning now takes the reference off it and lets the
    // ReplicaSet's own finalizer decide.
    c.ok(&["delete", "rs", "web", "-n", &ns, "--cascade=orphan", "--wait=false"]);
    wait_until(WAIT, "the ReplicaSet to keep only our finalizer", || {
        json(c, &["get", "rs", "web", "-n", &ns])["metadata"]["finalizers"] == serde_json::json!(["example.com/hold"])
    });
    assert_eq!(owner_references(&pods(c, &ns)[0]), 0);
    c.ok(&["patch", "pod", &held, "-n", &ns, "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]);
    c.ok(&["patch", "rs", "web", "-n", &ns, "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]);
    wait_until(WAIT, "both gone", || !exists(c, &ns, "rs/web") && pods(c, &ns).is_empty());
}

#[test]
fn an_object_of_any_kind_goes_with_its_owner() {
    let c = shared();
    let ns = namespace(c, "gc-configmaps");
    configmap(c, &ns, "owner", &[]);
    let owner_uid = uid(c, &ns, "cm/owner");
    configmap(c, &ns, "dependent", &[("v1", "ConfigMap", "owner", &owner_uid)]);
    configmap(c, &ns, "grandchild", &[]);
    let dependent_uid = uid(c, &ns, "cm/dependent");
    c.ok(&[
        "patch",
        "cm",
        "grandchild",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        &format!(r#"{{"metadata":{{"ownerReferences":[{{"apiVersion":"v1","kind":"ConfigMap","name":"dependent","uid":"{dependent_uid}"}}]}}}}"#),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(exists(c, &ns, "cm/dependent") && exists(c, &ns, "cm/grandchild"), "owners present: nothing collected");
    c.ok(&["delete", "cm", "owner", "-n", &ns]);
    wait_until(WAIT, "the dependent and its own dependent to go", || !exists(c, &ns, "cm/dependent") && !exists(c, &ns, "cm/grandchild"));
}

#[test]
fn references_to_owners_that_do_not_exist() {
    let c = shared();
    let ns = namespace(c, "gc-missing");
    configmap(c, &ns, "real-owner", &[]);
    let real = uid(c, &ns, "cm/real-owner");
    // An unknown kind: upstream retries until discovery knows it, and deletes nothing meanwhile.
    configmap(c, &ns, "unknown-kind", &[("example.com/v1", "Widget", "w", "6d1b7c1e-95a4-4d4b-9a57-000000000002")]);
    configmap(c, &ns, "orphaned", &[("v1", "ConfigMap", "ghost", MISSING_UID)]);
    configmap(c, &ns, "half", &[("v1", "ConfigMap", "real-owner", &real), ("v1", "ConfigMap", "ghost", MISSING_UID)]);
    // Same name, another uid: absent too.
    configmap(c, &ns, "stale", &[("v1", "ConfigMap", "real-owner", MISSING_UID)]);
    wait_until(WAIT, "the dependents of missing owners to go", || !exists(c, &ns, "cm/orphaned") && !exists(c, &ns, "cm/stale"));
    wait_until(WAIT, "the reference to the missing owner to go", || owner_references(&json(c, &["get", "cm", "half", "-n", &ns])) == 1);
    let half = json(c, &["get", "cm", "half", "-n", &ns]);
    assert_eq!(half["metadata"]["ownerReferences"][0]["uid"], real.as_str());
    assert!(exists(c, &ns, "cm/unknown-kind"), "an owner of an unknown kind is not known to be absent");
}

#[test]
fn foreground_deletion_of_an_owner_without_dependents_completes() {
    let c = shared();
    let ns = namespace(c, "gc-alone");
    configmap(c, &ns, "alone", &[]);
    let start = Instant::now();
    c.ok(&["delete", "cm", "alone", "-n", &ns, "--cascade=foreground", "--timeout=30s"]);
    eprintln!("foreground delete of an owner without dependents took {:?}", start.elapsed());
    assert!(!exists(c, &ns, "cm/alone"));
}

#[tokio::test]
async fn delete_options_are_validated_as_upstream() {
    let c = shared();
    let ns = namespace(c, "gc-options");
    configmap(c, &ns, "x", &[]);
    let path = format!("/api/v1/namespaces/{ns}/configmaps/x");
    let body = serde_json::json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan", "orphanDependents": true});
    let (status, out) = c.raw("DELETE", &path, Some("application/json"), body.to_string().into_bytes()).await;
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["reason"], "Invalid");
    assert_eq!(
        out["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Orphan\": orphanDependents and deletionPropagation cannot be both set"
    );
    let (status, out) = c.raw("DELETE", &format!("{path}?propagationPolicy=Sideways"), None, vec![]).await;
    assert_eq!(status, 422, "{out}");
    // The query's policy applies without a body: an orphaning delete of a configmap with no
    // dependents completes once the collector removed the finalizer; a dry run writes nothing.
    let (status, out) = c.raw("DELETE", &format!("{path}?propagationPolicy=Orphan&dryRun=All"), None, vec![]).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["metadata"]["finalizers"], serde_json::json!(["orphan"]));
    assert!(exists(c, &ns, "cm/x") && json(c, &["get", "cm", "x", "-n", &ns])["metadata"].get("deletionTimestamp").is_none());
    let (status, out) = c.raw("DELETE", &format!("{path}?propagationPolicy=Orphan"), None, vec![]).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["metadata"]["finalizers"], serde_json::json!(["orphan"]));
    wait_until(WAIT, "the orphaned configmap to go", || !exists(c, &ns, "cm/x"));
}
