//! Persistent volumes end to end, through the real kubectl: the PV controller binds claims as
//! upstream (smallest match, selector, access modes, class, pre-binding both ways, with
//! upstream's annotations, phases and events), reclaims released volumes (Retain, Delete,
//! Failed), the built-in local provisioner serves Immediate classes and, with the scheduler,
//! the default WaitForFirstConsumer class `standard`, and DefaultStorageClass admission gives
//! class-less claims the default class.
//!
//! The tests share one cluster and run in parallel: each uses its own namespace and its own
//! storage class names (a class need not exist for static binding), so no test's claim can
//! take another test's volume. Volumes and nodes are cluster-wide: their names carry the
//! process id.

mod common;

use std::time::{Duration, Instant};

use common::{namespace, wait_until, Cluster};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const LOCAL_PATH: &str = "corekube.io/local-path";

fn pid() -> u32 {
    std::process::id() % 100000
}

fn get(c: &Cluster, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.ok(&a)).unwrap()
}

fn claim(c: &Cluster, ns: &str, name: &str) -> Value {
    get(c, &["pvc", name, "-n", ns])
}

fn volume(c: &Cluster, name: &str) -> Value {
    get(c, &["pv", name])
}

fn phase(v: &Value) -> &str {
    v["status"]["phase"].as_str().unwrap_or_default()
}

fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v["metadata"]["annotations"][key].as_str()
}

/// Waits until the claim is Bound and returns it.
fn wait_bound(c: &Cluster, ns: &str, name: &str) -> Value {
    wait_until(WAIT, &format!("claim {ns}/{name} to be Bound"), || phase(&claim(c, ns, name)) == "Bound");
    claim(c, ns, name)
}

fn pv_manifest(name: &str, size: &str, modes: &str, class: &str, extra_meta: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\n{extra_meta}spec:\n  capacity: {{storage: {size}}}\n  accessModes: [{modes}]\n  storageClassName: \"{class}\"\n  hostPath: {{path: /tmp/corekube-volumes-test/{name}}}\n{extra_spec}"
    )
}

fn pvc_manifest(name: &str, size: &str, modes: &str, class: Option<&str>, extra_spec: &str) -> String {
    let class = class.map(|c| format!("  storageClassName: \"{c}\"\n")).unwrap_or_default();
    format!("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n  accessModes: [{modes}]\n  resources: {{requests: {{storage: {size}}}}}\n{class}{extra_spec}")
}

fn create(c: &Cluster, ns: &str, manifest: &str) {
    c.ok_stdin(&["create", "-n", ns, "-f", "-"], manifest);
}

/// The messages of the events of `reason` about the object named `name`.
fn events(c: &Cluster, ns: &str, name: &str, reason: &str) -> Vec<String> {
    let list = get(c, &["events", "-n", ns]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["involvedObject"]["name"] == name && e["reason"] == reason)
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn wait_event(c: &Cluster, ns: &str, name: &str, reason: &str) -> Vec<String> {
    wait_until(WAIT, &format!("a {reason} event about {name}"), || !events(c, ns, name, reason).is_empty());
    events(c, ns, name, reason)
}

fn delete_volumes(c: &Cluster, names: &[&str]) {
    for n in names {
        let _ = c.kubectl(&["delete", "pv", n, "--wait=false"]);
    }
}

#[test]
fn the_smallest_volume_that_satisfies_the_claim_is_bound_with_upstreams_annotations() {
    let c = common::shared();
    let ns = namespace(c, "pv-smallest");
    let class = format!("smallest-{}", pid());
    let names: Vec<String> = ["tiny", "small", "large"].iter().map(|n| format!("{class}-{n}")).collect();
    for (name, size) in names.iter().zip(["1Gi", "2Gi", "5Gi"]) {
        c.ok_stdin(&["create", "-f", "-"], &pv_manifest(name, size, "ReadWriteOnce", &class, "", ""));
    }
    for name in &names {
        wait_until(WAIT, &format!("{name} to be Available"), || phase(&volume(c, name)) == "Available");
    }
    create(c, &ns, &pvc_manifest("data", "1500Mi", "ReadWriteOnce", Some(&class), ""));
    let bound = wait_bound(c, &ns, "data");
    let small = &names[1];
    assert_eq!(bound["spec"]["volumeName"], small.as_str());
    assert_eq!(annotation(&bound, "pv.kubernetes.io/bind-completed"), Some("yes"));
    assert_eq!(annotation(&bound, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    assert_eq!(bound["status"]["capacity"]["storage"], "2Gi");
    assert_eq!(bound["status"]["accessModes"], serde_json::json!(["ReadWriteOnce"]));
    wait_until(WAIT, "the volume to be Bound", || phase(&volume(c, small)) == "Bound");
    let pv = volume(c, small);
    assert_eq!(annotation(&pv, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    assert_eq!(pv["spec"]["claimRef"]["name"], "data");
    assert_eq!(pv["spec"]["claimRef"]["namespace"], ns.as_str());
    assert_eq!(pv["spec"]["claimRef"]["uid"], bound["metadata"]["uid"]);
    // kubectl shows it as upstream's columns do.
    let row = c.ok(&["get", "pvc", "data", "-n", &ns, "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..5], ["data", "Bound", small.as_str(), "2Gi", "RWO"], "{row}");
    for other in [&names[0], &names[2]] {
        assert_eq!(phase(&volume(c, other)), "Available");
    }
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
    delete_volumes(c, &names.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn selector_access_modes_and_class_decide_the_match() {
    let c = common::shared();
    let ns = namespace(c, "pv-match");
    let class = format!("match-{}", pid());
    let other_class = format!("match-other-{}", pid());
    let n = |s: &str| format!("{class}-{s}");
    let volumes = [
        pv_manifest(&n("plain"), "1Gi", "ReadWriteOnce", &class, "", ""),
        pv_manifest(&n("gold"), "3Gi", "ReadWriteOnce", &class, "  labels: {tier: gold}\n", ""),
        pv_manifest(&n("shared"), "4Gi", "ReadWriteMany", &class, "", ""),
        pv_manifest(&n("both"), "1Gi", "ReadWriteOnce, ReadOnlyMany", &class, "", ""),
        pv_manifest(&n("other"), "1Gi", "ReadWriteOnce", &other_class, "", ""),
    ];
    for v in &volumes {
        c.ok_stdin(&["create", "-f", "-"], v);
    }
    let names: Vec<String> = ["plain", "gold", "shared", "both", "other"].iter().map(|s| n(s)).collect();
    for name in &names {
        wait_until(WAIT, &format!("{name} to be Available"), || phase(&volume(c, name)) == "Available");
    }
    create(c, &ns, &pvc_manifest("gold", "1Gi", "ReadWriteOnce", Some(&class), "  selector:\n    matchLabels: {tier: gold}\n"));
    assert_eq!(wait_bound(c, &ns, "gold")["spec"]["volumeName"], n("gold").as_str());
    create(c, &ns, &pvc_manifest("many", "1Gi", "ReadWriteMany", Some(&class), ""));
    assert_eq!(wait_bound(c, &ns, "many")["spec"]["volumeName"], n("shared").as_str());
    // ReadWriteOnce: the volume with fewer access modes comes first, as upstream's index.
    create(c, &ns, &pvc_manifest("once", "1Gi", "ReadWriteOnce", Some(&class), ""));
    assert_eq!(wait_bound(c, &ns, "once")["spec"]["volumeName"], n("plain").as_str());
    create(c, &ns, &pvc_manifest("other", "1Gi", "ReadWriteOnce", Some(&other_class), ""));
    assert_eq!(wait_bound(c, &ns, "other")["spec"]["volumeName"], n("other").as_str());
    // Nothing left with ReadWriteMany: Pending.
    create(c, &ns, &pvc_manifest("many-more", "1Gi", "ReadWriteMany", Some(&class), ""));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(phase(&claim(c, &ns, "many-more")), "Pending");
    assert_eq!(phase(&volume(c, &n("both"))), "Available");
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
    delete_volumes(c, &names.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn pre_binding_works_both_ways() {
    let c = common::shared();
    let ns = namespace(c, "pv-prebound");
    let class = format!("prebound-{}", pid());
    let reserved = format!("{class}-reserved");
    let named = format!("{class}-named");
    let claim_ref = format!("  claimRef: {{namespace: {ns}, name: wanted}}\n");
    c.ok_stdin(&["create", "-f", "-"], &pv_manifest(&reserved, "1Gi", "ReadWriteOnce", &class, "", &claim_ref));
    c.ok_stdin(&["create", "-f", "-"], &pv_manifest(&named, "5Gi", "ReadWriteOnce", &class, "", ""));
    wait_until(WAIT, "the reserved volume to be Available", || phase(&volume(c, &reserved)) == "Available");
    // Another claim never gets a volume reserved for someone else.
    create(c, &ns, &pvc_manifest("intruder", "1Gi", "ReadWriteOnce", Some(&class), ""));
    let intruder = wait_bound(c, &ns, "intruder");
    assert_eq!(intruder["spec"]["volumeName"], named.as_str(), "the free volume, not the reserved one");
    // The claim the volume names gets it; the volume was bound by the user, not the controller.
    create(c, &ns, &pvc_manifest("wanted", "1Gi", "ReadWriteOnce", Some(&class), ""));
    let wanted = wait_bound(c, &ns, "wanted");
    assert_eq!(wanted["spec"]["volumeName"], reserved.as_str());
    assert_eq!(annotation(&wanted, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    let pv = volume(c, &reserved);
    assert_eq!(annotation(&pv, "pv.kubernetes.io/bound-by-controller"), None);
    assert_eq!(pv["spec"]["claimRef"]["uid"], wanted["metadata"]["uid"]);

    // A claim naming its volume: the claim was bound by the user, the volume by the controller.
    let chosen = format!("{class}-chosen");
    c.ok_stdin(&["create", "-f", "-"], &pv_manifest(&chosen, "1Gi", "ReadWriteOnce", &class, "", ""));
    create(c, &ns, &pvc_manifest("chooser", "1Gi", "ReadWriteOnce", Some(&class), &format!("  volumeName: {chosen}\n")));
    let chooser = wait_bound(c, &ns, "chooser");
    assert_eq!(chooser["spec"]["volumeName"], chosen.as_str());
    assert_eq!(annotation(&chooser, "pv.kubernetes.io/bound-by-controller"), None);
    assert_eq!(annotation(&chooser, "pv.kubernetes.io/bind-completed"), Some("yes"));
    wait_until(WAIT, "the chosen volume to be Bound", || phase(&volume(c, &chosen)) == "Bound");
    assert_eq!(annotation(&volume(c, &chosen), "pv.kubernetes.io/bound-by-controller"), Some("yes"));

    // Naming a volume that does not satisfy the claim: VolumeMismatch, Pending.
    let small = format!("{class}-small");
    c.ok_stdin(&["create", "-f", "-"], &pv_manifest(&small, "1Gi", "ReadWriteOnce", &class, "", ""));
    create(c, &ns, &pvc_manifest("greedy", "2Gi", "ReadWriteOnce", Some(&class), &format!("  volumeName: {small}\n")));
    let mismatch = wait_event(c, &ns, "greedy", "VolumeMismatch");
    assert_eq!(mismatch[0], format!("Cannot bind to requested volume \"{small}\": requested PV is too small"));
    assert_eq!(phase(&claim(c, &ns, "greedy")), "Pending");
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
    delete_volumes(c, &[&reserved, &named, &chosen, &small]);
}

#[test]
fn released_volumes_are_retained_deleted_or_failed_by_policy() {
    let c = common::shared();
    let ns = namespace(c, "pv-reclaim");
    let class = format!("reclaim-{}", pid());
    let retained = format!("{class}-retain");
    let deleted = format!("{class}-delete");
    let failing = format!("{class}-fail");
    let dir = std::path::PathBuf::from(format!("/tmp/corekube-volumes-test/{deleted}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data"), "x").unwrap();
    let spec = |policy: &str, path: &str| format!("  persistentVolumeReclaimPolicy: {policy}\n  hostPath: {{path: {path}}}\n");
    for (name, policy, path, claim_name) in [
        (&retained, "Retain", format!("/tmp/corekube-volumes-test/{retained}"), "keep"),
        (&deleted, "Delete", dir.display().to_string(), "drop"),
        (&failing, "Delete", format!("/srv/corekube-volumes-test/{failing}"), "fail"),
    ] {
        // Each volume pre-bound to its claim, so the claims cannot swap them.
        let manifest = format!(
            "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\nspec:\n  capacity: {{storage: 1Gi}}\n  accessModes: [ReadWriteOnce]\n  storageClassName: {class}\n  claimRef: {{namespace: {ns}, name: {claim_name}}}\n{}",
            spec(policy, &path)
        );
        c.ok_stdin(&["create", "-f", "-"], &manifest);
        create(c, &ns, &pvc_manifest(claim_name, "1Gi", "ReadWriteOnce", Some(&class), ""));
    }
    for claim_name in ["keep", "drop", "fail"] {
        wait_bound(c, &ns, claim_name);
    }
    let started = Instant::now();
    c.ok(&["delete", "pvc", "keep", "drop", "fail", "-n", &ns]);
    // Retain: Released, still pointing to the claim that is gone.
    wait_until(WAIT, "the retained volume to be Released", || phase(&volume(c, &retained)) == "Released");
    assert_eq!(volume(c, &retained)["spec"]["claimRef"]["name"], "keep");
    // Delete: the volume and its hostPath directory under /tmp are gone.
    wait_until(WAIT, "the deleted volume to be gone", || c.kubectl(&["get", "pv", &deleted]).status.code() != Some(0));
    eprintln!("Delete reclaim took {:?}", started.elapsed());
    assert!(!dir.exists(), "the hostPath deleter removes {}", dir.display());
    // Delete of a hostPath outside /tmp: Failed, with upstream's message.
    wait_until(WAIT, "the undeletable volume to be Failed", || phase(&volume(c, &failing)) == "Failed");
    let expected = format!("host_path deleter only supports /tmp/.+ but received provided /srv/corekube-volumes-test/{failing}");
    assert_eq!(volume(c, &failing)["status"]["message"], expected.as_str());
    assert_eq!(wait_event(c, "default", &failing, "VolumeFailedDelete")[0], expected);
    // A Released volume is Available again once its claimRef is removed.
    c.ok(&["patch", "pv", &retained, "--type=json", "-p", r#"[{"op":"remove","path":"/spec/claimRef"}]"#]);
    wait_until(WAIT, "the retained volume to be Available again", || phase(&volume(c, &retained)) == "Available");
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
    delete_volumes(c, &[&retained, &failing]);
}

#[test]
fn a_claim_larger_than_any_volume_stays_pending_with_upstreams_event() {
    let c = common::shared();
    let ns = namespace(c, "pv-pending");
    create(c, &ns, &pvc_manifest("huge", "100Ti", "ReadWriteOnce", Some(""), ""));
    let messages = wait_event(c, &ns, "huge", "FailedBinding");
    assert_eq!(messages[0], "no persistent volumes available for this claim and no storage class is set");
    let claim = claim(c, &ns, "huge");
    assert_eq!(phase(&claim), "Pending");
    assert_eq!(claim["spec"]["storageClassName"], "", "an empty class is kept");
    let describe = c.ok(&["describe", "pvc", "huge", "-n", &ns]);
    assert!(describe.contains("FailedBinding") && describe.contains("persistentvolume-controller"), "{describe}");
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
}

fn volume_dir(c: &Cluster) -> std::path::PathBuf {
    c.dir.path().join("data/volumes")
}

#[test]
fn an_immediate_class_is_provisioned_by_the_local_provisioner_and_deleted_with_its_claim() {
    let c = common::shared();
    let ns = namespace(c, "pv-provision");
    let class = format!("immediate-{}", pid());
    let manifest = format!("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {class}\nprovisioner: {LOCAL_PATH}\nreclaimPolicy: Delete\nvolumeBindingMode: Immediate\n");
    c.ok_stdin(&["create", "-f", "-"], &manifest);
    let started = Instant::now();
    create(c, &ns, &pvc_manifest("data", "3Gi", "ReadWriteOnce", Some(&class), ""));
    let bound = wait_bound(c, &ns, "data");
    eprintln!("claim provisioned and bound in {:?}", started.elapsed());
    let uid = bound["metadata"]["uid"].as_str().unwrap();
    let pv_name = format!("pvc-{uid}");
    assert_eq!(bound["spec"]["volumeName"], pv_name.as_str());
    assert_eq!(annotation(&bound, "volume.kubernetes.io/storage-provisioner"), Some(LOCAL_PATH));
    assert_eq!(bound["status"]["capacity"]["storage"], "3Gi");
    let pv = volume(c, &pv_name);
    assert_eq!(annotation(&pv, "pv.kubernetes.io/provisioned-by"), Some(LOCAL_PATH));
    assert_eq!(pv["spec"]["capacity"]["storage"], "3Gi");
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(pv["spec"]["storageClassName"], class.as_str());
    assert!(pv["spec"].get("nodeAffinity").is_none(), "no node was selected: {pv}");
    let path = std::path::PathBuf::from(pv["spec"]["hostPath"]["path"].as_str().unwrap());
    assert_eq!(path, volume_dir(c).join(format!("pvc-{uid}_{ns}_data")));
    assert!(path.is_dir(), "{} was made", path.display());
    assert_eq!(wait_event(c, &ns, "data", "ProvisioningSucceeded")[0], format!("Successfully provisioned volume {pv_name}"));
    let external = wait_event(c, &ns, "data", "ExternalProvisioning");
    assert!(
        external[0].starts_with(&format!("Waiting for a volume to be created either by the external provisioner '{LOCAL_PATH}'")),
        "{external:?}"
    );

    c.ok(&["delete", "pvc", "data", "-n", &ns]);
    wait_until(WAIT, "the provisioned volume to be deleted", || c.kubectl(&["get", "pv", &pv_name]).status.code() != Some(0));
    assert!(!path.exists(), "{} was removed", path.display());
    c.ok(&["delete", "storageclass", &class]);
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
}

fn node_manifest(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/hostname: {name}\nstatus:\n  capacity: {{cpu: \"2\", memory: 4Gi, pods: \"110\"}}\n  allocatable: {{cpu: \"2\", memory: 4Gi, pods: \"110\"}}\n  conditions:\n  - {{type: Ready, status: \"True\", reason: KubeletReady, message: ready}}\n"
    )
}

/// A pod on `node` using `claim`, tolerating whatever taints the node gets (it has no kubelet).
fn pod_manifest(name: &str, node: &str, claim: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeSelector: {{kubernetes.io/hostname: {node}}}\n  tolerations: [{{operator: Exists}}]\n  containers:\n  - name: c\n    image: busybox\n    volumeMounts: [{{name: data, mountPath: /data}}]\n  volumes: [{{name: data, persistentVolumeClaim: {{claimName: {claim}}}}}]\n"
    )
}

fn node_of(c: &Cluster, ns: &str, pod: &str) -> String {
    c.ok(&["get", "pod", pod, "-n", ns, "-o", "jsonpath={.spec.nodeName}"])
}

/// Waits for the pod's binding, checking at the first sight of it that the claim was already
/// Bound (the scheduler binds the pod only after its volumes).
fn wait_pod_bound_after_claim(c: &Cluster, ns: &str, pod: &str, claim_name: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let node = node_of(c, ns, pod);
        if !node.is_empty() {
            assert_eq!(phase(&claim(c, ns, claim_name)), "Bound", "{claim_name} is Bound before {pod} is bound");
            return node;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {pod} to be bound");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn wait_for_first_consumer_binds_and_provisions_for_the_scheduled_node() {
    let c = common::shared();
    let ns = namespace(c, "pv-wffc");
    let node = format!("vol-node-{}", pid());
    c.ok_stdin(&["create", "-f", "-"], &node_manifest(&node));

    // The default class: the claim waits for its first consumer.
    create(c, &ns, &pvc_manifest("data", "2Gi", "ReadWriteOnce", Some("standard"), ""));
    let waiting = wait_event(c, &ns, "data", "WaitForFirstConsumer");
    assert_eq!(waiting[0], "waiting for first consumer to be created before binding");
    assert_eq!(phase(&claim(c, &ns, "data")), "Pending");
    let started = Instant::now();
    create(c, &ns, &pod_manifest("app", &node, "data"));
    assert_eq!(wait_pod_bound_after_claim(c, &ns, "app", "data"), node);
    eprintln!("WaitForFirstConsumer: pod created to pod bound (claim provisioned and bound first) in {:?}", started.elapsed());
    let bound = claim(c, &ns, "data");
    assert_eq!(annotation(&bound, "volume.kubernetes.io/selected-node"), Some(node.as_str()));
    let pv_name = bound["spec"]["volumeName"].as_str().unwrap().to_string();
    let pv = volume(c, &pv_name);
    assert_eq!(annotation(&pv, "pv.kubernetes.io/provisioned-by"), Some(LOCAL_PATH));
    let term = &pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0];
    assert_eq!((term["key"].as_str(), term["operator"].as_str()), (Some("kubernetes.io/hostname"), Some("In")));
    assert_eq!(term["values"], serde_json::json!([node]));
    let path = std::path::PathBuf::from(pv["spec"]["hostPath"]["path"].as_str().unwrap());
    assert!(path.starts_with(volume_dir(c)) && path.is_dir(), "{}", path.display());
    wait_until(WAIT, "the Scheduled event", || !events(c, &ns, "app", "Scheduled").is_empty());

    // A static local volume of a no-provisioner WaitForFirstConsumer class: the scheduler
    // writes the claimRef (Reserve/PreBind) and the PV controller finishes the binding.
    let class = format!("local-{}", pid());
    let local = format!("{class}-disk");
    c.ok_stdin(
        &["create", "-f", "-"],
        &format!("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {class}\nprovisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\n"),
    );
    let affinity = format!(
        "  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n      - matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: [{node}]}}]\n"
    );
    c.ok_stdin(&["create", "-f", "-"], &pv_manifest(&local, "1Gi", "ReadWriteOnce", &class, "", &affinity));
    create(c, &ns, &pvc_manifest("local", "1Gi", "ReadWriteOnce", Some(&class), ""));
    wait_event(c, &ns, "local", "WaitForFirstConsumer");
    assert_eq!(phase(&volume(c, &local)), "Available", "not bound before a consumer exists");
    create(c, &ns, &pod_manifest("local-app", &node, "local"));
    assert_eq!(wait_pod_bound_after_claim(c, &ns, "local-app", "local"), node);
    assert_eq!(claim(c, &ns, "local")["spec"]["volumeName"], local.as_str());
    let pv = volume(c, &local);
    assert_eq!(annotation(&pv, "pv.kubernetes.io/bound-by-controller"), Some("yes"));
    assert_eq!(pv["spec"]["claimRef"]["name"], "local");

    // The provisioned volume goes with its claim (reclaim policy Delete).
    c.ok(&["delete", "pod", "app", "local-app", "-n", &ns, "--grace-period=0", "--force"]);
    c.ok(&["delete", "pvc", "data", "-n", &ns]);
    wait_until(WAIT, "the provisioned volume to be deleted", || c.kubectl(&["get", "pv", &pv_name]).status.code() != Some(0));
    assert!(!path.exists());
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
    delete_volumes(c, &[&local]);
    c.ok(&["delete", "storageclass", &class]);
    c.ok(&["delete", "node", &node]);
}

#[test]
fn claims_without_a_class_get_the_default_class() {
    let c = common::shared();
    let ns = namespace(c, "pv-default");
    let class_of = |name: &str| claim(c, &ns, name)["spec"]["storageClassName"].clone();
    // `standard` is there from the start, the default, served by the local provisioner.
    let standard = get(c, &["storageclass", "standard"]);
    assert_eq!(annotation(&standard, "storageclass.kubernetes.io/is-default-class"), Some("true"));
    assert_eq!(standard["provisioner"], LOCAL_PATH);
    assert_eq!(standard["volumeBindingMode"], "WaitForFirstConsumer");
    assert!(c.ok(&["get", "storageclass"]).contains("standard (default)"));

    create(c, &ns, &pvc_manifest("plain", "1Gi", "ReadWriteOnce", None, ""));
    assert_eq!(class_of("plain"), "standard");
    create(c, &ns, &pvc_manifest("none", "1Gi", "ReadWriteOnce", Some(""), ""));
    assert_eq!(class_of("none"), "", "an empty class is a choice, kept");

    // Several defaults: the newest wins (not the first by name).
    let default_class = |name: &str| {
        format!(
            "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {name}\n  annotations: {{storageclass.kubernetes.io/is-default-class: \"true\"}}\nprovisioner: {LOCAL_PATH}\nvolumeBindingMode: WaitForFirstConsumer\n"
        )
    };
    let older = format!("zz-older-{}", pid());
    let newer = format!("aa-newer-{}", pid());
    c.ok_stdin(&["create", "-f", "-"], &default_class(&older));
    // Creation timestamps have whole seconds.
    std::thread::sleep(Duration::from_millis(1100));
    c.ok_stdin(&["create", "-f", "-"], &default_class(&newer));
    create(c, &ns, &pvc_manifest("newest", "1Gi", "ReadWriteOnce", None, ""));
    assert_eq!(class_of("newest"), newer.as_str());
    c.ok(&["delete", "storageclass", &older, &newer]);

    // No default: no class; once a default is back, the PV controller assigns it.
    c.ok(&["annotate", "storageclass", "standard", "storageclass.kubernetes.io/is-default-class=false", "--overwrite"]);
    let mut probes = 0;
    wait_until(WAIT, "the API server to see no default class", || {
        probes += 1;
        let probe = format!("probe-{probes}");
        create(c, &ns, &pvc_manifest(&probe, "1Gi", "ReadWriteOnce", None, ""));
        let class = class_of(&probe);
        c.ok(&["delete", "pvc", &probe, "-n", &ns]);
        class.is_null()
    });
    create(c, &ns, &pvc_manifest("later", "1Gi", "ReadWriteOnce", None, ""));
    assert!(class_of("later").is_null(), "no default class: no class");
    c.ok(&["annotate", "storageclass", "standard", "storageclass.kubernetes.io/is-default-class=true", "--overwrite"]);
    wait_until(WAIT, "the default class to be assigned retroactively", || class_of("later") == "standard");
    c.ok(&["delete", "namespace", &ns, "--wait=false"]);
}
