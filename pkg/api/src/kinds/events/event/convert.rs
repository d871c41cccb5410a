//! Conversion between the stored core/v1 Event and its events.k8s.io/v1 form.
//!
//! Events are stored once, as core/v1, and served under both groups. The two forms carry the
//! same data under different names (upstream `pkg/apis/events/v1/conversion.go` maps both
//! through the internal core Event), so conversion renames top-level keys and moves their
//! values untouched; nested objects (metadata, references, series) keep every field they have.
//! Top-level keys neither form defines are dropped, as upstream decoding would drop them.

use serde_json::{Map, Value};

pub const CORE_API_VERSION: &str = "v1";
pub const EVENTS_API_VERSION: &str = "events.k8s.io/v1";
const KIND: &str = "Event";

/// Each pair is (core/v1 name, events.k8s.io/v1 name) of the same field.
const FIELD_NAMES: &[(&str, &str)] = &[
    ("metadata", "metadata"),
    ("involvedObject", "regarding"),
    ("related", "related"),
    ("message", "note"),
    ("reason", "reason"),
    ("type", "type"),
    ("action", "action"),
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("reportingComponent", "reportingController"),
    ("reportingInstance", "reportingInstance"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// A stored core/v1 Event (JSON with kind/apiVersion) as an events.k8s.io/v1 Event JSON object.
pub fn core_to_events_v1(core: Value) -> Value {
    rename_fields(core, |(core_name, v1_name)| (core_name, v1_name), EVENTS_API_VERSION)
}

/// An events.k8s.io/v1 Event JSON object as the core/v1 form to store.
pub fn events_v1_to_core(v1: Value) -> Value {
    rename_fields(v1, |(core_name, v1_name)| (v1_name, core_name), CORE_API_VERSION)
}

/// Moves every mapped field from its source name to its target name and stamps kind and
/// apiVersion; `direction` turns a `FIELD_NAMES` pair into (source name, target name). A value
/// that is not a JSON object is returned as is.
fn rename_fields(
    object: Value,
    direction: impl Fn((&'static str, &'static str)) -> (&'static str, &'static str),
    api_version: &str,
) -> Value {
    let Value::Object(mut source) = object else {
        return object;
    };
    let mut target = Map::new();
    target.insert("kind".to_string(), Value::String(KIND.to_string()));
    target.insert("apiVersion".to_string(), Value::String(api_version.to_string()));
    for &pair in FIELD_NAMES {
        let (from, to) = direction(pair);
        if let Some(value) = source.remove(from) {
            target.insert(to.to_string(), value);
        }
    }
    Value::Object(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A core/v1 Event with every field set.
    fn full_core() -> Value {
        json!({
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": "web.17a",
                "namespace": "default",
                "uid": "6f1c",
                "resourceVersion": "42",
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "labels": {"a": "b"},
                "managedFields": [{"manager": "kubelet", "operation": "Update"}]
            },
            "involvedObject": {
                "kind": "Pod", "namespace": "default", "name": "web", "uid": "u1",
                "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{app}"
            },
            "related": {"kind": "Node", "name": "n1", "apiVersion": "v1"},
            "message": "Pulled image",
            "reason": "Pulled",
            "type": "Normal",
            "action": "Pulling",
            "eventTime": "2024-01-02T03:04:05.123456Z",
            "series": {"count": 3, "lastObservedTime": "2024-01-02T03:05:00.000001Z"},
            "reportingComponent": "kubelet",
            "reportingInstance": "n1",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-01-02T03:04:05Z",
            "lastTimestamp": "2024-01-02T03:05:00Z",
            "count": 4
        })
    }

    /// The events.k8s.io/v1 form of `full_core`.
    fn full_v1() -> Value {
        json!({
            "kind": "Event",
            "apiVersion": "events.k8s.io/v1",
            "metadata": {
                "name": "web.17a",
                "namespace": "default",
                "uid": "6f1c",
                "resourceVersion": "42",
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "labels": {"a": "b"},
                "managedFields": [{"manager": "kubelet", "operation": "Update"}]
            },
            "regarding": {
                "kind": "Pod", "namespace": "default", "name": "web", "uid": "u1",
                "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{app}"
            },
            "related": {"kind": "Node", "name": "n1", "apiVersion": "v1"},
            "note": "Pulled image",
            "reason": "Pulled",
            "type": "Normal",
            "action": "Pulling",
            "eventTime": "2024-01-02T03:04:05.123456Z",
            "series": {"count": 3, "lastObservedTime": "2024-01-02T03:05:00.000001Z"},
            "reportingController": "kubelet",
            "reportingInstance": "n1",
            "deprecatedSource": {"component": "kubelet", "host": "n1"},
            "deprecatedFirstTimestamp": "2024-01-02T03:04:05Z",
            "deprecatedLastTimestamp": "2024-01-02T03:05:00Z",
            "deprecatedCount": 4
        })
    }

    #[test]
    fn full_objects_convert_both_ways() {
        assert_eq!(core_to_events_v1(full_core()), full_v1());
        assert_eq!(events_v1_to_core(full_v1()), full_core());
    }

    #[test]
    fn round_trips_give_back_the_input() {
        let minimal_core = json!({
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": "Started"
        });
        let minimal_v1 = json!({
            "kind": "Event", "apiVersion": "events.k8s.io/v1",
            "metadata": {"name": "e", "namespace": "ns"},
            "regarding": {"kind": "Pod", "name": "p"},
            "eventTime": "2024-01-02T03:04:05.000000Z",
            "reportingController": "c", "reportingInstance": "i", "action": "a"
        });
        let nulls_core = json!({
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": "e"},
            "eventTime": null, "firstTimestamp": null, "lastTimestamp": null, "source": {}
        });
        for core in [full_core(), minimal_core, nulls_core] {
            assert_eq!(events_v1_to_core(core_to_events_v1(core.clone())), core);
        }
        for v1 in [full_v1(), minimal_v1] {
            assert_eq!(core_to_events_v1(events_v1_to_core(v1.clone())), v1);
        }
    }

    #[test]
    fn field_names_map_one_to_one() {
        // (core/v1 field, events.k8s.io/v1 field, sample value)
        let cases = [
            ("involvedObject", "regarding", json!({"kind": "Pod"})),
            ("related", "related", json!({"kind": "Node"})),
            ("message", "note", json!("m")),
            ("reason", "reason", json!("r")),
            ("type", "type", json!("Warning")),
            ("action", "action", json!("a")),
            ("eventTime", "eventTime", json!("2024-01-02T03:04:05.000000Z")),
            ("series", "series", json!({"count": 2, "lastObservedTime": "2024-01-02T03:04:05.000000Z"})),
            ("reportingComponent", "reportingController", json!("kubelet")),
            ("reportingInstance", "reportingInstance", json!("n1")),
            ("source", "deprecatedSource", json!({"component": "c"})),
            ("firstTimestamp", "deprecatedFirstTimestamp", json!("2024-01-02T03:04:05Z")),
            ("lastTimestamp", "deprecatedLastTimestamp", json!("2024-01-02T03:04:05Z")),
            ("count", "deprecatedCount", json!(5)),
            ("metadata", "metadata", json!({"name": "e"})),
        ];
        for (core_name, v1_name, value) in cases {
            let v1 = core_to_events_v1(json!({"kind": "Event", "apiVersion": "v1", core_name: value.clone()}));
            assert_eq!(v1, json!({"kind": "Event", "apiVersion": "events.k8s.io/v1", v1_name: value.clone()}));
            let core = events_v1_to_core(json!({"kind": "Event", "apiVersion": "events.k8s.io/v1", v1_name: value.clone()}));
            assert_eq!(core, json!({"kind": "Event", "apiVersion": "v1", core_name: value}));
        }
    }

    #[test]
    fn names_of_the_other_form_and_unknown_keys_are_dropped() {
        let cases = [
            (core_to_events_v1(json!({"note": "x", "regarding": {}, "bogus": 1})), "events.k8s.io/v1"),
            (events_v1_to_core(json!({"message": "x", "involvedObject": {}, "bogus": 1})), "v1"),
        ];
        for (converted, api_version) in cases {
            assert_eq!(converted, json!({"kind": "Event", "apiVersion": api_version}));
        }
    }

    #[test]
    fn kind_and_api_version_are_stamped() {
        let cases = [
            (core_to_events_v1(json!({})), "events.k8s.io/v1"),
            (core_to_events_v1(json!({"kind": "Other", "apiVersion": "x/v9"})), "events.k8s.io/v1"),
            (events_v1_to_core(json!({})), "v1"),
            (events_v1_to_core(json!({"kind": "Other", "apiVersion": "x/v9"})), "v1"),
        ];
        for (converted, api_version) in cases {
            assert_eq!(converted["kind"], "Event");
            assert_eq!(converted["apiVersion"], api_version);
        }
    }

    #[test]
    fn non_objects_pass_through() {
        for value in [json!(null), json!("event"), json!([1, 2])] {
            assert_eq!(core_to_events_v1(value.clone()), value);
            assert_eq!(events_v1_to_core(value.clone()), value);
        }
    }
}
