//! The labels and annotations the kubelet puts on sandboxes and containers (upstream's names),
//! which let it find a pod's containers again after a restart.

use std::collections::HashMap;

pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Annotation: how many times this container was restarted before this instance.
pub const RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
/// Annotation: the pod's termination grace period, for a kubelet that finds the container later.
pub const GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";
/// Annotation: whether the container is an init container.
pub const INIT: &str = "io.kubernetes.container.init";

/// The labels that tie a sandbox to its pod.
pub fn pod_labels(namespace: &str, name: &str, uid: &str) -> HashMap<String, String> {
    HashMap::from([
        (POD_UID.to_string(), uid.to_string()),
        (POD_NAME.to_string(), name.to_string()),
        (POD_NAMESPACE.to_string(), namespace.to_string()),
    ])
}

/// The labels that tie a container to its pod and its name in the spec.
pub fn container_labels(namespace: &str, name: &str, uid: &str, container: &str) -> HashMap<String, String> {
    let mut labels = pod_labels(namespace, name, uid);
    labels.insert(CONTAINER_NAME.to_string(), container.to_string());
    labels
}
