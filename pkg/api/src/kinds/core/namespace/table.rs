//! The Namespace printer: NAME, STATUS, AGE.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::format::{age, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(NAMESPACE_COLUMNS, namespace_cells);

const NAMESPACE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Status", "string", "The status of the namespace"),
    Column::AGE,
];

fn namespace_cells(namespace: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(namespace)),
        json!(text(namespace, "/status/phase")),
        age(namespace, now),
    ]
}
