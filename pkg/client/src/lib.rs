//! What every component needs to be a client of the API server: a kube-rs `Client` from a
//! kubeconfig file, watches turned into streams of changes, shared watches with a cache for
//! controllers, and leader election.

pub mod events;
pub mod informer;
pub mod leader;
pub mod shared;

use kube::Client;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubeconfig {path}: {detail}")]
    Kubeconfig { path: String, detail: String },
    #[error("API client: {0}")]
    Client(String),
}

/// A client authenticated as the kubeconfig's user (each component has its own certificate),
/// introducing itself as `component` in its User-Agent as upstream's components do, so the API
/// server records its writes under that field manager (e.g. `kube-controller-manager`).
pub async fn client_from_kubeconfig(path: &std::path::Path, component: &str) -> Result<Client, Error> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .map_err(|e| Error::Kubeconfig { path: path.display().to_string(), detail: e.to_string() })?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Kubeconfig { path: path.display().to_string(), detail: e.to_string() })?;
    let agent = format!("{component}/v1.33.0 (linux/amd64) corekube");
    if let Ok(value) = http::HeaderValue::from_str(&agent) {
        config.headers.push((http::header::USER_AGENT, value));
    }
    Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
}
