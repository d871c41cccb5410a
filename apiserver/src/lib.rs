//! The Kubernetes API server: HTTPS with client-certificate authentication in front of REST
//! handlers for every registry resource, watch, discovery and health, all backed by etcd.

mod admission;
mod authn;
mod bootstrap;
mod compaction;
mod discovery;
mod error;
mod handlers;
mod health;
mod managed;
mod query;
mod strategy;
mod request;
mod server;
mod state;
mod store;
mod version;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use corekube_storage::{Cacher, CacherConfig, EtcdStore};
use tokio_util::sync::CancellationToken;

pub use authn::User;
pub use health::Health;
pub use server::ServeError;
pub use state::AppState;

/// Everything the API server needs, completed and validated by the caller.
pub struct Config {
    pub listen: SocketAddr,
    /// PEM of the serving certificate chain and key.
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    /// PEM of the CA whose client certificates authenticate users.
    pub client_ca_pem: String,
    pub store: EtcdStore,
    /// How often etcd history is compacted; zero disables it.
    pub compaction_interval: Duration,
    pub cacher: CacherConfig,
    /// The API server's client certificate and key for kubelets (CN
    /// kube-apiserver-kubelet-client, O system:masters); kubelets' serving certificates are
    /// verified against `client_ca_pem`. None: pods/log, exec and the like answer 503.
    pub kubelet_client: Option<(String, String)>,
}

/// Builds the shared state: one cacher per stored resource.
pub fn build_state(store: EtcdStore, cacher: CacherConfig, health: Health, shutdown: CancellationToken) -> AppState {
    let mut cachers = std::collections::HashMap::new();
    for def in corekube_api::kinds::snapshot().iter() {
        cachers
            .entry(def.storage_resource)
            .or_insert_with(|| {
                let config = CacherConfig { attrs: store::list::selector_attrs(def.storage_def()), ..cacher.clone() };
                Cacher::start(store.clone(), def.storage_resource, config, shutdown.child_token())
            });
    }
    AppState(Arc::new(state::Inner { store, cachers, health, shutdown, kubelet_client: Default::default() }))
}

/// Serves until `shutdown` fires, then drains connections for a few seconds.
pub async fn run(config: Config, health: Health, shutdown: CancellationToken) -> Result<(), ServeError> {
    let state = build_state(config.store.clone(), config.cacher.clone(), health.clone(), shutdown.clone());
    if let Some((cert, key)) = &config.kubelet_client {
        match handlers::kubelet_proxy::KubeletClient::new(cert, key, &config.client_ca_pem) {
            Ok(client) => {
                let _ = state.0.kubelet_client.set(client);
            }
            Err(e) => tracing::error!(error = %e, "kubelet client credentials unusable; pods/log, exec and port-forward will fail"),
        }
    }
    let router = handlers::router(state.clone());
    let listener = server::bind(config.listen).await?;
    tracing::info!(address = %config.listen, "serving the Kubernetes API over HTTPS");

    // Start-up steps, each reported as a health check once done. As upstream's post-start
    // hooks, each keeps trying until it succeeds (or the server stops): `/readyz` fails the
    // step until then, and never reports done a step that gave up.
    let startup = {
        let state = state.clone();
        async move {
            while !state.wait_caches_synced(Duration::from_secs(60)).await {
                tracing::warn!("the watch caches have not synced with etcd after 60 s; still waiting");
            }
            state.health().mark_done("poststarthook/start-watch-cache");
            bootstrap::ensure_system_namespaces(&state).await;
            state.health().mark_done("poststarthook/bootstrap-namespaces");
            // Not a check of its own (upstream has none): done before the next step reports.
            bootstrap::ensure_default_storage_class(&state).await;
            bootstrap::ensure_system_priority_classes(&state).await;
            state.health().mark_done("poststarthook/scheduling/bootstrap-system-priority-classes");
        }
    };
    let stopped = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! { _ = stopped.cancelled() => {}, _ = startup => {} }
    });
    if !config.compaction_interval.is_zero() {
        tokio::spawn(compaction::run(state.clone(), config.compaction_interval, shutdown.clone()));
    }
    server::serve(listener, &config, router, shutdown).await
}

/// Builds the router without TLS, for in-process handler tests.
pub fn test_router(state: AppState) -> axum::Router {
    handlers::router(state)
}
