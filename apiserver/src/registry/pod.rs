//! Pods: status starts Pending with its QoS class; deletion of a pod on a node is graceful.

use serde_json::{json, Value};

use super::DeletePlan;

/// Upstream's default when neither the request nor the pod names a grace period.
const DEFAULT_GRACE_SECONDS: i64 = 30;

pub fn prepare_for_create(pod: &mut Value) {
    let qos = qos_class(pod);
    pod["status"] = json!({"phase": "Pending", "qosClass": qos});
}

/// Guaranteed when every container limits cpu and memory with requests equal to limits;
/// BestEffort when nothing requests or limits anything; Burstable otherwise.
pub fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(|c| c.as_array()))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let requests = c.pointer("/resources/requests").and_then(|r| r.as_object());
        let limits = c.pointer("/resources/limits").and_then(|r| r.as_object());
        let relevant = |m: Option<&serde_json::Map<String, Value>>| m.map(|m| m.keys().any(|k| k == "cpu" || k == "memory")).unwrap_or(false);
        if relevant(requests) || relevant(limits) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(res));
            let request = requests.and_then(|r| r.get(res)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed && !containers.is_empty()) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

pub fn delete_plan(pod: &Value, grace_seconds: Option<i64>) -> DeletePlan {
    let bound = pod.pointer("/spec/nodeName").and_then(|n| n.as_str()).is_some_and(|n| !n.is_empty());
    let finished = matches!(pod.pointer("/status/phase").and_then(|p| p.as_str()), Some("Succeeded" | "Failed"));
    // A pod no kubelet runs has nothing to wait for.
    if !bound || finished {
        return DeletePlan::Immediate;
    }
    let grace = grace_seconds
        .or_else(|| pod.pointer("/spec/terminationGracePeriodSeconds").and_then(|g| g.as_i64()))
        .unwrap_or(DEFAULT_GRACE_SECONDS);
    if grace <= 0 {
        DeletePlan::Immediate
    } else {
        DeletePlan::Graceful(grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos() {
        let best = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(qos_class(&best), "BestEffort");
        let guaranteed = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&guaranteed), "Guaranteed");
        let burst = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(qos_class(&burst), "Burstable");
    }

    #[test]
    fn deletion() {
        assert_eq!(delete_plan(&json!({"spec": {}}), None), DeletePlan::Immediate);
        let bound = json!({"spec": {"nodeName": "n", "terminationGracePeriodSeconds": 10}});
        assert_eq!(delete_plan(&bound, None), DeletePlan::Graceful(10));
        assert_eq!(delete_plan(&bound, Some(0)), DeletePlan::Immediate);
        let done = json!({"spec": {"nodeName": "n"}, "status": {"phase": "Succeeded"}});
        assert_eq!(delete_plan(&done, None), DeletePlan::Immediate);
    }
}
