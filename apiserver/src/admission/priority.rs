//! Upstream's Priority admission plugin: a new pod's `priorityClassName` (or the global default
//! class) becomes its `priority` and `preemptionPolicy`.

use std::sync::{Arc, Mutex};

use corekube_api::{kinds, meta, ApiError};
use corekube_storage::CachedObject;
use serde_json::{json, Value};

use crate::state::AppState;
use crate::store::Scope;

/// What a pod without any class gets when no class is the global default.
const DEFAULT_PRIORITY: i64 = 0;

#[derive(Clone, Debug, PartialEq)]
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

/// The global default class as last found, and the cached class objects it was found among.
/// The cache replaces an object's Arc whenever the object changes, so the same Arcs mean the
/// same classes; holding them keeps their addresses from being reused.
type DefaultMemo = Option<(Vec<Arc<CachedObject>>, Option<Class>)>;
static GLOBAL_DEFAULT: Mutex<DefaultMemo> = Mutex::new(None);

/// The global default class with the lowest value, as upstream picks among several. Parsing
/// every class on every pod create cost more than the rest of admission, so the answer is
/// kept until the classes change.
fn global_default(classes: Vec<Arc<CachedObject>>) -> Option<Class> {
    let mut memo = GLOBAL_DEFAULT.lock().unwrap();
    if let Some((seen, class)) = memo.as_ref() {
        if seen.len() == classes.len() && seen.iter().zip(&classes).all(|(a, b)| Arc::ptr_eq(a, b)) {
            return class.clone();
        }
    }
    let class = classes
        .iter()
        .map(|o| o.value())
        .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
        .map(|c| class_of(&c))
        .min_by_key(|c| c.value);
    *memo = Some((classes, class.clone()));
    class
}

pub fn admit_pod(state: &AppState, scope: &Scope, pod: &mut Value) -> Result<(), ApiError> {
    let def = kinds::find("scheduling.k8s.io", "v1", "priorityclasses").expect("priority classes are served");
    let cacher = state.cacher(def);
    let pod_name = meta::name(pod).to_string();
    let forbidden = |message: String| ApiError::Forbidden {
        resource: scope.def.group_resource(),
        message: format!("pods \"{pod_name}\" is forbidden: {message}"),
        name: pod_name.clone(),
    };
    let requested = pod.pointer("/spec/priorityClassName").and_then(Value::as_str).unwrap_or_default().to_string();
    let class = if requested.is_empty() {
        let prefix = corekube_storage::collection_prefix(def.storage_resource, None);
        global_default(cacher.snapshot(&prefix).0)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i64, global_default: bool) -> Arc<CachedObject> {
        let obj = json!({"metadata": {"name": name}, "value": value, "globalDefault": global_default});
        CachedObject::new(&obj, 1, &corekube_storage::labels_only())
    }

    #[test]
    fn the_global_default_follows_changes_to_the_classes() {
        let system = class("system", 2000000000, false);
        assert_eq!(global_default(vec![system.clone()]), None);
        let high = class("high", 1000, true);
        let found = global_default(vec![high.clone(), system.clone()]).expect("a default");
        assert_eq!((found.name.as_str(), found.value), ("high", 1000));
        // Asked again with the same objects: the same answer.
        assert_eq!(global_default(vec![high.clone(), system.clone()]), Some(found));
        // The lowest of several defaults wins; a changed object is a new Arc.
        let low = class("low", 10, true);
        assert_eq!(global_default(vec![high.clone(), low, system.clone()]).map(|c| c.name), Some("low".into()));
        let high_no_longer_default = class("high", 1000, false);
        assert_eq!(global_default(vec![high_no_longer_default, system]), None);
    }
}
