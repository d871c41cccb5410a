//! What the scheduler writes through the API: bindings, the PodScheduled condition and
//! nominated node, events, and preemption's deletions.

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// The scheduler's writer: an API client plus how it names itself in events.
#[derive(Clone)]
pub struct Writer {
    pub client: Client,
    /// `reportingController` of events, and the field manager of its writes.
    pub scheduler_name: String,
    /// `reportingInstance`: the scheduler name and host, as upstream.
    pub instance: String,
}

fn ns_and_name(pod: &Pod) -> (String, String) {
    (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
}

impl Writer {
    /// POST pods/{name}/binding.
    pub async fn bind(&self, pod: &Pod, node: &str) -> Result<(), kube::Error> {
        let (ns, name) = ns_and_name(pod);
        let binding = Binding {
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(ns.clone()), uid: pod.metadata.uid.clone(), ..Default::default() },
            target: ObjectReference { kind: Some("Node".into()), api_version: Some("v1".into()), name: Some(node.to_string()), ..Default::default() },
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        api.create_subresource::<Binding, serde_json::Value>("binding", &name, &PostParams::default(), &binding).await.map(|_| ())
    }

    /// Marks the pod unschedulable (condition PodScheduled=False, reason Unschedulable), and
    /// records the node preemption made room on, if any.
    pub async fn mark_unschedulable(&self, pod: &Pod, message: &str, nominated_node: Option<&str>) -> Result<(), kube::Error> {
        let (ns, name) = ns_and_name(pod);
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
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let params = PatchParams { field_manager: Some(self.scheduler_name.clone()), ..Default::default() };
        api.patch_status(&name, &params, &Patch::Strategic(json!({"status": status}))).await.map(|_| ())
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

    /// Records an events.k8s.io/v1 Event about a pod; failures are logged, never fatal.
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
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(error = %e, reason, "cannot record scheduler event");
        }
    }
}
