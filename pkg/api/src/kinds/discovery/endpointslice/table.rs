//! Upstream's EndpointSlice printer: NAME, ADDRESSTYPE, PORTS, ENDPOINTS, AGE, with at most
//! three ports and three addresses before "+ N more...".

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, list, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(COLUMNS, cells);

const COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new(
        "AddressType",
        "string",
        "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.",
    ),
    Column::new(
        "Ports",
        "string",
        "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports.",
    ),
    Column::new("Endpoints", "string", "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."),
    Column::new("Age", "string", doc::OBJECT_CREATION_TIMESTAMP),
];

/// At most this many ports or addresses are listed.
const MAX_LISTED: usize = 3;

fn cells(slice: &Value, now: Timestamp) -> Vec<Value> {
    vec![json!(name(slice)), json!(text(slice, "/addressType")), json!(ports(slice)), json!(endpoints(slice)), age(slice, now)]
}

/// `formatDiscoveryPorts`: each port's number, else its name, else `*`.
fn ports(slice: &Value) -> String {
    let all: Vec<String> = list(slice, "/ports")
        .iter()
        .map(|p| match (p.get("port").and_then(Value::as_i64), p.get("name").and_then(Value::as_str)) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    with_more(all)
}

/// `formatDiscoveryEndpoints`: every endpoint's addresses, in order.
fn endpoints(slice: &Value) -> String {
    let all: Vec<String> = list(slice, "/endpoints")
        .iter()
        .flat_map(|e| e.get("addresses").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    with_more(all)
}

/// `listWithMoreString`.
fn with_more(all: Vec<String>) -> String {
    let shown = all[..all.len().min(MAX_LISTED)].join(",");
    if all.len() > MAX_LISTED {
        format!("{shown} + {} more...", all.len() - MAX_LISTED)
    } else if shown.is_empty() {
        "<unset>".to_string()
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn endpoint_slice_cells_cases() {
        let cases = [
            (json!({"metadata": {"name": "empty"}, "addressType": "IPv4"}), ["empty", "IPv4", "<unset>", "<unset>"]),
            (
                json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
                       "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "named"}, {}],
                       "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}]}),
                ["web-abc", "IPv4", "80,named,*", "10.0.0.1,10.0.0.2,10.0.0.3"],
            ),
            (
                json!({"metadata": {"name": "many"}, "addressType": "IPv6",
                       "ports": [{"port": 1}, {"port": 2}, {"port": 3}, {"port": 4}, {"port": 5}],
                       "endpoints": [{"addresses": ["fd00::1", "fd00::2", "fd00::3", "fd00::4"]}]}),
                ["many", "IPv6", "1,2,3 + 2 more...", "fd00::1,fd00::2,fd00::3 + 1 more..."],
            ),
        ];
        for (obj, want) in cases {
            let got = cells(&obj, now());
            assert_eq!(got.len(), COLUMNS.len());
            for (i, w) in want.iter().enumerate() {
                assert_eq!(got[i], json!(w), "{obj}");
            }
        }
    }

    #[test]
    fn columns_are_upstreams() {
        let columns = crate::table::columns("discovery.k8s.io", "EndpointSlice");
        let names: Vec<&str> = columns.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Name", "AddressType", "Ports", "Endpoints", "Age"]);
        assert_eq!(columns[0]["format"], "name");
    }
}
