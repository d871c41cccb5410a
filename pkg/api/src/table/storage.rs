//! PersistentVolume, PersistentVolumeClaim and StorageClass printers.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::descriptions as doc;
use super::format::{age, annotation, has_deletion_timestamp, list, name, text};
use super::Column;

pub(super) const PV_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Capacity", "string", doc::PV_SPEC_CAPACITY),
    Column::new("Access Modes", "string", doc::PV_SPEC_ACCESS_MODES),
    Column::new("Reclaim Policy", "string", doc::PV_SPEC_RECLAIM_POLICY),
    Column::new("Status", "string", doc::PV_STATUS_PHASE),
    Column::new("Claim", "string", doc::PV_SPEC_CLAIM_REF),
    Column::new("StorageClass", "string", "StorageClass of the pv"),
    Column::new(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pv",
    ),
    Column::new("Reason", "string", doc::PV_STATUS_REASON),
    Column::AGE,
    Column::wide("VolumeMode", "string", doc::PV_SPEC_VOLUME_MODE),
];

pub(super) const PVC_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Status", "string", doc::PVC_STATUS_PHASE),
    Column::new("Volume", "string", doc::PVC_SPEC_VOLUME_NAME),
    Column::new("Capacity", "string", doc::PVC_STATUS_CAPACITY),
    Column::new("Access Modes", "string", doc::PVC_STATUS_ACCESS_MODES),
    Column::new("StorageClass", "string", "StorageClass of the pvc"),
    Column::new(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
    ),
    Column::AGE,
    Column::wide("VolumeMode", "string", doc::PVC_SPEC_VOLUME_MODE),
];

pub(super) const STORAGE_CLASS_COLUMNS: &[Column] = &[
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

/// The deprecated annotation that, when present, names the class instead of the spec field.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";
/// Annotations marking the default StorageClass (either one set to "true").
const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

/// Access modes abbreviated in upstream's fixed order, each once, comma-joined.
fn access_modes(modes: &[Value]) -> String {
    const ABBREVIATIONS: [(&str, &str); 4] = [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ];
    ABBREVIATIONS
        .iter()
        .filter(|(mode, _)| modes.iter().any(|m| m.as_str() == Some(mode)))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// A storage quantity as printed; an absent one is the zero Quantity, `0`.
fn storage_quantity(obj: &Value, pointer: &str) -> String {
    match obj.pointer(pointer) {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// `Terminating` once deletion is requested, else `status.phase`.
fn phase(obj: &Value) -> &str {
    if has_deletion_timestamp(obj) {
        "Terminating"
    } else {
        text(obj, "/status/phase")
    }
}

fn optional_class<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
}

pub(super) fn pv_cells(pv: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match pv.pointer("/spec/claimRef").filter(|c| !c.is_null()) {
        Some(claim) => format!("{}/{}", text(claim, "/namespace"), text(claim, "/name")),
        None => String::new(),
    };
    let class = annotation(pv, BETA_STORAGE_CLASS_ANNOTATION)
        .unwrap_or_else(|| text(pv, "/spec/storageClassName"));
    vec![
        json!(name(pv)),
        json!(storage_quantity(pv, "/spec/capacity/storage")),
        json!(access_modes(list(pv, "/spec/accessModes"))),
        json!(text(pv, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase(pv)),
        json!(claim),
        json!(class),
        json!(optional_class(pv, "/spec/volumeAttributesClassName")),
        json!(text(pv, "/status/reason")),
        age(pv, now),
        json!(optional_class(pv, "/spec/volumeMode")),
    ]
}

pub(super) fn pvc_cells(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let volume = text(pvc, "/spec/volumeName");
    // Capacity and access modes come from the bound volume, so only show once bound.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            storage_quantity(pvc, "/status/capacity/storage"),
            access_modes(list(pvc, "/status/accessModes")),
        )
    };
    let class = annotation(pvc, BETA_STORAGE_CLASS_ANNOTATION)
        .unwrap_or_else(|| text(pvc, "/spec/storageClassName"));
    vec![
        json!(name(pvc)),
        json!(phase(pvc)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(optional_class(pvc, "/spec/volumeAttributesClassName")),
        age(pvc, now),
        json!(optional_class(pvc, "/spec/volumeMode")),
    ]
}

pub(super) fn storage_class_cells(class: &Value, now: Timestamp) -> Vec<Value> {
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
    fn access_modes_are_abbreviated_in_fixed_order() {
        let cases = [
            (json!([]), ""),
            (json!(["ReadWriteOnce"]), "RWO"),
            (
                json!([
                    "ReadWriteOncePod",
                    "ReadWriteMany",
                    "ReadOnlyMany",
                    "ReadWriteOnce",
                    "ReadWriteOnce"
                ]),
                "RWO,ROX,RWX,RWOP",
            ),
        ];
        for (modes, want) in cases {
            assert_eq!(access_modes(modes.as_array().unwrap()), want);
        }
    }

    #[test]
    fn pv_cells_cases() {
        let cases = [
            (
                json!({"metadata": {"name": "pv1", "creationTimestamp": "2024-05-01T11:00:00Z"},
                       "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                                "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                                "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
                       "status": {"phase": "Bound"}}),
                json!([
                    "pv1",
                    "10Gi",
                    "RWO",
                    "Retain",
                    "Bound",
                    "default/data",
                    "standard",
                    "<unset>",
                    "",
                    "60m",
                    "Filesystem"
                ]),
            ),
            (
                json!({"metadata": {"name": "pv2", "deletionTimestamp": "2024-05-01T11:59:00Z",
                                    "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
                       "spec": {"storageClassName": "new", "volumeAttributesClassName": "gold"},
                       "status": {"phase": "Released", "reason": "Oops"}}),
                json!([
                    "pv2",
                    "0",
                    "",
                    "",
                    "Terminating",
                    "",
                    "old",
                    "gold",
                    "Oops",
                    "<unknown>",
                    "<unset>"
                ]),
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(json!(pv_cells(&obj, now())), want);
        }
    }

    #[test]
    fn pvc_cells_cases() {
        let cases = [
            (
                json!({"metadata": {"name": "data", "creationTimestamp": "2024-05-01T11:59:00Z"},
                       "spec": {"resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "standard"},
                       "status": {"phase": "Pending"}}),
                json!(["data", "Pending", "", "", "", "standard", "<unset>", "60s", "<unset>"]),
            ),
            (
                json!({"metadata": {"name": "data", "creationTimestamp": "2024-05-01T11:59:00Z"},
                       "spec": {"volumeName": "pv1", "volumeMode": "Block", "volumeAttributesClassName": "gold"},
                       "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}}),
                json!(["data", "Bound", "pv1", "10Gi", "RWO,ROX", "", "gold", "60s", "Block"]),
            ),
            (
                json!({"metadata": {"name": "data", "deletionTimestamp": "2024-05-01T11:59:00Z",
                                    "annotations": {"volume.beta.kubernetes.io/storage-class": ""}},
                       "spec": {"volumeName": "pv1", "storageClassName": "standard"}, "status": {"phase": "Bound"}}),
                json!([
                    "data",
                    "Terminating",
                    "pv1",
                    "0",
                    "",
                    "",
                    "<unset>",
                    "<unknown>",
                    "<unset>"
                ]),
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(json!(pvc_cells(&obj, now())), want);
        }
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
