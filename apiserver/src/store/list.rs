//! List with selectors, `limit`/`continue` paging pinned to the first page's revision, and the
//! resourceVersion / resourceVersionMatch rules.

use base64::Engine;
use corekube_api::{ApiError, Cause};
use serde_json::{json, Value};

use super::Scope;
use crate::query::ListParams;
use crate::registry;
use crate::state::AppState;

/// The opaque continue token: the revision the list is pinned to and the last key returned
/// (relative to the collection prefix).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, start: &str) -> String {
    let t = ContinueToken { v: "meta.k8s.io/v1".into(), rv, start: start.to_string() };
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&t).expect("token serializes"))
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    let bad = || ApiError::BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into());
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || t.start.contains("..") {
        return Err(bad());
    }
    Ok(t)
}

fn forbidden(field: &str, detail: &str) -> Cause {
    Cause { reason: "FieldValueForbidden".into(), message: format!("Forbidden: {detail}"), field: field.into() }
}

/// Upstream's ValidateListOptions: answered as 422 Invalid on kind ListOptions.
fn validate(params: &ListParams) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    if let Some(m) = &params.resource_version_match {
        if params.resource_version.is_none() {
            causes.push(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"));
        }
        if params.continue_token.is_some() {
            causes.push(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
        }
        match m.as_str() {
            "Exact" if params.resource_version.as_deref() == Some("0") => {
                causes.push(forbidden("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
            }
            "Exact" | "NotOlderThan" => {}
            other => causes.push(Cause {
                reason: "FieldValueNotSupported".into(),
                message: format!("Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\", \"\""),
                field: "resourceVersionMatch".into(),
            }),
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid { group: "meta.k8s.io".into(), kind: "ListOptions".into(), name: String::new(), causes })
    }
}

/// Checks the field selector names only labels this resource supports.
pub fn check_field_labels(scope: &Scope, params: &ListParams) -> Result<(), ApiError> {
    let probe = json!({});
    for f in params.field.fields() {
        if scope.def.field_value(&probe, f).is_none() {
            return Err(ApiError::BadRequest(format!("field label not supported: {f}")));
        }
    }
    Ok(())
}

/// Whether a stored object passes the request's selectors.
pub fn matches(scope: &Scope, params: &ListParams, obj: &Value) -> bool {
    (params.label.is_empty() || params.label.matches(&corekube_api::meta::labels(obj)))
        && (params.field.is_empty() || params.field.matches(|f| scope.def.field_value(obj, f)))
}

fn parse_rv(rv: &str) -> Result<i64, ApiError> {
    rv.parse::<i64>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))
}

pub async fn list(state: &AppState, scope: &Scope, params: &ListParams) -> Result<Value, ApiError> {
    validate(params)?;
    check_field_labels(scope, params)?;
    if params.continue_token.is_some() && params.resource_version.as_deref().is_some_and(|rv| rv != "0") {
        return Err(ApiError::BadRequest("specifying resource version is not allowed when using continue".into()));
    }
    let prefix = scope.prefix();
    let (items, revision, cont, remaining) = match (&params.continue_token, params.resource_version.as_deref()) {
        (Some(token), _) => {
            let t = decode_continue(token)?;
            let start = format!("{prefix}{}", t.start);
            read_pages(state, scope, params, &prefix, t.rv, Some(start)).await.map_err(|e| expire_continue(scope, e))?
        }
        // "0": any recent state will do, so serve it from the watch cache (unpaged, as upstream).
        (None, Some("0")) => {
            let (objs, rev) = state.cacher(scope.def).snapshot(&prefix);
            let items: Vec<Value> = objs.iter().filter(|o| matches(scope, params, o)).map(|o| (**o).clone()).collect();
            (items, rev, None, None)
        }
        (None, Some(rv)) => {
            let rv = parse_rv(rv)?;
            let exact = params.resource_version_match.as_deref() == Some("Exact");
            if !exact {
                // NotOlderThan: the latest state is never older; refuse only a future revision.
                let current = state.store().current_revision().await.map_err(|e| scope.storage_error("", e))?;
                if rv > current {
                    return Err(ApiError::TooLargeResourceVersion(format!("Too large resource version: {rv}, current: {current}")));
                }
            }
            let at = if exact { rv } else { 0 };
            read_pages(state, scope, params, &prefix, at, None).await.map_err(|e| match e {
                ApiError::Expired { .. } => ApiError::Expired {
                    message: "The resourceVersion for the provided list is too old.".into(),
                    continue_token: None,
                },
                other => other,
            })?
        }
        (None, None) => read_pages(state, scope, params, &prefix, 0, None).await?,
    };
    let served_kind = format!("{}List", scope.def.kind);
    let items: Vec<Value> = items.into_iter().map(|o| registry::to_served(scope.def, o)).collect();
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        metadata["remainingItemCount"] = json!(r);
    }
    Ok(json!({"kind": served_kind, "apiVersion": scope.def.api_version(), "metadata": metadata, "items": items}))
}

/// A continue token whose revision was compacted: 410 with a token that continues at the
/// latest revision instead (an inconsistent continuation, as upstream offers).
fn expire_continue(_scope: &Scope, e: ApiError) -> ApiError {
    match e {
        ApiError::Expired { .. } => ApiError::Expired {
            message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
            continue_token: None,
        },
        other => other,
    }
}

/// Reads pages from etcd at one revision until `limit` objects matched or the range ends.
/// Returns (items, revision, continue token, remaining count).
async fn read_pages(
    state: &AppState,
    scope: &Scope,
    params: &ListParams,
    prefix: &str,
    at: i64,
    start: Option<String>,
) -> Result<(Vec<Value>, i64, Option<String>, Option<i64>), ApiError> {
    let filtering = !params.label.is_empty() || !params.field.is_empty();
    let mut items = Vec::new();
    let mut revision = at;
    // A continue token's start is the last key returned; `start_after` skips it.
    let mut start_after = start;
    let single_name = params.field.required_name().map(String::from);
    if let (Some(name), None) = (&single_name, &start_after) {
        // metadata.name=X within a namespace is a single key read, a common case (kubectl wait, delete).
        if scope.namespace.is_some() || !scope.def.namespaced {
            let page = state.store().list(&scope.key(name), at, None, Some(1)).await.map_err(|e| scope.storage_error("", e))?;
            let items = page.items.into_iter().filter(|o| corekube_api::meta::name(o) == name && matches(scope, params, o)).collect();
            return Ok((items, page.revision, None, None));
        }
    }
    loop {
        let want = params.limit.map(|l| l - items.len() as i64);
        let page = state
            .store()
            .list(prefix, revision, start_after.as_deref(), want)
            .await
            .map_err(|e| scope.storage_error("", e))?;
        revision = page.revision;
        let got = page.items.len();
        items.extend(page.items.into_iter().filter(|o| matches(scope, params, o)));
        let exhausted = page.remaining == 0 || got == 0;
        if exhausted {
            return Ok((items, revision, None, None));
        }
        let last = page.last_key.unwrap_or_default();
        if let Some(limit) = params.limit {
            if items.len() as i64 >= limit {
                let rel = last.strip_prefix(prefix).unwrap_or(&last).to_string();
                let remaining = if filtering { None } else { Some(page.remaining) };
                return Ok((items, revision, Some(encode_continue(revision, &rel)), remaining));
            }
        }
        start_after = Some(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let t = decode_continue(&encode_continue(42, "ns/name")).unwrap();
        assert_eq!((t.rv, t.start.as_str()), (42, "ns/name"));
        assert!(decode_continue("!!").is_err());
        assert!(decode_continue(&base64::engine::general_purpose::STANDARD.encode(b"{}")).is_err());
    }

    #[test]
    fn list_option_rules() {
        let mut p = ListParams { resource_version_match: Some("Exact".into()), ..Default::default() };
        assert_eq!(validate(&p).unwrap_err().code(), 422);
        p.resource_version = Some("0".into());
        assert_eq!(validate(&p).unwrap_err().code(), 422);
        p.resource_version = Some("5".into());
        assert!(validate(&p).is_ok());
        p.resource_version_match = Some("Bogus".into());
        assert!(validate(&p).is_err());
    }
}
