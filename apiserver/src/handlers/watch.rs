//! Watch: a chunked `application/json` stream of `{"type","object"}` lines. Selectors apply
//! with transitions (an object that stops matching is DELETED, one that starts is ADDED),
//! bookmarks only when asked, an in-stream 410 when history is gone, and an end after
//! `timeoutSeconds` or at shutdown.

use std::collections::VecDeque;
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

use super::negotiate::{self, Render};
use crate::query::ListParams;
use crate::strategy;
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
    // Upstream cannot turn one event's object into a list, and sends the object itself.
    let render = if let Render::Metadata { list: true, .. } = render { Render::Object } else { render };
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
    let mut session = Session {
        scope,
        params,
        initial_events_end,
        render,
        columns_sent: false,
        pending: VecDeque::new(),
        pending_bytes: 0,
        initial_left: stream.pending_initial(),
        stream,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        shutdown: state.shutdown().clone(),
        done: false,
    };
    if initial_events_end && session.initial_left == 0 {
        let rev = session.stream.start_revision;
        session.send_bookmark(rev, true);
    }
    // The session is the response body: the connection polls it when it can write, so an event
    // goes from the cache to the socket without another task in between, and a client that
    // goes away drops the body and with it the watch.
    let chunks = futures::stream::unfold(session, |mut s| async move { s.next_chunk().await.map(|c| (Ok::<_, Infallible>(c), s)) });
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(chunks)).into_response())
}

/// The most a watch response chunk carries when events are waiting.
const MAX_CHUNK_BYTES: usize = 256 * 1024;

/// One watch: reads storage events, filters and encodes them into response chunks.
struct Session {
    scope: Scope,
    params: ListParams,
    initial_events_end: bool,
    /// Objects or one-row Tables; column definitions go only in the first Table, as upstream.
    render: Render,
    columns_sent: bool,
    /// Lines of the next chunk. An event's line is shared by every watcher it goes to as is,
    /// so it is not copied per watcher unless several wait to be joined.
    pending: VecDeque<Bytes>,
    /// The length of `pending` in bytes.
    pending_bytes: usize,
    /// Snapshot or replay events still to send before the initial-events-end bookmark.
    initial_left: usize,
    stream: WatchStream,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    shutdown: tokio_util::sync::CancellationToken,
    /// The stream has ended (timeout, shutdown, error or the cache closed it).
    done: bool,
}

impl Session {
    /// The next chunk to write: waits for an event, then takes every event already waiting
    /// (up to MAX_CHUNK_BYTES), so a lagging client gets one chunk. None once the watch is over
    /// and everything is written.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if !self.pending.is_empty() && (self.done || !self.stream.has_ready() || self.pending_bytes >= MAX_CHUNK_BYTES) {
                return Some(self.take_chunk());
            }
            if self.done {
                return None;
            }
            let next = tokio::select! {
                _ = &mut self.deadline => None,
                _ = self.shutdown.cancelled() => None,
                n = self.stream.next() => n,
            };
            match next {
                None => self.done = true,
                Some(Ok(event)) => self.send_event(&event),
                Some(Err(StorageError::Compacted { requested, compacted })) => {
                    let err = ApiError::Expired { message: format!("too old resource version: {requested} ({compacted})"), continue_token: None };
                    self.send_line("ERROR", err.status_json());
                    self.done = true;
                }
                Some(Err(e)) => {
                    self.send_line("ERROR", ApiError::Internal(e.to_string()).status_json());
                    self.done = true;
                }
            }
            if !self.done && self.initial_left > 0 {
                self.initial_left -= 1;
                if self.initial_left == 0 && self.initial_events_end {
                    let rev = self.stream.start_revision;
                    self.send_bookmark(rev, true);
                }
            }
        }
    }

    /// One waiting line is written as it is (shared with the other watchers); several are
    /// joined into one chunk.
    fn take_chunk(&mut self) -> Bytes {
        let bytes = std::mem::take(&mut self.pending_bytes);
        if self.pending.len() == 1 {
            return self.pending.pop_front().unwrap_or_default();
        }
        let mut chunk = Vec::with_capacity(bytes);
        for line in self.pending.drain(..) {
            chunk.extend_from_slice(&line);
        }
        Bytes::from(chunk)
    }

    /// Sends what a storage event means for this watcher; false once the client is gone.
    fn send_event(&mut self, event: &Arc<Event>) {
        let now = |o: &CachedObject| matches_cached(&self.scope, &self.params, o);
        // The watch type for this watcher, and whether it is the event's own type (then the
        // line is the one every watcher shares).
        let (kind, own) = match event.kind {
            EventType::Bookmark => {
                if self.params.allow_bookmarks {
                    self.send_bookmark(event.revision, false);
                }
                return;
            }
            EventType::Added if now(&event.object) => ("ADDED", true),
            EventType::Added => return,
            EventType::Modified => {
                let was = event.prev.as_deref().map(now).unwrap_or(false);
                match (was, now(&event.object)) {
                    (true, true) => ("MODIFIED", true),
                    (false, true) => ("ADDED", false),
                    (true, false) => ("DELETED", false),
                    (false, false) => return,
                }
            }
            EventType::Deleted => {
                let was = event.prev.as_deref().map(now).unwrap_or_else(|| now(&event.object));
                if !was {
                    return;
                }
                ("DELETED", true)
            }
        };
        let object = &event.object;
        if self.render == Render::Object && !self.scope.def.is_converted_view() {
            let line = if own { event.encoded.get_or_init(|| encoded_line(kind, &object.json)).clone() } else { encoded_line(kind, &object.json) };
            return self.push(line);
        }
        let served = strategy::to_served(self.scope.def, object.value());
        match self.render {
            Render::Object => return self.send_line(kind, served),
            Render::Metadata { version, .. } => return self.send_line(kind, negotiate::partial_object(version, &served)),
            Render::Table { .. } => {}
        }
        let first = !std::mem::replace(&mut self.columns_sent, true);
        let rv = corekube_api::meta::resource_version(&served).unwrap_or_default().to_string();
        let table = negotiate::table(self.scope.def, &self.render, &[served], json!({"resourceVersion": rv}), first);
        self.send_line(kind, table)
    }

    fn send_bookmark(&mut self, revision: i64, initial_events_end: bool) {
        let mut metadata = json!({"resourceVersion": revision.to_string(), "creationTimestamp": null});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = match self.render {
            Render::Metadata { version, .. } => json!({"kind": "PartialObjectMetadata", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": metadata}),
            _ => json!({"kind": self.scope.def.kind, "apiVersion": self.scope.def.api_version(), "metadata": metadata}),
        };
        self.send_line("BOOKMARK", object)
    }

    fn send_line(&mut self, kind: &str, object: Value) {
        let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        self.push(Bytes::from(line));
    }

    fn push(&mut self, line: Bytes) {
        self.pending_bytes += line.len();
        self.pending.push_back(line);
    }
}

/// `{"type":KIND,"object":OBJECT}` and a newline, from an object already encoded as the cache
/// holds it.
fn encoded_line(kind: &str, object_json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object_json.len() + kind.len() + 24);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object_json);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}
