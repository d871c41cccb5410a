//! Objects every cluster starts with: the system namespaces and priority classes.

use std::time::Duration;

use corekube_api::{registry, ApiError};
use serde_json::json;

use crate::state::AppState;
use crate::store::{self, Scope};

/// The manager the API server's own objects are recorded for, as upstream.
const APISERVER_MANAGER: &str = "kube-apiserver";

pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces that are missing, retrying (bounded) while etcd is unreachable.
pub async fn ensure_system_namespaces(state: &AppState) {
    let def = registry::find("", "v1", "namespaces").expect("namespaces are served");
    let scope = Scope { def, namespace: None };
    for name in SYSTEM_NAMESPACES {
        for attempt in 0..60 {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            let ns = (def.codec)(ns).expect("a namespace literal decodes").value;
            match store::create(state, &scope, ns, false, Some(APISERVER_MANAGER)).await {
                Ok(_) | Err(ApiError::AlreadyExists { .. }) => break,
                Err(e) => {
                    tracing::warn!(namespace = name, attempt, error = %e, "cannot create system namespace yet");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

/// Creates the system priority classes (system-node-critical, system-cluster-critical).
pub async fn ensure_system_priority_classes(state: &AppState) {
    let def = registry::find("scheduling.k8s.io", "v1", "priorityclasses").expect("priority classes are served");
    let scope = Scope { def, namespace: None };
    for (name, value, description) in corekube_api::validation::priority_class::SYSTEM_PRIORITY_CLASSES {
        for attempt in 0..60 {
            let pc = json!({
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value, "description": description,
            });
            let pc = (def.codec)(pc).expect("a priority class literal decodes").value;
            match store::create(state, &scope, pc, false, Some(APISERVER_MANAGER)).await {
                Ok(_) | Err(ApiError::AlreadyExists { .. }) => break,
                Err(e) => {
                    tracing::warn!(priority_class = name, attempt, error = %e, "cannot create system priority class yet");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}
