//! The HTTP/2 transport under the etcd client: one connection to etcd, used directly from the
//! task that makes the call.
//!
//! tonic's own channel puts three task hand-offs between a caller and the socket: a tower
//! buffer worker, hyper's connection dispatcher, and a task spawned per request to stream the
//! request body, which then goes out as separate HEADERS, DATA and end-of-stream writes. A
//! write to etcd is one small unary message, so here the caller encodes the HTTP/2 frames
//! itself (h2 queues them and wakes the connection task once) and awaits the response on its
//! own task. Only streaming calls (watches) get a task that forwards their request messages.
//!
//! The connection is opened on first use, to the first endpoint that accepts it. When it
//! fails (etcd restarted, or a keepalive ping unanswered) the calls on it fail, and the next
//! call opens a new one, trying the endpoints in turn from the one after the failed one.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response, Uri};
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use tonic::body::Body;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long opening a connection to one endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The connection is pinged this often, and closed if the answer takes longer than
/// KEEPALIVE_TIMEOUT, so a peer that stopped answering is noticed without a request hanging.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Flow-control windows, as hyper's HTTP/2 client (and so tonic's channel) sets them: h2's
/// 64 KiB default would cost a round trip per window of a large list.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// etcd's gRPC methods whose request is a stream of messages rather than one.
fn is_streaming(path: &str) -> bool {
    matches!(path, "/etcdserverpb.Watch/Watch" | "/etcdserverpb.Lease/LeaseKeepAlive")
}

/// What a call sends after its headers.
enum Outgoing {
    /// A unary call's one encoded message, sent with the headers.
    Message(Bytes),
    /// A streaming call's messages, forwarded by a task as the caller produces them.
    Stream(Body),
}

/// A `tower::Service` carrying tonic's gRPC requests to etcd. Cloning shares the connection.
#[derive(Clone)]
pub struct EtcdTransport {
    shared: Arc<Shared>,
}

struct Shared {
    /// `host:port` of each endpoint.
    endpoints: Vec<Authority>,
    /// The endpoint the next connection tries first.
    next_endpoint: AtomicUsize,
    current: Mutex<Option<Connection>>,
    /// Serializes connecting, so that callers arriving together share one new connection.
    connecting: tokio::sync::Mutex<()>,
    generations: AtomicU64,
}

#[derive(Clone)]
struct Connection {
    send: h2::client::SendRequest<Bytes>,
    authority: Authority,
    generation: u64,
}

impl EtcdTransport {
    /// A transport to the given etcd client URLs (`http://host:port`; `host:port` also works).
    /// Nothing is connected until the first call.
    pub fn new(urls: &[String]) -> Result<EtcdTransport, String> {
        let mut endpoints = Vec::new();
        for url in urls {
            let rest = if let Some(rest) = url.strip_prefix("http://") {
                rest
            } else if url.starts_with("https://") {
                return Err(format!("{url}: TLS connections to etcd are not supported; use an http:// client URL on a trusted network"));
            } else {
                url.as_str()
            };
            let host_port = rest.trim_end_matches('/');
            match host_port.parse::<Authority>() {
                Ok(authority) if !host_port.is_empty() && !host_port.contains('/') => endpoints.push(authority),
                _ => return Err(format!("{url}: not an etcd client URL of the form http://host:port")),
            }
        }
        if endpoints.is_empty() {
            return Err("no etcd endpoints given".into());
        }
        Ok(EtcdTransport {
            shared: Arc::new(Shared {
                endpoints,
                next_endpoint: AtomicUsize::new(0),
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                generations: AtomicU64::new(0),
            }),
        })
    }

    async fn send(self, req: Request<Body>) -> Result<Response<Body>, BoxError> {
        let (mut parts, body) = req.into_parts();
        let streaming = is_streaming(parts.uri.path());
        // A unary request's one message is already encoded: collecting it does not wait.
        let outgoing = if streaming { Outgoing::Stream(body) } else { Outgoing::Message(body.collect().await?.to_bytes()) };
        let path = parts.uri.path_and_query().cloned().ok_or("gRPC request without a path")?;

        // A connection that failed before the request went out is replaced once: etcd has not
        // seen the request, so sending it again is safe.
        let mut retried = false;
        let (response, mut stream) = loop {
            let conn = self.shared.connection().await?;
            parts.uri = Uri::builder().scheme("http").authority(conn.authority.clone()).path_and_query(path.clone()).build()?;
            let request = Request::from_parts(parts.clone(), ());
            let sent = match conn.send.clone().ready().await {
                Ok(mut send) => send.send_request(request, false),
                Err(e) => Err(e),
            };
            match sent {
                Ok(sent) => break sent,
                Err(e) => {
                    self.shared.forget(conn.generation);
                    if retried {
                        return Err(e.into());
                    }
                    retried = true;
                }
            }
        };
        match outgoing {
            Outgoing::Message(message) => stream.send_data(message, true)?,
            Outgoing::Stream(body) => {
                tokio::spawn(forward_stream(body, stream));
            }
        }
        let response = response.await?;
        Ok(response.map(|recv| Body::new(ResponseBody { recv, data_done: false })))
    }
}

impl Shared {
    /// The open connection, or a new one.
    async fn connection(&self) -> Result<Connection, BoxError> {
        if let Some(c) = self.current.lock().unwrap().clone() {
            return Ok(c);
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(c) = self.current.lock().unwrap().clone() {
            return Ok(c);
        }
        let first = self.next_endpoint.load(Ordering::Relaxed);
        let mut last_error = String::new();
        for i in 0..self.endpoints.len() {
            let index = (first + i) % self.endpoints.len();
            let endpoint = &self.endpoints[index];
            match self.open(endpoint).await {
                Ok(conn) => {
                    self.next_endpoint.store(index, Ordering::Relaxed);
                    *self.current.lock().unwrap() = Some(conn.clone());
                    return Ok(conn);
                }
                Err(e) => last_error = format!("{endpoint}: {e}"),
            }
        }
        self.next_endpoint.store((first + 1) % self.endpoints.len(), Ordering::Relaxed);
        Err(format!("cannot connect to etcd: {last_error}").into())
    }

    async fn open(&self, endpoint: &Authority) -> Result<Connection, BoxError> {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(endpoint.as_str()))
            .await
            .map_err(|_| format!("no connection within {CONNECT_TIMEOUT:?}"))??;
        tcp.set_nodelay(true)?;
        let (send, mut connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake::<_, Bytes>(tcp)
            .await?;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let mut ping = connection.ping_pong().ok_or("HTTP/2 ping already taken")?;
        let authority = endpoint.clone();
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let keepalive = async {
                loop {
                    tokio::time::sleep(KEEPALIVE_INTERVAL).await;
                    match tokio::time::timeout(KEEPALIVE_TIMEOUT, ping.ping(h2::Ping::opaque())).await {
                        Ok(Ok(_)) => {}
                        _ => return,
                    }
                }
            };
            // Dropping the connection fails every call still on it.
            tokio::select! {
                r = &mut connection => if let Err(e) = r {
                    tracing::debug!(%endpoint, error = %e, "etcd connection ended");
                },
                _ = keepalive => tracing::warn!(%endpoint, "etcd did not answer a keepalive ping; closing the connection"),
            }
        });
        Ok(Connection { send, authority, generation })
    }

    /// Drops connection `generation` if it is still the current one, so the next call opens a
    /// new connection.
    fn forget(&self, generation: u64) {
        let mut current = self.current.lock().unwrap();
        if current.as_ref().is_some_and(|c| c.generation == generation) {
            *current = None;
            drop(current);
            let n = self.endpoints.len();
            let _ = self.next_endpoint.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |i| Some((i + 1) % n));
        }
    }
}

/// Sends a streaming call's request messages as they come, until the caller ends them or the
/// stream is reset.
async fn forward_stream(mut body: Body, mut stream: h2::SendStream<Bytes>) {
    loop {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = std::future::poll_fn(|cx| stream.poll_reset(cx)) => return,
        };
        match frame {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if stream.send_data(data, false).is_err() {
                        return;
                    }
                }
            }
            Some(Err(_)) => {
                stream.send_reset(h2::Reason::CANCEL);
                return;
            }
            None => {
                let _ = stream.send_data(Bytes::new(), true);
                return;
            }
        }
    }
}

/// An h2 response stream as the body tonic decodes: data frames (their flow-control capacity
/// returned as they are handed on), then the trailers with the gRPC status.
struct ResponseBody {
    recv: h2::RecvStream,
    data_done: bool,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match self.recv.poll_data(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => self.data_done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        match self.recv.poll_trailers(cx) {
            Poll::Ready(Ok(Some(trailers))) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

impl tower::Service<Request<Body>> for EtcdTransport {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        Box::pin(self.clone().send(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_host_and_port() {
        let t = EtcdTransport::new(&["http://127.0.0.1:2379".into(), "localhost:2379/".into()]).unwrap();
        assert_eq!(t.shared.endpoints, ["127.0.0.1:2379", "localhost:2379"]);
        let refusal = |url: &str| EtcdTransport::new(&[url.to_string()]).err().expect("refused");
        assert!(refusal("https://127.0.0.1:2379").contains("TLS"), "{}", refusal("https://127.0.0.1:2379"));
        assert!(refusal("http://127.0.0.1:2379/v3").contains("http://host:port"));
        assert!(EtcdTransport::new(&[]).is_err());
    }
}
