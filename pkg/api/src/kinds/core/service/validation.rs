//! Upstream's Service validation.
//!
//! Skipped from upstream: the topology-mode annotation, the load-balancer source-ranges
//! annotation, dual-stack family/IP consistency beyond "one IP per family", ipMode of
//! load-balancer ingress, and trafficDistribution values behind alpha gates.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};

use crate::validation::container::{enum_if_set, port_num_or_name};
use crate::validation::field::{go_struct, BadValue, FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::validation::names;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const KUBELET_PORT: i32 = 10250;
const LB_ONLY: &str = "may only be used when `type` is 'LoadBalancer'";

fn ty(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or("ClusterIP")
}

/// The cluster IPs as the strategy syncs them: `clusterIP` fills an empty `clusterIPs`.
fn cluster_ips(spec: &ServiceSpec) -> Vec<String> {
    match (spec.cluster_ips.as_deref().unwrap_or(&[]), spec.cluster_ip.as_deref().unwrap_or("")) {
        ([], "") => Vec::new(),
        ([], ip) => vec![ip.to_string()],
        (ips, _) => ips.to_vec(),
    }
}

fn is_headless(spec: &ServiceSpec) -> bool {
    matches!(cluster_ips(spec).as_slice(), [ip] if ip == "None")
}

fn list(values: &[String]) -> BadValue {
    BadValue::json(values)
}

fn validate_port(sp: &ServicePort, require_name: bool, names_seen: &mut BTreeSet<String>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = sp.name.as_deref().unwrap_or("");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        errs.extend(names::is_dns1123_label(name).into_iter().map(|m| FieldError::invalid(&path.child("name"), name, m)));
        if !names_seen.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&path.child("name"), name));
        }
    }
    errs.extend(names::is_valid_port_num(sp.port.into()).into_iter().map(|m| FieldError::invalid(&path.child("port"), sp.port, m)));
    errs.extend(enum_if_set(sp.protocol.as_deref(), PROTOCOLS, &path.child("protocol")));
    if let Some(tp) = &sp.target_port {
        errs.extend(port_num_or_name(tp, &path.child("targetPort")));
    }
    if let Some(ap) = &sp.app_protocol {
        errs.extend(meta::validate_label_name(ap, &path.child("appProtocol")));
    }
    errs
}

fn cluster_ip_fields(spec: &ServiceSpec, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ips_path = path.child("clusterIPs");
    let (ip, ips) = (spec.cluster_ip.as_deref().unwrap_or(""), spec.cluster_ips.as_deref().unwrap_or(&[]));
    if !ip.is_empty() && !ips.is_empty() && ips[0] != ip {
        errs.push(FieldError::invalid(&ips_path, list(ips), "first value must match `clusterIP`"));
    }
    let families = spec.ip_families.as_deref().unwrap_or(&[]);
    let mut seen = BTreeSet::new();
    for (i, f) in families.iter().enumerate() {
        if f != "IPv4" && f != "IPv6" {
            errs.push(FieldError::not_supported(&path.child("ipFamilies").index(i), f, &["IPv4", "IPv6"]));
        }
        if !seen.insert(f) {
            errs.push(FieldError::duplicate(&path.child("ipFamilies").index(i), f));
        }
    }
    let policies = ["PreferDualStack", "RequireDualStack", "SingleStack"];
    errs.extend(enum_if_set(spec.ip_family_policy.as_deref(), &policies, &path.child("ipFamilyPolicy")));
    if spec.ip_family_policy.as_deref() == Some("") {
        errs.push(FieldError::not_supported(&path.child("ipFamilyPolicy"), "", &policies));
    }
    let ips = cluster_ips(spec);
    let mut bad = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                bad = true;
                errs.push(FieldError::invalid(&ips_path, list(&ips), "'None' must be the first and only value"));
            }
            continue;
        }
        if names::parse_ip(ip).is_none() {
            bad = true;
            errs.push(FieldError::invalid(&ips_path.index(i), ip, names::IP_MSG));
        }
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(&ips_path, list(&ips), "may only hold up to 2 values"));
    }
    if !bad && ips.len() > 1 {
        let v4 = ips.iter().filter(|ip| names::parse_ip(ip).is_some_and(|a| a.is_ipv4())).count();
        if v4 != 1 || ips.len() != 2 {
            errs.push(FieldError::invalid(&ips_path, list(&ips), "may specify no more than one IP for each IP family"));
        }
    }
    errs
}

/// The duplicate key upstream prints: an internal ServicePort with only protocol and port set.
fn port_key(sp: &ServicePort) -> BadValue {
    BadValue::Raw(go_struct(&[
        ("Name", "".into()),
        ("Protocol", sp.protocol.clone().unwrap_or_else(|| "TCP".into()).into()),
        ("AppProtocol", serde_json::Value::Null),
        ("Port", sp.port.into()),
        ("TargetPort", 0.into()),
        ("NodePort", 0.into()),
    ]))
}

fn spec_errors(spec: &ServiceSpec) -> Vec<FieldError> {
    let path = Path::new("spec");
    let mut errs = Vec::new();
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    let (ty, headless) = (ty(spec), is_headless(spec));
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required(&path.child("ports"), ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" => {
            for (i, p) in ports.iter().enumerate().filter(|(_, p)| ty == "LoadBalancer" && p.port == KUBELET_PORT) {
                errs.push(FieldError::invalid(
                    &path.child("ports").index(i),
                    p.port,
                    format!("may not expose port {KUBELET_PORT} externally since it is used by kubelet"),
                ));
            }
            if headless {
                errs.push(FieldError::invalid(
                    &path.child("clusterIPs").index(0),
                    "None",
                    format!("may not be set to 'None' for {ty} services"),
                ));
            }
        }
        "ExternalName" => {
            if !cluster_ips(spec).is_empty() {
                errs.push(FieldError::forbidden(&path.child("clusterIPs"), "may not be set for ExternalName services"));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errs.push(FieldError::forbidden(&path.child("ipFamilies"), "may not be set for ExternalName services"));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldError::forbidden(&path.child("ipFamilyPolicy"), "may not be set for ExternalName services"));
            }
            let name = spec.external_name.as_deref().unwrap_or("");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required(&path.child("externalName"), ""));
            } else {
                errs.extend(
                    names::is_dns1123_subdomain(cname).into_iter().map(|m| FieldError::invalid(&path.child("externalName"), cname, m)),
                );
            }
        }
        _ => {}
    }
    let mut seen_names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        errs.extend(validate_port(p, ports.len() > 1, &mut seen_names, &path.child("ports").index(i)));
    }
    errs.extend(meta::validate_labels(spec.selector.as_ref(), &path.child("selector")));
    let affinity = spec.session_affinity.as_deref();
    errs.extend(enum_if_set(affinity, &["ClientIP", "None"], &path.child("sessionAffinity")));
    let config_path = path.child("sessionAffinityConfig");
    match (affinity, &spec.session_affinity_config) {
        (Some("ClientIP"), Some(c)) => {
            if let Some(t) = c.client_ip.as_ref().and_then(|c| c.timeout_seconds).filter(|t| *t <= 0 || *t > 86400) {
                errs.push(FieldError::invalid(
                    &config_path.child("clientIP").child("timeoutSeconds"),
                    t,
                    "must be greater than 0 and less than 86400",
                ));
            }
        }
        (Some("None") | None, Some(_)) => errs.push(FieldError::forbidden(&config_path, "must not be set when session affinity is None")),
        _ => {}
    }
    if ty != "ExternalName" {
        errs.extend(cluster_ip_fields(spec, &path));
    }
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let p = path.child("externalIPs").index(i);
        match names::parse_ip(ip) {
            None => errs.push(FieldError::invalid(&p, ip, names::IP_MSG)),
            Some(_) => errs.extend(names::non_special_ip(ip, &p)),
        }
    }
    errs.extend(enum_if_set(spec.type_.as_deref(), TYPES, &path.child("type")));
    let mut node_ports = BTreeSet::new();
    let mut port_keys = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = path.child("ports").index(i);
        let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
        if let Some(np) = p.node_port.filter(|n| *n != 0) {
            if ty == "ClusterIP" {
                errs.push(FieldError::forbidden(&pp.child("nodePort"), "may not be used when `type` is 'ClusterIP'"));
            }
            if !node_ports.insert((protocol.clone(), np)) {
                errs.push(FieldError::duplicate(&pp.child("nodePort"), np));
            }
        }
        if !port_keys.insert((protocol, p.port)) {
            errs.push(FieldError::duplicate(&pp, port_key(p)));
        }
    }
    if let Some(ranges) = spec.load_balancer_source_ranges.as_ref().filter(|r| !r.is_empty()) {
        let rp = path.child("LoadBalancerSourceRanges");
        if ty != "LoadBalancer" {
            errs.push(FieldError::forbidden(&rp, LB_ONLY));
        }
        for (i, r) in ranges.iter().enumerate() {
            if !names::is_valid_cidr(r.trim()) {
                errs.push(FieldError::invalid(&rp.index(i), r.trim(), names::CIDR_MSG));
            }
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(&path.child("allocateLoadBalancerNodePorts"), LB_ONLY));
    }
    match (&spec.load_balancer_class, ty) {
        (Some(class), "LoadBalancer") => errs.extend(meta::validate_label_name(class, &path.child("loadBalancerClass"))),
        (Some(_), _) => errs.push(FieldError::forbidden(&path.child("loadBalancerClass"), LB_ONLY)),
        _ => {}
    }
    let externally_accessible =
        ty == "LoadBalancer" || ty == "NodePort" || (ty == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
    let etp = spec.external_traffic_policy.as_deref().unwrap_or("");
    if !externally_accessible && !etp.is_empty() {
        errs.push(FieldError::invalid(&path.child("externalTrafficPolicy"), etp, "may only be set for externally-accessible services"));
    } else if externally_accessible {
        errs.extend(enum_if_set(Some(etp), &["Cluster", "Local"], &path.child("externalTrafficPolicy")));
    }
    let needs_health_check = ty == "LoadBalancer" && etp == "Local";
    if let Some(hc) = spec.health_check_node_port.filter(|p| *p != 0) {
        if !needs_health_check {
            errs.push(FieldError::invalid(
                &path.child("healthCheckNodePort"),
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        } else {
            errs.extend(
                names::is_valid_port_num(hc.into()).into_iter().map(|m| FieldError::invalid(&path.child("healthCheckNodePort"), hc, m)),
            );
        }
    }
    errs.extend(enum_if_set(spec.internal_traffic_policy.as_deref(), &["Cluster", "Local"], &path.child("internalTrafficPolicy")));
    if let Some(td) = spec.traffic_distribution.as_deref().filter(|t| *t != "PreferClose") {
        errs.push(FieldError::not_supported(&path.child("trafficDistribution"), td, &["PreferClose"]));
    }
    errs
}

pub fn validate_service(svc: &Service) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&svc.metadata, true, NameRule::Dns1035Label);
    errs.extend(spec_errors(svc.spec.as_ref().unwrap_or(&ServiceSpec::default())));
    errs
}

/// Allocated values left empty in an update are kept from the stored object, as upstream's
/// REST layer does before validating.
fn with_allocations(new: &ServiceSpec, old: &ServiceSpec) -> ServiceSpec {
    let mut spec = new.clone();
    if ty(new) != "ExternalName" && ty(old) != "ExternalName" && cluster_ips(new).is_empty() {
        spec.cluster_ip.clone_from(&old.cluster_ip);
        spec.cluster_ips.clone_from(&old.cluster_ips);
    }
    if spec.ip_families.as_ref().is_none_or(|f| f.is_empty()) && ty(new) != "ExternalName" {
        spec.ip_families.clone_from(&old.ip_families);
    }
    spec
}

pub fn validate_service_update(new: &Service, old: &Service) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    let default = ServiceSpec::default();
    let old_spec = old.spec.as_ref().unwrap_or(&default);
    let spec = with_allocations(new.spec.as_ref().unwrap_or(&default), old_spec);
    let path = Path::new("spec");
    if ty(&spec) != "ExternalName" && ty(old_spec) != "ExternalName" && !(is_headless(&spec) && is_headless(old_spec)) {
        let (new_ips, old_ips) = (cluster_ips(&spec), cluster_ips(old_spec));
        for (i, ip) in old_ips.iter().enumerate().take(new_ips.len().min(old_ips.len())) {
            if *ip != new_ips[i] && (i == 0 || new_ips.len() == old_ips.len()) {
                errs.push(FieldError::invalid(&path.child("clusterIPs").index(i), list(&new_ips), "may not change once set"));
            }
        }
        let (new_f, old_f) = (spec.ip_families.as_deref().unwrap_or(&[]), old_spec.ip_families.as_deref().unwrap_or(&[]));
        if !is_headless(&spec) && !is_headless(old_spec) && !new_f.is_empty() && !old_f.is_empty() && new_f[0] != old_f[0] {
            errs.push(FieldError::invalid(&path.child("ipFamilies").index(0), list(new_f), "may not change once set"));
        }
    }
    if ty(&spec) == "LoadBalancer" && ty(old_spec) == "LoadBalancer" && spec.load_balancer_class != old_spec.load_balancer_class {
        let value = spec.load_balancer_class.clone().map_or(BadValue::Json(serde_json::Value::Null), BadValue::Str);
        errs.push(FieldError::invalid(&path.child("loadBalancerClass"), value, "may not change once set"));
    }
    errs.extend(meta::validate_object_meta(&new.metadata, true, NameRule::Dns1035Label));
    errs.extend(spec_errors(&spec));
    errs
}

pub fn validate_service_status_update(new: &Service, old: &Service) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    let ingress_path = Path::of(&["status", "loadBalancer", "ingress"]);
    let ingress = new.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_deref()).unwrap_or(&[]);
    if !ingress.is_empty() && new.spec.as_ref().map_or("ClusterIP", ty) != "LoadBalancer" {
        errs.push(FieldError::forbidden(&ingress_path, "may only be used when `spec.type` is 'LoadBalancer'"));
        return errs;
    }
    for (i, ing) in ingress.iter().enumerate() {
        let p = ingress_path.index(i);
        if let Some(ip) = ing.ip.as_deref().filter(|ip| !ip.is_empty() && names::parse_ip(ip).is_none()) {
            errs.push(FieldError::invalid(&p.child("ip"), ip, names::IP_MSG));
        }
        if let Some(h) = ing.hostname.as_deref().filter(|h| !h.is_empty()) {
            errs.extend(names::is_dns1123_subdomain(h).into_iter().map(|m| FieldError::invalid(&p.child("hostname"), h, m)));
            if names::parse_ip(h).is_some() {
                errs.push(FieldError::invalid(&p.child("hostname"), h, "must be a DNS name, not an IP address"));
            }
        }
    }
    errs
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
