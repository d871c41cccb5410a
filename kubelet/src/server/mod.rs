//! The kubelet's own HTTPS API (port 10250 by default), which the API server calls to reach
//! inside pods: `/containerLogs`, `/exec`, `/attach`, `/portForward`, plus `/healthz` and
//! `/pods`. Its serving certificate comes from the cluster CA, and only clients with a
//! certificate from that CA in group `system:masters` (the API server's
//! `kube-apiserver-kubelet-client` identity, or an administrator) may call it: no certificate
//! is 401, another identity 403, as upstream's kubelet answers through its authorizer.

// A refusal here is the HTTP response itself, made once per request: boxing it buys nothing.
#![allow(clippy::result_large_err)]

mod logs;
mod streams;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::cri;
use crate::labels;
use crate::Shared;

pub use logs::LogOptions;

/// The group whose members may use the kubelet API (upstream grants it everything).
const ALLOWED_GROUP: &str = "system:masters";

/// The kubelet API's listener settings.
#[derive(Clone)]
pub struct ServeConfig {
    /// Where to listen; port 0 picks a free one (reported in the Node's daemonEndpoints).
    pub listen: SocketAddr,
    pub cert_pem: String,
    pub key_pem: String,
    /// The CA whose client certificates are accepted (the cluster CA).
    pub client_ca_pem: String,
}

pub type Body = BoxBody<Bytes, std::io::Error>;

pub fn full(status: StatusCode, text: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(text.into()).map_err(|never| match never {}).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn json(value: &impl serde::Serialize) -> Response<Body> {
    let mut r = full(StatusCode::OK, serde_json::to_vec(value).unwrap_or_default());
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

/// A response whose body is whatever arrives on `rx`, ending when the sender is dropped.
fn streaming(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let frames = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx)) });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(frames)));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    r
}

fn tls_config(config: &ServeConfig) -> Result<rustls::ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut config.cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| format!("kubelet serving certificate: {e}"))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut config.key_pem.as_bytes())
        .map_err(|e| format!("kubelet serving key: {e}"))?
        .ok_or("kubelet serving key: no key found")?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_pemfile::certs(&mut config.client_ca_pem.as_bytes()) {
        roots.add(ca.map_err(|e| format!("client CA: {e}"))?).map_err(|e| format!("client CA: {e}"))?;
    }
    // Optional at the TLS layer so that a caller without a certificate hears 401, not a
    // handshake failure.
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("client verifier: {e}"))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    // HTTP/1.1 only: exec, attach and port-forward are connection upgrades.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// Binds the kubelet API; returns the listener and the port it got.
pub async fn bind(config: &ServeConfig) -> Result<(TcpListener, u16), String> {
    let listener = TcpListener::bind(config.listen).await.map_err(|e| format!("kubelet API cannot listen on {}: {e}", config.listen))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok((listener, port))
}

/// Serves the kubelet API until `shutdown`.
pub(crate) async fn serve(listener: TcpListener, config: ServeConfig, shared: Arc<Shared>, shutdown: CancellationToken) -> Result<(), String> {
    let acceptor = TlsAcceptor::from(Arc::new(tls_config(&config)?));
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "kubelet API accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                _ => return,
            };
            let identity = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| corekube_pki::subject_of(c.as_ref()).ok());
            let identity = Arc::new(identity);
            let service = hyper::service::service_fn(move |req| {
                let (shared, identity) = (shared.clone(), identity.clone());
                async move { Ok::<_, Infallible>(handle(req, &shared, identity.as_ref().as_ref()).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).with_upgrades();
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "kubelet API connection ended with an error");
            }
        });
    }
}

/// Who may call: 401 without a certificate, 403 for anyone outside ALLOWED_GROUP.
fn authorize(identity: Option<&(String, Vec<String>)>, req: &Request<Incoming>) -> Result<(), Response<Body>> {
    match identity {
        None => Err(full(StatusCode::UNAUTHORIZED, "Unauthorized")),
        Some((_, groups)) if groups.iter().any(|g| g == ALLOWED_GROUP) => Ok(()),
        Some((user, _)) => {
            let verb = if req.method() == Method::GET { "get" } else { "create" };
            Err(full(StatusCode::FORBIDDEN, format!("Forbidden (user={user}, verb={verb}, resource=nodes, subresource=proxy)")))
        }
    }
}

async fn handle(req: Request<Incoming>, shared: &Arc<Shared>, identity: Option<&(String, Vec<String>)>) -> Response<Body> {
    if let Err(denied) = authorize(identity, &req) {
        return denied;
    }
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["healthz"]) => full(StatusCode::OK, "ok"),
        (&Method::GET, ["pods"]) => {
            let items: Vec<k8s_openapi::api::core::v1::Pod> = shared.pods.read().expect("pods lock").values().cloned().collect();
            json(&serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}))
        }
        (&Method::GET, ["containerLogs", ns, pod, container]) => container_logs(shared, ns, pod, container, req.uri().query().unwrap_or_default()).await,
        (&Method::GET | &Method::POST, ["exec", ns, pod, container]) => streams::exec(shared, req, ns, pod, container, false).await,
        (&Method::GET | &Method::POST, ["attach", ns, pod, container]) => streams::exec(shared, req, ns, pod, container, true).await,
        (&Method::GET | &Method::POST, ["portForward", ns, pod]) => streams::port_forward(shared, req, ns, pod).await,
        _ => full(StatusCode::NOT_FOUND, "404 page not found"),
    }
}

/// The instances of a pod's container the runtime has, newest first (the pod's current uid
/// when the kubelet knows the pod, so a same-named older pod's containers are not mixed in).
pub(crate) async fn instances(shared: &Shared, ns: &str, pod: &str, container: &str) -> Result<Vec<cri::Container>, String> {
    let mut labels = std::collections::HashMap::from([
        (labels::POD_NAMESPACE.to_string(), ns.to_string()),
        (labels::POD_NAME.to_string(), pod.to_string()),
        (labels::CONTAINER_NAME.to_string(), container.to_string()),
    ]);
    if let Some(uid) = shared.pod_uid(ns, pod) {
        labels.insert(labels::POD_UID.to_string(), uid);
    }
    let mut found = shared.cri.containers_labelled(labels).await.map_err(|e| e.to_string())?;
    found.sort_by_key(|c| std::cmp::Reverse((c.metadata.as_ref().map(|m| m.attempt).unwrap_or(0), c.created_at)));
    Ok(found)
}

pub(crate) fn is_running(c: &cri::Container) -> bool {
    c.state == cri::ContainerState::ContainerRunning as i32
}

async fn container_logs(shared: &Arc<Shared>, ns: &str, pod: &str, container: &str, query: &str) -> Response<Body> {
    let opts = match LogOptions::from_query(query) {
        Ok(o) => o,
        Err(e) => return full(StatusCode::BAD_REQUEST, e),
    };
    let found = match instances(shared, ns, pod, container).await {
        Ok(f) => f,
        Err(e) => return full(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    // Upstream's messages for a container with no log to show (kuberuntime's
    // validateContainerLogStatus).
    let chosen = if opts.previous {
        match found.get(1) {
            Some(c) => c,
            None => return full(StatusCode::BAD_REQUEST, format!("previous terminated container \"{container}\" in pod \"{pod}\" not found")),
        }
    } else {
        match found.first() {
            Some(c) => c,
            None => return full(StatusCode::BAD_REQUEST, format!("container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating")),
        }
    };
    let status = match shared.cri.container_status(&chosen.id).await {
        Ok(s) => s,
        Err(e) => return full(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if status.state == cri::ContainerState::ContainerCreated as i32 {
        return full(StatusCode::BAD_REQUEST, format!("container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"));
    }
    let path = std::path::PathBuf::from(&status.log_path);
    if !path.exists() {
        return full(StatusCode::OK, Bytes::new());
    }
    let (tx, rx) = mpsc::channel(8);
    let (cri, id) = (shared.cri.clone(), chosen.id.clone());
    // A previous instance has ended: there is nothing to wait for.
    let follow_opts = LogOptions { follow: opts.follow && !opts.previous, ..opts };
    tokio::spawn(async move {
        let running = move || -> futures::future::BoxFuture<'static, bool> {
            let (cri, id) = (cri.clone(), id.clone());
            Box::pin(async move { cri.container_status(&id).await.is_ok_and(|s| s.state == cri::ContainerState::ContainerRunning as i32) })
        };
        if let Err(e) = logs::stream(path.clone(), follow_opts, tx, running).await {
            tracing::debug!(path = %path.display(), error = %e, "log stream ended with an error");
        }
    });
    streaming(rx)
}

/// Used by `streams` for the upgrade responses it builds.
pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    full(status, Bytes::new())
}
