//! PriorityClasses (scheduling.k8s.io/v1), as upstream's pkg/apis/scheduling/validation.

use k8s_openapi::api::scheduling::v1::PriorityClass;

use crate::validation::field::{FieldError, Path};
use crate::validation::meta::{self, NameRule};

/// The largest value a user-defined class may have; larger ones are for the system classes.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

/// The classes every cluster has, with their fixed values.
pub const SYSTEM_PRIORITY_CLASSES: &[(&str, i32, &str)] = &[
    ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
];

const PREEMPTION_POLICIES: &[&str] = &["Never", "PreemptLowerPriority"];

fn known_system_class(pc: &PriorityClass) -> Result<(), String> {
    let name = pc.metadata.name.as_deref().unwrap_or_default();
    match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _, _)| *n == name) {
        None => Err(format!("{name:?} is not a known system priority class")),
        Some((_, value, _)) if *value != pc.value => Err(format!("value of {name} PriorityClass must be {value}")),
        Some(_) if pc.global_default == Some(true) => Err(format!("globalDefault of {name} PriorityClass must be false")),
        Some(_) => Ok(()),
    }
}

pub fn validate_priority_class(pc: &PriorityClass) -> Vec<FieldError> {
    let mut errs = meta::object_meta(&pc.metadata, false, NameRule::Dns1123Subdomain, true);
    let name = pc.metadata.name.as_deref().unwrap_or_default();
    if name.starts_with("system-") {
        if let Err(e) = known_system_class(pc) {
            errs.push(FieldError::forbidden(
                &Path::new("metadata").child("name"),
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {e}"),
            ));
        }
    } else if pc.value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(FieldError::forbidden(&Path::new("value"), format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}")));
    }
    match pc.preemption_policy.as_deref() {
        None => errs.push(FieldError::required(&Path::new("preemptionPolicy"), "")),
        Some(p) if !PREEMPTION_POLICIES.contains(&p) => errs.push(FieldError::not_supported(&Path::new("preemptionPolicy"), p, PREEMPTION_POLICIES)),
        Some(_) => {}
    }
    errs
}

pub fn validate_priority_class_update(new: &PriorityClass, old: &PriorityClass) -> Vec<FieldError> {
    let mut errs = meta::object_meta_update(&new.metadata, &old.metadata, true);
    if new.value != old.value {
        errs.push(FieldError::forbidden(&Path::new("value"), "may not be changed in an update."));
    }
    errs.extend(meta::immutable(&new.preemption_policy, &old.preemption_policy, &Path::new("preemptionPolicy")));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pc(v: serde_json::Value) -> PriorityClass {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn user_classes_stay_below_the_system_range() {
        let ok = pc(json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "PreemptLowerPriority"}));
        assert!(validate_priority_class(&ok).is_empty());
        let too_high = pc(json!({"metadata": {"name": "high"}, "value": 1_000_000_001, "preemptionPolicy": "Never"}));
        assert_eq!(validate_priority_class(&too_high)[0].to_cause().field, "value");
        let fake_system = pc(json!({"metadata": {"name": "system-mine"}, "value": 5, "preemptionPolicy": "Never"}));
        assert!(validate_priority_class(&fake_system)[0].to_cause().message.contains("reserved for system use only"));
        let real_system = pc(json!({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000, "preemptionPolicy": "PreemptLowerPriority"}));
        assert!(validate_priority_class(&real_system).is_empty());
        let bad_policy = pc(json!({"metadata": {"name": "x"}, "value": 1, "preemptionPolicy": "Sometimes"}));
        assert_eq!(validate_priority_class(&bad_policy)[0].to_cause().reason, "FieldValueNotSupported");
    }

    #[test]
    fn value_and_policy_are_immutable() {
        let old = pc(json!({"metadata": {"name": "a", "resourceVersion": "1"}, "value": 1, "preemptionPolicy": "Never"}));
        let new = pc(json!({"metadata": {"name": "a", "resourceVersion": "1"}, "value": 2, "preemptionPolicy": "PreemptLowerPriority"}));
        let fields: Vec<String> = validate_priority_class_update(&new, &old).iter().map(|e| e.to_cause().field).collect();
        assert_eq!(fields, vec!["value", "preemptionPolicy"]);
    }
}
