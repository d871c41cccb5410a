//! Reading request bodies within upstream's 3 MiB limit.

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
        return Ok(corekube_api::decode::Parsed { value, duplicates: Vec::new() });
    }
    corekube_api::decode::parse_body(bytes, corekube_api::decode::body_format(content_type)?)
}
