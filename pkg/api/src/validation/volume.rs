//! Pod volumes, their sources and the containers' mounts of them.
//!
//! Skipped from upstream: the per-source rules of cloud and legacy in-tree plugins (GCE, AWS,
//! Azure, iSCSI, RBD, Ceph, Cinder, ...) beyond counting them as a source, downward-API
//! fieldRef paths, cluster-trust-bundle projections and volumeDevices.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, HostPathVolumeSource, KeyToPath, NFSVolumeSource, ProjectedVolumeSource, Volume};

use super::container::enum_if_set;
use super::field::{FieldError, Path};
use super::{names, resources};

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const HOST_PATH_TYPES: &[&str] = &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];
pub(crate) const MORE_THAN_ONE: &str = "may not specify more than 1 volume type";

/// `validatePathNoBacksteps`: no `..` element anywhere.
pub(crate) fn no_backsteps(target: &str, path: &Path) -> Option<FieldError> {
    target.split('/').any(|p| p == "..").then(|| FieldError::invalid(path, target, "must not contain '..'"))
}

/// `validateLocalDescendingPath`: relative and without `..`.
pub(crate) fn local_descending_path(target: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errs.extend(no_backsteps(target, path));
    errs
}

/// `ValidateLocalNonReservedPath`: also no leading `..`, as in `..data`.
fn local_non_reserved_path(target: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(FieldError::invalid(path, target, "must not start with '..'"));
    }
    errs
}

fn file_mode(mode: Option<i32>, path: &Path) -> Option<FieldError> {
    mode.filter(|m| !(0..=0o777).contains(m)).map(|m| FieldError::invalid(path, m, FILE_MODE_MSG))
}

fn key_to_paths(items: &[KeyToPath], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, kp) in items.iter().enumerate() {
        let p = path.index(i);
        if kp.key.is_empty() {
            errs.push(FieldError::required(&p.child("key"), ""));
        }
        if kp.path.is_empty() {
            errs.push(FieldError::required(&p.child("path"), ""));
        }
        errs.extend(local_non_reserved_path(&kp.path, &p.child("path")));
        errs.extend(file_mode(kp.mode, &p.child("mode")));
    }
    errs
}

pub(crate) fn host_path_source(hp: &HostPathVolumeSource, path: &Path) -> Vec<FieldError> {
    if hp.path.is_empty() {
        return vec![FieldError::required(&path.child("path"), "")];
    }
    let mut errs: Vec<FieldError> = no_backsteps(&hp.path, &path.child("path")).into_iter().collect();
    if let Some(t) = hp.type_.as_deref().filter(|t| !HOST_PATH_TYPES.contains(t)) {
        errs.push(FieldError::not_supported(&path.child("type"), t, HOST_PATH_TYPES));
    }
    errs
}

pub(crate) fn nfs_source(nfs: &NFSVolumeSource, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if nfs.server.is_empty() {
        errs.push(FieldError::required(&path.child("server"), ""));
    }
    if nfs.path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    if !nfs.path.starts_with('/') {
        errs.push(FieldError::invalid(&path.child("path"), &nfs.path, "must be an absolute path"));
    }
    errs
}

fn projected_source(proj: &ProjectedVolumeSource, path: &Path) -> Vec<FieldError> {
    let mut errs: Vec<FieldError> = file_mode(proj.default_mode, &path.child("defaultMode")).into_iter().collect();
    let mut all_paths = BTreeSet::new();
    for (i, source) in proj.sources.iter().flatten().enumerate() {
        let src = path.child("sources").index(i);
        let mut count = 0;
        let named = [
            ("secret", source.secret.as_ref().map(|s| (&s.name, &s.items))),
            ("configMap", source.config_map.as_ref().map(|c| (&c.name, &c.items))),
        ];
        for (field, entry) in named {
            let Some((name, items)) = entry else { continue };
            count += 1;
            if name.is_empty() {
                errs.push(FieldError::required(&src.child(field).child("name"), ""));
            }
            let items = items.as_deref().unwrap_or(&[]);
            errs.extend(key_to_paths(items, &src.child(field).child("items")));
            for kp in items.iter().filter(|kp| !kp.path.is_empty()) {
                if !all_paths.insert(kp.path.clone()) {
                    errs.push(FieldError::invalid(path, name, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(d) = &source.downward_api {
            count += 1;
            for file in d.items.iter().flatten() {
                errs.extend(downward_file(
                    &file.path,
                    file.field_ref.is_some(),
                    file.resource_field_ref.is_some(),
                    file.mode,
                    &src.child("downwardAPI"),
                ));
                if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                    errs.push(FieldError::invalid(path, &file.path, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(t) = &source.service_account_token {
            count += 1;
            let tp = src.child("serviceAccountToken");
            match t.expiration_seconds {
                Some(s) if s < 600 => {
                    errs.push(FieldError::invalid(&tp.child("expirationSeconds"), s, "may not specify a duration less than 10 minutes"))
                }
                Some(s) if s > 1 << 32 => {
                    errs.push(FieldError::invalid(&tp.child("expirationSeconds"), s, "may not specify a duration larger than 2^32 seconds"))
                }
                _ => {}
            }
            if t.path.is_empty() {
                errs.push(FieldError::required(&path.child("path"), ""));
            } else {
                errs.extend(local_non_reserved_path(&t.path, &path.child("path")));
            }
        }
        count += usize::from(source.cluster_trust_bundle.is_some());
        if count > 1 {
            errs.push(FieldError::forbidden(&src, "may not specify more than 1 volume type per source"));
        }
    }
    errs
}

fn downward_file(file_path: &str, field_ref: bool, resource_ref: bool, mode: Option<i32>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if file_path.is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(local_non_reserved_path(file_path, &path.child("path")));
    match (field_ref, resource_ref) {
        (true, true) => {
            errs.push(FieldError::invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
        }
        (false, false) => errs.push(FieldError::required(path, "one of fieldRef and resourceFieldRef is required")),
        _ => {}
    }
    errs.extend(file_mode(mode, &path.child("mode")));
    errs
}

/// The sources a volume sets, in upstream's order and under the names its errors use.
fn sources(v: &Volume) -> [(&'static str, bool); 29] {
    [
        ("hostPath", v.host_path.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephFS", v.cephfs.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("downwarAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("configMap", v.config_map.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("storageos", v.storageos.is_some()),
        ("projected", v.projected.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ]
}

/// The checks of the one source a volume is allowed.
fn source_details(v: &Volume, name: &str, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match name {
        "hostPath" => errs.extend(v.host_path.as_ref().map(|h| host_path_source(h, &path.child("hostPath"))).unwrap_or_default()),
        "nfs" => errs.extend(v.nfs.as_ref().map(|n| nfs_source(n, &path.child("nfs"))).unwrap_or_default()),
        "secret" => {
            let s = v.secret.as_ref().expect("source present");
            let p = path.child("secret");
            if s.secret_name.as_deref().unwrap_or("").is_empty() {
                errs.push(FieldError::required(&p.child("secretName"), ""));
            }
            errs.extend(file_mode(s.default_mode, &p.child("defaultMode")));
            errs.extend(key_to_paths(s.items.as_deref().unwrap_or(&[]), &p.child("items")));
        }
        "configMap" => {
            let c = v.config_map.as_ref().expect("source present");
            let p = path.child("configMap");
            if c.name.is_empty() {
                errs.push(FieldError::required(&p.child("name"), ""));
            }
            errs.extend(file_mode(c.default_mode, &p.child("defaultMode")));
            errs.extend(key_to_paths(c.items.as_deref().unwrap_or(&[]), &p.child("items")));
        }
        "persistentVolumeClaim" if v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name.is_empty()) => {
            errs.push(FieldError::required(&path.child("persistentVolumeClaim").child("claimName"), ""));
        }
        "projected" => errs.extend(v.projected.as_ref().map(|p| projected_source(p, &path.child("projected"))).unwrap_or_default()),
        "downwarAPI" => {
            let d = v.downward_api.as_ref().expect("source present");
            let p = path.child("downwardAPI");
            errs.extend(file_mode(d.default_mode, &p.child("defaultMode")));
            for file in d.items.iter().flatten() {
                errs.extend(downward_file(&file.path, file.field_ref.is_some(), file.resource_field_ref.is_some(), file.mode, &p));
            }
        }
        "csi" if v.csi.as_ref().is_some_and(|c| c.driver.is_empty()) => {
            errs.push(FieldError::required(&path.child("csi").child("driver"), ""))
        }
        "ephemeral" if v.ephemeral.as_ref().is_some_and(|e| e.volume_claim_template.is_none()) => {
            errs.push(FieldError::required(&path.child("ephemeral").child("volumeClaimTemplate"), ""))
        }
        _ => {}
    }
    errs
}

fn volume_source(v: &Volume, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    if let Some(e) = &v.empty_dir {
        count += 1;
        let limit = path.child("emptyDir").child("sizeLimit");
        match e.size_limit.as_ref().map(|q| resources::parse(q, &limit)) {
            Some(Ok(q)) if q.is_negative() => errs.push(FieldError::forbidden(&limit, "SizeLimit field must be a valid resource quantity")),
            Some(Err(e)) => errs.push(e),
            _ => {}
        }
    }
    for (name, present) in sources(v) {
        if !present {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(&path.child(name), MORE_THAN_ONE));
        } else {
            count += 1;
            errs.extend(source_details(v, name, path));
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    errs
}

/// `ValidateVolumes`: returns the volumes that validated (name to whether claim-backed).
pub fn validate_volumes(volumes: &[Volume], path: &Path) -> (BTreeMap<String, bool>, Vec<FieldError>) {
    let mut valid = BTreeMap::new();
    let mut errs = Vec::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        let mut el = volume_source(v, &p);
        if v.name.is_empty() {
            el.push(FieldError::required(&p.child("name"), ""));
        } else {
            el.extend(names::is_dns1123_label(&v.name).into_iter().map(|m| FieldError::invalid(&p.child("name"), &v.name, m)));
        }
        if valid.contains_key(&v.name) {
            el.push(FieldError::duplicate(&p.child("name"), &v.name));
        }
        if el.is_empty() {
            valid.insert(v.name.clone(), v.persistent_volume_claim.is_some() || v.ephemeral.is_some());
        } else {
            errs.extend(el);
        }
    }
    (valid, errs)
}

/// `ValidateVolumeMounts`: each mount names a valid volume and a unique path.
pub fn validate_mounts(c: &Container, volumes: &BTreeMap<String, bool>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let p = path.index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !volumes.contains_key(&m.name) {
            errs.push(FieldError::not_found(&p.child("name"), &m.name));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.as_str()) {
            errs.push(FieldError::invalid(&p.child("mountPath"), &m.mount_path, "must be unique"));
        }
        let sub_path = m.sub_path.as_deref().unwrap_or("");
        if !sub_path.is_empty() {
            // Upstream reports these on the list path, not the entry.
            errs.extend(local_descending_path(sub_path, &path.child("subPath")));
        }
        if let Some(expr) = m.sub_path_expr.as_deref().filter(|e| !e.is_empty()) {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(&p.child("subPathExpr"), expr, "subPathExpr and subPath are mutually exclusive"));
            }
            errs.extend(local_descending_path(expr, &path.child("subPathExpr")));
        }
        errs.extend(enum_if_set(
            m.mount_propagation.as_deref(),
            &["Bidirectional", "HostToContainer", "None"],
            &path.child("mountPropagation"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vols(v: serde_json::Value) -> Vec<Volume> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn volume_cases() {
        let p = Path::of(&["spec", "volumes"]);
        let cases: Vec<(serde_json::Value, Vec<&str>, Vec<&str>)> = vec![
            (json!([{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "cm"}}]), vec!["a", "b"], vec![]),
            (json!([{"name": "a"}]), vec![], vec!["spec.volumes[0]: Required value: must specify a volume type"]),
            (json!([{"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}}]), vec![], vec!["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"]),
            (json!([{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]), vec!["a"], vec!["spec.volumes[1].name: Duplicate value: \"a\""]),
            (json!([{"name": "A_b", "emptyDir": {}}]), vec![], vec!["spec.volumes[0].name: Invalid value: \"A_b\": a lowercase RFC 1123 label"]),
            (json!([{"name": "s", "secret": {"defaultMode": 1024}}]), vec![], vec![
                "spec.volumes[0].secret.secretName: Required value",
                "spec.volumes[0].secret.defaultMode: Invalid value: 1024: must be a number between 0 and 0777 (octal), both inclusive",
            ]),
            (json!([{"name": "c", "configMap": {"name": "cm", "items": [{"key": "k", "path": "../x"}]}}]), vec![], vec![
                "spec.volumes[0].configMap.items[0].path: Invalid value: \"../x\": must not contain '..'",
            ]),
            (json!([{"name": "h", "hostPath": {"path": "/a/../b", "type": "Weird"}}]), vec![], vec![
                "spec.volumes[0].hostPath.path: Invalid value: \"/a/../b\": must not contain '..'",
                "spec.volumes[0].hostPath.type: Unsupported value: \"Weird\": supported values: \"\", \"BlockDevice\"",
            ]),
            (json!([{"name": "p", "persistentVolumeClaim": {"claimName": ""}}]), vec![], vec!["spec.volumes[0].persistentVolumeClaim.claimName: Required value"]),
            (json!([{"name": "n", "nfs": {"server": "", "path": "rel"}}]), vec![], vec![
                "spec.volumes[0].nfs.server: Required value",
                "spec.volumes[0].nfs.path: Invalid value: \"rel\": must be an absolute path",
            ]),
            (json!([{"name": "e", "emptyDir": {"sizeLimit": "-1"}}]), vec![], vec!["spec.volumes[0].emptyDir.sizeLimit: Forbidden: SizeLimit field must be a valid resource quantity"]),
            (json!([{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 60}}]}}]), vec![], vec![
                "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
            ]),
        ];
        for (input, want_valid, want) in cases {
            let (valid, errs) = validate_volumes(&vols(input.clone()), &p);
            assert_eq!(valid.keys().map(String::as_str).collect::<Vec<_>>(), want_valid, "{input}");
            let got: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            assert_eq!(got.len(), want.len(), "{input}: {got:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.starts_with(w), "{input}: got {g:?}, want prefix {w:?}");
            }
        }
    }

    #[test]
    fn mount_cases() {
        let volumes = BTreeMap::from([("data".to_string(), false)]);
        let c: Container = serde_json::from_value(json!({"name": "c", "volumeMounts": [
            {"name": "data", "mountPath": "/d"},
            {"name": "missing", "mountPath": "/d"},
            {"name": "data", "mountPath": "/e", "subPath": "/abs"},
            {"name": "data", "mountPath": "/f", "subPath": "a", "subPathExpr": "$(X)"},
        ]}))
        .unwrap();
        let got: Vec<String> = validate_mounts(&c, &volumes, &Path::of(&["spec", "containers"]).index(0).child("volumeMounts"))
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            got,
            vec![
                "spec.containers[0].volumeMounts[1].name: Not found: \"missing\"",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
                "spec.containers[0].volumeMounts.subPath: Invalid value: \"/abs\": must be a relative path",
                "spec.containers[0].volumeMounts[3].subPathExpr: Invalid value: \"$(X)\": subPathExpr and subPath are mutually exclusive",
            ]
        );
    }
}
