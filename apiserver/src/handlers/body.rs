//! Reading request bodies within upstream's 3 MiB limit.

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use corekube_api::ApiError;
use http_body_util::{BodyExt, Limited};

/// Upstream's MaxRequestBodyBytes.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

fn too_large() -> ApiError {
    ApiError::RequestEntityTooLarge(format!("Request entity too large: limit is {MAX_BODY_BYTES}"))
}

pub async fn read(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(ApiError::BadRequest(format!("error reading request body: {e}"))),
    }
}
