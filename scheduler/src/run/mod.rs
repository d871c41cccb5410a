//! The scheduler's runtime: watches feed the cache and the queue; one loop pops pods, decides
//! with the framework, assumes the choice and binds through the API in the background.
//!
//! Every write goes through the API server with the scheduler's own identity: bindings,
//! status patches (PodScheduled=False, nominatedNodeName), events, preemption deletions.

mod api;
mod decide;
mod informers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::Client;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cache::{assigned_node, Cache};
use crate::plugins::volume_binding::{self, PodVolumes};
use crate::queue::{pod_key, QueuedPod, SchedulingQueue};
pub use api::Writer;
use decide::Decision;
use informers::{Change, ClusterEvent};

/// The profile name pods ask for in `spec.schedulerName` (empty means this one).
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Upper bound of pods scheduled in a row before pending watch events are handled again.
const PODS_PER_TURN: usize = 64;

#[derive(thiserror::Error, Debug)]
pub enum Error {
    #[error("reading kubeconfig {path}: {detail}")]
    Kubeconfig { path: String, detail: String },
    #[error("building the API client: {0}")]
    Client(String),
    #[error("scheduler profile: {0}")]
    Profile(String),
}

/// A completed configuration: an API client with the scheduler's identity.
pub struct Config {
    pub client: Client,
    pub scheduler_name: String,
}

/// Builds the client from a kubeconfig file (the standalone `corekube scheduler` and the
/// all-in-one server both use one, each component with its own certificate).
pub async fn client_from_kubeconfig(path: &std::path::Path) -> Result<Client, Error> {
    corekube_client::client_from_kubeconfig(path, "kube-scheduler").await.map_err(|e| Error::Client(e.to_string()))
}

/// What a background write reports back to the loop.
enum Outcome {
    /// The pod goes back to the queue; the volumes and claims assumed for it are put back as
    /// they were unless the watch brought newer versions meanwhile.
    BindFailed { queued: QueuedPod, error: String, assumed: AssumedVolumes },
}

/// The cached volumes and claims as they were before Reserve assumed the pod's bindings.
#[derive(Default)]
struct AssumedVolumes {
    pvs: Vec<Arc<PersistentVolume>>,
    pvcs: Vec<Arc<PersistentVolumeClaim>>,
}

/// Runs until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
    let writer = Writer::new(config.client.clone(), config.scheduler_name.clone(), format!("{}-{hostname}", config.scheduler_name));
    let (event_tx, mut events) = mpsc::channel(4096);
    informers::spawn_all(&config.client, event_tx, &shutdown);
    let (outcome_tx, mut outcomes) = mpsc::channel(1024);
    let decider = decide::Decider::new(&config.scheduler_name).map_err(|e| Error::Profile(e.to_string()))?;
    let mut state = Loop {
        scheduler_name: config.scheduler_name,
        queue: SchedulingQueue::new(),
        cache: Cache::default(),
        decider,
        writer,
        outcome_tx,
        synced: Default::default(),
        relisting: Default::default(),
    };
    tracing::info!(scheduler = %state.scheduler_name, "scheduler started");
    loop {
        let wakeup = state.queue.next_wakeup().unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            ev = events.recv() => match ev {
                Some(ev) => state.on_event(ev),
                None => return Ok(()),
            },
            Some(outcome) = outcomes.recv() => state.on_outcome(outcome),
            _ = tokio::time::sleep_until(wakeup.into()) => {}
        }
        // Take in what else arrived before deciding, so decisions see the freshest cache.
        while let Ok(ev) = events.try_recv() {
            state.on_event(ev);
        }
        if state.synced.len() < informers::WATCHED_KINDS {
            continue;
        }
        for _ in 0..PODS_PER_TURN {
            let Some(queued) = state.queue.pop(Instant::now()) else { break };
            state.schedule_one(queued);
        }
    }
}

struct Loop {
    scheduler_name: String,
    queue: SchedulingQueue,
    cache: Cache,
    decider: decide::Decider,
    writer: Writer,
    outcome_tx: mpsc::Sender<Outcome>,
    /// The watched kinds that finished their first list; nothing is scheduled before all did.
    synced: std::collections::HashSet<&'static str>,
    /// Keys applied since each kind's relist began, to drop the ones that vanished.
    relisting: std::collections::HashMap<&'static str, std::collections::HashSet<String>>,
}

impl Loop {
    fn responsible_for(&self, pod: &Pod) -> bool {
        let name = pod.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or(DEFAULT_SCHEDULER_NAME);
        name == self.scheduler_name
    }

    fn on_event(&mut self, event: ClusterEvent) {
        let now = Instant::now();
        match event {
            ClusterEvent::Pod(change) => match change {
                Change::Apply(pod) => {
                    let key = pod_key(&pod);
                    self.note_relist("pods", &key);
                    self.on_pod(Arc::new(pod), now);
                }
                Change::Delete(pod) => self.on_pod_gone(&pod_key(&pod), now),
                Change::Relist => self.start_relist("pods"),
                Change::Synced => {
                    let known = self.cache.pod_keys().cloned().chain(self.queue.keys()).collect();
                    for key in self.end_relist("pods", known) {
                        self.on_pod_gone(&key, now);
                    }
                }
            },
            ClusterEvent::Node(change) => {
                match change {
                    Change::Apply(node) => {
                        let name = node.metadata.name.clone().unwrap_or_default();
                        self.note_relist("nodes", &name);
                        self.cache.set_node(Arc::new(node));
                    }
                    Change::Delete(node) => self.cache.remove_node(node.metadata.name.as_deref().unwrap_or_default()),
                    Change::Relist => self.start_relist("nodes"),
                    Change::Synced => {
                        let known = self.cache.node_names();
                        for name in self.end_relist("nodes", known) {
                            self.cache.remove_node(&name);
                        }
                    }
                }
                self.queue.move_all_to_active_or_backoff(now);
            }
            ClusterEvent::PersistentVolume(change) => {
                let snap = &mut self.cache.snapshot;
                match change {
                    Change::Apply(pv) => {
                        let name = pv.metadata.name.clone().unwrap_or_default();
                        snap.upsert_pv(Arc::new(pv));
                        self.note_relist("persistentvolumes", &name);
                    }
                    Change::Delete(pv) => snap.remove_pv(pv.metadata.name.as_deref().unwrap_or_default()),
                    Change::Relist => self.start_relist("persistentvolumes"),
                    Change::Synced => {
                        let known = snap.pvs.keys().cloned().collect();
                        for name in self.end_relist("persistentvolumes", known) {
                            self.cache.snapshot.remove_pv(&name);
                        }
                    }
                }
                self.queue.move_all_to_active_or_backoff(now);
            }
            ClusterEvent::PersistentVolumeClaim(change) => {
                let snap = &mut self.cache.snapshot;
                let key = |o: &PersistentVolumeClaim| {
                    (o.metadata.namespace.clone().unwrap_or_default(), o.metadata.name.clone().unwrap_or_default())
                };
                match change {
                    Change::Apply(pvc) => {
                        let (ns, name) = key(&pvc);
                        snap.upsert_pvc(Arc::new(pvc));
                        self.note_relist("persistentvolumeclaims", &format!("{ns}/{name}"));
                    }
                    Change::Delete(pvc) => {
                        let (ns, name) = key(&pvc);
                        snap.remove_pvc(&ns, &name);
                    }
                    Change::Relist => self.start_relist("persistentvolumeclaims"),
                    Change::Synced => {
                        let known = snap.pvcs.iter().flat_map(|(ns, m)| m.keys().map(move |n| format!("{ns}/{n}"))).collect();
                        for gone in self.end_relist("persistentvolumeclaims", known) {
                            let (ns, name) = gone.split_once('/').unwrap_or_default();
                            self.cache.snapshot.remove_pvc(ns, name);
                        }
                    }
                }
                self.queue.move_all_to_active_or_backoff(now);
            }
            ClusterEvent::StorageClass(change) => {
                let snap = &mut self.cache.snapshot;
                match change {
                    Change::Apply(sc) => {
                        let name = sc.metadata.name.clone().unwrap_or_default();
                        snap.upsert_storage_class(Arc::new(sc));
                        self.note_relist("storageclasses", &name);
                    }
                    Change::Delete(sc) => snap.remove_storage_class(sc.metadata.name.as_deref().unwrap_or_default()),
                    Change::Relist => self.start_relist("storageclasses"),
                    Change::Synced => {
                        let known = snap.storage_classes.keys().cloned().collect();
                        for name in self.end_relist("storageclasses", known) {
                            self.cache.snapshot.remove_storage_class(&name);
                        }
                    }
                }
                self.queue.move_all_to_active_or_backoff(now);
            }
        }
    }

    fn start_relist(&mut self, kind: &'static str) {
        self.relisting.insert(kind, Default::default());
    }

    fn note_relist(&mut self, kind: &'static str, key: &str) {
        if let Some(seen) = self.relisting.get_mut(kind) {
            seen.insert(key.to_string());
        }
    }

    /// Ends a relist: returns the known keys the list did not contain.
    fn end_relist(&mut self, kind: &'static str, known: Vec<String>) -> Vec<String> {
        self.synced.insert(kind);
        let Some(seen) = self.relisting.remove(kind) else { return Vec::new() };
        known.into_iter().filter(|k| !seen.contains(k)).collect()
    }

    fn on_pod(&mut self, pod: Arc<Pod>, now: Instant) {
        let key = pod_key(&pod);
        if assigned_node(&pod).is_some() {
            // Bound (perhaps by us a moment ago): it holds resources, and needs no scheduling.
            self.queue.delete(&key);
            let was_holding = self.cache.holds(&key);
            let holds = self.cache.set_assigned_pod(pod);
            if was_holding && !holds {
                // It finished: its resources are free.
                self.queue.move_all_to_active_or_backoff(now);
            }
            return;
        }
        if pod.metadata.deletion_timestamp.is_some() || !self.responsible_for(&pod) || crate::cache::is_terminal(&pod) {
            self.queue.delete(&key);
            return;
        }
        if self.cache.is_assumed(&key) {
            // Chosen and being bound; the watch has not caught up yet.
            return;
        }
        self.queue.update(pod, now);
    }

    fn on_pod_gone(&mut self, key: &str, now: Instant) {
        self.queue.delete(key);
        if self.cache.remove_pod(key) {
            self.queue.move_all_to_active_or_backoff(now);
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::BindFailed { queued, error, assumed } => {
                tracing::info!(pod = %queued.key, %error, "binding failed; retrying after backoff");
                self.cache.forget(&queued.key);
                self.restore_volumes(assumed);
                self.queue.error(queued, Instant::now());
            }
        }
    }

    /// Reserve of VolumeBinding: the cache holds the volumes and claims as the pod's bindings
    /// will write them, so the next pods do not pick the same volumes. Returns what to write
    /// and what to put back if the binding fails.
    fn assume_volumes(&mut self, volumes: &PodVolumes, node: &str) -> (Vec<PersistentVolume>, Vec<PersistentVolumeClaim>, AssumedVolumes) {
        if volumes.is_empty() {
            return Default::default();
        }
        let snap = &mut self.cache.snapshot;
        let (pvs, pvcs) = volume_binding::assume(volumes, node, snap);
        let mut before = AssumedVolumes::default();
        for pv in &pvs {
            if let Some(old) = snap.pvs.get(pv.metadata.name.as_deref().unwrap_or_default()) {
                before.pvs.push(old.clone());
            }
            snap.upsert_pv(Arc::new(pv.clone()));
        }
        for pvc in &pvcs {
            if let Some(old) =
                snap.pvc(pvc.metadata.namespace.as_deref().unwrap_or_default(), pvc.metadata.name.as_deref().unwrap_or_default())
            {
                before.pvcs.push(old.clone());
            }
            snap.upsert_pvc(Arc::new(pvc.clone()));
        }
        (pvs, pvcs, before)
    }

    /// Unreserve: puts back what `assume_volumes` replaced, where the cache still holds the
    /// assumed version (the same resourceVersion; a watch event would have brought a newer one).
    fn restore_volumes(&mut self, assumed: AssumedVolumes) {
        let snap = &mut self.cache.snapshot;
        for old in assumed.pvs {
            let current = snap.pvs.get(old.metadata.name.as_deref().unwrap_or_default());
            if current.is_some_and(|c| c.metadata.resource_version == old.metadata.resource_version) {
                snap.upsert_pv(old);
            }
        }
        for old in assumed.pvcs {
            let current = snap.pvc(old.metadata.namespace.as_deref().unwrap_or_default(), old.metadata.name.as_deref().unwrap_or_default());
            if current.is_some_and(|c| c.metadata.resource_version == old.metadata.resource_version) {
                snap.upsert_pvc(old);
            }
        }
    }

    fn schedule_one(&mut self, queued: QueuedPod) {
        match self.decider.decide(&queued.pod, &self.cache) {
            Decision::Bind { node, volumes } => {
                self.cache.assume(&queued.pod, &node);
                self.queue.done(&queued.key);
                let (pvs, pvcs, assumed) = self.assume_volumes(&volumes, &node);
                let node_object = self.cache.snapshot.node_info(&node).map(|n| n.node.clone());
                let writer = self.writer.clone();
                let outcomes = self.outcome_tx.clone();
                tokio::spawn(async move {
                    let pod = queued.pod.clone();
                    if let (false, Some(node_object)) = (volumes.is_empty(), node_object) {
                        if let Err(e) = writer.bind_volumes(&pvs, &pvcs, &volumes, &node_object).await {
                            let error = format!("running PreBind plugin \"VolumeBinding\": binding volumes: {e}");
                            writer.event(&pod, "Warning", "FailedScheduling", "Scheduling", &error).await;
                            let _ = outcomes.send(Outcome::BindFailed { queued, error, assumed }).await;
                            return;
                        }
                    }
                    match writer.bind(&pod, &node).await {
                        Ok(()) => {
                            let (ns, name) = (pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default());
                            writer.event(&pod, "Normal", "Scheduled", "Binding", &format!("Successfully assigned {ns}/{name} to {node}")).await;
                        }
                        Err(e) => {
                            let error = e.to_string();
                            writer.event(&pod, "Warning", "FailedScheduling", "Scheduling", &format!("Binding rejected: {error}")).await;
                            let _ = outcomes.send(Outcome::BindFailed { queued, error, assumed }).await;
                        }
                    }
                });
            }
            Decision::Unschedulable { message, nominated_node, victims } => {
                tracing::debug!(pod = %queued.key, %message, "unschedulable");
                self.queue.unschedulable(&queued.key, Instant::now());
                let writer = self.writer.clone();
                let pod = queued.pod.clone();
                tokio::spawn(async move {
                    for victim in &victims {
                        if let Err(e) = writer.evict_victim(victim, &pod).await {
                            tracing::warn!(error = %e, "cannot delete preemption victim");
                        }
                    }
                    if let Err(e) = writer.mark_unschedulable(&pod, &message, nominated_node.as_deref()).await {
                        tracing::debug!(error = %e, "cannot set PodScheduled=False");
                    }
                    writer.event(&pod, "Warning", "FailedScheduling", "Scheduling", &message).await;
                });
            }
        }
    }
}
