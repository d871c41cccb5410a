//! Table tests for PersistentVolumes, PersistentVolumeClaims and StorageClasses.

use super::*;
use serde_json::json;

fn strings(errs: Vec<FieldError>) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

fn check(got: Vec<String>, want: &[&str], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.starts_with(w), "{what}: got {g:?}, want prefix {w:?}");
    }
}

fn pv(spec: serde_json::Value) -> PersistentVolume {
    serde_json::from_value(json!({"metadata": {"name": "pv", "resourceVersion": "1"}, "spec": spec})).unwrap()
}

fn pvc(spec: serde_json::Value, status: serde_json::Value) -> PersistentVolumeClaim {
    serde_json::from_value(json!({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"}, "spec": spec, "status": status}))
        .unwrap()
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

#[test]
fn persistent_volume_claim_cases() {
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "fast"}), vec![]),
        (
            json!({}),
            vec!["spec.accessModes: Required value: at least 1 access mode is required", "spec.resources[storage]: Required value"],
        ),
        (
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "0"}}}),
            vec!["spec.resources[storage]: Invalid value: \"0\": must be greater than zero"],
        ),
        (
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "Fast_1"}),
            vec!["spec.storageClassName: Invalid value: \"Fast_1\": a lowercase RFC 1123 subdomain"],
        ),
        (
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "dataSource": {"kind": "Snapshot", "name": ""}}),
            vec![
                "spec.dataSource.name: Required value",
                "spec.dataSource: Invalid value: \"Snapshot\": must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            ],
        ),
        (
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "selector": {"matchLabels": {"tier": "?"}}}),
            vec!["spec.selector.matchLabels: Invalid value: \"?\""],
        ),
    ];
    for (spec, want) in cases {
        check(strings(validate_persistent_volume_claim(&pvc(spec.clone(), json!({})))), &want, &spec.to_string());
    }
}

#[test]
fn persistent_volume_claim_update_cases() {
    let spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
    let bound = json!({"phase": "Bound", "capacity": {"storage": "1Gi"}});
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut s = spec.clone();
        f(&mut s);
        s
    };
    let immutable =
        "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";
    let cases: Vec<(serde_json::Value, serde_json::Value, Vec<&str>)> = vec![
        (with(&|s| s["volumeName"] = json!("pv-1")), json!({}), vec![]),
        (with(&|s| s["resources"]["requests"]["storage"] = json!("2Gi")), bound.clone(), vec![]),
        (with(&|s| s["resources"]["requests"]["storage"] = json!("2Gi")), json!({"phase": "Pending"}), vec![immutable]),
        (
            with(&|s| s["resources"]["requests"]["storage"] = json!("512Mi")),
            bound.clone(),
            vec!["spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"],
        ),
        (with(&|s| s["accessModes"] = json!(["ReadWriteMany"])), bound.clone(), vec![immutable]),
        (with(&|s| s["storageClassName"] = json!("standard")), json!({}), vec![]),
    ];
    for (new_spec, status, want) in cases {
        let (new, old) = (pvc(new_spec.clone(), status.clone()), pvc(spec.clone(), status));
        check(strings(validate_persistent_volume_claim_update(&new, &old)), &want, &new_spec.to_string());
    }
    let old =
        pvc(json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv-1"}), json!({}));
    let new =
        pvc(json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv-2"}), json!({}));
    let got = strings(validate_persistent_volume_claim_update(&new, &old));
    assert_eq!(got, vec![format!("{immutable}\n- volumeName: \"pv-1\"\n+ volumeName: \"pv-2\"")]);
}

#[test]
fn storage_class_cases() {
    let sc = |v: serde_json::Value| -> StorageClass {
        let mut base = json!({"metadata": {"name": "fast", "resourceVersion": "1"}});
        base.as_object_mut().unwrap().extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    };
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (
            json!({"provisioner": "kubernetes.io/no-provisioner", "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
            vec![],
        ),
        (json!({}), vec!["provisioner: Required value"]),
        (json!({"provisioner": "a/b/c"}), vec!["provisioner: Invalid value: \"a/b/c\": a valid label key must consist"]),
        (
            json!({"provisioner": "p", "reclaimPolicy": "Recycle", "volumeBindingMode": "Later"}),
            vec![
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
            ],
        ),
        (json!({"provisioner": "p", "parameters": {"": "x"}}), vec!["parameters: Invalid value: \"\": field can not be empty."]),
    ];
    for (input, want) in cases {
        check(strings(validate_storage_class(&sc(input.clone()))), &want, &input.to_string());
    }
    let old = sc(json!({"provisioner": "p", "parameters": {"type": "ssd"}}));
    let new = sc(
        json!({"provisioner": "q", "parameters": {"type": "hdd"}, "reclaimPolicy": "Retain", "volumeBindingMode": "WaitForFirstConsumer"}),
    );
    check(
        strings(validate_storage_class_update(&new, &old)),
        &[
            "parameters: Forbidden: updates to parameters are forbidden.",
            "provisioner: Forbidden: updates to provisioner are forbidden.",
            "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
            "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable",
        ],
        "update",
    );
    let annotated = sc(
        json!({"provisioner": "p", "parameters": {"type": "ssd"}, "metadata": {"name": "fast", "resourceVersion": "1", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}),
    );
    check(strings(validate_storage_class_update(&annotated, &old)), &[], "annotation change");
}
