//! Pods: status starts Pending with its QoS class; deletion of a pod on a node is graceful.

use serde_json::{json, Value};

use crate::kinds::DeletePlan;

/// Upstream's default when neither the request nor the pod names a grace period.
const DEFAULT_GRACE_SECONDS: i64 = 30;

pub fn prepare_for_create(pod: &mut Value) {
    let qos = crate::qos::qos_class(pod);
    pod["status"] = json!({"phase": "Pending", "qosClass": qos});
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
    fn deletion() {
        assert_eq!(delete_plan(&json!({"spec": {}}), None), DeletePlan::Immediate);
        let bound = json!({"spec": {"nodeName": "n", "terminationGracePeriodSeconds": 10}});
        assert_eq!(delete_plan(&bound, None), DeletePlan::Graceful(10));
        assert_eq!(delete_plan(&bound, Some(0)), DeletePlan::Immediate);
        let done = json!({"spec": {"nodeName": "n"}, "status": {"phase": "Succeeded"}});
        assert_eq!(delete_plan(&done, None), DeletePlan::Immediate);
    }
}
