//! The PV controller's binder (upstream pv_controller.go): binds claims to volumes both ways
//! (volume `claimRef` first, claim `volumeName` second, each marked with upstream's
//! annotations), asks provisioners for volumes, and reclaims the volumes of deleted claims
//! (Retain keeps them Released, Delete removes them, Recycle has no recycler here).
//!
//! Two loops, one worker each as upstream's two queues: claims ([`claims`]) and volumes
//! ([`volumes`]). A change of one side wakes the other. Every claim and volume is synced
//! again each [`RESYNC`], as upstream's periodic resync, which retries waiting claims and
//! failed deletions. This module holds the loops, the binding itself and the writes.

mod claims;
mod volumes;

use std::sync::Arc;
use std::time::Duration;

use corekube_client::events::{EventType, Recorder};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::matching;
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
    let volumes = informers.store::<PersistentVolume>();
    let claims = informers.store::<PersistentVolumeClaim>();
    let binder = Arc::new(Binder {
        recorder: Recorder::new(client.clone(), "persistentvolume-controller"),
        client,
        volumes: volumes.clone(),
        claims: claims.clone(),
        classes: informers.store::<StorageClass>(),
        pods: informers.store::<Pod>(),
        newest_volumes: Newest::default(),
        newest_claims: Newest::default(),
        claim_backoff: Backoff::default(),
        volume_backoff: Backoff::default(),
    });
    let (by_volume, by_class, by_claim) = (binder.clone(), binder.clone(), binder.clone());
    let stop = shutdown.clone();
    let claim_loop = Controller::for_stream(informers.subscribe::<PersistentVolumeClaim>(), claims)
        .watches_stream(informers.subscribe::<PersistentVolume>(), move |pv| by_volume.claims_concerned_by(&pv))
        .watches_stream(informers.subscribe::<StorageClass>(), move |_| by_class.unbound_claims())
        .with_config(Config::default().concurrency(1))
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile_claim, claim_error_policy, binder.clone())
        .for_each(|_| async {});
    let volume_loop = Controller::for_stream(informers.subscribe::<PersistentVolume>(), volumes)
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
