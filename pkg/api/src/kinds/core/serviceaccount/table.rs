//! The ServiceAccount printer: NAME, SECRETS, AGE.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, list, name};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(SERVICE_ACCOUNT_COLUMNS, service_account_cells);

const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Secrets", "string", doc::SERVICE_ACCOUNT_SECRETS),
    Column::AGE,
];

fn service_account_cells(account: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(account)),
        json!(list(account, "/secrets").len()),
        age(account, now),
    ]
}
