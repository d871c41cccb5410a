//! Service defaults (upstream `SetDefaults_Service`), and the IP family policy upstream infers while allocating.

use serde_json::{json, Value};

use crate::defaults::{items, pointer_struct, set_if_missing, set_if_zero, value_struct, Object};

pub(super) fn default_service(service: &mut Object) {
    let Some(spec) = value_struct(service, "spec") else { return };
    set_if_zero(spec, "sessionAffinity", json!("None"));
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let client_ip =
                value_struct(spec, "sessionAffinityConfig").and_then(|config| value_struct(config, "clientIP"));
            if let Some(client_ip) = client_ip {
                set_if_missing(client_ip, "timeoutSeconds", json!(10800));
            }
        }
        _ => {}
    }
    set_if_zero(spec, "type", json!("ClusterIP"));
    for port in items(spec, "ports") {
        set_if_zero(port, "protocol", json!("TCP"));
        if port.get("targetPort").is_none_or(crate::defaults::is_zero) {
            let port_number = port.get("port").cloned().unwrap_or(json!(0));
            port.insert("targetPort".into(), port_number);
        }
    }
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    let has_external_ips = spec.get("externalIPs").and_then(Value::as_array).is_some_and(|ips| !ips.is_empty());
    let externally_accessible = matches!(service_type.as_str(), "NodePort" | "LoadBalancer")
        || (service_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        set_if_zero(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(service_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        set_if_missing(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type != "ExternalName" {
        default_ip_family_policy(spec);
    }
    if service_type == "LoadBalancer" {
        set_if_missing(spec, "allocateLoadBalancerNodePorts", json!(true));
        let ingresses = pointer_struct(service, "status").and_then(|status| pointer_struct(status, "loadBalancer"));
        for ingress in ingresses.into_iter().flat_map(|lb| items(lb, "ingress")) {
            if ingress.get("ip").and_then(Value::as_str).is_some_and(|ip| !ip.is_empty()) {
                set_if_missing(ingress, "ipMode", json!("VIP"));
            }
        }
    }
}

/// Upstream infers this while allocating cluster IPs, not in its defaulting functions, and on
/// update it keeps the old object's policy; a caller updating a Service should carry that over
/// before calling [`apply_defaults`]. The families and IPs themselves belong to the allocator.
fn default_ip_family_policy(spec: &mut Object) {
    let cluster_ip = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .or_else(|| spec.get("clusterIPs").and_then(|ips| ips.get(0)).and_then(Value::as_str));
    let has_selector = spec.get("selector").and_then(Value::as_object).is_some_and(|s| !s.is_empty());
    // A headless Service without a selector publishes whatever endpoints it is given, of any family.
    let policy = if cluster_ip == Some("None") && !has_selector { "RequireDualStack" } else { "SingleStack" };
    set_if_missing(spec, "ipFamilyPolicy", json!(policy));
}
