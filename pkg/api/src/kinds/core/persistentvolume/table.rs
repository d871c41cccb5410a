//! The PersistentVolume printer, and the capacity, access mode, phase and class formatting the
//! PersistentVolumeClaim printer shares.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, annotation, has_deletion_timestamp, list, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(PV_COLUMNS, pv_cells);

const PV_COLUMNS: &[Column] = &[
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

/// The deprecated annotation that, when present, names the class instead of the spec field.
pub(crate) const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";
/// Access modes abbreviated in upstream's fixed order, each once, comma-joined.
pub(crate) fn access_modes(modes: &[Value]) -> String {
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
pub(crate) fn storage_quantity(obj: &Value, pointer: &str) -> String {
    match obj.pointer(pointer) {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// `Terminating` once deletion is requested, else `status.phase`.
pub(crate) fn phase(obj: &Value) -> &str {
    if has_deletion_timestamp(obj) {
        "Terminating"
    } else {
        text(obj, "/status/phase")
    }
}

pub(crate) fn optional_class<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
}

fn pv_cells(pv: &Value, now: Timestamp) -> Vec<Value> {
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

}
