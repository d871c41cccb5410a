//! One etcd watch per resource, fanned out to every watcher of that resource.
//!
//! The cacher lists the resource once, then follows a single etcd watch (with previous values,
//! so deletions carry the object's last state). It keeps the current objects, a ring of recent
//! events, and the revision it has seen up to. A watcher from a revision inside the ring is
//! served from memory; a watcher from an older revision gets its own etcd watch over history
//! (410 once compacted). A watcher whose buffer fills is closed, never skipped past.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use etcd_client::{EventType as EtcdEventType, GetOptions, WatchOptions, WatchResponse};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::cached::{labels_only, AttrsFn, CachedObject};
use crate::store::with_resource_version;
use crate::{EtcdStore, StorageError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
    /// No change: the watcher has seen everything up to `revision`.
    Bookmark,
}

/// A change to one object, shared by every watcher that receives it.
#[derive(Debug)]
pub struct Event {
    pub kind: EventType,
    pub key: String,
    /// The new state; for Deleted, the last state with resourceVersion = the deletion revision.
    pub object: Arc<CachedObject>,
    /// The state before this change (None for Added and Bookmark).
    pub prev: Option<Arc<CachedObject>>,
    pub revision: i64,
    /// The API server's wire form of this event as its own kind, built by the first watcher
    /// that sends it and shared by the others (a thousand watchers, one encoding).
    pub encoded: OnceLock<Bytes>,
}

impl Event {
    /// An event not yet encoded for any watcher.
    pub fn new(kind: EventType, key: String, object: Arc<CachedObject>, prev: Option<Arc<CachedObject>>, revision: i64) -> Event {
        Event { kind, key, object, prev, revision, encoded: OnceLock::new() }
    }
}

/// Where a watch begins.
#[derive(Clone, Copy, Debug)]
pub enum WatchStart {
    /// Synthetic Added events for the current objects, then every later change.
    Snapshot,
    /// Every change after this revision, none skipped.
    After(i64),
}

/// The events of one watch: first those already known, then live ones. `next` returns None
/// when the watch was closed (buffer overflow, resync, or shutdown); the client re-watches.
pub struct WatchStream {
    /// The revision the watch starts from: a snapshot's revision, or the requested one.
    pub start_revision: i64,
    initial: VecDeque<Arc<Event>>,
    live: mpsc::Receiver<Result<Arc<Event>, StorageError>>,
    /// The history watch's pump task, if this watch reads etcd directly.
    pump: Option<tokio::task::JoinHandle<()>>,
    /// The cacher's permit for that history watch, given back as soon as the stream is dropped.
    _history_permit: Option<OwnedSemaphorePermit>,
}

impl WatchStream {
    /// How many already-known events (a snapshot or a replay) are still to be read.
    pub fn pending_initial(&self) -> usize {
        self.initial.len()
    }

    /// Whether `next` would return at once: a batching reader keeps reading while this holds.
    pub fn has_ready(&self) -> bool {
        !self.initial.is_empty() || !self.live.is_empty()
    }

    pub async fn next(&mut self) -> Option<Result<Arc<Event>, StorageError>> {
        if let Some(e) = self.initial.pop_front() {
            return Some(Ok(e));
        }
        self.live.recv().await
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        if let Some(p) = self.pump.take() {
            p.abort();
        }
    }
}

struct Slot {
    prefix: String,
    /// Only events after this revision are sent (the ring already replayed the rest).
    after: i64,
    tx: mpsc::Sender<Result<Arc<Event>, StorageError>>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Arc<CachedObject>>,
    /// Recent events in revision order; every event after `window_start` is here.
    ring: VecDeque<Arc<Event>>,
    window_start: i64,
    /// Everything up to this revision has been applied.
    last_rev: i64,
    synced: bool,
    slots: Vec<Slot>,
}

/// The shared watch and cache of one resource.
#[derive(Clone)]
pub struct Cacher {
    resource: String,
    prefix: String,
    store: EtcdStore,
    state: Arc<Mutex<State>>,
    /// Publishes `last_rev` so readers can wait for freshness.
    rev: watch::Receiver<i64>,
    /// Asks the watch loop to request a progress notification from etcd.
    progress: mpsc::Sender<()>,
    ring_capacity: usize,
    watcher_buffer: usize,
    attrs: AttrsFn,
    /// One permit per watch served from etcd's history (each is its own etcd watch and task).
    history_watches: Arc<Semaphore>,
}

/// How long a watch waits for the cacher's initial list.
const SYNC_WAIT: Duration = Duration::from_secs(10);

/// Tuning for a cacher; the defaults suit a single-node control plane.
#[derive(Clone)]
pub struct CacherConfig {
    pub ring_capacity: usize,
    pub watcher_buffer: usize,
    /// How often etcd is asked for a progress notification, which becomes a bookmark.
    pub progress_interval: Duration,
    /// What selectors read from each object (labels, the resource's field labels).
    pub attrs: AttrsFn,
    /// How many watches from before the cache's window may read etcd's history at once; a
    /// further one gets upstream's 410 "too old resource version" and relists.
    pub max_history_watches: usize,
}

impl Default for CacherConfig {
    fn default() -> Self {
        CacherConfig {
            ring_capacity: 4096,
            watcher_buffer: 1024,
            progress_interval: Duration::from_secs(10),
            attrs: labels_only(),
            max_history_watches: 32,
        }
    }
}

impl Cacher {
    /// Starts following `resource` (the key segment under /registry) until `cancel` fires.
    pub fn start(store: EtcdStore, resource: &str, config: CacherConfig, cancel: CancellationToken) -> Cacher {
        let (rev_tx, rev_rx) = watch::channel(0);
        let (progress_tx, progress_rx) = mpsc::channel(8);
        let cacher = Cacher {
            resource: resource.to_string(),
            prefix: crate::collection_prefix(resource, None),
            store,
            state: Arc::new(Mutex::new(State::default())),
            rev: rev_rx,
            progress: progress_tx,
            ring_capacity: config.ring_capacity,
            watcher_buffer: config.watcher_buffer,
            attrs: config.attrs.clone(),
            history_watches: Arc::new(Semaphore::new(config.max_history_watches)),
        };
        let runner = cacher.clone();
        tokio::spawn(async move { runner.run(rev_tx, progress_rx, config.progress_interval, cancel).await });
        cacher
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Whether the initial list has been loaded.
    pub fn is_synced(&self) -> bool {
        self.state.lock().unwrap().synced
    }

    /// Waits (bounded) until the cache has seen `revision`. Returns whether it got there.
    pub async fn wait_for_revision(&self, revision: i64, timeout: Duration) -> bool {
        let mut rx = self.rev.clone();
        if *rx.borrow() >= revision {
            return true;
        }
        let _ = self.progress.try_send(());
        tokio::time::timeout(timeout, rx.wait_for(|r| *r >= revision)).await.map(|r| r.is_ok()).unwrap_or(false)
    }

    /// The objects under `prefix` as the cache has them, with the revision they are current at.
    pub fn snapshot(&self, prefix: &str) -> (Vec<Arc<CachedObject>>, i64) {
        let st = self.state.lock().unwrap();
        let items = st.objects.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.clone()).collect();
        (items, st.last_rev)
    }

    /// One object by key as the cache has it, with the revision the cache is current at.
    pub fn get(&self, key: &str) -> (Option<Arc<CachedObject>>, i64) {
        let st = self.state.lock().unwrap();
        (st.objects.get(key).cloned(), st.last_rev)
    }

    /// Forgets events etcd no longer has after a compaction to `compacted`, so a watch from
    /// before it gets 410 here just as it would from etcd.
    pub fn forget_before(&self, compacted: i64) {
        let mut st = self.state.lock().unwrap();
        let window_start = st.window_start.max(compacted - 1);
        while st.ring.front().is_some_and(|e| e.revision <= window_start) {
            st.ring.pop_front();
        }
        st.window_start = window_start;
    }

    /// Opens a watch on the keys under `prefix`.
    pub async fn watch(&self, prefix: &str, start: WatchStart) -> Result<WatchStream, StorageError> {
        // A snapshot or replay before the initial list would be empty, then cut off by it.
        if !self.is_synced() {
            let mut rx = self.rev.clone();
            let synced = tokio::time::timeout(SYNC_WAIT, rx.wait_for(|r| *r > 0)).await.map(|r| r.is_ok()).unwrap_or(false);
            if !synced {
                return Err(StorageError::Unavailable(format!("the watch cache of {} is not ready", self.resource)));
            }
        }
        let (tx, rx) = mpsc::channel(self.watcher_buffer);
        let mut st = self.state.lock().unwrap();
        match start {
            WatchStart::Snapshot => {
                let initial = st
                    .objects
                    .range(prefix.to_string()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| {
                        Arc::new(Event::new(EventType::Added, k.clone(), v.clone(), None, v.revision))
                    })
                    .collect();
                let after = st.last_rev;
                st.slots.push(Slot { prefix: prefix.to_string(), after, tx });
                Ok(WatchStream { start_revision: after, initial, live: rx, pump: None, _history_permit: None })
            }
            WatchStart::After(rev) if st.synced && rev >= st.window_start => {
                let initial = st.ring.iter().filter(|e| e.revision > rev && e.key.starts_with(prefix)).cloned().collect();
                let after = rev.max(st.last_rev);
                st.slots.push(Slot { prefix: prefix.to_string(), after, tx });
                Ok(WatchStream { start_revision: rev, initial, live: rx, pump: None, _history_permit: None })
            }
            WatchStart::After(rev) => {
                let oldest_cached = st.window_start;
                drop(st);
                let Ok(permit) = self.history_watches.clone().try_acquire_owned() else {
                    // As upstream's cacher answers every watch from before its window: an
                    // ERROR event in the stream, and the client relists.
                    let _ = tx.try_send(Err(StorageError::Compacted { requested: rev, compacted: oldest_cached }));
                    return Ok(WatchStream { start_revision: rev, initial: VecDeque::new(), live: rx, pump: None, _history_permit: None });
                };
                let pump = tokio::spawn(pump_history(self.store.clone(), prefix.to_string(), rev, tx, self.attrs.clone()));
                Ok(WatchStream { start_revision: rev, initial: VecDeque::new(), live: rx, pump: Some(pump), _history_permit: Some(permit) })
            }
        }
    }

    async fn run(
        self,
        rev_tx: watch::Sender<i64>,
        mut progress_rx: mpsc::Receiver<()>,
        progress_interval: Duration,
        cancel: CancellationToken,
    ) {
        let mut backoff = Duration::from_millis(100);
        let mut need_list = true;
        loop {
            if cancel.is_cancelled() {
                break;
            }
            if need_list {
                match self.relist().await {
                    Ok(rev) => {
                        rev_tx.send_replace(rev);
                        need_list = false;
                    }
                    Err(e) => {
                        tracing::warn!(resource = %self.resource, error = %e, "cacher list failed; retrying");
                        tokio::select! { _ = cancel.cancelled() => break, _ = tokio::time::sleep(backoff) => {} }
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                }
            }
            let from = self.state.lock().unwrap().last_rev + 1;
            // No prev_kv: the cache holds every key's previous state (it listed them all and
            // has applied every change since), so etcd need not read and send each changed
            // object's old value, which for an update doubles what crosses the connection.
            let opts = WatchOptions::new().with_prefix().with_start_revision(from).with_progress_notify();
            let mut client = self.store.client().watch_client().max_decoding_message_size(1 << 30);
            let stream = tokio::select! { _ = cancel.cancelled() => break, s = client.watch(self.prefix.clone(), Some(opts)) => s };
            let (mut sender, mut responses) = match stream {
                Ok(s) => s.split(),
                Err(e) => {
                    tracing::warn!(resource = %self.resource, error = %e, "cacher watch failed; retrying");
                    tokio::select! { _ = cancel.cancelled() => break, _ = tokio::time::sleep(backoff) => {} }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            let mut ticker = tokio::time::interval(progress_interval);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => {
                        self.close_all();
                        return;
                    }
                    _ = ticker.tick() => { let _ = sender.request_progress().await; }
                    Some(()) = progress_rx.recv() => { let _ = sender.request_progress().await; }
                    msg = responses.message() => match msg {
                        Ok(Some(resp)) => {
                            backoff = Duration::from_millis(100);
                            if resp.compact_revision() > 0 || resp.canceled() {
                                // History we had not applied is gone: start over from a fresh
                                // list, and make every watcher re-watch.
                                tracing::warn!(resource = %self.resource, "cacher watch compacted or cancelled; relisting");
                                need_list = true;
                                break;
                            }
                            // A progress notification etcd sent on request (watch id -1) comes
                            // from a shortcut around the stream's event path in etcd before
                            // 3.4.25 / 3.5.8 (etcd-io/etcd#15220, Debian bookworm has 3.4.23):
                            // events below its revision may still be on their way. Its revision
                            // is taken only once etcd confirms that nothing under the prefix
                            // changed since what the cache has.
                            let resp = if resp.events().is_empty() && !resp.created() && resp.watch_id() == -1 {
                                let header_rev = resp.header().map(|h| h.revision()).unwrap_or(0);
                                match self.unchanged_through(header_rev).await {
                                    true => resp,
                                    false => continue,
                                }
                            } else {
                                resp
                            };
                            match self.apply(resp) {
                                Ok(Some(rev)) => { rev_tx.send_replace(rev); }
                                Ok(None) => {}
                                Err(Undecodable { key, revision }) => {
                                    // The cache would silently differ from etcd from here on:
                                    // start over from a list, as upstream's cacher does when
                                    // its watch reports an error.
                                    tracing::error!(resource = %self.resource, key, revision, "cacher cannot decode a watch event; relisting");
                                    self.close_all();
                                    need_list = true;
                                    break;
                                }
                            }
                        }
                        Ok(None) | Err(_) => {
                            tracing::warn!(resource = %self.resource, "cacher watch ended; reconnecting");
                            tokio::select! { _ = cancel.cancelled() => { self.close_all(); return; } _ = tokio::time::sleep(backoff) => {} }
                            backoff = (backoff * 2).min(Duration::from_secs(2));
                            break;
                        }
                    }
                }
            }
        }
        self.close_all();
    }

    /// Whether nothing under the prefix changed after the cache's revision up to `revision`:
    /// no key written since (a creation or an update shows as a newer mod revision) and as
    /// many keys as the cache holds (a deletion shows as one fewer). False when etcd cannot say.
    async fn unchanged_through(&self, revision: i64) -> bool {
        let (since, cached) = {
            let st = self.state.lock().unwrap();
            (st.last_rev, st.objects.len() as i64)
        };
        if revision <= since {
            return true;
        }
        let (mut kv_written, mut kv_counted) = (self.store.client().kv_client(), self.store.client().kv_client());
        let written = GetOptions::new().with_prefix().with_revision(revision).with_keys_only().with_min_mod_revision(since + 1);
        let counted = GetOptions::new().with_prefix().with_revision(revision).with_count_only();
        let (written, counted) = tokio::join!(kv_written.get(self.prefix.clone(), Some(written)), kv_counted.get(self.prefix.clone(), Some(counted)));
        match (written, counted) {
            (Ok(w), Ok(c)) => w.kvs().is_empty() && c.count() == cached,
            _ => false,
        }
    }

    /// Loads every object at one revision and resets the window to start there.
    async fn relist(&self) -> Result<i64, StorageError> {
        let mut objects = BTreeMap::new();
        let mut revision = 0;
        let mut start_after: Option<String> = None;
        loop {
            let page = self.store.list_raw(&self.prefix, revision, start_after.as_deref(), Some(1000)).await?;
            revision = page.revision;
            start_after = page.items.last().map(|(k, _, _)| k.clone());
            for (key, value, modified) in page.items {
                // Kept as stored (resourceVersion spliced in), not parsed and encoded again.
                match CachedObject::from_stored(&value, modified, &self.attrs) {
                    Ok(o) => {
                        objects.insert(key, o);
                    }
                    Err(e) => return Err(StorageError::Corrupt { key, detail: e.to_string() }),
                }
            }
            if page.remaining == 0 {
                break;
            }
        }
        let mut st = self.state.lock().unwrap();
        st.objects = objects;
        st.ring.clear();
        st.window_start = revision;
        st.last_rev = revision;
        st.synced = true;
        // Watchers from before may have missed events; closing makes them resume or relist.
        st.slots.clear();
        Ok(revision)
    }

    /// Applies one etcd watch response; returns the new last revision if it moved.
    ///
    /// Only a progress notification (no events) moves the cache to its header's revision. A
    /// response with events moves it to its last event's revision: while etcd is catching a
    /// watcher up it sends history in batches of at most 1,000 revisions, each with the
    /// header at etcd's current revision, so events below that header are still to come.
    /// The response that confirms the watch's creation says nothing about history either.
    fn apply(&self, resp: WatchResponse) -> Result<Option<i64>, Undecodable> {
        let header_rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        let mut st = self.state.lock().unwrap();
        if resp.events().is_empty() {
            if resp.created() || header_rev <= st.last_rev {
                return Ok(None);
            }
            // A progress notification: nothing under our prefix changed up to header_rev.
            st.last_rev = header_rev;
            let bookmark = Arc::new(Event::new(EventType::Bookmark, String::new(), CachedObject::empty(), None, header_rev));
            dispatch(&mut st, &bookmark);
            return Ok(Some(header_rev));
        }
        for ev in resp.events() {
            let key = ev.kv().map(|kv| String::from_utf8_lossy(kv.key()).into_owned()).unwrap_or_default();
            // The cache's copy is the previous state (shared, not decoded again), and the last
            // state of a deletion even when etcd's prev_kv was compacted away.
            let cached = match ev.event_type() {
                EtcdEventType::Delete => st.objects.remove(&key),
                EtcdEventType::Put => st.objects.get(&key).cloned(),
            };
            let Some(event) = to_event(ev, cached, &self.attrs) else {
                let revision = ev.kv().map(|kv| kv.mod_revision()).unwrap_or(header_rev);
                return Err(Undecodable { key, revision });
            };
            if event.kind != EventType::Deleted {
                st.objects.insert(event.key.clone(), event.object.clone());
            }
            let event = Arc::new(event);
            st.ring.push_back(event.clone());
            while st.ring.len() > self.ring_capacity {
                if let Some(old) = st.ring.pop_front() {
                    st.window_start = old.revision;
                }
            }
            st.last_rev = event.revision;
            dispatch(&mut st, &event);
        }
        Ok(Some(st.last_rev))
    }

    fn close_all(&self) {
        self.state.lock().unwrap().slots.clear();
    }
}

/// A watch event the cache could not turn into an object: bad bytes in etcd, or a deletion of
/// a key the cache never had.
#[derive(Debug)]
struct Undecodable {
    key: String,
    revision: i64,
}

/// Sends an event to every interested watcher; a watcher that cannot take it is closed.
fn dispatch(st: &mut State, event: &Arc<Event>) {
    st.slots.retain(|slot| {
        if event.revision <= slot.after {
            return true;
        }
        if event.kind != EventType::Bookmark && !event.key.starts_with(&slot.prefix) {
            return true;
        }
        slot.tx.try_send(Ok(event.clone())).is_ok()
    });
}

/// Serves a watch from before the cache's window straight from etcd's history.
async fn pump_history(store: EtcdStore, prefix: String, after: i64, tx: mpsc::Sender<Result<Arc<Event>, StorageError>>, attrs: AttrsFn) {
    let opts = WatchOptions::new().with_prefix().with_prev_key().with_start_revision(after + 1);
    let mut client = store.client().watch_client().max_decoding_message_size(1 << 30);
    let mut stream = match client.watch(prefix.clone(), Some(opts)).await {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Err(e.into())).await;
            return;
        }
    };
    loop {
        let resp = match stream.message().await {
            Ok(Some(r)) => r,
            _ => return,
        };
        if resp.compact_revision() > 0 {
            let _ = tx.send(Err(StorageError::Compacted { requested: after, compacted: resp.compact_revision() })).await;
            return;
        }
        if resp.canceled() {
            return;
        }
        for ev in resp.events() {
            let Some(event) = to_event(ev, None, &attrs) else {
                // Never skip past a change: the client gets an error and starts over.
                let key = ev.kv().map(|kv| String::from_utf8_lossy(kv.key()).into_owned()).unwrap_or_default();
                let revision = ev.kv().map(|kv| kv.mod_revision()).unwrap_or(0);
                tracing::error!(key, revision, "history watch cannot decode an event; ending the watch");
                let detail = format!("the watch event at revision {revision} cannot be decoded");
                let _ = tx.send(Err(StorageError::Corrupt { key, detail })).await;
                return;
            };
            if tx.send(Ok(Arc::new(event))).await.is_err() {
                return;
            }
        }
    }
}

/// Turns one etcd watch event into a storage event. The previous state is `cached`, the
/// cache's copy of the key, or else etcd's prev_kv (which only history watches ask for); a
/// deletion carries that last state with resourceVersion = the deletion's revision.
fn to_event(ev: &etcd_client::Event, cached: Option<Arc<CachedObject>>, attrs: &AttrsFn) -> Option<Event> {
    let kv = ev.kv()?;
    let key = String::from_utf8_lossy(kv.key()).into_owned();
    let revision = kv.mod_revision();
    let prev = cached.or_else(|| {
        let p = ev.prev_kv()?;
        CachedObject::from_stored(p.value(), p.mod_revision(), attrs).ok()
    });
    Some(match ev.event_type() {
        EtcdEventType::Put => {
            let object = CachedObject::from_stored(kv.value(), revision, attrs).ok()?;
            let kind = if kv.create_revision() == revision { EventType::Added } else { EventType::Modified };
            let prev = if kind == EventType::Added { None } else { prev };
            Event::new(kind, key, object, prev, revision)
        }
        EtcdEventType::Delete => {
            let last = prev.clone()?;
            let object = CachedObject::new(&with_resource_version(last.value(), revision), revision, attrs);
            Event::new(EventType::Deleted, key, object, prev, revision)
        }
    })
}

