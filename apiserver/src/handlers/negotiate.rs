//! What form a read answers in: the object itself, a `meta.k8s.io` Table when the client asks
//! for one (kubectl's `get` always does, with JSON as the fallback), or only the objects'
//! metadata (`PartialObjectMetadata`, what metadata-only informers and garbage collectors ask for).

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
    /// `as=PartialObjectMetadata` (`list` false) or `as=PartialObjectMetadataList` (`list` true).
    Metadata {
        /// `v1` or `v1beta1`, as the client asked.
        version: &'static str,
        list: bool,
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
        let meta_version = if !has("g=meta.k8s.io") {
            None
        } else if has("v=v1") {
            Some("v1")
        } else if has("v=v1beta1") {
            Some("v1beta1")
        } else {
            None
        };
        let table_version = meta_version.filter(|_| has("as=Table"));
        if let (true, Some(version)) = (media == "application/json", meta_version) {
            if has("as=PartialObjectMetadata") || has("as=PartialObjectMetadataList") {
                return Ok(Render::Metadata { version, list: has("as=PartialObjectMetadataList") });
            }
        }
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
        "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io (got {accept:?})"
    )))
}

/// The Go type upstream names in its 406 for a metadata form that does not fit the request,
/// e.g. `*core.PodList`.
fn internal_type(def: &ResourceDef, list: bool) -> String {
    let group = def.group.split('.').next().filter(|g| !g.is_empty()).unwrap_or("core");
    format!("*{group}.{}{}", def.kind, if list { "List" } else { "" })
}

/// One object as a PartialObjectMetadata: its whole metadata, under `meta.k8s.io`'s type.
pub fn partial_object(version: &str, obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A single object asked for in metadata form; a request for a list form gets upstream's 406.
pub fn metadata_of_object(def: &ResourceDef, render: &Render, obj: &Value) -> Result<Value, ApiError> {
    match render {
        Render::Metadata { version, list: false } => Ok(partial_object(version, obj)),
        _ => Err(ApiError::NotAcceptable(format!(
            "you requested PartialObjectMetadataList, but the requested object is not a list ({})",
            internal_type(def, false)
        ))),
    }
}

/// A list asked for in metadata form (a PartialObjectMetadataList keeping the list's
/// metadata); a request for the single-object form gets upstream's 406.
pub fn metadata_of_list(def: &ResourceDef, render: &Render, items: &[Value], list_meta: Value) -> Result<Value, ApiError> {
    match render {
        Render::Metadata { version, list: true } => Ok(json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": format!("meta.k8s.io/{version}"),
            "metadata": list_meta,
            "items": items.iter().map(|o| partial_object(version, o)).collect::<Vec<_>>(),
        })),
        _ => Err(ApiError::NotAcceptable(format!(
            "you requested PartialObjectMetadata, but the requested object is a list ({})",
            internal_type(def, true)
        ))),
    }
}

/// Renders objects as a Table for `def`, copying the list metadata into it.
pub fn table(def: &ResourceDef, render: &Render, objects: &[Value], list_meta: Value, with_columns: bool) -> Value {
    let Render::Table { version, include } = render else { unreachable!("table() called for an object rendering") };
    let mut t = corekube_api::table::table_with(def.behaviour.printer(), objects, include, with_columns, list_meta, jiff::Timestamp::now());
    t["apiVersion"] = json!(format!("meta.k8s.io/{version}"));
    t
}

/// Renders objects of a kind that is not a served resource's own (a subresource's) as a Table.
pub fn table_of_kind(group: &str, kind: &str, render: &Render, objects: &[Value], list_meta: Value, with_columns: bool) -> Value {
    let Render::Table { version, include } = render else { unreachable!("table() called for an object rendering") };
    let mut t = corekube_api::table::table(group, kind, objects, include, with_columns, list_meta, jiff::Timestamp::now());
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

    #[test]
    fn metadata_only_forms_are_negotiated_in_both_versions() {
        let q = Query::default();
        let one = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
        assert_eq!(render_for(&accept(one), &q).unwrap(), Render::Metadata { version: "v1", list: false });
        let list = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1,application/json";
        assert_eq!(render_for(&accept(list), &q).unwrap(), Render::Metadata { version: "v1beta1", list: true });
        assert_eq!(render_for(&accept("application/json;as=PartialObjectMetadata;g=apps;v=v1"), &q).unwrap_err().code(), 406);
        let def = corekube_api::kinds::find("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {}});
        let partial = metadata_of_object(def, &Render::Metadata { version: "v1", list: false }, &pod).unwrap();
        assert_eq!(partial, json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "p", "labels": {"a": "b"}}}));
        let err = metadata_of_list(def, &Render::Metadata { version: "v1", list: false }, &[pod], json!({})).unwrap_err();
        assert!(err.to_string().contains("is a list (*core.PodList)") || format!("{err:?}").contains("*core.PodList"), "{err:?}");
    }
}
