//! Upstream's StorageClass validation: provisioner name, parameters, policies, and what an update
//! may not change.

use std::collections::BTreeMap;

use k8s_openapi::api::storage::v1::StorageClass;

use crate::validation::container::enum_if_set;
use crate::validation::field::{FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::validation::names;

pub fn validate_storage_class(sc: &StorageClass) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&sc.metadata, false, NameRule::Dns1123Subdomain);
    let provisioner = Path::new("provisioner");
    if sc.provisioner.is_empty() {
        errs.push(FieldError::required(&provisioner, ""));
    } else {
        let lower = sc.provisioner.to_lowercase();
        errs.extend(names::is_qualified_name(&lower).into_iter().map(|m| FieldError::invalid(&provisioner, lower.as_str(), m)));
    }
    let params_path = Path::new("parameters");
    let empty = BTreeMap::new();
    let params = sc.parameters.as_ref().unwrap_or(&empty);
    if params.len() > 512 {
        errs.push(FieldError::too_long(&params_path, 512));
    } else {
        let mut total = 0;
        for (k, v) in params {
            if k.is_empty() {
                errs.push(FieldError::invalid(&params_path, k, "field can not be empty."));
            }
            total += k.len() + v.len();
        }
        if total > 256 * 1024 {
            errs.push(FieldError::too_long(&params_path, 256 * 1024));
        }
    }
    errs.extend(enum_if_set(sc.reclaim_policy.as_deref(), &["Delete", "Retain"], &Path::new("reclaimPolicy")));
    errs.extend(enum_if_set(sc.volume_binding_mode.as_deref(), &["Immediate", "WaitForFirstConsumer"], &Path::new("volumeBindingMode")));
    if sc.volume_binding_mode.as_deref() == Some("") {
        errs.push(FieldError::not_supported(&Path::new("volumeBindingMode"), "", &["Immediate", "WaitForFirstConsumer"]));
    }
    errs
}

pub fn validate_storage_class_update(new: &StorageClass, old: &StorageClass) -> Vec<FieldError> {
    let mut errs = validate_storage_class(new);
    errs.extend(meta::validate_object_meta_update(&new.metadata, &old.metadata));
    let params = |s: &StorageClass| s.parameters.clone().unwrap_or_default();
    if params(new) != params(old) {
        errs.push(FieldError::forbidden(&Path::new("parameters"), "updates to parameters are forbidden."));
    }
    if new.provisioner != old.provisioner {
        errs.push(FieldError::forbidden(&Path::new("provisioner"), "updates to provisioner are forbidden."));
    }
    // Unset values are defaulted (Delete, Immediate) before upstream compares them.
    let reclaim = |s: &StorageClass| s.reclaim_policy.clone().unwrap_or_else(|| "Delete".into());
    if reclaim(new) != reclaim(old) {
        errs.push(FieldError::forbidden(&Path::new("reclaimPolicy"), "updates to reclaimPolicy are forbidden."));
    }
    let binding = |s: &StorageClass| s.volume_binding_mode.clone().unwrap_or_else(|| "Immediate".into());
    errs.extend(meta::immutable(&binding(new), &binding(old), &Path::new("volumeBindingMode")));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::{strings, check};
    use serde_json::json;

    #[test]
    fn storage_class_cases() {
        let sc = |v: serde_json::Value| -> StorageClass {
            let mut base = json!({"metadata": {"name": "fast", "resourceVersion": "1"}});
            base.as_object_mut().unwrap().extend(v.as_object().unwrap().clone());
            serde_json::from_value(base).unwrap()
        };
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (
                json!({"provisioner": "kubernetes.io/no-provisioner", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
                vec![],
            ),
            (json!({}), vec!["provisioner: Required value"]),
            (json!({"provisioner": "a/b/c"}), vec!["provisioner: Invalid value: \"a/b/c\": a valid label key must consist"]),
            (
                json!({"provisioner": "p", "reclaimPolicy": "Recycle", "volumeBindingMode": "Later"}),
                vec![
                    "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                    "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
                ],
            ),
            (json!({"provisioner": "p", "parameters": {"": "x"}}), vec!["parameters: Invalid value: \"\": field can not be empty."]),
        ];
        for (input, want) in cases {
            check(strings(validate_storage_class(&sc(input.clone()))), &want, &input.to_string());
        }
        let old = sc(json!({"provisioner": "p", "parameters": {"type": "ssd"}}));
        let new = sc(
            json!({"provisioner": "q", "parameters": {"type": "hdd"}, "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
        );
        check(
            strings(validate_storage_class_update(&new, &old)),
            &[
                "parameters: Forbidden: updates to parameters are forbidden.",
                "provisioner: Forbidden: updates to provisioner are forbidden.",
                "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
                "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable",
            ],
            "update",
        );
        let annotated = sc(
            json!({"provisioner": "p", "parameters": {"type": "ssd"}, "metadata": {"name": "fast", "resourceVersion": "1", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}),
        );
        check(strings(validate_storage_class_update(&annotated, &old)), &[], "annotation change");
    }
}
