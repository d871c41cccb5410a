//! The Deployment controller (upstream pkg/controller/deployment): rolls a Deployment's pods
//! from one ReplicaSet to the next, RollingUpdate within maxSurge and maxUnavailable or
//! Recreate, scales proportionally in the middle of a rollout, keeps revisions and history,
//! and reports conditions that `kubectl rollout status` reads.
//!
//! One sync claims the namespace's ReplicaSets, then takes upstream's path: status only while
//! being deleted, scaling only while paused or when replicas changed, else one rollout step.
//! Each step writes at most one scaling decision and returns; the ReplicaSets' status changes
//! bring the next step.

mod rules;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::util::{self, Ctx};
use rules::*;

/// Upstream's `--concurrent-deployment-syncs`.
const CONCURRENT_SYNCS: u16 = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Sync(String),
    #[error(transparent)]
    Panicked(#[from] util::Panicked),
}

struct State {
    base: Arc<Ctx<Deployment>>,
    replicasets: Store<ReplicaSet>,
    pods: Store<Pod>,
    deployments: Store<Deployment>,
    /// ReplicaSets as this controller last wrote them, by uid, until the cache shows that
    /// version: a sync started by another watch (the Deployment's own status write, say) can
    /// run before the ReplicaSet watch delivers a scale it just made, and sizing from the older
    /// copy would surge past maxSurge.
    written: std::sync::Mutex<HashMap<String, ReplicaSet>>,
}

fn revision_of(rs: &ReplicaSet) -> i64 {
    rs.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl State {
    fn remember(&self, rs: &ReplicaSet) {
        if let Some(uid) = rs.metadata.uid.clone() {
            self.written.lock().expect("written lock").insert(uid, rs.clone());
        }
    }

    /// The newer of the cached copy and the one last written.
    fn freshest(&self, cached: ReplicaSet) -> ReplicaSet {
        let mut written = self.written.lock().expect("written lock");
        let Some(uid) = cached.metadata.uid.clone() else { return cached };
        match written.get(&uid) {
            Some(w) if revision_of(w) > revision_of(&cached) => w.clone(),
            Some(_) => {
                written.remove(&uid);
                cached
            }
            None => cached,
        }
    }
}

pub(crate) fn start(informers: &mut Informers, client: kube::Client, shutdown: CancellationToken) -> crate::Running {
    let deployments = informers.store::<Deployment>();
    let state = Arc::new(State {
        base: Ctx::new(client, "deployment-controller"),
        replicasets: informers.store::<ReplicaSet>(),
        pods: informers.store::<Pod>(),
        deployments: deployments.clone(),
        written: Default::default(),
    });
    let (for_rs, for_pods) = (state.clone(), state.clone());
    let controller = Controller::for_stream(informers.subscribe::<Deployment>(), deployments)
        .watches_stream(informers.subscribe::<ReplicaSet>(), move |rs| deployments_of_rs(&for_rs, &rs))
        .watches_stream(informers.subscribe::<Pod>(), move |pod| deployments_of_pod(&for_pods, &pod))
        .with_config(Config::default().concurrency(CONCURRENT_SYNCS))
        .graceful_shutdown_on(async move { shutdown.cancelled().await });
    Box::pin(controller.run(reconcile, error_policy, state).for_each(|_| async {}))
}

/// A ReplicaSet's change concerns its controlling Deployment or, for an orphan, every
/// Deployment of its namespace that selects it (one may adopt it).
fn deployments_of_rs(state: &State, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
    let ns = rs.namespace().unwrap_or_default();
    if let Some(owner) = util::controller_of(&rs.metadata) {
        return if owner.kind == "Deployment" { vec![ObjectRef::new(&owner.name).within(&ns)] } else { vec![] };
    }
    state
        .deployments
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(ns.as_str()))
        .filter(|d| selects(d, rs.metadata.labels.as_ref()))
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

/// A pod's change matters to a Recreate rollout waiting for old pods to go: its ReplicaSet's
/// Deployment hears about it.
fn deployments_of_pod(state: &State, pod: &Pod) -> Vec<ObjectRef<Deployment>> {
    let ns = pod.namespace().unwrap_or_default();
    let Some(owner) = util::controller_of(&pod.metadata).filter(|o| o.kind == "ReplicaSet") else { return vec![] };
    let Some(rs) = state.replicasets.get(&ObjectRef::new(&owner.name).within(&ns)) else { return vec![] };
    match util::controller_of(&rs.metadata) {
        Some(d) if d.kind == "Deployment" => {
            let d_ref = ObjectRef::new(&d.name).within(&ns);
            let recreate = state.deployments.get(&d_ref).is_some_and(|d| !is_rolling(&d));
            if recreate { vec![d_ref] } else { vec![] }
        }
        _ => vec![],
    }
}

fn selects(d: &Deployment, labels: Option<&std::collections::BTreeMap<String, String>>) -> bool {
    util::selector(d.spec.as_ref().map(|s| &s.selector)).is_some_and(|s| !s.selects_all() && util::selector_matches(&s, labels))
}

fn error_policy(d: Arc<Deployment>, error: &Error, state: Arc<State>) -> Action {
    let delay = state.base.backoff.failed(&ObjectRef::from_obj(d.as_ref()));
    tracing::debug!(deployment = %util::namespace_and_name(&d.metadata), %error, ?delay, "sync failed; requeued");
    Action::requeue(delay)
}

/// One sync's working set: the Deployment as this sync changes it, and the API handles.
struct Sync<'a> {
    state: &'a State,
    d: Deployment,
    deployments: Api<Deployment>,
    replicasets: Api<ReplicaSet>,
    /// When to look again (a progress deadline or a rollout waiting on time).
    requeue: Option<Duration>,
}

async fn reconcile(d: Arc<Deployment>, state: Arc<State>) -> Result<Action, Error> {
    util::guarded(sync(d, state)).await
}

async fn sync(d: Arc<Deployment>, state: Arc<State>) -> Result<Action, Error> {
    let ns = d.namespace().unwrap_or_default();
    let client = state.base.client.clone();
    let mut sync = Sync {
        state: &state,
        d: d.as_ref().clone(),
        deployments: Api::namespaced(client.clone(), &ns),
        replicasets: Api::namespaced(client, &ns),
        requeue: None,
    };
    sync.run().await?;
    state.base.backoff.succeeded(&ObjectRef::from_obj(d.as_ref()));
    Ok(sync.requeue.map(Action::requeue).unwrap_or_else(Action::await_change))
}

impl Sync<'_> {
    async fn run(&mut self) -> Result<(), Error> {
        let d_ref = self.d.object_ref(&());
        let selector = util::selector(self.d.spec.as_ref().map(|s| &s.selector));
        if selector.as_ref().is_none_or(|s| s.selects_all()) {
            // Upstream refuses to act on a selector that selects everything.
            self.state.base.event(&d_ref, EventType::Warning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.".into()).await;
            if self.d.status.as_ref().and_then(|s| s.observed_generation) < self.d.metadata.generation {
                let mut status = self.d.status.clone().unwrap_or_default();
                status.observed_generation = self.d.metadata.generation;
                self.write_status(status).await?;
            }
            return Ok(());
        }
        let rs_list = self.claim_replicasets().await?;
        if self.d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&rs_list).await;
        }
        self.check_paused_conditions().await?;
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused || self.is_scaling_event(&rs_list) {
            return self.scale_sync(&rs_list).await;
        }
        if is_rolling(&self.d) {
            self.rollout_rolling(rs_list).await
        } else {
            self.rollout_recreate(rs_list).await
        }
    }

    /// The namespace's ReplicaSets this Deployment controls, after adoption and release.
    async fn claim_replicasets(&self) -> Result<Vec<ReplicaSet>, Error> {
        let ns = self.d.namespace().unwrap_or_default();
        let candidates: Vec<Arc<ReplicaSet>> =
            self.state.replicasets.state().into_iter().filter(|rs| rs.namespace().as_deref() == Some(ns.as_str())).collect();
        let d = &self.d;
        let uid = d.metadata.uid.clone();
        let owned = crate::claim::claim(&self.replicasets, d, candidates, |rs| selects(d, rs.metadata.labels.as_ref()), async || {
            let fresh = self.deployments.get_opt(&d.name_any()).await?;
            Ok(fresh.is_some_and(|f| f.metadata.uid == uid && f.metadata.deletion_timestamp.is_none()))
        })
        .await?;
        Ok(owned.iter().map(|rs| self.state.freshest(rs.as_ref().clone())).collect())
    }

    /// (the new ReplicaSet, the old ones), creating the new one if asked, and the revision
    /// annotations synced (upstream's getAllReplicaSetsAndSyncRevision).
    async fn new_and_old(&mut self, rs_list: &[ReplicaSet], create: bool) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let existing = find_new(&self.d, rs_list).cloned();
        let old: Vec<ReplicaSet> =
            rs_list.iter().filter(|rs| existing.as_ref().is_none_or(|n| n.metadata.uid != rs.metadata.uid)).cloned().collect();
        let new_revision = max_revision(&old) + 1;
        if let Some(mut rs) = existing {
            let annotations_changed = set_new_rs_annotations(&self.d, &mut rs, new_revision, true);
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let rs_min_ready = rs.spec.as_ref().and_then(|s| s.min_ready_seconds);
            if annotations_changed || min_ready.unwrap_or(0) != rs_min_ready.unwrap_or(0) {
                let patch = json!({
                    "metadata": {"annotations": rs.metadata.annotations, "resourceVersion": rs.metadata.resource_version},
                    "spec": {"minReadySeconds": min_ready.unwrap_or(0)},
                });
                let updated = self.replicasets.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
                self.state.remember(&updated);
                return Ok((Some(updated), old));
            }
            let rs_revision = annotation(&rs.metadata, REVISION).unwrap_or_default().to_string();
            let mut needs_update = self.set_revision(&rs_revision).await?;
            let mut status = self.d.status.clone().unwrap_or_default();
            if has_progress_deadline(&self.d) && condition(&status, PROGRESSING).is_none() {
                set_condition(&mut status, new_condition(PROGRESSING, "True", FOUND_NEW_RS, format!("Found new replica set {:?}", rs.name_any())));
                needs_update = true;
            }
            if needs_update {
                self.write_status(status).await?;
            }
            return Ok((Some(rs), old));
        }
        if !create {
            return Ok((None, old));
        }
        self.create_new_rs(old, new_revision).await
    }

    async fn create_new_rs(&mut self, old: Vec<ReplicaSet>, new_revision: i64) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let spec = self.d.spec.clone().unwrap_or_default();
        let mut status = self.d.status.clone().unwrap_or_default();
        let hash = template_hash(&spec.template, status.collision_count);
        let mut template = spec.template.clone();
        template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(Default::default).insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector.match_labels.get_or_insert_with(Default::default).insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let name = format!("{}-{hash}", self.d.name_any());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.namespace(),
                owner_references: Some(vec![util::controller_ref(&self.d)]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec { replicas: Some(0), min_ready_seconds: spec.min_ready_seconds, selector, template: Some(template) }),
            status: None,
        };
        let mut all = old.clone();
        all.push(rs.clone());
        let count = new_rs_new_replicas(&self.d, &all, 0);
        rs.spec.as_mut().expect("set above").replicas = Some(count);
        set_new_rs_annotations(&self.d, &mut rs, new_revision, false);
        let d_ref = self.d.object_ref(&());
        let (created, already_existed) = match self.replicasets.create(&PostParams::default(), &rs).await {
            Ok(created) => {
                self.state.remember(&created);
                (created, false)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = self.replicasets.get(&name).await?;
                let ours = util::controller_of(&existing.metadata).is_some_and(|o| Some(&o.uid) == self.d.metadata.uid.as_ref());
                let same = existing.spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| equal_ignore_hash(t, &spec.template));
                if !(ours && same) {
                    // A different ReplicaSet has this name: a hash collision. Count it; the next
                    // sync hashes with the new count.
                    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                    self.write_status(status).await?;
                    return Err(Error::Sync(format!("hash collision for replica set {name:?}")));
                }
                (existing, true)
            }
            Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("being terminated") => return Err(Error::Api(kube::Error::Api(s))),
            Err(e) => {
                let message = match &e {
                    kube::Error::Api(s) => s.message.clone(),
                    e => e.to_string(),
                };
                let msg = format!("Failed to create new replica set {name:?}: {message}");
                if has_progress_deadline(&self.d) {
                    set_condition(&mut status, new_condition(PROGRESSING, "False", FAILED_RS_CREATE, msg.clone()));
                    let _ = self.write_status(status).await;
                }
                self.state.base.event(&d_ref, EventType::Warning, FAILED_RS_CREATE, msg).await;
                return Err(e.into());
            }
        };
        if !already_existed && count > 0 {
            let note = format!("Scaled up replica set {name} from 0 to {count}");
            self.state.base.event(&d_ref, EventType::Normal, "ScalingReplicaSet", note).await;
        }
        let mut needs_update = self.set_revision(&new_revision.to_string()).await?;
        let mut status = self.d.status.clone().unwrap_or_default();
        if !already_existed && has_progress_deadline(&self.d) {
            set_condition(&mut status, new_condition(PROGRESSING, "True", NEW_RS_CREATED, format!("Created new replica set {name:?}")));
            needs_update = true;
        }
        if needs_update {
            self.write_status(status).await?;
        }
        Ok((Some(created), old))
    }

    /// Puts the revision annotation on the Deployment (upstream's SetDeploymentRevision writes
    /// it with the status; here the status subresource keeps metadata, so it is its own patch).
    async fn set_revision(&mut self, revision: &str) -> Result<bool, Error> {
        if annotation(&self.d.metadata, REVISION) == Some(revision) {
            return Ok(false);
        }
        let patch = json!({"metadata": {"annotations": {REVISION: revision}, "resourceVersion": self.d.metadata.resource_version}});
        let updated = self.deployments.patch(&self.d.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
        self.d.metadata = updated.metadata;
        Ok(true)
    }

    async fn write_status(&mut self, status: DeploymentStatus) -> Result<(), Error> {
        let mut d = self.d.clone();
        d.status = Some(status);
        let updated = self.deployments.replace_status(&self.d.name_any(), &PostParams::default(), &d).await?;
        self.d = updated;
        Ok(())
    }

    /// Paused and resumed show in the Progressing condition (upstream's checkPausedConditions).
    async fn check_paused_conditions(&mut self) -> Result<(), Error> {
        if !has_progress_deadline(&self.d) {
            return Ok(());
        }
        let mut status = self.d.status.clone().unwrap_or_default();
        let reason = condition(&status, PROGRESSING).and_then(|c| c.reason.clone());
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let change = if paused && reason.as_deref() != Some(PAUSED) {
            Some(new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused".into()))
        } else if !paused && reason.as_deref() == Some(PAUSED) {
            Some(new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed".into()))
        } else {
            None
        };
        if let Some(c) = change {
            set_condition(&mut status, c);
            self.write_status(status).await?;
        }
        Ok(())
    }

    /// replicas changed since the active ReplicaSets were sized (upstream's isScalingEvent).
    fn is_scaling_event(&self, rs_list: &[ReplicaSet]) -> bool {
        let want = replicas(&self.d).to_string();
        active(rs_list).iter().any(|rs| annotation(&rs.metadata, DESIRED_REPLICAS).is_some_and(|desired| desired != want))
    }

    async fn sync_status_only(&mut self, rs_list: &[ReplicaSet]) -> Result<(), Error> {
        let (new_rs, old) = self.new_and_old(rs_list, false).await?;
        let mut all = old;
        all.extend(new_rs.clone());
        self.sync_deployment_status(&all, new_rs.as_ref()).await
    }

    /// Scaling without a rollout step: paused, or replicas changed (upstream's sync).
    async fn scale_sync(&mut self, rs_list: &[ReplicaSet]) -> Result<(), Error> {
        let (new_rs, old) = self.new_and_old(rs_list, false).await?;
        let (new_rs, old) = self.scale(new_rs, old).await?;
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused {
            self.cleanup(&old).await?;
        }
        let mut all = old;
        all.extend(new_rs.clone());
        self.sync_deployment_status(&all, new_rs.as_ref()).await
    }

    /// Upstream's scale: the one active ReplicaSet takes the new size; otherwise a saturated new
    /// ReplicaSet retires the old ones; otherwise the change is spread in proportion.
    async fn scale(&mut self, new_rs: Option<ReplicaSet>, mut old: Vec<ReplicaSet>) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let want = replicas(&self.d);
        if let Some(target) = self.active_or_latest(new_rs.as_ref(), &old) {
            if rs_replicas(&target) != want {
                let scaled = self.scale_rs(&target, want).await?;
                return Ok(replace_in(new_rs, old, scaled));
            }
            return Ok((new_rs, old));
        }
        if let Some(n) = new_rs.as_ref().filter(|n| self.is_saturated(n)) {
            let _ = n;
            for rs in active(&old) {
                let scaled = self.scale_rs(&rs, 0).await?;
                old = replace_in(None, old, scaled).1;
            }
            return Ok((new_rs, old));
        }
        if !is_rolling(&self.d) {
            return Ok((new_rs, old));
        }
        let mut all = old.clone();
        all.extend(new_rs.clone());
        let mut all = active(&all);
        let current: i32 = all.iter().map(rs_replicas).sum();
        let allowed = if want > 0 { want + max_surge(&self.d) } else { 0 };
        let to_add = allowed - current;
        if to_add > 0 {
            // Larger first; equal sizes newer first.
            all.sort_by(|a, b| rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| by_creation(b, a)));
        } else if to_add < 0 {
            // Larger first; equal sizes older first.
            all.sort_by(|a, b| rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| by_creation(a, b)));
        }
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = proportion(rs, &self.d, to_add, added);
                sizes.push(rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(rs));
            }
        }
        // What rounding left over goes to the largest.
        if !all.is_empty() && added != to_add {
            sizes[0] = (sizes[0] + to_add - added).max(0);
        }
        let (mut new_rs, mut old) = (new_rs, old);
        for (rs, size) in all.iter().zip(sizes) {
            let scaled = self.scale_rs(rs, size).await?;
            (new_rs, old) = replace_in(new_rs, old, scaled);
        }
        Ok((new_rs, old))
    }

    /// The only active ReplicaSet, or the newest when none is active (upstream's FindActiveOrLatest).
    fn active_or_latest(&self, new_rs: Option<&ReplicaSet>, old: &[ReplicaSet]) -> Option<ReplicaSet> {
        if new_rs.is_none() && old.is_empty() {
            return None;
        }
        let mut sorted = old.to_vec();
        sorted.sort_by(|a, b| by_creation(b, a));
        let mut all = sorted.clone();
        all.extend(new_rs.cloned());
        let live = active(&all);
        match live.len() {
            0 => new_rs.cloned().or_else(|| sorted.first().cloned()),
            1 => live.into_iter().next(),
            _ => None,
        }
    }

    fn is_saturated(&self, rs: &ReplicaSet) -> bool {
        let want = replicas(&self.d);
        let desired = annotation(&rs.metadata, DESIRED_REPLICAS).and_then(|v| v.parse::<i32>().ok());
        rs_replicas(rs) == want && desired == Some(want) && rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0) == want
    }

    /// Sets a ReplicaSet's size and replica annotations, with a ScalingReplicaSet event when the
    /// size changed (upstream's scaleReplicaSet).
    async fn scale_rs(&self, rs: &ReplicaSet, size: i32) -> Result<ReplicaSet, Error> {
        let old_size = rs_replicas(rs);
        let (desired, max) = (replicas(&self.d), replicas(&self.d) + max_surge(&self.d));
        if old_size == size && !replicas_annotations_need_update(rs, desired, max) {
            return Ok(rs.clone());
        }
        let mut annotated = rs.clone();
        set_replicas_annotations(&mut annotated, desired, max);
        let patch = json!({
            "metadata": {"annotations": annotated.metadata.annotations, "resourceVersion": rs.metadata.resource_version},
            "spec": {"replicas": size},
        });
        let updated = self.replicasets.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
        self.state.remember(&updated);
        if old_size != size {
            let way = if old_size < size { "up" } else { "down" };
            let note = format!("Scaled {way} replica set {} from {old_size} to {size}", rs.name_any());
            self.state.base.event(&self.d.object_ref(&()), EventType::Normal, "ScalingReplicaSet", note).await;
        }
        Ok(updated)
    }

    /// One RollingUpdate step (upstream's rolloutRolling).
    async fn rollout_rolling(&mut self, rs_list: Vec<ReplicaSet>) -> Result<(), Error> {
        let (new_rs, old) = self.new_and_old(&rs_list, true).await?;
        let mut new_rs = new_rs.expect("created when missing");
        let mut all = old.clone();
        all.push(new_rs.clone());

        // Scale the new ReplicaSet up (or down to the target) as far as maxSurge allows.
        let want = replicas(&self.d);
        let new_size = rs_replicas(&new_rs);
        if new_size != want {
            let target = if new_size > want { want } else { new_rs_new_replicas(&self.d, &all, new_size) };
            if target != new_size {
                new_rs = self.scale_rs(&new_rs, target).await?;
                let mut all = old;
                all.push(new_rs.clone());
                return self.sync_rollout_status(&all, Some(&new_rs)).await;
            }
        }
        // Scale old ReplicaSets down as far as maxUnavailable allows.
        let (scaled_down, old) = self.reconcile_old(old, &new_rs).await?;
        let mut all = old.clone();
        all.push(new_rs.clone());
        if scaled_down {
            return self.sync_rollout_status(&all, Some(&new_rs)).await;
        }
        let status = self.d.status.clone().unwrap_or_default();
        if complete(&self.d, &status) {
            self.cleanup(&old).await?;
        }
        self.sync_rollout_status(&all, Some(&new_rs)).await
    }

    /// Scales old ReplicaSets down as far as the rolling-update rules allow; true when any
    /// changed.
    async fn reconcile_old(&self, mut old: Vec<ReplicaSet>, new_rs: &ReplicaSet) -> Result<(bool, Vec<ReplicaSet>), Error> {
        old.sort_by(by_creation);
        let sizes = old_sizes_after_scale_down(&self.d, &old, new_rs);
        let mut changed = false;
        for (rs, size) in old.iter_mut().zip(sizes) {
            if size != rs_replicas(rs) {
                *rs = self.scale_rs(rs, size).await?;
                changed = true;
            }
        }
        Ok((changed, old))
    }

    /// One Recreate step (upstream's rolloutRecreate): all old pods go before new ones start.
    async fn rollout_recreate(&mut self, rs_list: Vec<ReplicaSet>) -> Result<(), Error> {
        let (new_rs, mut old) = self.new_and_old(&rs_list, false).await?;
        let mut scaled_down = false;
        for rs in active(&old) {
            let scaled = self.scale_rs(&rs, 0).await?;
            scaled_down = true;
            old = replace_in(None, old, scaled).1;
        }
        let mut all = old.clone();
        all.extend(new_rs.clone());
        if scaled_down || self.old_pods_running(new_rs.as_ref(), &old) {
            return self.sync_rollout_status(&all, new_rs.as_ref()).await;
        }
        let (new_rs, old) = match new_rs {
            Some(n) => (n, old),
            None => {
                let (n, o) = self.new_and_old(&rs_list, true).await?;
                (n.expect("created when missing"), o)
            }
        };
        let new_rs = self.scale_rs(&new_rs, replicas(&self.d)).await?;
        let status = self.d.status.clone().unwrap_or_default();
        if complete(&self.d, &status) {
            self.cleanup(&old).await?;
        }
        let mut all = old;
        all.push(new_rs.clone());
        self.sync_rollout_status(&all, Some(&new_rs)).await
    }

    /// Any pod of an old ReplicaSet that has not finished (upstream's oldPodsRunning).
    fn old_pods_running(&self, new_rs: Option<&ReplicaSet>, old: &[ReplicaSet]) -> bool {
        if old.iter().map(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0)).sum::<i32>() > 0 {
            return true;
        }
        let ns = self.d.namespace().unwrap_or_default();
        let old_uids: Vec<&str> = old.iter().filter_map(|rs| rs.metadata.uid.as_deref()).collect();
        let new_uid = new_rs.and_then(|rs| rs.metadata.uid.as_deref());
        self.state.pods.state().iter().filter(|p| p.namespace().as_deref() == Some(ns.as_str())).any(|p| {
            let owner = util::controller_of(&p.metadata).map(|o| o.uid.as_str());
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            owner.is_some_and(|o| old_uids.contains(&o) && Some(o) != new_uid) && !matches!(phase, Some("Succeeded") | Some("Failed"))
        })
    }

    /// Deletes the oldest unused ReplicaSets beyond revisionHistoryLimit (upstream's cleanupDeployment).
    async fn cleanup(&self, old: &[ReplicaSet]) -> Result<(), Error> {
        let Some(limit) = self.d.spec.as_ref().and_then(|s| s.revision_history_limit) else { return Ok(()) };
        let mut cleanable: Vec<&ReplicaSet> = old.iter().filter(|rs| rs.metadata.deletion_timestamp.is_none()).collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| revision(a).cmp(&revision(b)).then_with(|| by_creation(a, b)));
        for rs in cleanable.into_iter().take(diff as usize) {
            let status = rs.status.clone().unwrap_or_default();
            if status.replicas != 0 || rs_replicas(rs) != 0 || rs.metadata.generation > status.observed_generation {
                continue;
            }
            match self.replicasets.delete(&rs.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn sync_deployment_status(&mut self, all: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Result<(), Error> {
        let status = calculate_status(all, new_rs, &self.d);
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        self.write_status(status).await
    }

    /// The status after a rollout step, with the Progressing condition (upstream's syncRolloutStatus).
    async fn sync_rollout_status(&mut self, all: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Result<(), Error> {
        let mut status = calculate_status(all, new_rs, &self.d);
        if !has_progress_deadline(&self.d) {
            remove_condition(&mut status, PROGRESSING);
        }
        let current = condition(&status, PROGRESSING).cloned();
        let is_complete = status.replicas == status.updated_replicas && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
        let now = jiff::Timestamp::now();
        let new_name = new_rs.map(|rs| rs.name_any()).unwrap_or_default();
        if has_progress_deadline(&self.d) && !is_complete {
            if complete(&self.d, &status) {
                let msg = if new_rs.is_some() { format!("ReplicaSet {new_name:?} has successfully progressed.") } else { "Deployment has successfully progressed.".into() };
                set_condition(&mut status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg));
            } else if progressing(&self.d, &status) {
                let msg = if new_rs.is_some() { format!("ReplicaSet {new_name:?} is progressing.") } else { "Deployment is progressing.".into() };
                let mut c = new_condition(PROGRESSING, "True", RS_UPDATED, msg);
                if let Some(cur) = current.as_ref().filter(|c| c.status == "True") {
                    c.last_transition_time = cur.last_transition_time.clone();
                }
                remove_condition(&mut status, PROGRESSING);
                set_condition(&mut status, c);
            } else if timed_out(&self.d, &status, now) {
                let msg = if new_rs.is_some() { format!("ReplicaSet {new_name:?} has timed out progressing.") } else { "Deployment has timed out progressing.".into() };
                set_condition(&mut status, new_condition(PROGRESSING, "False", TIMED_OUT, msg));
            }
        }
        match replica_failure(all, new_rs) {
            Some(c) => set_condition(&mut status, c),
            None => remove_condition(&mut status, REPLICA_FAILURE),
        }
        if self.d.status.as_ref() == Some(&status) {
            self.requeue = self.requeue_stuck(&status, now);
            return Ok(());
        }
        self.write_status(status).await
    }

    /// When a rollout that shows no progress passes its deadline (upstream's requeueStuckDeployment).
    fn requeue_stuck(&self, status: &DeploymentStatus, now: jiff::Timestamp) -> Option<Duration> {
        let current = condition(status, PROGRESSING)?;
        if !has_progress_deadline(&self.d) || complete(&self.d, status) || current.reason.as_deref() == Some(TIMED_OUT) {
            return None;
        }
        let deadline = i64::from(self.d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600));
        let at = current.last_update_time.as_ref()?.0 + jiff::SignedDuration::from_secs(deadline);
        let left = at.duration_since(now);
        Some(if left.as_millis() < 1000 { Duration::from_secs(1) } else { Duration::from_millis(left.as_millis() as u64) })
    }
}

/// The ReplicaFailure condition of the new ReplicaSet (or any) carried over to the Deployment.
fn replica_failure(all: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Option<k8s_openapi::api::apps::v1::DeploymentCondition> {
    let failing = |rs: &ReplicaSet| rs.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|cs| cs.iter().find(|c| c.type_ == REPLICA_FAILURE).cloned());
    let c = new_rs.and_then(failing).or_else(|| all.iter().find_map(failing))?;
    let mut dc = new_condition(REPLICA_FAILURE, &c.status, c.reason.as_deref().unwrap_or_default(), c.message.unwrap_or_default());
    if let Some(t) = c.last_transition_time {
        dc.last_transition_time = Some(t.clone());
        dc.last_update_time = Some(t);
    }
    Some(dc)
}

/// Puts an updated ReplicaSet in place of its older copy in (new, old).
fn replace_in(new_rs: Option<ReplicaSet>, mut old: Vec<ReplicaSet>, updated: ReplicaSet) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
    if new_rs.as_ref().is_some_and(|n| n.metadata.uid == updated.metadata.uid) {
        return (Some(updated), old);
    }
    if let Some(slot) = old.iter_mut().find(|rs| rs.metadata.uid == updated.metadata.uid) {
        *slot = updated;
    }
    (new_rs, old)
}

