//! `/openapi/v2` and `/openapi/v3`: the documents kubectl validates and explains with, built
//! once on first use from the registry and k8s-openapi's schemas, then served from memory.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use corekube_api::ApiError;

use crate::error::StatusResponse;

struct Documents {
    index: Bytes,
    /// Serialized v3 document per group-version key ("api/v1", "apis/apps/v1").
    v3: HashMap<String, Bytes>,
    v2_json: Bytes,
    v2_protobuf: Bytes,
}

fn documents() -> &'static Documents {
    static DOCS: OnceLock<Documents> = OnceLock::new();
    DOCS.get_or_init(|| {
        // Building goes through about 11 MB of short-lived JSON trees for 2.9 MB of documents.
        // Built where they are kept, the documents end up scattered over allocator pages that
        // then cannot be given back: the idle server stayed about 23 MiB larger after its first
        // OpenAPI request. Built on a thread that then ends, and copied out, they sit together,
        // and the build's memory goes back to the OS (about 8 MiB larger instead).
        let built = std::thread::Builder::new().name("openapi-build".into()).spawn(build).ok().and_then(|b| b.join().ok());
        built.map(|b| b.copied()).unwrap_or_else(build)
    })
}

fn build() -> Documents {
    let v3 = corekube_openapi::v3_paths()
        .into_iter()
        .filter_map(|key| corekube_openapi::v3_document(&key).map(|d| (key, Bytes::from(serde_json::to_vec(&d).unwrap_or_default()))))
        .collect();
    Documents {
        index: Bytes::from(serde_json::to_vec(&corekube_openapi::v3_index()).unwrap_or_default()),
        v3,
        v2_json: Bytes::from(serde_json::to_vec(&corekube_openapi::v2_document()).unwrap_or_default()),
        v2_protobuf: Bytes::from(corekube_openapi::v2_document_protobuf()),
    }
}

impl Documents {
    /// The same documents in fresh allocations of the calling thread.
    fn copied(&self) -> Documents {
        let copy = |b: &Bytes| Bytes::copy_from_slice(b);
        Documents {
            index: copy(&self.index),
            v3: self.v3.iter().map(|(k, v)| (k.clone(), copy(v))).collect(),
            v2_json: copy(&self.v2_json),
            v2_protobuf: copy(&self.v2_protobuf),
        }
    }
}

/// The documents, generated on first use off the async workers (a fraction of a second).
async fn docs() -> &'static Documents {
    match tokio::task::spawn_blocking(documents).await {
        Ok(d) => d,
        Err(_) => documents(),
    }
}

pub async fn v3_index() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], docs().await.index.clone()).into_response()
}

pub async fn v3_document(Path(gv): Path<String>, uri: Uri) -> Response {
    let key = gv.trim_start_matches('/').to_string();
    match docs().await.v3.get(&key) {
        Some(body) => {
            // A hashed URL names exactly this content, so clients may cache it for good.
            let cache = if uri.query().is_some_and(|q| q.contains("hash=")) { "public, immutable" } else { "no-cache, private" };
            ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, cache)], body.clone()).into_response()
        }
        None => ApiError::PathNotFound.into_response(),
    }
}

/// kubectl 1.27 and 1.28 ask for the protobuf form before validating.
pub async fn v2(headers: HeaderMap) -> Response {
    let wants_protobuf = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("protobuf"));
    let d = docs().await;
    if wants_protobuf {
        ([(header::CONTENT_TYPE, corekube_openapi::V2_PROTOBUF_CONTENT_TYPE)], d.v2_protobuf.clone()).into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], d.v2_json.clone()).into_response()
    }
}
