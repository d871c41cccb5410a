//! End-to-end behaviour of the field manager on real kinds, mirroring upstream's fieldmanager
//! tests and the server-side apply documentation.

use serde_json::{json, Value};

use crate::*;

const T0: &str = "2025-01-01T00:00:00Z";
const T1: &str = "2025-01-01T00:01:00Z";
const T2: &str = "2025-01-01T00:02:00Z";

fn deployments() -> FieldManager {
    FieldManager::new("apps", "v1", "Deployment", "", reset_fields("apps", "Deployment", "", true))
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    })
}

/// As the storage layer would keep it: with a uid.
fn stored(mut obj: Value) -> Value {
    obj["metadata"]["uid"] = json!("5f0c1a2b-0000-4000-8000-000000000001");
    obj["metadata"]["resourceVersion"] = json!("1");
    obj
}

fn entry<'v>(obj: &'v Value, manager: &str) -> Option<&'v Value> {
    obj["metadata"]["managedFields"].as_array()?.iter().find(|e| e["manager"] == manager)
}

fn owned(obj: &Value, manager: &str) -> Vec<String> {
    entry(obj, manager)
        .map(|e| FieldSet::from_fields_v1(&e["fieldsV1"]).unwrap().paths().iter().map(|p| p.to_string()).collect())
        .unwrap_or_default()
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["manager"].as_str().unwrap().to_string(), e["operation"].as_str().unwrap().to_string()))
        .collect()
}

fn conflicts(r: Result<Value, Error>) -> Conflicts {
    match r {
        Err(Error::Conflicts(c)) => c,
        other => panic!("expected conflicts, got {other:?}"),
    }
}

#[test]
fn apply_create_owns_exactly_the_config() {
    let obj = deployments().apply(&json!({}), &deployment(3, "nginx:1.14.2"), "kubectl", false, T0).unwrap();
    let mf = obj["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(mf.len(), 1);
    assert_eq!(mf[0]["manager"], "kubectl");
    assert_eq!(mf[0]["operation"], "Apply");
    assert_eq!(mf[0]["apiVersion"], "apps/v1");
    assert_eq!(mf[0]["time"], T0);
    assert_eq!(mf[0]["fieldsType"], "FieldsV1");
    let set = FieldSet::from_fields_v1(&mf[0]["fieldsV1"]).unwrap();
    assert_eq!(
        set.to_fields_v1_string(),
        r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}"#
    );
    let mut without = obj.clone();
    without["metadata"].as_object_mut().unwrap().remove("managedFields");
    assert_eq!(without, deployment(3, "nginx:1.14.2"));
}

#[test]
fn apply_conflicts_with_updater_then_force_takes_over() {
    let fm = deployments();
    let live = stored(fm.apply(&json!({}), &deployment(3, "nginx"), "kubectl", false, T0).unwrap());
    // A controller scales the deployment.
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let live = fm.update(Some(&live), &scaled, "kube-controller-manager", T1).unwrap();
    assert_eq!(owned(&live, "kube-controller-manager"), [".spec.replicas"]);
    assert!(!owned(&live, "kubectl").contains(&".spec.replicas".to_string()), "appliers lose changed fields");
    assert_eq!(entry(&live, "kube-controller-manager").unwrap()["time"], T1);

    let c = conflicts(fm.apply(&live, &deployment(3, "nginx"), "kubectl", false, T2));
    assert_eq!(c.message(), r#"Apply failed with 1 conflict: conflict with "kube-controller-manager" using apps/v1: .spec.replicas"#);
    assert_eq!(c.causes()[0].message, r#"conflict with "kube-controller-manager" using apps/v1"#);
    assert_eq!(c.causes()[0].field, ".spec.replicas");

    // Applying the live value is no conflict: the field becomes shared.
    let shared = fm.apply(&live, &deployment(5, "nginx"), "kubectl", false, T2).unwrap();
    assert!(owned(&shared, "kubectl").contains(&".spec.replicas".to_string()));
    assert_eq!(owned(&shared, "kube-controller-manager"), [".spec.replicas"]);

    let forced = fm.apply(&live, &deployment(3, "nginx"), "kubectl", true, T2).unwrap();
    assert_eq!(forced["spec"]["replicas"], 3);
    assert_eq!(managers(&forced), [("kubectl".to_string(), "Apply".to_string())]);
}

#[test]
fn conflicts_between_appliers_list_every_field() {
    let fm = deployments();
    let live = stored(fm.apply(&json!({}), &deployment(3, "nginx:1"), "alice", false, T0).unwrap());
    let c = conflicts(fm.apply(&live, &deployment(4, "nginx:2"), "bob", false, T1));
    assert_eq!(
        c.message(),
        "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );
    assert_eq!(c.causes()[1].field, r#".spec.template.spec.containers[name="nginx"].image"#);
}

#[test]
fn reapply_removes_what_is_no_longer_applied() {
    let fm = deployments();
    let mut cfg = deployment(3, "nginx");
    cfg["metadata"]["labels"]["tier"] = json!("web");
    cfg["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "nginx", "image": "nginx", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "sidecar", "image": "busybox"},
    ]);
    let live = stored(fm.apply(&json!({}), &cfg, "kubectl", false, T0).unwrap());
    // Someone else also claims the tier label.
    let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "labels": {"tier": "web"}}});
    let live = fm.apply(&live, &other, "labeler", false, T1).unwrap();

    let mut next = deployment(3, "nginx");
    next["spec"]["template"]["spec"]["containers"] = json!([{"name": "nginx", "image": "nginx", "env": [{"name": "A", "value": "1"}]}]);
    let out = fm.apply(&live, &next, "kubectl", false, T2).unwrap();
    assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([{"name": "nginx", "image": "nginx", "env": [{"name": "A", "value": "1"}]}]));
    assert_eq!(out["metadata"]["labels"], json!({"app": "nginx", "tier": "web"}), "labels owned by another applier stay");

    // Once nobody applies it, the label goes too.
    let gone = fm.apply(&out, &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"}}), "labeler", false, T2).unwrap();
    assert_eq!(gone["metadata"]["labels"], json!({"app": "nginx"}));
    assert_eq!(managers(&gone), [("kubectl".to_string(), "Apply".to_string())]);
}

#[test]
fn fields_set_by_updaters_survive_an_appliers_removal() {
    let fm = deployments();
    let mut cfg = deployment(3, "nginx");
    cfg["metadata"]["labels"]["tier"] = json!("web");
    let live = stored(fm.apply(&json!({}), &cfg, "kubectl", false, T0).unwrap());
    let mut edited = live.clone();
    edited["metadata"]["labels"]["tier"] = json!("db");
    let live = fm.update(Some(&live), &edited, "kubectl-edit", T1).unwrap();
    let out = fm.apply(&live, &deployment(3, "nginx"), "kubectl", false, T2).unwrap();
    assert_eq!(out["metadata"]["labels"]["tier"], "db");
}

#[test]
fn list_map_with_two_keys() {
    let fm = deployments();
    let mut cfg = deployment(1, "dns");
    cfg["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([
        {"containerPort": 53, "protocol": "TCP"},
        {"containerPort": 53, "protocol": "UDP"},
    ]);
    let live = stored(fm.apply(&json!({}), &cfg, "kubectl", false, T0).unwrap());
    let paths = owned(&live, "kubectl");
    assert!(paths.contains(&r#".spec.template.spec.containers[name="nginx"].ports[containerPort=53,protocol="UDP"].protocol"#.to_string()));
    let fields = entry(&live, "kubectl").unwrap()["fieldsV1"].to_string();
    assert!(fields.contains(r#"k:{\"containerPort\":53,\"protocol\":\"TCP\"}"#), "{fields}");

    cfg["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"containerPort": 53, "protocol": "UDP"}]);
    let out = fm.apply(&live, &cfg, "kubectl", false, T1).unwrap();
    assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["ports"], json!([{"containerPort": 53, "protocol": "UDP"}]));
}

#[test]
fn sets_union_and_prune_per_element() {
    let cms = FieldManager::new("", "v1", "ConfigMap", "", FieldSet::new());
    let cm = |fins: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": fins}});
    let live = stored(cms.apply(&json!({}), &cm(json!(["a.io/x"])), "a", false, T0).unwrap());
    let live = cms.apply(&live, &cm(json!(["b.io/y"])), "b", false, T1).unwrap();
    assert_eq!(live["metadata"]["finalizers"], json!(["a.io/x", "b.io/y"]));
    assert_eq!(owned(&live, "b"), [r#".metadata.finalizers[="b.io/y"]"#]);
    let fields = entry(&live, "b").unwrap()["fieldsV1"].clone();
    assert_eq!(fields, json!({"f:metadata": {"f:finalizers": {"v:\"b.io/y\"": {}}}}));
    let out = cms.apply(&live, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}), "a", false, T2).unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b.io/y"]));
}

#[test]
fn atomic_lists_are_owned_and_replaced_whole() {
    let fm = deployments();
    let mut cfg = deployment(1, "busybox");
    cfg["spec"]["template"]["spec"]["containers"][0]["command"] = json!(["sh", "-c", "sleep 1"]);
    let live = stored(fm.apply(&json!({}), &cfg, "a", false, T0).unwrap());
    let cmd = r#".spec.template.spec.containers[name="nginx"].command"#;
    assert!(owned(&live, "a").contains(&cmd.to_string()));
    assert!(!owned(&live, "a").iter().any(|p| p.starts_with(&format!("{cmd}["))));

    let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"},
        "spec": {"template": {"spec": {"containers": [{"name": "nginx", "command": ["true"]}]}}}});
    let c = conflicts(fm.apply(&live, &other, "b", false, T1));
    assert_eq!(c.0.len(), 1);
    assert_eq!(c.0[0].path.to_string(), cmd);
    let out = fm.apply(&live, &other, "b", true, T1).unwrap();
    assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["command"], json!(["true"]));
    assert!(!owned(&out, "a").contains(&cmd.to_string()));
}

#[test]
fn create_and_update_bookkeeping() {
    let cms = FieldManager::new("", "v1", "ConfigMap", "", FieldSet::new());
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default", "labels": {"a": "1"}}, "data": {"x": "1", "y": "2"}});
    let created = cms.update(None, &cm, "kubectl-create", T0).unwrap();
    assert_eq!(
        entry(&created, "kubectl-create").unwrap()["fieldsV1"],
        json!({"f:data": {".": {}, "f:x": {}, "f:y": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
    );
    let live = stored(created);
    let mut edited = live.clone();
    edited["data"]["x"] = json!("changed");
    edited["data"].as_object_mut().unwrap().remove("y");
    edited["data"]["z"] = json!("new");
    let out = cms.update(Some(&live), &edited, "kubectl-edit", T1).unwrap();
    assert_eq!(owned(&out, "kubectl-edit"), [".data.x", ".data.z"]);
    assert_eq!(owned(&out, "kubectl-create"), [".data", ".metadata.labels", ".metadata.labels.a"]);
    assert_eq!(entry(&out, "kubectl-create").unwrap()["time"], T0);
    assert_eq!(entry(&out, "kubectl-edit").unwrap()["apiVersion"], "v1");
    // Update entries sort after Apply ones, then by time.
    assert_eq!(managers(&out), [("kubectl-create".into(), "Update".into()), ("kubectl-edit".into(), "Update".into())]);

    // A no-op update changes nothing, not even the time.
    let again = cms.update(Some(&out), &out, "kubectl-edit", T2).unwrap();
    assert_eq!(again["metadata"]["managedFields"], out["metadata"]["managedFields"]);
}

#[test]
fn an_update_owns_the_one_field_it_changed_deep_in_a_list_element() {
    let fm = deployments();
    let mut two = deployment(3, "nginx");
    two["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "busybox", "ports": [{"containerPort": 81}]}));
    let live = stored(fm.update(None, &two, "kubectl-create", T0).unwrap());
    // Everything but one container's image is the same on both sides.
    let mut edited = live.clone();
    edited["spec"]["template"]["spec"]["containers"][1]["image"] = json!("busybox:2");
    let out = fm.update(Some(&live), &edited, "kubectl-set", T1).unwrap();
    assert_eq!(owned(&out, "kubectl-set"), [r#".spec.template.spec.containers[name="sidecar"].image"#]);
    let creator = owned(&out, "kubectl-create");
    assert!(!creator.contains(&r#".spec.template.spec.containers[name="sidecar"].image"#.to_string()), "{creator:?}");
    assert!(creator.contains(&r#".spec.template.spec.containers[name="nginx"].image"#.to_string()), "{creator:?}");
}

#[test]
fn untracked_objects_stay_untracked_until_applied() {
    let cms = FieldManager::new("", "v1", "ConfigMap", "", FieldSet::new());
    let live = stored(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}));
    let mut edited = live.clone();
    edited["data"]["x"] = json!("2");
    let out = cms.update(Some(&live), &edited, "kubectl-edit", T1).unwrap();
    assert!(out["metadata"].get("managedFields").is_none());

    // The first apply attributes the existing fields to before-first-apply.
    let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "3"}});
    let c = conflicts(cms.apply(&out, &cfg, "mgr", false, T2));
    assert_eq!(c.message(), r#"Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.x"#);
    let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"y": "1"}});
    let applied = cms.apply(&out, &cfg, "mgr", false, T2).unwrap();
    // Like any update from nothing, it also owns the granular map itself.
    assert_eq!(owned(&applied, BEFORE_FIRST_APPLY), [".data", ".data.x"]);
    assert_eq!(owned(&applied, "mgr"), [".data.y"]);
}

#[test]
fn status_is_tracked_only_through_the_status_subresource() {
    let main = deployments();
    let status = FieldManager::new("apps", "v1", "Deployment", "status", reset_fields("apps", "Deployment", "status", true));
    let mut cfg = deployment(1, "nginx");
    cfg["status"] = json!({"replicas": 7});
    let live = stored(main.apply(&json!({}), &cfg, "kubectl", false, T0).unwrap());
    assert!(!owned(&live, "kubectl").iter().any(|p| p.starts_with(".status")));

    let mut new = live.clone();
    new["status"] = json!({"replicas": 1, "readyReplicas": 1});
    new["spec"]["replicas"] = json!(9);
    let out = status.update(Some(&live), &new, "kube-controller-manager", T1).unwrap();
    let e = entry(&out, "kube-controller-manager").unwrap();
    assert_eq!(e["subresource"], "status");
    assert_eq!(owned(&out, "kube-controller-manager"), [".status.readyReplicas", ".status.replicas"]);
    assert!(owned(&out, "kubectl").contains(&".spec.replicas".to_string()), "spec changes through status are ignored");
    // Conflicts name the subresource.
    let c = conflicts(status.apply(&out, &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"}, "status": {"replicas": 2}}), "other", false, T2));
    assert_eq!(c.causes()[0].message, r#"conflict with "kube-controller-manager" with subresource "status" using apps/v1"#);
}

#[test]
fn client_side_apply_upgrades_to_server_side_without_conflicts() {
    let fm = deployments();
    let cfg = deployment(3, "nginx:1.14.2");
    // kubectl apply (client-side) creates the object with the annotation.
    let mut created = cfg.clone();
    let last = format!("{}\n", to_go_json(&cfg));
    created["metadata"]["annotations"] = json!({LAST_APPLIED_ANNOTATION: last});
    let live = stored(fm.update(None, &created, "kubectl-client-side-apply", T0).unwrap());
    assert_eq!(managers(&live), [("kubectl-client-side-apply".into(), "Update".into())]);

    // Same config server-side: no conflict, the annotation is kept.
    let same = fm.apply(&live, &cfg, "kubectl", false, T1).unwrap();
    assert_eq!(same["metadata"]["annotations"][LAST_APPLIED_ANNOTATION], last);

    // A changed value whose live value is still the client-side applied one is not a conflict
    // for kubectl, and the annotation follows the new config.
    let changed = deployment(5, "nginx:1.14.2");
    let up = fm.apply(&live, &changed, "kubectl", false, T1).unwrap();
    assert_eq!(up["spec"]["replicas"], 5);
    assert_eq!(up["metadata"]["annotations"][LAST_APPLIED_ANNOTATION], format!("{}\n", to_go_json(&changed)));
    assert!(!owned(&up, "kubectl-client-side-apply").contains(&".spec.replicas".to_string()));
    // Other managers get the conflict.
    let c = conflicts(fm.apply(&live, &changed, "someone", false, T1));
    assert_eq!(c.message(), r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#);
    // Fields changed since the last client-side apply still conflict.
    let mut drifted = live.clone();
    drifted["spec"]["replicas"] = json!(4);
    let drifted = fm.update(Some(&live), &drifted, "kubectl-client-side-apply", T1).unwrap();
    conflicts(fm.apply(&drifted, &changed, "kubectl", false, T2));
}

#[test]
fn invalid_apply_requests() {
    let fm = deployments();
    let mut wrong = deployment(1, "x");
    wrong["kind"] = json!("StatefulSet");
    assert_eq!(fm.apply(&json!({}), &wrong, "m", false, T0).unwrap_err().to_string(), "invalid object type: apps/v1, Kind=StatefulSet");
    let missing = json!({"metadata": {"name": "x"}});
    assert_eq!(fm.apply(&json!({}), &missing, "m", false, T0).unwrap_err().to_string(), "invalid object type: /, Kind=");

    let mut unknown = deployment(1, "x");
    unknown["spec"]["replica"] = json!(1);
    unknown["metadata"]["namespace"] = json!("default");
    let err = fm.apply(&json!({}), &unknown, "m", false, T0).unwrap_err();
    assert_eq!(err.to_string(), "failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): .spec.replica: field not declared in schema");
    let Error::InvalidConfig { errors, .. } = err else { panic!() };
    assert_eq!(errors.0[0].path, ".spec.replica");

    let mut dup = deployment(1, "x");
    dup["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
    assert!(fm.apply(&json!({}), &dup, "m", false, T0).unwrap_err().to_string().contains(r#"duplicate entries for key [name="a"]"#));

    let mut with_mf = deployment(1, "x");
    with_mf["metadata"]["managedFields"] = json!([]);
    assert_eq!(fm.apply(&json!({}), &with_mf, "m", false, T0).unwrap_err(), Error::ManagedFieldsInConfig);
}

#[test]
fn fields_of_follows_upstream_membership() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}, "annotations": {}},
        "spec": {"containers": [{"name": "c", "resources": {}, "args": ["x"]}], "nodeSelector": {"k": "v"}}});
    let set = fields_of(&pod, &kind_type("", "v1", "Pod")).unwrap();
    let paths: Vec<String> = set.paths().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        paths,
        [
            ".apiVersion", ".kind", ".metadata.annotations", ".metadata.name", ".metadata.labels.a",
            ".spec.nodeSelector", ".spec.containers[name=\"c\"]", ".spec.containers[name=\"c\"].args",
            ".spec.containers[name=\"c\"].name", ".spec.containers[name=\"c\"].resources",
        ]
    );
    // Service ports default their protocol key.
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "targetPort": "http"}]}});
    let set = fields_of(&svc, &kind_type("", "v1", "Service")).unwrap();
    assert!(set.paths().iter().any(|p| p.to_string() == r#".spec.ports[port=80,protocol="TCP"].targetPort"#));
    // Unknown kinds are schemaless: maps granular, lists atomic.
    let cr = json!({"apiVersion": "example.com/v1", "kind": "Foo", "spec": {"a": {"b": 1}, "l": [1, 2]}});
    let set = fields_of(&cr, &kind_type("example.com", "v1", "Foo")).unwrap();
    assert_eq!(set.to_fields_v1_string(), r#"{"f:apiVersion":{},"f:kind":{},"f:spec":{".":{},"f:a":{".":{},"f:b":{}},"f:l":{}}}"#);
}

#[test]
fn managers_default_from_user_agent() {
    assert_eq!(manager_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"), "kubectl");
    assert_eq!(manager_from_user_agent("kube-controller-manager/v1.33.0"), "kube-controller-manager");
    assert_eq!(manager_from_user_agent(&"x".repeat(200)).len(), 128);
    assert_eq!(manager_from_user_agent(""), "");
}

#[test]
fn clients_may_rewrite_managed_fields_on_update() {
    let cms = FieldManager::new("", "v1", "ConfigMap", "", FieldSet::new());
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}});
    let live = stored(cms.update(None, &cm, "kubectl-client-side-apply", T0).unwrap());
    // kubectl's csaupgrade moves ownership to the server-side manager by patching managedFields.
    let mut moved = live.clone();
    moved["metadata"]["managedFields"] = json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}}]);
    let out = cms.update(Some(&live), &moved, "kubectl", T1).unwrap();
    assert_eq!(managers(&out), [("kubectl".into(), "Apply".into())]);
}

#[test]
fn noop_apply_keeps_the_old_timestamps() {
    let fm = deployments();
    let live = stored(fm.apply(&json!({}), &deployment(3, "nginx"), "kubectl", false, T0).unwrap());
    let again = fm.apply(&live, &deployment(3, "nginx"), "kubectl", false, T1).unwrap();
    assert_eq!(entry(&again, "kubectl").unwrap()["time"], T1);
    assert_eq!(ignore_managed_fields_timestamps(&live, again), live);
    let changed = fm.apply(&live, &deployment(4, "nginx"), "kubectl", false, T1).unwrap();
    assert_eq!(entry(&ignore_managed_fields_timestamps(&live, changed), "kubectl").unwrap()["time"], T1);
}

#[test]
fn create_bookkeeping_equals_the_comparison_with_an_empty_object() {
    let now = "2026-01-01T00:00:00Z";
    let cases = [
        (("apps", "v1", "Deployment"), deployment(3, "nginx:1.25")),
        (
            ("", "v1", "Pod"),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "x"}, "finalizers": ["a/b"], "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u1"}]},
                "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep"], "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80, "protocol": "UDP"}], "resources": {}}],
                    "tolerations": [{"key": "k", "operator": "Exists"}], "securityContext": {}, "nodeSelector": {"disk": "ssd"}},
                "status": {"phase": "Pending"}
            }),
        ),
        (("", "v1", "ConfigMap"), json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"x": "y"}}, "data": {"k": "v", "e": ""}})),
        (("", "v1", "Service"), json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "x"}}})),
    ];
    for ((group, version, kind), obj) in cases {
        for sub in ["", "status"] {
            let fm = FieldManager::new(group, version, kind, sub, reset_fields(group, kind, sub, kind != "ConfigMap"));
            let fast = fm.update(None, &obj, "creator", now).unwrap();
            let slow = fm.update_by_comparison(&obj, "creator", now);
            assert_eq!(fast, slow, "{kind} {sub:?}");
        }
    }
}
