//! A container's environment as upstream's kubelet builds it: envFrom, then env in order, with
//! values from the pod (fieldRef), its resources (resourceFieldRef), ConfigMaps and Secrets,
//! and `$(VAR)` references expanded in values, command and args.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};

/// The objects an environment may read, fetched by the pod worker.
#[derive(Default)]
pub struct Sources {
    pub config_maps: HashMap<String, ConfigMap>,
    pub secrets: HashMap<String, Secret>,
    pub pod_ip: String,
    pub host_ip: String,
    pub node_name: String,
    /// The node path of each claim's bound volume, or why there is none.
    pub claims: HashMap<String, Result<std::path::PathBuf, String>>,
}

/// Why a container cannot be configured (upstream's CreateContainerConfigError message).
pub type ConfigError = String;

fn config_map_value(src: &Sources, name: &str, key: &str) -> Option<String> {
    let cm = src.config_maps.get(name)?;
    cm.data.as_ref().and_then(|d| d.get(key).cloned()).or_else(|| cm.binary_data.as_ref().and_then(|d| d.get(key)).map(|b| String::from_utf8_lossy(&b.0).into_owned()))
}

fn secret_value(src: &Sources, name: &str, key: &str) -> Option<String> {
    let s = src.secrets.get(name)?;
    s.data.as_ref().and_then(|d| d.get(key)).map(|b| String::from_utf8_lossy(&b.0).into_owned())
}

/// The value of a downward-API field path (`metadata.name`, `metadata.labels['app']`, ...).
pub fn field_value(pod: &Pod, src: &Sources, path: &str) -> Option<String> {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let map_key = |prefix: &str, map: &Option<BTreeMap<String, String>>| -> Option<Option<String>> {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.as_ref().and_then(|l| l.get(key).cloned()))
    };
    if let Some(v) = map_key("metadata.labels['", &m.labels) {
        return Some(v.unwrap_or_default());
    }
    if let Some(v) = map_key("metadata.annotations['", &m.annotations) {
        return Some(v.unwrap_or_default());
    }
    let render = |map: &Option<BTreeMap<String, String>>| map.iter().flatten().map(|(k, v)| format!("{k}=\"{v}\"")).collect::<Vec<_>>().join("\n");
    Some(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "metadata.labels" => render(&m.labels),
        "metadata.annotations" => render(&m.annotations),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_else(|| src.node_name.clone()),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()).unwrap_or_default(),
        "status.podIP" | "status.podIPs" => src.pod_ip.clone(),
        "status.hostIP" | "status.hostIPs" => src.host_ip.clone(),
        _ => return None,
    })
}

/// A resource field (`limits.cpu`, `requests.memory`, ...) with its divisor, as upstream renders it.
fn resource_value(c: &Container, resource: &str, divisor: Option<&str>) -> String {
    let r = c.resources.clone().unwrap_or_default();
    let (kind, name) = resource.split_once('.').unwrap_or(("", resource));
    let q = match kind {
        "limits" => r.limits.as_ref().and_then(|l| l.get(name)).cloned(),
        "requests" => r.requests.as_ref().and_then(|l| l.get(name)).cloned(),
        _ => None,
    };
    let is_cpu = name == "cpu";
    match q {
        Some(q) if is_cpu => {
            let divisor = divisor.map(|d| crate::runtime_config::millicores(&k8s_openapi::apimachinery::pkg::api::resource::Quantity(d.into()))).filter(|d| *d > 0).unwrap_or(1000);
            (crate::runtime_config::millicores(&q) + divisor - 1).div_euclid(divisor).to_string()
        }
        Some(q) => {
            let divisor = divisor.map(|d| crate::runtime_config::bytes(&k8s_openapi::apimachinery::pkg::api::resource::Quantity(d.into()))).filter(|d| *d > 0).unwrap_or(1);
            (crate::runtime_config::bytes(&q) + divisor - 1).div_euclid(divisor).to_string()
        }
        // Without a limit upstream reports the node's allocatable; the caller has no node here.
        None => String::new(),
    }
}

/// Expands `$(NAME)` from `vars`; `$$` escapes a `$`; unknown references stay as written.
pub fn expand(input: &str, vars: &[(String, String)]) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(end) => {
                    let name = &body[..end];
                    match vars.iter().rev().find(|(k, _)| k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The environment of `c`, in upstream's order (envFrom first, then env), later names winning.
pub fn build(pod: &Pod, c: &Container, src: &Sources) -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let set = |vars: &mut Vec<(String, String)>, k: String, v: String| {
        vars.retain(|(name, _)| *name != k);
        vars.push((k, v));
    };
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match src.config_maps.get(&r.name) {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        set(&mut vars, format!("{prefix}{k}"), v.clone());
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(format!("configmap \"{}\" not found", r.name)),
            }
        }
        if let Some(r) = &from.secret_ref {
            match src.secrets.get(&r.name) {
                Some(s) => {
                    for (k, v) in s.data.iter().flatten() {
                        set(&mut vars, format!("{prefix}{k}"), String::from_utf8_lossy(&v.0).into_owned());
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(format!("secret \"{}\" not found", r.name)),
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => expand(v, &vars),
            (None, None) => String::new(),
            (None, Some(from)) => {
                if let Some(f) = &from.field_ref {
                    field_value(pod, src, &f.field_path).unwrap_or_default()
                } else if let Some(r) = &from.resource_field_ref {
                    resource_value(c, &r.resource, r.divisor.as_ref().map(|d| d.0.as_str()))
                } else if let Some(r) = &from.config_map_key_ref {
                    match (src.config_maps.contains_key(&r.name), config_map_value(src, &r.name, &r.key)) {
                        (_, Some(v)) => v,
                        _ if r.optional == Some(true) => continue,
                        (false, None) => return Err(format!("configmap \"{}\" not found", r.name)),
                        (true, None) => return Err(format!("couldn't find key {} in ConfigMap {}/{}", r.key, pod.metadata.namespace.as_deref().unwrap_or_default(), r.name)),
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    match (src.secrets.contains_key(&r.name), secret_value(src, &r.name, &r.key)) {
                        (_, Some(v)) => v,
                        _ if r.optional == Some(true) => continue,
                        (false, None) => return Err(format!("secret \"{}\" not found", r.name)),
                        (true, None) => return Err(format!("couldn't find key {} in Secret {}/{}", r.key, pod.metadata.namespace.as_deref().unwrap_or_default(), r.name)),
                    }
                } else {
                    String::new()
                }
            }
        };
        set(&mut vars, e.name.clone(), value);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_expand_as_upstream() {
        let vars = vec![("A".to_string(), "x".to_string())];
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &vars), "x-$(B)-$(A)-$");
    }

    #[test]
    fn environment_from_the_pod_config_maps_and_secrets() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}}, "spec": {"containers": []}})).unwrap();
        let c: Container = serde_json::from_value(json!({"name": "c",
            "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
            "env": [
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
                {"name": "GREETING", "value": "hi $(POD)"}
            ]})).unwrap();
        let mut src = Sources { pod_ip: "10.42.0.9".into(), ..Default::default() };
        src.config_maps.insert("cm".into(), serde_json::from_value(json!({"data": {"k": "v"}})).unwrap());
        src.secrets.insert("s".into(), serde_json::from_value(json!({"data": {"password": "c2VjcmV0"}})).unwrap());
        let env = build(&pod, &c, &src).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!((get("CM_k"), get("POD"), get("APP"), get("PASS"), get("GREETING")), (Some("v"), Some("p"), Some("web"), Some("secret"), Some("hi p")));
        src.secrets.clear();
        assert_eq!(build(&pod, &c, &src).unwrap_err(), "secret \"s\" not found");
    }
}
