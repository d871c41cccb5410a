//! The node controllers end to end with shortened timing flags: node IPAM, a node that stops
//! heartbeating going Unknown and tainted, its pods evicted after their tolerationSeconds, the
//! taints leaving when it comes back, pods of a deleted node collected, and the oldest
//! finished pods removed over the threshold. Nodes are made with kubectl; the test plays their
//! kubelets by writing node status.

mod common;

use std::time::Duration;

use common::{namespace, wait_until, Cluster};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn json(c: &Cluster, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&c.ok(&a)).expect("kubectl -o json")
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn make_node(c: &Cluster, name: &str) {
    c.ok_stdin(&["apply", "-f", "-"], &format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/hostname: {name}\n"));
}

/// Posts the node's Ready condition, as its kubelet would.
fn post_ready(c: &Cluster, node: &str, status: &str) {
    let t = now();
    let patch = format!(
        "{{\"status\":{{\"conditions\":[{{\"type\":\"Ready\",\"status\":\"{status}\",\"reason\":\"KubeletReady\",\"message\":\"test\",\"lastHeartbeatTime\":\"{t}\",\"lastTransitionTime\":\"{t}\"}}]}}}}"
    );
    c.ok(&["patch", "node", node, "--subresource=status", "--type=merge", "-p", &patch]);
}

fn taint_keys(c: &Cluster, node: &str) -> Vec<String> {
    json(c, &["get", "node", node])["spec"]["taints"]
        .as_array()
        .map(|ts| ts.iter().map(|t| format!("{}:{}", t["key"].as_str().unwrap(), t["effect"].as_str().unwrap())).collect())
        .unwrap_or_default()
}

fn bound_pod(ns: &str, name: &str, node: &str, tolerations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  nodeName: {node}\n{tolerations}  containers:\n  - name: c\n    image: busybox:1.35\n"
    )
}

#[test]
fn node_controllers_with_short_timing() {
    let c = Cluster::start_with_external_etcd(&["--node-monitor-grace-period=4s", "--node-monitor-period=1s", "--terminated-pod-gc-threshold=2"]);

    // IPAM: distinct ranges from the cluster range, the lowest first.
    make_node(&c, "ipam-a");
    make_node(&c, "ipam-b");
    wait_until(WAIT, "both nodes to get pod ranges", || {
        ["ipam-a", "ipam-b"].iter().all(|n| json(&c, &["get", "node", n])["spec"]["podCIDR"].is_string())
    });
    let mut ranges: Vec<String> = ["ipam-a", "ipam-b"].iter().map(|n| json(&c, &["get", "node", n])["spec"]["podCIDR"].as_str().unwrap().to_string()).collect();
    ranges.sort();
    assert_eq!(ranges, vec!["10.42.0.0/24", "10.42.1.0/24"]);
    assert_eq!(json(&c, &["get", "node", "ipam-a"])["spec"]["podCIDRs"].as_array().unwrap().len(), 1);

    // A node that stops heartbeating: Unknown, tainted unreachable, its pods not ready.
    let ns = namespace(&c, "lost");
    make_node(&c, "lost-1");
    post_ready(&c, "lost-1", "True");
    let short = "  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n    tolerationSeconds: 2\n";
    let forever = "  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n";
    c.ok_stdin(&["apply", "-f", "-"], &bound_pod(&ns, "short", "lost-1", short));
    c.ok_stdin(&["apply", "-f", "-"], &bound_pod(&ns, "default", "lost-1", ""));
    c.ok_stdin(&["apply", "-f", "-"], &bound_pod(&ns, "forever", "lost-1", forever));
    // DefaultTolerationSeconds gave the plain pod 300 s for both taints.
    let tolerations = json(&c, &["get", "pod", "default", "-n", &ns])["spec"]["tolerations"].clone();
    assert_eq!(tolerations.as_array().unwrap().len(), 2, "{tolerations}");
    assert!(tolerations.as_array().unwrap().iter().all(|t| t["tolerationSeconds"] == 300 && t["effect"] == "NoExecute"), "{tolerations}");
    let ready = format!("{{\"status\":{{\"phase\":\"Running\",\"conditions\":[{{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"{}\"}}]}}}}", now());
    c.ok(&["patch", "pod", "default", "-n", &ns, "--subresource=status", "--type=merge", "-p", &ready]);

    wait_until(WAIT, "lost-1 to go Unknown with the unreachable taints", || {
        let n = json(&c, &["get", "node", "lost-1"]);
        let ready = n["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
        ready["status"] == "Unknown" && taint_keys(&c, "lost-1").contains(&"node.kubernetes.io/unreachable:NoExecute".to_string())
    });
    let n = json(&c, &["get", "node", "lost-1"]);
    let ready = n["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    assert!(taint_keys(&c, "lost-1").contains(&"node.kubernetes.io/unreachable:NoSchedule".to_string()));
    wait_until(WAIT, "the pod on lost-1 to be marked not ready", || {
        let p = json(&c, &["get", "pod", "default", "-n", &ns]);
        p["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Ready" && c["status"] == "False")
    });

    // The pod tolerating 2 s is evicted; the others stay.
    wait_until(WAIT, "the 2-second pod to be evicted", || json(&c, &["get", "pod", "short", "-n", &ns])["metadata"]["deletionTimestamp"].is_string());
    let short_pod = json(&c, &["get", "pod", "short", "-n", &ns]);
    assert!(
        short_pod["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "DisruptionTarget" && c["reason"] == "DeletionByTaintManager"),
        "{short_pod}"
    );
    let events = c.ok(&["get", "events", "-n", &ns, "--field-selector", "reason=TaintManagerEviction", "-o", "jsonpath={.items[*].message}"]);
    assert!(events.contains(&format!("Marking for deletion Pod {ns}/short")), "{events}");
    std::thread::sleep(Duration::from_secs(3));
    for kept in ["default", "forever"] {
        assert!(json(&c, &["get", "pod", kept, "-n", &ns])["metadata"]["deletionTimestamp"].is_null(), "{kept} is kept");
    }

    // The kubelet posts again: the taints go.
    post_ready(&c, "lost-1", "True");
    wait_until(WAIT, "the unreachable taints to be removed", || taint_keys(&c, "lost-1").is_empty());
    // It reports NotReady: the not-ready taints come.
    post_ready(&c, "lost-1", "False");
    wait_until(WAIT, "the not-ready taints", || {
        let keys = taint_keys(&c, "lost-1");
        keys.contains(&"node.kubernetes.io/not-ready:NoExecute".to_string()) && keys.contains(&"node.kubernetes.io/not-ready:NoSchedule".to_string())
    });

    // The node is deleted: its pods are collected (force-deleted) by pod GC.
    c.ok(&["delete", "node", "lost-1"]);
    // After upstream's 40 s quarantine, at the next 20 s pass at the latest.
    wait_until(Duration::from_secs(120), "pod GC to remove the deleted node's pods", || {
        c.ok(&["get", "pods", "-n", &ns, "-o", "name"]).trim().is_empty()
    });

    // Finished pods over the threshold (2): the oldest go.
    let done = namespace(&c, "finished");
    for i in 0..4 {
        c.ok_stdin(&["apply", "-f", "-"], &bound_pod(&done, &format!("done-{i}"), "ipam-a", ""));
        c.ok(&["patch", "pod", &format!("done-{i}"), "-n", &done, "--subresource=status", "--type=merge", "-p", "{\"status\":{\"phase\":\"Succeeded\"}}"]);
        std::thread::sleep(Duration::from_millis(1100));
    }
    wait_until(WAIT, "the two oldest finished pods to be deleted", || {
        let names = c.ok(&["get", "pods", "-n", &done, "-o", "jsonpath={.items[*].metadata.name}"]);
        names.split_whitespace().collect::<Vec<_>>() == vec!["done-2", "done-3"]
    });
}
