//! The HTTPS listener: TLS with optional client certificates verified against the cluster CA,
//! HTTP/1.1 and HTTP/2, and a graceful drain on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::authn::{PeerIdentity, User};
use crate::Config;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("invalid TLS material: {0}")]
    Tls(String),
}

/// How long open connections (watches included) get to finish after shutdown starts.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })
}

fn tls_config(config: &Config) -> Result<rustls::ServerConfig, ServeError> {
    // AES-128-GCM first and chosen by the server, as Go's crypto/tls does on CPUs with AES
    // instructions: a quarter fewer rounds than AES-256 for every byte served (large lists and
    // watch streams are bound by it on small machines).
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        _ => 1,
    });
    let provider = Arc::new(provider);
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut config.serving_cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| ServeError::Tls(format!("serving certificate: {e}")))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut config.serving_key_pem.as_bytes())
        .map_err(|e| ServeError::Tls(format!("serving key: {e}")))?
        .ok_or_else(|| ServeError::Tls("serving key: no key found".into()))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_pemfile::certs(&mut config.client_ca_pem.as_bytes()) {
        let ca = ca.map_err(|e| ServeError::Tls(format!("client CA: {e}")))?;
        roots.add(ca).map_err(|e| ServeError::Tls(format!("client CA: {e}")))?;
    }
    // Client certificates are optional at the TLS layer so that /healthz and /version answer
    // without one; every other path then requires the verified identity (authn::require_user).
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| ServeError::Tls(format!("client verifier: {e}")))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tls.ignore_client_order = true;
    Ok(tls)
}

/// Accepts connections until `shutdown`, then lets open ones finish for DRAIN_GRACE.
pub async fn serve(listener: TcpListener, config: &Config, router: axum::Router, shutdown: CancellationToken) -> Result<(), ServeError> {
    let acceptor = TlsAcceptor::from(Arc::new(tls_config(config)?));
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let identity = PeerIdentity(
                tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| User::from_certificate(c.as_ref())),
            );
            let svc = router.map_request(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(identity.clone());
                req
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // Upstream's recommended serving options allow 1000 streams per HTTP/2 connection
            // (hyper's default is 200): client-go multiplexes all of a client's watches on one.
            builder.http2().max_concurrent_streams(1000);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(svc));
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
    Ok(())
}
