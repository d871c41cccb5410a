//! The PersistentVolumeClaim printer, formatting capacity, access modes and phase as the
//! PersistentVolume printer does.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::kinds::core::persistentvolume::table::{access_modes, optional_class, phase, storage_quantity, BETA_STORAGE_CLASS_ANNOTATION};
use crate::table::descriptions as doc;
use crate::table::format::{age, annotation, list, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(PVC_COLUMNS, pvc_cells);

const PVC_COLUMNS: &[Column] = &[
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

fn pvc_cells(pvc: &Value, now: Timestamp) -> Vec<Value> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
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
}
