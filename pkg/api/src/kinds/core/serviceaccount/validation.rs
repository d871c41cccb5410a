//! Upstream's ServiceAccount validation: metadata only.

use k8s_openapi::api::core::v1::ServiceAccount;

use crate::validation::field::FieldError;
use crate::validation::meta::{self, NameRule};

pub fn validate_service_account(sa: &ServiceAccount) -> Vec<FieldError> {
    meta::validate_object_meta(&sa.metadata, true, NameRule::Dns1123Subdomain)
}

pub fn validate_service_account_update(new: &ServiceAccount, old: &ServiceAccount) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(validate_service_account(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::strings;
    use serde_json::json;

    #[test]
    fn service_accounts_use_subdomain_names() {
        let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "Bad_Name", "namespace": "d"}})).unwrap();
        let errs = strings(validate_service_account(&sa));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"));
    }
}
