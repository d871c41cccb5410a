//! Reading request bodies within upstream's 3 MiB limit, and draining what a handler left
//! unread.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::{Bytes, BytesMut};
use corekube_api::ApiError;
use http_body_util::BodyExt;

/// Upstream's MaxRequestBodyBytes.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How much of an oversized body is read and discarded so the client, still sending, sees the
/// 413 instead of a broken connection; beyond this (or after DRAIN_TIME) the connection closes.
const DRAIN_BYTES: usize = 32 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

fn too_large() -> ApiError {
    ApiError::RequestEntityTooLarge(format!("Request entity too large: limit is {MAX_BODY_BYTES}"))
}

pub async fn read(headers: &HeaderMap, mut body: Body) -> Result<Bytes, ApiError> {
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let mut buf = BytesMut::new();
    let mut over = declared.is_some_and(|n| n > MAX_BODY_BYTES);
    let mut seen = 0usize;
    let drain = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ApiError::BadRequest(format!("error reading request body: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            seen += data.len();
            if seen > MAX_BODY_BYTES {
                over = true;
                buf.clear();
            }
            if over {
                if seen > DRAIN_BYTES {
                    break;
                }
                continue;
            }
            buf.extend_from_slice(&data);
        }
        Ok::<(), ApiError>(())
    };
    match tokio::time::timeout(DRAIN_TIME, drain).await {
        Ok(Ok(())) if !over => Ok(buf.freeze()),
        Ok(Err(e)) if !over => Err(e),
        _ => Err(too_large()),
    }
}

/// Parses a write's body by its Content-Type: JSON, YAML, or Kubernetes protobuf (which
/// kubectl's typed client sends for `create namespace|configmap|secret|deployment ...`).
pub fn parse(headers: &HeaderMap, bytes: &[u8]) -> Result<corekube_api::decode::Parsed, ApiError> {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if media.as_deref() == Some(corekube_protobuf::CONTENT_TYPE) {
        let value = corekube_protobuf::decode_body(bytes).map_err(|e| ApiError::BadRequest(format!("error decoding protobuf body: {e}")))?;
        return Ok(corekube_api::decode::Parsed { value, duplicates: Vec::new(), format: None });
    }
    corekube_api::decode::parse_body(bytes, corekube_api::decode::body_format(content_type)?)
}

/// A request body the handler reads through, while the layer below keeps hold of it: what the
/// handler drops unread is still there to drain.
struct SharedBody(Arc<Mutex<Option<Body>>>);

impl http_body::Body for SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let mut inner = self.0.lock().unwrap();
        match inner.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().unwrap().as_ref().is_none_or(http_body::Body::is_end_stream)
    }
}

/// Middleware: once the handler has answered, reads and discards whatever it left of the
/// request body (up to DRAIN_BYTES, for at most DRAIN_TIME) before the answer is sent. An
/// HTTP/2 client still sending a body the server never read (a POST to an unserved path,
/// refused before its body mattered) otherwise saw its stream reset instead of the answer.
pub async fn drain_unread(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    if http_body::Body::is_end_stream(req.body()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let shared = Arc::new(Mutex::new(Some(body)));
    let response = next.run(axum::extract::Request::from_parts(parts, Body::new(SharedBody(shared.clone())))).await;
    let left = shared.lock().unwrap().take();
    if let Some(mut body) = left.filter(|b| !http_body::Body::is_end_stream(b)) {
        let drain = async {
            let mut seen = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len());
                if seen > DRAIN_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
    }
    response
}
