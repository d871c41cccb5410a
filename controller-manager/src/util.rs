//! What several controllers share: their context (client, event recorder, requeue backoff),
//! owner references, label selectors and pod readiness as upstream's controller utilities
//! define them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::core::{Selector, SelectorExt};
use corekube_client::events::Recorder;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::Client;

use crate::requeue::Backoff;

/// What every reconcile of one controller gets.
pub struct Ctx<K: kube::Resource<DynamicType = ()>> {
    pub client: Client,
    pub recorder: Recorder,
    pub backoff: Backoff<ObjectRef<K>>,
}

impl<K: kube::Resource<DynamicType = ()>> Ctx<K> {
    pub fn new(client: Client, controller: &str) -> Arc<Self> {
        Arc::new(Ctx { recorder: Recorder::new(client.clone(), controller), client, backoff: Backoff::default() })
    }

    /// Records an event about `object` (core/v1, repeats counted, as upstream's controllers);
    /// an event that cannot be written is only logged.
    pub async fn event(&self, object: &ObjectReference, type_: EventType, reason: &str, note: String) {
        let type_ = match type_ {
            EventType::Normal => corekube_client::events::EventType::Normal,
            EventType::Warning => corekube_client::events::EventType::Warning,
        };
        self.recorder.record(object, type_, reason, note).await;
    }
}

/// The owner reference marked `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

/// The reference a controller puts on what it creates or adopts (upstream's NewControllerRef).
pub fn controller_ref<K: kube::Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A label selector as a matcher; an invalid one (the API server refuses those) matches nothing.
pub fn selector(s: Option<&LabelSelector>) -> Option<Selector> {
    let s = s?.clone();
    Selector::try_from(s).ok()
}

pub fn selector_matches(s: &Selector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    s.matches(labels.unwrap_or(&empty))
}

/// Upstream's IsPodActive: not finished and not being deleted.
pub fn is_pod_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded") | Some("Failed")) && pod.metadata.deletion_timestamp.is_none()
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")
}

pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// Upstream's IsPodAvailable: ready for at least `min_ready_seconds` by `now`.
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    let Some(c) = ready_condition(pod).filter(|c| c.status == "True") else { return false };
    if min_ready_seconds <= 0 {
        return true;
    }
    match &c.last_transition_time {
        Some(t) => t.0 + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) < now,
        None => false,
    }
}

/// When a ready pod becomes available, if it is not yet (for a requeue).
pub fn until_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> Option<Duration> {
    let c = ready_condition(pod).filter(|c| c.status == "True")?;
    let at = c.last_transition_time.as_ref()?.0 + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds));
    let left = at.duration_since(now);
    (left.is_positive()).then(|| Duration::from_millis(left.as_millis().max(0) as u64 + 1000))
}

pub fn namespace_and_name(meta: &ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
}

/// A reconcile that panicked: kept as an error so the controller requeues the object with
/// backoff and goes on with the others, instead of losing its whole loop.
#[derive(Debug, thiserror::Error)]
#[error("reconcile panicked: {0}")]
pub struct Panicked(pub String);

/// Runs one reconcile and turns a panic into `Panicked`.
pub async fn guarded<T, E: From<Panicked>>(reconcile: impl std::future::Future<Output = Result<T, E>>) -> Result<T, E> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(reconcile).catch_unwind().await {
        Ok(r) => r,
        Err(payload) => {
            let what = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_default();
            tracing::error!(panic = %what, "a reconcile panicked; the object is requeued");
            Err(Panicked(what).into())
        }
    }
}
