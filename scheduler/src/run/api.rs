//! What the scheduler writes through the API: bindings, the PodScheduled condition and
//! nominated node, events, preemption's deletions, and the volume bindings a pod waits for.

use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

use crate::plugins::volume_binding::{binding_done, PodVolumes};

/// How long PreBind waits for the PV controller and provisioners (upstream's default
/// `bindTimeoutSeconds`).
const VOLUME_BIND_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest pause between two looks at the bindings (upstream polls every second).
const VOLUME_POLL_MAX: Duration = Duration::from_secs(1);

/// The scheduler's writer: an API client plus how it names itself in events.
#[derive(Clone)]
pub struct Writer {
    pub client: Client,
    /// `reportingController` of events, and the field manager of its writes.
    pub scheduler_name: String,
    /// `reportingInstance`: the scheduler name and host, as upstream.
    pub instance: String,
    /// Events waiting for the recorder task.
    events: mpsc::UnboundedSender<Event>,
    /// Bindings in flight, at most BINDS_IN_FLIGHT.
    bind_slots: Arc<Semaphore>,
}

/// How many bindings are POSTed at once. Each request in flight holds an HTTP/1.1 connection
/// of the client's pool: unbounded, a backlog of thousands of decided pods opened thousands of
/// TLS connections at once, and their handshakes took the CPU the bindings needed. 64 keeps
/// the API server's writes to etcd batched.
const BINDS_IN_FLIGHT: usize = 64;

/// How many events the recorder writes at once. Events are written behind the scheduling
/// work, as upstream's event broadcaster does, so that a backlog of pods spends the API
/// server's capacity on bindings first; none is dropped.
const EVENT_WRITERS: usize = 4;

/// Writes queued events until every writer is gone.
async fn record_events(client: Client, queue: mpsc::UnboundedReceiver<Event>) {
    let queue = futures::stream::unfold(queue, |mut q| async move { q.recv().await.map(|e| (e, q)) });
    queue
        .for_each_concurrent(EVENT_WRITERS, |event| {
            let client = client.clone();
            async move {
                let ns = event.metadata.namespace.clone().unwrap_or_default();
                let api: Api<Event> = Api::namespaced(client, &ns);
                if let Err(e) = api.create(&PostParams::default(), &event).await {
                    tracing::warn!(error = %e, reason = event.reason.as_deref().unwrap_or_default(), "cannot record scheduler event");
                }
            }
        })
        .await;
}

/// A status patch setting PodScheduled=False with `message`, preconditioned on the pod's
/// resourceVersion.
fn unschedulable_patch(pod: &Pod, message: &str, nominated_node: Option<&str>) -> serde_json::Value {
    let existing = pod.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    // The transition time moves only when the status changes, as upstream.
    let transition = match existing {
        Some(c) if c.status == "False" => c.last_transition_time.clone(),
        _ => None,
    }
    .unwrap_or_else(|| Time(jiff::Timestamp::now()));
    let mut status = json!({
        "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastProbeTime": null, "lastTransitionTime": transition,
        }],
    });
    if let Some(node) = nominated_node {
        status["nominatedNodeName"] = json!(node);
    }
    json!({"metadata": {"resourceVersion": pod.metadata.resource_version}, "status": status})
}

fn ns_and_name(pod: &Pod) -> (String, String) {
    (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
}

impl Writer {
    /// A writer, and the task that records its events (spawned here).
    pub fn new(client: Client, scheduler_name: String, instance: String) -> Writer {
        let (events, queue) = mpsc::unbounded_channel();
        tokio::spawn(record_events(client.clone(), queue));
        Writer { client, scheduler_name, instance, events, bind_slots: Arc::new(Semaphore::new(BINDS_IN_FLIGHT)) }
    }

    /// POST pods/{name}/binding.
    pub async fn bind(&self, pod: &Pod, node: &str) -> Result<(), kube::Error> {
        let (ns, name) = ns_and_name(pod);
        let binding = Binding {
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(ns.clone()), uid: pod.metadata.uid.clone(), ..Default::default() },
            target: ObjectReference { kind: Some("Node".into()), api_version: Some("v1".into()), name: Some(node.to_string()), ..Default::default() },
        };
        // The semaphore is never closed, so acquiring cannot fail.
        let _slot = self.bind_slots.acquire().await.ok();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        api.create_subresource::<Binding, serde_json::Value>("binding", &name, &PostParams::default(), &binding).await.map(|_| ())
    }

    /// PreBind of VolumeBinding: writes the assumed volumes (claimRef) and claims (selected
    /// node), then waits until the PV controller has bound every claim (upstream's
    /// BindPodVolumes). The error is the reason the pod goes back to the queue.
    pub async fn bind_volumes(
        &self,
        pvs: &[PersistentVolume],
        pvcs: &[PersistentVolumeClaim],
        volumes: &PodVolumes,
        node: &Node,
    ) -> Result<(), String> {
        let volumes_api: Api<PersistentVolume> = Api::all(self.client.clone());
        let claims_api = |ns: &str| -> Api<PersistentVolumeClaim> { Api::namespaced(self.client.clone(), ns) };
        let params = PostParams { field_manager: Some(self.scheduler_name.clone()), ..Default::default() };
        for pv in pvs {
            volumes_api.replace(pv.metadata.name.as_deref().unwrap_or_default(), &params, pv).await.map_err(|e| e.to_string())?;
        }
        for pvc in pvcs {
            let api = claims_api(pvc.metadata.namespace.as_deref().unwrap_or_default());
            api.replace(pvc.metadata.name.as_deref().unwrap_or_default(), &params, pvc).await.map_err(|e| e.to_string())?;
        }
        let deadline = Instant::now() + VOLUME_BIND_TIMEOUT;
        let mut pause = Duration::from_millis(50);
        let get_volume = async |name: &str| -> Result<Option<PersistentVolume>, String> {
            if name.is_empty() {
                return Ok(None);
            }
            volumes_api.get_opt(name).await.map_err(|e| e.to_string())
        };
        loop {
            let mut done = true;
            let claims = volumes
                .static_bindings
                .iter()
                .map(|(ns, c, pv)| (ns, c, Some(pv)))
                .chain(volumes.dynamic_provisions.iter().map(|(ns, c)| (ns, c, None)));
            for (ns, claim_name, static_pv) in claims {
                let claim = claims_api(ns).get_opt(claim_name).await.map_err(|e| e.to_string())?;
                let volume_name = match static_pv {
                    Some(pv) => pv.clone(),
                    None => claim.as_ref().and_then(|c| c.spec.as_ref()).and_then(|s| s.volume_name.clone()).unwrap_or_default(),
                };
                let volume = get_volume(&volume_name).await?;
                done &= binding_done(claim.as_ref(), static_pv.map(String::as_str), volume.as_ref(), node)?;
            }
            if done {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err("timed out waiting for the condition".into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(VOLUME_POLL_MAX);
        }
    }

    /// Marks the pod unschedulable (condition PodScheduled=False, reason Unschedulable), and
    /// records the node preemption made room on, if any. The write is conditional on the pod
    /// being as the decision saw it, so it never overwrites a binding that happened meanwhile;
    /// if the pod changed but is still unassigned, it is retried once on the current version.
    pub async fn mark_unschedulable(&self, pod: &Pod, message: &str, nominated_node: Option<&str>) -> Result<(), kube::Error> {
        let (ns, name) = ns_and_name(pod);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let params = PatchParams { field_manager: Some(self.scheduler_name.clone()), ..Default::default() };
        let mut current = pod.clone();
        for _ in 0..2 {
            let patch = unschedulable_patch(&current, message, nominated_node);
            match api.patch_status(&name, &params, &Patch::Strategic(patch)).await {
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    current = api.get(&name).await?;
                    let assigned = current.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
                    if assigned || current.metadata.deletion_timestamp.is_some() {
                        return Ok(());
                    }
                }
                other => return other.map(|_| ()),
            }
        }
        Ok(())
    }

    /// Deletes a preemption victim (after marking why, as upstream's DisruptionTarget condition).
    pub async fn evict_victim(&self, victim: &Pod, preemptor: &Pod) -> Result<(), kube::Error> {
        let (ns, name) = ns_and_name(victim);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let condition = json!({"status": {"conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": format!("{}: preempting to accommodate a higher priority pod", self.scheduler_name),
            "lastTransitionTime": Time(jiff::Timestamp::now()),
        }]}});
        let params = PatchParams { field_manager: Some(self.scheduler_name.clone()), ..Default::default() };
        let _ = api.patch_status(&name, &params, &Patch::Strategic(condition)).await;
        self.event(victim, "Normal", "Preempted", "Preempting", &format!(
            "Preempted by pod {}",
            preemptor.metadata.uid.as_deref().unwrap_or_default()
        ))
        .await;
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Queues an events.k8s.io/v1 Event about a pod for the recorder; failures to write it
    /// are logged, never fatal.
    pub async fn event(&self, pod: &Pod, type_: &str, reason: &str, action: &str, note: &str) {
        let (ns, name) = ns_and_name(pod);
        let now = jiff::Timestamp::now();
        let event = Event {
            metadata: ObjectMeta { name: Some(format!("{name}.{:x}", now.as_nanosecond())), namespace: Some(ns.clone()), ..Default::default() },
            event_time: Some(MicroTime(now)),
            reporting_controller: Some(self.scheduler_name.clone()),
            reporting_instance: Some(self.instance.clone()),
            action: Some(action.into()),
            reason: Some(reason.into()),
            note: Some(note.into()),
            type_: Some(type_.into()),
            regarding: Some(ObjectReference {
                kind: Some("Pod".into()),
                api_version: Some("v1".into()),
                namespace: Some(ns.clone()),
                name: Some(name),
                uid: pod.metadata.uid.clone(),
                resource_version: pod.metadata.resource_version.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        if self.events.send(event).is_err() {
            tracing::warn!(reason, "cannot record scheduler event: the recorder has stopped");
        }
    }
}
