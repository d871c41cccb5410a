//! Table tests for PersistentVolumes, PersistentVolumeClaims and StorageClasses.

use super::*;
use crate::validation::test_support::{strings, check};
use serde_json::json;

fn pv(spec: serde_json::Value) -> PersistentVolume {
    serde_json::from_value(json!({"metadata": {"name": "pv", "resourceVersion": "1"}, "spec": spec})).unwrap()
}

#[test]
fn persistent_volume_cases() {
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "nfs": {"server": "nfs", "path": "/exports"}}), vec![]),
        (json!({"hostPath": {"path": "/tmp"}}), vec![
            "spec.accessModes: Required value",
            "spec.capacity: Required value",
            "spec.capacity: Unsupported value: null: supported values: \"storage\"",
        ]),
        (json!({"capacity": {"storage": "1Gi", "cpu": "1"}, "accessModes": ["ReadWriteEverything"], "hostPath": {"path": "/tmp"}}), vec![
            "spec.accessModes: Unsupported value: \"ReadWriteEverything\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
            "spec.capacity: Unsupported value: {\"cpu\":\"1\",\"storage\":\"1Gi\"}: supported values: \"storage\"",
        ]),
        (json!({"capacity": {"storage": "0"}, "accessModes": ["ReadWriteOncePod", "ReadOnlyMany"]}), vec![
            "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
            "spec.capacity[storage]: Invalid value: \"0\": must be greater than zero",
            "spec: Required value: must specify a volume type",
        ]),
        (json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/x"}, "nfs": {"server": "s", "path": "/p"}}), vec![
            "spec.nfs: Forbidden: may not specify more than 1 volume type",
        ]),
        (json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "local": {"path": "/mnt/disk"}}), vec!["spec.nodeAffinity: Required value: Local volume requires node affinity"]),
        (json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/"}, "persistentVolumeReclaimPolicy": "Recycle"}), vec![
            "spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'",
        ]),
        (json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "csi": {"driver": "", "volumeHandle": ""}, "volumeMode": "Raw"}), vec![
            "spec.csi.driver: Required value",
            "spec.csi.driver: Invalid value: \"\": a lowercase RFC 1123 subdomain",
            "spec.csi.volumeHandle: Required value",
            "spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"",
        ]),
    ];
    for (spec, want) in cases {
        check(strings(validate_persistent_volume(&pv(spec.clone()))), &want, &spec.to_string());
    }
}

#[test]
fn persistent_volume_update_cases() {
    let base = json!({"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp"}});
    let old = pv(base.clone());
    let mut grown = base.clone();
    grown["capacity"]["storage"] = json!("2Gi");
    grown["persistentVolumeReclaimPolicy"] = json!("Delete");
    check(strings(validate_persistent_volume_update(&pv(grown), &old)), &[], "capacity change");
    let mut moved = base.clone();
    moved["hostPath"]["path"] = json!("/other");
    check(strings(validate_persistent_volume_update(&pv(moved), &old)), &[
        "spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation\n- hostPath: {\"path\":\"/tmp\"}\n+ hostPath: {\"path\":\"/other\"}",
    ], "source change");
    let mut block = base;
    block["volumeMode"] = json!("Block");
    check(
        strings(validate_persistent_volume_update(&pv(block), &old)),
        &["volumeMode: Invalid value: \"Block\": field is immutable"],
        "mode change",
    );
}
