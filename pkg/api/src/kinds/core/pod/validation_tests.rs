//! Table tests for pods: spec, create, update, status and templates.

use super::*;
use crate::validation::test_support::strings;
use serde_json::json;

fn pod(spec: serde_json::Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "default", "resourceVersion": "1"}, "spec": spec})).unwrap()
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({"containers": [{"name": "c", "image": "nginx"}]});
    spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    spec
}

#[test]
fn pod_create_cases() {
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (with(json!({})), vec![]),
        (json!({"containers": [{"name": "c"}]}), vec!["spec.containers[0].image: Required value"]),
        (json!({}), vec!["spec.containers: Required value"]),
        (with(json!({"restartPolicy": "Sometimes"})), vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""]),
        (with(json!({"dnsPolicy": "Custom"})), vec!["spec.dnsPolicy: Unsupported value: \"Custom\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""]),
        (with(json!({"dnsPolicy": "None"})), vec!["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
        (with(json!({"dnsConfig": {"nameservers": ["1.1.1.1", "nope"], "searches": ["Bad_Domain."]}})), vec![
            "spec.dnsConfig.nameservers[1]: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "spec.dnsConfig.searches[0]: Invalid value: \"Bad_Domain\": a lowercase RFC 1123 subdomain",
        ]),
        (with(json!({"nodeSelector": {"disk": "ssd!"}})), vec!["spec.nodeSelector: Invalid value: \"ssd!\": a valid label must be an empty string"]),
        (with(json!({"activeDeadlineSeconds": 0})), vec!["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
        (with(json!({"hostname": "Host", "serviceAccountName": "sa_1", "nodeName": "node-1"})), vec![
            "spec.serviceAccountName: Invalid value: \"sa_1\": a lowercase RFC 1123 subdomain",
            "spec.hostname: Invalid value: \"Host\": a lowercase RFC 1123 label",
        ]),
        (with(json!({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]})), vec!["spec.volumes[1].name: Duplicate value: \"v\""]),
        (json!({"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}], "volumes": [{"name": "v"}]}), vec![
            "spec.volumes[0]: Required value: must specify a volume type",
            "spec.containers[0].volumeMounts[0].name: Not found: \"v\"",
        ]),
        (with(json!({"tolerations": [{"operator": "Equal", "value": "x"}, {"key": "k", "operator": "Exists", "value": "v"}, {"key": "k", "operator": "Maybe"}, {"key": "k", "tolerationSeconds": 5, "effect": "NoSchedule"}]})), vec![
            "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            "spec.tolerations[1].operator: Invalid value: {\"Key\":\"k\",\"Operator\":\"Exists\",\"Value\":\"v\",\"Effect\":\"\",\"TolerationSeconds\":null}: value must be empty when `operator` is 'Exists'",
            "spec.tolerations[2].operator: Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\"",
            "spec.tolerations[3].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
        ]),
        (with(json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Near"}]}]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 0, "podAffinityTerm": {"topologyKey": ""}}]}}})), vec![
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator",
            "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
            "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: Required value: can not be empty",
            "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: Invalid value: \"\": name part must be non-empty",
            "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: Invalid value: \"\": name part must consist",
        ]),
        (with(json!({"hostNetwork": true, "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 81}]}]})), vec![
            "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true",
        ]),
        (with(json!({"securityContext": {"runAsUser": -5, "fsGroupChangePolicy": "Never"}})), vec![
            "spec.securityContext.runAsUser: Invalid value: -5: must be between 0 and 4294967295, inclusive",
            "spec.securityContext.fsGroupChangePolicy: Unsupported value: \"Never\": supported values: \"Always\", \"OnRootMismatch\"",
        ]),
        (with(json!({"topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "Whatever"}]})), vec![
            "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
            "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Whatever\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
        ]),
        (with(json!({"os": {"name": "plan9"}, "preemptionPolicy": "Always"})), vec![
            "spec.preemptionPolicy: Unsupported value: \"Always\": supported values: \"PreemptLowerPriority\", \"Never\"",
            "spec.os: Unsupported value: \"plan9\": supported values: \"linux\", \"windows\"",
        ]),
        (with(json!({"ephemeralContainers": [{"name": "dbg", "image": "busybox"}]})), vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"]),
        (with(json!({"nodeName": "n", "schedulingGates": [{"name": "example.com/gate"}]})), vec!["spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"]),
        (json!({"containers": [{"name": "c", "image": " nginx"}]}), vec!["spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace"]),
    ];
    for (spec, want) in cases {
        let got = strings(validate_pod(&pod(spec.clone())));
        assert_eq!(got.len(), want.len(), "{spec}: {got:#?}");
        for (g, w) in got.iter().zip(&want) {
            assert!(g.starts_with(w), "{spec}: got {g:?}, want prefix {w:?}");
        }
    }
}

#[test]
fn pod_metadata_is_checked() {
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "Bad"}, "spec": with(json!({}))})).unwrap();
    let got = strings(validate_pod(&p));
    assert_eq!(got.len(), 2);
    assert!(got[0].starts_with("metadata.name: Invalid value: \"Bad\": a lowercase RFC 1123 subdomain"));
    assert_eq!(got[1], "metadata.namespace: Required value");
}

#[test]
fn pod_update_cases() {
    let old_spec = with(
        json!({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}], "activeDeadlineSeconds": 100}),
    );
    let old = pod(old_spec.clone());
    let change = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut s = old_spec.clone();
        f(&mut s);
        pod(s)
    };
    let prefix = format!("spec: Forbidden: pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n");
    let cases: Vec<(Pod, Vec<String>)> = vec![
        (old.clone(), vec![]),
        (change(&|s| s["containers"][0]["image"] = json!("nginx:2")), vec![]),
        (change(&|s| s["activeDeadlineSeconds"] = json!(50)), vec![]),
        (change(&|s| s["tolerations"][0]["tolerationSeconds"] = json!(20)), vec![]),
        (change(&|s| s["tolerations"].as_array_mut().unwrap().push(json!({"key": "x", "operator": "Exists"}))), vec![]),
        (change(&|s| s["restartPolicy"] = json!("Never")), vec![format!("{prefix}- restartPolicy: null\n+ restartPolicy: \"Never\"")]),
        (change(&|s| s["containers"][0]["image"] = json!("")), vec!["spec.containers[0].image: Required value".into()]),
        (
            change(&|s| s["containers"].as_array_mut().unwrap().push(json!({"name": "d", "image": "x"}))),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers".into()],
        ),
        (
            change(&|s| s["activeDeadlineSeconds"] = json!(200)),
            vec!["spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value".into()],
        ),
        (
            change(&|s| {
                s.as_object_mut().unwrap().remove("activeDeadlineSeconds");
            }),
            vec!["spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value".into()],
        ),
        (
            change(&|s| s["tolerations"] = json!([])),
            vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds".into()],
        ),
        (
            change(&|s| s["schedulingGates"] = json!([{"name": "example.com/g"}])),
            vec!["spec.schedulingGates[0].name: Forbidden: only deletion is allowed, but found new scheduling gate 'example.com/g'".into()],
        ),
    ];
    for (new, want) in cases {
        let got = strings(to_unique(validate_pod_update(&new, &old)));
        assert_eq!(got, want, "{:?}", new.spec);
    }
}

fn to_unique(errs: Vec<FieldError>) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = Vec::new();
    for e in errs {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

#[test]
fn pod_status_update_cases() {
    let old: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "d", "resourceVersion": "1"}, "spec": {"containers": [{"name": "c", "image": "x"}], "nodeName": "n1"}})).unwrap();
    let mut new = old.clone();
    new.status = Some(
        serde_json::from_value(
            json!({"phase": "Running", "podIPs": [{"ip": "bad"}], "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.2"}],
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "bad type", "status": "True"}]}),
        )
        .unwrap(),
    );
    new.spec.as_mut().unwrap().node_name = Some("n2".into());
    let got = strings(validate_pod_status_update(&new, &old));
    assert_eq!(got[0], "metadata.conditions[1].Type: Invalid value: \"bad type\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    assert_eq!(
        &got[1..],
        [
            "status.nodeName: Forbidden: may not be changed directly",
            "status.podIPs[0]: Invalid value: \"bad\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "status.hostIPs[0].ip: Invalid value: \"10.0.0.2\": must be equal to `hostIP`",
        ]
    );
}

#[test]
fn pod_template_cases() {
    let t = |v: serde_json::Value| -> PodTemplate { serde_json::from_value(v).unwrap() };
    assert!(
        validate_pod_template(&t(json!({"metadata": {"name": "t", "namespace": "d"}, "template": {"spec": with(json!({}))}}))).is_empty()
    );
    let got = strings(validate_pod_template(&t(
        json!({"metadata": {"name": "t", "namespace": "d"}, "template": {"metadata": {"labels": {"a": "-"}}}}),
    )));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("template.labels: Invalid value: \"-\""));
    assert_eq!(got[1], "template.spec.containers: Required value");
    let got = strings(validate_pod_template(&t(
        json!({"metadata": {"name": "t", "namespace": "d"}, "template": {"spec": with(json!({"ephemeralContainers": [{"name": "e"}]}))}}),
    )));
    assert_eq!(got, vec!["template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"]);
}
