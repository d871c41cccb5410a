//! Upstream's DefaultStorageClass admission plugin: a new PersistentVolumeClaim that asks for
//! no class (no `spec.storageClassName`, no beta class annotation) gets the default
//! StorageClass: the one annotated `storageclass.kubernetes.io/is-default-class: "true"` (or
//! the beta annotation), the newest of several (equally old ones by name). Without a default
//! the claim stays classless (the PV controller gives it one later if a default appears). An
//! empty class name is a request for no class and is kept.

use corekube_api::{kinds, ApiError};
use serde_json::{json, Value};

use crate::state::AppState;

const IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_IS_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

fn has_class(claim: &Value) -> bool {
    claim.pointer("/spec/storageClassName").is_some_and(|c| !c.is_null())
        || claim.pointer("/metadata/annotations").and_then(|a| a.get(BETA_STORAGE_CLASS)).is_some()
}

fn is_default(class: &Value) -> bool {
    let annotation = |key: &str| class.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str) == Some("true");
    annotation(IS_DEFAULT_CLASS) || annotation(BETA_IS_DEFAULT_CLASS)
}

/// The default class's name among `classes` (upstream's GetDefaultClass).
fn default_class(classes: impl IntoIterator<Item = Value>) -> Option<String> {
    let created =
        |c: &Value| c.pointer("/metadata/creationTimestamp").and_then(Value::as_str).and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let name = |c: &Value| c.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    classes.into_iter().filter(is_default).min_by(|a, b| created(b).cmp(&created(a)).then_with(|| name(a).cmp(&name(b)))).map(|c| name(&c))
}

/// Gives a new claim without a class the default class, if there is one.
pub fn admit_claim(state: &AppState, claim: &mut Value) -> Result<(), ApiError> {
    if has_class(claim) {
        return Ok(());
    }
    let def = kinds::find("storage.k8s.io", "v1", "storageclasses").expect("storage classes are served");
    let prefix = corekube_storage::collection_prefix(def.storage_resource, None);
    let classes = state.cacher(def).snapshot(&prefix).0;
    if let Some(name) = default_class(classes.iter().map(|c| c.value())) {
        claim["spec"]["storageClassName"] = json!(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, annotation: Option<(&str, &str)>) -> Value {
        let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}, "provisioner": "x"});
        if let Some((k, v)) = annotation {
            c["metadata"]["annotations"] = json!({k: v});
        }
        c
    }

    #[test]
    fn default_class_as_upstream() {
        let d = Some((IS_DEFAULT_CLASS, "true"));
        type Case = (&'static str, Vec<Value>, Option<&'static str>);
        let cases: Vec<Case> = vec![
            ("no classes", vec![], None),
            (
                "no default",
                vec![class("a", "2024-01-01T00:00:00Z", None), class("b", "2024-01-01T00:00:00Z", Some((IS_DEFAULT_CLASS, "false")))],
                None,
            ),
            ("one default", vec![class("a", "2024-01-01T00:00:00Z", None), class("std", "2024-01-01T00:00:00Z", d)], Some("std")),
            ("beta annotation", vec![class("old", "2024-01-01T00:00:00Z", Some((BETA_IS_DEFAULT_CLASS, "true")))], Some("old")),
            ("newest of several", vec![class("new", "2024-06-01T00:00:00Z", d), class("old", "2024-01-01T00:00:00Z", d)], Some("new")),
            ("equally old: by name", vec![class("b", "2024-01-01T00:00:00Z", d), class("a", "2024-01-01T00:00:00Z", d)], Some("a")),
        ];
        for (name, classes, want) in cases {
            assert_eq!(default_class(classes).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn only_claims_without_a_class() {
        assert!(!has_class(&json!({"spec": {}})));
        assert!(!has_class(&json!({"spec": {"storageClassName": null}})));
        assert!(has_class(&json!({"spec": {"storageClassName": ""}})));
        assert!(has_class(&json!({"metadata": {"annotations": {BETA_STORAGE_CLASS: "x"}}, "spec": {}})));
    }
}
