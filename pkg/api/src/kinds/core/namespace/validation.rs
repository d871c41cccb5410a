//! Upstream's Namespace validation: a DNS label name, finalizers by name, and a status that only
//! the status subresource changes.

use k8s_openapi::api::core::v1::Namespace;

use crate::validation::field::{FieldError, Path};
use crate::validation::meta::{self, NameRule};

pub fn validate_namespace(ns: &Namespace) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&ns.metadata, false, NameRule::Dns1123Label);
    let path = Path::of(&["spec", "finalizers"]);
    for f in ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).into_iter().flatten() {
        errs.extend(meta::validate_label_name(f, &path));
        errs.extend(meta::kube_finalizer_name(f, &path));
    }
    errs
}

pub fn validate_namespace_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    meta::validate_object_meta_update(&new.metadata, &old.metadata)
}

/// Status writes: the phase must agree with whether the namespace is being deleted.
pub fn validate_namespace_status_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    let phase = new.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    let path = Path::of(&["status", "Phase"]);
    if new.metadata.deletion_timestamp.is_none() {
        if phase != "Active" {
            errs.push(FieldError::invalid(&path, phase, "may only be 'Active' if `deletionTimestamp` is empty"));
        }
    } else if phase != "Terminating" {
        errs.push(FieldError::invalid(&path, phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::strings;
    use serde_json::json;

    #[test]
    fn namespace_cases() {
        let ns = |v: serde_json::Value| -> Namespace { serde_json::from_value(v).unwrap() };
        assert!(validate_namespace(&ns(json!({"metadata": {"name": "team-a"}}))).is_empty());
        let errs = strings(validate_namespace(&ns(json!({"metadata": {"name": "team.a"}}))));
        assert_eq!(errs, vec!["metadata.name: Invalid value: \"team.a\": must not contain dots"]);
        let errs = strings(validate_namespace(&ns(json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["custom"]}}))));
        assert_eq!(
            errs,
            vec!["spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"]
        );
        let active = ns(json!({"metadata": {"name": "a", "resourceVersion": "1"}, "status": {"phase": "Active"}}));
        let terminating = ns(json!({"metadata": {"name": "a", "resourceVersion": "1"}, "status": {"phase": "Terminating"}}));
        assert!(validate_namespace_status_update(&active, &active).is_empty());
        assert_eq!(
            strings(validate_namespace_status_update(&terminating, &active)),
            vec!["status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty"]
        );
    }
}
