//! Scheduling constraints in a pod spec: tolerations, node and pod affinity, topology spread.
//!
//! Skipped from upstream: matchLabelKeys/mismatchLabelKeys, node field selectors (matchFields),
//! minDomains and the node inclusion policies.

use k8s_openapi::api::core::v1::{Affinity, PodAffinityTerm, PodSpec, Toleration};

use super::field::{go_struct, BadValue, FieldError, Path};
use super::{meta, names};

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// The toleration as Go prints the internal struct.
fn toleration_value(t: &Toleration) -> BadValue {
    let s = |v: &Option<String>| serde_json::Value::from(v.clone().unwrap_or_default());
    BadValue::Raw(go_struct(&[
        ("Key", s(&t.key)),
        ("Operator", s(&t.operator)),
        ("Value", s(&t.value)),
        ("Effect", s(&t.effect)),
        ("TolerationSeconds", t.toleration_seconds.map(Into::into).unwrap_or(serde_json::Value::Null)),
    ]))
}

pub fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let (key, op, value, effect) = (
            t.key.as_deref().unwrap_or(""),
            t.operator.as_deref().unwrap_or(""),
            t.value.as_deref().unwrap_or(""),
            t.effect.as_deref().unwrap_or(""),
        );
        if !key.is_empty() {
            errs.extend(meta::validate_label_name(key, &p.child("key")));
        }
        if key.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(&p.child("effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
        }
        match op {
            "Equal" | "" => {
                let msgs = names::is_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(&p.child("operator"), value, msgs.join(";")));
                }
            }
            "Exists" if !value.is_empty() => {
                errs.push(FieldError::invalid(&p.child("operator"), toleration_value(t), "value must be empty when `operator` is 'Exists'"))
            }
            "Exists" => {}
            _ => errs.push(FieldError::not_supported(&p.child("operator"), op, &["Equal", "Exists"])),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(&p.child("effect"), effect, TAINT_EFFECTS));
        }
    }
    errs
}

fn node_selector_requirement(key: &str, op: &str, values: &[String], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match op {
        "In" | "NotIn" if values.is_empty() => {
            errs.push(FieldError::required(&path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            errs.push(FieldError::forbidden(&path.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        }
        "Gt" | "Lt" if values.len() != 1 => {
            errs.push(FieldError::required(&path.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
        }
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        _ => errs.push(FieldError::invalid(&path.child("operator"), op, "not a valid selector operator")),
    }
    errs.extend(meta::validate_label_name(key, &path.child("key")));
    errs
}

pub fn validate_affinity(affinity: &Affinity, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(na) = &affinity.node_affinity {
        let p = path.child("nodeAffinity");
        if let Some(required) = &na.required_during_scheduling_ignored_during_execution {
            let terms = p.child("requiredDuringSchedulingIgnoredDuringExecution").child("nodeSelectorTerms");
            if required.node_selector_terms.is_empty() {
                errs.push(FieldError::required(&terms, "must have at least one node selector term"));
            }
            for (i, term) in required.node_selector_terms.iter().enumerate() {
                for (j, r) in term.match_expressions.iter().flatten().enumerate() {
                    errs.extend(node_selector_requirement(
                        &r.key,
                        &r.operator,
                        r.values.as_deref().unwrap_or(&[]),
                        &terms.index(i).child("matchExpressions").index(j),
                    ));
                }
            }
        }
        for (i, term) in na.preferred_during_scheduling_ignored_during_execution.iter().flatten().enumerate() {
            let tp = p.child("preferredDuringSchedulingIgnoredDuringExecution").index(i);
            if !(1..=100).contains(&term.weight) {
                errs.push(FieldError::invalid(&tp.child("weight"), term.weight, "must be in the range 1-100"));
            }
            for (j, r) in term.preference.match_expressions.iter().flatten().enumerate() {
                errs.extend(node_selector_requirement(
                    &r.key,
                    &r.operator,
                    r.values.as_deref().unwrap_or(&[]),
                    &tp.child("preference").child("matchExpressions").index(j),
                ));
            }
        }
    }
    let pod_affinities =
        [
            (
                "podAffinity",
                affinity.pod_affinity.as_ref().map(|a| {
                    (&a.required_during_scheduling_ignored_during_execution, &a.preferred_during_scheduling_ignored_during_execution)
                }),
            ),
            (
                "podAntiAffinity",
                affinity.pod_anti_affinity.as_ref().map(|a| {
                    (&a.required_during_scheduling_ignored_during_execution, &a.preferred_during_scheduling_ignored_during_execution)
                }),
            ),
        ];
    for (field, terms) in pod_affinities {
        let Some((required, preferred)) = terms else { continue };
        let p = path.child(field);
        let mut all: Vec<(Path, &PodAffinityTerm)> = Vec::new();
        for (i, t) in required.iter().flatten().enumerate() {
            all.push((p.child("requiredDuringSchedulingIgnoredDuringExecution").index(i), t));
        }
        for (i, w) in preferred.iter().flatten().enumerate() {
            let wp = p.child("preferredDuringSchedulingIgnoredDuringExecution").index(i);
            if !(1..=100).contains(&w.weight) {
                errs.push(FieldError::invalid(&wp.child("weight"), w.weight, "must be in the range 1-100"));
            }
            all.push((wp.child("podAffinityTerm"), &w.pod_affinity_term));
        }
        for (tp, term) in all {
            errs.extend(meta::validate_label_selector(term.label_selector.as_ref(), &tp.child("labelSelector")));
            errs.extend(meta::validate_label_selector(term.namespace_selector.as_ref(), &tp.child("namespaceSelector")));
            for ns in term.namespaces.iter().flatten() {
                errs.extend(names::is_dns1123_label(ns).into_iter().map(|m| FieldError::invalid(&tp.child("namespace"), ns, m)));
            }
            if term.topology_key.is_empty() {
                errs.push(FieldError::required(&tp.child("topologyKey"), "can not be empty"));
            }
            errs.extend(meta::validate_label_name(&term.topology_key, &tp.child("topologyKey")));
        }
    }
    errs
}

pub fn validate_topology_spread(spec: &PodSpec, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let constraints = spec.topology_spread_constraints.as_deref().unwrap_or(&[]);
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errs.push(FieldError::invalid(&p.child("maxSkew"), c.max_skew, "must be greater than zero"));
        }
        if c.topology_key.is_empty() {
            errs.push(FieldError::required(&p.child("topologyKey"), "can not be empty"));
        }
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&c.when_unsatisfiable.as_str()) {
            errs.push(FieldError::not_supported(
                &p.child("whenUnsatisfiable"),
                &c.when_unsatisfiable,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if constraints[i + 1..].iter().any(|o| o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable) {
            errs.push(FieldError::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        errs.extend(meta::validate_label_selector(c.label_selector.as_ref(), &p.child("labelSelector")));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerations_added_in_place_are_checked_on_their_own() {
        let tolerations: Vec<Toleration> =
            serde_json::from_value(json!([{"key": "k", "operator": "Exists", "effect": "Sometimes"}])).unwrap();
        let got: Vec<String> =
            validate_tolerations(&tolerations, &Path::of(&["spec", "tolerations"])).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            vec!["spec.tolerations[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""]
        );
    }

    #[test]
    fn topology_spread_duplicates() {
        let spec: PodSpec = serde_json::from_value(json!({"containers": [], "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]}))
        .unwrap();
        let got: Vec<String> =
            validate_topology_spread(&spec, &Path::of(&["spec", "topologySpreadConstraints"])).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            got,
            vec!["spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: \"{zone, DoNotSchedule}\""]
        );
    }
}
