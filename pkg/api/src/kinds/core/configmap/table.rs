//! The ConfigMap printer: NAME, DATA (keys of data and binaryData), AGE.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, key_count, name};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(CONFIG_MAP_COLUMNS, config_map_cells);

const CONFIG_MAP_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Data", "string", doc::CONFIG_MAP_DATA),
    Column::AGE,
];

fn config_map_cells(config_map: &Value, now: Timestamp) -> Vec<Value> {
    let entries = key_count(config_map, "/data") + key_count(config_map, "/binaryData");
    vec![
        json!(name(config_map)),
        json!(entries),
        age(config_map, now),
    ]
}
