//! NodeAffinity: `spec.nodeSelector` and required node affinity filter; preferred terms score.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod};

use crate::framework::{
    default_normalize_score, node_labels, CycleState, FilterPlugin, NodeInfo, Plugin, PreFilterPlugin, PreScorePlugin,
    ScorePlugin, Snapshot, Status, MAX_NODE_SCORE,
};
use crate::plugins::names::NODE_AFFINITY;

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

pub struct NodeAffinity;

/// One requirement against labels (or fields): In, NotIn, Exists, DoesNotExist, Gt, Lt.
/// Malformed requirements match nothing, as upstream's lazy-error selector.
fn requirement_matches<'a>(r: &NodeSelectorRequirement, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    let v = get(&r.key);
    match r.operator.as_str() {
        "In" => v.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => v.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => v.is_some(),
        "DoesNotExist" => v.is_none(),
        op @ ("Gt" | "Lt") => {
            let ([want], Some(have)) = (values, v) else { return false };
            match (want.parse::<i64>(), have.parse::<i64>()) {
                (Ok(want), Ok(have)) => if op == "Gt" { have > want } else { have < want },
                _ => false,
            }
        }
        _ => false,
    }
}

/// A term ANDs its expressions and fields; a term with neither matches nothing.
pub fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, node_name: &str) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|r| requirement_matches(r, |k| labels.get(k).map(String::as_str)))
        && fields.iter().all(|r| {
            r.key == "metadata.name"
                && matches!(r.operator.as_str(), "In" | "NotIn")
                && requirement_matches(r, |k| (k == "metadata.name").then_some(node_name))
        })
}

/// A node selector ORs its terms.
pub fn node_selector_matches(sel: &NodeSelector, node: &Node) -> bool {
    let name = node.metadata.name.as_deref().unwrap_or("");
    sel.node_selector_terms.iter().any(|t| term_matches(t, node_labels(node), name))
}

/// upstream `GetRequiredNodeAffinity(pod).Match(node)`: nodeSelector and required affinity.
pub fn pod_matches_node_selector_and_affinity(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else { return true };
    let labels = node_labels(node);
    if let Some(sel) = &spec.node_selector {
        if !sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    match required(pod) {
        Some(req) => node_selector_matches(req, node),
        None => true,
    }
}

fn required(pod: &Pod) -> Option<&NodeSelector> {
    pod.spec.as_ref()?.affinity.as_ref()?.node_affinity.as_ref()?.required_during_scheduling_ignored_during_execution.as_ref()
}

fn preferred(pod: &Pod) -> &[k8s_openapi::api::core::v1::PreferredSchedulingTerm] {
    pod.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.preferred_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or(&[])
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NODE_AFFINITY
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

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(&self, _: &mut CycleState, pod: &Pod, _: &Snapshot) -> Status {
        let has_selector = pod.spec.as_ref().is_some_and(|s| s.node_selector.as_ref().is_some_and(|m| !m.is_empty()));
        if !has_selector && required(pod).is_none() {
            return Status::skip();
        }
        Status::success()
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Status {
        if pod_matches_node_selector_and_affinity(pod, &node.node) {
            Status::success()
        } else {
            Status::unresolvable(REASON)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(&self, _: &mut CycleState, pod: &Pod, _: &Snapshot, _: &[&NodeInfo]) -> Status {
        if preferred(pod).is_empty() {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl ScorePlugin for NodeAffinity {
    /// The sum of the weights of the preferred terms the node matches.
    fn score(&self, _: &CycleState, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> i64 {
        preferred(pod)
            .iter()
            .filter(|t| t.weight != 0 && term_matches(&t.preference, node.labels(), node.name()))
            .map(|t| t.weight as i64)
            .sum()
    }

    fn normalize_score(&self, _: &CycleState, _: &Pod, _: &[&NodeInfo], scores: &mut [i64]) {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::testing::*;
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity as NA, PreferredSchedulingTerm};

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn required_terms(terms: Vec<NodeSelectorTerm>) -> Affinity {
        Affinity {
            node_affinity: Some(NA {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector { node_selector_terms: terms }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn exprs(rs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm { match_expressions: Some(rs), ..Default::default() }
    }

    #[test]
    fn filter() {
        let n = || node("n1").label("zone", "a").label("cpus", "8").build();
        let cases: Vec<(&str, Pod, bool)> = vec![
            ("nothing", pod("p").build(), true),
            ("selector ok", pod("p").node_selector(&[("zone", "a")]).build(), true),
            ("selector bad", pod("p").node_selector(&[("zone", "b")]).build(), false),
            ("In", pod("p").affinity(required_terms(vec![exprs(vec![req("zone", "In", &["a", "b"])])])).build(), true),
            ("NotIn", pod("p").affinity(required_terms(vec![exprs(vec![req("zone", "NotIn", &["a"])])])).build(), false),
            ("NotIn absent", pod("p").affinity(required_terms(vec![exprs(vec![req("x", "NotIn", &["a"])])])).build(), true),
            ("Exists", pod("p").affinity(required_terms(vec![exprs(vec![req("zone", "Exists", &[])])])).build(), true),
            ("DoesNotExist", pod("p").affinity(required_terms(vec![exprs(vec![req("zone", "DoesNotExist", &[])])])).build(), false),
            ("Gt", pod("p").affinity(required_terms(vec![exprs(vec![req("cpus", "Gt", &["4"])])])).build(), true),
            ("Lt", pod("p").affinity(required_terms(vec![exprs(vec![req("cpus", "Lt", &["4"])])])).build(), false),
            ("Gt not a number", pod("p").affinity(required_terms(vec![exprs(vec![req("zone", "Gt", &["4"])])])).build(), false),
            (
                "terms are ORed",
                pod("p")
                    .affinity(required_terms(vec![exprs(vec![req("zone", "In", &["x"])]), exprs(vec![req("zone", "In", &["a"])])]))
                    .build(),
                true,
            ),
            (
                "expressions are ANDed",
                pod("p").affinity(required_terms(vec![exprs(vec![req("zone", "In", &["a"]), req("cpus", "In", &["4"])])])).build(),
                false,
            ),
            ("empty term matches nothing", pod("p").affinity(required_terms(vec![NodeSelectorTerm::default()])).build(), false),
            (
                "matchFields name",
                pod("p")
                    .affinity(required_terms(vec![NodeSelectorTerm {
                        match_fields: Some(vec![req("metadata.name", "In", &["n1"])]),
                        ..Default::default()
                    }]))
                    .build(),
                true,
            ),
            (
                "matchFields other name",
                pod("p")
                    .affinity(required_terms(vec![NodeSelectorTerm {
                        match_fields: Some(vec![req("metadata.name", "In", &["n2"])]),
                        ..Default::default()
                    }]))
                    .build(),
                false,
            ),
            (
                "selector and affinity both needed",
                pod("p").node_selector(&[("zone", "b")]).affinity(required_terms(vec![exprs(vec![req("zone", "In", &["a"])])])).build(),
                false,
            ),
        ];
        for (name, p, ok) in cases {
            let got = run_filter(&NodeAffinity, &p, &snapshot(vec![n()], vec![]));
            let want = if ok { (Code::Success, "") } else { (Code::UnschedulableAndUnresolvable, REASON) };
            assert_eq!((got[0].1, got[0].2.as_str()), want, "{name}");
        }
    }

    #[test]
    fn score() {
        let snap = snapshot(
            vec![node("a").label("zone", "a").build(), node("b").label("zone", "b").label("ssd", "1").build(), node("c").build()],
            vec![],
        );
        let pref = |w, r| PreferredSchedulingTerm { weight: w, preference: exprs(vec![r]) };
        let p = pod("p")
            .affinity(Affinity {
                node_affinity: Some(NA {
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        pref(2, req("zone", "In", &["a"])),
                        pref(4, req("ssd", "Exists", &[])),
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .build();
        assert_eq!(run_score(&NodeAffinity, &p, &snap), vec![50, 100, 0]);
        assert_eq!(run_score(&NodeAffinity, &pod("q").build(), &snap), vec![0, 0, 0]);
    }
}
