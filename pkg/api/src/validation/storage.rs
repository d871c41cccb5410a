//! PersistentVolumes, PersistentVolumeClaims and StorageClasses.
//!
//! Skipped from upstream: per-plugin rules of in-tree PV sources other than hostPath, NFS,
//! local and CSI; volumeAttributesClassName (its gate is off by default); the
//! dataSource/dataSourceRef agreement checks; PVC resize-status keys; the beta storage-class
//! annotation upgrade path; and StorageClass allowedTopologies.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeSpec};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use serde_json::Value;

use super::container::enum_if_set;
use super::field::{BadValue, FieldError, Path};
use super::meta::{self, NameRule};
use crate::kinds::core::pod::validation::spec_diff;
use super::quantity::Quantity;
use super::{names, resources, volume};

const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
/// PV spec fields that are not part of its volume source.
const PV_NON_SOURCE: &[&str] = &[
    "accessModes",
    "capacity",
    "claimRef",
    "mountOptions",
    "nodeAffinity",
    "persistentVolumeReclaimPolicy",
    "storageClassName",
    "volumeAttributesClassName",
    "volumeMode",
];
const PV_SOURCES: &[(&str, &str)] = &[
    ("hostPath", "hostPath"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("nfs", "nfs"),
    ("rbd", "rbd"),
    ("quobyte", "quobyte"),
    ("cephfs", "cephFS"),
    ("iscsi", "iscsi"),
    ("cinder", "cinder"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("scaleIO", "scaleIO"),
    ("local", "local"),
    ("storageos", "storageos"),
    ("csi", "csi"),
];

fn subdomain(value: &str, path: &Path) -> Vec<FieldError> {
    names::is_dns1123_subdomain(value).into_iter().map(|m| FieldError::invalid(path, value, m)).collect()
}

fn access_modes(modes: &[String], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for m in modes.iter().filter(|m| !ACCESS_MODES.contains(&m.as_str())) {
        errs.push(FieldError::not_supported(path, m, ACCESS_MODES));
    }
    let rwop = modes.iter().any(|m| m == "ReadWriteOncePod");
    if rwop && modes.iter().any(|m| m != "ReadWriteOncePod" && ACCESS_MODES.contains(&m.as_str())) {
        errs.push(FieldError::forbidden(path, "may not use ReadWriteOncePod with other access modes"));
    }
    errs
}

/// The spec as JSON with only its volume-source fields left.
fn pv_source(spec: &PersistentVolumeSpec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| !PV_NON_SOURCE.contains(&k.as_str()));
    }
    v
}

fn pv_spec(spec: &PersistentVolumeSpec, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or(&[]);
    if modes.is_empty() {
        errs.push(FieldError::required(&path.child("accessModes"), ""));
    }
    errs.extend(access_modes(modes, &path.child("accessModes")));
    let cap_path = path.child("capacity");
    let capacity = spec.capacity.clone().unwrap_or_default();
    if capacity.is_empty() {
        errs.push(FieldError::required(&cap_path, ""));
    }
    if !capacity.contains_key("storage") || capacity.len() > 1 {
        let value = if capacity.is_empty() { BadValue::Json(Value::Null) } else { BadValue::json(&capacity) };
        errs.push(FieldError::not_supported(&cap_path, value, &["storage"]));
    }
    for (name, q) in &capacity {
        let p = cap_path.key(name);
        match resources::parse(q, &p) {
            Ok(q) if q.is_negative() => {
                errs.push(FieldError::invalid(&p, BadValue::Int(q.value() as i64), "must be a valid resource quantity"));
                errs.push(FieldError::invalid(&p, q.canonical(), "must be greater than zero"));
            }
            Ok(q) if !q.is_positive() => errs.push(FieldError::invalid(&p, q.canonical(), "must be greater than zero")),
            Ok(_) => {}
            Err(e) => errs.push(e),
        }
    }
    errs.extend(enum_if_set(
        spec.persistent_volume_reclaim_policy.as_deref(),
        &["Delete", "Recycle", "Retain"],
        &path.child("persistentVolumeReclaimPolicy"),
    ));
    let mut affinity_set = false;
    if let Some(na) = &spec.node_affinity {
        affinity_set = true;
        let required = path.child("nodeAffinity").child("required");
        match &na.required {
            None => errs.push(FieldError::required(&required, "must specify required node constraints")),
            Some(sel) if sel.node_selector_terms.is_empty() => {
                errs.push(FieldError::required(&required.child("nodeSelectorTerms"), "must have at least one node selector term"))
            }
            Some(_) => {}
        }
    }
    let source = pv_source(spec);
    let present: Vec<&(&str, &str)> = PV_SOURCES.iter().filter(|(json, _)| source.get(*json).is_some_and(|v| !v.is_null())).collect();
    for (i, (_, name)) in present.iter().enumerate() {
        // flexVolume is counted but never reported as the extra source, as upstream does.
        if i > 0 && *name != "flexVolume" {
            errs.push(FieldError::forbidden(&path.child(name), volume::MORE_THAN_ONE));
            continue;
        }
        match *name {
            "hostPath" => {
                errs.extend(spec.host_path.as_ref().map(|h| volume::host_path_source(h, &path.child("hostPath"))).unwrap_or_default())
            }
            "nfs" => errs.extend(spec.nfs.as_ref().map(|n| volume::nfs_source(n, &path.child("nfs"))).unwrap_or_default()),
            "local" => {
                let local = spec.local.as_ref().expect("source present");
                if local.path.is_empty() {
                    errs.push(FieldError::required(&path.child("local").child("path"), ""));
                } else {
                    errs.extend(volume::no_backsteps(&local.path, &path.child("local").child("path")));
                }
                if !affinity_set {
                    errs.push(FieldError::required(&path.child("nodeAffinity"), "Local volume requires node affinity"));
                }
            }
            "csi" => {
                let csi = spec.csi.as_ref().expect("source present");
                let driver = path.child("csi").child("driver");
                if csi.driver.is_empty() {
                    errs.push(FieldError::required(&driver, ""));
                }
                if csi.driver.len() > 63 {
                    errs.push(FieldError::too_long(&driver, 63));
                }
                errs.extend(
                    names::is_dns1123_subdomain(&csi.driver.to_lowercase())
                        .into_iter()
                        .map(|m| FieldError::invalid(&driver, &csi.driver, m)),
                );
                if csi.volume_handle.is_empty() {
                    errs.push(FieldError::required(&path.child("csi").child("volumeHandle"), ""));
                }
            }
            _ => {}
        }
    }
    if present.is_empty() {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    let root_recycle = spec.host_path.as_ref().is_some_and(|h| h.path.trim_end_matches('/').is_empty() && !h.path.is_empty());
    if root_recycle && spec.persistent_volume_reclaim_policy.as_deref() == Some("Recycle") {
        errs.push(FieldError::forbidden(&path.child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"));
    }
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        errs.extend(subdomain(class, &path.child("storageClassName")));
    }
    errs.extend(enum_if_set(spec.volume_mode.as_deref(), VOLUME_MODES, &path.child("volumeMode")));
    errs
}

pub fn validate_persistent_volume(pv: &PersistentVolume) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&pv.metadata, false, NameRule::Dns1123Subdomain);
    errs.extend(pv_spec(pv.spec.as_ref().unwrap_or(&Default::default()), &Path::new("spec")));
    errs
}

fn volume_mode(mode: &Option<String>) -> &str {
    mode.as_deref().unwrap_or("Filesystem")
}

pub fn validate_persistent_volume_update(new: &PersistentVolume, old: &PersistentVolume) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(validate_persistent_volume(new));
    let (new_spec, old_spec) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
    let (mut new_source, old_source) = (pv_source(&new_spec), pv_source(&old_spec));
    // A CSI volume may gain a controllerExpandSecretRef later.
    let old_has_expand = old_source.pointer("/csi/controllerExpandSecretRef").is_some();
    if let (false, Some(csi)) = (old_has_expand, new_source.get_mut("csi").and_then(Value::as_object_mut)) {
        csi.remove("controllerExpandSecretRef");
    }
    if new_source != old_source {
        errs.push(FieldError::forbidden(
            &Path::of(&["spec", "persistentvolumesource"]),
            format!("spec.persistentvolumesource is immutable after creation\n{}", spec_diff(&old_source, &new_source)),
        ));
    }
    errs.extend(meta::immutable(&volume_mode(&new_spec.volume_mode), &volume_mode(&old_spec.volume_mode), &Path::new("volumeMode")));
    if old_spec.node_affinity.is_some() && new_spec.node_affinity != old_spec.node_affinity {
        errs.push(FieldError::invalid(&Path::new("nodeAffinity"), BadValue::json(&new_spec.node_affinity), meta::IMMUTABLE));
    }
    errs
}

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
    q.and_then(|q| super::quantity::parse(&q.0).ok()).unwrap_or_else(Quantity::zero)
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

pub fn validate_storage_class(sc: &StorageClass) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&sc.metadata, false, NameRule::Dns1123Subdomain);
    let provisioner = Path::new("provisioner");
    if sc.provisioner.is_empty() {
        errs.push(FieldError::required(&provisioner, ""));
    } else {
        let lower = sc.provisioner.to_lowercase();
        errs.extend(names::is_qualified_name(&lower).into_iter().map(|m| FieldError::invalid(&provisioner, lower.as_str(), m)));
    }
    let params_path = Path::new("parameters");
    let empty = BTreeMap::new();
    let params = sc.parameters.as_ref().unwrap_or(&empty);
    if params.len() > 512 {
        errs.push(FieldError::too_long(&params_path, 512));
    } else {
        let mut total = 0;
        for (k, v) in params {
            if k.is_empty() {
                errs.push(FieldError::invalid(&params_path, k, "field can not be empty."));
            }
            total += k.len() + v.len();
        }
        if total > 256 * 1024 {
            errs.push(FieldError::too_long(&params_path, 256 * 1024));
        }
    }
    errs.extend(enum_if_set(sc.reclaim_policy.as_deref(), &["Delete", "Retain"], &Path::new("reclaimPolicy")));
    errs.extend(enum_if_set(sc.volume_binding_mode.as_deref(), &["Immediate", "WaitForFirstConsumer"], &Path::new("volumeBindingMode")));
    if sc.volume_binding_mode.as_deref() == Some("") {
        errs.push(FieldError::not_supported(&Path::new("volumeBindingMode"), "", &["Immediate", "WaitForFirstConsumer"]));
    }
    errs
}

pub fn validate_storage_class_update(new: &StorageClass, old: &StorageClass) -> Vec<FieldError> {
    let mut errs = validate_storage_class(new);
    errs.extend(meta::validate_object_meta_update(&new.metadata, &old.metadata));
    let params = |s: &StorageClass| s.parameters.clone().unwrap_or_default();
    if params(new) != params(old) {
        errs.push(FieldError::forbidden(&Path::new("parameters"), "updates to parameters are forbidden."));
    }
    if new.provisioner != old.provisioner {
        errs.push(FieldError::forbidden(&Path::new("provisioner"), "updates to provisioner are forbidden."));
    }
    // Unset values are defaulted (Delete, Immediate) before upstream compares them.
    let reclaim = |s: &StorageClass| s.reclaim_policy.clone().unwrap_or_else(|| "Delete".into());
    if reclaim(new) != reclaim(old) {
        errs.push(FieldError::forbidden(&Path::new("reclaimPolicy"), "updates to reclaimPolicy are forbidden."));
    }
    let binding = |s: &StorageClass| s.volume_binding_mode.clone().unwrap_or_else(|| "Immediate".into());
    errs.extend(meta::immutable(&binding(new), &binding(old), &Path::new("volumeBindingMode")));
    errs
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
