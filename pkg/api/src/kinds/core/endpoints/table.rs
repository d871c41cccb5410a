//! The Endpoints printer: up to three addresses with their ports, then `+ N more...`.

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, int, list, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(ENDPOINTS_COLUMNS, endpoints_cells);

const ENDPOINTS_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Endpoints", "string", doc::ENDPOINTS_SUBSETS),
    Column::AGE,
];

/// Upstream lists at most this many endpoint addresses, then `+ N more...`.
const MAX_ENDPOINTS_SHOWN: usize = 3;

fn endpoints_cells(endpoints: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(endpoints)),
        json!(format_endpoints(endpoints)),
        age(endpoints, now),
    ]
}

/// Up to three `ip:port` entries (bare IPs for port-less subsets), then `+ N more...`.
fn format_endpoints(endpoints: &Value) -> String {
    let subsets = list(endpoints, "/subsets");
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut shown: Vec<String> = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let addresses = list(subset, "/addresses");
        let ports = list(subset, "/ports");
        // Headless services may have no ports: each address counts once.
        let port_numbers: Vec<Option<i64>> = if ports.is_empty() {
            vec![None]
        } else {
            ports.iter().map(|p| Some(int(p, "/port"))).collect()
        };
        for port in port_numbers {
            total += addresses.len();
            for address in addresses
                .iter()
                .take(MAX_ENDPOINTS_SHOWN.saturating_sub(shown.len()))
            {
                let ip = text(address, "/ip");
                shown.push(match port {
                    None => ip.to_string(),
                    Some(port) if ip.contains(':') => format!("[{ip}]:{port}"),
                    Some(port) => format!("{ip}:{port}"),
                });
            }
        }
    }
    let joined = shown.join(",");
    if total > MAX_ENDPOINTS_SHOWN {
        format!("{joined} + {} more...", total - MAX_ENDPOINTS_SHOWN)
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }


    #[test]
    fn endpoints_cells_cases() {
        let cases = [
            (json!(null), "<none>"),
            (json!([]), "<none>"),
            (
                json!([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]),
                "10.0.0.1:80",
            ),
            (
                json!([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]),
                "[fd00::1]:80",
            ),
            (
                json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}]),
                "10.0.0.1,10.0.0.2",
            ),
            (
                json!([{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]),
                "",
            ),
            (
                json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]),
                "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
            ),
            (
                json!([{"addresses": [{"ip": "a"}, {"ip": "b"}], "ports": [{"port": 1}]},
                       {"addresses": [{"ip": "c"}, {"ip": "d"}, {"ip": "e"}], "ports": [{"port": 2}]}]),
                "a:1,b:1,c:2 + 2 more...",
            ),
        ];
        for (subsets, want) in cases {
            let obj = json!({"metadata": {"name": "e"}, "subsets": subsets});
            assert_eq!(
                endpoints_cells(&obj, now()),
                vec![json!("e"), json!(want), json!("<unknown>")],
                "{subsets}"
            );
        }
    }
}
