//! DefaultTolerationSeconds (upstream's admission plugin): a new pod that does not tolerate
//! the `not-ready` and `unreachable` NoExecute taints gets a 300-second toleration of each, so
//! its pods leave a lost node five minutes after the node lifecycle controller taints it.

use serde_json::{json, Value};

const DEFAULT_SECONDS: i64 = 300;
const TAINTS: &[&str] = &["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

pub fn admit_pod(pod: &mut Value) {
    let existing = pod.pointer("/spec/tolerations").and_then(Value::as_array).cloned().unwrap_or_default();
    let tolerates = |taint: &str| {
        existing.iter().any(|t| {
            let key = t.get("key").and_then(Value::as_str).unwrap_or_default();
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or_default();
            (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    let added: Vec<Value> = TAINTS
        .iter()
        .filter(|t| !tolerates(t))
        .map(|t| json!({"key": t, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_SECONDS}))
        .collect();
    if added.is_empty() {
        return;
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let list = spec.entry("tolerations").or_insert_with(|| Value::Array(vec![]));
    if let Some(list) = list.as_array_mut() {
        list.extend(added);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_what_is_not_tolerated() {
        let mut pod = json!({"spec": {"containers": []}});
        admit_pod(&mut pod);
        let t = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0], json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));

        let mut own = json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]}});
        admit_pod(&mut own);
        let t = own["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["tolerationSeconds"], 5, "the pod's own toleration stays");
        assert_eq!(t[1]["key"], "node.kubernetes.io/not-ready");

        let mut everything = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        admit_pod(&mut everything);
        assert_eq!(everything["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }
}
