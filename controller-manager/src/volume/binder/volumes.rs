//! The volume side of the binder (upstream's syncVolume): a volume whose claim is gone is
//! Released and reclaimed by its policy; one bound by the controller to a claim that got
//! another volume is unbound again.

use std::sync::Arc;

use corekube_client::events::EventType;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};

use super::{claim_ref, has, volume_name, volume_phase, Binder, Error};
use crate::volume::ann;
use crate::volume::matching::{self, annotation};

impl Binder {
    pub(super) async fn sync_volume(&self, volume: Arc<PersistentVolume>) -> Result<(), Error> {
        let Some(r) = claim_ref(&volume).cloned() else {
            self.update_volume_phase(volume, "Available", "").await?;
            return Ok(());
        };
        if r.uid.as_deref().unwrap_or("").is_empty() {
            // Pre-bound by the user; the claim's sync binds it.
            self.update_volume_phase(volume, "Available", "").await?;
            return Ok(());
        }
        let (ns, name) = (r.namespace.clone().unwrap_or_default(), r.name.clone().unwrap_or_default());
        let mut claim = self.claim(&ns, &name);
        let phase = volume_phase(&volume).to_string();
        if claim.is_none() && phase != "Released" && phase != "Failed" {
            // Bound by someone else (the scheduler, a provisioner) to a claim this cache may
            // not have yet: ask the API server before releasing the volume.
            claim = self.claims_api_in(&ns).get_opt(&name).await?.map(Arc::new);
        }
        if claim.as_ref().is_some_and(|c| c.metadata.uid != r.uid) {
            // Deleted and created again, or this cache is behind: ask the API server.
            claim = self.claims_api_in(&ns).get_opt(&name).await?.filter(|c| c.metadata.uid == r.uid).map(Arc::new);
        }
        let Some(claim) = claim else {
            let volume = if phase != "Released" && phase != "Failed" {
                tracing::info!(volume = %volume.name_any(), policy = ?reclaim_policy(&volume), "volume released");
                self.update_volume_phase(volume, "Released", "").await?
            } else {
                volume
            };
            return self.reclaim_volume(volume).await;
        };
        let bound_to = volume_name(&claim);
        if bound_to.is_empty() {
            if matching::volume_mode_mismatch(&claim, &volume) {
                let message = format!(
                    "Cannot bind PersistentVolume to requested PersistentVolumeClaim {:?} due to incompatible volumeMode.",
                    claim.name_any()
                );
                self.event(volume.as_ref(), EventType::Warning, "VolumeMismatch", message).await;
                let message = format!(
                    "Cannot bind PersistentVolume {:?} to requested PersistentVolumeClaim due to incompatible volumeMode.",
                    volume.name_any()
                );
                self.event(claim.as_ref(), EventType::Warning, "VolumeMismatch", message).await;
            }
            // Either way the claim's sync (woken by this volume's change) finishes the binding.
            return Ok(());
        }
        if bound_to == volume.name_any() {
            self.update_volume_phase(volume, "Bound", "").await?;
            return Ok(());
        }
        // The claim is bound to another volume.
        if has(&volume.metadata, ann::PROVISIONED_BY) && reclaim_policy(&volume) == "Delete" {
            // Provisioned for this claim, which got another volume: not needed any more.
            let volume =
                if phase != "Released" && phase != "Failed" { self.update_volume_phase(volume, "Released", "").await? } else { volume };
            return self.reclaim_volume(volume).await;
        }
        self.unbind_volume(volume).await
    }

    fn claims_api_in(&self, namespace: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), namespace)
    }

    async fn reclaim_volume(&self, volume: Arc<PersistentVolume>) -> Result<(), Error> {
        match reclaim_policy(&volume) {
            "Retain" => Ok(()),
            "Recycle" => {
                // Recycling is deprecated upstream; corekube has no recycler.
                self.update_volume_phase_with_event(volume, "Failed", "VolumeFailedRecycle", "No recycler plugin found for the volume!")
                    .await?;
                Ok(())
            }
            "Delete" => self.delete_volume(volume).await,
            _ => {
                let message = "Volume has unrecognized PersistentVolumeReclaimPolicy";
                self.update_volume_phase_with_event(volume, "Failed", "VolumeUnknownReclaimPolicy", message).await?;
                Ok(())
            }
        }
    }

    /// Upstream's deleteVolumeOperation: deletes the storage (or leaves it to the external
    /// provisioner that made it) and then the volume object.
    async fn delete_volume(&self, volume: Arc<PersistentVolume>) -> Result<(), Error> {
        let Some(fresh) = self.volumes_api().get_opt(&volume.name_any()).await? else { return Ok(()) };
        if !self.is_volume_released(&fresh) {
            return Ok(());
        }
        match delete_storage(&fresh) {
            Ok(false) => Ok(()),
            Ok(true) => {
                match self.volumes_api().delete(&fresh.name_any(), &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
                tracing::info!(volume = %fresh.name_any(), "volume deleted");
                Ok(())
            }
            Err(message) => {
                // Marked Failed; the next syncs keep trying.
                self.update_volume_phase_with_event(Arc::new(fresh), "Failed", "VolumeFailedDelete", &message).await?;
                Ok(())
            }
        }
    }

    /// Upstream's isVolumeReleased: its claim is gone, or bound to another volume.
    fn is_volume_released(&self, volume: &PersistentVolume) -> bool {
        let Some(r) = claim_ref(volume) else { return false };
        if r.uid.as_deref().unwrap_or("").is_empty() {
            return false;
        }
        match self.claim(r.namespace.as_deref().unwrap_or_default(), r.name.as_deref().unwrap_or_default()) {
            Some(c) if c.metadata.uid == r.uid => !volume_name(&c).is_empty() && volume_name(&c) != volume.name_any(),
            _ => true,
        }
    }
}

fn reclaim_policy(volume: &PersistentVolume) -> &str {
    volume.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()).unwrap_or("Retain")
}

/// Deletes a released volume's storage: Ok(true) once gone, Ok(false) when its external
/// provisioner deletes it (upstream's findDeletablePlugin + deleter).
fn delete_storage(volume: &PersistentVolume) -> Result<bool, String> {
    if let Some(by) = annotation(&volume.metadata, ann::PROVISIONED_BY).filter(|p| !p.is_empty()) {
        if !by.starts_with("kubernetes.io/") {
            return Ok(false);
        }
        if by != "kubernetes.io/host-path" {
            return Err(format!("no volume plugin matched name: {by}"));
        }
    }
    let spec = volume.spec.as_ref();
    if spec.is_some_and(|s| s.csi.is_some()) {
        return Ok(false);
    }
    match spec.and_then(|s| s.host_path.as_ref()) {
        Some(h) => delete_host_path(&h.path).map(|()| true),
        None => Err(format!("error getting deleter volume plugin for volume {:?}: no deletable volume plugin matched", volume.name_any())),
    }
}

/// Upstream's hostPath deleter: only paths under a `/tmp/` are removed.
fn delete_host_path(path: &str) -> Result<(), String> {
    let under_tmp = path.find("/tmp/").is_some_and(|i| path.len() > i + "/tmp/".len());
    if !under_tmp {
        return Err(format!("host_path deleter only supports /tmp/.+ but received provided {path}"));
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_deleter_only_under_tmp() {
        assert_eq!(delete_host_path("/data/x").unwrap_err(), "host_path deleter only supports /tmp/.+ but received provided /data/x");
        assert!(delete_host_path("/tmp/").is_err());
        let dir = tempfile_dir();
        std::fs::write(dir.join("f"), "x").unwrap();
        delete_host_path(dir.to_str().unwrap()).unwrap();
        assert!(!dir.exists());
        // Already gone is done.
        delete_host_path(dir.to_str().unwrap()).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::path::PathBuf::from(format!("/tmp/corekube-binder-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn deleter_by_volume_kind() {
        let mut pv = PersistentVolume::default();
        pv.metadata.name = Some("v".into());
        assert_eq!(
            delete_storage(&pv).unwrap_err(),
            "error getting deleter volume plugin for volume \"v\": no deletable volume plugin matched"
        );
        super::super::set_annotation(&mut pv.metadata, ann::PROVISIONED_BY, crate::volume::LOCAL_PATH);
        assert_eq!(delete_storage(&pv), Ok(false));
    }
}
