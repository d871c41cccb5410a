//! ObjectMeta, label, annotation, finalizer and label-selector checks shared by every kind.
//!
//! Skipped from upstream: managedFields manager-name character checks.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use serde::Serialize;

use super::field::{go_json, go_struct, BadValue, FieldError, Path};
use super::names;

/// Upstream's `FieldImmutableErrorMsg`.
pub const IMMUTABLE: &str = "field is immutable";
pub const NEGATIVE: &str = "must be greater than or equal to 0";
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// Which format an object's name must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
    Dns1035Label,
    /// Anything usable as a URL path segment: no `/` or `%`, and not `.` or `..`.
    PathSegment,
}

impl NameRule {
    /// The messages for `name`; `prefix` is true for a generateName, whose trailing dash is fine.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked = if prefix && self != NameRule::PathSegment { names::mask_trailing_dash(name) } else { name.to_string() };
        match self {
            NameRule::Dns1123Subdomain => names::is_dns1123_subdomain(&masked),
            NameRule::Dns1123Label => names::is_dns1123_label(&masked),
            NameRule::Dns1035Label => names::is_dns1035_label(&masked),
            NameRule::PathSegment => names::is_path_segment_name(name, prefix),
        }
    }
}

/// `field is immutable` when `new` differs from `old`; the value printed is the new one.
pub fn immutable<T: PartialEq + Serialize>(new: &T, old: &T, path: &Path) -> Option<FieldError> {
    (new != old).then(|| FieldError::invalid(path, BadValue::json(new), IMMUTABLE))
}

pub fn non_negative(value: i64, path: &Path) -> Option<FieldError> {
    (value < 0).then(|| FieldError::invalid(path, value, NEGATIVE))
}

pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(k, path));
        errs.extend(names::is_label_value(v).into_iter().map(|m| FieldError::invalid(path, v, m)));
    }
    errs
}

pub fn validate_label_name(name: &str, path: &Path) -> Vec<FieldError> {
    names::is_qualified_name(name).into_iter().map(|m| FieldError::invalid(path, name, m)).collect()
}

pub fn validate_annotations(annotations: Option<&BTreeMap<String, String>>, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0;
    for (k, v) in annotations.into_iter().flatten() {
        // Annotation keys are qualified names in which case does not matter.
        errs.extend(names::is_qualified_name(&k.to_lowercase()).into_iter().map(|m| FieldError::invalid(path, k, m)));
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT as i64));
    }
    errs
}

fn validate_owner_references(refs: &[OwnerReference], path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        let (group, version) = match r.api_version.split('/').collect::<Vec<_>>().as_slice() {
            [v] => ("", *v),
            [g, v] => (*g, *v),
            _ => ("", ""),
        };
        if version.is_empty() {
            errs.push(FieldError::invalid(&path.child("apiVersion"), &r.api_version, "version must not be empty"));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(&path.child("kind"), "", "must not be empty"));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(&path.child("name"), "", "must not be empty"));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(&path.child("uid"), "", "must not be empty"));
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(path, BadValue::json(r), "/v1, Kind=Event is disallowed from being an owner"));
        }
        if r.controller == Some(true) {
            let this = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    BadValue::json(refs),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"),
                )),
                None => first_controller = Some(this),
            }
        }
    }
    errs
}

fn validate_finalizers(finalizers: &[String], path: &Path, kube_names: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in finalizers {
        errs.extend(validate_label_name(f, path));
    }
    if finalizers.iter().any(|f| f == "orphan") && finalizers.iter().any(|f| f == "foregroundDeletion") {
        errs.push(FieldError::invalid(path, BadValue::json(finalizers), "finalizer orphan and foregroundDeletion cannot be both set"));
    }
    if kube_names {
        for (i, f) in finalizers.iter().enumerate() {
            errs.extend(kube_finalizer_name(f, &path.index(i)));
        }
    }
    errs
}

/// Core kinds also insist a finalizer without a domain is one of the standard ones.
pub fn kube_finalizer_name(name: &str, path: &Path) -> Option<FieldError> {
    (!name.contains('/') && !STANDARD_FINALIZERS.contains(&name))
        .then(|| FieldError::invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
}

fn validate_managed_fields(meta: &ObjectMeta, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, entry) in meta.managed_fields.iter().flatten().enumerate() {
        let p = path.index(i);
        let op = entry.operation.as_deref().unwrap_or("");
        if op != "Apply" && op != "Update" {
            errs.push(FieldError::invalid(&p.child("operation"), op, "must be `Apply` or `Update`"));
        }
        if let Some(t) = entry.fields_type.as_deref().filter(|t| !t.is_empty() && *t != "FieldsV1") {
            errs.push(FieldError::invalid(&p.child("fieldsType"), t, "must be `FieldsV1`"));
        }
    }
    errs
}

/// Create-time metadata checks (core's `ValidateObjectMeta`).
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    object_meta(meta, namespaced, rule, true)
}

/// Create-time metadata checks; `kube_names` adds core's standard-finalizer rule.
pub(crate) fn object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule, kube_names: bool) -> Vec<FieldError> {
    let path = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(gn) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        errs.extend(rule.check(gn, true).into_iter().map(|m| FieldError::invalid(&path.child("generateName"), gn, m)));
    }
    match meta.name.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&path.child("name"), "name or generateName is required")),
        name => errs.extend(rule.check(name, false).into_iter().map(|m| FieldError::invalid(&path.child("name"), name, m))),
    }
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            errs.extend(
                names::is_dns1123_label(namespace).into_iter().map(|m| FieldError::invalid(&path.child("namespace"), namespace, m)),
            );
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(&path.child("namespace"), "not allowed on this type"));
    }
    errs.extend(non_negative(meta.generation.unwrap_or(0), &path.child("generation")));
    errs.extend(common_meta(meta, &path, kube_names));
    errs
}

fn common_meta(meta: &ObjectMeta, path: &Path, kube_names: bool) -> Vec<FieldError> {
    let mut errs = validate_labels(meta.labels.as_ref(), &path.child("labels"));
    errs.extend(validate_annotations(meta.annotations.as_ref(), &path.child("annotations")));
    errs.extend(validate_owner_references(meta.owner_references.as_deref().unwrap_or(&[]), &path.child("ownerReferences")));
    errs.extend(validate_finalizers(meta.finalizers.as_deref().unwrap_or(&[]), &path.child("finalizers"), kube_names));
    errs.extend(validate_managed_fields(meta, &path.child("managedFields")));
    errs
}

/// Update-time metadata checks (`ValidateObjectMetaUpdate`).
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta) -> Vec<FieldError> {
    object_meta_update(new, old, true)
}

pub(crate) fn object_meta_update(new: &ObjectMeta, old: &ObjectMeta, kube_names: bool) -> Vec<FieldError> {
    let path = Path::new("metadata");
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_set: Vec<&String> = old.finalizers.iter().flatten().collect();
        let mut added: Vec<&String> = new.finalizers.iter().flatten().filter(|f| !old_set.contains(f)).collect();
        added.sort();
        added.dedup();
        if !added.is_empty() {
            let listed: Vec<String> = added.iter().map(|f| crate::quote::go_quote(f)).collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    listed.join(", ")
                ),
            ));
        }
    }
    if new.resource_version.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::invalid(&path.child("resourceVersion"), "", "must be specified for an update"));
    }
    let (new_gen, old_gen) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if new_gen < old_gen {
        errs.push(FieldError::invalid(&path.child("generation"), new_gen, "must not be decremented"));
    }
    let str_or_empty = |s: &Option<String>| s.clone().unwrap_or_default();
    let string_fields = [("name", &new.name, &old.name), ("namespace", &new.namespace, &old.namespace), ("uid", &new.uid, &old.uid)];
    for (field, n, o) in string_fields {
        errs.extend(immutable(&str_or_empty(n), &str_or_empty(o), &path.child(field)));
    }
    errs.extend(immutable(&new.creation_timestamp, &old.creation_timestamp, &path.child("creationTimestamp")));
    // Deletion fields are written by the server; once set, a client may not move them.
    if old.deletion_timestamp.is_some() {
        errs.extend(immutable(&new.deletion_timestamp, &old.deletion_timestamp, &path.child("deletionTimestamp")));
    }
    if old.deletion_grace_period_seconds.is_some() {
        errs.extend(immutable(
            &new.deletion_grace_period_seconds,
            &old.deletion_grace_period_seconds,
            &path.child("deletionGracePeriodSeconds"),
        ));
    }
    let labels = validate_labels(new.labels.as_ref(), &path.child("labels"));
    errs.extend(labels);
    errs.extend(validate_annotations(new.annotations.as_ref(), &path.child("annotations")));
    errs.extend(validate_owner_references(new.owner_references.as_deref().unwrap_or(&[]), &path.child("ownerReferences")));
    errs.extend(validate_managed_fields(new, &path.child("managedFields")));
    // The registry re-runs the create-time finalizer checks on every update.
    errs.extend(validate_finalizers(new.finalizers.as_deref().unwrap_or(&[]), &path.child("finalizers"), false));
    if kube_names {
        for (i, f) in new.finalizers.iter().flatten().enumerate() {
            errs.extend(kube_finalizer_name(f, &path.child("finalizers").index(i)));
        }
    }
    errs
}

/// `ValidateLabelSelector` with label values checked strictly.
pub fn validate_label_selector(selector: Option<&LabelSelector>, path: &Path) -> Vec<FieldError> {
    let Some(selector) = selector else { return Vec::new() };
    let mut errs = validate_labels(selector.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = expr.values.as_deref().unwrap_or(&[]);
        match expr.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                errs.push(FieldError::required(&p.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                errs.push(FieldError::forbidden(&p.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => errs.push(FieldError::invalid(&p.child("operator"), op, "not a valid selector operator")),
        }
        errs.extend(validate_label_name(&expr.key, &p.child("key")));
        for (j, v) in values.iter().enumerate() {
            errs.extend(names::is_label_value(v).into_iter().map(|m| FieldError::invalid(&p.child("values").index(j), v, m)));
        }
    }
    errs
}

/// How a label selector behaves once converted, as `LabelSelectorAsSelector` would build it.
#[derive(Debug, PartialEq, Eq)]
pub enum SelectorMatch {
    /// No selector at all: matches nothing.
    Nothing,
    /// No requirements: matches everything.
    Everything,
    /// Requirements that could not be converted.
    Invalid,
    Requirements,
}

/// Classifies `selector` and, for usable requirements, whether `labels` match them.
pub fn selector_matches(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> (SelectorMatch, bool) {
    let Some(selector) = selector else { return (SelectorMatch::Nothing, false) };
    let match_labels = selector.match_labels.as_ref();
    let exprs = selector.match_expressions.as_deref().unwrap_or(&[]);
    if match_labels.is_none_or(|m| m.is_empty()) && exprs.is_empty() {
        return (SelectorMatch::Everything, true);
    }
    let mut ok = match_labels.into_iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    for expr in exprs {
        let values = expr.values.as_deref().unwrap_or(&[]);
        let have = labels.get(&expr.key);
        ok &= match (expr.operator.as_str(), values.is_empty()) {
            ("In", false) => have.is_some_and(|h| values.contains(h)),
            ("NotIn", false) => have.is_none_or(|h| !values.contains(h)),
            ("Exists", true) => have.is_some(),
            ("DoesNotExist", true) => have.is_none(),
            _ => return (SelectorMatch::Invalid, false),
        };
    }
    (SelectorMatch::Requirements, ok)
}

/// The selector as Go prints it: `matchLabels` before `matchExpressions`, empty fields omitted.
pub fn selector_value(selector: &LabelSelector) -> BadValue {
    let mut parts = Vec::new();
    if let Some(labels) = selector.match_labels.as_ref().filter(|m| !m.is_empty()) {
        parts.push(format!("\"matchLabels\":{}", go_json(&serde_json::to_value(labels).unwrap_or_default())));
    }
    if let Some(exprs) = selector.match_expressions.as_ref().filter(|e| !e.is_empty()) {
        let rendered: Vec<String> = exprs
            .iter()
            .map(|e| {
                let mut f = vec![("key", e.key.clone().into()), ("operator", e.operator.clone().into())];
                if let Some(v) = e.values.as_ref().filter(|v| !v.is_empty()) {
                    f.push(("values", serde_json::to_value(v).unwrap_or_default()));
                }
                go_struct(&f)
            })
            .collect();
        parts.push(format!("\"matchExpressions\":[{}]", rendered.join(",")));
    }
    BadValue::Raw(format!("{{{}}}", parts.join(",")))
}

#[cfg(test)]
#[path = "meta_tests.rs"]
mod tests;
