//! Upstream's Secret validation: data keys and size, the rules of each well-known type, and what
//! an immutable or typed secret's update may not change.
//!
//! Skipped from upstream: the exact wording of Go's JSON decoder for malformed dockercfg
//! secrets (common cases are reproduced).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use crate::kinds::core::configmap::validation::{keys, IMMUTABLE_WHEN_SET, MAX_SIZE};
use crate::validation::field::{FieldError, Path};
use crate::validation::meta::{self, NameRule};

/// The secret's data as upstream sees it: `stringData` already merged over `data`.
fn secret_data(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = s.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
    for (k, v) in s.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    data
}

/// What Go's `json.Unmarshal` into a map says about `bytes`, if it fails.
fn json_map_error(bytes: &[u8]) -> Option<String> {
    let trimmed = std::str::from_utf8(bytes).unwrap_or("").trim();
    if trimmed.is_empty() {
        return Some("unexpected end of JSON input".to_string());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(_) | serde_json::Value::Null) => None,
        Ok(other) => {
            let kind = match other {
                serde_json::Value::String(_) => "string",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::Array(_) => "array",
                _ => "bool",
            };
            Some(format!("json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"))
        }
        Err(e) if e.is_eof() => Some("unexpected end of JSON input".to_string()),
        Err(_) => {
            let c = trimmed.chars().next().unwrap_or(' ');
            Some(format!("invalid character '{c}' looking for beginning of value"))
        }
    }
}

pub fn validate_secret(s: &Secret) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&s.metadata, true, NameRule::Dns1123Subdomain);
    let data_path = Path::new("data");
    let data = secret_data(s);
    let mut total = 0;
    for (k, v) in &data {
        errs.extend(keys(k, &data_path.key(k)));
        total += v.len();
    }
    if total > MAX_SIZE {
        errs.push(FieldError::too_long(&data_path, MAX_SIZE as i64));
    }
    let required = |key: &str| FieldError::required(&data_path.key(key), "");
    match s.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let key = "kubernetes.io/service-account.name";
            if s.metadata.annotations.as_ref().and_then(|a| a.get(key)).is_none_or(|v| v.is_empty()) {
                errs.push(FieldError::required(&Path::of(&["metadata", "annotations"]).key(key), ""));
            }
        }
        t @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if t == "kubernetes.io/dockercfg" { ".dockercfg" } else { ".dockerconfigjson" };
            match data.get(key) {
                None => errs.push(required(key)),
                Some(bytes) => {
                    errs.extend(json_map_error(bytes).map(|e| FieldError::invalid(&data_path.key(key), "<secret contents redacted>", e)))
                }
            }
        }
        "kubernetes.io/basic-auth" if !data.contains_key("username") && !data.contains_key("password") => {
            errs.push(required("username"));
            errs.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.is_empty()) => errs.push(required("ssh-privatekey")),
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data.contains_key(key) {
                    errs.push(required(key));
                }
            }
        }
        _ => {}
    }
    errs
}

pub fn validate_secret_update(new: &Secret, old: &Secret) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    // An unset type is defaulted to Opaque.
    let ty = |s: &Secret| s.type_.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| "Opaque".to_string());
    errs.extend(meta::immutable(&ty(new), &ty(old), &Path::new("type")));
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errs.push(FieldError::forbidden(&Path::new("immutable"), IMMUTABLE_WHEN_SET));
        }
        if secret_data(new) != secret_data(old) {
            errs.push(FieldError::forbidden(&Path::new("data"), IMMUTABLE_WHEN_SET));
        }
    }
    errs.extend(validate_secret(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::strings;
    use serde_json::json;

    fn secret(v: serde_json::Value) -> Secret {
        serde_json::from_value(v).unwrap()
    }

    const META: &str = r#"{"name": "c", "namespace": "d", "resourceVersion": "1"}"#;

    fn with_meta(mut v: serde_json::Value) -> serde_json::Value {
        v["metadata"] = serde_json::from_str(META).unwrap();
        v
    }

    #[test]
    fn secret_type_cases() {
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!({"type": "Opaque", "data": {"a": "MQ=="}}), vec![]),
            (json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "MQ=="}}), vec!["data[tls.key]: Required value"]),
            (json!({"type": "kubernetes.io/basic-auth"}), vec!["data[username]: Required value", "data[password]: Required value"]),
            (json!({"type": "kubernetes.io/ssh-auth", "stringData": {"ssh-privatekey": ""}}), vec!["data[ssh-privatekey]: Required value"]),
            (json!({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "nope"}}), vec!["data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": invalid character 'n' looking for beginning of value"]),
            (json!({"type": "kubernetes.io/dockercfg", "stringData": {".dockercfg": "[1]"}}), vec!["data[.dockercfg]: Invalid value: \"<secret contents redacted>\": json: cannot unmarshal array into Go value of type map[string]interface {}"]),
            (json!({"type": "kubernetes.io/service-account-token"}), vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
            (json!({"stringData": {"bad/key": "x"}}), vec!["data[bad/key]: Invalid value: \"bad/key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]),
        ];
        for (input, want) in cases {
            assert_eq!(strings(validate_secret(&secret(with_meta(input.clone())))), want, "{input}");
        }
    }
}
