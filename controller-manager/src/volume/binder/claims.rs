//! The claim side of the binder (upstream's syncClaim): an unbound claim gets the best
//! matching volume, or waits for its first consumer, or asks its class's provisioner; a bound
//! claim is kept bound, or marked Lost when its volume is gone or taken.

use std::sync::Arc;

use corekube_client::events::EventType;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;

use super::{claim_ref, has, ref_key, set_annotation, volume_name, Binder, Error};
use crate::volume::ann;
use crate::volume::matching::{self, annotation};

impl Binder {
    pub(super) async fn sync_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        if has(&claim.metadata, ann::BIND_COMPLETED) {
            self.sync_bound_claim(claim).await
        } else {
            self.sync_unbound_claim(claim).await
        }
    }

    /// Upstream's IsDelayBindingMode: the claim's class waits for the first consumer.
    fn is_delay_binding(&self, claim: &PersistentVolumeClaim) -> Result<bool, Error> {
        let class_name = matching::claim_class(claim);
        if class_name.is_empty() {
            return Ok(false);
        }
        let Some(class) = self.classes.get(&ObjectRef::new(class_name)) else { return Ok(false) };
        match class.volume_binding_mode.as_deref() {
            None => Err(Error::Binding(format!("VolumeBindingMode not set for StorageClass {class_name:?}"))),
            Some(mode) => Ok(mode == "WaitForFirstConsumer"),
        }
    }

    async fn sync_unbound_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let requested = volume_name(&claim).to_string();
        if requested.is_empty() {
            let delay = self.is_delay_binding(&claim)?;
            let mut volumes = self.newest_volumes.all(&self.volumes);
            volumes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            let refs: Vec<&PersistentVolume> = volumes.iter().map(Arc::as_ref).collect();
            if let Some(volume) = matching::find_best_match(&claim, &refs, delay) {
                let volume = Arc::new(volume.clone());
                return self.bind(volume, claim).await;
            }
            if self.assign_default_class(&claim).await? {
                // The update brings the claim back with its class.
                return Ok(());
            }
            if delay && !has(&claim.metadata, ann::SELECTED_NODE) {
                self.emit_wait_event(&claim).await;
            } else if !matching::claim_class(&claim).is_empty() {
                // The provisioner makes the volume; its arrival brings the claim back.
                return self.provision_claim(claim).await;
            } else {
                let message = "no persistent volumes available for this claim and no storage class is set";
                self.event(claim.as_ref(), EventType::Normal, "FailedBinding", message.into()).await;
            }
            self.update_claim_status(&claim, "Pending", None).await?;
            return Ok(());
        }
        let Some(volume) = self.volume(&requested) else {
            // Asked for a volume that does not exist (yet): retried at the next sync.
            self.update_claim_status(&claim, "Pending", None).await?;
            return Ok(());
        };
        match claim_ref(&volume) {
            None => match matching::check_satisfies(&volume, &claim) {
                Err(why) => {
                    let message = format!("Cannot bind to requested volume {requested:?}: {why}");
                    self.event(claim.as_ref(), EventType::Warning, "VolumeMismatch", message).await;
                    self.update_claim_status(&claim, "Pending", None).await?;
                    Ok(())
                }
                Ok(()) => self.bind(volume, claim).await,
            },
            Some(_) if matching::is_bound_to_claim(&volume, &claim) => self.bind(volume, claim).await,
            Some(other) => {
                let message = format!("volume {requested:?} already bound to a different claim.");
                self.event(claim.as_ref(), EventType::Warning, "FailedBinding", message).await;
                if !has(&claim.metadata, ann::BOUND_BY_CONTROLLER) {
                    // The user asked for this volume: wait until it is free.
                    self.update_claim_status(&claim, "Pending", None).await?;
                    return Ok(());
                }
                Err(Error::Binding(format!(
                    "invalid binding of claim {:?} to volume {requested:?}: volume already claimed by {:?}",
                    crate::util::namespace_and_name(&claim.metadata),
                    ref_key(other)
                )))
            }
        }
    }

    async fn sync_bound_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let name = volume_name(&claim).to_string();
        if name.is_empty() {
            let message = "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!";
            self.update_claim_status_with_event(&claim, "Lost", None, "ClaimLost", message).await?;
            return Ok(());
        }
        let Some(volume) = self.volume(&name) else {
            let message = "Bound claim has lost its PersistentVolume. Data on the volume is lost!";
            self.update_claim_status_with_event(&claim, "Lost", None, "ClaimLost", message).await?;
            return Ok(());
        };
        match claim_ref(&volume) {
            // Unbound volume (or one whose update the cache has not seen): bind it again.
            None => self.bind(volume, claim).await,
            Some(r) if r.uid == claim.metadata.uid => self.bind(volume, claim).await,
            Some(_) => {
                let message = "Two claims are bound to the same volume, this one is bound incorrectly";
                self.update_claim_status_with_event(&claim, "Lost", None, "ClaimMisbound", message).await?;
                Ok(())
            }
        }
    }

    /// Upstream's emitEventForUnboundDelayBindingClaim: who the claim waits for.
    async fn emit_wait_event(&self, claim: &PersistentVolumeClaim) {
        let ns = claim.metadata.namespace.as_deref();
        let name = claim.name_any();
        let mut waiting: Vec<String> = self
            .pods
            .state()
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == ns && crate::util::is_pod_active(p))
            .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.as_deref().unwrap_or("").is_empty()))
            .filter(|p| uses_claim(p, &name))
            .map(|p| p.name_any())
            .collect();
        waiting.sort();
        let (reason, message) = match waiting.len() {
            0 => ("WaitForFirstConsumer", "waiting for first consumer to be created before binding".to_string()),
            1 => ("WaitForPodScheduled", format!("waiting for pod {} to be scheduled", waiting[0])),
            _ => ("WaitForPodScheduled", format!("waiting for pods {} to be scheduled", waiting.join(","))),
        };
        self.event(claim, EventType::Normal, reason, message).await;
    }

    /// Upstream's assignDefaultStorageClass (retroactive default class): a claim created
    /// without a class, before any class was default, gets today's default.
    async fn assign_default_class(&self, claim: &PersistentVolumeClaim) -> Result<bool, Error> {
        if matching::claim_has_class(claim) {
            return Ok(false);
        }
        let classes = self.classes.state();
        let Some(default) = crate::volume::default_class(classes.iter().map(Arc::as_ref)) else { return Ok(false) };
        let mut updated = claim.clone();
        updated.spec.get_or_insert_default().storage_class_name = default.metadata.name.clone();
        self.update_claim(updated).await?;
        Ok(true)
    }

    /// Asks the class's provisioner for a volume (upstream's provisionClaim). corekube has no
    /// in-tree provisioners: every other provisioner, the built-in local one included, is
    /// external and is asked through the claim's storage-provisioner annotation.
    async fn provision_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let class_name = matching::claim_class(&claim).to_string();
        let Some(class) = self.classes.get(&ObjectRef::new(&class_name)) else {
            let message = format!("storageclass.storage.k8s.io {class_name:?} not found");
            self.event(claim.as_ref(), EventType::Warning, "ProvisioningFailed", message).await;
            return Ok(());
        };
        let provisioner = class.provisioner.clone();
        if provisioner.starts_with("kubernetes.io/") {
            let message = format!("no volume plugin matched name: {provisioner}");
            self.event(claim.as_ref(), EventType::Warning, "ProvisioningFailed", message).await;
            return Ok(());
        }
        let claim = if annotation(&claim.metadata, ann::STORAGE_PROVISIONER) == Some(provisioner.as_str()) {
            claim
        } else {
            let mut updated = (*claim).clone();
            set_annotation(&mut updated.metadata, ann::BETA_STORAGE_PROVISIONER, &provisioner);
            set_annotation(&mut updated.metadata, ann::STORAGE_PROVISIONER, &provisioner);
            match self.update_claim(updated).await {
                Ok(c) => c,
                Err(e) => {
                    let message = format!("Error saving claim: {e}");
                    self.event(claim.as_ref(), EventType::Warning, "ProvisioningFailed", message).await;
                    return Err(e);
                }
            }
        };
        let message = format!(
            "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. \
             If volume creation is delayed, please verify that the provisioner is running and correctly registered."
        );
        self.event(claim.as_ref(), EventType::Normal, "ExternalProvisioning", message).await;
        Ok(())
    }
}

/// Whether the pod mounts the claim (directly, or as its generic ephemeral volume).
pub(super) fn uses_claim(pod: &Pod, claim: &str) -> bool {
    let pod_name = pod.name_any();
    pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()).any(|v| {
        v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == claim)
            || (v.ephemeral.is_some() && format!("{pod_name}-{}", v.name) == claim)
    })
}
