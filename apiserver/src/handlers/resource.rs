//! Resource requests: parse the target, pick the verb from method and path, decode, and call
//! the generic store. Handlers stay thin; semantics live in `crate::store`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use corekube_api::decode::{self, BodyFormat, FieldValidation};
use corekube_api::{meta, patch, ApiError};
use serde_json::Value;

use super::negotiate::{self, Render};
use super::{body, kubelet_proxy, subresource, watch};
use crate::error::StatusResponse;
use crate::managed;
use crate::query::{options_invalid, ListParams, Query, WriteParams};
use crate::request::{self, Target};
use crate::state::AppState;
use crate::store::{self, DeleteParams, Scope};

pub async fn core(State(state): State<AppState>, Path(rest): Path<String>, method: Method, uri: Uri, headers: HeaderMap, req: axum::extract::Request) -> Response {
    let (on_upgrade, body) = split_upgrade(req);
    handle(state, "", "v1", &rest, method, uri, headers, body, on_upgrade).await.unwrap_or_else(StatusResponse::into_response)
}

/// The connection upgrade a request may carry (exec, attach, port-forward), and its body.
fn split_upgrade(mut req: axum::extract::Request) -> (Option<hyper::upgrade::OnUpgrade>, Body) {
    let on_upgrade = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>();
    (on_upgrade, req.into_body())
}

pub async fn grouped(
    State(state): State<AppState>,
    Path((group, version, rest)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    let (on_upgrade, body) = split_upgrade(req);
    handle(state, &group, &version, &rest, method, uri, headers, body, on_upgrade).await.unwrap_or_else(StatusResponse::into_response)
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    state: AppState,
    group: &str,
    version: &str,
    rest: &str,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Result<Response, ApiError> {
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    // `nodes/{name}/proxy/{path...}`: the rest of the path is the kubelet's.
    if let ["nodes", name, "proxy", tail @ ..] = segments.as_slice() {
        if group.is_empty() {
            return kubelet_proxy::node(state, name, &tail.join("/"), &method, uri.query(), &headers, on_upgrade).await;
        }
    }
    let target = request::parse(group, version, &segments)?;
    let q = Query::parse(uri.query());
    let scope = Scope { def: target.def, namespace: target.namespace.clone() };
    if target.def.namespaced && target.namespace.is_none() && target.name.is_some() {
        return Err(ApiError::PathNotFound);
    }
    match (target.subresource.as_deref(), &target.name) {
        (Some("scale"), Some(name)) => return subresource::scale(state, scope, name, &method, &q, &headers, body).await,
        (Some("binding"), Some(name)) if method == Method::POST => return subresource::binding(state, scope, name, &q, &headers, body).await,
        (Some("binding"), _) => return Err(ApiError::MethodNotAllowed),
        (Some(sub @ ("log" | "exec" | "attach" | "portforward")), Some(name)) if target.def.plural == "pods" => {
            return kubelet_proxy::pod(state, scope, name, sub, &method, uri.query(), &headers, on_upgrade).await;
        }
        _ => {}
    }
    let verb_allowed = |verb: &str| if target.def.supports(verb) { Ok(()) } else { Err(ApiError::MethodNotAllowed) };
    match (&method, &target.name) {
        (&Method::GET, Some(name)) => {
            verb_allowed("get")?;
            let render = negotiate::render_for(&headers, &q)?;
            if q.get("resourceVersion") == Some("0") && render == Render::Object && !target.def.is_converted_view() {
                // Any recent state will do: the watch cache's copy, already encoded.
                let (cached, _) = state.cacher(target.def).get(&scope.key(name));
                let obj = cached.ok_or_else(|| scope.not_found(name))?;
                return Ok(json_bytes(StatusCode::OK, obj.json.clone()));
            }
            let obj = store::get(state.store(), &scope, name).await?;
            match render {
                Render::Object => return Ok(json(StatusCode::OK, &obj, &[])),
                Render::Metadata { .. } => return Ok(json(StatusCode::OK, &negotiate::metadata_of_object(target.def, &render, &obj)?, &[])),
                Render::Table { .. } => {}
            }
            let list_meta = serde_json::json!({"resourceVersion": meta::resource_version(&obj).unwrap_or_default()});
            Ok(json(StatusCode::OK, &negotiate::table(target.def, &render, &[obj], list_meta, true), &[]))
        }
        (&Method::GET, None) => {
            let params = ListParams::parse(&q)?;
            let render = negotiate::render_for(&headers, &q)?;
            if params.watch {
                verb_allowed("watch")?;
                return watch::serve(state, scope, params, render).await;
            }
            verb_allowed("list")?;
            let list = store::list(&state, &scope, &params).await?;
            if render == Render::Object {
                return Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], list.into_json_body()).into_response());
            }
            let (items, metadata) = list.into_items();
            if let Render::Metadata { .. } = render {
                return Ok(json(StatusCode::OK, &negotiate::metadata_of_list(target.def, &render, &items, metadata)?, &[]));
            }
            Ok(json(StatusCode::OK, &negotiate::table(target.def, &render, &items, metadata, true), &[]))
        }
        (&Method::POST, None) => {
            verb_allowed("create")?;
            if target.def.namespaced && target.namespace.is_none() {
                return Err(ApiError::MethodNotAllowed);
            }
            let params = WriteParams::parse(&q)?;
            let bytes = body::read(&headers, body).await?;
            let (obj, warnings) = decode_object(&target, &headers, &bytes, params.field_validation)?;
            let manager = manager_of(&params, &headers);
            let created = store::create_json(&state, &scope, obj, params.dry_run, Some(&manager)).await?;
            Ok(json_with_warnings(StatusCode::CREATED, created, &warnings))
        }
        (&Method::PUT, Some(name)) => {
            verb_allowed("update")?;
            let params = WriteParams::parse(&q)?;
            let bytes = body::read(&headers, body).await?;
            let (obj, warnings) = decode_object(&target, &headers, &bytes, params.field_validation)?;
            let manager = manager_of(&params, &headers);
            let updated =
                store::update(&state, &scope, name, target.subresource.as_deref(), params.dry_run, Some(&manager), |_| Ok(obj.clone())).await?;
            Ok(json(StatusCode::OK, &updated, &warnings))
        }
        (&Method::PATCH, Some(name)) => {
            verb_allowed("patch")?;
            let params = WriteParams::parse(&q)?;
            let bytes = body::read(&headers, body).await?;
            let kind = patch_kind(&headers)?;
            let manager = manager_of(&params, &headers);
            if let PatchKind::Apply = kind {
                return server_side_apply(&state, &target, &scope, name, &params, &manager, &bytes).await;
            }
            if params.force {
                return Err(options_invalid("force", "Forbidden: may not be specified for non-apply patch"));
            }
            let warnings = std::sync::Mutex::new(Vec::new());
            let updated = store::update(&state, &scope, name, target.subresource.as_deref(), params.dry_run, Some(&manager), |old| {
                let patched = apply_patch(kind, target.def.group, target.def.kind, old, &bytes)?;
                let (obj, w) = normalize(&target, patched, &[], params.field_validation, None)?;
                *warnings.lock().unwrap() = w;
                Ok(obj)
            })
            .await?;
            let warnings = warnings.into_inner().unwrap();
            Ok(json(StatusCode::OK, &updated, &warnings))
        }
        (&Method::DELETE, Some(name)) => {
            verb_allowed("delete")?;
            let bytes = body::read(&headers, body).await?;
            let params = DeleteParams::parse(&bytes, &q)?;
            Ok(json(StatusCode::OK, &store::delete(&state, &scope, name, &params).await?, &[]))
        }
        (&Method::DELETE, None) => {
            verb_allowed("deletecollection")?;
            let bytes = body::read(&headers, body).await?;
            let params = DeleteParams::parse(&bytes, &q)?;
            let list = ListParams::parse(&q)?;
            Ok(json(StatusCode::OK, &store::delete_collection(&state, &scope, &list, &params).await?, &[]))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// Decodes a create/update body: media type, syntax, kind and apiVersion against the URL,
/// unknown and duplicate fields per fieldValidation, and the typed round trip.
fn decode_object(target: &Target, headers: &HeaderMap, bytes: &Bytes, policy: FieldValidation) -> Result<(Value, Vec<String>), ApiError> {
    let parsed = body::parse(headers, bytes)?;
    let body = parsed.format.map(|f| (bytes.as_ref(), f));
    normalize(target, parsed.value, &parsed.duplicates, policy, body)
}

/// `body` is the request's text, where it had one, to report fields in its order.
fn normalize(
    target: &Target,
    mut obj: Value,
    duplicates: &[String],
    policy: FieldValidation,
    body: Option<(&[u8], BodyFormat)>,
) -> Result<(Value, Vec<String>), ApiError> {
    let def = target.def;
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::BadRequest("the body of the request must be a JSON object".into()));
    };
    // A subresource write of a different kind (none served yet) would check its own kind here.
    let expected_version = def.api_version();
    match map.get("apiVersion").and_then(|v| v.as_str()) {
        None | Some("") => {
            map.insert("apiVersion".into(), expected_version.clone().into());
        }
        Some(v) if v == expected_version => {}
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )))
        }
    }
    match map.get("kind").and_then(|v| v.as_str()) {
        None | Some("") => {
            map.insert("kind".into(), def.kind.into());
        }
        Some(k) if k == def.kind => {}
        Some(k) => {
            return Err(ApiError::BadRequest(format!("the kind in the data ({k}) does not match the expected kind ({})", def.kind)))
        }
    }
    let normalized = (def.codec)(obj).map_err(|e| ApiError::BadRequest(format!("{} in version \"{}\" cannot be handled as a {}: {e}", def.kind, def.version, def.kind)))?;
    let warnings = decode::field_policy(policy, &normalized.unknown, duplicates, body).map_err(|e| match e {
        // Upstream names the kind it could not decode.
        ApiError::BadRequest(m) => ApiError::BadRequest(format!("{} in version \"{}\" cannot be handled as a {}: {m}", def.kind, def.version, def.kind)),
        other => other,
    })?;
    let obj = normalized.value;
    if let (Some(body_ns), Some(url_ns)) = (meta::namespace(&obj), &target.namespace) {
        if body_ns != url_ns {
            return Err(ApiError::BadRequest("the namespace of the provided object does not match the namespace sent on the request".into()));
        }
    }
    Ok((obj, warnings))
}

#[derive(Clone, Copy)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    /// Server-side apply (`application/apply-patch+yaml`).
    Apply,
}

/// The manager a write is recorded for in managedFields.
pub(crate) fn manager_of(params: &WriteParams, headers: &HeaderMap) -> String {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    managed::manager_name(params.field_manager.as_deref(), user_agent)
}

/// Server-side apply: merges the configuration into the live object (or creates it), with
/// conflicts against other managers unless forced.
async fn server_side_apply(
    state: &AppState,
    target: &Target,
    scope: &Scope,
    name: &str,
    params: &WriteParams,
    manager: &str,
    bytes: &[u8],
) -> Result<Response, ApiError> {
    if params.field_manager.is_none() {
        return Err(options_invalid("fieldManager", "Required value: is required for apply patch"));
    }
    let config = decode::parse_body(bytes, decode::BodyFormat::Yaml)?.value;
    if !config.is_object() {
        return Err(ApiError::BadRequest("the body of an apply patch must be an object".into()));
    }
    let sub = target.subresource.as_deref();
    let applied = store::update(state, scope, name, sub, params.dry_run, None, |old| {
        let out = managed::apply(target.def, sub, old, &config, manager, params.force)?;
        Ok(normalize(target, out, &[], params.field_validation, None)?.0)
    })
    .await;
    match applied {
        Ok(updated) => Ok(json(StatusCode::OK, &updated, &[])),
        // Applying to an object that does not exist creates it.
        Err(ApiError::NotFound { .. }) if sub.is_none() => {
            let out = managed::apply(target.def, None, &serde_json::json!({}), &config, manager, params.force)?;
            let (mut obj, warnings) = normalize(target, out, &[], params.field_validation, None)?;
            if meta::name(&obj) != name {
                return Err(ApiError::BadRequest(format!("the name of the object ({}) does not match the name on the URL ({name})", meta::name(&obj))));
            }
            meta::remove(&mut obj, "resourceVersion");
            let created = store::create(state, scope, obj, params.dry_run, None).await?;
            Ok(json(StatusCode::CREATED, &created, &warnings))
        }
        Err(e) => Err(e),
    }
}

pub fn patch_kind(headers: &HeaderMap) -> Result<PatchKind, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    match ct.split(';').next().unwrap_or("").trim() {
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        "application/apply-patch+yaml" => Ok(PatchKind::Apply),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
        ))),
    }
}

/// Applies a patch to the current object. Unless the patch itself sets a resourceVersion, the
/// result carries none, so the update is unconditional and retried on conflicts.
pub fn apply_patch(kind: PatchKind, group: &str, object_kind: &str, old: &Value, patch_bytes: &[u8]) -> Result<Value, ApiError> {
    let (mut patched, sets_rv) = match kind {
        PatchKind::Json => {
            let out = patch::apply_json_patch(old, patch_bytes)?;
            let ops: Vec<Value> = serde_json::from_slice(patch_bytes).unwrap_or_default();
            let sets = ops.iter().any(|op| op.get("path").and_then(|p| p.as_str()) == Some("/metadata/resourceVersion"));
            (out, sets)
        }
        PatchKind::Strategic => {
            let out = patch::strategic::apply(group, object_kind, old, patch_bytes)?;
            let p: Value = serde_json::from_slice(patch_bytes).unwrap_or_default();
            (out, p.pointer("/metadata/resourceVersion").is_some_and(|v| !v.is_null()))
        }
        PatchKind::Merge => {
            let out = patch::apply_merge_patch(old, patch_bytes)?;
            let p: Value = serde_json::from_slice(patch_bytes).unwrap_or_default();
            (out, p.pointer("/metadata/resourceVersion").is_some_and(|v| !v.is_null()))
        }
        // Handled by `server_side_apply` on the resources that support it.
        PatchKind::Apply => {
            return Err(ApiError::UnsupportedMediaType("server-side apply is not supported on this subresource".into()));
        }
    };
    if !sets_rv {
        meta::remove(&mut patched, "resourceVersion");
    }
    Ok(patched)
}

/// A response of already encoded JSON.
pub fn json_bytes(status: StatusCode, bytes: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// A JSON response, with `Warning` headers for anything the request got away with.
pub fn json(status: StatusCode, body: &Value, warnings: &[String]) -> Response {
    json_with_warnings(status, serde_json::to_vec(body).unwrap_or_default(), warnings)
}

/// A response of JSON already serialized, with `Warning` headers as `json`.
fn json_with_warnings(status: StatusCode, bytes: Vec<u8>, warnings: &[String]) -> Response {
    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response();
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}
