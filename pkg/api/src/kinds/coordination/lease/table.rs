//! The Lease printer: NAME, HOLDER, AGE.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(LEASE_COLUMNS, lease_cells);

const LEASE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Holder", "string", doc::LEASE_SPEC_HOLDER_IDENTITY),
    Column::AGE,
];

fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(lease)),
        json!(text(lease, "/spec/holderIdentity")),
        age(lease, now),
    ]
}
