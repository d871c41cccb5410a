//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`: the API server checks the
//! request against the pod, finds the kubelet of the pod's node (its InternalIP and the port
//! its Node reports in `daemonEndpoints`), and passes the request on over TLS with its own
//! kubelet client identity (`kube-apiserver-kubelet-client`, O=system:masters), verifying the
//! kubelet's serving certificate against the cluster CA.
//!
//! Upgrades (WebSocket or SPDY) are passed through untouched: when the kubelet answers 101,
//! so does the API server, and the two connections are spliced. The kubelet speaks every
//! protocol kubectl uses, so nothing here parses them. A log is streamed as the kubelet sends
//! it; a kubelet's refusal becomes a Status with the kubelet's code and text (upstream's
//! generic response checker).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use corekube_api::ApiError;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;

use crate::query::Query;
use crate::state::AppState;
use crate::store::{self, Scope};

/// The kubelet's port when its Node does not say (upstream's default).
const DEFAULT_KUBELET_PORT: u16 = 10250;
/// The buffer each direction of a spliced connection copies through: tokio's default (8 KiB)
/// makes a small TLS record and a syscall per 8 KiB, and a 100 MiB port-forward spent half its
/// CPU here.
const SPLICE_BUFFER: usize = 64 * 1024;
/// How long dialling a kubelet may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a kubelet's error text kept for the Status message.
const MAX_ERROR_TEXT: usize = 64 * 1024;
/// Request headers passed on to the kubelet: what the upgrade protocols need.
const PASSED_HEADERS: [&str; 8] = [
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "x-stream-protocol-version",
    "accept",
];

/// TLS settings for calling kubelets: the API server's kubelet client certificate, and the
/// cluster CA to verify their serving certificates.
pub struct KubeletClient {
    tls: Arc<rustls::ClientConfig>,
}

impl KubeletClient {
    pub fn new(cert_pem: &str, key_pem: &str, ca_pem: &str) -> Result<KubeletClient, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for ca in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
            roots.add(ca.map_err(|e| format!("kubelet CA: {e}"))?).map_err(|e| format!("kubelet CA: {e}"))?;
        }
        let certs: Vec<CertificateDer<'static>> =
            rustls_pemfile::certs(&mut cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| format!("kubelet client certificate: {e}"))?;
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .map_err(|e| format!("kubelet client key: {e}"))?
            .ok_or("kubelet client key: none found")?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| format!("kubelet client certificate: {e}"))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient { tls: Arc::new(tls) })
    }
}

/// The containers a pod declares, in upstream's order for messages.
fn container_names(pod: &Value, field: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{field}")).and_then(Value::as_array).map(|cs| cs.iter().filter_map(|c| c["name"].as_str().map(String::from)).collect()).unwrap_or_default()
}

/// The container a request means: the one named, or the only one (upstream's
/// `pod.Spec.Containers` defaulting, with its messages).
fn container_of(pod: &Value, name: &str, q: &Query) -> Result<String, ApiError> {
    let containers = container_names(pod, "containers");
    let init = container_names(pod, "initContainers");
    let ephemeral = container_names(pod, "ephemeralContainers");
    match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) if containers.iter().chain(&init).chain(&ephemeral).any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::BadRequest(format!("container {c} is not valid for pod {name}"))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => {
            let mut message = format!("a container name must be specified for pod {name}, choose one of: [{}]", containers.join(" "));
            if !init.is_empty() {
                message.push_str(&format!(" or one of the init containers: [{}]", init.join(" ")));
            }
            if !ephemeral.is_empty() {
                message.push_str(&format!(" or one of the ephemeral containers: [{}]", ephemeral.join(" ")));
            }
            Err(ApiError::BadRequest(message))
        }
    }
}

/// Upstream's PodLogOptions validation.
fn validate_log_options(name: &str, q: &Query) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let mut invalid = |field: &str, value: &str, message: &str| {
        causes.push(corekube_api::error::Cause { reason: "FieldValueInvalid".into(), field: field.into(), message: format!("Invalid value: {value}: {message}") });
    };
    let number = |key: &str| q.get(key).map(|v| v.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("invalid {key} {v:?}")))).transpose();
    if let Some(n) = number("tailLines")? {
        if n < 0 {
            invalid("tailLines", &n.to_string(), "must be greater than or equal to 0");
        }
    }
    if let Some(n) = number("limitBytes")? {
        if n < 1 {
            invalid("limitBytes", &n.to_string(), "must be greater than 0");
        }
    }
    if let Some(n) = number("sinceSeconds")? {
        if n < 1 {
            invalid("sinceSeconds", &n.to_string(), "must be greater than 0");
        }
    }
    if let Some(t) = q.get("sinceTime") {
        if t.parse::<jiff::Timestamp>().is_err() {
            return Err(ApiError::BadRequest(format!("parsing time \"{t}\" as RFC3339: invalid sinceTime")));
        }
        if q.get("sinceSeconds").is_some() {
            causes.push(corekube_api::error::Cause { reason: "FieldValueForbidden".into(), field: String::new(), message: "at most one of `sinceTime` or `sinceSeconds` may be specified".into() });
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid { group: String::new(), kind: "PodLogOptions".into(), name: name.into(), causes })
    }
}

/// Where a node's kubelet listens: its InternalIP (else its Hostname) and daemon port.
fn kubelet_address(node: &Value) -> Option<(String, u16)> {
    let addresses = node.pointer("/status/addresses").and_then(Value::as_array)?;
    let of_type = |t: &str| addresses.iter().find(|a| a["type"] == t).and_then(|a| a["address"].as_str()).map(String::from);
    let host = of_type("InternalIP").or_else(|| of_type("Hostname"))?;
    let port = node.pointer("/status/daemonEndpoints/kubeletEndpoint/Port").and_then(Value::as_u64).filter(|p| *p > 0 && *p <= 65535).map(|p| p as u16);
    Some((host, port.unwrap_or(DEFAULT_KUBELET_PORT)))
}

/// Serves `pods/{log,exec,attach,portforward}` for pod `name`.
#[allow(clippy::too_many_arguments)]
pub async fn pod(
    state: AppState,
    scope: Scope,
    name: &str,
    sub: &str,
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Result<Response, ApiError> {
    let allowed = match sub {
        "log" => method == Method::GET,
        _ => method == Method::GET || method == Method::POST,
    };
    if !allowed {
        return Err(ApiError::MethodNotAllowed);
    }
    let q = Query::parse(query);
    let pod = store::get(state.store(), &scope, name).await?;
    let ns = scope.namespace.clone().unwrap_or_default();
    let path = match sub {
        "log" => {
            validate_log_options(name, &q)?;
            format!("/containerLogs/{ns}/{name}/{}", container_of(&pod, name, &q)?)
        }
        "exec" | "attach" => {
            let container = container_of(&pod, name, &q)?;
            if sub == "exec" && q.get("command").is_none() {
                return Err(ApiError::BadRequest("you must specify at least one command for the container".into()));
            }
            format!("/{sub}/{ns}/{name}/{container}")
        }
        "portforward" => format!("/portForward/{ns}/{name}"),
        _ => return Err(ApiError::PathNotFound),
    };
    let node_name = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty());
    let Some(node_name) = node_name else { return Err(ApiError::BadRequest(format!("pod {name} does not have a host assigned"))) };
    let path_and_query = match query.filter(|q| !q.is_empty()) {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    forward(&state, node_name, method, &path_and_query, headers, on_upgrade, sub == "log").await
}

/// `nodes/{name}/proxy/{path}`: any path of the node's kubelet API (`/healthz`, `/pods`, ...).
pub async fn node(
    state: AppState,
    name: &str,
    path: &str,
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Result<Response, ApiError> {
    if !matches!(*method, Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return Err(ApiError::MethodNotAllowed);
    }
    let path_and_query = match query.filter(|q| !q.is_empty()) {
        Some(q) => format!("/{path}?{q}"),
        None => format!("/{path}"),
    };
    forward(&state, name, method, &path_and_query, headers, on_upgrade, false).await
}

/// Sends the request to the kubelet of node `node_name` and answers with what it says.
#[allow(clippy::too_many_arguments)]
async fn forward(
    state: &AppState,
    node_name: &str,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    wrap_errors: bool,
) -> Result<Response, ApiError> {
    let nodes = corekube_api::kinds::find("", "v1", "nodes").ok_or(ApiError::PathNotFound)?;
    let node = store::get(state.store(), &Scope { def: nodes, namespace: None }, node_name).await?;
    let (host, port) = kubelet_address(&node).ok_or_else(|| ApiError::BadRequest(format!("node {node_name} has no address")))?;
    let client = state.kubelet_client().ok_or_else(|| ApiError::ServiceUnavailable("this API server has no kubelet client credentials".into()))?;
    let host = host.as_str();
    let dial_error = |e: String| ApiError::Internal(format!("error dialing backend: {e}"));
    let tcp = tokio::time::timeout(DIAL_TIMEOUT, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| dial_error(format!("dial tcp {host}:{port}: i/o timeout")))?
        .map_err(|e| dial_error(format!("dial tcp {host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let server_name = ServerName::try_from(host.to_string()).map_err(|e| dial_error(e.to_string()))?;
    let tls = tokio_rustls::TlsConnector::from(client.tls.clone()).connect(server_name, tcp).await.map_err(|e| dial_error(format!("tls: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| dial_error(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut out = http::Request::builder().method(method.clone()).uri(path_and_query).header(http::header::HOST, format!("{host}:{port}"));
    for name in PASSED_HEADERS {
        for v in headers.get_all(name) {
            out = out.header(name, v.clone());
        }
    }
    let out = out.body(http_body_util::Empty::<bytes::Bytes>::new()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut resp = sender.send_request(out).await.map_err(|e| dial_error(e.to_string()))?;
    let status = resp.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_side) = on_upgrade else { return Err(ApiError::BadRequest("Upgrade request required".into())) };
        let backend = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            if let (Ok(a), Ok(b)) = (client_side.await, backend.await) {
                let _ = tokio::io::copy_bidirectional_with_sizes(&mut TokioIo::new(a), &mut TokioIo::new(b), SPLICE_BUFFER, SPLICE_BUFFER).await;
            }
        });
        let mut answer = Response::new(Body::empty());
        *answer.status_mut() = status;
        *answer.headers_mut() = resp.headers().clone();
        return Ok(answer);
    }
    if !status.is_success() && wrap_errors {
        let text = read_limited(resp.into_body()).await;
        return Err(ApiError::Backend { code: status.as_u16(), message: text.trim_end().to_string() });
    }
    // A refused upgrade, and anything through nodes/proxy, goes back as the kubelet sent it
    // (kubectl prints the text); a log streams.
    let content_type = resp.headers().get(http::header::CONTENT_TYPE).cloned().unwrap_or(HeaderValue::from_static("text/plain"));
    let mut answer = Response::new(Body::new(resp.into_body()));
    *answer.status_mut() = status;
    answer.headers_mut().insert(http::header::CONTENT_TYPE, content_type);
    Ok(answer)
}

async fn read_limited(mut body: hyper::body::Incoming) -> String {
    let mut text = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            text.extend_from_slice(data);
            if text.len() >= MAX_ERROR_TEXT {
                text.truncate(MAX_ERROR_TEXT);
                break;
            }
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}
