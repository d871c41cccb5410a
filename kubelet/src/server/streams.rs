//! `/exec`, `/attach` and `/portForward`: connection upgrades carried to the runtime's
//! streaming server (containerd's, on loopback, at the URL its CRI Exec/Attach/PortForward
//! calls return), the way upstream's kubelet proxies to it.
//!
//! Three client shapes arrive, by kubectl version:
//! - SPDY/3.1 (exec before 1.30, port-forward before 1.31, and the fallback of later ones):
//!   the runtime speaks it too, so the upgrade is passed through and the two connections are
//!   spliced byte for byte.
//! - WebSocket `v5.channel.k8s.io`/`v4.channel.k8s.io` (exec and attach from 1.30): translated
//!   to a SPDY session with the runtime, one stream per channel (`corekube_stream`), since the
//!   runtime's server predates v5 and only SPDY carries a half-close of stdin.
//! - WebSocket `SPDY/3.1+portforward.k8s.io` (port-forward from 1.31): SPDY frames inside
//!   WebSocket messages; unwrapped to a byte stream and spliced to a SPDY upgrade with the
//!   runtime.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, UPGRADE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::{empty, full, instances, is_running, Body};
use crate::{cri, labels, Shared};

const STREAM_PROTOCOL_VERSION: &str = "x-stream-protocol-version";
/// The SPDY protocol of remote commands the runtime's server speaks and we ask it for.
const REMOTE_COMMAND_V4: &str = "v4.channel.k8s.io";
const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";
/// The WebSocket subprotocol of a SPDY port-forward tunnelled in WebSocket (kubectl 1.31+).
const PORT_FORWARD_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";

/// The buffer each direction of a spliced connection copies through: tokio's default (8 KiB)
/// makes a small TLS record and a syscall per 8 KiB, and a 100 MiB port-forward spent half its
/// CPU here.
const SPLICE_BUFFER: usize = 64 * 1024;
enum Upgrade {
    Spdy,
    WebSocket,
}

fn upgrade_of(req: &Request<Incoming>) -> Option<Upgrade> {
    let value = req.headers().get(UPGRADE)?.to_str().ok()?.to_ascii_lowercase();
    if value.starts_with("spdy/") {
        Some(Upgrade::Spdy)
    } else if value == "websocket" {
        Some(Upgrade::WebSocket)
    } else {
        None
    }
}

/// The WebSocket subprotocols a client offers, in its order.
fn offered_subprotocols(req: &Request<Incoming>) -> Vec<String> {
    req.headers().get_all(SEC_WEBSOCKET_PROTOCOL).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

/// The 101 answer to a WebSocket handshake choosing `protocol`.
fn websocket_accept(req: &Request<Incoming>, protocol: &str) -> Result<Response<Body>, Response<Body>> {
    let key = req.headers().get(SEC_WEBSOCKET_KEY).ok_or_else(|| full(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key"))?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut r = empty(StatusCode::SWITCHING_PROTOCOLS);
    let h = r.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::from_str(&accept).expect("base64 is a header value"));
    h.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(protocol).expect("a known protocol name"));
    Ok(r)
}

/// The client's upgraded connection as a server-side WebSocket.
async fn client_websocket(on_upgrade: hyper::upgrade::OnUpgrade) -> Option<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>> {
    let upgraded = on_upgrade.await.ok()?;
    Some(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await)
}

/// Opens a SPDY upgrade with the runtime's streaming server at `url`, offering `versions`.
/// Returns the runtime's 101 response (its upgrade still to be taken), or, when it refused,
/// the response to give the client.
async fn dial_runtime(url: &str, versions: &[HeaderValue]) -> Result<Response<Incoming>, Response<Body>> {
    let bad_gateway = |e: String| full(StatusCode::INTERNAL_SERVER_ERROR, format!("error dialing the container runtime's streaming server: {e}"));
    let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| bad_gateway(e.to_string()))?;
    let authority = uri.authority().map(|a| a.to_string()).ok_or_else(|| bad_gateway(format!("no host in {url}")))?;
    let tcp = tokio::net::TcpStream::connect(&authority).await.map_err(|e| bad_gateway(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(|e| bad_gateway(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut out = Request::post(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(HOST, authority)
        .header(CONNECTION, "Upgrade")
        .header(UPGRADE, "SPDY/3.1");
    for v in versions {
        out = out.header(STREAM_PROTOCOL_VERSION, v.clone());
    }
    let out = out.body(Empty::<Bytes>::new()).map_err(|e| bad_gateway(e.to_string()))?;
    let resp = sender.send_request(out).await.map_err(|e| bad_gateway(e.to_string()))?;
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        return Ok(resp);
    }
    // The runtime's own refusal (a bad protocol, an exec that cannot start) goes to the client.
    let status = resp.status();
    let text = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    Err(full(status, text))
}

/// Passes a SPDY client's upgrade through to the runtime and splices the two connections.
async fn pass_through(mut req: Request<Incoming>, url: &str) -> Response<Body> {
    let versions: Vec<HeaderValue> = req.headers().get_all(STREAM_PROTOCOL_VERSION).iter().cloned().collect();
    let mut runtime = match dial_runtime(url, &versions).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let mut r = empty(StatusCode::SWITCHING_PROTOCOLS);
    r.headers_mut().insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    r.headers_mut().insert(UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    if let Some(chosen) = runtime.headers().get(STREAM_PROTOCOL_VERSION) {
        r.headers_mut().insert(STREAM_PROTOCOL_VERSION, chosen.clone());
    }
    let (client, backend) = (hyper::upgrade::on(&mut req), hyper::upgrade::on(&mut runtime));
    tokio::spawn(async move {
        if let (Ok(client), Ok(backend)) = (client.await, backend.await) {
            let _ = tokio::io::copy_bidirectional_with_sizes(&mut TokioIo::new(client), &mut TokioIo::new(backend), SPLICE_BUFFER, SPLICE_BUFFER).await;
        }
    });
    r
}

fn flag(query: &str, name: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == name && matches!(v.as_ref(), "true" | "1" | "True"))
}

/// `/exec/{ns}/{pod}/{container}?command=…&stdin=…&stdout=…&stderr=…&tty=…` and `/attach`.
pub(crate) async fn exec(shared: &Arc<Shared>, req: Request<Incoming>, ns: &str, pod: &str, container: &str, attach: bool) -> Response<Body> {
    let query = req.uri().query().unwrap_or_default().to_string();
    let tty = flag(&query, "tty");
    let opts = corekube_stream::remotecommand::Options {
        stdin: flag(&query, "stdin"),
        stdout: flag(&query, "stdout"),
        // A terminal has one output: upstream drops stderr when both are asked for.
        stderr: flag(&query, "stderr") && !tty,
        tty,
    };
    let command: Vec<String> = form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == "command").map(|(_, v)| v.into_owned()).collect();
    if !opts.stdin && !opts.stdout && !opts.stderr {
        return full(StatusCode::BAD_REQUEST, "you must specify at least 1 of stdin, stdout, stderr");
    }
    if !attach && command.is_empty() {
        return full(StatusCode::BAD_REQUEST, "you must specify at least one command for the container");
    }
    let Some(upgrade) = upgrade_of(&req) else { return full(StatusCode::BAD_REQUEST, "Upgrade request required") };
    let running = match instances(shared, ns, pod, container).await {
        Ok(found) => found.into_iter().find(is_running),
        Err(e) => return full(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let Some(target) = running else { return full(StatusCode::NOT_FOUND, format!("container not found (\"{container}\")")) };
    let url = if attach {
        let req = cri::AttachRequest { container_id: target.id, stdin: opts.stdin, tty: opts.tty, stdout: opts.stdout, stderr: opts.stderr };
        shared.cri.attach_url(req).await
    } else {
        let req = cri::ExecRequest { container_id: target.id, cmd: command, tty: opts.tty, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr };
        shared.cri.exec_url(req).await
    };
    let url = match url {
        Ok(u) => u,
        Err(e) => return full(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match upgrade {
        Upgrade::Spdy => pass_through(req, &url).await,
        Upgrade::WebSocket => {
            let offered = offered_subprotocols(&req).join(",");
            let Some(protocol) = corekube_stream::remotecommand::choose_protocol(&offered) else {
                return full(StatusCode::BAD_REQUEST, format!("none of the offered WebSocket subprotocols is supported ({offered}); v5.channel.k8s.io and v4.channel.k8s.io are"));
            };
            let (session, _) = match corekube_stream::spdy::dial(&url, &[REMOTE_COMMAND_V4]).await {
                Ok(s) => s,
                Err(e) => return full(StatusCode::INTERNAL_SERVER_ERROR, format!("error dialing the container runtime's streaming server: {e}")),
            };
            let response = match websocket_accept(&req, protocol.name()) {
                Ok(r) => r,
                Err(bad) => return bad,
            };
            let on_upgrade = hyper::upgrade::on(req);
            tokio::spawn(async move {
                let Some(ws) = client_websocket(on_upgrade).await else {
                    session.close().await;
                    return;
                };
                if let Err(e) = corekube_stream::remotecommand::serve_websocket(ws, protocol, session, opts).await {
                    tracing::debug!(error = %e, "exec session ended with an error");
                }
            });
            response
        }
    }
}

/// `/portForward/{ns}/{pod}`: the pod's sandbox network, ports named in the streams' headers.
pub(crate) async fn port_forward(shared: &Arc<Shared>, req: Request<Incoming>, ns: &str, pod: &str) -> Response<Body> {
    let Some(upgrade) = upgrade_of(&req) else { return full(StatusCode::BAD_REQUEST, "Upgrade request required") };
    let mut labels = std::collections::HashMap::from([(labels::POD_NAMESPACE.to_string(), ns.to_string()), (labels::POD_NAME.to_string(), pod.to_string())]);
    if let Some(uid) = shared.pod_uid(ns, pod) {
        labels.insert(labels::POD_UID.to_string(), uid);
    }
    let sandbox = match shared.cri.sandboxes_labelled(labels).await {
        Ok(found) => found.into_iter().filter(|s| s.state == cri::PodSandboxState::SandboxReady as i32).max_by_key(|s| s.created_at),
        Err(e) => return full(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let Some(sandbox) = sandbox else { return full(StatusCode::NOT_FOUND, format!("pod not found (\"{pod}_{ns}\")")) };
    let url = match shared.cri.port_forward_url(&sandbox.id).await {
        Ok(u) => u,
        Err(e) => return full(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match upgrade {
        Upgrade::Spdy => pass_through(req, &url).await,
        Upgrade::WebSocket => {
            if !offered_subprotocols(&req).iter().any(|p| p == PORT_FORWARD_TUNNEL) {
                return full(StatusCode::BAD_REQUEST, format!("port-forward over WebSocket needs the {PORT_FORWARD_TUNNEL} subprotocol"));
            }
            let mut runtime = match dial_runtime(&url, &[HeaderValue::from_static(PORT_FORWARD_PROTOCOL)]).await {
                Ok(r) => r,
                Err(refused) => return refused,
            };
            let response = match websocket_accept(&req, PORT_FORWARD_TUNNEL) {
                Ok(r) => r,
                Err(bad) => return bad,
            };
            let (on_upgrade, backend) = (hyper::upgrade::on(req), hyper::upgrade::on(&mut runtime));
            tokio::spawn(async move {
                let (Some(ws), Ok(backend)) = (client_websocket(on_upgrade).await, backend.await) else { return };
                let mut tunnel = corekube_stream::tunnel::websocket_bytes(ws);
                let _ = tokio::io::copy_bidirectional_with_sizes(&mut tunnel, &mut TokioIo::new(backend), SPLICE_BUFFER, SPLICE_BUFFER).await;
            });
            response
        }
    }
}
