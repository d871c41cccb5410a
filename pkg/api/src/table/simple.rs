//! Printers whose cells are plain fields or counts: Namespace, ConfigMap, Secret,
//! ServiceAccount and Lease.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::descriptions as doc;
use super::format::{age, key_count, list, name, text};
use super::Column;

pub(super) const NAMESPACE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Status", "string", "The status of the namespace"),
    Column::AGE,
];

pub(super) const CONFIG_MAP_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Data", "string", doc::CONFIG_MAP_DATA),
    Column::AGE,
];

pub(super) const SECRET_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Type", "string", doc::SECRET_TYPE),
    Column::new("Data", "string", doc::SECRET_DATA),
    Column::AGE,
];

pub(super) const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Secrets", "string", doc::SERVICE_ACCOUNT_SECRETS),
    Column::AGE,
];

pub(super) const LEASE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Holder", "string", doc::LEASE_SPEC_HOLDER_IDENTITY),
    Column::AGE,
];

/// Upstream's printer: VALUE and GLOBAL-DEFAULT, then PREEMPTIONPOLICY after AGE.
pub(super) const PRIORITY_CLASS_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Value", "integer", doc::PRIORITY_CLASS_VALUE),
    Column::new("Global-Default", "boolean", doc::PRIORITY_CLASS_GLOBAL_DEFAULT),
    Column::AGE,
    Column::new("PreemptionPolicy", "string", doc::PRIORITY_CLASS_PREEMPTION_POLICY),
];

pub(super) fn priority_class_cells(pc: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(pc)),
        json!(pc.get("value").and_then(Value::as_i64).unwrap_or(0)),
        json!(pc.get("globalDefault").and_then(Value::as_bool).unwrap_or(false)),
        age(pc, now),
        json!(pc.get("preemptionPolicy").and_then(Value::as_str).unwrap_or("")),
    ]
}

pub(super) fn namespace_cells(namespace: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(namespace)),
        json!(text(namespace, "/status/phase")),
        age(namespace, now),
    ]
}

pub(super) fn config_map_cells(config_map: &Value, now: Timestamp) -> Vec<Value> {
    let entries = key_count(config_map, "/data") + key_count(config_map, "/binaryData");
    vec![
        json!(name(config_map)),
        json!(entries),
        age(config_map, now),
    ]
}

pub(super) fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    // Upstream counts the internal Secret's data, into which decoding merges stringData.
    let data = secret.get("data").and_then(Value::as_object);
    let string_only = secret
        .get("stringData")
        .and_then(Value::as_object)
        .map_or(0, |s| {
            s.keys()
                .filter(|k| !data.is_some_and(|d| d.contains_key(*k)))
                .count()
        });
    let entries = data.map_or(0, |d| d.len()) + string_only;
    vec![
        json!(name(secret)),
        json!(text(secret, "/type")),
        json!(entries),
        age(secret, now),
    ]
}

pub(super) fn service_account_cells(account: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(account)),
        json!(list(account, "/secrets").len()),
        age(account, now),
    ]
}

pub(super) fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(lease)),
        json!(text(lease, "/spec/holderIdentity")),
        age(lease, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    type CellsFn = fn(&Value, Timestamp) -> Vec<Value>;

    #[test]
    fn cells_cases() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let created = json!({"name": "x", "creationTimestamp": "2024-05-01T11:59:30Z"});
        let cases: Vec<(&str, CellsFn, Value, Value)> = vec![
            (
                "namespace",
                namespace_cells,
                json!({"metadata": created, "status": {"phase": "Active"}}),
                json!(["x", "Active", "30s"]),
            ),
            (
                "namespace without status",
                namespace_cells,
                json!({"metadata": {"name": "x"}}),
                json!(["x", "", "<unknown>"]),
            ),
            (
                "configmap",
                config_map_cells,
                json!({"metadata": created, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
                json!(["x", 3, "30s"]),
            ),
            (
                "empty configmap",
                config_map_cells,
                json!({"metadata": created}),
                json!(["x", 0, "30s"]),
            ),
            (
                "secret",
                secret_cells,
                json!({"metadata": created, "type": "Opaque", "data": {"u": "YQ==", "p": "Yg=="}}),
                json!(["x", "Opaque", 2, "30s"]),
            ),
            (
                "secret with stringData",
                secret_cells,
                json!({"metadata": created, "type": "kubernetes.io/basic-auth", "data": {"u": "YQ=="},
                       "stringData": {"u": "a", "p": "b"}}),
                json!(["x", "kubernetes.io/basic-auth", 2, "30s"]),
            ),
            (
                "serviceaccount",
                service_account_cells,
                json!({"metadata": created}),
                json!(["x", 0, "30s"]),
            ),
            (
                "serviceaccount with secrets",
                service_account_cells,
                json!({"metadata": created, "secrets": [{"name": "t1"}, {"name": "t2"}]}),
                json!(["x", 2, "30s"]),
            ),
            (
                "lease",
                lease_cells,
                json!({"metadata": created, "spec": {"holderIdentity": "node-1"}}),
                json!(["x", "node-1", "30s"]),
            ),
            (
                "lease without holder",
                lease_cells,
                json!({"metadata": created, "spec": {}}),
                json!(["x", "", "30s"]),
            ),
        ];
        for (case, cells, obj, want) in cases {
            assert_eq!(json!(cells(&obj, now)), want, "{case}");
        }
    }
}
