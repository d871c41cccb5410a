//! Upstream's Priority admission plugin: a new pod's `priorityClassName` (or the global default
//! class) becomes its `priority` and `preemptionPolicy`.

use corekube_api::{meta, registry, ApiError};
use serde_json::{json, Value};

use crate::state::AppState;
use crate::store::Scope;

/// What a pod without any class gets when no class is the global default.
const DEFAULT_PRIORITY: i64 = 0;

struct Class {
    name: String,
    value: i64,
    preemption_policy: String,
}

fn class_of(pc: &Value) -> Class {
    Class {
        name: meta::name(pc).to_string(),
        value: pc.get("value").and_then(Value::as_i64).unwrap_or(0),
        preemption_policy: pc.get("preemptionPolicy").and_then(Value::as_str).unwrap_or("PreemptLowerPriority").to_string(),
    }
}

pub fn admit_pod(state: &AppState, scope: &Scope, pod: &mut Value) -> Result<(), ApiError> {
    let def = registry::find("scheduling.k8s.io", "v1", "priorityclasses").expect("priority classes are served");
    let cacher = state.cacher(def);
    let pod_name = meta::name(pod).to_string();
    let forbidden = |message: String| ApiError::Forbidden {
        resource: scope.def.group_resource(),
        message: format!("pods \"{pod_name}\" is forbidden: {message}"),
        name: pod_name.clone(),
    };
    let requested = pod.pointer("/spec/priorityClassName").and_then(Value::as_str).unwrap_or_default().to_string();
    let class = if requested.is_empty() {
        // The global default with the lowest value, as upstream picks among several.
        let prefix = corekube_storage::collection_prefix(def.storage_resource, None);
        let classes = cacher.snapshot(&prefix).0;
        classes.iter().map(|o| o.value()).filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true)).map(|c| class_of(&c)).min_by_key(|c| c.value)
    } else {
        match cacher.get(&corekube_storage::object_key(def.storage_resource, None, &requested)).0 {
            Some(c) => Some(class_of(&c.value())),
            None => return Err(forbidden(format!("no PriorityClass with name {requested} was found"))),
        }
    };
    let (priority, policy) = match &class {
        Some(c) => (c.value, Some(c.preemption_policy.clone())),
        None => (DEFAULT_PRIORITY, None),
    };
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
    if let Some(given) = spec.get("priority").and_then(Value::as_i64) {
        if given != priority {
            return Err(forbidden(format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            )));
        }
    }
    spec.insert("priority".into(), json!(priority));
    if let Some(c) = &class {
        spec.insert("priorityClassName".into(), json!(c.name));
    }
    if let Some(policy) = policy {
        match spec.get("preemptionPolicy").and_then(Value::as_str) {
            Some(given) if given != policy => {
                return Err(forbidden(format!(
                    "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
                )))
            }
            _ => {
                spec.insert("preemptionPolicy".into(), json!(policy));
            }
        }
    }
    Ok(())
}
