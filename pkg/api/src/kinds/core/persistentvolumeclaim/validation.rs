//! Upstream's PersistentVolumeClaim validation: access modes, the storage request, class and data
//! source, what an update may change (a larger request, on a bound claim), and status writes.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use crate::kinds::core::persistentvolume::validation::{access_modes, subdomain, volume_mode, VOLUME_MODES};
use crate::kinds::core::pod::validation::spec_diff;
use crate::validation::container::enum_if_set;
use crate::validation::field::{BadValue, FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::validation::quantity::Quantity;
use crate::validation::{names, resources};

fn storage_request(spec: &PersistentVolumeClaimSpec) -> Option<&ApiQuantity> {
    spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage"))
}

fn pvc_spec(spec: &PersistentVolumeClaimSpec, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or(&[]);
    if modes.is_empty() {
        errs.push(FieldError::required(&path.child("accessModes"), "at least 1 access mode is required"));
    }
    errs.extend(meta::validate_label_selector(spec.selector.as_ref(), &path.child("selector")));
    errs.extend(access_modes(modes, &path.child("accessModes")));
    let storage_path = path.child("resources").key("storage");
    match storage_request(spec).map(|q| resources::parse(q, &storage_path)) {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(Err(e)) => errs.push(e),
        Some(Ok(q)) if !q.is_positive() => errs.push(FieldError::invalid(&storage_path, q.canonical(), "must be greater than zero")),
        Some(Ok(q)) => errs.extend(resources::quantity_value("storage", &q, &storage_path)),
    }
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        errs.extend(subdomain(class, &path.child("storageClassName")));
    }
    errs.extend(enum_if_set(spec.volume_mode.as_deref(), VOLUME_MODES, &path.child("volumeMode")));
    let refs = [
        ("dataSource", spec.data_source.as_ref().map(|d| (&d.name, &d.kind, &d.api_group, None))),
        ("dataSourceRef", spec.data_source_ref.as_ref().map(|d| (&d.name, &d.kind, &d.api_group, d.namespace.as_deref()))),
    ];
    for (field, reference) in refs {
        let Some((name, kind, group, namespace)) = reference else { continue };
        let p = path.child(field);
        if name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if kind.is_empty() {
            errs.push(FieldError::required(&p.child("kind"), ""));
        }
        let group = group.as_deref().unwrap_or("");
        if group.is_empty() && kind != "PersistentVolumeClaim" {
            errs.push(FieldError::invalid(&p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
        }
        if !group.is_empty() {
            errs.extend(subdomain(group, &p.child("apiGroup")));
        }
        if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
            errs.extend(names::is_dns1123_label(ns).into_iter().map(|m| FieldError::invalid(&p.child("namespace"), ns, m)));
        }
    }
    errs
}

pub fn validate_persistent_volume_claim(pvc: &PersistentVolumeClaim) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&pvc.metadata, true, NameRule::Dns1123Subdomain);
    errs.extend(pvc_spec(pvc.spec.as_ref().unwrap_or(&Default::default()), &Path::new("spec")));
    errs
}

fn parsed(q: Option<&ApiQuantity>) -> Quantity {
    q.and_then(|q| crate::validation::quantity::parse(&q.0).ok()).unwrap_or_else(Quantity::zero)
}

pub fn validate_persistent_volume_claim_update(new: &PersistentVolumeClaim, old: &PersistentVolumeClaim) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(validate_persistent_volume_claim(new));
    let (new_spec, old_spec) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
    let (mut munged_new, mut munged_old) = (new_spec.clone(), old_spec.clone());
    // An unset volumeMode means the default, Filesystem.
    munged_new.volume_mode = Some(volume_mode(&new_spec.volume_mode).to_string());
    munged_old.volume_mode = Some(volume_mode(&old_spec.volume_mode).to_string());
    // volumeName may be set once (by the binder).
    if old_spec.volume_name.as_deref().unwrap_or("").is_empty() {
        munged_old.volume_name.clone_from(&new_spec.volume_name);
    }
    // A class may be given to a claim that had none, unless the beta annotation disagrees.
    let beta = old.metadata.annotations.as_ref().and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"));
    if old_spec.storage_class_name.is_none() && new_spec.storage_class_name.as_ref().is_some_and(|c| beta.is_none_or(|b| b == c)) {
        munged_old.storage_class_name.clone_from(&new_spec.storage_class_name);
    }
    let phase = new.status.as_ref().or(old.status.as_ref()).and_then(|s| s.phase.as_deref()).unwrap_or("");
    if phase == "Bound" {
        if let Some(requests) = munged_new.resources.as_mut().and_then(|r| r.requests.as_mut()) {
            match storage_request(&old_spec) {
                Some(q) => requests.insert("storage".into(), q.clone()),
                None => requests.remove("storage"),
            };
        }
    }
    munged_new.volume_attributes_class_name.clone_from(&munged_old.volume_attributes_class_name);
    if munged_new != munged_old {
        errs.push(FieldError::forbidden(
            &Path::new("spec"),
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                spec_diff(&munged_old, &munged_new)
            ),
        ));
    }
    let (new_size, old_size) = (parsed(storage_request(&new_spec)), parsed(storage_request(&old_spec)));
    let status_size = parsed(old.status.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage")));
    // Shrinking is allowed only back towards the capacity recorded in status (expansion recovery).
    if new_size < old_size && new_size <= status_size {
        errs.push(FieldError::forbidden(
            &Path::of(&["spec", "resources", "requests", "storage"]),
            "field can not be less than status.capacity",
        ));
    }
    errs.extend(meta::immutable(&volume_mode(&new_spec.volume_mode), &volume_mode(&old_spec.volume_mode), &Path::new("volumeMode")));
    errs
}

pub fn validate_persistent_volume_claim_status_update(new: &PersistentVolumeClaim, old: &PersistentVolumeClaim) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    if new.spec.as_ref().and_then(|s| s.access_modes.as_ref()).is_none_or(|m| m.is_empty()) {
        errs.push(FieldError::required(&Path::of(&["Spec", "accessModes"]), ""));
    }
    for (name, q) in new.status.as_ref().and_then(|s| s.capacity.as_ref()).into_iter().flatten() {
        let p = Path::of(&["status", "capacity"]).key(name);
        match resources::parse(q, &p) {
            Ok(q) if q.is_negative() => {
                errs.push(FieldError::invalid(&p, BadValue::Int(q.value() as i64), "must be a valid resource quantity"))
            }
            Ok(_) => {}
            Err(e) => errs.push(e),
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::{strings, check};
    use serde_json::json;

    fn pvc(spec: serde_json::Value, status: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"}, "spec": spec, "status": status}))
            .unwrap()
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
}
