//! List with selectors, `limit`/`continue` paging pinned to the first page's revision, and the
//! resourceVersion / resourceVersionMatch rules.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use corekube_api::{ApiError, Cause, ResourceDef};
use corekube_storage::{labels_of, Attrs, AttrsFn, CachedObject};
use serde_json::{json, Value};

use super::Scope;
use crate::query::ListParams;
use crate::strategy;
use crate::state::AppState;

/// How long a consistent list waits for the watch cache before reading etcd instead.
const CONSISTENT_READ_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

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

/// The selector attributes the watch cache keeps for a stored resource: labels, name,
/// namespace and the resource's field labels.
pub fn selector_attrs(def: &'static ResourceDef) -> AttrsFn {
    Arc::new(move |obj: &Value| {
        let labels = ["metadata.name", "metadata.namespace"].into_iter().chain(def.field_labels.iter().map(|f| f.label));
        Attrs { labels: labels_of(obj), fields: labels.map(|l| (l, def.field_value(obj, l).unwrap_or_default().into())).collect() }
    })
}

/// Whether a cached object passes the request's selectors, read from the attributes taken
/// when it was cached. Views converted from another stored kind check the converted object.
pub fn matches_cached(scope: &Scope, params: &ListParams, obj: &CachedObject) -> bool {
    if params.label.is_empty() && params.field.is_empty() {
        return true;
    }
    if scope.def.is_converted_view() {
        return matches(scope, params, &obj.value());
    }
    let fields_known = params.field.fields().iter().all(|f| obj.attrs.field(f).is_some());
    if !fields_known {
        return matches(scope, params, &obj.value());
    }
    (params.label.is_empty() || params.label.matches(&obj.attrs.labels))
        && (params.field.is_empty() || params.field.matches(|f| obj.attrs.field(f).map(String::from)))
}

/// A list's items: read and parsed from etcd (served form), or shared from the watch cache
/// (stored form, already encoded).
pub enum ListItems {
    Parsed(Vec<Value>),
    Cached(Vec<Arc<CachedObject>>),
}

/// A list answer before rendering.
pub struct ListOutput {
    pub def: &'static ResourceDef,
    pub metadata: Value,
    pub items: ListItems,
}

impl ListOutput {
    /// The items in served form, parsed (for tables).
    pub fn into_items(self) -> (Vec<Value>, Value) {
        let items = match self.items {
            ListItems::Parsed(v) => v,
            ListItems::Cached(c) => c.iter().map(|o| strategy::to_served(self.def, o.value())).collect(),
        };
        (items, self.metadata)
    }

    /// The list as a JSON response body. Items from the cache are not copied into one buffer
    /// (a list of thousands of pods is tens of megabytes): the body hands out each item's
    /// encoded bytes in turn, with the exact length known up front.
    pub fn into_json_body(self) -> axum::body::Body {
        let mut head = self.head_json();
        let items = match self.items {
            ListItems::Cached(items) if !self.def.is_converted_view() => items,
            other => return axum::body::Body::from(ListOutput { def: self.def, metadata: self.metadata, items: other }.to_json()),
        };
        head.extend_from_slice(b",\"items\":[");
        let length = head.len() + items.iter().map(|o| o.json.len()).sum::<usize>() + items.len().saturating_sub(1) + 2;
        axum::body::Body::new(CachedListBody { head: Some(Bytes::from(head)), items: items.into_iter(), first: true, separator_due: None, remaining: length as u64 })
    }

    /// `{"kind":...,"apiVersion":...,"metadata":...` without the closing brace.
    fn head_json(&self) -> Vec<u8> {
        let head = json!({"kind": format!("{}List", self.def.kind), "apiVersion": self.def.api_version(), "metadata": self.metadata});
        let mut out = serde_json::to_vec(&head).expect("a JSON value always serializes");
        out.pop();
        out
    }

    /// The list as JSON. Cached items are copied as encoded, not re-serialized.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = self.head_json();
        out.extend_from_slice(b",\"items\":[");
        let mut first = true;
        let mut push = |out: &mut Vec<u8>, bytes: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(bytes);
        };
        match &self.items {
            ListItems::Parsed(items) => {
                for item in items {
                    push(&mut out, &serde_json::to_vec(item).expect("a JSON value always serializes"));
                }
            }
            ListItems::Cached(items) if self.def.is_converted_view() => {
                for item in items {
                    push(&mut out, &serde_json::to_vec(&strategy::to_served(self.def, item.value())).expect("serializes"));
                }
            }
            ListItems::Cached(items) => {
                let size: usize = items.iter().map(|o| o.json.len() + 1).sum();
                out.reserve(size + 2);
                for item in items {
                    push(&mut out, &item.json);
                }
            }
        }
        out.extend_from_slice(b"]}");
        out
    }
}

fn parse_rv(rv: &str) -> Result<i64, ApiError> {
    rv.parse::<i64>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))
}

pub async fn list(state: &AppState, scope: &Scope, params: &ListParams) -> Result<ListOutput, ApiError> {
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
            // A negative revision is the inconsistent continuation offered with a 410: go on
            // from the same key at the latest revision.
            read_pages(state, scope, params, &prefix, t.rv.max(0), Some(start)).await.map_err(|e| expire_continue(&t, e))?
        }
        // "0": any recent state will do, so serve it from the watch cache (unpaged, as upstream).
        (None, Some("0")) => return Ok(from_cache(state, scope, params, &prefix)),
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
        (None, None) if params.limit.is_none() => {
            // A consistent read without paging is served from the watch cache once it has
            // caught up with etcd's current revision, as upstream's ConsistentListFromCache
            // does; etcd answers if the cache cannot catch up in time.
            let current = state.store().current_revision().await.map_err(|e| scope.storage_error("", e))?;
            let cacher = state.cacher(scope.def);
            if cacher.wait_for_revision(current, CONSISTENT_READ_WAIT).await {
                return Ok(from_cache(state, scope, params, &prefix));
            }
            read_pages(state, scope, params, &prefix, 0, None).await?
        }
        (None, None) => read_pages(state, scope, params, &prefix, 0, None).await?,
    };
    let items: Vec<Value> = items.into_iter().map(|o| strategy::to_served(scope.def, o)).collect();
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        metadata["remainingItemCount"] = json!(r);
    }
    Ok(ListOutput { def: scope.def, metadata, items: ListItems::Parsed(items) })
}

/// The matching objects under `prefix` as the watch cache has them, at its revision.
fn from_cache(state: &AppState, scope: &Scope, params: &ListParams, prefix: &str) -> ListOutput {
    let (mut objs, rev) = state.cacher(scope.def).snapshot(prefix);
    objs.retain(|o| matches_cached(scope, params, o));
    ListOutput { def: scope.def, metadata: json!({"resourceVersion": rev.to_string()}), items: ListItems::Cached(objs) }
}

/// A continue token whose revision was compacted: 410 with a token in `metadata.continue`
/// that goes on from the same key at the latest revision instead (an inconsistent
/// continuation, as upstream offers: revision -1).
fn expire_continue(token: &ContinueToken, e: ApiError) -> ApiError {
    match e {
        ApiError::Expired { .. } => ApiError::Expired {
            message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
            continue_token: Some(encode_continue(-1, &token.start)),
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

/// The body of a list served from the cache: the head, then each item's cached bytes (with a
/// comma before all but the first), then `]}`.
struct CachedListBody {
    head: Option<Bytes>,
    items: std::vec::IntoIter<Arc<CachedObject>>,
    first: bool,
    /// An item whose separating comma was just sent.
    separator_due: Option<Arc<CachedObject>>,
    remaining: u64,
}

impl http_body::Body for CachedListBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let chunk = if let Some(head) = self.head.take() {
            head
        } else if let Some(item) = self.separator_due.take() {
            item.json.clone()
        } else if let Some(item) = self.items.next() {
            if std::mem::replace(&mut self.first, false) {
                item.json.clone()
            } else {
                self.separator_due = Some(item);
                Bytes::from_static(b",")
            }
        } else if self.remaining > 0 {
            Bytes::from_static(b"]}")
        } else {
            return std::task::Poll::Ready(None);
        };
        self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cached_list_body_is_the_list_json_with_its_exact_length() {
        use http_body_util::BodyExt;
        let def = corekube_api::kinds::find("", "v1", "configmaps").unwrap();
        let attrs = corekube_storage::labels_only();
        for n in [0, 1, 3] {
            let items: Vec<Arc<CachedObject>> = (0..n).map(|i| CachedObject::new(&json!({"metadata": {"name": format!("c{i}")}, "data": {"k": "v"}}), 7, &attrs)).collect();
            let list = || ListOutput { def, metadata: json!({"resourceVersion": "7"}), items: ListItems::Cached(items.clone()) };
            let expected = list().to_json();
            let body = list().into_json_body();
            assert_eq!(http_body::Body::size_hint(&body).exact(), Some(expected.len() as u64));
            let got = body.collect().await.unwrap().to_bytes();
            assert_eq!(got.as_ref(), expected.as_slice(), "{n} items");
            let parsed: Value = serde_json::from_slice(&got).unwrap();
            assert_eq!(parsed["items"].as_array().unwrap().len(), n);
        }
    }

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
