//! The scheduler, end to end: nodes made with kubectl from manifests (capacity, labels,
//! taints), pods placed where upstream's default profile would put them, and upstream's
//! events and messages when they cannot be. One cluster; scenarios run in order because
//! nodes are cluster-wide.

mod common;

use std::time::Duration;

use common::{namespace, wait_until, Cluster};

const WAIT: Duration = Duration::from_secs(30);

fn pod_manifest(ns: &str, name: &str, extra_spec: &str, cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: {app}\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests:\n        cpu: \"{cpu}\"\n",
        app = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-'),
    )
}

fn node_of(c: &Cluster, ns: &str, pod: &str) -> String {
    c.ok(&["get", "-n", ns, "pod", pod, "-o", "jsonpath={.spec.nodeName}"])
}

fn wait_scheduled(c: &Cluster, ns: &str, pod: &str) -> String {
    wait_until(WAIT, &format!("{pod} to be scheduled"), || !node_of(c, ns, pod).is_empty());
    node_of(c, ns, pod)
}

/// Waits for the PodScheduled=False message and returns it.
fn wait_unschedulable(c: &Cluster, ns: &str, pod: &str) -> String {
    let get = || c.ok(&["get", "-n", ns, "pod", pod, "-o", r#"jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}"#]);
    wait_until(WAIT, &format!("{pod} to be marked unschedulable"), || !get().is_empty());
    get()
}

/// Pods on nodes are deleted gracefully and there is no kubelet here: remove them at once.
fn force_delete(c: &Cluster, ns: &str, pods: &[&str]) {
    for p in pods {
        c.ok(&["delete", "-n", ns, "pod", p, "--grace-period=0", "--force"]);
    }
}

#[test]
fn pods_land_where_upstream_would_put_them() {
    let c = Cluster::start();
    let ns = namespace(&c, "sched");
    c.ok(&["apply", "-f", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scheduler/nodes.yaml")]);

    // nodeSelector, with upstream's Scheduled event shown by describe.
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "ssd", "  nodeSelector:\n    disk: ssd\n", "100m"));
    assert_eq!(wait_scheduled(&c, &ns, "ssd"), "sched-a1");
    wait_until(WAIT, "the Scheduled event", || {
        c.ok(&["describe", "-n", &ns, "pod", "ssd"]).contains(&format!("Successfully assigned {ns}/ssd to sched-a1"))
    });
    let describe = c.ok(&["describe", "-n", &ns, "pod", "ssd"]);
    assert!(describe.contains("Normal  Scheduled") && describe.contains("default-scheduler"), "{describe}");

    // A toleration opens the tainted node; required node affinity picks the zone.
    let tolerating = "  tolerations:\n  - {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}\n  nodeSelector:\n    kubernetes.io/hostname: sched-gpu\n";
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "gpu", tolerating, "100m"));
    assert_eq!(wait_scheduled(&c, &ns, "gpu"), "sched-gpu");
    let zone_b = "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions:\n          - {key: topology.kubernetes.io/zone, operator: In, values: [zone-b]}\n";
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "in-zone-b", zone_b, "100m"));
    assert_eq!(wait_scheduled(&c, &ns, "in-zone-b"), "sched-b1", "the untolerated taint rules out sched-gpu");

    // Required anti-affinity on the hostname puts two replicas on different nodes.
    let anti = "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - topologyKey: kubernetes.io/hostname\n        labelSelector:\n          matchLabels: {app: db}\n";
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "db-1", anti, "100m"));
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "db-2", anti, "100m"));
    let (n1, n2) = (wait_scheduled(&c, &ns, "db-1"), wait_scheduled(&c, &ns, "db-2"));
    assert_ne!(n1, n2);
    assert!(n1 != "sched-gpu" && n2 != "sched-gpu");
    // A third cannot go anywhere: the only other node has a taint it does not tolerate.
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "db-3", anti, "100m"));
    let msg = wait_unschedulable(&c, &ns, "db-3");
    assert!(msg.starts_with("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match pod anti-affinity rules."), "{msg}");
    force_delete(&c, &ns, &["db-1", "db-2", "db-3", "gpu", "in-zone-b", "ssd"]);

    // Too big for every node: Pending with upstream's message and a FailedScheduling event,
    // then scheduled once a node with room joins.
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "big", "", "3"));
    let msg = wait_unschedulable(&c, &ns, "big");
    assert!(msg.starts_with("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."), "{msg}");
    assert!(msg.contains("preemption: "), "{msg}");
    wait_until(WAIT, "the FailedScheduling event", || c.ok(&["describe", "-n", &ns, "pod", "big"]).contains("FailedScheduling"));
    assert_eq!(c.ok(&["get", "-n", &ns, "pod", "big", "-o", "jsonpath={.status.phase}"]), "Pending");
    let large = "apiVersion: v1\nkind: Node\nmetadata:\n  name: sched-large\n  labels:\n    kubernetes.io/hostname: sched-large\n    topology.kubernetes.io/zone: zone-a\nstatus:\n  capacity: {cpu: \"4\", memory: 8Gi, pods: \"110\"}\n  allocatable: {cpu: \"4\", memory: 8Gi, pods: \"110\"}\n";
    c.ok_stdin(&["apply", "-f", "-"], large);
    assert_eq!(wait_scheduled(&c, &ns, "big"), "sched-large");

    // Host ports: the second pod asking for the same port on the same node waits.
    let port = |name: &str| {
        format!("{}    ports:\n    - {{containerPort: 80, hostPort: 8080}}\n", pod_manifest(&ns, name, "  nodeSelector:\n    disk: ssd\n", "100m"))
    };
    c.ok_stdin(&["apply", "-f", "-"], &port("port-1"));
    assert_eq!(wait_scheduled(&c, &ns, "port-1"), "sched-a1");
    c.ok_stdin(&["apply", "-f", "-"], &port("port-2"));
    let msg = wait_unschedulable(&c, &ns, "port-2");
    assert!(msg.contains("1 node(s) didn't have free ports for the requested pod ports"), "{msg}");
    force_delete(&c, &ns, &["port-1", "port-2"]);

    // Preemption: a high-priority pod that fits nowhere evicts the low-priority one on the
    // node it needs and is nominated there; it binds once the victim is gone.
    let high = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: sched-high\nvalue: 1000\n";
    c.ok_stdin(&["apply", "-f", "-"], high);
    let on_large = "  nodeSelector:\n    kubernetes.io/hostname: sched-large\n";
    // `big` (priority 0, 3 cpu) holds sched-large.
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "urgent", &format!("  priorityClassName: sched-high\n{on_large}"), "2"));
    wait_until(WAIT, "urgent to be nominated to sched-large", || {
        c.ok(&["get", "-n", &ns, "pod", "urgent", "-o", "jsonpath={.status.nominatedNodeName}"]) == "sched-large"
    });
    wait_until(WAIT, "the victim to be deleted", || {
        !c.ok(&["get", "-n", &ns, "pod", "big", "--ignore-not-found", "-o", "jsonpath={.metadata.deletionTimestamp}"]).is_empty()
            || c.ok(&["get", "-n", &ns, "pod", "big", "--ignore-not-found", "-o", "name"]).is_empty()
    });
    // No kubelet finishes the graceful deletion; do it as one would.
    c.kubectl(&["delete", "-n", &ns, "pod", "big", "--grace-period=0", "--force"]);
    assert_eq!(wait_scheduled(&c, &ns, "urgent"), "sched-large");
    force_delete(&c, &ns, &["urgent"]);

    // Hard spread across zones: four replicas go two and two.
    let spread = "  topologySpreadConstraints:\n  - maxSkew: 1\n    topologyKey: topology.kubernetes.io/zone\n    whenUnsatisfiable: DoNotSchedule\n    labelSelector:\n      matchLabels: {app: spread}\n";
    for i in 1..=4 {
        c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, &format!("spread-{i}"), spread, "100m"));
    }
    let zones: Vec<String> = (1..=4)
        .map(|i| {
            let node = wait_scheduled(&c, &ns, &format!("spread-{i}"));
            c.ok(&["get", "node", &node, "-o", "jsonpath={.metadata.labels.topology\\.kubernetes\\.io/zone}"])
        })
        .collect();
    assert_eq!(zones.iter().filter(|z| *z == "zone-a").count(), 2, "{zones:?}");

    // Pods for another scheduler are left alone.
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "other", "  schedulerName: someone-else\n", "100m"));
    // A pod created after it being scheduled shows the scheduler has seen both.
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "marker", "", "100m"));
    wait_scheduled(&c, &ns, "marker");
    assert_eq!(node_of(&c, &ns, "other"), "");
    assert_eq!(c.ok(&["get", "-n", &ns, "pod", "other", "-o", "jsonpath={.status.conditions}"]), "");
}
