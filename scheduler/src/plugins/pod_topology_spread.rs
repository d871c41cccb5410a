//! PodTopologySpread: DoNotSchedule constraints filter nodes whose domain would exceed
//! maxSkew; ScheduleAnyway constraints score emptier domains higher. System default
//! constraints are not applied (they need Services/ReplicaSets the core does not see).

use std::collections::HashMap;

use corekube_api::selector::{LabelSelector, Operator, Requirement};
use k8s_openapi::api::core::v1::{Node, Pod};

use crate::framework::{
    node_labels, pod_labels, CycleState, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin, PreScorePlugin,
    ScorePlugin, Snapshot, Status, MAX_NODE_SCORE,
};
use crate::plugins::names::POD_TOPOLOGY_SPREAD;
use crate::plugins::node_affinity::pod_matches_node_selector_and_affinity;
use crate::plugins::taint_toleration::tolerations_tolerate;

pub const REASON_CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_NODE_LABEL_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
const HOSTNAME: &str = "kubernetes.io/hostname";
const SCORE_KEY: &str = "PreScorePodTopologySpread";

pub struct PodTopologySpread;

#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i64,
    topology_key: String,
    /// `None`: matches no pod.
    selector: Option<LabelSelector>,
    min_domains: usize,
    honor_node_affinity: bool,
    honor_node_taints: bool,
}

/// The pod's constraints with the given whenUnsatisfiable; matchLabelKeys are ANDed into the
/// selector using the pod's own label values.
fn constraints(pod: &Pod, when: &str) -> Vec<Constraint> {
    let labels = pod_labels(pod);
    pod.spec
        .iter()
        .flat_map(|s| s.topology_spread_constraints.iter().flatten())
        .filter(|c| c.when_unsatisfiable == when)
        .map(|c| {
            let selector = c.label_selector.as_ref().and_then(|s| LabelSelector::from_metav1(s).ok()).map(|sel| {
                let extra: Vec<Requirement> = c
                    .match_label_keys
                    .iter()
                    .flatten()
                    .filter_map(|k| labels.get(k).and_then(|v| Requirement::new(k, Operator::In, vec![v.clone()]).ok()))
                    .collect();
                if extra.is_empty() {
                    sel
                } else {
                    LabelSelector::from_requirements(sel.requirements().iter().cloned().chain(extra).collect())
                }
            });
            Constraint {
                max_skew: c.max_skew as i64,
                topology_key: c.topology_key.clone(),
                selector,
                min_domains: c.min_domains.unwrap_or(1).max(1) as usize,
                honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

fn has_all_keys(node: &Node, cs: &[Constraint]) -> bool {
    let l = node_labels(node);
    cs.iter().all(|c| l.contains_key(&c.topology_key))
}

fn node_included(c: &Constraint, pod: &Pod, node: &Node) -> bool {
    if c.honor_node_affinity && !pod_matches_node_selector_and_affinity(pod, node) {
        return false;
    }
    if c.honor_node_taints {
        let tols = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
        let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or(&[]);
        if taints.iter().any(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerations_tolerate(tols, t)) {
            return false;
        }
    }
    true
}

fn pod_counts(c: &Constraint, namespace: &str, p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.metadata.namespace.as_deref().unwrap_or("default") == namespace
        && c.selector.as_ref().is_some_and(|s| s.matches(pod_labels(p)))
}

fn count_matching(c: &Constraint, namespace: &str, pods: &[PodInfo]) -> i64 {
    pods.iter().filter(|pi| pod_counts(c, namespace, &pi.pod)).count() as i64
}

#[derive(Clone)]
struct PreFilterState {
    constraints: Vec<Constraint>,
    /// Per constraint: topology value -> matching pods.
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: the global minimum (0 when fewer domains than minDomains).
    min: Vec<i64>,
}

impl PreFilterState {
    fn recompute_min(&mut self) {
        self.min = self
            .counts
            .iter()
            .zip(&self.constraints)
            .map(|(m, c)| if m.len() < c.min_domains { 0 } else { m.values().copied().min().unwrap_or(0) })
            .collect();
    }

    fn update(&mut self, pod: &Pod, other: &Pod, node: &NodeInfo, delta: i64) {
        if !has_all_keys(&node.node, &self.constraints) {
            return;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        for (i, c) in self.constraints.iter().enumerate() {
            if node_included(c, pod, &node.node) && pod_counts(c, ns, other) {
                if let Some(v) = node.labels().get(&c.topology_key) {
                    *self.counts[i].entry(v.clone()).or_insert(0) += delta;
                }
            }
        }
        self.recompute_min();
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        POD_TOPOLOGY_SPREAD
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, snapshot: &Snapshot) -> Status {
        let cs = constraints(pod, "DoNotSchedule");
        if cs.is_empty() {
            return Status::skip();
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let mut counts = vec![HashMap::new(); cs.len()];
        for ni in snapshot.nodes() {
            if !has_all_keys(&ni.node, &cs) {
                continue;
            }
            for (i, c) in cs.iter().enumerate() {
                if !node_included(c, pod, &ni.node) {
                    continue;
                }
                let v = &ni.labels()[&c.topology_key];
                let n = count_matching(c, ns, &ni.pods);
                match counts[i].get_mut(v) {
                    Some(e) => *e += n,
                    None => {
                        counts[i].insert(v.clone(), n);
                    }
                }
            }
        }
        let mut s = PreFilterState { constraints: cs, counts, min: vec![] };
        s.recompute_min();
        state.write(POD_TOPOLOGY_SPREAD, s);
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &Pod, added: &PodInfo, node: &NodeInfo, _: &Snapshot) {
        if let Some(s) = state.read_mut::<PreFilterState>(POD_TOPOLOGY_SPREAD) {
            s.update(pod, &added.pod, node, 1);
        }
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &Pod, removed: &PodInfo, node: &NodeInfo, _: &Snapshot) {
        if let Some(s) = state.read_mut::<PreFilterState>(POD_TOPOLOGY_SPREAD) {
            s.update(pod, &removed.pod, node, -1);
        }
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Status {
        let Some(s) = state.read::<PreFilterState>(POD_TOPOLOGY_SPREAD) else { return Status::success() };
        let labels = node.labels();
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = labels.get(&c.topology_key) else {
                return Status::unresolvable(REASON_NODE_LABEL_NOT_MATCH);
            };
            let self_match = c.selector.as_ref().is_some_and(|sel| sel.matches(pod_labels(pod))) as i64;
            let matching = s.counts[i].get(v).copied().unwrap_or(0);
            if matching + self_match - s.min[i] > c.max_skew {
                return Status::unschedulable(REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

#[derive(Clone)]
struct PreScoreState {
    constraints: Vec<Constraint>,
    /// Feasible nodes missing a topology key: scored 0.
    ignored: std::collections::HashSet<String>,
    /// Per constraint (non-hostname): topology value -> matching pods.
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, snapshot: &Snapshot, nodes: &[&NodeInfo]) -> Status {
        let cs = constraints(pod, "ScheduleAnyway");
        if cs.is_empty() || snapshot.num_nodes() == 0 {
            return Status::skip();
        }
        let mut s = PreScoreState {
            counts: vec![HashMap::new(); cs.len()],
            weights: vec![0.0; cs.len()],
            ignored: Default::default(),
            constraints: cs,
        };
        for ni in nodes {
            if !has_all_keys(&ni.node, &s.constraints) {
                s.ignored.insert(ni.name().to_string());
                continue;
            }
            for (i, c) in s.constraints.iter().enumerate() {
                if c.topology_key != HOSTNAME {
                    s.counts[i].entry(ni.labels()[&c.topology_key].clone()).or_insert(0);
                }
            }
        }
        for (i, c) in s.constraints.iter().enumerate() {
            let size = if c.topology_key == HOSTNAME { nodes.len() - s.ignored.len() } else { s.counts[i].len() };
            s.weights[i] = ((size + 2) as f64).ln();
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        for ni in snapshot.nodes() {
            if !has_all_keys(&ni.node, &s.constraints) {
                continue;
            }
            for (i, c) in s.constraints.iter().enumerate() {
                if !node_included(c, pod, &ni.node) {
                    continue;
                }
                if let Some(e) = s.counts[i].get_mut(&ni.labels()[&c.topology_key]) {
                    *e += count_matching(c, ns, &ni.pods);
                }
            }
        }
        state.write(SCORE_KEY, s);
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    /// Matching pods in the node's domains, weighted by log(domains + 2), plus maxSkew - 1.
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> i64 {
        let Some(s) = state.read::<PreScoreState>(SCORE_KEY) else { return 0 };
        if s.ignored.contains(node.name()) {
            return 0;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = node.labels().get(&c.topology_key) else { continue };
            let cnt = if c.topology_key == HOSTNAME {
                count_matching(c, ns, &node.pods)
            } else {
                s.counts[i].get(v).copied().unwrap_or(0)
            };
            score += cnt as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    /// Fewer matching pods is better: `100 * (max + min - score) / max`; ignored nodes get 0.
    fn normalize_score(&self, state: &CycleState, _: &Pod, nodes: &[&NodeInfo], scores: &mut [i64]) {
        let Some(s) = state.read::<PreScoreState>(SCORE_KEY) else { return };
        let (mut min, mut max) = (i64::MAX, 0i64);
        for (n, &sc) in nodes.iter().zip(scores.iter()) {
            if !s.ignored.contains(n.name()) {
                min = min.min(sc);
                max = max.max(sc);
            }
        }
        for (n, sc) in nodes.iter().zip(scores.iter_mut()) {
            *sc = if s.ignored.contains(n.name()) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *sc) / max
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::testing::*;

    fn zone_nodes() -> Vec<k8s_openapi::api::core::v1::Node> {
        vec![
            node("a1").label("zone", "a").build(),
            node("a2").label("zone", "a").build(),
            node("b1").label("zone", "b").build(),
            node("c1").build(),
        ]
    }

    #[test]
    fn filter() {
        let app = |n: &str, node_name: &str| pod(n).labels(&[("app", "web")]).node(node_name).build();
        let incoming = |skew| pod("p").labels(&[("app", "web")]).spread(skew, "zone", "DoNotSchedule", selector(&[("app", "web")])).build();
        let u = Code::Unschedulable;
        let s = Code::Success;
        let r = Code::UnschedulableAndUnresolvable;
        let cases: Vec<(&str, Pod, Vec<Pod>, Vec<Code>)> = vec![
            ("empty cluster", incoming(1), vec![], vec![s, s, s, r]),
            ("zone a ahead", incoming(1), vec![app("x", "a1")], vec![u, u, s, r]),
            ("skew 2 allows", incoming(2), vec![app("x", "a1")], vec![s, s, s, r]),
            ("other labels not counted", incoming(1), vec![pod("x").labels(&[("app", "db")]).node("a1").build()], vec![s, s, s, r]),
            (
                "other namespace not counted",
                incoming(1),
                vec![pod("x").namespace("other").labels(&[("app", "web")]).node("a1").build()],
                vec![s, s, s, r],
            ),
        ];
        for (name, p, pods, want) in cases {
            let got: Vec<Code> = run_filter(&PodTopologySpread, &p, &snapshot(zone_nodes(), pods)).into_iter().map(|r| r.1).collect();
            assert_eq!(got, want, "{name}");
        }
        let got = run_filter(&PodTopologySpread, &incoming(1), &snapshot(zone_nodes(), vec![app("x", "a1")]));
        assert_eq!(got[0].2, REASON_CONSTRAINTS_NOT_MATCH);
        assert_eq!(got[3].2, REASON_NODE_LABEL_NOT_MATCH);
    }

    #[test]
    fn min_domains_and_node_affinity() {
        // With minDomains 3 and only 2 zones, the global minimum is 0.
        let mut p = pod("p").labels(&[("app", "web")]).spread(1, "zone", "DoNotSchedule", selector(&[("app", "web")])).build();
        p.spec.as_mut().unwrap().topology_spread_constraints.as_mut().unwrap()[0].min_domains = Some(3);
        let pods = vec![pod("x").labels(&[("app", "web")]).node("a1").build(), pod("y").labels(&[("app", "web")]).node("b1").build()];
        let got: Vec<Code> = run_filter(&PodTopologySpread, &p, &snapshot(zone_nodes(), pods.clone())).into_iter().map(|r| r.1).collect();
        assert_eq!(got[..3], [Code::Unschedulable, Code::Unschedulable, Code::Unschedulable]);
        // Nodes excluded by nodeSelector do not form domains: only zone a counts, min is 1.
        let p = pod("p")
            .labels(&[("app", "web")])
            .node_selector(&[("zone", "a")])
            .spread(1, "zone", "DoNotSchedule", selector(&[("app", "web")]))
            .build();
        let got: Vec<Code> = run_filter(&PodTopologySpread, &p, &snapshot(zone_nodes(), pods)).into_iter().map(|r| r.1).collect();
        assert_eq!(got[..2], [Code::Success, Code::Success]);
    }

    #[test]
    fn score() {
        let p = pod("p").labels(&[("app", "web")]).spread(1, "zone", "ScheduleAnyway", selector(&[("app", "web")])).build();
        let pods = vec![pod("x").labels(&[("app", "web")]).node("a1").build(), pod("y").labels(&[("app", "web")]).node("a2").build()];
        let got = run_score(&PodTopologySpread, &p, &snapshot(zone_nodes(), pods));
        // zone a: 2 pods * ln(4) = 2.77 -> 3; zone b: 0. Normalized: a 100*(3+0-3)/3 = 0, b 100; c1 ignored.
        assert_eq!(got, vec![0, 0, 100, 0]);
        assert_eq!(run_score(&PodTopologySpread, &pod("q").build(), &snapshot(zone_nodes(), vec![])), vec![0; 4]);
    }
}
