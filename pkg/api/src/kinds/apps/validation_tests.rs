//! Table tests for Deployments and ReplicaSets, driven from JSON as the apiserver sees them.

use super::*;
use crate::validation::test_support::check;
use crate::validation::{validate_create, validate_status_update, validate_update};
use serde_json::json;

fn messages(causes: Vec<crate::Cause>) -> Vec<String> {
    causes.into_iter().map(|c| if c.field.is_empty() { c.message } else { format!("{}: {}", c.field, c.message) }).collect()
}

fn deployment(spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"}, "spec": spec})
}

fn template(labels: serde_json::Value) -> serde_json::Value {
    json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web"}))});
    spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    spec
}

#[test]
fn deployment_create_cases() {
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (with(json!({})), vec![]),
        (json!({"template": template(json!({"app": "web"}))}), vec![
            "spec.selector: Required value",
            "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
        ]),
        (with(json!({"selector": {"matchLabels": {"app": "api"}}})), vec!["spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"]),
        (with(json!({"selector": {}})), vec!["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]),
        (with(json!({"selector": {"matchExpressions": [{"key": "app", "operator": "Like", "values": ["web"]}]}})), vec![
            "spec.selector.matchExpressions[0].operator: Invalid value: \"Like\": not a valid selector operator",
            "spec.selector: Invalid value: {\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Like\",\"values\":[\"web\"]}]}: invalid label selector",
        ]),
        (with(json!({"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}})), vec![]),
        (with(json!({"replicas": -1, "minReadySeconds": -2, "revisionHistoryLimit": -3})), vec![
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.minReadySeconds: Invalid value: -2: must be greater than or equal to 0",
            "spec.revisionHistoryLimit: Invalid value: -3: must be greater than or equal to 0",
        ]),
        (with(json!({"template": {"metadata": {"labels": {"app": "web"}}}})), vec!["spec.template.spec.containers: Required value"]),
        (with(json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"restartPolicy": "Never", "activeDeadlineSeconds": 5, "containers": [{"name": "c"}]}}})), vec![
            "spec.template.spec.containers[0].image: Required value",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
        ]),
        (with(json!({"strategy": {"type": "BlueGreen"}})), vec!["spec.strategy: Unsupported value: {\"Type\":\"BlueGreen\",\"RollingUpdate\":null}: supported values: \"Recreate\", \"RollingUpdate\""]),
        (with(json!({"strategy": {"type": "Recreate", "rollingUpdate": {}}})), vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
        (with(json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}})), vec![
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0",
        ]),
        (with(json!({"strategy": {"rollingUpdate": {"maxSurge": "abc", "maxUnavailable": "150%"}}})), vec![
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"abc\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%",
        ]),
        (with(json!({"progressDeadlineSeconds": 5, "minReadySeconds": 10})), vec!["spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"]),
    ];
    for (spec, want) in cases {
        check(messages(validate_create("apps", "Deployment", &mut deployment(spec.clone()))), &want, &spec.to_string());
    }
}

#[test]
fn deployment_update_and_status_cases() {
    let old = deployment(with(json!({})));
    let scaled = deployment(with(json!({"replicas": 5})));
    check(messages(validate_update("apps", "Deployment", &mut scaled.clone(), &mut old.clone())), &[], "scale");
    let reselected = deployment(with(
        json!({"selector": {"matchLabels": {"app": "web", "tier": "fe"}}, "template": template(json!({"app": "web", "tier": "fe"}))}),
    ));
    check(
        messages(validate_update("apps", "Deployment", &mut reselected.clone(), &mut old.clone())),
        &["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"fe\"}}: field is immutable"],
        "selector change",
    );
    let mut status = old.clone();
    status["status"] = json!({"replicas": 1, "readyReplicas": 2, "availableReplicas": 3, "collisionCount": 1});
    let mut old_status = old.clone();
    old_status["status"] = json!({"collisionCount": 2});
    check(
        messages(validate_status_update("apps", "Deployment", &mut status.clone(), &mut old_status.clone())),
        &[
            "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 3: cannot be greater than status.replicas",
            "status.availableReplicas: Invalid value: 3: cannot be greater than readyReplicas",
            "status.collisionCount: Invalid value: 1: cannot be decremented",
        ],
        "status",
    );
}

#[test]
fn replica_set_cases() {
    let rs = |spec: serde_json::Value| json!({"metadata": {"name": "web-1", "namespace": "default", "resourceVersion": "1"}, "spec": spec});
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web"}))}), vec![]),
        (
            json!({"template": template(json!({"app": "web"}))}),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
            ],
        ),
        (
            json!({"selector": {}, "replicas": -1}),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.selector: Invalid value: {}: empty selector is invalid for deployment",
                "spec.template.spec.containers: Required value",
            ],
        ),
    ];
    for (spec, want) in cases {
        check(messages(validate_create("apps", "ReplicaSet", &mut rs(spec.clone()))), &want, &spec.to_string());
    }
    let old = rs(json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web"}))}));
    let new = rs(json!({"selector": {"matchLabels": {"app": "api"}}, "template": template(json!({"app": "api"}))}));
    check(
        messages(validate_update("apps", "ReplicaSet", &mut new.clone(), &mut old.clone())),
        &["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"api\"}}: field is immutable"],
        "rs selector",
    );
    let mut status = old.clone();
    status["status"] = json!({"replicas": 1, "fullyLabeledReplicas": 2});
    check(
        messages(validate_status_update("apps", "ReplicaSet", &mut status.clone(), &mut old.clone())),
        &["status.fullyLabeledReplicas: Invalid value: 2: cannot be greater than status.replicas"],
        "rs status",
    );
    // The typed entry points treat the selector as given.
    let typed: ReplicaSet = serde_json::from_value(old).unwrap();
    assert!(validate_replica_set(&typed).is_empty());
    assert!(validate_replica_set_update(&typed, &typed).is_empty());
}
