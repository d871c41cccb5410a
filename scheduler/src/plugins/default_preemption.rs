//! DefaultPreemption (PostFilter): when no node fits, find the node where evicting the fewest,
//! least important lower-priority pods lets the pod fit. PodDisruptionBudgets are not
//! considered (every victim counts as non-violating).

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::framework::{
    Code, CycleState, Diagnosis, FitError, Framework, NodeInfo, Plugin, PodInfo, PostFilterPlugin, PostFilterResult,
    Snapshot, Status,
};
use crate::plugins::names::DEFAULT_PREEMPTION;
use crate::plugins::queue_sort::pod_priority;

pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Upstream's `minCandidateNodesPercentage` and `minCandidateNodesAbsolute`.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// The preemption decision: where the pod is nominated, whom to evict, and the message to
/// append to the FitError ("preemption: ..."; empty when a node was found).
pub type PreemptionOutcome = PostFilterResult;

pub struct DefaultPreemption;

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        DEFAULT_PREEMPTION
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        Some(self)
    }
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(&self, fw: &Framework, pod: &Pod, snapshot: &Snapshot, fit: &FitError) -> PostFilterResult {
        preempt(fw, pod, snapshot, fit)
    }
}

fn start_time(p: &Pod) -> Option<&Time> {
    p.status.as_ref().and_then(|s| s.start_time.as_ref())
}

/// upstream `MoreImportantPod`: higher priority, then earlier start (no start time = latest).
fn more_important(a: &Pod, b: &Pod) -> Ordering {
    pod_priority(b).cmp(&pod_priority(a)).then_with(|| match (start_time(a), start_time(b)) {
        (Some(x), Some(y)) => x.0.cmp(&y.0),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    })
}

/// Formats the PostFilter message for a failed preemption: "preemption: 0/N nodes are
/// available: <histogram>." over the dry-run statuses, other nodes counting as not helpful.
pub fn preemption_message(num_all_nodes: usize, node_to_status: std::collections::BTreeMap<String, Status>) -> String {
    let fe = FitError {
        num_all_nodes,
        diagnosis: Diagnosis {
            node_to_status,
            absent_nodes_status: Some(Status::unresolvable(NOT_HELPFUL)),
            unschedulable_plugins: vec![],
        },
        ..Default::default()
    };
    format!("preemption: {}", fe.message())
}

fn not_eligible(msg: &str) -> PreemptionOutcome {
    PreemptionOutcome { nominated_node: None, victims: vec![], message: format!("preemption: {msg}") }
}

/// Status of `name` in the failed cycle's diagnosis.
fn node_status<'a>(fit: &'a FitError, name: &str) -> Option<&'a Status> {
    fit.diagnosis.node_to_status.get(name).or(fit.diagnosis.absent_nodes_status.as_ref())
}

/// Runs preemption for `pod` after `schedule` failed with `fit`.
pub fn preempt(fw: &Framework, pod: &Pod, snapshot: &Snapshot, fit: &FitError) -> PreemptionOutcome {
    let spec = pod.spec.as_ref();
    if spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
        return not_eligible("not eligible due to preemptionPolicy=Never.");
    }
    let priority = pod_priority(pod);
    if let Some(nominated) = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty()) {
        let unresolvable = node_status(fit, nominated).is_some_and(|s| s.code == Code::UnschedulableAndUnresolvable);
        if let (false, Some(ni)) = (unresolvable, snapshot.node_info(nominated)) {
            if ni.pods.iter().any(|p| p.pod.metadata.deletion_timestamp.is_some() && pod_priority(&p.pod) < priority) {
                return not_eligible("not eligible due to a terminating pod on the nominated node.");
            }
        }
    }
    let n = snapshot.num_nodes();
    let potential: Vec<&NodeInfo> = snapshot
        .nodes()
        .iter()
        .filter(|ni| node_status(fit, ni.name()).is_none_or(|s| s.code != Code::UnschedulableAndUnresolvable))
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    if potential.is_empty() {
        return PreemptionOutcome { message: preemption_message(n, statuses), ..Default::default() };
    }
    let state = match fw.run_pre_filter(pod, snapshot) {
        Ok(s) => s,
        Err(st) => return not_eligible(&st.message()),
    };
    let wanted = (potential.len() * MIN_CANDIDATE_NODES_PERCENTAGE / 100).max(MIN_CANDIDATE_NODES_ABSOLUTE).min(potential.len());
    let mut candidates: Vec<(&NodeInfo, Vec<Arc<Pod>>)> = Vec::new();
    for ni in potential {
        match select_victims_on_node(fw, &state, pod, ni, snapshot) {
            Ok(victims) => {
                candidates.push((ni, victims));
                if candidates.len() >= wanted {
                    break;
                }
            }
            Err(st) => {
                statuses.insert(ni.name().to_string(), st);
            }
        }
    }
    match pick_one_node(&candidates) {
        Some(i) => {
            let (ni, victims) = candidates.swap_remove(i);
            PreemptionOutcome { nominated_node: Some(ni.name().to_string()), victims, message: String::new() }
        }
        None => PreemptionOutcome { message: preemption_message(n, statuses), ..Default::default() },
    }
}

/// upstream `SelectVictimsOnNode`: remove every lower-priority pod; if the pod then fits,
/// add them back most important first while it still fits; the rest are the victims.
pub fn select_victims_on_node(
    fw: &Framework,
    state: &CycleState,
    pod: &Pod,
    node: &NodeInfo,
    snapshot: &Snapshot,
) -> Result<Vec<Arc<Pod>>, Status> {
    let priority = pod_priority(pod);
    let mut potential: Vec<PodInfo> = node.pods.iter().filter(|p| pod_priority(&p.pod) < priority).cloned().collect();
    if potential.is_empty() {
        return Err(Status::unresolvable(NO_VICTIMS));
    }
    let mut ni = node.clone();
    let mut state = state.clone();
    for v in &potential {
        ni.remove_pod(&v.pod);
        fw.run_pre_filter_remove_pod(&mut state, pod, v, &ni, snapshot);
    }
    let st = fw.run_filters(&state, pod, &ni, snapshot);
    if !st.is_success() {
        return Err(st);
    }
    potential.sort_by(|a, b| more_important(&a.pod, &b.pod));
    let mut victims = Vec::new();
    for v in potential {
        ni.add_pod_info(v.clone());
        fw.run_pre_filter_add_pod(&mut state, pod, &v, &ni, snapshot);
        if !fw.run_filters(&state, pod, &ni, snapshot).is_success() {
            ni.remove_pod(&v.pod);
            fw.run_pre_filter_remove_pod(&mut state, pod, &v, &ni, snapshot);
            victims.push(v.pod);
        }
    }
    Ok(victims)
}

/// upstream `pickOneNodeForPreemption` without PDBs: a node needing no victims; else the
/// lowest highest-victim priority, the smallest priority sum, the fewest victims, the latest
/// start among the highest-priority victims, then the first.
fn pick_one_node(candidates: &[(&NodeInfo, Vec<Arc<Pod>>)]) -> Option<usize> {
    if candidates.is_empty() {
        return None;
    }
    if let Some(i) = candidates.iter().position(|(_, v)| v.is_empty()) {
        return Some(i);
    }
    let highest = |v: &[Arc<Pod>]| v.iter().map(|p| pod_priority(p)).max().unwrap_or(i32::MIN);
    let sum = |v: &[Arc<Pod>]| v.iter().map(|p| pod_priority(p) as i64 + i32::MAX as i64 + 1).sum::<i64>();
    let earliest_of_highest = |v: &[Arc<Pod>]| {
        let h = highest(v);
        v.iter().filter(|p| pod_priority(p) == h).filter_map(|p| start_time(p).map(|t| t.0)).min()
    };
    let mut best = 0;
    for i in 1..candidates.len() {
        let (a, b) = (&candidates[i].1, &candidates[best].1);
        let ord = highest(a)
            .cmp(&highest(b))
            .then_with(|| sum(a).cmp(&sum(b)))
            .then_with(|| a.len().cmp(&b.len()))
            // Later is better: reverse.
            .then_with(|| earliest_of_highest(b).cmp(&earliest_of_highest(a)));
        if ord == Ordering::Less {
            best = i;
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Profile;
    use crate::testing::*;

    fn fw() -> Framework {
        Framework::new(Profile::default()).unwrap()
    }

    #[test]
    fn preempts_lowest_priority_victims() {
        // a: one low (1) + one mid (50) pod of 2 cpu each; b: two mid (50) pods.
        let snap = snapshot(
            vec![node("a").build(), node("b").build()],
            vec![
                pod("a-low").node("a").priority(1).container("2", "").build(),
                pod("a-mid").node("a").priority(50).container("2", "").build(),
                pod("b-mid1").node("b").priority(50).container("2", "").build(),
                pod("b-mid2").node("b").priority(50).container("2", "").build(),
            ],
        );
        let p = pod("p").priority(100).container("2", "").build();
        let fw = fw();
        let mut fit = fw.schedule(&p, &snap).unwrap_err();
        assert_eq!(fit.message(), "0/2 nodes are available: 2 Insufficient cpu.");
        let out = fw.run_post_filter(&p, &snap, &mut fit);
        assert_eq!(out.nominated_node.as_deref(), Some("a"));
        let names: Vec<_> = out.victims.iter().map(|v| v.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, vec!["a-low"]);
        assert_eq!(out.message, "");
    }

    #[test]
    fn no_victims_message() {
        let snap = snapshot(
            vec![node("a").build(), node("b").build(), node("c").taint("k", "", "NoSchedule").build()],
            vec![pod("a1").node("a").priority(100).container("4", "").build(), pod("b1").node("b").priority(100).container("4", "").build()],
        );
        let p = pod("p").priority(100).container("1", "").build();
        let fw = fw();
        let mut fit = fw.schedule(&p, &snap).unwrap_err();
        let out = fw.run_post_filter(&p, &snap, &mut fit);
        assert_eq!(out.nominated_node, None);
        assert_eq!(
            fit.message(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {k: }, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn never_policy() {
        let snap = snapshot(vec![node("a").build()], vec![pod("x").node("a").container("4", "").build()]);
        let p = pod("p").priority(100).preemption_policy("Never").container("1", "").build();
        let fw = fw();
        let mut fit = fw.schedule(&p, &snap).unwrap_err();
        let out = fw.run_post_filter(&p, &snap, &mut fit);
        assert_eq!(out.nominated_node, None);
        assert!(fit.message().ends_with("preemption: not eligible due to preemptionPolicy=Never."), "{}", fit.message());
    }

    #[test]
    fn reprieve_keeps_the_most_important_pods() {
        // Node a: three 1-cpu low pods with different priorities; the pod needs 2 cpu of 4.
        let snap = snapshot(
            vec![node("a").build()],
            vec![
                pod("p1").node("a").priority(1).container("1", "").build(),
                pod("p2").node("a").priority(2).container("1", "").build(),
                pod("p3").node("a").priority(3).container("1", "").build(),
                pod("p4").node("a").priority(4).container("1", "").build(),
            ],
        );
        let p = pod("p").priority(10).container("2", "").build();
        let fw = fw();
        let mut fit = fw.schedule(&p, &snap).unwrap_err();
        let out = fw.run_post_filter(&p, &snap, &mut fit);
        let mut names: Vec<_> = out.victims.iter().map(|v| v.metadata.name.clone().unwrap()).collect();
        names.sort();
        assert_eq!(names, vec!["p1", "p2"]);
    }
}
