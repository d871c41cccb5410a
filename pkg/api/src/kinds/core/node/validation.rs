//! Upstream's Node validation.
//!
//! Skipped from upstream: taints and avoid-pods carried in node annotations, the deprecated
//! node configSource, and dual-stack checks of podCIDRs beyond "at most one per family".

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Taint};

use crate::validation::field::{go_struct, BadValue, FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::validation::{names, resources};

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// The taint as Go prints the internal struct.
fn taint_value(t: &Taint) -> BadValue {
    let added = t.time_added.as_ref().map(|x| serde_json::to_value(x).unwrap_or_default()).unwrap_or(serde_json::Value::Null);
    BadValue::Raw(go_struct(&[
        ("Key", t.key.clone().into()),
        ("Value", t.value.clone().unwrap_or_default().into()),
        ("Effect", t.effect.clone().into()),
        ("TimeAdded", added),
    ]))
}

fn validate_taints(taints: &[Taint], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        errs.extend(meta::validate_label_name(&t.key, &p.child("key")));
        let value = t.value.as_deref().unwrap_or("");
        let msgs = names::is_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(&p.child("value"), value, msgs.join(";")));
        }
        if t.effect.is_empty() {
            errs.push(FieldError::required(&p.child("effect"), ""));
        } else if !TAINT_EFFECTS.contains(&t.effect.as_str()) {
            errs.push(FieldError::not_supported(&p.child("effect"), &t.effect, TAINT_EFFECTS));
        }
        if !seen.insert((t.effect.clone(), t.key.clone())) {
            errs.push(FieldError::duplicate(&p, taint_value(t)).with_detail("taints must be unique by key and effect pair"));
        }
    }
    errs
}

fn node_resources(node: &Node) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let status = node.status.as_ref();
    let lists = [("capacity", status.and_then(|s| s.capacity.as_ref())), ("allocatable", status.and_then(|s| s.allocatable.as_ref()))];
    for (field, list) in lists {
        for (name, q) in list.into_iter().flatten() {
            let p = Path::of(&["status", field, name]);
            match resources::parse(q, &p) {
                Ok(q) => errs.extend(resources::quantity_value(name, &q, &p)),
                Err(e) => errs.push(e),
            }
        }
    }
    errs
}

fn validate_pod_cidrs(node: &Node) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let cidrs = node.spec.as_ref().and_then(|s| s.pod_cidrs.as_deref()).unwrap_or(&[]);
    let path = Path::of(&["spec", "podCIDRs"]);
    for (i, c) in cidrs.iter().enumerate() {
        if !names::is_valid_cidr(c) {
            errs.push(FieldError::invalid(&path.index(i), c, names::CIDR_MSG));
        }
    }
    if cidrs.len() > 1 && errs.is_empty() {
        let v4 = cidrs.iter().filter(|c| c.split('/').next().and_then(names::parse_ip).is_some_and(|ip| ip.is_ipv4())).count();
        if cidrs.len() > 2 || v4 != 1 {
            errs.push(FieldError::invalid(&path, BadValue::json(cidrs), "may specify no more than one CIDR for each IP family"));
        }
        let mut seen = BTreeSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(c) {
                errs.push(FieldError::duplicate(&path.index(i), c));
            }
        }
    }
    errs
}

fn taints_of(node: &Node) -> &[Taint] {
    node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or(&[])
}

pub fn validate_node(node: &Node) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&node.metadata, false, NameRule::Dns1123Subdomain);
    // Upstream reports spec taints under metadata.
    errs.extend(validate_taints(taints_of(node), &Path::of(&["metadata", "taints"])));
    errs.extend(node_resources(node));
    errs.extend(validate_pod_cidrs(node));
    errs
}

/// Node updates, used for the status subresource as well.
pub fn validate_node_update(new: &Node, old: &Node) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    let mut seen = BTreeSet::new();
    for (i, a) in new.status.as_ref().and_then(|s| s.addresses.as_deref()).unwrap_or(&[]).iter().enumerate() {
        if !seen.insert((a.type_.clone(), a.address.clone())) {
            let value = BadValue::Raw(go_struct(&[("Type", a.type_.clone().into()), ("Address", a.address.clone().into())]));
            errs.push(FieldError::duplicate(&Path::of(&["status", "addresses"]).index(i), value));
        }
    }
    let spec = |n: &Node| n.spec.clone().unwrap_or_default();
    let (new_spec, old_spec) = (spec(new), spec(old));
    let old_cidrs = old_spec.pod_cidrs.unwrap_or_default();
    let new_cidrs = new_spec.pod_cidrs.unwrap_or_default();
    if !old_cidrs.is_empty() && old_cidrs != new_cidrs {
        let forbidden =
            FieldError::forbidden(&Path::of(&["spec", "podCIDRs"]), "node updates may not change podCIDR except from \"\" to valid");
        let count = if old_cidrs.len() != new_cidrs.len() { 1 } else { old_cidrs.iter().zip(&new_cidrs).filter(|(o, n)| o != n).count() };
        errs.extend(std::iter::repeat_n(forbidden, count));
    }
    let old_provider = old_spec.provider_id.unwrap_or_default();
    if !old_provider.is_empty() && old_provider != new_spec.provider_id.unwrap_or_default() {
        errs.push(FieldError::forbidden(
            &Path::of(&["spec", "providerID"]),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    if new_spec.external_id != old_spec.external_id {
        errs.push(FieldError::forbidden(&Path::of(&["spec", "externalID"]), "may not be updated"));
    }
    // The strategy also runs create-time validation on the new object.
    errs.extend(validate_node(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::strings;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn node_cases() {
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}), vec![]),
            (json!({"metadata": {"name": "n1", "namespace": "x"}}), vec!["metadata.namespace: Forbidden: not allowed on this type"]),
            (json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}, {"key": "k", "effect": ""}]}}), vec![
                "metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "metadata.taints[1].effect: Required value",
            ]),
            (json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]}}), vec![
                "metadata.taints[1]: Duplicate value: {\"Key\":\"k\",\"Value\":\"v\",\"Effect\":\"NoSchedule\",\"TimeAdded\":null}: taints must be unique by key and effect pair",
            ]),
            (json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.0.0.0/33"]}}), vec!["spec.podCIDRs[0]: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
            (json!({"metadata": {"name": "n1"}, "status": {"capacity": {"pods": "1500m", "cpu": "-1"}}}), vec![
                "status.capacity.cpu: Invalid value: \"-1\": must be greater than or equal to 0",
                "status.capacity.pods: Invalid value: \"1500m\": must be an integer",
            ]),
        ];
        for (input, want) in cases {
            assert_eq!(strings(validate_node(&node(input.clone()))), want, "{input}");
        }
    }

    #[test]
    fn node_update_cases() {
        let old =
            node(json!({"metadata": {"name": "n1", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.0.0.0/24"], "providerID": "p1"}}));
        let changed = node(
            json!({"metadata": {"name": "n1", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.0.1.0/24"], "providerID": "p2", "unschedulable": true}}),
        );
        assert_eq!(
            strings(validate_node_update(&changed, &old)),
            vec![
                "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
                "spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid",
            ]
        );
        let cordoned = node(
            json!({"metadata": {"name": "n1", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.0.0.0/24"], "providerID": "p1", "unschedulable": true}}),
        );
        assert!(validate_node_update(&cordoned, &old).is_empty());
    }
}
