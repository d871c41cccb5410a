//! Upstream's PersistentVolume validation, and the access-mode, volume-mode and name checks the
//! claim validation shares (the skipped items below cover claims and StorageClasses too).
//!
//! Skipped from upstream: per-plugin rules of in-tree PV sources other than hostPath, NFS,
//! local and CSI; volumeAttributesClassName (its gate is off by default); the
//! dataSource/dataSourceRef agreement checks; PVC resize-status keys; the beta storage-class
//! annotation upgrade path; and StorageClass allowedTopologies.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeSpec};
use serde_json::Value;

use crate::validation::container::enum_if_set;
use crate::validation::field::{BadValue, FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::kinds::core::pod::validation::spec_diff;
use crate::validation::{names, resources, volume};

const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
pub(crate) const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
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

pub(crate) fn subdomain(value: &str, path: &Path) -> Vec<FieldError> {
    names::is_dns1123_subdomain(value).into_iter().map(|m| FieldError::invalid(path, value, m)).collect()
}

pub(crate) fn access_modes(modes: &[String], path: &Path) -> Vec<FieldError> {
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

pub(crate) fn volume_mode(mode: &Option<String>) -> &str {
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

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
