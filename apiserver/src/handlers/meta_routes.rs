//! Version, health and discovery routes.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use corekube_api::ApiError;

use crate::discovery;
use crate::error::StatusResponse;
use crate::health;
use crate::query::Query;
use crate::state::AppState;

pub async fn version() -> Json<serde_json::Value> {
    Json(crate::version::info())
}

fn endpoint_of(uri: &Uri) -> Option<health::Endpoint> {
    uri.path().trim_start_matches('/').split('/').next().and_then(health::parse_endpoint)
}

pub async fn health_all(State(state): State<AppState>, uri: Uri) -> Response {
    let Some(endpoint) = endpoint_of(&uri) else { return ApiError::PathNotFound.into_response() };
    health::all_checks(&state, endpoint, &Query::parse(uri.query()).0).await
}

pub async fn health_one(State(state): State<AppState>, Path(check): Path<String>, uri: Uri) -> Response {
    let Some(endpoint) = endpoint_of(&uri) else { return ApiError::PathNotFound.into_response() };
    health::one_check(&state, endpoint, &check).await
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// Answers with aggregated discovery if the client asked for it, else the legacy document.
fn negotiated(headers: &HeaderMap, core: bool, legacy: serde_json::Value) -> Response {
    match discovery::aggregated_version(accept(headers)) {
        Some(v) => {
            let body = serde_json::to_vec(&discovery::aggregated(core, v)).unwrap_or_default();
            ([(header::CONTENT_TYPE, discovery::aggregated_content_type(v))], body).into_response()
        }
        None => Json(legacy).into_response(),
    }
}

pub async fn api_root(headers: HeaderMap) -> Response {
    negotiated(&headers, true, discovery::api_versions())
}

pub async fn apis_root(headers: HeaderMap) -> Response {
    negotiated(&headers, false, discovery::api_group_list())
}

pub async fn core_resources() -> Response {
    match discovery::resource_list("", "v1") {
        Some(doc) => Json(doc).into_response(),
        None => ApiError::PathNotFound.into_response(),
    }
}

pub async fn group(Path(group): Path<String>) -> Response {
    match discovery::group(&group) {
        Some(doc) => Json(doc).into_response(),
        None => ApiError::PathNotFound.into_response(),
    }
}

pub async fn group_resources(Path((group, version)): Path<(String, String)>) -> Response {
    match discovery::resource_list(&group, &version) {
        Some(doc) => Json(doc).into_response(),
        None => ApiError::PathNotFound.into_response(),
    }
}

pub async fn not_found() -> Response {
    ApiError::PathNotFound.into_response()
}
