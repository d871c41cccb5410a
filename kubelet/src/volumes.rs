//! A pod's volumes on the node: emptyDir, hostPath, configMap, secret, downwardAPI and
//! projected (of those three) as directories under the pod's own directory, written whole on
//! every sync (so a changed ConfigMap shows up in a running pod), and the container mounts
//! that point into them; a persistentVolumeClaim mounts its bound PersistentVolume's hostPath
//! or local path.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, KeyToPath, Pod, Volume};

use crate::cri;
use crate::env::{field_value, Sources};

/// Why a volume cannot be set up yet (upstream's FailedMount message).
pub type MountError = String;

pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// Files of one key-to-path volume source: (relative path, bytes, mode).
type Files = Vec<(String, Vec<u8>, u32)>;

fn project(data: &[(String, Vec<u8>)], items: &Option<Vec<KeyToPath>>, default_mode: u32, what: &str) -> Result<Files, MountError> {
    match items {
        None => Ok(data.iter().map(|(k, v)| (k.clone(), v.clone(), default_mode)).collect()),
        Some(items) => items
            .iter()
            .map(|i| match data.iter().find(|(k, _)| *k == i.key) {
                Some((_, v)) => Ok((i.path.clone(), v.clone(), i.mode.map(|m| m as u32).unwrap_or(default_mode))),
                None => Err(format!("configmap references non-existent config key: {} ({what})", i.key)),
            })
            .collect(),
    }
}

fn config_map_files(src: &Sources, name: &str, items: &Option<Vec<KeyToPath>>, mode: u32, optional: bool) -> Result<Files, MountError> {
    match src.config_maps.get(name) {
        Some(cm) => {
            let mut data: Vec<(String, Vec<u8>)> = cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
            data.extend(cm.binary_data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())));
            project(&data, items, mode, name)
        }
        None if optional => Ok(Vec::new()),
        None => Err(format!("configmap \"{name}\" not found")),
    }
}

fn secret_files(src: &Sources, name: &str, items: &Option<Vec<KeyToPath>>, mode: u32, optional: bool) -> Result<Files, MountError> {
    match src.secrets.get(name) {
        Some(s) => {
            let data: Vec<(String, Vec<u8>)> = s.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect();
            project(&data, items, mode, name)
        }
        None if optional => Ok(Vec::new()),
        None => Err(format!("secret \"{name}\" not found")),
    }
}

fn downward_files(pod: &Pod, src: &Sources, items: &[k8s_openapi::api::core::v1::DownwardAPIVolumeFile], mode: u32) -> Files {
    items
        .iter()
        .map(|i| {
            let value = i.field_ref.as_ref().and_then(|f| field_value(pod, src, &f.field_path)).unwrap_or_default();
            (i.path.clone(), value.into_bytes(), i.mode.map(|m| m as u32).unwrap_or(mode))
        })
        .collect()
}

/// The files a volume holds, for the kinds the kubelet writes itself; None for the others.
fn files_of(pod: &Pod, v: &Volume, src: &Sources) -> Option<Result<Files, MountError>> {
    if let Some(c) = &v.config_map {
        return Some(config_map_files(src, &c.name, &c.items, c.default_mode.unwrap_or(0o644) as u32, c.optional == Some(true)));
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        return Some(secret_files(src, &name, &s.items, s.default_mode.unwrap_or(0o644) as u32, s.optional == Some(true)));
    }
    if let Some(d) = &v.downward_api {
        return Some(Ok(downward_files(pod, src, d.items.as_deref().unwrap_or_default(), d.default_mode.unwrap_or(0o644) as u32)));
    }
    let p = v.projected.as_ref()?;
    let mode = p.default_mode.unwrap_or(0o644) as u32;
    let mut all = Vec::new();
    for source in p.sources.iter().flatten() {
        let files = if let Some(c) = &source.config_map {
            config_map_files(src, &c.name, &c.items, mode, c.optional == Some(true))
        } else if let Some(s) = &source.secret {
            secret_files(src, &s.name, &s.items, mode, s.optional == Some(true))
        } else if let Some(d) = &source.downward_api {
            Ok(downward_files(pod, src, d.items.as_deref().unwrap_or_default(), mode))
        } else {
            Ok(Vec::new())
        };
        match files {
            Ok(f) => all.extend(f),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(all))
}

/// Writes `files` into `dir`, each through a temporary file renamed into place, and removes
/// files the volume no longer has.
fn write_files(dir: &Path, files: &Files) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (rel, bytes, mode) in files {
        if rel.split('/').any(|seg| seg == "..") {
            continue;
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        let tmp = path.with_file_name(format!("..{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("f")));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(*mode))?;
        std::fs::rename(&tmp, &path)?;
    }
    let wanted: Vec<PathBuf> = files.iter().map(|(rel, _, _)| dir.join(rel)).collect();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path.is_file() && !wanted.contains(&path) {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// Sets up every volume of the pod; returns each volume's path on the node.
pub fn prepare(root: &Path, pod: &Pod, src: &Sources) -> Result<HashMap<String, PathBuf>, MountError> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let base = pod_dir(root, uid).join("volumes");
    let mut paths = HashMap::new();
    for v in pod.spec.as_ref().and_then(|s| s.volumes.clone()).unwrap_or_default() {
        let path = if let Some(h) = &v.host_path {
            let p = PathBuf::from(&h.path);
            match h.type_.as_deref().unwrap_or("") {
                "DirectoryOrCreate" => std::fs::create_dir_all(&p).map_err(|e| format!("hostPath {}: {e}", h.path))?,
                "FileOrCreate" if !p.exists() => {
                    std::fs::File::create(&p).map_err(|e| format!("hostPath {}: {e}", h.path))?;
                }
                "Directory" if !p.is_dir() => return Err(format!("hostPath type check failed: {} is not a directory", h.path)),
                "File" if !p.is_file() => return Err(format!("hostPath type check failed: {} is not a file", h.path)),
                _ => {}
            }
            p
        } else if let Some(empty) = &v.empty_dir {
            let p = base.join("empty-dir").join(&v.name);
            std::fs::create_dir_all(&p).map_err(|e| format!("emptyDir {}: {e}", v.name))?;
            if empty.medium.as_deref() == Some("Memory") && !is_mount_point(&p) {
                let size = empty.size_limit.as_ref().map(crate::runtime_config::bytes).filter(|b| *b > 0);
                mount_tmpfs(&p, size).map_err(|e| format!("MountVolume.SetUp failed for volume \"{}\" : mount tmpfs: {e}", v.name))?;
            }
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).map_err(|e| e.to_string())?;
            p
        } else if let Some(files) = files_of(pod, &v, src) {
            let files = files.map_err(|e| format!("MountVolume.SetUp failed for volume \"{}\" : {e}", v.name))?;
            let p = base.join("files").join(&v.name);
            write_files(&p, &files).map_err(|e| format!("MountVolume.SetUp failed for volume \"{}\" : {e}", v.name))?;
            p
        } else if let Some(claim) = &v.persistent_volume_claim {
            match src.claims.get(&claim.claim_name) {
                Some(Ok(path)) => path.clone(),
                Some(Err(e)) => return Err(format!("Unable to attach or mount volumes: volume \"{}\": {e}", v.name)),
                None => return Err(format!("Unable to attach or mount volumes: volume \"{}\": claim not looked up", v.name)),
            }
        } else {
            // Kinds this node cannot provide: the container runs without them.
            continue;
        };
        paths.insert(v.name.clone(), path);
    }
    Ok(paths)
}

/// The container's mounts into its pod's volumes (subPath and readOnly as given).
pub fn mounts(c: &Container, paths: &HashMap<String, PathBuf>) -> Result<Vec<cri::Mount>, MountError> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let Some(base) = paths.get(&m.name) else {
            return Err(format!("volume \"{}\" for mount {} is not available on this node", m.name, m.mount_path));
        };
        let host = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) if sub.split('/').any(|seg| seg == "..") => return Err(format!("subPath {sub:?} must not contain '..'")),
            Some(sub) => {
                let p = base.join(sub);
                if !p.exists() {
                    std::fs::create_dir_all(&p).map_err(|e| e.to_string())?;
                }
                p
            }
            None => base.clone(),
        };
        out.push(cri::Mount { container_path: m.mount_path.clone(), host_path: host.display().to_string(), readonly: m.read_only.unwrap_or(false), ..Default::default() });
    }
    Ok(out)
}

/// Whether `path` is a mount point (listed in this process's mountinfo).
fn is_mount_point(path: &Path) -> bool {
    let wanted = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines().any(|l| l.split(' ').nth(4) == Some(wanted.as_str()))
}

/// Mounts a tmpfs at `path` for a `medium: Memory` emptyDir, of `size` bytes when the volume
/// has a sizeLimit (otherwise the kernel's default, half the memory, as upstream without one).
fn mount_tmpfs(path: &Path, size: Option<i64>) -> std::io::Result<()> {
    use std::ffi::CString;
    let target = CString::new(path.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)?;
    let options = CString::new(match size {
        Some(bytes) => format!("mode=0777,size={bytes}"),
        None => "mode=0777".to_string(),
    })
    .map_err(std::io::Error::other)?;
    let (source, fstype) = (c"tmpfs", c"tmpfs");
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), flags, options.as_ptr().cast()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Removes everything the pod had on disk, unmounting its memory-backed volumes first.
pub fn clean_up(root: &Path, uid: &str) {
    unmount_memory(root, uid);
    let _ = std::fs::remove_dir_all(pod_dir(root, uid));
}

/// Unmounts the pod's memory-backed emptyDirs (their content goes with them, as it would with
/// the machine): done when the pod goes, and when the node stops its pods.
pub fn unmount_memory(root: &Path, uid: &str) {
    let empty_dirs = pod_dir(root, uid).join("volumes").join("empty-dir");
    for entry in std::fs::read_dir(&empty_dirs).into_iter().flatten().flatten() {
        if is_mount_point(&entry.path()) {
            if let Ok(target) = std::ffi::CString::new(entry.path().as_os_str().as_encoded_bytes()) {
                // SAFETY: a valid NUL-terminated path.
                unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
}
