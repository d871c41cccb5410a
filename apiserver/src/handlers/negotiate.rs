//! What form a read answers in: the object itself, or a `meta.k8s.io` Table when the client
//! asks for one (kubectl's `get` always does, with JSON as the fallback).

use axum::http::{header, HeaderMap};
use corekube_api::{ApiError, ResourceDef};
use serde_json::{json, Value};

use crate::query::Query;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Render {
    Object,
    Table {
        /// `v1` or `v1beta1`, as the client asked.
        version: &'static str,
        /// `includeObject`: None, Metadata (the default) or Object.
        include: String,
    },
}

/// Picks the rendering from Accept, in the client's order of preference. A client that accepts
/// only forms this server cannot produce gets 406.
pub fn render_for(headers: &HeaderMap, q: &Query) -> Result<Render, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return Ok(Render::Object) };
    for part in accept.split(',') {
        let params: Vec<String> = part.split(';').map(|p| p.trim().replace(' ', "")).collect();
        let media = params.first().map(String::as_str).unwrap_or("");
        let has = |p: &str| params.iter().any(|x| x == p);
        let table_version = if has("as=Table") && has("g=meta.k8s.io") {
            if has("v=v1") {
                Some("v1")
            } else if has("v=v1beta1") {
                Some("v1beta1")
            } else {
                None
            }
        } else {
            None
        };
        match (media, table_version) {
            ("application/json", Some(version)) => {
                let include = q.get("includeObject").unwrap_or("Metadata").to_string();
                if !matches!(include.as_str(), "None" | "Metadata" | "Object") {
                    return Err(ApiError::BadRequest(format!("includeObject: unsupported value {include:?}")));
                }
                return Ok(Render::Table { version, include });
            }
            ("application/json" | "application/*" | "*/*" | "application/vnd.kubernetes.protobuf", None)
                if !params.iter().any(|p| p.starts_with("as=")) =>
            {
                return Ok(Render::Object);
            }
            _ => {}
        }
    }
    Err(ApiError::NotAcceptable(format!(
        "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io (got {accept:?})"
    )))
}

/// Renders objects as a Table for `def`, copying the list metadata into it.
pub fn table(def: &ResourceDef, render: &Render, objects: &[Value], list_meta: Value, with_columns: bool) -> Value {
    let Render::Table { version, include } = render else { unreachable!("table() called for an object rendering") };
    let mut t = corekube_api::table::table(def.group, def.kind, objects, include, with_columns, list_meta, jiff::Timestamp::now());
    t["apiVersion"] = json!(format!("meta.k8s.io/{version}"));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn kubectl_get_asks_for_a_table_first() {
        let q = Query::default();
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(render_for(&accept(kubectl), &q).unwrap(), Render::Table { version: "v1", include: "Metadata".into() });
        assert_eq!(render_for(&accept("application/json"), &q).unwrap(), Render::Object);
        assert_eq!(render_for(&HeaderMap::new(), &q).unwrap(), Render::Object);
        assert_eq!(render_for(&accept("application/json, */*"), &q).unwrap(), Render::Object);
        assert_eq!(render_for(&accept("application/yaml;as=Table;v=v1;g=meta.k8s.io"), &q).unwrap_err().code(), 406);
        let with_object = Query::parse(Some("includeObject=Object"));
        assert_eq!(render_for(&accept(kubectl), &with_object).unwrap(), Render::Table { version: "v1", include: "Object".into() });
    }
}
