//! The Service printer: type, cluster and external IPs, ports and selector.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::table::descriptions as doc;
use crate::table::format::{age, format_labels, int, list, name, text};
use crate::table::{Column, Printer};

pub(super) static PRINTER: Printer = Printer::of(SERVICE_COLUMNS, service_cells);

const SERVICE_COLUMNS: &[Column] = &[
    Column::NAME,
    Column::new("Type", "string", doc::SERVICE_SPEC_TYPE),
    Column::new("Cluster-IP", "string", doc::SERVICE_SPEC_CLUSTER_IP),
    Column::new("External-IP", "string", doc::SERVICE_SPEC_EXTERNAL_IPS),
    Column::new("Port(s)", "string", doc::SERVICE_SPEC_PORTS),
    Column::AGE,
    Column::wide("Selector", "string", doc::SERVICE_SPEC_SELECTOR),
];

fn service_cells(service: &Value, now: Timestamp) -> Vec<Value> {
    let ports: Vec<String> = list(service, "/spec/ports")
        .iter()
        .map(|p| {
            let (port, protocol, node_port) =
                (int(p, "/port"), text(p, "/protocol"), int(p, "/nodePort"));
            if node_port > 0 {
                format!("{port}:{node_port}/{protocol}")
            } else {
                format!("{port}/{protocol}")
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        json!(name(service)),
        json!(text(service, "/spec/type")),
        json!(cluster_ip(service)),
        json!(external_ip(service)),
        json!(ports),
        age(service, now),
        json!(format_labels(service.pointer("/spec/selector"))),
    ]
}

/// The primary cluster IP (`clusterIP`, else the first of `clusterIPs`), or `<none>`.
fn cluster_ip(service: &Value) -> &str {
    match text(service, "/spec/clusterIP") {
        "" => list(service, "/spec/clusterIPs")
            .first()
            .and_then(Value::as_str)
            .unwrap_or("<none>"),
        ip => ip,
    }
}

/// The EXTERNAL-IP cell by service type: external IPs, load-balancer ingress (`<pending>` until
/// assigned), or the external name.
fn external_ip(service: &Value) -> String {
    let external_ips: Vec<&str> = list(service, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match text(service, "/spec/type") {
        "ClusterIP" | "NodePort" if external_ips.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external_ips.join(","),
        "LoadBalancer" => {
            // Sorted and de-duplicated, as upstream collects them in a string set. The server
            // prints wide, so the list is never clipped.
            let ingress: BTreeSet<&str> = list(service, "/status/loadBalancer/ingress")
                .iter()
                .filter_map(|i| match (text(i, "/ip"), text(i, "/hostname")) {
                    ("", "") => None,
                    ("", hostname) => Some(hostname),
                    (ip, _) => Some(ip),
                })
                .collect();
            let all: Vec<&str> = ingress.into_iter().chain(external_ips).collect();
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(service, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn service_cells_cases() {
        let meta = json!({"name": "s", "creationTimestamp": "2024-05-01T11:00:00Z"});
        let cases = [
            (
                json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                       "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                       "selector": {"k8s-app": "kube-dns"}}),
                json!({}),
                json!([
                    "s",
                    "ClusterIP",
                    "10.96.0.10",
                    "<none>",
                    "53/UDP,53/TCP",
                    "60m",
                    "k8s-app=kube-dns"
                ]),
            ),
            (
                json!({"type": "ClusterIP", "clusterIP": "None"}),
                json!({}),
                json!([
                    "s",
                    "ClusterIP",
                    "None",
                    "<none>",
                    "<none>",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                json!({"type": "NodePort", "clusterIPs": ["10.96.1.1"], "externalIPs": ["1.1.1.1", "2.2.2.2"],
                       "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}),
                json!({}),
                json!([
                    "s",
                    "NodePort",
                    "10.96.1.1",
                    "1.1.1.1,2.2.2.2",
                    "80:30080/TCP",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                json!({"type": "LoadBalancer", "clusterIP": "10.96.2.2", "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}),
                json!({}),
                json!([
                    "s",
                    "LoadBalancer",
                    "10.96.2.2",
                    "<pending>",
                    "443:31443/TCP",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                json!({"type": "LoadBalancer", "clusterIP": "10.96.2.2", "externalIPs": ["9.9.9.9"]}),
                json!({"loadBalancer": {"ingress": [{"ip": "5.5.5.5"}, {"hostname": "lb.example.com"}, {"ip": "3.3.3.3"}, {"ip": "5.5.5.5"}]}}),
                json!([
                    "s",
                    "LoadBalancer",
                    "10.96.2.2",
                    "3.3.3.3,5.5.5.5,lb.example.com,9.9.9.9",
                    "<none>",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                json!({"type": "ExternalName", "externalName": "db.example.com"}),
                json!({}),
                json!([
                    "s",
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "60m",
                    "<none>"
                ]),
            ),
            (
                json!({}),
                json!({}),
                json!(["s", "", "<none>", "<unknown>", "<none>", "60m", "<none>"]),
            ),
        ];
        for (spec, status, want) in cases {
            let obj = json!({"metadata": meta, "spec": spec, "status": status});
            assert_eq!(json!(service_cells(&obj, now())), want, "{spec}");
        }
    }

}
