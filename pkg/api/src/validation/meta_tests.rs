//! Table tests for ObjectMeta and label-selector checks.

use super::*;
use serde_json::json;

fn meta(v: serde_json::Value) -> ObjectMeta {
    serde_json::from_value(v).unwrap()
}

fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

#[test]
fn create_meta_cases() {
    let cases: Vec<(serde_json::Value, bool, NameRule, Vec<&str>)> = vec![
        (json!({"name": "ok", "namespace": "default"}), true, NameRule::Dns1123Subdomain, vec![]),
        (json!({"namespace": "default"}), true, NameRule::Dns1123Subdomain, vec!["metadata.name: Required value: name or generateName is required"]),
        (json!({"name": "x"}), true, NameRule::Dns1123Subdomain, vec!["metadata.namespace: Required value"]),
        (json!({"name": "x", "namespace": "ns"}), false, NameRule::Dns1123Label, vec!["metadata.namespace: Forbidden: not allowed on this type"]),
        (json!({"name": "a.b"}), false, NameRule::Dns1123Label, vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]),
        (json!({"name": "a", "generateName": "web-"}), false, NameRule::Dns1123Label, vec![]),
        (json!({"name": "a", "generateName": "Web-"}), false, NameRule::Dns1123Subdomain, vec!["metadata.generateName: Invalid value: \"Web-\": a lowercase RFC 1123 subdomain"]),
        (json!({"name": "a/b"}), false, NameRule::PathSegment, vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"]),
        (json!({"name": "a", "generation": -1}), false, NameRule::PathSegment, vec!["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
        (json!({"name": "a", "labels": {"app": "-x"}}), false, NameRule::PathSegment, vec!["metadata.labels: Invalid value: \"-x\": a valid label must be an empty string"]),
        (json!({"name": "a", "labels": {"a/b/c": "x"}}), false, NameRule::PathSegment, vec!["metadata.labels: Invalid value: \"a/b/c\": a valid label key must consist"]),
        (json!({"name": "a", "annotations": {"Example.com/Key": "x"}}), false, NameRule::PathSegment, vec![]),
        (json!({"name": "a", "annotations": {"bad key": "x"}}), false, NameRule::PathSegment, vec!["metadata.annotations: Invalid value: \"bad key\": name part must consist"]),
        (json!({"name": "a", "finalizers": ["foo"]}), false, NameRule::PathSegment, vec!["metadata.finalizers[0]: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified"]),
        (json!({"name": "a", "finalizers": ["example.com/x", "kubernetes"]}), false, NameRule::PathSegment, vec![]),
        (json!({"name": "a", "finalizers": ["orphan", "foregroundDeletion"]}), false, NameRule::PathSegment, vec!["metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set"]),
        (json!({"name": "a", "ownerReferences": [{"apiVersion": "", "kind": "", "name": "", "uid": ""}]}), false, NameRule::PathSegment, vec![
            "metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty",
            "metadata.ownerReferences.kind: Invalid value: \"\": must not be empty",
            "metadata.ownerReferences.name: Invalid value: \"\": must not be empty",
            "metadata.ownerReferences.uid: Invalid value: \"\": must not be empty",
        ]),
        (json!({"name": "a", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r1", "uid": "1", "controller": true},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r2", "uid": "2", "controller": true}]}), false, NameRule::PathSegment,
            vec!["metadata.ownerReferences: Invalid value: [{\"apiVersion\":\"apps/v1\",\"controller\":true,\"kind\":\"ReplicaSet\",\"name\":\"r1\",\"uid\":\"1\"},{\"apiVersion\":\"apps/v1\",\"controller\":true,\"kind\":\"ReplicaSet\",\"name\":\"r2\",\"uid\":\"2\"}]: Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/r1 and ReplicaSet/r2"]),
    ];
    for (input, namespaced, rule, want) in cases {
        let got = messages(&validate_object_meta(&meta(input.clone()), namespaced, rule));
        assert_eq!(got.len(), want.len(), "{input}: {got:?}");
        for (g, w) in got.iter().zip(&want) {
            assert!(g.starts_with(w), "{input}: got {g:?}, want prefix {w:?}");
        }
    }
}

#[test]
fn annotations_total_size_is_limited() {
    let big = "x".repeat(256 * 1024);
    let errs = validate_annotations(Some(&BTreeMap::from([("a".to_string(), big)])), &Path::of(&["metadata", "annotations"]));
    assert_eq!(messages(&errs), vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]);
}

#[test]
fn update_meta_cases() {
    let old = json!({"name": "a", "namespace": "ns", "uid": "u1", "resourceVersion": "5", "generation": 2,
        "creationTimestamp": "2024-01-01T00:00:00Z"});
    let deleting = json!({"name": "a", "uid": "u1", "resourceVersion": "5", "deletionTimestamp": "2024-01-02T00:00:00Z",
        "deletionGracePeriodSeconds": 30, "finalizers": ["example.com/a"]});
    let cases: Vec<(serde_json::Value, serde_json::Value, Vec<&str>)> = vec![
        (old.clone(), old.clone(), vec![]),
        (json!({"name": "b", "namespace": "ns", "uid": "u1", "resourceVersion": "5", "generation": 2, "creationTimestamp": "2024-01-01T00:00:00Z"}), old.clone(),
            vec!["metadata.name: Invalid value: \"b\": field is immutable"]),
        (json!({"name": "a", "namespace": "other", "uid": "u2", "resourceVersion": "5", "generation": 2, "creationTimestamp": "2024-01-01T00:00:00Z"}), old.clone(),
            vec!["metadata.namespace: Invalid value: \"other\": field is immutable", "metadata.uid: Invalid value: \"u2\": field is immutable"]),
        (json!({"name": "a", "namespace": "ns", "uid": "u1", "generation": 1, "creationTimestamp": "2024-01-03T00:00:00Z"}), old.clone(), vec![
            "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
            "metadata.generation: Invalid value: 1: must not be decremented",
            "metadata.creationTimestamp: Invalid value: \"2024-01-03T00:00:00Z\": field is immutable",
        ]),
        (json!({"name": "a", "uid": "u1", "resourceVersion": "5", "deletionTimestamp": "2024-01-02T00:00:00Z", "deletionGracePeriodSeconds": 30,
            "finalizers": ["example.com/a", "example.com/z", "example.com/b"]}), deleting.clone(),
            vec!["metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/b\", \"example.com/z\"}"]),
        (json!({"name": "a", "uid": "u1", "resourceVersion": "5", "deletionGracePeriodSeconds": 0}), deleting.clone(), vec![
            "metadata.deletionTimestamp: Invalid value: null: field is immutable",
            "metadata.deletionGracePeriodSeconds: Invalid value: 0: field is immutable",
        ]),
        (json!({"name": "a", "uid": "u1", "resourceVersion": "5", "deletionTimestamp": "2024-01-02T00:00:00Z", "deletionGracePeriodSeconds": 30}), deleting, vec![]),
    ];
    for (new, old, want) in cases {
        let got = messages(&validate_object_meta_update(&meta(new.clone()), &meta(old)));
        assert_eq!(got, want, "{new}");
    }
}

#[test]
fn label_selector_validation_and_matching() {
    let sel = |v: serde_json::Value| -> LabelSelector { serde_json::from_value(v).unwrap() };
    let p = Path::of(&["spec", "selector"]);
    let bad = sel(
        json!({"matchExpressions": [{"key": "a", "operator": "In"}, {"key": "b", "operator": "Exists", "values": ["x"]}, {"key": "c", "operator": "Foo"}]}),
    );
    assert_eq!(
        messages(&validate_label_selector(Some(&bad), &p)),
        vec![
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Foo\": not a valid selector operator",
        ]
    );
    let labels = BTreeMap::from([("app".to_string(), "web".to_string()), ("tier".to_string(), "fe".to_string())]);
    let cases = [
        (json!({"matchLabels": {"app": "web"}}), SelectorMatch::Requirements, true),
        (json!({"matchLabels": {"app": "db"}}), SelectorMatch::Requirements, false),
        (json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]}), SelectorMatch::Requirements, true),
        (json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["fe"]}]}), SelectorMatch::Requirements, false),
        (json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}), SelectorMatch::Requirements, true),
        (json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]}), SelectorMatch::Requirements, false),
        (json!({"matchExpressions": [{"key": "x", "operator": "In"}]}), SelectorMatch::Invalid, false),
        (json!({}), SelectorMatch::Everything, true),
    ];
    for (s, kind, matched) in cases {
        assert_eq!(selector_matches(Some(&sel(s.clone())), &labels), (kind, matched), "{s}");
    }
    assert_eq!(selector_matches(None, &labels), (SelectorMatch::Nothing, false));
    let printed = FieldError::invalid(&p, selector_value(&sel(json!({"matchLabels": {"app": "x"}, "matchExpressions": []}))), IMMUTABLE);
    assert_eq!(printed.to_string(), "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"x\"}}: field is immutable");
}
