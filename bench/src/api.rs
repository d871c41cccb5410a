//! HTTPS to corekube through kube-rs, authenticated with the admin kubeconfig's client
//! certificate. Requests are raw (path, body bytes) so the client does no more work than needed.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;

pub const JSON: &str = "application/json";
pub const MERGE_PATCH: &str = "application/merge-patch+json";

#[derive(Clone)]
pub struct Api {
    pub client: kube::Client,
    config: kube::Config,
}

impl Api {
    /// A client from a kubeconfig file; `server` overrides its cluster URL.
    pub async fn from_kubeconfig(path: &Path, server: Option<&str>) -> Result<Api, String> {
        let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
        let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
        if let Some(s) = server {
            cfg.cluster_url = s.parse().map_err(|e| format!("--server {s}: {e}"))?;
        }
        cfg.read_timeout = Some(Duration::from_secs(180));
        let client = kube::Client::try_from(cfg.clone()).map_err(|e| format!("kube client: {e}"))?;
        Ok(Api { client, config: cfg })
    }

    fn request(method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Result<http::Request<kube::client::Body>, String> {
        let mut req = http::Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header(http::header::CONTENT_TYPE, ct);
        }
        req = req.header(http::header::ACCEPT, JSON);
        req.body(kube::client::Body::from(body)).map_err(|e| e.to_string())
    }

    /// Sends a request and returns the status and the whole body.
    pub async fn call(&self, method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Result<(u16, Bytes), String> {
        let resp = self.client.send(Self::request(method, path, content_type, body)?).await.map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.map_err(|e| format!("{path}: reading body: {e}"))?.to_bytes();
        Ok((status, bytes))
    }

    /// Like `call`, but any status other than 2xx is an error carrying the start of the body.
    pub async fn ok(&self, method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Result<Bytes, String> {
        let (status, bytes) = self.call(method.clone(), path, content_type, body).await?;
        if (200..300).contains(&status) {
            Ok(bytes)
        } else {
            Err(status_error(&method, path, status, &bytes))
        }
    }

    /// A GET whose body is only counted, frame by frame as it arrives, not assembled: the read
    /// benchmarks need every byte received, not one buffer holding them, and copying tens of
    /// megabytes per LIST would take the CPU the server under test needs (two cores). Returns the
    /// body's length; a status other than 200, or a body that does not end a JSON object, is an
    /// error.
    pub async fn get_counted(&self, path: &str) -> Result<usize, String> {
        let mut body = self.stream(path).await?;
        let (mut len, mut last) = (0usize, 0u8);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("{path}: reading body: {e}"))?;
            if let Some(data) = frame.data_ref() {
                len += data.len();
                if let Some(&b) = data.iter().rev().find(|b| !b.is_ascii_whitespace()) {
                    last = b;
                }
            }
        }
        if last != b'}' {
            return Err(format!("GET {path}: the body ({len} bytes) does not end a JSON object"));
        }
        Ok(len)
    }

    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, String> {
        let b = self.ok(Method::GET, path, None, Vec::new()).await?;
        serde_json::from_slice(&b).map_err(|e| format!("GET {path}: {e}"))
    }

    /// Every item of a collection, read in pages of 500 (a list's items are returned as they are).
    pub async fn list_all(&self, path: &str) -> Result<Vec<serde_json::Value>, String> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut token = String::new();
        for _ in 0..100_000 {
            let page = if token.is_empty() { format!("{path}{sep}limit=500") } else { format!("{path}{sep}limit=500&continue={token}") };
            let mut v = self.get_json(&page).await?;
            if let Some(a) = v["items"].as_array_mut() {
                items.append(a);
            }
            token = v["metadata"]["continue"].as_str().unwrap_or("").to_string();
            if token.is_empty() {
                return Ok(items);
            }
        }
        Err(format!("{path}: too many pages"))
    }

    /// Opens a GET (a watch, or a body read as it arrives) and returns its body once the headers
    /// are in.
    pub async fn stream(&self, path: &str) -> Result<kube::client::Body, String> {
        let resp = self.client.send(Self::request(Method::GET, path, None, Vec::new())?).await.map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(status_error(&Method::GET, path, status, &bytes));
        }
        Ok(resp.into_body())
    }

    /// Creates a namespace; one that already exists is fine.
    pub async fn ensure_namespace(&self, name: &str) -> Result<(), String> {
        let body = serde_json::to_vec(&serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})).unwrap();
        match self.call(Method::POST, "/api/v1/namespaces", Some(JSON), body).await? {
            (200..=299, _) | (409, _) => Ok(()),
            (s, b) => Err(format!("creating namespace {name}: HTTP {s}: {}", String::from_utf8_lossy(&b))),
        }
    }

    /// Opens up to `n` pooled connections by sending `n` concurrent cheap requests, so that a
    /// measurement does not time TLS handshakes.
    pub async fn warm_up(&self, n: usize) {
        let reqs = (0..n).map(|_| self.call(Method::GET, "/api/v1/namespaces/default", None, Vec::new()));
        let _ = tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(reqs)).await;
    }

    /// One HTTP/2 connection (TLS with the same client certificate), for opening many streams
    /// on it as client-go does; kube-rs itself speaks HTTP/1.1, one connection per request.
    pub async fn http2(&self) -> Result<Http2, String> {
        use kube::client::ConfigExt;
        let mut tls = self.config.rustls_client_config().map_err(|e| format!("TLS config: {e}"))?;
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let url = &self.config.cluster_url;
        let host = url.host().ok_or("server URL without a host")?.to_string();
        let port = url.port_u16().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| format!("server name {host}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls)).connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?;
        if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err("the server did not agree to HTTP/2".into());
        }
        let (send, conn) = hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
        tokio::spawn(conn);
        Ok(Http2 { send, base: url.to_string().trim_end_matches('/').to_string() })
    }
}

/// Streams over one shared HTTP/2 connection.
#[derive(Clone)]
pub struct Http2 {
    send: hyper::client::conn::http2::SendRequest<http_body_util::Empty<Bytes>>,
    base: String,
}

impl Http2 {
    /// Opens a streaming GET (a watch) and returns its body once the headers are in.
    pub async fn stream(&self, path: &str) -> Result<hyper::body::Incoming, String> {
        let req = http::Request::builder()
            .method(Method::GET)
            .uri(format!("{}{path}", self.base))
            .header(http::header::ACCEPT, JSON)
            .body(http_body_util::Empty::new())
            .map_err(|e| e.to_string())?;
        let mut send = self.send.clone();
        send.ready().await.map_err(|e| format!("{path}: {e}"))?;
        let resp = send.send_request(req).await.map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(status_error(&Method::GET, path, status, &bytes));
        }
        Ok(resp.into_body())
    }
}

/// The error for a request answered with `status`: the request and the start of the body.
fn status_error(method: &Method, path: &str, status: u16, body: &[u8]) -> String {
    format!("{method} {path}: HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]))
}

/// Reads a watch's events as they arrive and hands each one's object to `on_object` until it
/// returns true; an error if the watch ends or `deadline` passes first (`what` names the wait).
pub async fn follow_watch(body: kube::client::Body, deadline: std::time::Instant, what: &str, mut on_object: impl FnMut(&serde_json::Value) -> bool) -> Result<(), String> {
    use futures::StreamExt;
    use http_body_util::BodyExt;
    let mut body = body.into_data_stream();
    let mut buf = Vec::new();
    loop {
        let next = tokio::time::timeout_at(deadline.into(), body.next()).await.map_err(|_| format!("timed out waiting for {what}"))?;
        let Some(chunk) = next else { return Err("the watch ended".into()) };
        buf.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let Ok(ev) = serde_json::from_slice::<serde_json::Value>(&line) else { continue };
            if on_object(&ev["object"]) {
                return Ok(());
            }
        }
    }
}
