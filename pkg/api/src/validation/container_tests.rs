//! Table tests for container checks, driven through `validate_containers`.

use super::*;
use serde_json::json;

fn run(containers: serde_json::Value) -> Vec<String> {
    let containers: Vec<Container> = serde_json::from_value(containers).unwrap();
    let volumes = BTreeMap::from([("data".to_string(), false)]);
    let ctx = PodContext { volumes: &volumes, grace_period: 30 };
    validate_containers(&containers, &ctx, &Path::of(&["spec", "containers"])).iter().map(|e| e.to_string()).collect()
}

fn c(extra: serde_json::Value) -> serde_json::Value {
    let mut base = json!({"name": "app", "image": "nginx"});
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    json!([base])
}

#[test]
fn container_cases() {
    let p = "spec.containers[0]";
    let cases: Vec<(serde_json::Value, Vec<String>)> = vec![
        (c(json!({})), vec![]),
        (json!([]), vec!["spec.containers: Required value".into()]),
        (json!([{"name": "app"}]), vec![format!("{p}.image: Required value")]),
        (json!([{"image": "x"}]), vec![format!("{p}.name: Required value")]),
        (json!([{"name": "App", "image": "x"}]), vec![format!("{p}.name: Invalid value: \"App\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")]),
        (json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]), vec!["spec.containers[1].name: Duplicate value: \"a\"".into()]),
        (c(json!({"ports": [{"containerPort": 0}]})), vec![format!("{p}.ports[0].containerPort: Required value")]),
        (c(json!({"ports": [{"containerPort": 70000, "protocol": "HTTP"}]})), vec![
            format!("{p}.ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"),
            format!("{p}.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""),
        ]),
        (c(json!({"ports": [{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}]})), vec![format!("{p}.ports[1].name: Duplicate value: \"web\"")]),
        (c(json!({"ports": [{"containerPort": 80, "name": "8080"}]})), vec![format!("{p}.ports[0].name: Invalid value: \"8080\": must contain at least one letter (a-z)")]),
        (json!([{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}, {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]}]),
            vec!["spec.containers[1].ports[0].hostPort: Duplicate value: \"TCP//8080\"".into()]),
        (c(json!({"imagePullPolicy": "Sometimes"})), vec![format!("{p}.imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"")]),
        (c(json!({"terminationMessagePolicy": "X"})), vec![format!("{p}.terminationMessagePolicy: Unsupported value: \"X\": supported values: \"File\", \"FallbackToLogsOnError\"")]),
        (c(json!({"restartPolicy": "Always"})), vec![format!("{p}.restartPolicy: Forbidden: may not be set for non-init containers")]),
        (c(json!({"livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2}})), vec![format!("{p}.livenessProbe.successThreshold: Invalid value: 2: must be 1")]),
        (c(json!({"startupProbe": {"tcpSocket": {"port": 80}, "successThreshold": 3}})), vec![format!("{p}.startupProbe.successThreshold: Invalid value: 3: must be 1")]),
        (c(json!({"readinessProbe": {"httpGet": {"port": 80}, "successThreshold": 3, "periodSeconds": -1}})), vec![format!("{p}.readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0")]),
        (c(json!({"livenessProbe": {}})), vec![format!("{p}.livenessProbe: Required value: must specify a handler type")]),
        (c(json!({"livenessProbe": {"exec": {"command": ["x"]}, "httpGet": {"port": 80}}})), vec![format!("{p}.livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type")]),
        (c(json!({"livenessProbe": {"exec": {}}})), vec![format!("{p}.livenessProbe.exec.command: Required value")]),
        (c(json!({"readinessProbe": {"httpGet": {"port": "http_x", "scheme": "FTP"}}})), vec![
            format!("{p}.readinessProbe.httpGet.port: Invalid value: \"http_x\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
            format!("{p}.readinessProbe.httpGet.scheme: Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\""),
        ]),
        (c(json!({"readinessProbe": {"grpc": {"port": 0}, "terminationGracePeriodSeconds": 5}})), vec![
            format!("{p}.readinessProbe.grpc.port: Invalid value: 0: must be between 1 and 65535, inclusive"),
            format!("{p}.readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes"),
        ]),
        (c(json!({"lifecycle": {"preStop": {"sleep": {"seconds": 100}}}})), vec![format!("{p}.lifecycle.preStop.sleep: Invalid value: 100: must be greater than 0 and less than terminationGracePeriodSeconds (30)")]),
        (c(json!({"env": [{"name": ""}, {"name": "A=B"}]})), vec![
            format!("{p}.env[0].name: Required value"),
            format!("{p}.env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"),
        ]),
        (c(json!({"env": [{"name": "A", "valueFrom": {}}]})), vec![format!("{p}.env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")]),
        (c(json!({"env": [{"name": "A", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]})), vec![format!("{p}.env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty")]),
        (c(json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": ""}}}]})), vec![format!("{p}.env[0].valueFrom.configMapKeyRef.key: Required value")]),
        (c(json!({"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}}]})), vec![format!("{p}.env[0].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.foo\": error converting fieldPath: field label not supported: spec.foo")]),
        (c(json!({"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}]})), vec![format!("{p}.env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"status.phase\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"")]),
        (c(json!({"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}]})), vec![]),
        (c(json!({"envFrom": [{}]})), vec![format!("{p}.envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`")]),
        (c(json!({"envFrom": [{"configMapRef": {"name": "cfg-"}}]})), vec![]),
        (c(json!({"volumeMounts": [{"name": "nope", "mountPath": "/x"}]})), vec![format!("{p}.volumeMounts[0].name: Not found: \"nope\"")]),
        (c(json!({"securityContext": {"runAsUser": -1, "privileged": true, "allowPrivilegeEscalation": false}})), vec![
            format!("{p}.securityContext.runAsUser: Invalid value: -1: must be between 0 and 4294967295, inclusive"),
            format!("{p}.securityContext: Invalid value: {{\"allowPrivilegeEscalation\":false,\"privileged\":true,\"runAsUser\":-1}}: cannot set `allowPrivilegeEscalation` to false and `privileged` to true"),
        ]),
        (c(json!({"resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}})), vec![format!("{p}.resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1")]),
    ];
    for (input, want) in cases {
        assert_eq!(run(input.clone()), want, "{input}");
    }
}

#[test]
fn init_container_cases() {
    let run_init = |init: serde_json::Value| -> Vec<String> {
        let init: Vec<Container> = serde_json::from_value(init).unwrap();
        let regular: Vec<Container> = serde_json::from_value(json!([{"name": "app", "image": "x"}])).unwrap();
        let volumes = BTreeMap::new();
        let ctx = PodContext { volumes: &volumes, grace_period: 30 };
        validate_init_containers(&init, &regular, &ctx, &Path::of(&["spec", "initContainers"])).iter().map(|e| e.to_string()).collect()
    };
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (json!([{"name": "init", "image": "x"}]), vec![]),
        (json!([{"name": "app", "image": "x"}]), vec!["spec.initContainers[0].name: Duplicate value: \"app\""]),
        (
            json!([{"name": "i", "image": "x", "restartPolicy": "Never"}]),
            vec!["spec.initContainers[0].restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""],
        ),
        (
            json!([{"name": "i", "image": "x", "readinessProbe": {"exec": {"command": ["x"]}}}]),
            vec!["spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"],
        ),
        (json!([{"name": "i", "image": "x", "restartPolicy": "Always", "readinessProbe": {"exec": {"command": ["x"]}}}]), vec![]),
    ];
    for (input, want) in cases {
        assert_eq!(run_init(input.clone()), want, "{input}");
    }
}
