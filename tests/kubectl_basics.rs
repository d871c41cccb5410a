//! The API server driven by the real kubectl: health, discovery, create/get/list/watch/patch/
//! delete for every served kind, selectors, paging, and bad input.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{example, namespace, shared, wait_until, ROOT_CA_CONFIGMAP};

#[test]
fn healthz_verbose_lists_checks() {
    let c = shared();
    let out = c.ok(&["get", "--raw", "/healthz?verbose"]);
    assert!(out.starts_with("[+]ping ok\n"), "{out}");
    assert!(out.contains("[+]etcd ok\n"), "{out}");
    assert!(out.contains("[+]poststarthook/bootstrap-namespaces ok\n"), "{out}");
    assert!(out.ends_with("healthz check passed\n"), "{out}");
    assert_eq!(c.ok(&["get", "--raw", "/readyz"]), "ok");
    let ex = c.ok(&["get", "--raw", "/livez?verbose&exclude=etcd&exclude=nope"]);
    assert!(ex.contains("[+]etcd excluded: ok\n"), "{ex}");
    assert!(ex.contains("warn: some health checks cannot be excluded: no matches for \"nope\"\n"), "{ex}");
    assert_eq!(c.ok(&["get", "--raw", "/readyz/etcd"]), "ok");
    assert!(c.fails(&["get", "--raw", "/readyz/bogus"]).contains("NotFound"));
}

#[test]
fn version_reports_the_served_kubernetes_minor() {
    let c = shared();
    let v: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", "/version"])).unwrap();
    assert_eq!(v["major"], "1");
    assert_eq!(v["minor"], "33");
    let out = c.ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "33");
}

#[test]
fn system_namespaces_exist() {
    let c = shared();
    let out = c.ok(&["get", "namespaces", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(out.contains(&format!("namespace/{ns}\n")), "{out}");
    }
}

#[test]
fn api_resources_come_from_discovery() {
    let c = shared();
    let out = c.ok(&["api-resources", "--no-headers"]);
    for needle in ["pods", "deployments", "storageclasses", "leases", "events"] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
    let po = out.lines().find(|l| l.starts_with("pods ")).expect("pods row");
    assert!(po.contains(" po ") && po.contains("true") && po.contains("Pod"), "{po}");
    let short = c.ok(&["api-resources", "--api-group=apps", "-o", "name"]);
    assert_eq!(short, "deployments.apps\nreplicasets.apps\n");
    let versions = c.ok(&["api-versions"]);
    for gv in ["v1\n", "apps/v1\n", "storage.k8s.io/v1\n", "coordination.k8s.io/v1\n", "events.k8s.io/v1\n"] {
        assert!(versions.contains(gv), "{gv} missing: {versions}");
    }
}

#[test]
fn every_served_kind_can_be_created_read_and_deleted() {
    let c = shared();
    let ns = namespace(c, "kinds");
    let namespaced = [
        ("pod.yaml", "pod/web"),
        ("service.yaml", "service/web"),
        ("configmap.yaml", "configmap/settings"),
        ("secret.yaml", "secret/credentials"),
        ("serviceaccount.yaml", "serviceaccount/builder"),
        ("endpoints.yaml", "endpoints/external-db"),
        ("persistentvolumeclaim.yaml", "persistentvolumeclaim/data"),
        ("podtemplate.yaml", "podtemplate/worker"),
        ("deployment.yaml", "deployment.apps/web"),
        ("replicaset.yaml", "replicaset.apps/cache"),
        ("lease.yaml", "lease.coordination.k8s.io/leader"),
        ("event.yaml", "event/web.started"),
        ("events-k8s-io-event.yaml", "event.events.k8s.io/web.scheduled"),
        ("endpointslice.yaml", "endpointslice.discovery.k8s.io/external-db-1"),
    ];
    for (file, name) in namespaced {
        let mut manifest = std::fs::read_to_string(example(file)).unwrap();
        // An event must name its object's namespace when it lives outside `default`, as upstream.
        manifest = manifest.replace("involvedObject:\n", &format!("involvedObject:\n  namespace: {ns}\n"));
        manifest = manifest.replace("regarding:\n", &format!("regarding:\n  namespace: {ns}\n"));
        let out = c.ok_stdin(&["create", "--validate=false", "-n", &ns, "-f", "-"], &manifest);
        assert_eq!(out.trim(), format!("{name} created"), "{file}");
        let got: serde_json::Value = serde_json::from_str(&c.ok(&["get", "-n", &ns, name, "-o", "json"])).unwrap();
        assert_eq!(got["metadata"]["namespace"], ns.as_str(), "{file}");
        assert!(got["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36), "{file}: {got}");
        assert!(got["metadata"]["creationTimestamp"].as_str().is_some(), "{file}");
        assert!(got["metadata"]["resourceVersion"].as_str().is_some_and(|r| r.parse::<i64>().is_ok()), "{file}");
    }
    // Core and events.k8s.io events are the same objects seen in two shapes.
    let v1: serde_json::Value = serde_json::from_str(&c.ok(&["get", "-n", &ns, "events.events.k8s.io/web.started", "-o", "json"])).unwrap();
    assert_eq!(v1["note"], "Started container web");
    assert_eq!(v1["regarding"]["name"], "web");
    let core: serde_json::Value = serde_json::from_str(&c.ok(&["get", "-n", &ns, "events.v1./web.scheduled", "-o", "json"])).unwrap();
    assert_eq!(core["message"], "Successfully assigned web to node-a");
    assert_eq!(core["involvedObject"]["name"], "web");
    // Defaults and server-set status as upstream.
    let pod: serde_json::Value = serde_json::from_str(&c.ok(&["get", "-n", &ns, "pod/web", "-o", "json"])).unwrap();
    assert_eq!(pod["spec"]["restartPolicy"], "Always");
    assert_eq!(pod["spec"]["schedulerName"], "default-scheduler");
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(pod["metadata"]["generation"], 1);
    let secret: serde_json::Value = serde_json::from_str(&c.ok(&["get", "-n", &ns, "secret/credentials", "-o", "json"])).unwrap();
    assert_eq!(secret["data"]["password"], "czNjcjN0");

    for (file, name) in [
        ("node.yaml", "node/node-a"),
        ("persistentvolume.yaml", "persistentvolume/local-data"),
        ("storageclass.yaml", "storageclass.storage.k8s.io/local"),
        ("namespace.yaml", "namespace/team-a"),
        ("priorityclass.yaml", "priorityclass.scheduling.k8s.io/high-priority"),
    ] {
        let out = c.ok(&["create", "--validate=false", "-f", &example(file)]);
        assert_eq!(out.trim(), format!("{name} created"), "{file}");
        c.ok(&["get", name]);
    }
    // The system classes exist from the start; a pod naming a class gets its priority.
    let classes = c.ok(&["get", "priorityclasses"]);
    let row = |name: &str| classes.lines().find(|l| l.starts_with(name)).map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    assert_eq!(row("NAME").as_deref(), Some("NAME VALUE GLOBAL-DEFAULT"), "{classes}");
    assert_eq!(row("system-node-critical").as_deref(), Some("system-node-critical 2000001000 false"), "{classes}");
    assert_eq!(row("high-priority").as_deref(), Some("high-priority 1000000 false"), "{classes}");
    let prioritized = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: important\n  namespace: {ns}\nspec:\n  priorityClassName: high-priority\n  containers:\n  - name: c\n    image: busybox\n"
    );
    c.ok_stdin(&["create", "-f", "-"], &prioritized);
    assert_eq!(c.ok(&["get", "-n", &ns, "pod/important", "-o", "jsonpath={.spec.priority} {.spec.preemptionPolicy}"]), "1000000 PreemptLowerPriority");
    let unknown = prioritized.replace("name: important", "name: unknown-class").replace("high-priority", "no-such-class");
    let err = c.kubectl_with(&["create", "-f", "-"], Some(&unknown));
    let err = String::from_utf8_lossy(&err.stderr).to_string();
    assert!(err.contains("pods \"unknown-class\" is forbidden: no PriorityClass with name no-such-class was found"), "{err}");
    c.ok(&["delete", "-n", &ns, "pod/important", "--grace-period=0", "--force"]);
    c.ok(&["delete", "priorityclass/high-priority"]);
    let node: serde_json::Value = serde_json::from_str(&c.ok(&["get", "node/node-a", "-o", "json"])).unwrap();
    assert_eq!(node["status"]["capacity"]["cpu"], "4");
    assert!(node["metadata"].get("namespace").is_none());

    for (_, name) in namespaced {
        let out = c.ok(&["delete", "-n", &ns, name]);
        assert!(out.contains("deleted"), "{out}");
        assert!(c.fails(&["get", "-n", &ns, name]).contains("NotFound"), "{name} still there");
    }
    for name in ["node/node-a", "persistentvolume/local-data", "storageclass/local"] {
        c.ok(&["delete", name]);
        assert!(c.fails(&["get", name]).contains("NotFound"));
    }
}

#[test]
fn endpoint_slices_are_validated_printed_and_selected_as_upstream() {
    let c = shared();
    let ns = namespace(c, "slices");
    c.ok(&["create", "-n", &ns, "-f", &example("endpointslice.yaml")]);
    let table = c.ok(&["get", "endpointslices", "-n", &ns, "-l", "kubernetes.io/service-name=external-db"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], "{table}");
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().take(4).collect();
    assert_eq!(row, vec!["external-db-1", "IPv4", "5432", "192.0.2.10"], "{table}");
    let by_name = c.ok(&["get", "endpointslices", "-n", &ns, "--field-selector", "metadata.name=external-db-1", "-o", "name"]);
    assert_eq!(by_name.trim(), "endpointslice.discovery.k8s.io/external-db-1");
    let err = c.fails(&["get", "endpointslices", "-n", &ns, "--field-selector", "addressType=IPv4"]);
    assert!(err.contains("field label not supported: addressType"), "{err}");
    // Generation counts every change but metadata's (labels excepted).
    let generation = || c.ok(&["get", "-n", &ns, "endpointslice/external-db-1", "-o", "jsonpath={.metadata.generation}"]);
    assert_eq!(generation(), "1");
    c.ok(&["annotate", "-n", &ns, "endpointslice/external-db-1", "note=x"]);
    assert_eq!(generation(), "1");
    c.ok(&["patch", "-n", &ns, "endpointslice/external-db-1", "--type=json", "-p", r#"[{"op":"add","path":"/endpoints/0/addresses/0","value":"192.0.2.11"}]"#]);
    assert_eq!(generation(), "2");
    let err = c.fails(&["patch", "-n", &ns, "endpointslice/external-db-1", "--type=merge", "-p", r#"{"addressType":"IPv6"}"#]);
    assert!(err.contains("addressType: Invalid value: \"IPv6\": field is immutable"), "{err}");
    let bad = format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: bad\n  namespace: {ns}\naddressType: IPv4\nendpoints:\n- addresses: [\"fd00::1\"]\nports:\n- name: HTTP\n  port: 80\n"
    );
    let err = c.kubectl_with(&["create", "-f", "-"], Some(&bad));
    let err = String::from_utf8_lossy(&err.stderr).to_string();
    assert!(err.contains("endpoints[0].addresses[0]: Invalid value: \"fd00::1\": must be a valid IPv4 address"), "{err}");
    assert!(err.contains("ports[0].name: Invalid value: \"HTTP\""), "{err}");
}

#[test]
fn get_lists_with_selectors_all_namespaces_and_chunks() {
    let c = shared();
    let ns = namespace(c, "listing");
    for i in 0..5 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        let manifest = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  labels:\n    tier: {tier}\n    idx: \"{i}\"\ndata:\n  k: v\n");
        c.ok_stdin(&["create", "--validate=false", "-n", &ns, "-f", "-"], &manifest);
    }
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["get", "configmaps", "-n", ns.as_str(), "-o", "name"];
        a.extend_from_slice(args);
        let mut v: Vec<String> = c.ok(&a).lines().map(String::from).filter(|l| l.contains("cm-")).collect();
        v.sort();
        v
    };
    assert_eq!(names(&[]).len(), 5);
    assert_eq!(names(&["-l", "tier=even"]), vec!["configmap/cm-0", "configmap/cm-2", "configmap/cm-4"]);
    assert_eq!(names(&["-l", "tier!=even"]), vec!["configmap/cm-1", "configmap/cm-3"]);
    assert_eq!(names(&["-l", "idx in (1,4)"]), vec!["configmap/cm-1", "configmap/cm-4"]);
    assert_eq!(names(&["-l", "idx notin (1,4),tier"]).len(), 3);
    assert!(names(&["-l", "!tier"]).is_empty());
    assert_eq!(names(&["--field-selector", "metadata.name=cm-3"]), vec!["configmap/cm-3"]);
    assert_eq!(names(&["--field-selector", "metadata.name!=cm-3"]).len(), 4);
    assert_eq!(names(&["--chunk-size=2"]).len(), 5);
    let err = c.fails(&["get", "configmaps", "-n", &ns, "--field-selector", "spec.bogus=1"]);
    assert!(err.contains("field label not supported: spec.bogus"), "{err}");

    let all = c.ok(&["get", "configmaps", "-A", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    let in_ns = v["items"].as_array().unwrap().iter().filter(|i| i["metadata"]["namespace"] == ns.as_str() && i["metadata"]["name"] != ROOT_CA_CONFIGMAP).count();
    assert_eq!(in_ns, 5);
    let yaml = c.ok(&["get", "configmap", "cm-1", "-n", &ns, "-o", "yaml"]);
    assert!(yaml.contains("name: cm-1") && yaml.contains("kind: ConfigMap"), "{yaml}");
}

#[test]
fn paging_is_pinned_to_the_first_pages_revision() {
    let c = shared();
    let ns = namespace(c, "paging");
    for i in 0..4 {
        c.ok_stdin(&["create", "--validate=false", "-n", &ns, "-f", "-"], &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-{i}\n"));
    }
    // Five ConfigMaps by name: kube-root-ca.crt (every namespace has it), p-0 .. p-3.
    let first: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", &format!("/api/v1/namespaces/{ns}/configmaps?limit=3")])).unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    assert_eq!(first["items"][0]["metadata"]["name"], ROOT_CA_CONFIGMAP);
    assert_eq!(first["metadata"]["remainingItemCount"], 2);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    // A change after the first page is not seen by the rest of the same list.
    c.ok_stdin(&["create", "--validate=false", "-n", &ns, "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-9\n");
    let rest: serde_json::Value = serde_json::from_str(&c.ok(&[
        "get", "--raw", &format!("/api/v1/namespaces/{ns}/configmaps?limit=10&continue={}", urlencode(&token)),
    ]))
    .unwrap();
    let names: Vec<&str> = rest["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["p-2", "p-3"]);
    assert_eq!(rest["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"]);
    assert!(rest["metadata"].get("continue").is_none());
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn watch_sees_creates_updates_and_deletes() {
    let c = shared();
    let ns = namespace(c, "watching");
    // Created before the watch starts, so it arrives as ADDED from the initial list whatever
    // the timing; the update and delete then come from the watch itself.
    c.ok_stdin(&["create", "--validate=false", "-n", &ns, "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w\ndata:\n  v: one\n");
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .args(["get", "configmaps", "-n", &ns, "-w", "--output-watch-events", "-o", "jsonpath={.type} {.object.metadata.name} {.object.data.v}{\"\\n\"}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20)).expect("the initial list");
    c.ok(&["patch", "configmap", "w", "-n", &ns, "--type=merge", "-p", r#"{"data":{"v":"two"}}"#]);
    c.ok(&["delete", "configmap", "w", "-n", &ns]);
    // The namespace's kube-root-ca.crt is in the initial list too; only the test's object counts.
    let mut seen: Vec<String> = vec![first].into_iter().filter(|l| !l.contains(ROOT_CA_CONFIGMAP)).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < 3 && std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            if !l.contains(ROOT_CA_CONFIGMAP) {
                seen.push(l);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen, vec!["ADDED w one", "MODIFIED w two", "DELETED w two"]);
}

#[test]
fn label_annotate_and_patch() {
    let c = shared();
    let ns = namespace(c, "patching");
    c.ok(&["create", "--validate=false", "-n", &ns, "-f", &example("configmap.yaml")]);
    assert_eq!(c.ok(&["label", "-n", &ns, "configmap/settings", "env=prod"]).trim(), "configmap/settings labeled");
    assert_eq!(c.ok(&["annotate", "-n", &ns, "configmap/settings", "owner=team-a"]).trim(), "configmap/settings annotated");
    let got = c.ok(&["get", "-n", &ns, "configmap/settings", "-o", "jsonpath={.metadata.labels.env} {.metadata.annotations.owner}"]);
    assert_eq!(got, "prod team-a");
    c.ok(&["label", "-n", &ns, "configmap/settings", "env-"]);
    assert_eq!(c.ok(&["get", "-n", &ns, "configmap/settings", "-o", "jsonpath={.metadata.labels.env}"]), "");
    let merge = c.ok(&["patch", "-n", &ns, "configmap/settings", "--type=merge", "-p", r#"{"data":{"color":"red"}}"#]);
    assert_eq!(merge.trim(), "configmap/settings patched");
    let json = c.ok(&["patch", "-n", &ns, "configmap/settings", "--type=json", "-p", r#"[{"op":"remove","path":"/data/greeting"}]"#]);
    assert_eq!(json.trim(), "configmap/settings patched");
    assert_eq!(c.ok(&["get", "-n", &ns, "configmap/settings", "-o", "jsonpath={.data}"]), r#"{"color":"red"}"#);
    let rv_before = c.ok(&["get", "-n", &ns, "configmap/settings", "-o", "jsonpath={.metadata.resourceVersion}"]);
    let noop = c.ok(&["patch", "-n", &ns, "configmap/settings", "--type=merge", "-p", r#"{"data":{"color":"red"}}"#]);
    assert_eq!(noop.trim(), "configmap/settings patched (no change)");
    assert_eq!(c.ok(&["get", "-n", &ns, "configmap/settings", "-o", "jsonpath={.metadata.resourceVersion}"]), rv_before);
    let failed = c.fails(&["patch", "-n", &ns, "configmap/settings", "--type=json", "-p", r#"[{"op":"test","path":"/data/color","value":"blue"}]"#]);
    assert!(failed.contains("Invalid") || failed.contains("invalid"), "{failed}");
}

#[test]
fn generation_counts_spec_changes_only() {
    let c = shared();
    let ns = namespace(c, "generation");
    c.ok(&["create", "--validate=false", "-n", &ns, "-f", &example("deployment.yaml")]);
    let generation = || c.ok(&["get", "-n", &ns, "deployment/web", "-o", "jsonpath={.metadata.generation}"]);
    assert_eq!(generation(), "1");
    c.ok(&["label", "-n", &ns, "deployment/web", "x=y"]);
    assert_eq!(generation(), "1");
    c.ok(&["patch", "-n", &ns, "deployment/web", "--type=merge", "-p", r#"{"spec":{"replicas":3}}"#]);
    assert_eq!(generation(), "2");
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let c = shared();
    let ns = namespace(c, "finalizers");
    c.ok_stdin(
        &["create", "--validate=false", "-n", &ns, "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [\"example.com/hold\"]\n",
    );
    c.ok(&["delete", "-n", &ns, "configmap/held", "--wait=false"]);
    let ts = c.ok(&["get", "-n", &ns, "configmap/held", "-o", "jsonpath={.metadata.deletionTimestamp}"]);
    assert!(!ts.is_empty(), "deletionTimestamp not set");
    let err = c.fails(&["patch", "-n", &ns, "configmap/held", "--type=json", "-p", r#"[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/more"}]"#]);
    assert!(err.contains("no new finalizers"), "{err}");
    c.ok(&["patch", "-n", &ns, "configmap/held", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers/0"}]"#]);
    wait_until(Duration::from_secs(5), "finalized object to disappear", || !c.kubectl(&["get", "-n", &ns, "configmap/held"]).status.success());
}

#[test]
fn graceful_pod_deletion_survives_updates_until_deleted_with_grace_zero() {
    let c = shared();
    let ns = namespace(c, "graceful");
    c.ok_stdin(
        &["create", "--validate=false", "-n", &ns, "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: slow\nspec:\n  nodeName: some-node\n  containers:\n  - name: c\n    image: busybox:1.35\n",
    );
    c.ok(&["delete", "-n", &ns, "pod/slow", "--grace-period=30", "--wait=false"]);
    let deletion = || c.ok(&["get", "-n", &ns, "pod/slow", "-o", "jsonpath={.metadata.deletionTimestamp}/{.metadata.deletionGracePeriodSeconds}"]);
    let marked = deletion();
    assert!(marked.ends_with("/30") && marked.len() > 4, "{marked}");
    // The kubelet's status writes and anyone's label changes during the grace period are
    // ordinary updates: the pod stays, still marked for deletion.
    c.ok(&["patch", "-n", &ns, "pod/slow", "--subresource=status", "--type=merge", "-p", r#"{"status":{"phase":"Running"}}"#]);
    c.ok(&["label", "-n", &ns, "pod/slow", "stage=stopping"]);
    assert_eq!(deletion(), marked);
    assert_eq!(c.ok(&["get", "-n", &ns, "pod/slow", "-o", "jsonpath={.status.phase}/{.metadata.labels.stage}"]), "Running/stopping");
    // The kubelet ends it with grace 0.
    c.ok(&["delete", "-n", &ns, "pod/slow", "--grace-period=0", "--force"]);
    let err = c.fails(&["get", "-n", &ns, "pod/slow"]);
    assert!(err.contains("NotFound"), "{err}");

    // Removing the last finalizer of an object deleted without grace completes its deletion.
    c.ok_stdin(
        &["create", "--validate=false", "-n", &ns, "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: held\n  finalizers: [\"example.com/hold\"]\nspec:\n  containers:\n  - name: c\n    image: busybox:1.35\n",
    );
    c.ok(&["delete", "-n", &ns, "pod/held", "--wait=false"]);
    c.ok(&["label", "-n", &ns, "pod/held", "still=here"]);
    c.ok(&["patch", "-n", &ns, "pod/held", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers/0"}]"#]);
    let err = c.fails(&["get", "-n", &ns, "pod/held"]);
    assert!(err.contains("NotFound"), "{err}");
}

#[test]
fn namespace_deletion_marks_terminating_and_blocks_new_content() {
    let c = shared();
    let ns = namespace(c, "doomed");
    // A finalizer on its content keeps the namespace Terminating (the namespace controller
    // would otherwise empty and remove it within a second).
    c.ok_stdin(&["create", "-n", &ns, "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [\"example.com/hold\"]\n");
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
    assert_eq!(c.ok(&["get", "namespace", &ns, "-o", "jsonpath={.status.phase}"]), "Terminating");
    let err = c.fails(&["create", "--validate=false", "-n", &ns, "-f", &example("configmap.yaml")]);
    assert!(err.contains("Forbidden") && err.contains("because it is being terminated"), "{err}");
    // A second delete is a Conflict while the content is removed, as upstream.
    let err = c.fails(&["delete", "namespace", &ns, "--wait=false"]);
    assert!(err.contains("Conflict") && err.contains("The system is ensuring all content is removed from this namespace."), "{err}");
    c.ok(&["patch", "-n", &ns, "configmap/held", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]);
    wait_until(Duration::from_secs(30), "the namespace to go once its content is gone", || c.kubectl(&["get", "namespace", &ns]).status.code() == Some(1));
    let err = c.fails(&["create", "--validate=false", "-n", "no-such-namespace", "-f", &example("configmap.yaml")]);
    assert!(err.contains("NotFound") && err.contains("namespaces \"no-such-namespace\" not found"), "{err}");
    let err = c.fails(&["delete", "namespace", "kube-system"]);
    assert!(err.contains("Forbidden"), "{err}");
}

#[test]
fn invalid_objects_are_rejected_with_field_causes() {
    let c = shared();
    let ns = namespace(c, "invalid");
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\nspec:\n  containers:\n  - name: c\n";
    let out = c.kubectl_with(&["create", "--validate=false", "-n", &ns, "-f", "-"], Some(manifest));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("The Pod \"broken\" is invalid"), "{err}");
    assert!(err.contains("spec.containers[0].image: Required value"), "{err}");
    let bad_name = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n";
    let out = c.kubectl_with(&["create", "--validate=false", "-n", &ns, "-f", "-"], Some(bad_name));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("metadata.name: Invalid value: \"Bad_Name\""), "{err}");
    let dup = c.kubectl_with(&["create", "--validate=false", "-n", &ns, "-f", &example("configmap.yaml")], None);
    assert!(dup.status.success());
    let again = c.fails(&["create", "--validate=false", "-n", &ns, "-f", &example("configmap.yaml")]);
    assert!(again.contains("AlreadyExists") && again.contains("configmaps \"settings\" already exists"), "{again}");
}

#[test]
fn older_kubectl_minors_use_v2beta1_discovery() {
    let c = shared();
    for minor in [27, 29, 31] {
        let out = std::process::Command::new(common::bundled_kubectl(minor))
            .arg("--kubeconfig")
            .arg(c.kubeconfig())
            .arg("--cache-dir")
            .arg(c.dir.path().join(format!("cache-{minor}")))
            .args(["get", "namespaces", "kube-system", "-o", "name"])
            .output()
            .unwrap();
        assert!(out.status.success(), "kubectl 1.{minor}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "namespace/kube-system");
    }
}

#[test]
fn get_all_follows_the_all_category_and_short_names_work() {
    let c = shared();
    let ns = namespace(c, "category");
    for file in ["pod.yaml", "service.yaml", "deployment.yaml", "replicaset.yaml", "configmap.yaml"] {
        c.ok(&["create", "--validate=false", "-n", &ns, "-f", &example(file)]);
    }
    // The Deployment's ReplicaSet and pods and the ReplicaSet's pod come from the controllers.
    wait_until(Duration::from_secs(30), "the controllers' pods", || c.ok(&["get", "pods", "-n", &ns, "-o", "name"]).lines().count() == 4);
    let all = c.ok(&["get", "all", "-n", &ns, "-o", "name"]);
    let kinds: Vec<&str> = all.lines().map(|l| l.split('/').next().unwrap()).collect();
    assert_eq!(kinds, vec!["pod", "pod", "pod", "pod", "service", "deployment.apps", "replicaset.apps", "replicaset.apps"], "{all}");
    for name in ["pod/web\n", "service/web\n", "deployment.apps/web\n", "replicaset.apps/cache\n", "replicaset.apps/web-"] {
        assert!(all.contains(name), "{name} in {all}");
    }
    assert!(!all.contains("configmap"), "ConfigMaps are not in the all category: {all}");
    let listed = c.ok(&["get", "po,svc,deploy,rs,cm", "-n", &ns, "-o", "name"]);
    assert_eq!(listed.lines().count(), 10, "{listed}");
    assert!(listed.contains("configmap/settings") && listed.contains("configmap/kube-root-ca.crt"), "{listed}");
}

#[test]
fn scale_subresource_drives_replicas() {
    let c = shared();
    let ns = namespace(c, "scaling");
    c.ok(&["create", "--validate=false", "-n", &ns, "-f", &example("deployment.yaml")]);
    assert_eq!(c.ok(&["scale", "-n", &ns, "deployment/web", "--replicas=4"]).trim(), "deployment.apps/web scaled");
    assert_eq!(c.ok(&["get", "-n", &ns, "deployment/web", "-o", "jsonpath={.spec.replicas}"]), "4");
    // --current-replicas sends a PUT of the Scale without a Content-Type.
    c.ok(&["scale", "-n", &ns, "deployment/web", "--current-replicas=4", "--replicas=1"]);
    assert_eq!(c.ok(&["get", "-n", &ns, "deployment/web", "-o", "jsonpath={.spec.replicas}"]), "1");
    let err = c.fails(&["scale", "-n", &ns, "deployment/web", "--current-replicas=7", "--replicas=2"]);
    assert!(err.contains("Expected replicas to be 7, was 1"), "{err}");
    let scale: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", &format!("/apis/apps/v1/namespaces/{ns}/deployments/web/scale")])).unwrap();
    assert_eq!((scale["kind"].as_str(), scale["status"]["selector"].as_str()), (Some("Scale"), Some("app=web")));
    c.ok(&["create", "--validate=false", "-n", &ns, "-f", &example("replicaset.yaml")]);
    c.ok(&["scale", "-n", &ns, "replicaset/cache", "--replicas=3"]);
    assert_eq!(c.ok(&["get", "-n", &ns, "rs/cache", "-o", "jsonpath={.spec.replicas}"]), "3");
}

#[test]
fn get_prints_upstreams_columns() {
    let c = shared();
    let ns = namespace(c, "tables");
    for file in ["pod.yaml", "deployment.yaml", "configmap.yaml", "service.yaml"] {
        c.ok(&["create", "--validate=false", "-n", &ns, "-f", &example(file)]);
    }
    let pods = c.ok(&["get", "pods", "-n", &ns]);
    let mut lines = pods.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"], "{pods}");
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], &["web", "0/1", "Pending", "0"], "{pods}");
    let wide = c.ok(&["get", "pods", "-n", &ns, "-o", "wide"]);
    assert!(wide.lines().next().unwrap().contains("NOMINATED NODE"), "{wide}");
    let deploy = c.ok(&["get", "deploy", "-n", &ns]);
    let header: Vec<&str> = deploy.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], "{deploy}");
    // No kubelet: the controllers create the pods, none becomes ready.
    wait_until(Duration::from_secs(30), "the Deployment's pods to be created", || {
        let deploy = c.ok(&["get", "deploy", "-n", &ns, "--no-headers"]);
        deploy.split_whitespace().take(4).collect::<Vec<_>>() == vec!["web", "0/2", "2", "0"]
    });
    let cm = c.ok(&["get", "cm", "settings", "-n", &ns, "--show-labels"]);
    assert!(cm.lines().next().unwrap().contains("DATA") && cm.contains("app=web"), "{cm}");
    let svc = c.ok(&["get", "svc", "-n", &ns, "-o", "wide"]);
    assert!(svc.lines().next().unwrap().contains("SELECTOR") && svc.contains("80/TCP"), "{svc}");
    let ns_row = c.ok(&["get", "namespace", &ns, "--no-headers"]);
    assert!(ns_row.contains("Active"), "{ns_row}");
    let sorted = c.ok(&["get", "cm", "-n", &ns, "--sort-by=.metadata.name", "-o", "name"]);
    assert!(sorted.contains("configmap/settings"), "{sorted}");
}

#[test]
fn strategic_merge_patch_and_client_side_apply() {
    let c = shared();
    let ns = namespace(c, "smp");
    let deploy = std::fs::read_to_string(example("deployment.yaml")).unwrap();
    assert_eq!(c.ok_stdin(&["apply", "--validate=false", "-n", &ns, "-f", "-"], &deploy).trim(), "deployment.apps/web created");
    assert_eq!(c.ok_stdin(&["apply", "--validate=false", "-n", &ns, "-f", "-"], &deploy).trim(), "deployment.apps/web unchanged");
    // Add a sidecar and an env var, change the image: containers merge by name.
    let changed = deploy.replace("image: busybox:1.36", "image: busybox:1.37\n        env:\n        - name: MODE\n          value: fast")
        + "      - name: sidecar\n        image: busybox:1.36\n        command: [\"sleep\", \"3600\"]\n";
    assert_eq!(c.ok_stdin(&["apply", "--validate=false", "-n", &ns, "-f", "-"], &changed).trim(), "deployment.apps/web configured");
    let names = c.ok(&["get", "-n", &ns, "deploy/web", "-o", "jsonpath={.spec.template.spec.containers[*].name} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].value}"]);
    assert_eq!(names, "web sidecar busybox:1.37 fast");
    // Removing the sidecar from the manifest removes it from the object.
    assert_eq!(c.ok_stdin(&["apply", "--validate=false", "-n", &ns, "-f", "-"], &deploy).trim(), "deployment.apps/web configured");
    assert_eq!(c.ok(&["get", "-n", &ns, "deploy/web", "-o", "jsonpath={.spec.template.spec.containers[*].name} {.spec.template.spec.containers[0].image}"]), "web busybox:1.36");
    // The default `kubectl patch` type is strategic.
    c.ok(&["patch", "-n", &ns, "deploy/web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:1.35"}]}}}}"#]);
    assert_eq!(c.ok(&["get", "-n", &ns, "deploy/web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].command[0]}"]), "busybox:1.35 httpd");
    let diff = c.kubectl_with(&["diff", "-n", &ns, "-f", "-"], Some(&deploy));
    assert_eq!(diff.status.code(), Some(1), "kubectl diff exits 1 when there are changes: {}", String::from_utf8_lossy(&diff.stderr));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("busybox:1.36"));
}

#[test]
fn imperative_creates_send_protobuf() {
    let c = shared();
    let ns = format!("imperative-{}", std::process::id() % 100000);
    assert_eq!(c.ok(&["create", "namespace", &ns]).trim(), format!("namespace/{ns} created"));
    assert_eq!(c.ok(&["create", "configmap", "cfg", "-n", &ns, "--from-literal=a=1", "--from-literal=b=2"]).trim(), "configmap/cfg created");
    assert_eq!(c.ok(&["create", "secret", "generic", "pw", "-n", &ns, "--from-literal=password=hunter2"]).trim(), "secret/pw created");
    assert_eq!(c.ok(&["create", "deployment", "nginx", "-n", &ns, "--image=nginx:1.25", "--replicas=2"]).trim(), "deployment.apps/nginx created");
    assert_eq!(c.ok(&["create", "service", "clusterip", "web", "-n", &ns, "--tcp=80:8080"]).trim(), "service/web created");
    assert_eq!(c.ok(&["run", "busy", "-n", &ns, "--image=busybox", "--", "sleep", "3600"]).trim(), "pod/busy created");
    assert_eq!(c.ok(&["get", "cm", "cfg", "-n", &ns, "-o", "jsonpath={.data.a}{.data.b}"]), "12");
    assert_eq!(c.ok(&["get", "secret", "pw", "-n", &ns, "-o", "jsonpath={.data.password}"]), "aHVudGVyMg==");
    assert_eq!(
        c.ok(&["get", "deploy", "nginx", "-n", &ns, "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.selector.matchLabels.app}"]),
        "2 nginx:1.25 nginx"
    );
    assert_eq!(c.ok(&["get", "svc", "web", "-n", &ns, "-o", "jsonpath={.spec.ports[0].port} {.spec.ports[0].targetPort}"]), "80 8080");
    assert_eq!(c.ok(&["get", "pod", "busy", "-n", &ns, "-o", "jsonpath={.spec.containers[0].args}"]), r#"["sleep","3600"]"#);
}

#[test]
fn openapi_drives_validation_and_explain() {
    let c = shared();
    let ns = namespace(c, "openapi");
    // Default validation (strict): kubectl finds fieldValidation support in /openapi/v3.
    assert_eq!(c.ok(&["create", "-n", &ns, "-f", &example("pod.yaml")]).trim(), "pod/web created");
    assert_eq!(c.ok(&["apply", "-n", &ns, "-f", &example("deployment.yaml")]).trim(), "deployment.apps/web created");
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\nbogus: field\n";
    let out = c.kubectl_with(&["apply", "--validate=strict", "-n", &ns, "-f", "-"], Some(bad));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field \"bogus\""), "{}", String::from_utf8_lossy(&out.stderr));
    let explain = c.ok(&["explain", "pods.spec.containers.livenessProbe"]);
    assert!(explain.contains("FIELD: livenessProbe <Probe>") && explain.contains("periodSeconds"), "{explain}");
    let recursive = c.ok(&["explain", "deployment", "--recursive"]);
    assert!(recursive.contains("GROUP:      apps") && recursive.contains("revisionHistoryLimit"), "{recursive}");
    let index: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v3"])).unwrap();
    assert!(index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap().contains("?hash="));
    // kubectl 1.27 validates with /openapi/v2 in protobuf form.
    let old = std::process::Command::new(common::bundled_kubectl(27))
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .arg("--cache-dir")
        .arg(c.dir.path().join("cache-openapi-27"))
        .args(["create", "-n", &ns, "-f", &example("configmap.yaml")])
        .output()
        .unwrap();
    assert!(old.status.success(), "kubectl 1.27: {}", String::from_utf8_lossy(&old.stderr));
}

#[test]
fn server_side_apply_with_managed_fields_conflicts_and_force() {
    let c = shared();
    let ns = namespace(c, "ssa");
    let deploy = std::fs::read_to_string(example("deployment.yaml")).unwrap();
    // Client-side apply first, then server-side over it with the same configuration: no
    // conflict, as upstream (the last-applied annotation says kubectl owns those values).
    assert_eq!(c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], &deploy).trim(), "deployment.apps/web created");
    assert_eq!(c.ok_stdin(&["apply", "--server-side", "-n", &ns, "-f", "-"], &deploy).trim(), "deployment.apps/web serverside-applied");
    let managers = c.ok(&["get", "-n", &ns, "deployment/web", "--show-managed-fields", "-o", "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}"]);
    assert!(managers.contains("kubectl/Apply"), "{managers}");

    // Another manager changing a field kubectl applied conflicts, naming field and owner.
    let scaled = deploy.replace("replicas: 2", "replicas: 5");
    let out = c.kubectl_with(&["apply", "--server-side", "--field-manager=ci", "-n", &ns, "-f", "-"], Some(&scaled));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(err.contains("conflict with \"kubectl\"") && err.contains(".spec.replicas"), "{err}");
    assert_eq!(c.ok(&["get", "-n", &ns, "deployment/web", "-o", "jsonpath={.spec.replicas}"]), "2", "nothing changed on conflict");
    // --force-conflicts takes the field over.
    c.ok_stdin(&["apply", "--server-side", "--force-conflicts", "--field-manager=ci", "-n", &ns, "-f", "-"], &scaled);
    assert_eq!(c.ok(&["get", "-n", &ns, "deployment/web", "-o", "jsonpath={.spec.replicas}"]), "5");
    let ci = c.ok(&["get", "-n", &ns, "deployment/web", "--show-managed-fields", "-o", r#"jsonpath={.metadata.managedFields[?(@.manager=="ci")].fieldsV1}"#]);
    assert!(ci.contains("\"f:replicas\""), "{ci}");

    // Writes through the scale subresource are recorded with it.
    c.ok(&["scale", "-n", &ns, "deployment/web", "--replicas=4"]);
    let entries = c.ok(&["get", "-n", &ns, "deployment/web", "--show-managed-fields", "-o", "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation}/{.subresource} {end}"]);
    assert!(entries.contains("/Update/scale"), "{entries}");

    // A manager that stops applying a field it alone owns removes it.
    let labelled = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tuned\n  labels:\n    tier: one\n    team: a\ndata:\n  k: v\n";
    assert_eq!(c.ok_stdin(&["apply", "--server-side", "-n", &ns, "-f", "-"], labelled).trim(), "configmap/tuned serverside-applied");
    c.ok_stdin(&["apply", "--server-side", "-n", &ns, "-f", "-"], &labelled.replace("    team: a\n", ""));
    assert_eq!(c.ok(&["get", "-n", &ns, "configmap/tuned", "-o", "jsonpath={.metadata.labels}"]), r#"{"tier":"one"}"#);

    // Every write records its manager: an imperative create and a label change.
    c.ok(&["create", "configmap", "plain", "-n", &ns, "--from-literal=a=b"]);
    c.ok(&["label", "-n", &ns, "configmap/plain", "x=y"]);
    let managers = c.ok(&["get", "-n", &ns, "configmap/plain", "--show-managed-fields", "-o", "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}"]);
    assert!(managers.contains("kubectl-create/Update") && managers.contains("kubectl-label/Update"), "{managers}");
}
