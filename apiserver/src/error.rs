//! The one place an `ApiError` becomes an HTTP response: its `metav1.Status` as JSON with the
//! status code upstream uses, and `Retry-After` when the status says how long to wait. (The
//! error and its Status live in `corekube_api`, which knows nothing of HTTP servers.)

use axum::body::Body;
use axum::response::Response;
use corekube_api::error::status_value;
use corekube_api::ApiError;
use http::{header, HeaderValue, StatusCode};

/// Converts a failure into the response a client sees.
pub trait StatusResponse {
    fn into_response(self) -> Response;
}

impl StatusResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&status_value(&status)).unwrap_or_default();
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // Clients (client-go, kube-rs) wait and retry when told how long to wait.
        if let Some(secs) = status.details.as_ref().and_then(|d| d.retry_after_seconds) {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
