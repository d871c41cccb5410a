//! Upstream's EndpointSlice validation (`pkg/apis/discovery/validation`): the address type,
//! each endpoint's addresses by that type, node name, hostname, topology and hints, and the
//! ports' names, protocols and application protocols.

use std::collections::BTreeSet;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointHints, EndpointPort, EndpointSlice};

use crate::validation::meta::{self, NameRule};
use crate::validation::{names, BadValue, FieldError, Path};

const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
/// The v1beta1 `IP` type, still accepted on update of an old slice.
const DEPRECATED_ADDRESS_TYPES: &[&str] = &["FQDN", "IP", "IPv4", "IPv6"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const MAX_TOPOLOGY_LABELS: usize = 16;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 100;
const MAX_ENDPOINTS: usize = 1000;
const MAX_HINTS: usize = 8;

pub fn validate_endpoint_slice(slice: &EndpointSlice) -> Vec<FieldError> {
    validate(slice, ADDRESS_TYPES)
}

pub fn validate_endpoint_slice_update(new: &EndpointSlice, old: &EndpointSlice) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(validate(new, DEPRECATED_ADDRESS_TYPES));
    errs.extend(meta::immutable(&new.address_type, &old.address_type, &Path::new("addressType")));
    errs
}

fn validate(slice: &EndpointSlice, address_types: &[&str]) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&slice.metadata, true, NameRule::Dns1123Subdomain);
    let address_type = slice.address_type.as_str();
    if address_type.is_empty() {
        errs.push(FieldError::required(&Path::new("addressType"), ""));
    } else if !address_types.contains(&address_type) {
        errs.push(FieldError::not_supported(&Path::new("addressType"), address_type, address_types));
    }
    errs.extend(endpoints(&slice.endpoints, address_type, &Path::new("endpoints")));
    errs.extend(ports(slice.ports.as_deref().unwrap_or(&[]), &Path::new("ports")));
    errs
}

fn endpoints(endpoints: &[Endpoint], address_type: &str, path: &Path) -> Vec<FieldError> {
    if endpoints.len() > MAX_ENDPOINTS {
        return vec![FieldError::too_many(path, Some(endpoints.len() as i64), MAX_ENDPOINTS as i64)];
    }
    let mut errs = Vec::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let p = path.index(i);
        let addresses_path = p.child("addresses");
        if endpoint.addresses.is_empty() {
            errs.push(FieldError::required(&addresses_path, "must contain at least 1 address"));
        } else if endpoint.addresses.len() > MAX_ADDRESSES {
            errs.push(FieldError::too_many(&addresses_path, Some(endpoint.addresses.len() as i64), MAX_ADDRESSES as i64));
        }
        for (j, address) in endpoint.addresses.iter().enumerate() {
            errs.extend(self::address(address, address_type, &addresses_path.index(j)));
        }
        if let Some(node) = &endpoint.node_name {
            errs.extend(names::is_dns1123_subdomain(node).into_iter().map(|m| FieldError::invalid(&p.child("nodeName"), node, m)));
        }
        let topology_path = p.child("deprecatedTopology");
        if let Some(topology) = &endpoint.deprecated_topology {
            if topology.len() > MAX_TOPOLOGY_LABELS {
                errs.push(FieldError::too_many(&topology_path, Some(topology.len() as i64), MAX_TOPOLOGY_LABELS as i64));
            }
            errs.extend(meta::validate_labels(Some(topology), &topology_path));
        }
        if let Some(hostname) = &endpoint.hostname {
            errs.extend(names::is_dns1123_label(hostname).into_iter().map(|m| FieldError::invalid(&p.child("hostname"), hostname, m)));
        }
        if let Some(hints) = &endpoint.hints {
            errs.extend(self::hints(hints, &p.child("hints")));
        }
    }
    errs
}

/// An address checked by the slice's type; unknown types are not checked, as upstream.
fn address(address: &str, address_type: &str, path: &Path) -> Vec<FieldError> {
    let ip = names::parse_ip(address);
    match address_type {
        "IPv4" if !ip.is_some_and(|ip| ip.is_ipv4()) => vec![FieldError::invalid(path, address, "must be a valid IPv4 address")],
        "IPv6" if !ip.is_some_and(|ip| ip.is_ipv6()) => vec![FieldError::invalid(path, address, "must be a valid IPv6 address")],
        "IPv4" | "IPv6" => names::non_special_ip(address, path),
        "FQDN" => fully_qualified_domain_name(address, path),
        _ => Vec::new(),
    }
}

/// `IsFullyQualifiedDomainName`.
fn fully_qualified_domain_name(name: &str, path: &Path) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let errs = names::is_dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![FieldError::invalid(path, name, errs.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![FieldError::invalid(path, name, "should be a domain with at least two segments separated by dots")];
    }
    for label in name.split('.') {
        let errs = names::is_dns1123_label(label);
        if !errs.is_empty() {
            return vec![FieldError::invalid(path, label, errs.join(","))];
        }
    }
    Vec::new()
}

fn hints(hints: &EndpointHints, path: &Path) -> Vec<FieldError> {
    let zones = hints.for_zones.as_deref().unwrap_or(&[]);
    let zones_path = path.child("forZones");
    if zones.len() > MAX_HINTS {
        return vec![FieldError::too_many(&zones_path, Some(zones.len() as i64), MAX_HINTS as i64)];
    }
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, zone) in zones.iter().enumerate() {
        let p = zones_path.index(i).child("name");
        if !seen.insert(zone.name.as_str()) {
            errs.push(FieldError::duplicate(&p, zone.name.as_str()));
        }
        errs.extend(names::is_label_value(&zone.name).into_iter().map(|m| FieldError::invalid(&p, zone.name.as_str(), m)));
    }
    errs
}

fn ports(ports: &[EndpointPort], path: &Path) -> Vec<FieldError> {
    if ports.len() > MAX_PORTS {
        return vec![FieldError::too_many(path, Some(ports.len() as i64), MAX_PORTS as i64)];
    }
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        let name = port.name.as_deref().unwrap_or("");
        if !name.is_empty() {
            errs.extend(names::is_dns1123_label(name).into_iter().map(|m| FieldError::invalid(&p.child("name"), name, m)));
        }
        if !seen.insert(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        }
        match port.protocol.as_deref() {
            None => errs.push(FieldError::required(&p.child("protocol"), "")),
            Some(protocol) if !PROTOCOLS.contains(&protocol) => errs.push(FieldError::not_supported(&p.child("protocol"), protocol, PROTOCOLS)),
            Some(_) => {}
        }
        if let Some(app_protocol) = &port.app_protocol {
            errs.extend(
                names::is_qualified_name(app_protocol).into_iter().map(|m| FieldError::invalid(&p.child("appProtocol"), BadValue::json(app_protocol), m)),
            );
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slice(v: serde_json::Value) -> EndpointSlice {
        let mut obj = json!({"metadata": {"name": "web-abc", "namespace": "default"}});
        obj.as_object_mut().unwrap().extend(v.as_object().unwrap().clone());
        serde_json::from_value(obj).unwrap()
    }

    fn fields(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| format!("{} {}", e.to_cause().field, e.to_cause().reason)).collect()
    }

    #[test]
    fn valid_slices_pass() {
        let ok = slice(json!({"addressType": "IPv4", "endpoints": [{"addresses": ["10.42.0.5"], "nodeName": "n1", "hostname": "web-0",
            "conditions": {"ready": true}, "hints": {"forZones": [{"name": "zone-a"}]}}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "appProtocol": "http"}]}));
        assert_eq!(fields(&validate_endpoint_slice(&ok)), Vec::<String>::new());
        let fqdn = slice(json!({"addressType": "FQDN", "endpoints": [{"addresses": ["db.example.com."]}]}));
        assert_eq!(fields(&validate_endpoint_slice(&fqdn)), Vec::<String>::new());
    }

    #[test]
    fn invalid_slices_name_each_field() {
        let cases = [
            (json!({"addressType": "IP", "endpoints": []}), "addressType FieldValueNotSupported"),
            (json!({"addressType": "IPv4", "endpoints": [{"addresses": []}]}), "endpoints[0].addresses FieldValueRequired"),
            (json!({"addressType": "IPv4", "endpoints": [{"addresses": ["fd00::1"]}]}), "endpoints[0].addresses[0] FieldValueInvalid"),
            (json!({"addressType": "IPv6", "endpoints": [{"addresses": ["10.0.0.1"]}]}), "endpoints[0].addresses[0] FieldValueInvalid"),
            (json!({"addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"]}]}), "endpoints[0].addresses[0] FieldValueInvalid"),
            (json!({"addressType": "FQDN", "endpoints": [{"addresses": ["localhost"]}]}), "endpoints[0].addresses[0] FieldValueInvalid"),
            (json!({"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "hostname": "Web_0"}]}), "endpoints[0].hostname FieldValueInvalid"),
            (json!({"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": "N 1"}]}), "endpoints[0].nodeName FieldValueInvalid"),
            (
                json!({"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "hints": {"forZones": [{"name": "a"}, {"name": "a"}]}}]}),
                "endpoints[0].hints.forZones[1].name FieldValueDuplicate",
            ),
            (json!({"addressType": "IPv4", "endpoints": [], "ports": [{"name": "a", "protocol": "TCP"}, {"name": "a", "protocol": "UDP"}]}), "ports[1].name FieldValueDuplicate"),
            (json!({"addressType": "IPv4", "endpoints": [], "ports": [{"name": "HTTP", "protocol": "TCP"}]}), "ports[0].name FieldValueInvalid"),
            (json!({"addressType": "IPv4", "endpoints": [], "ports": [{"name": "", "protocol": "ICMP"}]}), "ports[0].protocol FieldValueNotSupported"),
            (json!({"addressType": "IPv4", "endpoints": [], "ports": [{"name": ""}]}), "ports[0].protocol FieldValueRequired"),
        ];
        for (obj, want) in cases {
            let got = fields(&validate_endpoint_slice(&slice(obj.clone())));
            assert!(got.iter().any(|g| g == want), "{obj}: {got:?}");
        }
    }

    #[test]
    fn address_type_is_immutable_and_ip_is_kept_on_update() {
        let old = slice(json!({"metadata": {"name": "s", "namespace": "default", "resourceVersion": "1"}, "addressType": "IPv4", "endpoints": []}));
        let mut new = old.clone();
        new.address_type = "IPv6".into();
        assert!(fields(&validate_endpoint_slice_update(&new, &old)).contains(&"addressType FieldValueInvalid".to_string()));
        let mut legacy = old.clone();
        legacy.address_type = "IP".into();
        assert_eq!(fields(&validate_endpoint_slice_update(&legacy, &legacy)), Vec::<String>::new());
    }
}
