//! The StorageClass printer: the name marks the default class, then provisioner, policies and
//! expansion.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, annotation, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(STORAGE_CLASS_COLUMNS, storage_class_cells);

const STORAGE_CLASS_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Provisioner", "string", doc::STORAGE_CLASS_PROVISIONER),
    Column::new("ReclaimPolicy", "string", doc::STORAGE_CLASS_RECLAIM_POLICY),
    Column::new(
        "VolumeBindingMode",
        "string",
        doc::STORAGE_CLASS_VOLUME_BINDING_MODE,
    ),
    Column::new(
        "AllowVolumeExpansion",
        "string",
        doc::STORAGE_CLASS_ALLOW_VOLUME_EXPANSION,
    ),
    Column::AGE,
];

/// Annotations marking the default StorageClass (either one set to "true").
const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

fn storage_class_cells(class: &Value, now: Timestamp) -> Vec<Value> {
    let mut display_name = name(class).to_string();
    if DEFAULT_CLASS_ANNOTATIONS
        .iter()
        .any(|a| annotation(class, a) == Some("true"))
    {
        display_name.push_str(" (default)");
    }
    let or_default = |field: &str, default: &'static str| match text(class, field) {
        "" => default.to_string(),
        value => value.to_string(),
    };
    vec![
        json!(display_name),
        json!(text(class, "/provisioner")),
        json!(or_default("/reclaimPolicy", "Delete")),
        json!(or_default("/volumeBindingMode", "Immediate")),
        json!(class
            .get("allowVolumeExpansion")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
        age(class, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn storage_class_cells_cases() {
        let cases = [
            (
                json!({"metadata": {"name": "standard", "creationTimestamp": "2024-05-01T09:00:00Z",
                                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                       "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
                       "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true}),
                json!([
                    "standard (default)",
                    "rancher.io/local-path",
                    "Delete",
                    "WaitForFirstConsumer",
                    true,
                    "3h"
                ]),
            ),
            (
                json!({"metadata": {"name": "fast", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}},
                       "provisioner": "csi.example.com"}),
                json!([
                    "fast (default)",
                    "csi.example.com",
                    "Delete",
                    "Immediate",
                    false,
                    "<unknown>"
                ]),
            ),
            (
                json!({"metadata": {"name": "slow", "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}},
                       "provisioner": "p", "reclaimPolicy": "Retain"}),
                json!(["slow", "p", "Retain", "Immediate", false, "<unknown>"]),
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(json!(storage_class_cells(&obj, now())), want);
        }
    }
}
