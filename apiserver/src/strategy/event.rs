//! events.k8s.io/v1 Events are core/v1 Events in storage, converted on the way in and out.

use serde_json::Value;

pub fn to_events_v1(core: Value) -> Value {
    corekube_api::events::core_to_events_v1(core)
}

pub fn to_core(v1: Value) -> Value {
    corekube_api::events::events_v1_to_core(v1)
}
