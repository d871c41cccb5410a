//! The PV controller's binder (upstream pv_controller.go): binds claims to volumes both ways
//! (volume `claimRef` first, claim `volumeName` second, each marked with upstream's
//! annotations), asks provisioners for volumes, and reclaims the volumes of deleted claims
//! (Retain keeps them Released, Delete removes them, Recycle has no recycler here).
//!
//! Two loops, one worker each as upstream's two queues: claims (`sync_claim`) and volumes
//! (`sync_volume`). A change of one side wakes the other. Every claim and volume is synced
//! again each [`RESYNC`], as upstream's periodic resync, which retries waiting claims and
//! failed deletions.

use std::sync::Arc;
use std::time::Duration;

use corekube_client::events::{EventType, Recorder};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::matching::{self, annotation};
use super::{ann, Newest};
use crate::informers::Informers;
use crate::requeue::Backoff;

/// Upstream's `--pvclaimbinder-sync-period`.
const RESYNC: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Binding(String),
}

pub(super) struct Binder {
    client: Client,
    volumes: Store<PersistentVolume>,
    claims: Store<PersistentVolumeClaim>,
    classes: Store<StorageClass>,
    pods: Store<Pod>,
    newest_volumes: Newest<PersistentVolume>,
    newest_claims: Newest<PersistentVolumeClaim>,
    recorder: Recorder,
    claim_backoff: Backoff<ObjectRef<PersistentVolumeClaim>>,
    volume_backoff: Backoff<ObjectRef<PersistentVolume>>,
}

pub(super) fn start(informers: &mut Informers, client: Client, shutdown: CancellationToken) -> crate::Running {
    let volumes = informers.cluster_store::<PersistentVolume>();
    let claims = informers.store::<PersistentVolumeClaim>();
    let binder = Arc::new(Binder {
        recorder: Recorder::new(client.clone(), "persistentvolume-controller"),
        client,
        volumes: volumes.clone(),
        claims: claims.clone(),
        classes: informers.cluster_store::<StorageClass>(),
        pods: informers.store::<Pod>(),
        newest_volumes: Newest::default(),
        newest_claims: Newest::default(),
        claim_backoff: Backoff::default(),
        volume_backoff: Backoff::default(),
    });
    let (by_volume, by_class, by_claim) = (binder.clone(), binder.clone(), binder.clone());
    let stop = shutdown.clone();
    let claim_loop = Controller::for_stream(informers.subscribe::<PersistentVolumeClaim>(), claims)
        .watches_stream(informers.cluster_subscribe::<PersistentVolume>(), move |pv| by_volume.claims_concerned_by(&pv))
        .watches_stream(informers.cluster_subscribe::<StorageClass>(), move |_| by_class.unbound_claims())
        .with_config(Config::default().concurrency(1))
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile_claim, claim_error_policy, binder.clone())
        .for_each(|_| async {});
    let volume_loop = Controller::for_stream(informers.cluster_subscribe::<PersistentVolume>(), volumes)
        .watches_stream(informers.subscribe::<PersistentVolumeClaim>(), move |claim| by_claim.volumes_concerned_by(&claim))
        .with_config(Config::default().concurrency(1))
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile_volume, volume_error_policy, binder)
        .for_each(|_| async {});
    Box::pin(async move {
        futures::future::join(claim_loop, volume_loop).await;
    })
}

async fn reconcile_claim(claim: Arc<PersistentVolumeClaim>, b: Arc<Binder>) -> Result<Action, Error> {
    let Some(claim) = b.claim(claim.metadata.namespace.as_deref().unwrap_or_default(), &claim.name_any()) else {
        return Ok(Action::await_change());
    };
    b.sync_claim(claim.clone()).await?;
    b.claim_backoff.succeeded(&ObjectRef::from_obj(claim.as_ref()));
    Ok(Action::requeue(RESYNC))
}

fn claim_error_policy(claim: Arc<PersistentVolumeClaim>, error: &Error, b: Arc<Binder>) -> Action {
    let delay = b.claim_backoff.failed(&ObjectRef::from_obj(claim.as_ref()));
    tracing::debug!(claim = %crate::util::namespace_and_name(&claim.metadata), %error, ?delay, "claim sync failed; requeued");
    Action::requeue(delay)
}

async fn reconcile_volume(volume: Arc<PersistentVolume>, b: Arc<Binder>) -> Result<Action, Error> {
    let Some(volume) = b.volume(&volume.name_any()) else { return Ok(Action::await_change()) };
    b.sync_volume(volume.clone()).await?;
    b.volume_backoff.succeeded(&ObjectRef::from_obj(volume.as_ref()));
    Ok(Action::requeue(RESYNC))
}

fn volume_error_policy(volume: Arc<PersistentVolume>, error: &Error, b: Arc<Binder>) -> Action {
    let delay = b.volume_backoff.failed(&ObjectRef::from_obj(volume.as_ref()));
    tracing::debug!(volume = %volume.name_any(), %error, ?delay, "volume sync failed; requeued");
    Action::requeue(delay)
}

fn has(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> bool {
    meta.annotations.as_ref().is_some_and(|a| a.contains_key(key))
}

fn set_annotation(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str, value: &str) {
    meta.annotations.get_or_insert_default().insert(key.to_string(), value.to_string());
}

fn volume_name(claim: &PersistentVolumeClaim) -> &str {
    claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("")
}

fn claim_ref(volume: &PersistentVolume) -> Option<&ObjectReference> {
    volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref())
}

fn volume_phase(volume: &PersistentVolume) -> &str {
    volume.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn claim_phase(claim: &PersistentVolumeClaim) -> &str {
    claim.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn ref_key(r: &ObjectReference) -> String {
    format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name.as_deref().unwrap_or_default())
}

/// The claimRef a volume bound to `claim` carries (upstream's reference.GetReference).
fn claim_reference(claim: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: claim.metadata.namespace.clone(),
        name: claim.metadata.name.clone(),
        uid: claim.metadata.uid.clone(),
        resource_version: claim.metadata.resource_version.clone(),
        field_path: None,
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

impl Binder {
    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.newest_volumes.fresher(self.volumes.get(&ObjectRef::new(name)), name, None)
    }

    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.newest_claims.fresher(self.claims.get(&ObjectRef::new(name).within(namespace)), name, Some(namespace))
    }

    fn volumes_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn claims_api(&self, claim: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), claim.metadata.namespace.as_deref().unwrap_or_default())
    }

    async fn event<K: Resource<DynamicType = ()>>(&self, object: &K, type_: EventType, reason: &str, message: String) {
        self.recorder.record(&object.object_ref(&()), type_, reason, message).await;
    }

    /// The claims a volume's change concerns: the one it points to and the ones naming it,
    /// or, for a free volume, every claim still waiting for one.
    fn claims_concerned_by(&self, pv: &PersistentVolume) -> Vec<ObjectRef<PersistentVolumeClaim>> {
        let name = pv.name_any();
        let mut out: Vec<ObjectRef<PersistentVolumeClaim>> = self
            .claims
            .state()
            .iter()
            .filter(|c| {
                volume_name(c) == name || (claim_ref(pv).is_none() && volume_name(c).is_empty() && !has(&c.metadata, ann::BIND_COMPLETED))
            })
            .map(|c| ObjectRef::from_obj(c.as_ref()))
            .collect();
        if let Some(r) = claim_ref(pv) {
            out.push(ObjectRef::new(r.name.as_deref().unwrap_or_default()).within(r.namespace.as_deref().unwrap_or_default()));
        }
        out
    }

    fn unbound_claims(&self) -> Vec<ObjectRef<PersistentVolumeClaim>> {
        self.claims.state().iter().filter(|c| !has(&c.metadata, ann::BIND_COMPLETED)).map(|c| ObjectRef::from_obj(c.as_ref())).collect()
    }

    /// The volumes a claim's change concerns: those pointing to it and the one it names.
    fn volumes_concerned_by(&self, claim: &PersistentVolumeClaim) -> Vec<ObjectRef<PersistentVolume>> {
        let (ns, name) = (claim.metadata.namespace.as_deref(), claim.metadata.name.as_deref());
        let mut out: Vec<ObjectRef<PersistentVolume>> = self
            .volumes
            .state()
            .iter()
            .filter(|v| claim_ref(v).is_some_and(|r| r.namespace.as_deref() == ns && r.name.as_deref() == name))
            .map(|v| ObjectRef::from_obj(v.as_ref()))
            .collect();
        if !volume_name(claim).is_empty() {
            out.push(ObjectRef::new(volume_name(claim)));
        }
        out
    }

    // ---- claims ----

    async fn sync_claim(&self, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
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
        let Some(default) = super::default_class(classes.iter().map(Arc::as_ref)) else { return Ok(false) };
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

    // ---- binding ----

    /// Binds both ways, volume first, and marks both Bound (upstream's bind).
    async fn bind(&self, volume: Arc<PersistentVolume>, claim: Arc<PersistentVolumeClaim>) -> Result<(), Error> {
        let volume = self.bind_volume_to_claim(volume, &claim).await?;
        let volume = self.update_volume_phase(volume, "Bound", "").await?;
        let claim = self.bind_claim_to_volume(claim, &volume).await?;
        self.update_claim_status(&claim, "Bound", Some(&volume)).await?;
        Ok(())
    }

    async fn bind_volume_to_claim(
        &self,
        volume: Arc<PersistentVolume>,
        claim: &PersistentVolumeClaim,
    ) -> Result<Arc<PersistentVolume>, Error> {
        let by_controller = !matching::is_bound_to_claim(&volume, claim);
        let mut updated = (*volume).clone();
        let mut dirty = false;
        let current = claim_ref(&volume);
        if current.is_none_or(|r| {
            r.name != claim.metadata.name
                || r.namespace != claim.metadata.namespace
                || r.uid.as_deref().unwrap_or("") != claim.metadata.uid.as_deref().unwrap_or("")
        }) {
            updated.spec.get_or_insert_default().claim_ref = Some(claim_reference(claim));
            dirty = true;
        }
        if by_controller && !has(&updated.metadata, ann::BOUND_BY_CONTROLLER) {
            set_annotation(&mut updated.metadata, ann::BOUND_BY_CONTROLLER, "yes");
            dirty = true;
        }
        if !dirty {
            return Ok(volume);
        }
        self.update_volume(updated).await
    }

    async fn bind_claim_to_volume(
        &self,
        claim: Arc<PersistentVolumeClaim>,
        volume: &PersistentVolume,
    ) -> Result<Arc<PersistentVolumeClaim>, Error> {
        let mut updated = (*claim).clone();
        let mut dirty = false;
        if volume_name(&claim) != volume.name_any() {
            updated.spec.get_or_insert_default().volume_name = Some(volume.name_any());
            if !has(&updated.metadata, ann::BOUND_BY_CONTROLLER) {
                set_annotation(&mut updated.metadata, ann::BOUND_BY_CONTROLLER, "yes");
            }
            dirty = true;
        }
        if !has(&updated.metadata, ann::BIND_COMPLETED) {
            set_annotation(&mut updated.metadata, ann::BIND_COMPLETED, "yes");
            dirty = true;
        }
        if !dirty {
            return Ok(claim);
        }
        self.update_claim(updated).await
    }

    /// Rolls a volume's binding back: the controller's own binding entirely, a user's
    /// pre-binding down to the claim's name.
    async fn unbind_volume(&self, volume: Arc<PersistentVolume>) -> Result<(), Error> {
        let mut updated = (*volume).clone();
        if has(&volume.metadata, ann::BOUND_BY_CONTROLLER) {
            updated.spec.get_or_insert_default().claim_ref = None;
            if let Some(a) = updated.metadata.annotations.as_mut() {
                a.remove(ann::BOUND_BY_CONTROLLER);
                if a.is_empty() {
                    updated.metadata.annotations = None;
                }
            }
        } else if let Some(r) = updated.spec.as_mut().and_then(|s| s.claim_ref.as_mut()) {
            r.uid = None;
        }
        let updated = self.update_volume(updated).await?;
        self.update_volume_phase(updated, "Available", "").await?;
        Ok(())
    }

    // ---- volumes ----

    async fn sync_volume(&self, volume: Arc<PersistentVolume>) -> Result<(), Error> {
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

    // ---- writes ----

    async fn update_volume(&self, volume: PersistentVolume) -> Result<Arc<PersistentVolume>, Error> {
        let saved = self.volumes_api().replace(&volume.name_any(), &PostParams::default(), &volume).await?;
        Ok(self.newest_volumes.wrote(saved))
    }

    async fn update_volume_phase(&self, volume: Arc<PersistentVolume>, phase: &str, message: &str) -> Result<Arc<PersistentVolume>, Error> {
        if volume_phase(&volume) == phase {
            return Ok(volume);
        }
        let mut updated = (*volume).clone();
        let status = updated.status.get_or_insert_default();
        status.phase = Some(phase.into());
        status.message = (!message.is_empty()).then(|| message.to_string());
        let saved = self.volumes_api().replace_status(&volume.name_any(), &PostParams::default(), &updated).await?;
        tracing::debug!(volume = %volume.name_any(), phase, "volume entered phase");
        Ok(self.newest_volumes.wrote(saved))
    }

    /// Sets the phase and, only when it changes, records why.
    async fn update_volume_phase_with_event(
        &self,
        volume: Arc<PersistentVolume>,
        phase: &str,
        reason: &str,
        message: &str,
    ) -> Result<(), Error> {
        if volume_phase(&volume) == phase {
            return Ok(());
        }
        let saved = self.update_volume_phase(volume, phase, message).await?;
        self.event(saved.as_ref(), EventType::Warning, reason, message.into()).await;
        Ok(())
    }

    async fn update_claim(&self, claim: PersistentVolumeClaim) -> Result<Arc<PersistentVolumeClaim>, Error> {
        let saved = self.claims_api(&claim).replace(&claim.name_any(), &PostParams::default(), &claim).await?;
        Ok(self.newest_claims.wrote(saved))
    }

    /// Upstream's updateClaimStatus: the phase, and the volume's access modes and (when the
    /// claim becomes Bound) capacity, or neither without a volume.
    async fn update_claim_status(
        &self,
        claim: &Arc<PersistentVolumeClaim>,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<Arc<PersistentVolumeClaim>, Error> {
        let mut updated = (**claim).clone();
        let old_phase = claim_phase(claim).to_string();
        let status = updated.status.get_or_insert_default();
        let mut dirty = false;
        if old_phase != phase {
            status.phase = Some(phase.into());
            dirty = true;
        }
        match volume {
            None => {
                if status.access_modes.is_some() || status.capacity.is_some() {
                    status.access_modes = None;
                    status.capacity = None;
                    dirty = true;
                }
            }
            Some(v) => {
                let modes = v.spec.as_ref().and_then(|s| s.access_modes.clone());
                if status.access_modes != modes {
                    status.access_modes = modes;
                    dirty = true;
                }
                if old_phase != phase {
                    let capacity = v.spec.as_ref().and_then(|s| s.capacity.clone());
                    let size = |c: Option<&std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
                        c.and_then(|c| c.get("storage")).and_then(|q| corekube_api::validation::quantity::parse(&q.0).ok())
                    };
                    if size(status.capacity.as_ref()).is_none() || size(status.capacity.as_ref()) != size(capacity.as_ref()) {
                        status.capacity = capacity;
                        dirty = true;
                    }
                }
            }
        }
        if !dirty {
            return Ok(claim.clone());
        }
        let saved = self.claims_api(claim).replace_status(&claim.name_any(), &PostParams::default(), &updated).await?;
        if old_phase != phase {
            tracing::debug!(claim = %crate::util::namespace_and_name(&claim.metadata), phase, "claim entered phase");
        }
        Ok(self.newest_claims.wrote(saved))
    }

    async fn update_claim_status_with_event(
        &self,
        claim: &Arc<PersistentVolumeClaim>,
        phase: &str,
        volume: Option<&PersistentVolume>,
        reason: &str,
        message: &str,
    ) -> Result<(), Error> {
        if claim_phase(claim) == phase {
            return Ok(());
        }
        let saved = self.update_claim_status(claim, phase, volume).await?;
        self.event(saved.as_ref(), EventType::Warning, reason, message.into()).await;
        Ok(())
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

/// Whether the pod mounts the claim (directly, or as its generic ephemeral volume).
pub(super) fn uses_claim(pod: &Pod, claim: &str) -> bool {
    let pod_name = pod.name_any();
    pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()).any(|v| {
        v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == claim)
            || (v.ephemeral.is_some() && format!("{pod_name}-{}", v.name) == claim)
    })
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
        set_annotation(&mut pv.metadata, ann::PROVISIONED_BY, super::super::LOCAL_PATH);
        assert_eq!(delete_storage(&pv), Ok(false));
    }
}
