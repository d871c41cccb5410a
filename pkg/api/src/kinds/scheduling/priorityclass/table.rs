//! The PriorityClass printer: NAME, VALUE, GLOBAL-DEFAULT, AGE, PREEMPTIONPOLICY.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, name};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(PRIORITY_CLASS_COLUMNS, priority_class_cells);

/// Upstream's printer: VALUE and GLOBAL-DEFAULT, then PREEMPTIONPOLICY after AGE.
const PRIORITY_CLASS_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Value", "integer", doc::PRIORITY_CLASS_VALUE),
    Column::new("Global-Default", "boolean", doc::PRIORITY_CLASS_GLOBAL_DEFAULT),
    Column::AGE,
    Column::new("PreemptionPolicy", "string", doc::PRIORITY_CLASS_PREEMPTION_POLICY),
];

fn priority_class_cells(pc: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(pc)),
        json!(pc.get("value").and_then(Value::as_i64).unwrap_or(0)),
        json!(pc.get("globalDefault").and_then(Value::as_bool).unwrap_or(false)),
        age(pc, now),
        json!(pc.get("preemptionPolicy").and_then(Value::as_str).unwrap_or("")),
    ]
}
