//! The router: one documented layer stack in front of discovery, health, version and the
//! resource handlers.
//!
//! Layers, outermost first: draining what a handler left of the request body (so every
//! request is answered) -> authentication (401 unless the path is public) -> routes.

mod body;
mod meta_routes;
mod negotiate;
pub(crate) mod openapi;
mod resource;
mod subresource;
pub mod kubelet_proxy;
mod watch;

use axum::routing::{any, get};
use axum::{middleware, Router};

use crate::authn;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/version", get(meta_routes::version))
        .route("/healthz", get(meta_routes::health_all))
        .route("/livez", get(meta_routes::health_all))
        .route("/readyz", get(meta_routes::health_all))
        .route("/healthz/{*check}", get(meta_routes::health_one))
        .route("/livez/{*check}", get(meta_routes::health_one))
        .route("/readyz/{*check}", get(meta_routes::health_one))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::v3_index))
        .route("/openapi/v3/{*gv}", get(openapi::v3_document))
        .route("/api", get(meta_routes::api_root))
        .route("/apis", get(meta_routes::apis_root))
        .route("/api/v1", get(meta_routes::core_resources))
        .route("/apis/{group}", get(meta_routes::group))
        .route("/apis/{group}/{version}", get(meta_routes::group_resources))
        .route("/api/v1/{*rest}", any(resource::core))
        .route("/apis/{group}/{version}/{*rest}", any(resource::grouped))
        .fallback(meta_routes::not_found)
        .layer(middleware::from_fn(authn::require_user))
        .layer(middleware::from_fn(body::drain_unread))
        .with_state(state)
}
