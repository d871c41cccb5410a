//! The Secret printer: NAME, TYPE, DATA, AGE.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(SECRET_COLUMNS, secret_cells);

const SECRET_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Type", "string", doc::SECRET_TYPE),
    Column::new("Data", "string", doc::SECRET_DATA),
    Column::AGE,
];

fn secret_cells(secret: &Value, now: Timestamp) -> Vec<Value> {
    // Upstream counts the internal Secret's data, into which decoding merges stringData.
    let data = secret.get("data").and_then(Value::as_object);
    let string_only = secret
        .get("stringData")
        .and_then(Value::as_object)
        .map_or(0, |s| {
            s.keys()
                .filter(|k| !data.is_some_and(|d| d.contains_key(*k)))
                .count()
        });
    let entries = data.map_or(0, |d| d.len()) + string_only;
    vec![
        json!(name(secret)),
        json!(text(secret, "/type")),
        json!(entries),
        age(secret, now),
    ]
}
