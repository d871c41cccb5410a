//! Namespaces: created Active with the `kubernetes` finalizer; deleting one marks it Terminating
//! until a controller has emptied it; the system namespaces cannot be deleted.

use serde_json::{json, Value};

use crate::kinds::DeletePlan;

/// Namespaces upstream refuses to delete.
const PROTECTED: &[&str] = &["default", "kube-system", "kube-public"];

pub fn is_protected_namespace(name: &str) -> bool {
    PROTECTED.contains(&name)
}

pub fn is_terminating(ns: &Value) -> bool {
    ns.pointer("/status/phase").and_then(|p| p.as_str()) == Some("Terminating")
        || crate::meta::deletion_timestamp(ns).is_some()
}

pub fn prepare_for_create(ns: &mut Value) {
    ns["status"] = json!({"phase": "Active"});
    let finalizers = ns.pointer("/spec/finalizers").and_then(|f| f.as_array()).cloned().unwrap_or_default();
    if !finalizers.iter().any(|f| f == "kubernetes") {
        let mut f = finalizers;
        f.push(json!("kubernetes"));
        ns["spec"]["finalizers"] = Value::Array(f);
    }
}

/// spec.finalizers changes only through the finalize subresource.
pub fn prepare_for_update(new: &mut Value, old: &Value) {
    match old.pointer("/spec/finalizers") {
        Some(f) => new["spec"]["finalizers"] = f.clone(),
        None => {
            if let Some(spec) = new.get_mut("spec").and_then(|s| s.as_object_mut()) {
                spec.remove("finalizers");
            }
        }
    }
}

pub fn delete_plan(ns: &Value) -> DeletePlan {
    let spec_finalizers = ns.pointer("/spec/finalizers").and_then(|f| f.as_array()).map(|f| !f.is_empty()).unwrap_or(false);
    if spec_finalizers {
        DeletePlan::Terminate
    } else {
        DeletePlan::Immediate
    }
}
