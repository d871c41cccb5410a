//! Who is calling: the user named by a verified client certificate, and the rule that every
//! request but health and version needs one.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use corekube_api::ApiError;

use crate::error::StatusResponse;

/// An authenticated user: CN = name, each O = a group, plus `system:authenticated`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// The identity the TLS layer established for a connection, if any.
#[derive(Clone, Debug, Default)]
pub struct PeerIdentity(pub Option<User>);

impl User {
    pub fn from_certificate(cert_der: &[u8]) -> Option<User> {
        let (name, mut groups) = corekube_pki::subject_of(cert_der).ok()?;
        if name.is_empty() {
            return None;
        }
        groups.push("system:authenticated".to_string());
        Some(User { name, groups })
    }
}

/// Paths anyone may read, as upstream's `system:public-info-viewer` role allows.
fn is_public(path: &str) -> bool {
    path == "/version"
        || ["/healthz", "/livez", "/readyz"].iter().any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// Rejects unauthenticated requests to non-public paths with 401.
pub async fn require_user(req: Request, next: Next) -> Response {
    let authenticated = req.extensions().get::<PeerIdentity>().map(|p| p.0.is_some()).unwrap_or(false);
    if authenticated || is_public(req.uri().path()) {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths() {
        assert!(is_public("/healthz"));
        assert!(is_public("/readyz/etcd"));
        assert!(is_public("/version"));
        assert!(!is_public("/healthzz"));
        assert!(!is_public("/api/v1/pods"));
        assert!(!is_public("/version/x"));
    }
}
