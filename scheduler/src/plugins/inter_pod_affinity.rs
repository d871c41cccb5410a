//! InterPodAffinity: required pod affinity / anti-affinity of the incoming pod, and existing
//! pods' required anti-affinity against it, filter nodes by topology domain; preferred terms
//! (both ways) and existing pods' required affinity score.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{
    AffinityTerm, CycleState, FilterPlugin, NodeInfo, Plugin, PodAffinityInfo, PodInfo, PreFilterPlugin, PreScorePlugin,
    ScorePlugin, Snapshot, Status, WeightedAffinityTerm, MAX_NODE_SCORE,
};
use crate::plugins::names::INTER_POD_AFFINITY;

pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
const SCORE_KEY: &str = "PreScoreInterPodAffinity";

pub struct InterPodAffinity {
    hard_pod_affinity_weight: i64,
}

impl InterPodAffinity {
    pub fn new(hard_pod_affinity_weight: i64) -> InterPodAffinity {
        InterPodAffinity { hard_pod_affinity_weight }
    }
}

/// topology key -> topology value -> count (or score). Zero entries are removed.
#[derive(Clone, Default, Debug)]
struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    fn add(&mut self, labels: &BTreeMap<String, String>, key: &str, delta: i64) {
        let Some(v) = labels.get(key) else { return };
        let m = self.0.entry(key.to_string()).or_default();
        let e = m.entry(v.clone()).or_insert(0);
        *e += delta;
        if *e == 0 {
            m.remove(v);
            if m.is_empty() {
                self.0.remove(key);
            }
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0.get(key).and_then(|m| m.get(value)).copied().unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn ns_labels<'a>(snapshot: &'a Snapshot, pod: &Pod) -> Option<&'a BTreeMap<String, String>> {
    snapshot.namespace_labels.get(pod.metadata.namespace.as_deref().unwrap_or("default"))
}

fn matches_all(terms: &[AffinityTerm], pod: &Pod, nsl: Option<&BTreeMap<String, String>>) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, nsl))
}

#[derive(Clone)]
struct PreFilterState {
    info: PodAffinityInfo,
    /// Existing pods' required anti-affinity terms matching the incoming pod.
    existing_anti: TopologyCounts,
    /// Pods matching all of the incoming pod's required affinity terms.
    affinity: TopologyCounts,
    /// Pods matching each of the incoming pod's required anti-affinity terms.
    anti: TopologyCounts,
}

impl PreFilterState {
    fn update(&mut self, incoming: &Pod, other: &PodInfo, node: &NodeInfo, snapshot: &Snapshot, delta: i64) {
        let labels = node.labels();
        if let Some(a) = &other.affinity {
            let nsl = ns_labels(snapshot, incoming);
            for t in &a.required_anti_affinity {
                if t.matches(incoming, nsl) {
                    self.existing_anti.add(labels, &t.topology_key, delta);
                }
            }
        }
        let nsl = ns_labels(snapshot, &other.pod);
        if matches_all(&self.info.required_affinity, &other.pod, nsl) {
            for t in &self.info.required_affinity {
                self.affinity.add(labels, &t.topology_key, delta);
            }
        }
        for t in &self.info.required_anti_affinity {
            if t.matches(&other.pod, nsl) {
                self.anti.add(labels, &t.topology_key, delta);
            }
        }
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        INTER_POD_AFFINITY
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

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, snapshot: &Snapshot) -> Status {
        let info = PodAffinityInfo::of(pod).unwrap_or_default();
        let mut s = PreFilterState {
            info,
            existing_anti: TopologyCounts::default(),
            affinity: TopologyCounts::default(),
            anti: TopologyCounts::default(),
        };
        let has_required = !s.info.required_affinity.is_empty() || !s.info.required_anti_affinity.is_empty();
        for ni in snapshot.nodes() {
            if has_required {
                for pi in &ni.pods {
                    s.update(pod, pi, ni, snapshot, 1);
                }
            } else if ni.pods_with_required_anti_affinity > 0 {
                let nsl = ns_labels(snapshot, pod);
                for pi in ni.pods.iter().filter(|p| p.has_required_anti_affinity()) {
                    for t in &pi.affinity.as_ref().expect("has anti-affinity").required_anti_affinity {
                        if t.matches(pod, nsl) {
                            s.existing_anti.add(ni.labels(), &t.topology_key, 1);
                        }
                    }
                }
            }
        }
        if !has_required && s.existing_anti.is_empty() {
            return Status::skip();
        }
        state.write(INTER_POD_AFFINITY, s);
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &Pod, added: &PodInfo, node: &NodeInfo, snapshot: &Snapshot) {
        if let Some(s) = state.read_mut::<PreFilterState>(INTER_POD_AFFINITY) {
            s.update(pod, added, node, snapshot, 1);
        }
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &Pod, removed: &PodInfo, node: &NodeInfo, snapshot: &Snapshot) {
        if let Some(s) = state.read_mut::<PreFilterState>(INTER_POD_AFFINITY) {
            s.update(pod, removed, node, snapshot, -1);
        }
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Status {
        let Some(s) = state.read::<PreFilterState>(INTER_POD_AFFINITY) else { return Status::success() };
        let labels = node.labels();
        // Required affinity: every term's domain must hold a matching pod, unless no pod in the
        // cluster matches and the pod matches its own terms (the first of a group).
        let mut pods_exist = true;
        for t in &s.info.required_affinity {
            match labels.get(&t.topology_key) {
                None => return Status::unresolvable(REASON_AFFINITY),
                Some(v) if s.affinity.get(&t.topology_key, v) <= 0 => pods_exist = false,
                Some(_) => {}
            }
        }
        let first_of_group = s.affinity.is_empty() && matches_all(&s.info.required_affinity, pod, ns_labels(snapshot, pod));
        if !(pods_exist || first_of_group) {
            return Status::unresolvable(REASON_AFFINITY);
        }
        for t in &s.info.required_anti_affinity {
            if labels.get(&t.topology_key).is_some_and(|v| s.anti.get(&t.topology_key, v) > 0) {
                return Status::unschedulable(REASON_ANTI_AFFINITY);
            }
        }
        for (key, values) in &s.existing_anti.0 {
            if labels.get(key).is_some_and(|v| values.get(v).is_some_and(|&n| n > 0)) {
                return Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY);
            }
        }
        Status::success()
    }
}

#[derive(Clone)]
struct PreScoreState(TopologyCounts);

fn process_terms(m: &mut TopologyCounts, terms: &[WeightedAffinityTerm], pod: &Pod, nsl: Option<&BTreeMap<String, String>>, node: &NodeInfo, sign: i64) {
    for t in terms {
        if t.term.matches(pod, nsl) {
            m.add(node.labels(), &t.term.topology_key, t.weight as i64 * sign);
        }
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, snapshot: &Snapshot, _: &[&NodeInfo]) -> Status {
        let info = PodAffinityInfo::of(pod).unwrap_or_default();
        let has_preferred = !info.preferred_affinity.is_empty() || !info.preferred_anti_affinity.is_empty();
        let incoming_nsl = ns_labels(snapshot, pod);
        let mut m = TopologyCounts::default();
        for ni in snapshot.nodes() {
            if !has_preferred && ni.pods_with_affinity == 0 {
                continue;
            }
            for pi in &ni.pods {
                if !has_preferred && pi.affinity.is_none() {
                    continue;
                }
                let nsl = ns_labels(snapshot, &pi.pod);
                process_terms(&mut m, &info.preferred_affinity, &pi.pod, nsl, ni, 1);
                process_terms(&mut m, &info.preferred_anti_affinity, &pi.pod, nsl, ni, -1);
                if let Some(a) = &pi.affinity {
                    if self.hard_pod_affinity_weight > 0 && !ni.labels().is_empty() {
                        for t in &a.required_affinity {
                            if t.matches(pod, incoming_nsl) {
                                m.add(ni.labels(), &t.topology_key, self.hard_pod_affinity_weight);
                            }
                        }
                    }
                    process_terms(&mut m, &a.preferred_affinity, pod, incoming_nsl, ni, 1);
                    process_terms(&mut m, &a.preferred_anti_affinity, pod, incoming_nsl, ni, -1);
                }
            }
        }
        if m.is_empty() {
            return Status::skip();
        }
        state.write(SCORE_KEY, PreScoreState(m));
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &Pod, node: &NodeInfo, _: &Snapshot) -> i64 {
        let Some(PreScoreState(m)) = state.read::<PreScoreState>(SCORE_KEY) else { return 0 };
        let labels = node.labels();
        m.0.iter().filter_map(|(k, values)| labels.get(k).and_then(|v| values.get(v))).sum()
    }

    /// Min-max scaling to 0..=100 (all equal: 0).
    fn normalize_score(&self, state: &CycleState, _: &Pod, _: &[&NodeInfo], scores: &mut [i64]) {
        if state.read::<PreScoreState>(SCORE_KEY).is_none() {
            return;
        }
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 { (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64 } else { 0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::testing::*;
    use k8s_openapi::api::core::v1::{Affinity, PodAffinity, PodAffinityTerm, PodAntiAffinity, WeightedPodAffinityTerm};

    fn term(kv: &[(&str, &str)], key: &str) -> PodAffinityTerm {
        PodAffinityTerm { label_selector: Some(selector(kv)), topology_key: key.into(), ..Default::default() }
    }
    fn affinity(t: PodAffinityTerm) -> Affinity {
        Affinity {
            pod_affinity: Some(PodAffinity { required_during_scheduling_ignored_during_execution: Some(vec![t]), ..Default::default() }),
            ..Default::default()
        }
    }
    fn anti(t: PodAffinityTerm) -> Affinity {
        Affinity {
            pod_anti_affinity: Some(PodAntiAffinity { required_during_scheduling_ignored_during_execution: Some(vec![t]), ..Default::default() }),
            ..Default::default()
        }
    }
    fn nodes() -> Vec<k8s_openapi::api::core::v1::Node> {
        vec![node("a1").label("zone", "a").build(), node("a2").label("zone", "a").build(), node("b1").label("zone", "b").build()]
    }

    #[test]
    fn filter() {
        let s = (Code::Success, "");
        let aff = (Code::UnschedulableAndUnresolvable, REASON_AFFINITY);
        let an = (Code::Unschedulable, REASON_ANTI_AFFINITY);
        let ex = (Code::Unschedulable, REASON_EXISTING_ANTI_AFFINITY);
        let db_on_a1 = || pod("db").labels(&[("app", "db")]).node("a1").build();
        type Case = (&'static str, Pod, Vec<Pod>, Vec<(Code, &'static str)>);
        let cases: Vec<Case> = vec![
            ("no affinity", pod("p").build(), vec![db_on_a1()], vec![s, s, s]),
            ("affinity to zone of db", pod("p").affinity(affinity(term(&[("app", "db")], "zone"))).build(), vec![db_on_a1()], vec![s, s, aff]),
            ("affinity, nothing matches", pod("p").affinity(affinity(term(&[("app", "db")], "zone"))).build(), vec![], vec![aff, aff, aff]),
            (
                "first of a self-affine group",
                pod("p").labels(&[("app", "db")]).affinity(affinity(term(&[("app", "db")], "zone"))).build(),
                vec![],
                vec![s, s, s],
            ),
            ("anti-affinity by zone", pod("p").affinity(anti(term(&[("app", "db")], "zone"))).build(), vec![db_on_a1()], vec![an, an, s]),
            (
                "anti-affinity by host",
                pod("p").affinity(anti(term(&[("app", "db")], "kubernetes.io/hostname"))).build(),
                vec![db_on_a1()],
                vec![an, s, s],
            ),
            (
                "existing pod's anti-affinity",
                pod("p").labels(&[("app", "web")]).build(),
                vec![pod("x").node("b1").affinity(anti(term(&[("app", "web")], "zone"))).build()],
                vec![s, s, ex],
            ),
            (
                "other namespace does not match",
                pod("p").affinity(anti(term(&[("app", "db")], "zone"))).build(),
                vec![pod("db").namespace("other").labels(&[("app", "db")]).node("a1").build()],
                vec![s, s, s],
            ),
        ];
        for (name, p, pods, want) in cases {
            let got: Vec<(Code, String)> = run_filter(&InterPodAffinity::new(1), &p, &snapshot(nodes(), pods)).into_iter().map(|r| (r.1, r.2)).collect();
            let want: Vec<(Code, String)> = want.into_iter().map(|(c, r)| (c, r.to_string())).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn score() {
        let pref = |w, t| Affinity {
            pod_affinity: Some(PodAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm { weight: w, pod_affinity_term: t }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pods = vec![pod("db").labels(&[("app", "db")]).node("a1").build()];
        let p = pod("p").affinity(pref(10, term(&[("app", "db")], "zone"))).build();
        assert_eq!(run_score(&InterPodAffinity::new(1), &p, &snapshot(nodes(), pods.clone())), vec![100, 100, 0]);
        // An existing pod's required affinity to the incoming pod attracts it (hard weight).
        let pods = vec![pod("x").node("b1").affinity(affinity(term(&[("app", "web")], "zone"))).build()];
        let p = pod("p").labels(&[("app", "web")]).build();
        assert_eq!(run_score(&InterPodAffinity::new(1), &p, &snapshot(nodes(), pods)), vec![0, 0, 100]);
    }
}
