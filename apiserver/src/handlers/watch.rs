//! Watch: a chunked `application/json` stream of `{"type","object"}` lines. Selectors apply
//! with transitions (an object that stops matching is DELETED, one that starts is ADDED),
//! bookmarks only when asked, an in-stream 410 when history is gone, and an end after
//! `timeoutSeconds` or at shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use corekube_api::{ApiError, Cause};
use corekube_storage::{CachedObject, Event, EventType, StorageError, WatchStart, WatchStream};
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::negotiate::{self, Render};
use crate::query::ListParams;
use crate::registry;
use crate::state::AppState;
use crate::store::{list::check_field_labels, list::matches_cached, Scope};

/// How long a fresh watch waits for the cache to reach etcd's current revision.
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

fn invalid_watch(detail: &str) -> ApiError {
    ApiError::Invalid {
        group: "meta.k8s.io".into(),
        kind: "ListOptions".into(),
        name: String::new(),
        causes: vec![Cause { reason: "FieldValueForbidden".into(), message: format!("Forbidden: {detail}"), field: "sendInitialEvents".into() }],
    }
}

pub async fn serve(state: AppState, scope: Scope, params: ListParams, render: Render) -> Result<Response, ApiError> {
    check_field_labels(&scope, &params)?;
    let initial_events_end = params.send_initial_events == Some(true);
    if initial_events_end {
        if !params.allow_bookmarks {
            return Err(invalid_watch("sendInitialEvents requires setting allowWatchBookmarks to true"));
        }
        if params.resource_version_match.as_deref() != Some("NotOlderThan") {
            return Err(invalid_watch("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
        }
    }
    let cacher = state.cacher(scope.def).clone();
    let start = match params.resource_version.as_deref() {
        None => {
            // "Most recent": let the cache catch up with etcd before taking its snapshot.
            let current = state.store().current_revision().await.map_err(|e| scope.storage_error("", e))?;
            cacher.wait_for_revision(current, FRESHNESS_WAIT).await;
            WatchStart::Snapshot
        }
        Some("0") => WatchStart::Snapshot,
        Some(rv) if initial_events_end => {
            let rv: i64 = rv.parse().map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?;
            cacher.wait_for_revision(rv, FRESHNESS_WAIT).await;
            WatchStart::Snapshot
        }
        Some(rv) => WatchStart::After(rv.parse().map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?),
    };
    let stream = cacher.watch(&scope.prefix(), start).await.map_err(|e| scope.storage_error("", e))?;
    // Upstream ends watches without a timeout after a random 30-60 minutes so clients rebalance.
    let timeout = params.timeout_seconds.map(Duration::from_secs).unwrap_or_else(|| Duration::from_secs(rand::rng().random_range(1800..3600)));
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let session = Session { scope, params, tx, initial_events_end, render, columns_sent: std::sync::atomic::AtomicBool::new(false), pending: Default::default() };
    tokio::spawn(session.run(stream, timeout, state.shutdown().clone()));
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(ReceiverStream::new(rx))).into_response())
}

/// The most a watch response chunk carries when events are waiting.
const MAX_CHUNK_BYTES: usize = 256 * 1024;

/// One watch connection: reads storage events, filters and encodes them.
struct Session {
    scope: Scope,
    params: ListParams,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    initial_events_end: bool,
    /// Objects or one-row Tables; column definitions go only in the first Table, as upstream.
    render: Render,
    columns_sent: std::sync::atomic::AtomicBool,
    /// Lines not yet handed to the response: events already waiting are written as one chunk.
    pending: std::sync::Mutex<Vec<u8>>,
}

impl Session {
    async fn run(self, mut stream: WatchStream, timeout: Duration, shutdown: tokio_util::sync::CancellationToken) {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut initial_left = stream.pending_initial();
        let snapshot_rev = stream.start_revision;
        if self.initial_events_end && initial_left == 0 && !(self.send_bookmark(snapshot_rev, true).await && self.flush().await) {
            return;
        }
        loop {
            let next = tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.cancelled() => return,
                _ = self.tx.closed() => return,
                n = stream.next() => n,
            };
            let keep_going = match next {
                None => false,
                Some(Ok(event)) => self.send_event(&event).await,
                Some(Err(StorageError::Compacted { requested, compacted })) => {
                    let err = ApiError::Expired { message: format!("too old resource version: {requested} ({compacted})"), continue_token: None };
                    self.send_line("ERROR", err.status_json()).await;
                    false
                }
                Some(Err(e)) => {
                    let err = ApiError::Internal(e.to_string());
                    self.send_line("ERROR", err.status_json()).await;
                    false
                }
            };
            if !keep_going {
                self.flush().await;
                return;
            }
            if initial_left > 0 {
                initial_left -= 1;
                if initial_left == 0 && self.initial_events_end && !self.send_bookmark(snapshot_rev, true).await {
                    return;
                }
            }
            // Write once nothing else is waiting, so a lagging client gets one chunk.
            if !stream.has_ready() && !self.flush().await {
                return;
            }
        }
    }

    /// Sends what a storage event means for this watcher; false once the client is gone.
    async fn send_event(&self, event: &Arc<Event>) -> bool {
        let now = |o: &CachedObject| matches_cached(&self.scope, &self.params, o);
        let (kind, object) = match event.kind {
            EventType::Bookmark => {
                if !self.params.allow_bookmarks {
                    return true;
                }
                return self.send_bookmark(event.revision, false).await;
            }
            EventType::Added if now(&event.object) => ("ADDED", &event.object),
            EventType::Added => return true,
            EventType::Modified => {
                let was = event.prev.as_deref().map(now).unwrap_or(false);
                match (was, now(&event.object)) {
                    (true, true) => ("MODIFIED", &event.object),
                    (false, true) => ("ADDED", &event.object),
                    (true, false) => ("DELETED", &event.object),
                    (false, false) => return true,
                }
            }
            EventType::Deleted => {
                let was = event.prev.as_deref().map(now).unwrap_or_else(|| now(&event.object));
                if !was {
                    return true;
                }
                ("DELETED", &event.object)
            }
        };
        if self.render == Render::Object && !self.scope.def.is_converted_view() {
            return self.send_encoded(kind, &object.json).await;
        }
        let served = registry::to_served(self.scope.def, object.value());
        if self.render == Render::Object {
            return self.send_line(kind, served).await;
        }
        let first = !self.columns_sent.swap(true, std::sync::atomic::Ordering::Relaxed);
        let rv = corekube_api::meta::resource_version(&served).unwrap_or_default().to_string();
        let table = negotiate::table(self.scope.def, &self.render, &[served], json!({"resourceVersion": rv}), first);
        self.send_line(kind, table).await
    }

    async fn send_bookmark(&self, revision: i64, initial_events_end: bool) -> bool {
        let mut metadata = json!({"resourceVersion": revision.to_string(), "creationTimestamp": null});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.scope.def.kind, "apiVersion": self.scope.def.api_version(), "metadata": metadata});
        self.send_line("BOOKMARK", object).await
    }

    /// Queues an event whose object is already encoded, as the cache holds it.
    async fn send_encoded(&self, kind: &str, object_json: &[u8]) -> bool {
        let full = {
            let mut out = self.pending.lock().unwrap();
            out.extend_from_slice(b"{\"type\":\"");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b"\",\"object\":");
            out.extend_from_slice(object_json);
            out.extend_from_slice(b"}\n");
            out.len() >= MAX_CHUNK_BYTES
        };
        !full || self.flush().await
    }

    async fn send_line(&self, kind: &str, object: Value) -> bool {
        let line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        let full = {
            let mut out = self.pending.lock().unwrap();
            out.extend_from_slice(&line);
            out.push(b'\n');
            out.len() >= MAX_CHUNK_BYTES
        };
        !full || self.flush().await
    }

    /// Hands the queued lines to the response; false once the client is gone.
    async fn flush(&self) -> bool {
        let chunk = std::mem::take(&mut *self.pending.lock().unwrap());
        chunk.is_empty() || self.tx.send(Ok(Bytes::from(chunk))).await.is_ok()
    }
}
