//! An event recorder as client-go's record.EventRecorder, which upstream's controllers use:
//! core/v1 Events with `source.component`, and a repeat of the same event (same object, type,
//! reason and message) counted on the first one (`count`, `lastTimestamp`) instead of
//! written again. kube-rs's recorder keys repeats by reason alone, so "Scaled up replica set
//! a" and "Scaled down replica set b" would merge into one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// How long a repeat is counted on the earlier event (client-go keeps its cache bounded too).
const REPEAT_WINDOW: Duration = Duration::from_secs(10 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

#[derive(Hash, PartialEq, Eq)]
struct Key {
    object: String,
    type_: &'static str,
    reason: String,
    message: String,
}

struct Seen {
    name: String,
    namespace: String,
    count: i32,
    at: Instant,
}

pub struct Recorder {
    client: Client,
    component: String,
    host: String,
    seen: Mutex<HashMap<Key, Seen>>,
}

impl Recorder {
    pub fn new(client: Client, component: &str) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
        Recorder { client, component: component.into(), host, seen: Mutex::new(HashMap::new()) }
    }

    /// Records an event about `object`; failures are logged, never returned (an event is
    /// never a reason for a controller to fail).
    pub async fn record(&self, object: &ObjectReference, type_: EventType, reason: &str, message: String) {
        let type_ = match type_ {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        };
        let namespace = object.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into());
        let key = Key { object: object.uid.clone().unwrap_or_default(), type_, reason: reason.into(), message: message.clone() };
        let now = Time(jiff::Timestamp::now());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let repeat = {
            let mut seen = self.seen.lock().expect("events lock");
            seen.retain(|_, s| s.at.elapsed() < REPEAT_WINDOW);
            seen.get_mut(&key).map(|s| {
                s.count += 1;
                s.at = Instant::now();
                (s.name.clone(), s.namespace.clone(), s.count)
            })
        };
        if let Some((name, ns, count)) = repeat {
            let patch = json!({"count": count, "lastTimestamp": now});
            let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
            if api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await.is_ok() {
                return;
            }
        }
        let name = format!("{}.{:x}", object.name.as_deref().unwrap_or("unknown"), jiff::Timestamp::now().as_nanosecond());
        let event = Event {
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(namespace.clone()), ..Default::default() },
            involved_object: object.clone(),
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(type_.into()),
            count: Some(1),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            source: Some(EventSource { component: Some(self.component.clone()), host: None }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.host.clone()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                self.seen.lock().expect("events lock").insert(key, Seen { name, namespace, count: 1, at: Instant::now() });
            }
            Err(e) => tracing::debug!(reason, error = %e, "cannot record an event"),
        }
    }
}
