//! Which pods a ReplicaSet deletes first when it scales down: upstream's ActivePodsWithRanks
//! order (pkg/controller/controller_utils.go), with LogarithmicScaleDown and PodDeletionCost
//! on as they are by default.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::util::{is_pod_active, is_pod_ready};

const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The first `count` pods of `pods` to delete. `related` are the pods of every ReplicaSet of the
/// same owner (a Deployment's old and new ones): a pod on a node crowded with them goes first.
pub fn pods_to_delete(mut pods: Vec<Arc<Pod>>, related: &[Arc<Pod>], count: usize, now: jiff::Timestamp) -> Vec<Arc<Pod>> {
    if count < pods.len() {
        let mut on_node: HashMap<&str, usize> = HashMap::new();
        for p in related.iter().filter(|p| is_pod_active(p)) {
            if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty()) {
                *on_node.entry(node).or_default() += 1;
            }
        }
        let rank = |p: &Pod| node_of(p).map(|n| on_node.get(n).copied().unwrap_or(0)).unwrap_or(0);
        pods.sort_by_cached_key(|p| deletion_key(p, rank(p), now));
    }
    pods.truncate(count);
    pods
}

fn node_of(p: &Pod) -> Option<&str> {
    p.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

fn phase_order(p: &Pod) -> u8 {
    match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 3,
    }
}

fn deletion_cost(p: &Pod) -> i32 {
    p.metadata.annotations.as_ref().and_then(|a| a.get(DELETION_COST)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn ready_since(p: &Pod) -> Option<jiff::Timestamp> {
    let c = p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready" && c.status == "True")?;
    c.last_transition_time.as_ref().map(|t| t.0)
}

/// (regular containers, restartable init containers): the highest restart count of each.
fn max_restarts(p: &Pod) -> (i32, i32) {
    let max = |s: Option<&Vec<k8s_openapi::api::core::v1::ContainerStatus>>| s.into_iter().flatten().map(|c| c.restart_count).max().unwrap_or(0);
    let status = p.status.as_ref();
    let sidecars: Vec<String> = p
        .spec
        .as_ref()
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.clone())
        .collect();
    let init = status.and_then(|s| s.init_container_statuses.as_ref());
    let sidecar = init.into_iter().flatten().filter(|c| sidecars.contains(&c.name)).map(|c| c.restart_count).max().unwrap_or(0);
    (max(status.and_then(|s| s.container_statuses.as_ref())), sidecar)
}

/// log2 of the age in nanoseconds, as an integer bucket (-1 for no age).
fn age_bucket(t: jiff::Timestamp, now: jiff::Timestamp) -> i64 {
    let d = now.duration_since(t).as_nanos();
    if d <= 0 { -1 } else { (d as f64).log2() as i64 }
}

/// The deletion order as a sort key: smaller goes first. Upstream compares pairs rule by rule
/// (its sort tolerates a comparison that is not transitive: the logarithmic buckets fall back to
/// the uid inside one rule); a key gives the same rules in the same order as a total order,
/// which Rust's sort requires: a missing time sorts first, then the newer bucket, and only a
/// full tie falls back to the uid.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct DeletionKey {
    assigned: bool,
    phase: u8,
    ready: bool,
    deletion_cost: i32,
    crowding: std::cmp::Reverse<usize>,
    ready_age: Option<i64>,
    restarts: std::cmp::Reverse<(i32, i32)>,
    created_age: Option<i64>,
    uid: Option<String>,
}

fn deletion_key(p: &Pod, rank: usize, now: jiff::Timestamp) -> DeletionKey {
    let ready = is_pod_ready(p);
    DeletionKey {
        // 1. Unassigned before assigned.
        assigned: node_of(p).is_some(),
        // 2. Pending before Unknown before Running.
        phase: phase_order(p),
        // 3. Not ready before ready.
        ready,
        // 4. Lower deletion cost first.
        deletion_cost: deletion_cost(p),
        // 5. Doubled up (more related pods on its node) first.
        crowding: std::cmp::Reverse(rank),
        // 6. Ready for less time first (a missing time first).
        ready_age: if ready { ready_since(p).map(|t| age_bucket(t, now)) } else { None },
        // 7. More restarts first.
        restarts: std::cmp::Reverse(max_restarts(p)),
        // 8. Newer first (a missing time first).
        created_age: p.metadata.creation_timestamp.as_ref().map(|t| age_bucket(t.0, now)),
        uid: p.metadata.uid.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(name: &str, node: &str, phase: &str, ready_secs_ago: Option<i64>, created_secs_ago: i64) -> Arc<Pod> {
        let now = jiff::Timestamp::now();
        let ago = |s: i64| Time(now - jiff::SignedDuration::from_secs(s));
        Arc::new(Pod {
            metadata: ObjectMeta { name: Some(name.into()), uid: Some(name.into()), creation_timestamp: Some(ago(created_secs_ago)), ..Default::default() },
            spec: Some(PodSpec { node_name: (!node.is_empty()).then(|| node.into()), ..Default::default() }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready_secs_ago.map(|s| {
                    vec![PodCondition { type_: "Ready".into(), status: "True".into(), last_transition_time: Some(ago(s)), ..Default::default() }]
                }),
                ..Default::default()
            }),
        })
    }

    fn names(p: Vec<Arc<Pod>>) -> Vec<String> {
        p.iter().map(|p| p.metadata.name.clone().unwrap()).collect()
    }

    #[test]
    fn upstream_order() {
        let now = jiff::Timestamp::now();
        let pods = vec![
            pod("running-old", "n1", "Running", Some(10_000), 10_000),
            pod("unassigned", "", "Pending", None, 5),
            pod("pending", "n1", "Pending", None, 5),
            pod("running-unready", "n1", "Running", None, 5),
            pod("running-new", "n1", "Running", Some(10), 20),
        ];
        let all = pods.clone();
        assert_eq!(
            names(pods_to_delete(pods, &all, 4, now)),
            vec!["unassigned", "pending", "running-unready", "running-new"]
        );
    }

    #[test]
    fn crowded_nodes_first() {
        let now = jiff::Timestamp::now();
        let a = pod("alone", "n1", "Running", Some(100), 100);
        let b = pod("crowded", "n2", "Running", Some(100), 100);
        let other = pod("other", "n2", "Running", Some(100), 100);
        assert_eq!(names(pods_to_delete(vec![a.clone(), b.clone()], &[a, b, other], 1, now)), vec!["crowded"]);
    }

    #[test]
    fn many_pods_with_mixed_times_sort_without_a_panic() {
        // Ready and creation times spread over log buckets, restarts and nodes mixed: the order
        // must be total (Rust's sort panics on one that is not, as an earlier pairwise
        // comparison did with 1,000 pods).
        let now = jiff::Timestamp::now();
        let pods: Vec<Arc<Pod>> = (0..1000i64)
            .map(|i| pod(&format!("p{i:04}"), if i % 3 == 0 { "" } else { "n1" }, if i % 5 == 0 { "Pending" } else { "Running" }, (i % 2 == 0).then_some((i * 7919) % 5000), (i * 104729) % 7000))
            .collect();
        let doomed = pods_to_delete(pods.clone(), &pods, 500, now);
        assert_eq!(doomed.len(), 500);
        assert!(doomed.iter().take(10).all(|p| node_of(p).is_none()), "unassigned pods go first");
    }
}
