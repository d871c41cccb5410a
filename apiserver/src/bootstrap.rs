//! Objects every cluster starts with: the system namespaces and priority classes, and the
//! default StorageClass `standard`.

use std::time::Duration;

use corekube_api::{kinds, ApiError, ResourceDef};
use serde_json::{json, Value};

use crate::state::AppState;
use crate::store::{self, Scope};

/// The manager the API server's own objects are recorded for, as upstream.
const APISERVER_MANAGER: &str = "kube-apiserver";

pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The longest wait between two tries at a bootstrap object.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Creates a cluster-scoped object unless it exists, trying again (every few seconds at
/// most) for as long as it takes, as upstream's post-start hooks do: the caller reports the
/// step done only once it really is.
async fn ensure(state: &AppState, def: &'static ResourceDef, obj: Value) {
    let scope = Scope { def, namespace: None };
    let obj = (def.codec)(obj).expect("a bootstrap literal decodes").value;
    let name = corekube_api::meta::name(&obj).to_string();
    let mut delay = Duration::from_millis(250);
    for attempt in 1.. {
        match store::create(state, &scope, obj.clone(), false, Some(APISERVER_MANAGER)).await {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => return,
            Err(e) => {
                tracing::warn!(kind = def.kind, name, attempt, error = %e, "cannot create bootstrap object yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
    }
}

/// Creates the system namespaces that are missing.
pub async fn ensure_system_namespaces(state: &AppState) {
    let def = kinds::find("", "v1", "namespaces").expect("namespaces are served");
    for name in SYSTEM_NAMESPACES {
        ensure(state, def, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})).await;
    }
}

/// Creates the system priority classes (system-node-critical, system-cluster-critical).
pub async fn ensure_system_priority_classes(state: &AppState) {
    let def = kinds::find("scheduling.k8s.io", "v1", "priorityclasses").expect("priority classes are served");
    for (name, value, description) in corekube_api::kinds::scheduling::priorityclass::validation::SYSTEM_PRIORITY_CLASSES {
        let pc = json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "description": description,
        });
        ensure(state, def, pc).await;
    }
}

/// The provisioner of the controller manager's built-in local provisioner.
const LOCAL_PATH_PROVISIONER: &str = "corekube.io/local-path";

/// Creates the default StorageClass `standard` unless it exists, as kind and minikube ship
/// theirs (upstream leaves default classes to addon manifests, created when missing): served by
/// the controller manager's local provisioner, a directory per claim on the node the claim's
/// first pod is scheduled to, hence WaitForFirstConsumer as kind's. An existing `standard` is
/// left as it is, so a user's change (or a removed default mark) stays.
pub async fn ensure_default_storage_class(state: &AppState) {
    let def = kinds::find("storage.k8s.io", "v1", "storageclasses").expect("storage classes are served");
    let class = json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": LOCAL_PATH_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    });
    ensure(state, def, class).await;
}
