//! Leases (coordination.k8s.io/v1).
//!
//! Skipped from upstream: the strategy and preferredHolder fields of coordinated leader
//! election, which sit behind an alpha gate.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};

use crate::validation::field::{FieldError, Path};
use crate::validation::meta::{self, NameRule};

fn lease_spec(spec: &LeaseSpec) -> Vec<FieldError> {
    let path = Path::new("spec");
    let mut errs = Vec::new();
    if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(&path.child("leaseDurationSeconds"), d, "must be greater than 0"));
    }
    if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
        errs.push(FieldError::invalid(&path.child("leaseTransitions"), t, "must be greater than or equal to 0"));
    }
    errs
}

/// Leases use apimachinery's metadata checks, without core's finalizer-name rule.
pub fn validate_lease(lease: &Lease) -> Vec<FieldError> {
    let mut errs = meta::object_meta(&lease.metadata, true, NameRule::Dns1123Subdomain, false);
    errs.extend(lease_spec(lease.spec.as_ref().unwrap_or(&LeaseSpec::default())));
    errs
}

pub fn validate_lease_update(new: &Lease, old: &Lease) -> Vec<FieldError> {
    let mut errs = meta::object_meta_update(&new.metadata, &old.metadata, false);
    errs.extend(lease_spec(new.spec.as_ref().unwrap_or(&LeaseSpec::default())));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lease_cases() {
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}}), vec![]),
            (json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}}), vec![
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            ]),
            (json!({"metadata": {"name": "l", "namespace": "d", "finalizers": ["custom"]}}), vec![]),
            (json!({"metadata": {"name": "L", "namespace": "d"}}), vec!["metadata.name: Invalid value: \"L\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
        ];
        for (input, want) in cases {
            let lease: Lease = serde_json::from_value(input.clone()).unwrap();
            let got: Vec<String> = validate_lease(&lease).iter().map(|e| e.to_string()).collect();
            assert_eq!(got, want, "{input}");
        }
        let old: Lease = serde_json::from_value(json!({"metadata": {"name": "l", "namespace": "d", "resourceVersion": "3"}})).unwrap();
        let mut renamed = old.clone();
        renamed.metadata.name = Some("m".into());
        let got: Vec<String> = validate_lease_update(&renamed, &old).iter().map(|e| e.to_string()).collect();
        assert_eq!(got, vec!["metadata.name: Invalid value: \"m\": field is immutable"]);
    }
}
