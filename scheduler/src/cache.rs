//! The scheduler's view of the cluster, kept from watches: the framework's snapshot (nodes with
//! the pods on them, volumes) plus what the runtime needs to keep it right: each counted pod's
//! last object, and which pods are only assumed (chosen a moment ago, still being bound). An
//! assumed pod counts on its node at once, so the next pod sees its resources; a failed bind
//! forgets it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::framework::Snapshot;
use crate::queue::{pod_key, PodKey};

/// Whether a pod has finished and no longer holds resources on its node.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

pub fn assigned_node(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

#[derive(Default)]
pub struct Cache {
    pub snapshot: Snapshot,
    /// Pods counted on nodes (bound or assumed), as last seen.
    pods: HashMap<PodKey, Arc<Pod>>,
    /// Keys of pods in `pods` that are assumed, not yet seen bound.
    assumed: HashSet<PodKey>,
}

impl Cache {
    pub fn holds(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.assumed.contains(key)
    }

    pub fn pod_keys(&self) -> impl Iterator<Item = &PodKey> {
        self.pods.keys()
    }

    /// A pod seen on a node (from the watch). Returns whether it still holds resources.
    pub fn set_assigned_pod(&mut self, pod: Arc<Pod>) -> bool {
        let key = pod_key(&pod);
        self.assumed.remove(&key);
        if is_terminal(&pod) {
            self.remove_pod(&key);
            return false;
        }
        match self.pods.insert(key, pod.clone()) {
            Some(old) => self.snapshot.update_pod(&old, pod),
            None => self.snapshot.add_pod(pod),
        }
        true
    }

    /// A pod that left (deleted, finished). Returns whether it held resources.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        self.assumed.remove(key);
        match self.pods.remove(key) {
            Some(old) => {
                self.snapshot.remove_pod(&old);
                true
            }
            None => false,
        }
    }

    /// Counts `pod` on `node` before the binding is confirmed.
    pub fn assume(&mut self, pod: &Pod, node: &str) {
        let mut assumed = pod.clone();
        assumed.spec.get_or_insert_with(Default::default).node_name = Some(node.to_string());
        let key = pod_key(pod);
        self.remove_pod(&key);
        let assumed = Arc::new(assumed);
        self.pods.insert(key.clone(), assumed.clone());
        self.snapshot.add_pod(assumed);
        self.assumed.insert(key);
    }

    /// Drops an assumed pod whose binding failed.
    pub fn forget(&mut self, key: &str) {
        if self.assumed.contains(key) {
            self.remove_pod(key);
        }
    }

    pub fn set_node(&mut self, node: Arc<Node>) {
        self.snapshot.upsert_node(node);
    }

    pub fn remove_node(&mut self, name: &str) {
        self.snapshot.remove_node(name);
    }

    pub fn node_names(&self) -> Vec<String> {
        self.snapshot.nodes().iter().map(|n| n.name().to_string()).collect()
    }
}
