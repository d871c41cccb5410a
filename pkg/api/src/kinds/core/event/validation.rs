//! Events, stored in core/v1 form: lenient rules for core/v1 writes, strict ones for events.k8s.io.
//!
//! Events written through core/v1 get only upstream's legacy checks plus the generic metadata
//! checks every registry applies; events.k8s.io/v1 writes add the strict rules.

use k8s_openapi::api::core::v1::{Event, ObjectReference};
use serde_json::Value;

use crate::validation::field::{go_struct, BadValue, FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::validation::names;

const SHORT_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

fn text(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// The internal ObjectReference as Go prints it (no JSON tags, declaration order).
fn reference_value(r: &ObjectReference) -> Value {
    let f = |s: &Option<String>| Value::from(text(s));
    serde_json::from_str(&go_struct(&[
        ("Kind", f(&r.kind)),
        ("Namespace", f(&r.namespace)),
        ("Name", f(&r.name)),
        ("UID", f(&r.uid)),
        ("APIVersion", f(&r.api_version)),
        ("ResourceVersion", f(&r.resource_version)),
        ("FieldPath", f(&r.field_path)),
    ]))
    .unwrap_or_default()
}

/// `legacyValidateEvent`, which every event write must pass.
fn legacy(e: &Event) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = text(&e.metadata.namespace);
    let involved_ns = text(&e.involved_object.namespace);
    let ns_path = Path::of(&["involvedObject", "namespace"]);
    let mismatch = || FieldError::invalid(&ns_path, involved_ns, "does not match event.namespace");
    if e.event_time.is_none() {
        if (involved_ns.is_empty() && !ns.is_empty() && ns != "default") || (!involved_ns.is_empty() && ns != involved_ns) {
            errs.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        let controller = text(&e.reporting_component);
        if controller.is_empty() {
            errs.push(FieldError::required(&Path::new("reportingController"), ""));
        }
        errs.extend(
            names::is_qualified_name(controller).into_iter().map(|m| FieldError::invalid(&Path::new("reportingController"), controller, m)),
        );
        let limited = [
            ("reportingInstance", text(&e.reporting_instance), SHORT_LIMIT, true),
            ("action", text(&e.action), SHORT_LIMIT, true),
            ("reason", text(&e.reason), SHORT_LIMIT, true),
            ("message", text(&e.message), NOTE_LIMIT, false),
        ];
        for (field, value, limit, required) in limited {
            if required && value.is_empty() {
                errs.push(FieldError::required(&Path::new(field), ""));
            }
            if value.len() > limit {
                errs.push(FieldError::invalid(&Path::new(field), "", format!("can have at most {limit} characters")));
            }
        }
    }
    errs.extend(names::is_dns1123_subdomain(ns).into_iter().map(|m| FieldError::invalid(&Path::new("namespace"), ns, m)));
    errs
}

fn series(e: &Event) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(s) = &e.series {
        if s.count.unwrap_or(0) < 2 {
            errs.push(FieldError::invalid(&Path::new("series.count"), "", "should be at least 2"));
        }
        if s.last_observed_time.is_none() {
            errs.push(FieldError::required(&Path::new("series.lastObservedTime"), ""));
        }
    }
    errs
}

/// Create through core/v1.
pub fn validate_event(e: &Event) -> Vec<FieldError> {
    let mut errs = legacy(e);
    errs.extend(meta::object_meta(&e.metadata, true, NameRule::PathSegment, false));
    errs
}

/// Update through core/v1.
pub fn validate_event_update(new: &Event, old: &Event) -> Vec<FieldError> {
    let mut errs = legacy(new);
    errs.extend(meta::object_meta_update(&new.metadata, &old.metadata, false));
    errs
}

/// Create through events.k8s.io/v1.
pub fn validate_event_strict(e: &Event) -> Vec<FieldError> {
    let mut errs = legacy(e);
    errs.extend(meta::validate_object_meta(&e.metadata, true, NameRule::Dns1123Subdomain));
    errs.extend(series(e));
    if e.event_time.is_none() {
        errs.push(FieldError::required(&Path::new("eventTime"), ""));
    }
    let ty = text(&e.type_);
    if ty != "Normal" && ty != "Warning" {
        errs.push(FieldError::invalid(&Path::new("type"), "", format!("has invalid value: {ty}")));
    }
    let unset = [
        ("firstTimestamp", e.first_timestamp.is_some()),
        ("lastTimestamp", e.last_timestamp.is_some()),
        ("count", e.count.unwrap_or(0) != 0),
        ("source", e.source.as_ref().is_some_and(|s| !text(&s.component).is_empty() || !text(&s.host).is_empty())),
    ];
    for (field, set) in unset {
        if set {
            errs.push(FieldError::invalid(&Path::new(field), "", "needs to be unset"));
        }
    }
    errs
}

/// Update through events.k8s.io/v1: everything but the series is fixed.
pub fn validate_event_update_strict(new: &Event, old: &Event) -> Vec<FieldError> {
    let mut errs = legacy(new);
    errs.extend(meta::validate_object_meta_update(&new.metadata, &old.metadata));
    if new.series != old.series {
        errs.extend(series(new));
    }
    let source = |e: &Event| {
        let s = e.source.clone().unwrap_or_default();
        serde_json::from_str::<Value>(&go_struct(&[("Component", text(&s.component).into()), ("Host", text(&s.host).into())]))
            .unwrap_or_default()
    };
    let related = |e: &Event| e.related.as_ref().map(reference_value).unwrap_or(Value::Null);
    let fields: [(&str, Value, Value); 14] = [
        ("involvedObject", reference_value(&new.involved_object), reference_value(&old.involved_object)),
        ("reason", text(&new.reason).into(), text(&old.reason).into()),
        ("message", text(&new.message).into(), text(&old.message).into()),
        ("source", source(new), source(old)),
        ("firstTimestamp", json(&new.first_timestamp), json(&old.first_timestamp)),
        ("lastTimestamp", json(&new.last_timestamp), json(&old.last_timestamp)),
        ("count", new.count.unwrap_or(0).into(), old.count.unwrap_or(0).into()),
        ("reason", text(&new.reason).into(), text(&old.reason).into()),
        ("type", text(&new.type_).into(), text(&old.type_).into()),
        ("eventTime", json(&new.event_time), json(&old.event_time)),
        ("action", text(&new.action).into(), text(&old.action).into()),
        ("related", related(new), related(old)),
        ("reportingController", text(&new.reporting_component).into(), text(&old.reporting_component).into()),
        ("reportingInstance", text(&new.reporting_instance).into(), text(&old.reporting_instance).into()),
    ];
    for (field, n, o) in fields {
        if n != o {
            let value = match &n {
                Value::String(s) => BadValue::Str(s.clone()),
                other => BadValue::Json(other.clone()),
            };
            errs.push(FieldError::invalid(&Path::new(field), value, meta::IMMUTABLE));
        }
    }
    errs
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::strings;
    use serde_json::json;

    fn event(v: serde_json::Value) -> Event {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn core_event_cases() {
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!({"metadata": {"name": "e.1", "namespace": "ns"}, "involvedObject": {"namespace": "ns"}}), vec![]),
            (json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {}}), vec![]),
            (
                json!({"metadata": {"name": "e", "namespace": "ns"}, "involvedObject": {"namespace": "other"}}),
                vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"],
            ),
            (
                json!({"metadata": {"name": "e", "namespace": "ns"}, "involvedObject": {}}),
                vec!["involvedObject.namespace: Invalid value: \"\": does not match event.namespace"],
            ),
            (
                json!({"metadata": {"name": "a/b", "namespace": "ns"}, "involvedObject": {"namespace": "ns"}}),
                vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"],
            ),
            (
                json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {}, "eventTime": "2024-01-01T00:00:00.000000Z",
                "reportingInstance": "i", "action": "a", "reason": "r"}),
                vec![
                    "reportingController: Required value",
                    "reportingController: Invalid value: \"\": name part must be non-empty",
                    "reportingController: Invalid value: \"\": name part must consist of alphanumeric characters",
                ],
            ),
        ];
        for (input, want) in cases {
            let got = strings(validate_event(&event(input.clone())));
            assert_eq!(got.len(), want.len(), "{input}: {got:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.starts_with(w), "{input}: got {g:?}, want prefix {w:?}");
            }
        }
    }

    #[test]
    fn strict_event_cases() {
        let ok = json!({"metadata": {"name": "e", "namespace": "ns"}, "involvedObject": {"namespace": "ns"}, "eventTime": "2024-01-01T00:00:00.000000Z",
            "reportingComponent": "example.com/ctl", "reportingInstance": "i", "action": "Act", "reason": "R", "type": "Normal"});
        assert!(validate_event_strict(&event(ok.clone())).is_empty());
        let mut bad = ok.clone();
        bad["type"] = json!("Odd");
        bad["count"] = json!(3);
        bad["series"] = json!({"count": 1});
        assert_eq!(
            strings(validate_event_strict(&event(bad))),
            vec![
                "series.count: Invalid value: \"\": should be at least 2",
                "series.lastObservedTime: Required value",
                "type: Invalid value: \"\": has invalid value: Odd",
                "count: Invalid value: \"\": needs to be unset",
            ]
        );
        let mut old = ok.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut new = old.clone();
        new["reason"] = json!("Other");
        // Upstream checks reason twice; the causes drop the repeat.
        let errs = validate_event_update_strict(&event(new), &event(old));
        assert_eq!(strings(errs.clone()), vec!["reason: Invalid value: \"Other\": field is immutable"; 2]);
        assert_eq!(crate::validation::to_causes(&errs).len(), 1);
    }
}
