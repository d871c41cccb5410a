//! State shared by every request: the store, the per-resource cachers, and health.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use corekube_api::ResourceDef;
use corekube_storage::{Cacher, EtcdStore};
use tokio_util::sync::CancellationToken;

use crate::health::Health;

#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub struct Inner {
    pub store: EtcdStore,
    /// One cacher per storage resource (core and events.k8s.io events share one).
    pub cachers: HashMap<&'static str, Cacher>,
    pub health: Health,
    /// Fires when the server stops; open watches end on it.
    pub shutdown: CancellationToken,
    /// How to call kubelets (pods/log, exec, attach, port-forward); set once at start.
    pub kubelet_client: std::sync::OnceLock<crate::handlers::kubelet_proxy::KubeletClient>,
}

impl AppState {
    pub fn store(&self) -> &EtcdStore {
        &self.0.store
    }

    pub fn cacher(&self, def: &ResourceDef) -> &Cacher {
        self.0.cachers.get(def.storage_resource).expect("every storage resource has a cacher")
    }

    pub fn health(&self) -> &Health {
        &self.0.health
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.0.shutdown
    }

    pub fn kubelet_client(&self) -> Option<&crate::handlers::kubelet_proxy::KubeletClient> {
        self.0.kubelet_client.get()
    }

    pub fn caches_synced(&self) -> bool {
        self.0.cachers.values().all(|c| c.is_synced())
    }

    /// Waits (bounded) for every cacher's initial list.
    pub async fn wait_caches_synced(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.caches_synced() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}
