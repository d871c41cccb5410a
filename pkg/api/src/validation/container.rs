//! Containers: names, images, ports, env, probes, lifecycle hooks, mounts and resources.
//!
//! Skipped from upstream: resizePolicy, volumeDevices overlap rules, mountPropagation,
//! recursiveReadOnly, downward-API divisors, Windows and AppArmor security-context options,
//! seccomp/AppArmor annotation cross-checks, and ephemeral-container field allow-lists.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, ContainerPort, EnvFromSource, EnvVar, HTTPGetAction, Probe, SecurityContext};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::field::{BadValue, FieldError, Path};
use super::meta::NEGATIVE;
use super::{names, resources, volume};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const CONVERTIBLE_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_PATHS: &[&str] =
    &["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"];

/// What the containers of one pod spec are checked against.
pub struct PodContext<'a> {
    /// Volumes that validated, by name; the flag says whether it is claim-backed.
    pub volumes: &'a BTreeMap<String, bool>,
    pub grace_period: i64,
}

/// An enum field that defaulting fills: absent or empty is fine, anything else must be listed.
pub(crate) fn enum_if_set(value: Option<&str>, supported: &[&str], path: &Path) -> Option<FieldError> {
    value.filter(|v| !v.is_empty() && !supported.contains(v)).map(|v| FieldError::not_supported(path, v, supported))
}

pub fn port_num_or_name(port: &IntOrString, path: &Path) -> Vec<FieldError> {
    match port {
        IntOrString::Int(i) => names::is_valid_port_num((*i).into()).into_iter().map(|m| FieldError::invalid(path, *i, m)).collect(),
        IntOrString::String(s) => names::is_valid_port_name(s).into_iter().map(|m| FieldError::invalid(path, s, m)).collect(),
    }
}

fn validate_ports(ports: &[ContainerPort], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = names::is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(msgs.into_iter().map(|m| FieldError::invalid(&p.child("name"), name, m)));
            } else if !seen.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            let cp = port.container_port;
            errs.extend(names::is_valid_port_num(cp.into()).into_iter().map(|m| FieldError::invalid(&p.child("containerPort"), cp, m)));
        }
        if let Some(hp) = port.host_port.filter(|hp| *hp != 0) {
            errs.extend(names::is_valid_port_num(hp.into()).into_iter().map(|m| FieldError::invalid(&p.child("hostPort"), hp, m)));
        }
        errs.extend(enum_if_set(port.protocol.as_deref(), PROTOCOLS, &p.child("protocol")));
    }
    errs
}

fn validate_field_ref(api_version: Option<&str>, field_path: &str, supported: &[&str], path: &Path) -> Vec<FieldError> {
    if api_version == Some("") {
        return vec![FieldError::required(&path.child("apiVersion"), "")];
    }
    if field_path.is_empty() {
        return vec![FieldError::required(&path.child("fieldPath"), "")];
    }
    let fp = path.child("fieldPath");
    let version = api_version.unwrap_or("v1");
    if version != "v1" {
        return vec![FieldError::invalid(&fp, field_path, format!("error converting fieldPath: unsupported pod version: {version}"))];
    }
    if let Some((base, rest)) = field_path.split_once("['") {
        let Some(key) = rest.strip_suffix("']") else {
            return vec![FieldError::invalid(
                &fp,
                field_path,
                format!("error converting fieldPath: field label not supported: {field_path}"),
            )];
        };
        return match base {
            "metadata.annotations" => super::meta::validate_label_name(&key.to_lowercase(), path),
            "metadata.labels" => super::meta::validate_label_name(key, path),
            _ => vec![FieldError::invalid(
                &fp,
                field_path,
                format!("error converting fieldPath: field label does not support subscript: {field_path}"),
            )],
        };
    }
    if !CONVERTIBLE_FIELD_PATHS.contains(&field_path) {
        return vec![FieldError::invalid(&fp, field_path, format!("error converting fieldPath: field label not supported: {field_path}"))];
    }
    if !supported.contains(&field_path) {
        return vec![FieldError::not_supported(&fp, field_path, supported)];
    }
    Vec::new()
}

fn validate_env(vars: &[EnvVar], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            errs.extend(names::is_env_var_name(&ev.name).into_iter().map(|m| FieldError::invalid(&p.child("name"), &ev.name, m)));
        }
        let Some(from) = &ev.value_from else { continue };
        let vp = p.child("valueFrom");
        let mut sources = 0;
        if let Some(f) = &from.field_ref {
            sources += 1;
            errs.extend(validate_field_ref(f.api_version.as_deref(), &f.field_path, ENV_FIELD_PATHS, &vp.child("fieldRef")));
        }
        if let Some(r) = &from.resource_field_ref {
            sources += 1;
            let rp = vp.child("resourceFieldRef");
            if r.resource.is_empty() {
                errs.push(FieldError::required(&rp.child("resource"), ""));
            } else if !RESOURCE_FIELD_PATHS.contains(&r.resource.as_str())
                && !r.resource.starts_with("requests.hugepages-")
                && !r.resource.starts_with("limits.hugepages-")
            {
                errs.push(FieldError::not_supported(&rp.child("resource"), &r.resource, RESOURCE_FIELD_PATHS));
            }
        }
        let key_refs = [
            ("configMapKeyRef", from.config_map_key_ref.as_ref().map(|r| (&r.name, &r.key))),
            ("secretKeyRef", from.secret_key_ref.as_ref().map(|r| (&r.name, &r.key))),
        ];
        for (field, reference) in key_refs {
            let Some((name, key)) = reference else { continue };
            sources += 1;
            let kp = vp.child(field);
            errs.extend(names::is_dns1123_subdomain(name).into_iter().map(|m| FieldError::invalid(&kp.child("name"), name, m)));
            if key.is_empty() {
                errs.push(FieldError::required(&kp.child("key"), ""));
            } else {
                errs.extend(names::is_config_map_key(key).into_iter().map(|m| FieldError::invalid(&kp.child("key"), key, m)));
            }
        }
        let detail = match sources {
            0 => Some("must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"),
            _ if !ev.value.as_deref().unwrap_or("").is_empty() => Some("may not be specified when `value` is not empty"),
            n if n > 1 => Some("may not have more than one field specified at a time"),
            _ => None,
        };
        errs.extend(detail.map(|d| FieldError::invalid(&vp, "", d)));
    }
    errs
}

fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ev) in sources.iter().enumerate() {
        let p = path.index(i);
        if let Some(prefix) = ev.prefix.as_deref().filter(|x| !x.is_empty()) {
            errs.extend(names::is_env_var_name(prefix).into_iter().map(|m| FieldError::invalid(&p.child("prefix"), prefix, m)));
        }
        let refs = [("configMapRef", ev.config_map_ref.as_ref().map(|r| &r.name)), ("secretRef", ev.secret_ref.as_ref().map(|r| &r.name))];
        let mut count = 0;
        for (field, name) in refs {
            let Some(name) = name else { continue };
            count += 1;
            let np = p.child(field).child("name");
            if name.is_empty() {
                errs.push(FieldError::required(&np, ""));
            } else {
                let masked = names::mask_trailing_dash(name);
                errs.extend(names::is_dns1123_subdomain(&masked).into_iter().map(|m| FieldError::invalid(&np, name, m)));
            }
        }
        match count {
            0 => errs.push(FieldError::invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")),
            1 => {}
            _ => errs.push(FieldError::invalid(path, "", "may not have more than one field specified at a time")),
        }
    }
    errs
}

fn validate_http_get(h: &HTTPGetAction, path: &Path) -> Vec<FieldError> {
    let mut errs = port_num_or_name(&h.port, &path.child("port"));
    errs.extend(enum_if_set(h.scheme.as_deref(), &["HTTP", "HTTPS"], &path.child("scheme")));
    for header in h.http_headers.iter().flatten() {
        errs.extend(
            names::is_http_header_name(&header.name).into_iter().map(|m| FieldError::invalid(&path.child("httpHeaders"), &header.name, m)),
        );
    }
    errs
}

/// Exactly one handler; the ones after the first are reported as extra.
fn validate_handler(handlers: &[(&str, bool)], check: impl Fn(&str, &Path) -> Vec<FieldError>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut found = 0;
    for (name, _) in handlers.iter().filter(|(_, present)| *present) {
        if found > 0 {
            errs.push(FieldError::forbidden(&path.child(name), "may not specify more than 1 handler type"));
        } else {
            errs.extend(check(name, &path.child(name)));
        }
        found += 1;
    }
    if found == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

fn validate_probe(probe: &Probe, path: &Path) -> Vec<FieldError> {
    let handlers = [
        ("exec", probe.exec.is_some()),
        ("httpGet", probe.http_get.is_some()),
        ("tcpSocket", probe.tcp_socket.is_some()),
        ("grpc", probe.grpc.is_some()),
    ];
    let mut errs = validate_handler(
        &handlers,
        |name, p| match name {
            "exec" if probe.exec.as_ref().is_some_and(|e| e.command.as_deref().unwrap_or(&[]).is_empty()) => {
                vec![FieldError::required(&p.child("command"), "")]
            }
            "httpGet" => probe.http_get.as_ref().map(|h| validate_http_get(h, p)).unwrap_or_default(),
            "tcpSocket" => probe.tcp_socket.as_ref().map(|t| port_num_or_name(&t.port, &p.child("port"))).unwrap_or_default(),
            "grpc" => probe.grpc.as_ref().map(|g| port_num_or_name(&IntOrString::Int(g.port), &p.child("port"))).unwrap_or_default(),
            _ => Vec::new(),
        },
        path,
    );
    let counters = [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (field, value) in counters {
        errs.extend(value.filter(|v| *v < 0).map(|v| FieldError::invalid(&path.child(field), v, NEGATIVE)));
    }
    if let Some(t) = probe.termination_grace_period_seconds.filter(|t| *t <= 0) {
        errs.push(FieldError::invalid(&path.child("terminationGracePeriodSeconds"), t, "must be greater than 0"));
    }
    errs
}

/// Liveness and startup probes must use the default success threshold of 1.
fn validate_probes(c: &Container, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, probe, must_succeed_once) in [
        ("livenessProbe", &c.liveness_probe, true),
        ("readinessProbe", &c.readiness_probe, false),
        ("startupProbe", &c.startup_probe, true),
    ] {
        let Some(probe) = probe else { continue };
        let p = path.child(field);
        errs.extend(validate_probe(probe, &p));
        if must_succeed_once {
            errs.extend(
                probe.success_threshold.filter(|s| *s != 1).map(|s| FieldError::invalid(&p.child("successThreshold"), s, "must be 1")),
            );
        } else if let Some(t) = probe.termination_grace_period_seconds {
            errs.push(FieldError::invalid(&p.child("terminationGracePeriodSeconds"), t, "must not be set for readinessProbes"));
        }
    }
    errs
}

fn validate_lifecycle(c: &Container, grace: i64, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(lifecycle) = &c.lifecycle else { return errs };
    for (field, handler) in [("postStart", &lifecycle.post_start), ("preStop", &lifecycle.pre_stop)] {
        let Some(h) = handler else { continue };
        let handlers = [
            ("exec", h.exec.is_some()),
            ("httpGet", h.http_get.is_some()),
            ("tcpSocket", h.tcp_socket.is_some()),
            ("sleep", h.sleep.is_some()),
        ];
        errs.extend(validate_handler(
            &handlers,
            |name, p| match name {
                "exec" if h.exec.as_ref().is_some_and(|e| e.command.as_deref().unwrap_or(&[]).is_empty()) => {
                    vec![FieldError::required(&p.child("command"), "")]
                }
                "httpGet" => h.http_get.as_ref().map(|g| validate_http_get(g, p)).unwrap_or_default(),
                "tcpSocket" => h.tcp_socket.as_ref().map(|t| port_num_or_name(&t.port, &p.child("port"))).unwrap_or_default(),
                "sleep" => h
                    .sleep
                    .as_ref()
                    .filter(|s| s.seconds <= 0 || s.seconds > grace)
                    .map(|s| {
                        vec![FieldError::invalid(
                            p,
                            s.seconds,
                            format!("must be greater than 0 and less than terminationGracePeriodSeconds ({grace})"),
                        )]
                    })
                    .unwrap_or_default(),
                _ => Vec::new(),
            },
            &path.child(field),
        ));
    }
    errs
}

fn validate_security_context(sc: &SecurityContext, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, id) in [("runAsUser", sc.run_as_user), ("runAsGroup", sc.run_as_group)] {
        let Some(id) = id else { continue };
        errs.extend(names::is_valid_id(id).into_iter().map(|m| FieldError::invalid(&path.child(field), id, m)));
    }
    errs.extend(enum_if_set(sc.proc_mount.as_deref(), &["Default", "Unmasked"], &path.child("procMount")));
    if sc.allow_privilege_escalation == Some(false) && sc.privileged == Some(true) {
        errs.push(FieldError::invalid(path, BadValue::json(sc), "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"));
    }
    errs
}

/// Checks shared by regular and init containers (`validateContainerCommon`).
fn container_common(c: &Container, ctx: &PodContext, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if c.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        errs.extend(names::is_dns1123_label(&c.name).into_iter().map(|m| FieldError::invalid(&path.child("name"), &c.name, m)));
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    errs.extend(enum_if_set(
        c.termination_message_policy.as_deref(),
        &["File", "FallbackToLogsOnError"],
        &path.child("terminationMessagePolicy"),
    ));
    errs.extend(validate_ports(c.ports.as_deref().unwrap_or(&[]), &path.child("ports")));
    errs.extend(validate_env(c.env.as_deref().unwrap_or(&[]), &path.child("env")));
    errs.extend(validate_env_from(c.env_from.as_deref().unwrap_or(&[]), &path.child("envFrom")));
    errs.extend(volume::validate_mounts(c, ctx.volumes, &path.child("volumeMounts")));
    errs.extend(enum_if_set(c.image_pull_policy.as_deref(), PULL_POLICIES, &path.child("imagePullPolicy")));
    if let Some(r) = &c.resources {
        errs.extend(resources::validate_requirements(r.limits.as_ref(), r.requests.as_ref(), &path.child("resources")));
    }
    if let Some(sc) = &c.security_context {
        errs.extend(validate_security_context(sc, &path.child("securityContext")));
    }
    errs
}

/// Host ports may not repeat across the given containers (protocol/hostIP/port).
fn host_port_conflicts(containers: &[Container], path: &Path) -> Vec<FieldError> {
    let mut seen = BTreeSet::new();
    let mut errs = Vec::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let Some(hp) = port.host_port.filter(|p| *p != 0) else { continue };
            let key = format!("{}/{}/{hp}", port.protocol.as_deref().unwrap_or("TCP"), port.host_ip.as_deref().unwrap_or(""));
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(&path.index(ci).child("ports").index(pi).child("hostPort"), key));
            }
        }
    }
    errs
}

/// `validateContainers`: at least one, unique names, probes and hooks.
pub fn validate_containers(containers: &[Container], ctx: &PodContext, path: &Path) -> Vec<FieldError> {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(container_common(c, ctx, &p));
        if !seen.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), &c.name));
        }
        errs.extend(validate_lifecycle(c, ctx.grace_period, &p.child("lifecycle")));
        errs.extend(validate_probes(c, &p));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(&p.child("restartPolicy"), "may not be set for non-init containers"));
        }
    }
    errs.extend(host_port_conflicts(containers, path));
    errs
}

/// `validateInitContainers`: names unique across both lists; hooks and probes only for sidecars.
pub fn validate_init_containers(init: &[Container], regular: &[Container], ctx: &PodContext, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in init.iter().enumerate() {
        let p = path.index(i);
        errs.extend(container_common(c, ctx, &p));
        errs.extend(enum_if_set(c.restart_policy.as_deref(), &["Always"], &p.child("restartPolicy")));
        if c.restart_policy.as_deref() == Some("") {
            errs.push(FieldError::not_supported(&p.child("restartPolicy"), "", &["Always"]));
        }
        if seen.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), &c.name));
        } else if !c.name.is_empty() {
            seen.insert(&c.name);
        }
        // Upstream checks each init container on its own, so the index is always 0.
        errs.extend(host_port_conflicts(std::slice::from_ref(c), path));
        if c.restart_policy.as_deref() == Some("Always") {
            errs.extend(validate_lifecycle(c, ctx.grace_period, &p.child("lifecycle")));
            errs.extend(validate_probes(c, &p));
        } else {
            let disallowed = [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ];
            for (field, _) in disallowed.iter().filter(|(_, set)| *set) {
                errs.push(FieldError::forbidden(&p.child(field), "may not be set for init containers without restartPolicy=Always"));
            }
        }
        if let Some(policy) = c.resize_policy.as_ref().filter(|r| !r.is_empty()) {
            errs.push(FieldError::invalid(&p.child("resizePolicy"), BadValue::json(policy), "must not be set for init containers"));
        }
    }
    errs
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
