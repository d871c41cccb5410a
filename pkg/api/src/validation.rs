//! Upstream-compatible validation of every served kind, producing the causes of a 422 Invalid.
//!
//! Each kind lives in its own module with typed create/update/status functions; the three entry
//! points here run the validator a kind's registry entry names (see `kinds::Behaviour::validate`),
//! which decodes stored JSON into the k8s-openapi type with [`typed`].
//! Fields upstream fills in by defaulting (restartPolicy, protocol, imagePullPolicy, ...) are
//! only checked when present, so an object that skipped defaulting is not rejected for them.

pub mod container;
pub mod field;
pub mod meta;
pub mod names;
pub mod quantity;
pub mod resources;
pub mod scheduling;
pub mod volume;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use field::{BadValue, ErrorType, FieldError, Path};
pub use meta::{validate_object_meta, validate_object_meta_update, NameRule};

use crate::kinds::Behaviour;
use crate::Cause;

/// What is being validated: a create, an update of the old object, or a status write over it.
#[derive(Clone, Copy)]
pub enum Op<'a> {
    Create,
    Update(&'a Value),
    Status(&'a Value),
}

/// Validates a new object of `kind` in group `group` (JSON already normalised through the
/// k8s-openapi type). Returns causes; empty = valid. `obj` is borrowed mutably only to leave
/// its managedFields' field trees out of decoding (see [`without_field_trees`]); it is
/// returned unchanged.
pub fn validate_create(group: &str, kind: &str, obj: &mut Value) -> Vec<Cause> {
    validate_create_of(crate::kinds::behaviour(group, kind), obj)
}

/// [`validate_create`] for a kind's behaviour (its registry entry's).
pub fn validate_create_of(kind: &dyn Behaviour, obj: &mut Value) -> Vec<Cause> {
    without_field_trees(obj, |obj| run(kind, obj, Op::Create))
}

/// Validates an update of `old` to `new` (both stored JSON), including metadata-update rules.
/// Both are returned unchanged.
pub fn validate_update(group: &str, kind: &str, new: &mut Value, old: &mut Value) -> Vec<Cause> {
    validate_update_of(crate::kinds::behaviour(group, kind), new, old)
}

/// [`validate_update`] for a kind's behaviour (its registry entry's).
pub fn validate_update_of(kind: &dyn Behaviour, new: &mut Value, old: &mut Value) -> Vec<Cause> {
    without_field_trees(old, |old| without_field_trees(new, |new| run(kind, new, Op::Update(old))))
}

/// Validates a write to the status subresource (metadata update rules + status-specific checks
/// where simple). Both objects are returned unchanged.
pub fn validate_status_update(group: &str, kind: &str, new: &mut Value, old: &mut Value) -> Vec<Cause> {
    validate_status_update_of(crate::kinds::behaviour(group, kind), new, old)
}

/// [`validate_status_update`] for a kind's behaviour (its registry entry's).
pub fn validate_status_update_of(kind: &dyn Behaviour, new: &mut Value, old: &mut Value) -> Vec<Cause> {
    without_field_trees(old, |old| without_field_trees(new, |new| run(kind, new, Op::Status(old))))
}

/// Runs `f` on `obj` with the `fieldsV1` of each managedFields entry taken out, then puts them
/// back. Validation reads only an entry's operation and fieldsType, while decoding into
/// ObjectMeta copies every manager's field tree: about a tenth of a pod create's CPU.
fn without_field_trees<R>(obj: &mut Value, f: impl FnOnce(&Value) -> R) -> R {
    fn entries(obj: &mut Value) -> Option<&mut Vec<Value>> {
        obj.get_mut("metadata")?.get_mut("managedFields")?.as_array_mut()
    }
    let trees: Vec<Option<Value>> = match entries(obj) {
        Some(list) => list.iter_mut().map(|e| e.as_object_mut().and_then(|m| m.remove("fieldsV1"))).collect(),
        None => Vec::new(),
    };
    let result = f(obj);
    if let Some(list) = entries(obj) {
        for (entry, tree) in list.iter_mut().zip(trees) {
            if let (Some(m), Some(tree)) = (entry.as_object_mut(), tree) {
                m.insert("fieldsV1".into(), tree);
            }
        }
    }
    result
}

/// Turns field errors into causes, dropping repeats (upstream's aggregate message does too).
pub fn to_causes(errs: &[FieldError]) -> Vec<Cause> {
    let mut out: Vec<Cause> = Vec::with_capacity(errs.len());
    for cause in errs.iter().map(FieldError::to_cause) {
        if !out.contains(&cause) {
            out.push(cause);
        }
    }
    out
}

fn decode<T: DeserializeOwned>(v: &Value) -> Result<T, FieldError> {
    // The path-tracking decoder costs about a third more; it only runs to name what failed.
    if let Ok(t) = T::deserialize(v) {
        return Ok(t);
    }
    serde_path_to_error::deserialize(v).map_err(|e| {
        let detail = match e.path().to_string().as_str() {
            "." | "" => e.inner().to_string(),
            p => format!("{p}: {}", e.inner()),
        };
        FieldError::invalid(&Path::default(), BadValue::Omit, detail)
    })
}

/// Decodes `new` (and the old object, for updates) and runs the matching validator.
pub fn typed<T: DeserializeOwned>(
    obj: &Value,
    op: Op,
    create: impl Fn(&T) -> Vec<FieldError>,
    update: impl Fn(&T, &T) -> Vec<FieldError>,
    status: impl Fn(&T, &T) -> Vec<FieldError>,
) -> Vec<FieldError> {
    let new: T = match decode(obj) {
        Ok(t) => t,
        Err(e) => return vec![e],
    };
    match op {
        Op::Create => create(&new),
        Op::Update(old) | Op::Status(old) => {
            let old: T = match decode(old) {
                Ok(t) => t,
                Err(e) => return vec![e],
            };
            if matches!(op, Op::Status(_)) {
                status(&new, &old)
            } else {
                update(&new, &old)
            }
        }
    }
}

/// The status subresource of kinds with no status-specific rules: metadata rules only.
pub fn meta_only<T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>>(
    new: &T,
    old: &T,
) -> Vec<FieldError> {
    validate_object_meta_update(new.metadata(), old.metadata())
}

fn run(kind: &dyn Behaviour, obj: &Value, op: Op) -> Vec<Cause> {
    to_causes(&kind.validate(obj, op))
}

/// What the kinds' validation tests share: errors as their messages, compared by prefix.
#[cfg(test)]
pub(crate) mod test_support {
    use super::FieldError;

    pub fn strings(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    /// `got` has one message per `want`, each starting with it.
    pub fn check(got: Vec<String>, want: &[&str], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: {got:#?}");
        for (g, w) in got.iter().zip(want) {
            assert!(g.starts_with(w), "{what}: got {g:?}, want prefix {w:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubectl_visible_missing_image() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c"}]}});
        let causes = validate_create("", "Pod", &mut pod.clone());
        assert_eq!(
            causes,
            vec![Cause { reason: "FieldValueRequired".into(), message: "Required value".into(), field: "spec.containers[0].image".into() }]
        );
        let err = crate::ApiError::Invalid { group: String::new(), kind: "Pod".into(), name: "p".into(), causes };
        assert_eq!(err.to_string(), "Pod \"p\" is invalid: spec.containers[0].image: Required value");
    }

    #[test]
    fn managed_fields_are_checked_and_left_as_they_were() {
        let tree = json!({"f:data": {"f:a": {}}});
        let mut cm = json!({"metadata": {"name": "x", "namespace": "d", "managedFields": [
            {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": tree},
            {"manager": "n", "operation": "Sideways", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": tree},
            "not an entry",
        ]}, "data": {"a": "b"}});
        let before = cm.clone();
        let causes = validate_create("", "ConfigMap", &mut cm);
        assert_eq!(cm, before);
        // The third entry does not decode; with it removed, the bad operation is reported.
        assert_eq!(causes.len(), 1, "{causes:?}");
        cm["metadata"]["managedFields"].as_array_mut().unwrap().pop();
        let causes = validate_create("", "ConfigMap", &mut cm);
        assert_eq!(causes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(), vec!["metadata.managedFields[1].operation"]);
        assert_eq!(cm["metadata"]["managedFields"][0]["fieldsV1"], tree);
        let mut old = cm.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        cm["metadata"]["resourceVersion"] = json!("1");
        let (new_before, old_before) = (cm.clone(), old.clone());
        validate_update("", "ConfigMap", &mut cm, &mut old);
        assert_eq!((cm, old), (new_before, old_before));
    }

    #[test]
    fn unknown_kinds_and_undecodable_objects() {
        assert!(validate_create("example.com", "Widget", &mut json!({"anything": 1})).is_empty());
        let causes = validate_create("", "ConfigMap", &mut json!({"metadata": {"name": "x", "namespace": "d"}, "data": {"k": 5}}));
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].reason, "FieldValueInvalid");
        assert_eq!(causes[0].field, "");
        assert!(causes[0].message.starts_with("Invalid value: data.k: invalid type"), "{}", causes[0].message);
    }

    #[test]
    fn every_served_kind_accepts_a_minimal_object() {
        let ns = |extra: Value| {
            let mut v = json!({"metadata": {"name": "x", "namespace": "default"}});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            v
        };
        let pod_spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
        let cases = vec![
            ("", "Pod", ns(json!({"spec": pod_spec}))),
            ("", "PodTemplate", ns(json!({"template": {"spec": pod_spec}}))),
            ("", "Namespace", json!({"metadata": {"name": "x"}, "status": {"phase": "Active"}})),
            ("", "Node", json!({"metadata": {"name": "n1"}})),
            ("", "ConfigMap", ns(json!({"data": {"a": "b"}}))),
            ("", "Secret", ns(json!({"type": "Opaque", "data": {"a": "Yg=="}}))),
            ("", "ServiceAccount", ns(json!({}))),
            ("", "Service", ns(json!({"spec": {"ports": [{"port": 80}]}}))),
            ("", "Endpoints", ns(json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}))),
            (
                "",
                "PersistentVolume",
                json!({"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp"}}}),
            ),
            (
                "",
                "PersistentVolumeClaim",
                ns(json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})),
            ),
            ("", "Event", ns(json!({"involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "R"}))),
            (
                "apps",
                "Deployment",
                ns(
                    json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_spec}}}),
                ),
            ),
            (
                "apps",
                "ReplicaSet",
                ns(
                    json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_spec}}}),
                ),
            ),
            ("storage.k8s.io", "StorageClass", json!({"metadata": {"name": "sc"}, "provisioner": "example.com/p"})),
            ("coordination.k8s.io", "Lease", ns(json!({"spec": {"leaseDurationSeconds": 15}}))),
        ];
        for (group, kind, obj) in cases {
            assert_eq!(validate_create(group, kind, &mut obj.clone()), vec![], "{kind}");
            let mut stored = obj.clone();
            stored["metadata"]["resourceVersion"] = json!("1");
            assert_eq!(validate_update(group, kind, &mut stored.clone(), &mut stored.clone()), vec![], "{kind} update");
            assert_eq!(validate_status_update(group, kind, &mut stored.clone(), &mut stored.clone()), vec![], "{kind} status");
        }
    }

    #[test]
    fn deployment_without_selector_reports_both_causes() {
        let d = json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
        let causes = validate_create("apps", "Deployment", &mut d.clone());
        let err = crate::ApiError::Invalid { group: "apps".into(), kind: "Deployment".into(), name: "web".into(), causes };
        assert_eq!(
            err.to_string(),
            "Deployment.apps \"web\" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`]"
        );
    }

    #[test]
    fn repeated_errors_are_reported_once() {
        let e = FieldError::required(&Path::new("a"), "");
        assert_eq!(to_causes(&[e.clone(), e]).len(), 1);
    }
}
