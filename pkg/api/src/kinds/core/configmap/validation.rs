//! Upstream's ConfigMap validation, and the key, size and immutability rules Secrets share.

use k8s_openapi::api::core::v1::ConfigMap;

use crate::validation::field::{FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::validation::names;

/// `core.MaxSecretSize`, shared by ConfigMaps.
pub const MAX_SIZE: usize = 1024 * 1024;
pub(crate) const IMMUTABLE_WHEN_SET: &str = "field is immutable when `immutable` is set";

pub(crate) fn keys(key: &str, path: &Path) -> Vec<FieldError> {
    names::is_config_map_key(key).into_iter().map(|m| FieldError::invalid(path, key, m)).collect()
}

pub fn validate_config_map(cm: &ConfigMap) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&cm.metadata, true, NameRule::Dns1123Subdomain);
    let binary = cm.binary_data.as_ref();
    let mut total = 0;
    for (k, v) in cm.data.iter().flatten() {
        let p = Path::new("data").key(k);
        errs.extend(keys(k, &p));
        if binary.is_some_and(|b| b.contains_key(k)) {
            errs.push(FieldError::invalid(&p, k, "duplicate of key present in binaryData"));
        }
        total += v.len();
    }
    for (k, v) in binary.into_iter().flatten() {
        errs.extend(keys(k, &Path::new("binaryData").key(k)));
        total += v.0.len();
    }
    if total > MAX_SIZE {
        // The empty path means the whole object.
        errs.push(FieldError::too_long(&Path::default(), MAX_SIZE as i64));
    }
    errs
}

pub fn validate_config_map_update(new: &ConfigMap, old: &ConfigMap) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errs.push(FieldError::forbidden(&Path::new("immutable"), IMMUTABLE_WHEN_SET));
        }
        if new.data != old.data {
            errs.push(FieldError::forbidden(&Path::new("data"), IMMUTABLE_WHEN_SET));
        }
        if new.binary_data != old.binary_data {
            errs.push(FieldError::forbidden(&Path::new("binaryData"), IMMUTABLE_WHEN_SET));
        }
    }
    errs.extend(validate_config_map(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::strings;
    use crate::kinds::core::secret::validation::validate_secret_update;
    use k8s_openapi::api::core::v1::Secret;
    use serde_json::json;

    fn cm(v: serde_json::Value) -> ConfigMap {
        serde_json::from_value(v).unwrap()
    }

    fn secret(v: serde_json::Value) -> Secret {
        serde_json::from_value(v).unwrap()
    }

    const META: &str = r#"{"name": "c", "namespace": "d", "resourceVersion": "1"}"#;

    fn with_meta(mut v: serde_json::Value) -> serde_json::Value {
        v["metadata"] = serde_json::from_str(META).unwrap();
        v
    }

    #[test]
    fn config_map_cases() {
        let big = "x".repeat(MAX_SIZE + 1);
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!({"data": {"a.b": "1", "C_D": "2"}}), vec![]),
            (json!({"data": {"bad key": "1"}}), vec!["data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]),
            (json!({"data": {"..": "1"}}), vec!["data[..]: Invalid value: \"..\": must not be '..'"]),
            (json!({"data": {"k": "1"}, "binaryData": {"k": "MQ=="}}), vec!["data[k]: Invalid value: \"k\": duplicate of key present in binaryData"]),
            (json!({"data": {"k": big}}), vec![": Too long: may not be more than 1048576 bytes"]),
        ];
        for (input, want) in cases {
            assert_eq!(strings(validate_config_map(&cm(with_meta(input.clone())))), want, "{input}");
        }
    }

    #[test]
    fn immutable_config_maps_and_secrets() {
        let old = cm(with_meta(json!({"immutable": true, "data": {"a": "1"}})));
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!({"immutable": true, "data": {"a": "1"}}), vec![]),
            (json!({"immutable": true, "data": {"a": "2"}}), vec!["data: Forbidden: field is immutable when `immutable` is set"]),
            (json!({"data": {"a": "1"}}), vec!["immutable: Forbidden: field is immutable when `immutable` is set"]),
            (
                json!({"immutable": false, "binaryData": {"b": "MQ=="}}),
                vec![
                    "immutable: Forbidden: field is immutable when `immutable` is set",
                    "data: Forbidden: field is immutable when `immutable` is set",
                    "binaryData: Forbidden: field is immutable when `immutable` is set",
                ],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(strings(validate_config_map_update(&cm(with_meta(input.clone())), &old)), want, "{input}");
        }
        let old = secret(with_meta(json!({"immutable": true, "type": "Opaque", "data": {"a": "MQ=="}})));
        let new = secret(with_meta(json!({"immutable": true, "data": {"a": "MQ=="}, "stringData": {"a": "2"}})));
        assert_eq!(strings(validate_secret_update(&new, &old)), vec!["data: Forbidden: field is immutable when `immutable` is set"]);
        let retyped =
            secret(with_meta(json!({"immutable": true, "type": "kubernetes.io/basic-auth", "data": {"a": "MQ==", "username": "dQ=="}})));
        let old = secret(with_meta(json!({"type": "Opaque", "data": {"a": "MQ=="}})));
        assert_eq!(
            strings(validate_secret_update(&retyped, &old)),
            vec!["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]
        );
    }

}
