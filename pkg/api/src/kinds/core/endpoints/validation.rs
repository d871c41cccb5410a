//! Upstream's Endpoints validation: every subset has addresses, each address a real non-special
//! IP, ports named when there are several.

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints};

use crate::validation::container::enum_if_set;
use crate::validation::field::{FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::validation::names;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn endpoint_address(a: &EndpointAddress, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if names::parse_ip(&a.ip).is_none() {
        errs.push(FieldError::invalid(&path.child("ip"), &a.ip, names::IP_MSG));
    }
    if let Some(h) = a.hostname.as_deref().filter(|h| !h.is_empty()) {
        errs.extend(names::is_dns1123_label(h).into_iter().map(|m| FieldError::invalid(&path.child("hostname"), h, m)));
    }
    if let Some(n) = &a.node_name {
        errs.extend(names::is_dns1123_subdomain(n).into_iter().map(|m| FieldError::invalid(&path.child("nodeName"), n, m)));
    }
    errs.extend(names::non_special_ip(&a.ip, &path.child("ip")));
    errs
}

pub fn validate_endpoints(ep: &Endpoints) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&ep.metadata, true, NameRule::Dns1123Subdomain);
    for (i, ss) in ep.subsets.iter().flatten().enumerate() {
        let p = Path::new("subsets").index(i);
        let (addrs, not_ready) = (ss.addresses.as_deref().unwrap_or(&[]), ss.not_ready_addresses.as_deref().unwrap_or(&[]));
        if addrs.is_empty() && not_ready.is_empty() {
            errs.push(FieldError::required(&p, "must specify `addresses` or `notReadyAddresses`"));
        }
        for (field, list) in [("addresses", addrs), ("notReadyAddresses", not_ready)] {
            for (j, a) in list.iter().enumerate() {
                errs.extend(endpoint_address(a, &p.child(field).index(j)));
            }
        }
        let ports = ss.ports.as_deref().unwrap_or(&[]);
        for (j, port) in ports.iter().enumerate() {
            let pp = p.child("ports").index(j);
            let name = port.name.as_deref().unwrap_or("");
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldError::required(&pp.child("name"), ""));
            } else if !name.is_empty() {
                errs.extend(names::is_dns1123_label(name).into_iter().map(|m| FieldError::invalid(&pp.child("name"), name, m)));
            }
            errs.extend(
                names::is_valid_port_num(port.port.into()).into_iter().map(|m| FieldError::invalid(&pp.child("port"), port.port, m)),
            );
            errs.extend(enum_if_set(port.protocol.as_deref(), PROTOCOLS, &pp.child("protocol")));
            if let Some(ap) = &port.app_protocol {
                errs.extend(meta::validate_label_name(ap, &pp.child("appProtocol")));
            }
        }
    }
    errs
}

pub fn validate_endpoints_update(new: &Endpoints, old: &Endpoints) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(validate_endpoints(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::{strings, check};
    use serde_json::json;

    #[test]
    fn endpoints_cases() {
        let ep = |subsets: serde_json::Value| -> Endpoints {
            serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "default"}, "subsets": subsets})).unwrap()
        };
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!([{"addresses": [{"ip": "10.1.2.3", "hostname": "pod-a"}], "ports": [{"port": 80}]}]), vec![]),
            (json!([{"ports": [{"port": 80}]}]), vec!["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"]),
            (json!([{"addresses": [{"ip": "nope"}]}]), vec![
                "subsets[0].addresses[0].ip: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "subsets[0].addresses[0].ip: Invalid value: \"nope\": must be a valid IP address",
            ]),
            (json!([{"addresses": [{"ip": "169.254.1.1"}]}]), vec!["subsets[0].addresses[0].ip: Invalid value: \"169.254.1.1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)"]),
            (json!([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 81, "name": "b", "protocol": "HTTP"}]}]), vec![
                "subsets[0].ports[0].name: Required value",
                "subsets[0].ports[1].protocol: Unsupported value: \"HTTP\"",
            ]),
        ];
        for (subsets, want) in cases {
            check(strings(validate_endpoints(&ep(subsets.clone()))), &want, &subsets.to_string());
        }
    }
}
