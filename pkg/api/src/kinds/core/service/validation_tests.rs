//! Table tests for Services and Endpoints.

use super::*;
use crate::validation::test_support::{strings, check};
use serde_json::json;

fn svc(name: &str, spec: serde_json::Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default", "resourceVersion": "1"}, "spec": spec})).unwrap()
}

#[test]
fn service_create_cases() {
    let cases: Vec<(&str, serde_json::Value, Vec<&str>)> = vec![
        ("web", json!({"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}), vec![]),
        ("1web", json!({"ports": [{"port": 80}]}), vec!["metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]),
        ("web", json!({}), vec!["spec.ports: Required value"]),
        ("web", json!({"clusterIP": "None"}), vec![]),
        ("web", json!({"type": "ExternalName", "externalName": "example.com."}), vec![]),
        ("web", json!({"type": "ExternalName"}), vec!["spec.externalName: Required value"]),
        ("web", json!({"ports": [{"port": 0, "protocol": "ICMP", "targetPort": 70000}]}), vec![
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ]),
        ("web", json!({"ports": [{"port": 80}, {"port": 443, "name": "https"}]}), vec!["spec.ports[0].name: Required value"]),
        ("web", json!({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 80}]}), vec![
            "spec.ports[1].name: Duplicate value: \"a\"",
            "spec.ports[1]: Duplicate value: {\"Name\":\"\",\"Protocol\":\"TCP\",\"AppProtocol\":null,\"Port\":80,\"TargetPort\":0,\"NodePort\":0}",
        ]),
        ("web", json!({"type": "Magic", "ports": [{"port": 80}]}), vec!["spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""]),
        ("web", json!({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30000}]}), vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
        ("web", json!({"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30000}, {"name": "b", "port": 81, "nodePort": 30000}]}), vec!["spec.ports[1].nodePort: Duplicate value: 30000"]),
        ("web", json!({"type": "LoadBalancer", "ports": [{"port": 10250}]}), vec!["spec.ports[0]: Invalid value: 10250: may not expose port 10250 externally since it is used by kubelet"]),
        ("web", json!({"sessionAffinity": "Sticky", "ports": [{"port": 80}]}), vec!["spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""]),
        ("web", json!({"selector": {"app": "we b"}, "ports": [{"port": 80}]}), vec!["spec.selector: Invalid value: \"we b\": a valid label must be an empty string"]),
        ("web", json!({"clusterIP": "10.0.0.300", "ports": [{"port": 80}]}), vec!["spec.clusterIPs[0]: Invalid value: \"10.0.0.300\": must be a valid IP address"]),
        ("web", json!({"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.2"], "ports": [{"port": 80}]}), vec!["spec.clusterIPs: Invalid value: [\"10.0.0.2\"]: first value must match `clusterIP`"]),
        ("web", json!({"externalIPs": ["127.0.0.1"], "ports": [{"port": 80}]}), vec!["spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
        ("web", json!({"externalTrafficPolicy": "Local", "ports": [{"port": 80}]}), vec!["spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services"]),
        ("web", json!({"loadBalancerSourceRanges": ["10.0.0.0/8"], "ports": [{"port": 80}]}), vec!["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]),
        ("web", json!({"ipFamilies": ["IPv5"], "ports": [{"port": 80}]}), vec!["spec.ipFamilies[0]: Unsupported value: \"IPv5\": supported values: \"IPv4\", \"IPv6\""]),
    ];
    for (name, spec, want) in cases {
        check(strings(validate_service(&svc(name, spec.clone()))), &want, &spec.to_string());
    }
}

#[test]
fn service_update_cases() {
    let old = svc("web", json!({"clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"], "ports": [{"port": 80}]}));
    let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
        (json!({"ports": [{"port": 81}]}), vec![]),
        (json!({"clusterIP": "10.0.0.10", "ports": [{"port": 80}], "selector": {"a": "b"}}), vec![]),
        (
            json!({"clusterIP": "10.0.0.11", "ports": [{"port": 80}]}),
            vec!["spec.clusterIPs[0]: Invalid value: [\"10.0.0.11\"]: may not change once set"],
        ),
    ];
    for (spec, want) in cases {
        check(strings(validate_service_update(&svc("web", spec.clone()), &old)), &want, &spec.to_string());
    }
    let lb = svc("web", json!({"type": "LoadBalancer", "ports": [{"port": 80}], "loadBalancerClass": "example.com/a"}));
    let changed = svc("web", json!({"type": "LoadBalancer", "ports": [{"port": 80}], "loadBalancerClass": "example.com/b"}));
    check(
        strings(validate_service_update(&changed, &lb)),
        &["spec.loadBalancerClass: Invalid value: \"example.com/b\": may not change once set"],
        "lb class",
    );
    let mut status = svc("web", json!({"ports": [{"port": 80}]}));
    status.status = Some(serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})).unwrap());
    check(
        strings(validate_service_status_update(&status, &status)),
        &["status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is 'LoadBalancer'"],
        "status",
    );
}
