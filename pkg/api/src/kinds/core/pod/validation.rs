//! Pods and pod templates: the pod spec, pod create/update/status, and PodTemplate.
//!
//! Skipped from upstream: resource claims, sysctls, Windows/host-process rules, OS-specific
//! security-context restrictions, seccomp/AppArmor annotations, pod QoS immutability, the
//! nodeSelector/affinity additions allowed on scheduling-gated pods, in-place resize,
//! container-status transitions and the ephemeralcontainers subresource. The update diff lists
//! changed spec fields as JSON rather than as go-cmp output.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodTemplate, PodTemplateSpec, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::validation::container::{enum_if_set, validate_containers, validate_init_containers, PodContext};
use crate::validation::field::{go_json, BadValue, FieldError, Path};
use crate::validation::meta::{self, NameRule};
use crate::validation::scheduling::{validate_affinity, validate_tolerations, validate_topology_spread};
use crate::validation::{names, volume};

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const MAX_INT32: i64 = i32::MAX as i64;
/// The fields a pod update may change, as upstream lists them in its message.
pub const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn subdomain(value: &str, path: &Path) -> Vec<FieldError> {
    names::is_dns1123_subdomain(value).into_iter().map(|m| FieldError::invalid(path, value, m)).collect()
}

fn dns_label(value: &str, path: &Path) -> Vec<FieldError> {
    names::is_dns1123_label(value).into_iter().map(|m| FieldError::invalid(path, value, m)).collect()
}

fn validate_dns_config(spec: &PodSpec, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let config = spec.dns_config.as_ref();
    if spec.dns_policy.as_deref() == Some("None") {
        match config {
            None => return vec![FieldError::required(path, "must provide `dnsConfig` when `dnsPolicy` is None")],
            Some(c) if c.nameservers.as_deref().unwrap_or(&[]).is_empty() => {
                return vec![FieldError::required(
                    &path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )]
            }
            _ => {}
        }
    }
    let Some(config) = config else { return errs };
    let nameservers = config.nameservers.as_deref().unwrap_or(&[]);
    if nameservers.len() > 3 {
        errs.push(FieldError::invalid(&path.child("nameservers"), BadValue::json(nameservers), "must not have more than 3 nameservers"));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        if names::parse_ip(ns).is_none() {
            errs.push(FieldError::invalid(&path.child("nameservers").index(i), ns, names::IP_MSG));
        }
    }
    let searches = config.searches.as_deref().unwrap_or(&[]);
    if searches.len() > 32 {
        errs.push(FieldError::invalid(&path.child("searches"), BadValue::json(searches), "must not have more than 32 search paths"));
    }
    if searches.join(" ").len() > 2048 {
        errs.push(FieldError::invalid(
            &path.child("searches"),
            BadValue::json(searches),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        errs.extend(subdomain(s.strip_suffix('.').unwrap_or(s), &path.child("searches").index(i)));
    }
    for (i, o) in config.options.iter().flatten().enumerate() {
        if o.name.as_deref().unwrap_or("").is_empty() {
            errs.push(FieldError::required(&path.child("options").index(i), "must not be empty"));
        }
    }
    errs
}

fn validate_pod_security_context(spec: &PodSpec, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(sc) = &spec.security_context else { return errs };
    for (field, id) in [("fsGroup", sc.fs_group), ("runAsUser", sc.run_as_user), ("runAsGroup", sc.run_as_group)] {
        let Some(id) = id else { continue };
        errs.extend(names::is_valid_id(id).into_iter().map(|m| FieldError::invalid(&path.child(field), id, m)));
    }
    for (i, gid) in sc.supplemental_groups.iter().flatten().enumerate() {
        errs.extend(names::is_valid_id(*gid).into_iter().map(|m| FieldError::invalid(&path.child("supplementalGroups").index(i), *gid, m)));
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errs.push(FieldError::invalid(
            &path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    if let Some(policy) = sc.fs_group_change_policy.as_deref().filter(|p| !["Always", "OnRootMismatch"].contains(p)) {
        errs.push(FieldError::not_supported(&path.child("fsGroupChangePolicy"), policy, &["Always", "OnRootMismatch"]));
    }
    if let Some(profile) = &sc.seccomp_profile {
        let p = path.child("seccompProfile").child("type");
        match profile.type_.as_str() {
            "Localhost" | "RuntimeDefault" | "Unconfined" => {}
            "" => errs.push(FieldError::required(&p, "type is required when seccompProfile is set")),
            t => errs.push(FieldError::not_supported(&p, t, &["Localhost", "RuntimeDefault", "Unconfined"])),
        }
    }
    errs
}

/// `ValidatePodSpec`; `is_pod` is false for templates embedded in other kinds.
pub fn validate_pod_spec(spec: &PodSpec, path: &Path, is_pod: bool) -> Vec<FieldError> {
    let (volumes, mut errs) = volume::validate_volumes(spec.volumes.as_deref().unwrap_or(&[]), &path.child("volumes"));
    let ctx = PodContext { volumes: &volumes, grace_period: spec.termination_grace_period_seconds.unwrap_or(30) };
    errs.extend(validate_containers(&spec.containers, &ctx, &path.child("containers")));
    errs.extend(validate_init_containers(
        spec.init_containers.as_deref().unwrap_or(&[]),
        &spec.containers,
        &ctx,
        &path.child("initContainers"),
    ));
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, port) in c.ports.iter().flatten().enumerate() {
                // An unset hostPort is defaulted to the container port for pods.
                let Some(hp) = port.host_port else { continue };
                if (is_pod || hp != 0) && hp != port.container_port {
                    let p = path.child("containers").index(i).child("ports").index(j).child("hostPort");
                    errs.push(FieldError::invalid(&p, hp, "must match `containerPort` when `hostNetwork` is true"));
                }
            }
        }
    }
    errs.extend(enum_if_set(spec.restart_policy.as_deref(), RESTART_POLICIES, &path.child("restartPolicy")));
    errs.extend(enum_if_set(spec.dns_policy.as_deref(), DNS_POLICIES, &path.child("dnsPolicy")));
    errs.extend(meta::validate_labels(spec.node_selector.as_ref(), &path.child("nodeSelector")));
    errs.extend(validate_pod_security_context(spec, &path.child("securityContext")));
    if let Some(a) = &spec.affinity {
        errs.extend(validate_affinity(a, &path.child("affinity")));
    }
    errs.extend(validate_dns_config(spec, &path.child("dnsConfig")));
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        errs.extend(meta::validate_label_name(&g.condition_type, &path.child("readinessGates").index(i).child("conditionType")));
    }
    let mut gates = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let p = path.child("schedulingGates").index(i);
        errs.extend(meta::validate_label_name(&g.name, &p));
        if !gates.insert(g.name.as_str()) {
            errs.push(FieldError::duplicate(&p, &g.name));
        }
    }
    errs.extend(validate_topology_spread(spec, &path.child("topologySpreadConstraints")));
    let named = [("serviceAccountName", &spec.service_account_name), ("nodeName", &spec.node_name)];
    for (field, value) in named {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            errs.extend(subdomain(v, &path.child(field)));
        }
    }
    if let Some(ads) = spec.active_deadline_seconds.filter(|v| !(1..=MAX_INT32).contains(v)) {
        errs.push(FieldError::invalid(&path.child("activeDeadlineSeconds"), ads, names::inclusive_range_error(1, MAX_INT32)));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            errs.extend(dns_label(v, &path.child(field)));
        }
    }
    errs.extend(validate_tolerations(spec.tolerations.as_deref().unwrap_or(&[]), &path.child("tolerations")));
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        let p = path.child("hostAliases").index(i);
        if names::parse_ip(&alias.ip).is_none() {
            errs.push(FieldError::invalid(&p.child("ip"), &alias.ip, names::IP_MSG));
        }
        for (j, h) in alias.hostnames.iter().flatten().enumerate() {
            errs.extend(subdomain(h, &p.child("hostnames").index(j)));
        }
    }
    for (field, value) in [("priorityClassName", &spec.priority_class_name), ("runtimeClassName", &spec.runtime_class_name)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty() || field == "runtimeClassName") {
            errs.extend(subdomain(v, &path.child(field)));
        }
    }
    if let Some(p) = spec.preemption_policy.as_deref() {
        match p {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required(&path.child("preemptionPolicy"), "")),
            other => errs.push(FieldError::not_supported(&path.child("preemptionPolicy"), other, &["PreemptLowerPriority", "Never"])),
        }
    }
    if let Some(os) = &spec.os {
        match os.name.as_str() {
            "" => errs.push(FieldError::required(&path.child("os").child("name"), "cannot be empty")),
            "linux" | "windows" => {}
            other => errs.push(FieldError::not_supported(&path.child("os"), other, &["linux", "windows"])),
        }
    }
    errs
}

/// Pod-only checks on the spec's containers (`validateContainersOnlyForPod`).
fn image_whitespace(spec: &PodSpec, path: &Path) -> Vec<FieldError> {
    let lists = [("containers", Some(&spec.containers)), ("initContainers", spec.init_containers.as_ref())];
    let mut errs = Vec::new();
    for (field, list) in lists {
        for (i, c) in list.into_iter().flatten().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.trim() != image {
                errs.push(FieldError::invalid(
                    &path.child(field).index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errs
}

fn pod_metadata_and_spec(pod: &Pod) -> Vec<FieldError> {
    let spec_path = Path::new("spec");
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let mut errs = meta::validate_object_meta(&pod.metadata, true, NameRule::Dns1123Subdomain);
    errs.extend(pod_specific_annotations(&pod.metadata, spec));
    errs.extend(validate_pod_spec(spec, &spec_path, true));
    errs.extend(image_whitespace(spec, &spec_path));
    errs
}

fn pod_specific_annotations(m: &ObjectMeta, spec: &PodSpec) -> Vec<FieldError> {
    let key = "kubernetes.io/config.mirror";
    match m.annotations.as_ref().and_then(|a| a.get(key)) {
        Some(v) if spec.node_name.as_deref().unwrap_or("").is_empty() => {
            vec![FieldError::invalid(
                &Path::of(&["metadata", "annotations"]).key(key),
                v,
                "must set spec.nodeName if mirror pod annotation is set",
            )]
        }
        _ => Vec::new(),
    }
}

/// Create-time pod validation (`ValidatePodCreate`).
pub fn validate_pod(pod: &Pod) -> Vec<FieldError> {
    let mut errs = pod_metadata_and_spec(pod);
    let spec_path = Path::new("spec");
    if let Some(spec) = &pod.spec {
        if spec.ephemeral_containers.as_ref().is_some_and(|e| !e.is_empty()) {
            errs.push(FieldError::forbidden(&spec_path.child("ephemeralContainers"), "cannot be set on create"));
        }
        if !spec.node_name.as_deref().unwrap_or("").is_empty() && spec.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty()) {
            errs.push(FieldError::forbidden(&spec_path.child("nodeName"), "cannot be set until all schedulingGates have been cleared"));
        }
    }
    errs
}

#[path = "validation_update.rs"]
mod update;
pub use update::{validate_pod_status_update, validate_pod_update};

/// `ValidatePodTemplateSpec` (labels and annotations sit directly under `path`, as upstream
/// reports them).
pub fn validate_pod_template_spec(template: Option<&PodTemplateSpec>, path: &Path) -> Vec<FieldError> {
    let default = PodTemplateSpec::default();
    let template = template.unwrap_or(&default);
    let default_meta = ObjectMeta::default();
    let m = template.metadata.as_ref().unwrap_or(&default_meta);
    let default_spec = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&default_spec);
    let mut errs = meta::validate_labels(m.labels.as_ref(), &path.child("labels"));
    errs.extend(meta::validate_annotations(m.annotations.as_ref(), &path.child("annotations")));
    errs.extend(validate_pod_spec(spec, &path.child("spec"), false));
    if spec.ephemeral_containers.as_ref().is_some_and(|e| !e.is_empty()) {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

pub fn validate_pod_template(t: &PodTemplate) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&t.metadata, true, NameRule::Dns1123Subdomain);
    errs.extend(validate_pod_template_spec(t.template.as_ref(), &Path::new("template")));
    errs
}

pub fn validate_pod_template_update(new: &PodTemplate, old: &PodTemplate) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(validate_pod_template_spec(new.template.as_ref(), &Path::new("template")));
    errs
}

/// Lines naming each top-level spec field that differs, old value then new.
pub(crate) fn spec_diff<T: serde::Serialize>(old: &T, new: &T) -> String {
    let (old, new) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default());
    let empty = serde_json::Map::new();
    let (o, n) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    let null = serde_json::Value::Null;
    let mut lines = Vec::new();
    for k in keys {
        let (ov, nv) = (o.get(k).unwrap_or(&null), n.get(k).unwrap_or(&null));
        if ov != nv {
            lines.push(format!("- {k}: {}", go_json(ov)));
            lines.push(format!("+ {k}: {}", go_json(nv)));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
