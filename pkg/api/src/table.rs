//! Server-side printing: objects as `meta.k8s.io/v1` Tables with upstream's columns per kind.
//!
//! The real apiserver always generates the wide cells (`-o wide` is applied by kubectl, which
//! hides `priority > 0` columns), so every printer here emits all of its columns.

pub(crate) mod descriptions;
pub(crate) mod format;

use jiff::Timestamp;
use serde_json::{json, Map, Value};

use descriptions as doc;

/// One metav1.TableColumnDefinition.
#[derive(Debug)]
pub struct Column {
    name: &'static str,
    /// OpenAPI type: string, integer, number, boolean or date.
    kind: &'static str,
    format: &'static str,
    description: &'static str,
    priority: i64,
}

impl Column {
    pub const fn new(name: &'static str, kind: &'static str, description: &'static str) -> Self {
        Column {
            name,
            kind,
            format: "",
            description,
            priority: 0,
        }
    }

    /// A column kubectl shows only with `-o wide`.
    pub const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Self {
        Column {
            name,
            kind,
            format: "",
            description,
            priority: 1,
        }
    }

    /// The `Name` column, marked with format `name`.
    pub const NAME: Column = Column {
        name: "Name",
        kind: "string",
        format: "name",
        description: doc::OBJECT_NAME,
        priority: 0,
    };

    /// The `Name` column again, shown only with `-o wide` (upstream's event printer ends with it).
    pub const NAME_WIDE: Column = Column { priority: 1, ..Column::NAME };

    pub const AGE: Column = Column::new("Age", "string", doc::OBJECT_CREATION_TIMESTAMP);

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The printer of one kind: its columns and how to fill a row's cells, in column order. A kind's
/// registry entry names its printer (see `Behaviour::printer`).
#[derive(Debug)]
pub struct Printer {
    columns: &'static [Column],
    cells: fn(&Value, Timestamp) -> Vec<Value>,
    /// Row conditions upstream adds (a finished pod's `Completed`).
    conditions: Option<fn(&Value) -> Option<Value>>,
}

impl Printer {
    pub const fn of(columns: &'static [Column], cells: fn(&Value, Timestamp) -> Vec<Value>) -> Self {
        Printer { columns, cells, conditions: None }
    }

    /// The same printer, adding upstream's row conditions.
    pub const fn with_conditions(self, conditions: fn(&Value) -> Option<Value>) -> Self {
        Printer { conditions: Some(conditions), ..self }
    }
}

// The printers of the served kinds; each kind's behaviour points at its own.

/// Upstream's DefaultTableConvertor, for kinds without a printer.
const DEFAULT_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Created At", "date", doc::OBJECT_CREATION_TIMESTAMP),
];

fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    crate::kinds::printer(group, kind)
}

fn default_cells(obj: &Value) -> Vec<Value> {
    // A missing timestamp is Go's zero time, which RFC3339 renders as year 1.
    let created = format::parse_time(obj.pointer("/metadata/creationTimestamp")).map_or_else(
        || "0001-01-01T00:00:00Z".to_string(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    vec![json!(format::name(obj)), json!(created)]
}

/// Column definitions (metav1.TableColumnDefinition JSON objects: name, type, format,
/// description, priority) for objects of `kind` in `group` ("" = core). Unknown kinds get
/// upstream's default table: `Name` (format `name`) and `Created At` (type `date`).
pub fn columns(group: &str, kind: &str) -> Vec<Value> {
    columns_of(printer(group, kind))
}

fn columns_of(printer: Option<&Printer>) -> Vec<Value> {
    let columns = printer.map_or(DEFAULT_COLUMNS, |p| p.columns);
    columns.iter().map(Column::to_json).collect()
}

/// The cells of one row for a stored object (JSON as served, with kind/apiVersion), in column
/// order. `now` is the current time for AGE cells.
pub fn cells(group: &str, kind: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    cells_of(printer(group, kind), obj, now)
}

fn cells_of(printer: Option<&Printer>, obj: &Value, now: Timestamp) -> Vec<Value> {
    match printer {
        Some(p) => (p.cells)(obj, now),
        None => default_cells(obj),
    }
}

/// A whole metav1.Table JSON object (kind Table, apiVersion meta.k8s.io/v1) for `objects`.
///
/// `include_object` is the includeObject query parameter: "None" (rows carry `"object": null`),
/// "Metadata" (also for "": each row's object is a PartialObjectMetadata with the object's
/// metadata) or "Object" (the object itself). Callers reject other values with a 400 first, as
/// upstream does; here they fall back to "Metadata". `with_columns` false leaves
/// `columnDefinitions` null, as upstream's `noHeaders` does for watch events after the first.
/// `list_meta` is the list's metadata (resourceVersion, continue, remainingItemCount) to copy
/// into the Table's metadata; for a single object pass `{"resourceVersion": <its RV>}`.
pub fn table(
    group: &str,
    kind: &str,
    objects: &[Value],
    include_object: &str,
    with_columns: bool,
    list_meta: Value,
    now: Timestamp,
) -> Value {
    table_with(printer(group, kind), objects, include_object, with_columns, list_meta, now)
}

/// [`table`] with the printer already looked up (a registry entry's), None for upstream's
/// default table.
pub fn table_with(
    printer: Option<&Printer>,
    objects: &[Value],
    include_object: &str,
    with_columns: bool,
    list_meta: Value,
    now: Timestamp,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| row(printer, obj, include_object, now))
        .collect();
    let column_definitions = if with_columns {
        Value::Array(columns_of(printer))
    } else {
        Value::Null
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": table_metadata(list_meta),
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

/// Upstream's HumanDuration ("5s", "3m20s", "10h", "2d3h", "4y5d"...).
pub fn human_duration(d: std::time::Duration) -> String {
    let signed = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    format::human_signed(signed)
}

/// One metav1.TableRow: cells, the object as `include_object` asks, and for pods the
/// `Completed` row condition upstream adds to finished pods.
fn row(printer: Option<&Printer>, obj: &Value, include_object: &str, now: Timestamp) -> Value {
    let mut row = Map::new();
    row.insert(
        "cells".to_string(),
        Value::Array(cells_of(printer, obj, now)),
    );
    if let Some(row_conditions) = printer.and_then(|p| p.conditions) {
        if let Some(conditions) = row_conditions(obj) {
            row.insert("conditions".to_string(), conditions);
        }
    }
    let object = match include_object {
        "None" => Value::Null,
        "Object" => obj.clone(),
        _ => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    };
    row.insert("object".to_string(), object);
    Value::Object(row)
}

/// The ListMeta fields a Table carries, dropping empty ones as their `omitempty` tags do.
fn table_metadata(list_meta: Value) -> Value {
    let mut metadata = Map::new();
    for key in ["resourceVersion", "continue", "remainingItemCount"] {
        match list_meta.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(value) => {
                metadata.insert(key.to_string(), value.clone());
            }
        }
    }
    Value::Object(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn human_duration_cases() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (59, "59s"),
            (123, "2m3s"),
            (90 * 60, "90m"),
            (3 * 3600, "3h"),
            (25 * 3600, "25h"),
            (50 * 3600, "2d2h"),
            (400 * 86400, "400d"),
            (4 * 365 * 86400 + 5 * 86400, "4y5d"),
        ];
        for &(secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs}s");
        }
        // Sub-second remainders are truncated, never rounded up.
        assert_eq!(human_duration(Duration::from_millis(59_999)), "59s");
    }

    #[test]
    fn plain_printers_cells_cases() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let created = json!({"name": "x", "creationTimestamp": "2024-05-01T11:59:30Z"});
        let cases: Vec<(&str, (&str, &str), Value, Value)> = vec![
            (
                "namespace",
                ("", "Namespace"),
                json!({"metadata": created, "status": {"phase": "Active"}}),
                json!(["x", "Active", "30s"]),
            ),
            (
                "namespace without status",
                ("", "Namespace"),
                json!({"metadata": {"name": "x"}}),
                json!(["x", "", "<unknown>"]),
            ),
            (
                "configmap",
                ("", "ConfigMap"),
                json!({"metadata": created, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
                json!(["x", 3, "30s"]),
            ),
            (
                "empty configmap",
                ("", "ConfigMap"),
                json!({"metadata": created}),
                json!(["x", 0, "30s"]),
            ),
            (
                "secret",
                ("", "Secret"),
                json!({"metadata": created, "type": "Opaque", "data": {"u": "YQ==", "p": "Yg=="}}),
                json!(["x", "Opaque", 2, "30s"]),
            ),
            (
                "secret with stringData",
                ("", "Secret"),
                json!({"metadata": created, "type": "kubernetes.io/basic-auth", "data": {"u": "YQ=="},
                       "stringData": {"u": "a", "p": "b"}}),
                json!(["x", "kubernetes.io/basic-auth", 2, "30s"]),
            ),
            (
                "serviceaccount",
                ("", "ServiceAccount"),
                json!({"metadata": created}),
                json!(["x", 0, "30s"]),
            ),
            (
                "serviceaccount with secrets",
                ("", "ServiceAccount"),
                json!({"metadata": created, "secrets": [{"name": "t1"}, {"name": "t2"}]}),
                json!(["x", 2, "30s"]),
            ),
            (
                "lease",
                ("coordination.k8s.io", "Lease"),
                json!({"metadata": created, "spec": {"holderIdentity": "node-1"}}),
                json!(["x", "node-1", "30s"]),
            ),
            (
                "lease without holder",
                ("coordination.k8s.io", "Lease"),
                json!({"metadata": created, "spec": {}}),
                json!(["x", "", "30s"]),
            ),
        ];
        for (case, (group, kind), obj, want) in cases {
            assert_eq!(json!(cells(group, kind, &obj, now)), want, "{case}");
        }
    }

    #[test]
    fn every_printer_fills_one_cell_per_column() {
        let empty = json!({"metadata": {"name": "x"}});
        let printers = crate::kinds::printers();
        assert!(printers.len() >= 19, "every served kind and the scale subresource have a printer");
        for (kind, p) in printers {
            assert_eq!(
                (p.cells)(&empty, now()).len(),
                p.columns.len(),
                "{kind}"
            );
            assert_eq!(
                p.columns.iter().filter(|c| c.format == "name").count(),
                1,
                "{kind}"
            );
        }
    }

    #[test]
    fn unknown_kinds_get_the_default_table() {
        let cols = columns("example.com", "Widget");
        assert_eq!(cols.len(), 2);
        assert_eq!(cols[0]["name"], "Name");
        assert_eq!(cols[0]["format"], "name");
        assert_eq!(cols[1]["name"], "Created At");
        assert_eq!(cols[1]["type"], "date");
        assert_eq!(cols[1]["priority"], 0);
        let cases = [
            (
                json!({"metadata": {"name": "w", "creationTimestamp": "2024-01-02T03:04:05Z"}}),
                "2024-01-02T03:04:05Z",
            ),
            (
                json!({"metadata": {"name": "w", "creationTimestamp": "2024-01-02T03:04:05.25Z"}}),
                "2024-01-02T03:04:05Z",
            ),
            (json!({"metadata": {"name": "w"}}), "0001-01-01T00:00:00Z"),
        ];
        for (obj, created) in cases {
            assert_eq!(
                cells("example.com", "Widget", &obj, now()),
                vec![json!("w"), json!(created)]
            );
        }
    }

    #[test]
    fn column_json_has_every_field() {
        let cols = columns("", "Pod");
        let names: Vec<&str> = cols.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(
            cols[0],
            json!({"name": "Name", "type": "string", "format": "name",
            "description": doc::OBJECT_NAME, "priority": 0})
        );
        assert_eq!(cols[5]["priority"], 1);
        assert_eq!(cols[5]["format"], "");
    }

    fn pod() -> Value {
        json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "web-1", "namespace": "default", "uid": "u1", "resourceVersion": "104",
                         "creationTimestamp": "2024-05-01T11:55:00Z", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "podIP": "10.244.0.7",
                       "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0,
                                              "state": {"running": {}}}]},
        })
    }

    #[test]
    fn include_object_modes() {
        let obj = pod();
        let metadata_row = json!({
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"].clone(),
        });
        let cases = [
            ("Metadata", metadata_row.clone()),
            ("", metadata_row),
            ("Object", obj.clone()),
            ("None", Value::Null),
        ];
        for (mode, want) in cases {
            let t = table(
                "",
                "Pod",
                std::slice::from_ref(&obj),
                mode,
                true,
                json!({}),
                now(),
            );
            let row = &t["rows"][0];
            assert_eq!(row["object"], want, "{mode}");
            assert!(row.as_object().unwrap().contains_key("object"), "{mode}");
            assert_eq!(
                row["cells"],
                json!([
                    "web-1",
                    "1/1",
                    "Running",
                    "0",
                    "5m",
                    "10.244.0.7",
                    "node-1",
                    "<none>",
                    "<none>"
                ])
            );
        }
    }

    #[test]
    fn table_shape_and_list_metadata() {
        let list_meta = json!({"resourceVersion": "106", "continue": "MQ==", "remainingItemCount": 1, "selfLink": "x"});
        let t = table(
            "",
            "Pod",
            &[pod(), pod()],
            "Metadata",
            true,
            list_meta,
            now(),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "106", "continue": "MQ==", "remainingItemCount": 1})
        );
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 9);
        assert_eq!(t["rows"].as_array().unwrap().len(), 2);

        let t = table(
            "",
            "Pod",
            &[],
            "Metadata",
            true,
            json!({"resourceVersion": "7", "continue": ""}),
            now(),
        );
        assert_eq!(t["metadata"], json!({"resourceVersion": "7"}));
        assert_eq!(t["rows"], json!([]));

        let t = table("", "Pod", &[], "Metadata", true, Value::Null, now());
        assert_eq!(t["metadata"], json!({}));
    }

    #[test]
    fn without_columns_leaves_definitions_null() {
        let t = table(
            "apps",
            "Deployment",
            &[json!({"metadata": {"name": "d"}})],
            "None",
            false,
            json!({}),
            now(),
        );
        assert_eq!(t["columnDefinitions"], Value::Null);
        assert_eq!(t["rows"][0]["cells"][0], "d");
    }

    #[test]
    fn finished_pods_carry_a_completed_row_condition() {
        let mut obj = pod();
        obj["status"]["phase"] = json!("Succeeded");
        let t = table("", "Pod", &[obj], "None", true, json!({}), now());
        assert_eq!(
            t["rows"][0]["conditions"],
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                    "message": "The pod has completed successfully."}])
        );
        let t = table("", "Pod", &[pod()], "None", true, json!({}), now());
        assert!(t["rows"][0].get("conditions").is_none());
    }
}
