//! Which pods a ReplicaSet deletes first when it scales down: upstream's ActivePodsWithRanks
//! order (pkg/controller/controller_utils.go), with LogarithmicScaleDown and PodDeletionCost
//! on as they are by default.

use std::cmp::Ordering;
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
        pods.sort_by(|a, b| delete_before(a, b, rank(a), rank(b), now));
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

/// Upstream's afterOrZero: a missing time sorts first, then the later time.
fn after_or_zero(a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>) -> Ordering {
    match (a, b) {
        (None, _) | (_, None) => if a.is_none() { Ordering::Less } else { Ordering::Greater },
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

/// log2 of the age in nanoseconds, as an integer bucket (-1 for no age).
fn age_bucket(t: jiff::Timestamp, now: jiff::Timestamp) -> i64 {
    let d = now.duration_since(t).as_nanos();
    if d <= 0 { -1 } else { (d as f64).log2() as i64 }
}

/// Newer (by log2 bucket of age) first; the same bucket falls back to the uid.
fn by_age(a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>, pa: &Pod, pb: &Pod, now: jiff::Timestamp) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => match age_bucket(x, now).cmp(&age_bucket(y, now)) {
            Ordering::Equal => pa.metadata.uid.cmp(&pb.metadata.uid),
            o => o,
        },
        _ => after_or_zero(a, b),
    }
}

/// `Less` when `a` is deleted before `b`.
fn delete_before(a: &Pod, b: &Pod, rank_a: usize, rank_b: usize, now: jiff::Timestamp) -> Ordering {
    // 1. Unassigned before assigned.
    if node_of(a) != node_of(b) && (node_of(a).is_none() || node_of(b).is_none()) {
        return if node_of(a).is_none() { Ordering::Less } else { Ordering::Greater };
    }
    // 2. Pending before Unknown before Running.
    let o = phase_order(a).cmp(&phase_order(b));
    if o != Ordering::Equal {
        return o;
    }
    // 3. Not ready before ready.
    if is_pod_ready(a) != is_pod_ready(b) {
        return if is_pod_ready(a) { Ordering::Greater } else { Ordering::Less };
    }
    // 4. Lower deletion cost first.
    let o = deletion_cost(a).cmp(&deletion_cost(b));
    if o != Ordering::Equal {
        return o;
    }
    // 5. Doubled up (more related pods on its node) first.
    let o = rank_b.cmp(&rank_a);
    if o != Ordering::Equal {
        return o;
    }
    // 6. Ready for less time first.
    if is_pod_ready(a) && is_pod_ready(b) {
        let (ra, rb) = (ready_since(a), ready_since(b));
        if ra != rb {
            return by_age(ra, rb, a, b, now);
        }
    }
    // 7. More restarts first.
    let (ma, mb) = (max_restarts(a), max_restarts(b));
    if ma != mb {
        return mb.cmp(&ma);
    }
    // 8. Newer first.
    let (ca, cb) = (a.metadata.creation_timestamp.as_ref().map(|t| t.0), b.metadata.creation_timestamp.as_ref().map(|t| t.0));
    if ca != cb {
        return by_age(ca, cb, a, b, now);
    }
    Ordering::Equal
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
}
