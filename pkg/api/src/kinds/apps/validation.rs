//! Deployments and ReplicaSets (apps/v1).
//!
//! Skipped from upstream: the deprecated rollbackTo field and pod-template checks that only
//! older API versions skip.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::validation::field::{go_struct, BadValue, FieldError, Path};
use crate::validation::meta::{self, NameRule, SelectorMatch};
use crate::validation::names;
use crate::kinds::core::pod::validation as pod;

/// Whether the stored JSON has a selector at all; k8s-openapi turns a missing one into an
/// empty one, which upstream reports differently.
pub fn selector_given(obj: &Value) -> bool {
    obj.pointer("/spec/selector").is_some_and(|s| !s.is_null())
}

fn int_or_string_value(v: &IntOrString) -> BadValue {
    match v {
        IntOrString::Int(i) => BadValue::Int((*i).into()),
        IntOrString::String(s) => BadValue::Str(s.clone()),
    }
}

fn int_or_string_json(v: &IntOrString) -> Value {
    match v {
        IntOrString::Int(i) => (*i).into(),
        IntOrString::String(s) => s.clone().into(),
    }
}

/// The number an int-or-percent stands for (`getIntOrPercentValue`).
fn int_or_percent(v: &IntOrString) -> (i64, bool) {
    match v {
        IntOrString::Int(i) => ((*i).into(), false),
        IntOrString::String(s) => match s.strip_suffix('%').filter(|_| names::is_valid_percent(s).is_empty()) {
            Some(n) => (n.parse().unwrap_or(0), true),
            None => (s.parse().unwrap_or(0), false),
        },
    }
}

fn positive_int_or_percent(v: &IntOrString, path: &Path) -> Vec<FieldError> {
    match v {
        IntOrString::String(s) => {
            names::is_valid_percent(s).into_iter().map(|m| FieldError::invalid(path, int_or_string_value(v), m)).collect()
        }
        IntOrString::Int(i) => meta::non_negative((*i).into(), path).into_iter().collect(),
    }
}

fn validate_strategy(strategy: Option<&DeploymentStrategy>, path: &Path) -> Vec<FieldError> {
    let Some(strategy) = strategy else { return Vec::new() };
    let mut errs = Vec::new();
    match strategy.type_.as_deref().unwrap_or("RollingUpdate") {
        "Recreate" if strategy.rolling_update.is_some() => {
            errs.push(FieldError::forbidden(&path.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
        }
        "Recreate" => {}
        "RollingUpdate" | "" => {
            // Defaulting fills whichever of the two is missing with 25%.
            let Some(ru) = &strategy.rolling_update else { return errs };
            let default = IntOrString::String("25%".into());
            let unavailable = ru.max_unavailable.as_ref().unwrap_or(&default);
            let surge = ru.max_surge.as_ref().unwrap_or(&default);
            let p = path.child("rollingUpdate");
            errs.extend(positive_int_or_percent(unavailable, &p.child("maxUnavailable")));
            errs.extend(positive_int_or_percent(surge, &p.child("maxSurge")));
            if int_or_percent(unavailable).0 == 0 && int_or_percent(surge).0 == 0 {
                errs.push(FieldError::invalid(
                    &p.child("maxUnavailable"),
                    int_or_string_value(unavailable),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
            if let (n, true) = int_or_percent(unavailable) {
                if n > 100 {
                    errs.push(FieldError::invalid(
                        &p.child("maxUnavailable"),
                        int_or_string_value(unavailable),
                        "must not be greater than 100%",
                    ));
                }
            }
        }
        other => {
            let rolling = strategy.rolling_update.as_ref().map_or(Value::Null, |ru| {
                let field = |v: &Option<IntOrString>| v.as_ref().map_or(Value::from(0), int_or_string_json);
                serde_json::from_str(&go_struct(&[("MaxUnavailable", field(&ru.max_unavailable)), ("MaxSurge", field(&ru.max_surge))]))
                    .unwrap_or_default()
            });
            let value = go_struct(&[("Type", other.into()), ("RollingUpdate", rolling)]);
            errs.push(FieldError::not_supported(path, BadValue::Raw(value), &["Recreate", "RollingUpdate"]));
        }
    }
    errs
}

/// Selector and template checks shared by Deployments and ReplicaSets.
fn selector_and_template(
    selector: Option<&LabelSelector>,
    template: Option<&PodTemplateSpec>,
    replica_set_word: &str,
    path: &Path,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let sel_path = path.child("selector");
    match selector {
        None => errs.push(FieldError::required(&sel_path, "")),
        Some(sel) => {
            errs.extend(meta::validate_label_selector(Some(sel), &sel_path));
            if sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty) && sel.match_expressions.as_ref().is_none_or(Vec::is_empty) {
                // Upstream uses the same words for ReplicaSets.
                errs.push(FieldError::invalid(&sel_path, meta::selector_value(sel), "empty selector is invalid for deployment"));
            }
        }
    }
    let labels = template.and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
    let (kind, matched) = meta::selector_matches(selector, &labels);
    if kind == SelectorMatch::Invalid {
        errs.push(FieldError::invalid(
            &sel_path,
            selector.map_or(BadValue::Json(Value::Null), meta::selector_value),
            "invalid label selector",
        ));
        return errs;
    }
    let tpl_path = path.child("template");
    if kind != SelectorMatch::Everything && !matched {
        let value = if labels.is_empty() { BadValue::Json(Value::Null) } else { BadValue::json(&labels) };
        errs.push(FieldError::invalid(&tpl_path.child("metadata").child("labels"), value, "`selector` does not match template `labels`"));
    }
    errs.extend(pod::validate_pod_template_spec(template, &tpl_path));
    let spec = template.and_then(|t| t.spec.as_ref());
    if let Some(rp) = spec.and_then(|s| s.restart_policy.as_deref()).filter(|rp| !rp.is_empty() && *rp != "Always") {
        errs.push(FieldError::not_supported(&tpl_path.child("spec").child("restartPolicy"), rp, &["Always"]));
    }
    if spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            &tpl_path.child("spec").child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {replica_set_word} is not Supported"),
        ));
    }
    errs
}

fn deployment_spec(spec: &DeploymentSpec, selector_given: bool) -> Vec<FieldError> {
    let path = Path::new("spec");
    let mut errs: Vec<FieldError> = spec.replicas.and_then(|r| meta::non_negative(r.into(), &path.child("replicas"))).into_iter().collect();
    let selector = selector_given.then_some(&spec.selector);
    errs.extend(selector_and_template(selector, Some(&spec.template), "ReplicaSet", &path));
    errs.extend(validate_strategy(spec.strategy.as_ref(), &path.child("strategy")));
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    errs.extend(meta::non_negative(min_ready.into(), &path.child("minReadySeconds")));
    errs.extend(spec.revision_history_limit.and_then(|r| meta::non_negative(r.into(), &path.child("revisionHistoryLimit"))));
    if let Some(pds) = spec.progress_deadline_seconds {
        errs.extend(meta::non_negative(pds.into(), &path.child("progressDeadlineSeconds")));
        if pds <= min_ready {
            errs.push(FieldError::invalid(&path.child("progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"));
        }
    }
    errs
}

pub fn validate_deployment(d: &Deployment) -> Vec<FieldError> {
    deployment_errors(d, true)
}

pub fn validate_deployment_update(new: &Deployment, old: &Deployment) -> Vec<FieldError> {
    deployment_update_errors(new, old, true)
}

pub(crate) fn deployment_errors(d: &Deployment, selector_given: bool) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&d.metadata, true, NameRule::Dns1123Subdomain);
    errs.extend(deployment_spec(d.spec.as_ref().unwrap_or(&Default::default()), selector_given));
    errs
}

/// The selector may not change once set (apps/v1 and later).
fn selector_immutable(new: Option<&LabelSelector>, old: Option<&LabelSelector>) -> Option<FieldError> {
    let normal = |s: Option<&LabelSelector>| {
        s.map(|s| (s.match_labels.clone().unwrap_or_default(), s.match_expressions.clone().unwrap_or_default()))
    };
    (normal(new) != normal(old)).then(|| {
        let value = new.map_or(BadValue::Json(Value::Null), meta::selector_value);
        FieldError::invalid(&Path::of(&["spec", "selector"]), value, meta::IMMUTABLE)
    })
}

pub(crate) fn deployment_update_errors(new: &Deployment, old: &Deployment, selector_given: bool) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    let default = DeploymentSpec::default();
    errs.extend(deployment_spec(new.spec.as_ref().unwrap_or(&default), selector_given));
    let new_sel = new.spec.as_ref().filter(|_| selector_given).map(|s| &s.selector);
    errs.extend(selector_immutable(new_sel, old.spec.as_ref().map(|s| &s.selector)));
    errs
}

fn replica_set_spec(spec: &ReplicaSetSpec, selector_given: bool) -> Vec<FieldError> {
    let path = Path::new("spec");
    let mut errs: Vec<FieldError> = spec.replicas.and_then(|r| meta::non_negative(r.into(), &path.child("replicas"))).into_iter().collect();
    errs.extend(meta::non_negative(spec.min_ready_seconds.unwrap_or(0).into(), &path.child("minReadySeconds")));
    errs.extend(selector_and_template(selector_given.then_some(&spec.selector), spec.template.as_ref(), "ReplicaSet", &path));
    errs
}

pub fn validate_replica_set(rs: &ReplicaSet) -> Vec<FieldError> {
    replica_set_errors(rs, true)
}

pub fn validate_replica_set_update(new: &ReplicaSet, old: &ReplicaSet) -> Vec<FieldError> {
    replica_set_update_errors(new, old, true)
}

pub(crate) fn replica_set_errors(rs: &ReplicaSet, selector_given: bool) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&rs.metadata, true, NameRule::Dns1123Subdomain);
    errs.extend(replica_set_spec(rs.spec.as_ref().unwrap_or(&Default::default()), selector_given));
    errs
}

pub(crate) fn replica_set_update_errors(new: &ReplicaSet, old: &ReplicaSet, selector_given: bool) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(replica_set_spec(new.spec.as_ref().unwrap_or(&Default::default()), selector_given));
    let new_sel = new.spec.as_ref().filter(|_| selector_given).map(|s| &s.selector);
    errs.extend(selector_immutable(new_sel, old.spec.as_ref().map(|s| &s.selector)));
    errs
}

/// Counters must be non-negative and no larger than the replicas (or ready replicas) they count.
fn replica_counts(counts: &[(&str, i64)], bounded: &[&str], path: &Path) -> Vec<FieldError> {
    let get = |name: &str| counts.iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v);
    let mut errs: Vec<FieldError> = counts.iter().filter_map(|(n, v)| meta::non_negative(*v, &path.child(n))).collect();
    for name in bounded {
        if get(name) > get("replicas") {
            errs.push(FieldError::invalid(&path.child(name), get(name), "cannot be greater than status.replicas"));
        }
    }
    if get("availableReplicas") > get("readyReplicas") {
        errs.push(FieldError::invalid(&path.child("availableReplicas"), get("availableReplicas"), "cannot be greater than readyReplicas"));
    }
    errs
}

pub fn validate_deployment_status_update(new: &Deployment, old: &Deployment) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    let s = new.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| i64::from(v.unwrap_or(0));
    let mut counts = vec![
        ("observedGeneration", s.observed_generation.unwrap_or(0)),
        ("replicas", n(s.replicas)),
        ("updatedReplicas", n(s.updated_replicas)),
        ("readyReplicas", n(s.ready_replicas)),
        ("availableReplicas", n(s.available_replicas)),
        ("unavailableReplicas", n(s.unavailable_replicas)),
    ];
    if let Some(c) = s.collision_count {
        counts.push(("collisionCount", c.into()));
    }
    let path = Path::new("status");
    errs.extend(replica_counts(&counts, &["updatedReplicas", "readyReplicas", "availableReplicas"], &path));
    let old_collisions = old.status.as_ref().and_then(|s| s.collision_count);
    let decremented = match (s.collision_count, old_collisions) {
        (None, Some(_)) => true,
        (Some(new), Some(old)) => new < old,
        _ => false,
    };
    if decremented {
        errs.push(FieldError::invalid(&path.child("collisionCount"), s.collision_count.unwrap_or(0), "cannot be decremented"));
    }
    errs
}

pub fn validate_replica_set_status_update(new: &ReplicaSet, old: &ReplicaSet) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    let s = new.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| i64::from(v.unwrap_or(0));
    let counts = [
        ("replicas", i64::from(s.replicas)),
        ("fullyLabeledReplicas", n(s.fully_labeled_replicas)),
        ("readyReplicas", n(s.ready_replicas)),
        ("availableReplicas", n(s.available_replicas)),
        ("observedGeneration", s.observed_generation.unwrap_or(0)),
    ];
    errs.extend(replica_counts(&counts, &["fullyLabeledReplicas", "readyReplicas", "availableReplicas"], &Path::new("status")));
    errs
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;
