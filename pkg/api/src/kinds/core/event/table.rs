//! Event printers for core/v1 and events.k8s.io/v1, which upstream prints alike.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{int, name, parse_time, since, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(EVENT_COLUMNS, core_event_cells);
/// Upstream serves events.k8s.io Events from the core Event storage and printer.
pub(crate) static EVENTS_V1_PRINTER: Printer = Printer::of(EVENT_COLUMNS, events_v1_event_cells);

// Upstream's column order interleaves wide columns; cells follow the same order.
const EVENT_COLUMNS: &[Column] = &[
    Column::new("Last Seen", "string", doc::EVENT_LAST_TIMESTAMP),
    Column::new("Type", "string", doc::EVENT_TYPE),
    Column::new("Reason", "string", doc::EVENT_REASON),
    Column::new("Object", "string", doc::EVENT_INVOLVED_OBJECT),
    Column::wide("Subobject", "string", doc::OBJECT_REFERENCE_FIELD_PATH),
    Column::wide("Source", "string", doc::EVENT_SOURCE),
    Column::new("Message", "string", doc::EVENT_MESSAGE),
    Column::wide("First Seen", "string", doc::EVENT_FIRST_TIMESTAMP),
    Column::wide("Count", "string", doc::EVENT_COUNT),
    Column::NAME_WIDE,
];

/// An events.k8s.io/v1 Event, printed through its core/v1 form as upstream does.
fn events_v1_event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    core_event_cells(&crate::kinds::events::event::convert::events_v1_to_core(event.clone()), now)
}

fn core_event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    // New-API events have no firstTimestamp, only eventTime.
    let first_seen = if parse_time(event.get("firstTimestamp")).is_some() {
        since(event.get("firstTimestamp"), now)
    } else {
        since(event.get("eventTime"), now)
    };
    let mut last_seen = if parse_time(event.get("lastTimestamp")).is_some() {
        since(event.get("lastTimestamp"), now)
    } else {
        first_seen.clone()
    };
    let mut count = int(event, "/count");
    if let Some(series) = event.get("series").filter(|s| !s.is_null()) {
        last_seen = since(series.get("lastObservedTime"), now);
        count = int(series, "/count");
    } else if count == 0 {
        // Singleton events of the new API leave count unset.
        count = 1;
    }

    let kind = text(event, "/involvedObject/kind").to_lowercase();
    let object = match text(event, "/involvedObject/name") {
        "" => kind,
        involved => format!("{kind}/{involved}"),
    };
    vec![
        json!(last_seen),
        json!(text(event, "/type")),
        json!(text(event, "/reason")),
        json!(object),
        json!(text(event, "/involvedObject/fieldPath")),
        json!(source(event)),
        json!(text(event, "/message").trim()),
        json!(first_seen),
        json!(count),
        json!(name(event)),
    ]
}

/// `component, host` from `source`, falling back to the reporting controller and instance.
fn source(event: &Value) -> String {
    let first_non_empty = |a: &'static str, b: &'static str| match text(event, a) {
        "" => text(event, b),
        s => s,
    };
    let component = first_non_empty("/source/component", "/reportingComponent");
    match first_non_empty("/source/host", "/reportingInstance") {
        "" => component.to_string(),
        host => format!("{component}, {host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn core_event_cells_cases() {
        let cases = [
            (
                "classic event",
                json!({"metadata": {"name": "web-1.17a"}, "type": "Normal", "reason": "Scheduled",
                       "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
                       "source": {"component": "default-scheduler", "host": "node-1"},
                       "message": " Successfully assigned default/web-1 to node-1\n",
                       "firstTimestamp": "2024-05-01T11:00:00Z", "lastTimestamp": "2024-05-01T11:58:00Z", "count": 3}),
                json!([
                    "2m",
                    "Normal",
                    "Scheduled",
                    "pod/web-1",
                    "spec.containers{app}",
                    "default-scheduler, node-1",
                    "Successfully assigned default/web-1 to node-1",
                    "60m",
                    3,
                    "web-1.17a"
                ]),
            ),
            (
                "new-API singleton: eventTime and reporting fields",
                json!({"metadata": {"name": "e2"}, "type": "Warning", "reason": "Failed",
                       "involvedObject": {"kind": "Node", "name": ""}, "eventTime": "2024-05-01T11:59:00.000000Z",
                       "reportingComponent": "kubelet", "reportingInstance": "node-2", "message": "m"}),
                json!([
                    "60s",
                    "Warning",
                    "Failed",
                    "node",
                    "",
                    "kubelet, node-2",
                    "m",
                    "60s",
                    1,
                    "e2"
                ]),
            ),
            (
                "series overrides last seen and count",
                json!({"metadata": {"name": "e3"}, "involvedObject": {"kind": "Deployment", "name": "d"},
                       "source": {"component": "deployment-controller"},
                       "eventTime": "2024-05-01T10:00:00.000000Z",
                       "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:30.000000Z"}}),
                json!([
                    "30s",
                    "",
                    "",
                    "deployment/d",
                    "",
                    "deployment-controller",
                    "",
                    "120m",
                    7,
                    "e3"
                ]),
            ),
            (
                "no times at all",
                json!({"metadata": {"name": "e4"}}),
                json!(["<unknown>", "", "", "", "", "", "", "<unknown>", 1, "e4"]),
            ),
        ];
        for (case, obj, want) in cases {
            assert_eq!(json!(core_event_cells(&obj, now())), want, "{case}");
        }
    }

    #[test]
    fn events_v1_form_prints_like_core() {
        let v1 = json!({"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": {"name": "e"},
                        "type": "Normal", "reason": "Pulled", "note": "pulled image",
                        "regarding": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
                        "reportingController": "kubelet", "reportingInstance": "n1",
                        "eventTime": "2024-05-01T11:55:00.000000Z",
                        "deprecatedFirstTimestamp": "2024-05-01T11:50:00Z",
                        "deprecatedLastTimestamp": "2024-05-01T11:58:00Z", "deprecatedCount": 2});
        assert_eq!(
            json!(events_v1_event_cells(&v1, now())),
            json!([
                "2m",
                "Normal",
                "Pulled",
                "pod/p",
                "spec.containers{c}",
                "kubelet, n1",
                "pulled image",
                "10m",
                2,
                "e"
            ])
        );
    }
}
