//! The OpenAPI documents the server publishes: the `/openapi/v3` index, one OpenAPI 3.0 document
//! per served group-version, and one Swagger 2.0 document for everything. All are derived from
//! the registry and from k8s-openapi's schemars schemas; nothing here does IO.
//!
//! Computing a document takes a while (every schema is generated anew), so the server should
//! compute each once and keep the serialized bytes. The hash in the index is of
//! `serde_json::to_vec(&v3_document(key))`, so serve exactly that serialization.
//!
//! kubectl relies on these documents for:
//! * `explain` (v2 explain): the GV document's `paths` give the kind of a resource (through the
//!   operations' `x-kubernetes-group-version-kind`), and the `components.schemas` entry whose
//!   `x-kubernetes-group-version-kind` list holds that kind gives the fields and descriptions.
//! * `--validate=strict`: a PATCH operation with the kind's GVK and a `fieldValidation` query
//!   parameter tells kubectl the server validates fields itself.
//! * client-side apply: the strategic-merge-patch content type on the PATCH operation, and
//!   `x-kubernetes-patch-merge-key`/`x-kubernetes-patch-strategy` on the schemas.

mod extensions;
mod kinds;
mod protobuf;
mod spec;
mod v2;
mod v3;

use serde_json::{json, Map, Value};

/// The `/openapi/v3` keys of every served group-version, in registry order: `api/v1`,
/// `apis/apps/v1`, ...
pub fn v3_paths() -> Vec<String> {
    spec::served_gvs().iter().map(spec::Gv::path_key).collect()
}

/// The /openapi/v3 index: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HASH>"}, ...}}`.
/// HASH is a stable hex digest of the serialized GV document.
pub fn v3_index() -> Value {
    let mut paths = Map::new();
    for key in v3_paths() {
        let doc = v3_document(&key).expect("every served group-version has a document");
        let bytes = serde_json::to_vec(&doc).expect("documents serialize");
        paths.insert(key.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", hash_hex(&bytes))}));
    }
    json!({"paths": paths})
}

/// The OpenAPI 3.0 document for one group-version key (`api/v1`, `apis/apps/v1`), or None if the
/// group-version is not served.
pub fn v3_document(gv_path: &str) -> Option<Value> {
    let key = gv_path.trim_matches('/');
    spec::find_gv(key).map(v3::document)
}

/// The Swagger 2.0 document for every served group-version (paths plus definitions with
/// `#/definitions/` refs), for older clients.
pub fn v2_document() -> Value {
    v2::document()
}

/// Every definition of the served kinds (OpenAPI 3 schema form: `#/components/schemas/` refs,
/// `allOf`-wrapped refs), with the `x-kubernetes-*` extensions and group-version-kind tags the
/// documents carry. Cheaper than [`v2_document`] (no paths); for consumers that need the types,
/// such as server-side apply's type table.
pub fn definitions() -> Map<String, Value> {
    spec::definitions(&spec::served_gvs()).schemas
}

/// The Content-Type to answer `v2_document_protobuf` with. Clients ask for it as
/// `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (or this dotted form);
/// the `@` form must not be echoed back: Go's mime parser rejects it as a Content-Type.
pub const V2_PROTOBUF_CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The Swagger 2.0 document encoded as gnostic's `openapi.v2.Document` protobuf message, which is
/// what kubectl (and client-go's `OpenAPISchema`) request from `/openapi/v2`:
/// `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`. kubectl 1.27 and 1.28
/// fetch it before every validated `create -f`/`apply` and give up if it is missing.
pub fn v2_document_protobuf() -> Vec<u8> {
    protobuf::encode_document(&v2_document())
}

/// A stable digest of a document's bytes (128-bit FNV-1a), as 32 upper-case hex digits.
pub fn hash_hex(bytes: &[u8]) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
    let mut h = OFFSET;
    for b in bytes {
        h ^= u128::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    format!("{h:032X}")
}

#[cfg(test)]
mod tests;
