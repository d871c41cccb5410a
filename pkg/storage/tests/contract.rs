//! The storage contract, against a real etcd: revisions as resourceVersions, compare-and-swap,
//! pinned paging, compaction, and the shared watch's delivery guarantees.

use std::time::{Duration, Instant};

use corekube_storage::test_etcd::{wait_answering, TestEtcd};
use corekube_storage::{collection_prefix, object_key, Cacher, CacherConfig, EtcdStore, EventType, StorageError, WatchStart};
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn etcd() -> (TestEtcd, EtcdStore) {
    TestEtcd::start_with_store().await
}

fn obj(name: &str, v: i64) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": "ns"}, "data": {"v": v}})
}

fn rv(o: &serde_json::Value) -> i64 {
    o["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn writes_are_compare_and_swap_on_revisions() {
    let (_e, s) = etcd().await;
    let key = object_key("things", Some("ns"), "a");
    let created = s.create(&key, obj("a", 1)).await.unwrap();
    assert!(matches!(s.create(&key, obj("a", 2)).await, Err(StorageError::AlreadyExists)));
    let got = s.get(&key).await.unwrap().unwrap();
    assert_eq!(rv(&got), rv(&created));
    let updated = s.update(&key, obj("a", 3), rv(&created)).await.unwrap();
    assert!(rv(&updated) > rv(&created));
    assert!(matches!(s.update(&key, obj("a", 4), rv(&created)).await, Err(StorageError::Conflict { .. })));
    assert!(matches!(s.delete(&key, Some(rv(&created))).await, Err(StorageError::Conflict { .. })));
    let (last, del_rev) = s.delete(&key, Some(rv(&updated))).await.unwrap();
    assert_eq!(last["data"]["v"], 3);
    assert!(del_rev > rv(&updated));
    assert!(s.get(&key).await.unwrap().is_none());
    assert!(matches!(s.delete(&key, None).await, Err(StorageError::NotFound)));
    assert!(matches!(s.update(&key, obj("a", 5), 1).await, Err(StorageError::NotFound)));
}

#[tokio::test]
async fn pages_are_read_at_one_revision() {
    let (_e, s) = etcd().await;
    for i in 0..5 {
        s.create(&object_key("things", Some("ns"), &format!("o{i}")), obj(&format!("o{i}"), i)).await.unwrap();
    }
    // A sibling prefix must not leak into the namespace's range.
    s.create(&object_key("things", Some("ns2"), "x"), obj("x", 0)).await.unwrap();
    let prefix = collection_prefix("things", Some("ns"));
    let first = s.list(&prefix, 0, None, Some(2)).await.unwrap();
    assert_eq!((first.items.len(), first.remaining), (2, 3));
    s.create(&object_key("things", Some("ns"), "o9"), obj("o9", 9)).await.unwrap();
    let rest = s.list(&prefix, first.revision, first.last_key.as_deref(), None).await.unwrap();
    let names: Vec<&str> = rest.items.iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["o2", "o3", "o4"]);
    assert_eq!(rest.revision, first.revision);
    let latest = s.list(&prefix, 0, None, None).await.unwrap();
    assert_eq!(latest.items.len(), 6);
    let future = s.list(&prefix, latest.revision + 100, None, None).await;
    assert!(matches!(future, Err(StorageError::FutureRevision { .. })), "{future:?}");
    s.compact(latest.revision).await.unwrap();
    let old = s.list(&prefix, first.revision, None, None).await;
    assert!(matches!(old, Err(StorageError::Compacted { .. })), "{old:?}");
    assert_eq!(s.compacted_revision().await.unwrap(), latest.revision);
}

async fn next_event(w: &mut corekube_storage::WatchStream) -> std::sync::Arc<corekube_storage::Event> {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("event in time").expect("open").expect("ok");
        if e.kind != EventType::Bookmark {
            return e;
        }
    }
}

#[tokio::test]
async fn shared_watch_delivers_every_change_in_order() {
    let (_e, s) = etcd().await;
    let cancel = CancellationToken::new();
    let key = object_key("things", Some("ns"), "a");
    let created = s.create(&key, obj("a", 1)).await.unwrap();
    let cacher = Cacher::start(s.clone(), "things", CacherConfig::default(), cancel.clone());
    let prefix = collection_prefix("things", Some("ns"));
    for _ in 0..200 {
        if cacher.is_synced() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut snap = cacher.watch(&prefix, WatchStart::Snapshot).await.unwrap();
    let mut from_create = cacher.watch(&prefix, WatchStart::After(rv(&created))).await.unwrap();
    let first = next_event(&mut snap).await;
    assert_eq!((first.kind, first.object.value()["data"]["v"].as_i64()), (EventType::Added, Some(1)));
    let u = s.update(&key, obj("a", 2), rv(&created)).await.unwrap();
    s.delete(&key, Some(rv(&u))).await.unwrap();
    for w in [&mut snap, &mut from_create] {
        let m = next_event(w).await;
        assert_eq!((m.kind, m.object.value()["data"]["v"].as_i64()), (EventType::Modified, Some(2)));
        assert_eq!(m.prev.as_ref().unwrap().value()["data"]["v"], 1);
        let d = next_event(w).await;
        assert_eq!(d.kind, EventType::Deleted);
        assert_eq!(d.object.value()["data"]["v"], 2, "a deletion carries the last state");
        assert!(d.revision > m.revision);
        assert_eq!(d.object.value()["metadata"]["resourceVersion"], d.revision.to_string());
    }
    // A watch from the creation revision, opened after everything happened, replays it all.
    let mut late = cacher.watch(&prefix, WatchStart::After(rv(&created))).await.unwrap();
    assert_eq!(next_event(&mut late).await.kind, EventType::Modified);
    assert_eq!(next_event(&mut late).await.kind, EventType::Deleted);
    cancel.cancel();
}

#[tokio::test]
async fn slow_watchers_are_closed_and_old_ones_read_history() {
    let (_e, s) = etcd().await;
    let cancel = CancellationToken::new();
    let config = CacherConfig { ring_capacity: 4, watcher_buffer: 3, progress_interval: Duration::from_secs(60), ..Default::default() };
    let start_rev = s.current_revision().await.unwrap();
    let cacher = Cacher::start(s.clone(), "things", config, cancel.clone());
    for _ in 0..200 {
        if cacher.is_synced() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let prefix = collection_prefix("things", None);
    let mut slow = cacher.watch(&prefix, WatchStart::Snapshot).await.unwrap();
    for i in 0..10 {
        s.create(&object_key("things", Some("ns"), &format!("o{i}")), obj(&format!("o{i}"), i)).await.unwrap();
    }
    // The watcher never read, so it was closed after its buffer filled; nothing was skipped.
    let mut got = 0;
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(5), slow.next()).await {
        item.unwrap();
        got += 1;
    }
    assert_eq!(got, 3, "the closed watcher received exactly its buffer, then ended");
    // From before the ring's window: served from etcd history, complete and in order.
    let mut old = cacher.watch(&prefix, WatchStart::After(start_rev)).await.unwrap();
    for i in 0..10 {
        let e = next_event(&mut old).await;
        assert_eq!(e.object.value()["data"]["v"], i);
    }
    s.compact(s.current_revision().await.unwrap()).await.unwrap();
    let mut gone = cacher.watch(&prefix, WatchStart::After(start_rev)).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), gone.next()).await.unwrap().unwrap();
    assert!(matches!(err, Err(StorageError::Compacted { .. })));
    cancel.cancel();
}

#[tokio::test]
async fn quiet_watches_get_bookmarks_at_the_current_revision() {
    let (_e, s) = etcd().await;
    let cancel = CancellationToken::new();
    let config = CacherConfig { progress_interval: Duration::from_millis(200), ..Default::default() };
    let cacher = Cacher::start(s.clone(), "things", config, cancel.clone());
    let mut w = cacher.watch(&collection_prefix("things", None), WatchStart::Snapshot).await.unwrap();
    // A write to another resource moves etcd's revision; the bookmark reports it.
    s.create(&object_key("others", None, "x"), obj("x", 1)).await.unwrap();
    let target = s.current_revision().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = tokio::time::timeout_at(deadline, w.next()).await.expect("a bookmark in time").unwrap().unwrap();
        if e.kind == EventType::Bookmark && e.revision >= target {
            break;
        }
    }
    assert!(cacher.wait_for_revision(target, Duration::from_secs(1)).await);
    cancel.cancel();
}

#[tokio::test]
async fn lists_larger_than_the_default_message_limit_work() {
    let (_e, s) = etcd().await;
    // 6 x 900 KiB: more than gRPC's default 4 MiB response, each under etcd's 1.5 MiB request limit.
    let big = "x".repeat(900 * 1024);
    for i in 0..6 {
        s.create(&object_key("big", Some("ns"), &format!("o{i}")), json!({"metadata": {"name": format!("o{i}")}, "data": {"v": big}})).await.unwrap();
    }
    let page = s.list(&collection_prefix("big", None), 0, None, None).await.unwrap();
    assert_eq!(page.items.len(), 6);
}

#[tokio::test]
async fn the_store_reconnects_after_etcd_restarts() {
    let (mut e, s) = etcd().await;
    let key = object_key("things", Some("ns"), "a");
    s.create(&key, obj("a", 1)).await.unwrap();
    e.stop();
    // While etcd is down a call fails at once instead of waiting for it.
    let t = Instant::now();
    let down = s.get(&key).await;
    assert!(matches!(down, Err(StorageError::Unavailable(_))), "{down:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "failing took {:?}", t.elapsed());
    e.start();
    wait_answering(&s).await;
    let got = s.get(&key).await.unwrap().unwrap();
    assert_eq!(got["data"]["v"], 1);
    s.update(&key, obj("a", 2), rv(&got)).await.unwrap();
}

#[tokio::test]
async fn a_call_to_an_etcd_that_stopped_answering_fails_within_the_keepalive_bound() {
    let (e, s) = etcd().await;
    e.freeze();
    let t = Instant::now();
    let hung = tokio::time::timeout(Duration::from_secs(30), s.current_revision()).await;
    e.signal(libc::SIGCONT);
    let waited = t.elapsed();
    assert!(matches!(hung, Ok(Err(StorageError::Unavailable(_)))), "{hung:?} after {waited:?}");
    // The connection is pinged every 10 s and dropped 5 s after an unanswered ping.
    assert!(waited <= Duration::from_secs(16), "the call ended after {waited:?}");
    wait_answering(&s).await;
}

/// A loopback TCP proxy in front of etcd that the test can cut: while cut, it closes every
/// connection, open or new, so whoever connects through it loses etcd until it is restored.
struct CuttableProxy {
    url: String,
    cut: tokio::sync::watch::Sender<bool>,
}

impl CuttableProxy {
    async fn start(etcd_url: &str) -> CuttableProxy {
        let target = etcd_url.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *cut_rx.borrow() {
                    continue;
                }
                let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else { continue };
                let mut cut_rx = cut_rx.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        CuttableProxy { url, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

#[tokio::test]
async fn a_resumed_watch_moves_the_cache_only_as_far_as_the_events_it_applied() {
    let (e, s) = etcd().await;
    let proxy = CuttableProxy::start(&e.url).await;
    let through_proxy = EtcdStore::connect(std::slice::from_ref(&proxy.url)).await.unwrap();
    let cancel = CancellationToken::new();
    // Room for every event the test reads, so a slow reader is not what closes the watch.
    let config = CacherConfig { progress_interval: Duration::from_secs(60), watcher_buffer: 4096, ..Default::default() };
    let cacher = Cacher::start(through_proxy, "things", config, cancel.clone());
    let prefix = collection_prefix("things", None);
    let first = s.create(&object_key("things", Some("ns"), "o"), obj("o", 0)).await.unwrap();
    assert!(cacher.wait_for_revision(rv(&first), Duration::from_secs(20)).await);
    let mut watcher = cacher.watch(&prefix, WatchStart::After(rv(&first))).await.unwrap();

    // The cache loses etcd while 3,000 revisions are written: when it resumes, etcd catches
    // its watch up in batches of at most 1,000 revisions, each with etcd's current revision in
    // the header.
    proxy.set_cut(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let key = object_key("things", Some("ns"), "o");
    let mut current = rv(&first);
    for v in 1..=3000 {
        current = rv(&s.update(&key, obj("o", v), current).await.unwrap());
    }
    proxy.set_cut(false);

    // Every revision the cache reports having reached includes every event up to it: the
    // watcher sees the 3,000 updates in order, and no bookmark ahead of an event still to come.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    let mut highest_bookmark = 0;
    while seen < 3000 {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = tokio::time::timeout(left, watcher.next()).await.expect("every event in time").expect("the watch stays open").unwrap();
        if e.kind == EventType::Bookmark {
            highest_bookmark = highest_bookmark.max(e.revision);
            continue;
        }
        assert!(e.revision > highest_bookmark, "event at {} after a bookmark at {highest_bookmark}", e.revision);
        seen += 1;
        assert_eq!(e.object.value()["data"]["v"], seen, "events in order, none skipped");
        // A consistent read at the cache's revision has everything up to it.
        let (items, at) = cacher.snapshot(&prefix);
        let v = items[0].value()["data"]["v"].as_i64().unwrap();
        assert!(at < current || v == 3000, "the cache claims revision {at} but holds v={v}");
    }
    assert!(cacher.wait_for_revision(current, Duration::from_secs(10)).await);
    assert_eq!(cacher.snapshot(&prefix).0[0].value()["data"]["v"], 3000);
    cancel.cancel();
}

#[tokio::test]
async fn an_undecodable_event_closes_the_watchers_and_the_cache_relists() {
    let (_e, s) = etcd().await;
    let cancel = CancellationToken::new();
    let cacher = Cacher::start(s.clone(), "things", CacherConfig::default(), cancel.clone());
    let prefix = collection_prefix("things", None);
    let good = s.create(&object_key("things", Some("ns"), "good"), obj("good", 1)).await.unwrap();
    assert!(cacher.wait_for_revision(rv(&good), Duration::from_secs(20)).await);
    let mut watcher = cacher.watch(&prefix, WatchStart::Snapshot).await.unwrap();
    assert_eq!(next_event(&mut watcher).await.kind, EventType::Added);

    // Bytes that are not an object, written behind the API server's back.
    let bad_key = object_key("things", Some("ns"), "bad");
    s.client().kv_client().put(bad_key.clone(), "not json", None).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match watcher.next().await {
                None => return,
                Some(Ok(e)) => assert_ne!(e.key, bad_key, "an undecodable object was served"),
                Some(Err(e)) => panic!("{e}"),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the watcher was not closed");

    // Once etcd holds only objects again, the cache lists them and follows on.
    s.client().kv_client().delete(bad_key, None).await.unwrap();
    let later = s.create(&object_key("things", Some("ns"), "later"), obj("later", 2)).await.unwrap();
    assert!(cacher.wait_for_revision(rv(&later), Duration::from_secs(20)).await, "the cache never recovered");
    let (items, _) = cacher.snapshot(&prefix);
    let names: Vec<_> = items.iter().map(|o| o.value()["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["good", "later"]);
    cancel.cancel();
}

#[tokio::test]
async fn history_watches_are_capped_and_the_rest_get_410() {
    let (_e, s) = etcd().await;
    let cancel = CancellationToken::new();
    let config = CacherConfig { ring_capacity: 4, max_history_watches: 2, ..Default::default() };
    let start_rev = s.current_revision().await.unwrap();
    let cacher = Cacher::start(s.clone(), "things", config, cancel.clone());
    let prefix = collection_prefix("things", None);
    let mut last = 0;
    for i in 0..10 {
        last = rv(&s.create(&object_key("things", Some("ns"), &format!("o{i}")), obj(&format!("o{i}"), i)).await.unwrap());
    }
    assert!(cacher.wait_for_revision(last, Duration::from_secs(20)).await);
    let mut a = cacher.watch(&prefix, WatchStart::After(start_rev)).await.unwrap();
    let mut b = cacher.watch(&prefix, WatchStart::After(start_rev)).await.unwrap();
    assert_eq!(next_event(&mut a).await.object.value()["data"]["v"], 0);
    assert_eq!(next_event(&mut b).await.object.value()["data"]["v"], 0);
    let mut refused = cacher.watch(&prefix, WatchStart::After(start_rev)).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), refused.next()).await.unwrap().unwrap();
    assert!(matches!(first, Err(StorageError::Compacted { requested, .. }) if requested == start_rev), "{first:?}");
    // A history watch that ends gives its place back.
    drop(a);
    let mut c = cacher.watch(&prefix, WatchStart::After(start_rev)).await.unwrap();
    assert_eq!(next_event(&mut c).await.object.value()["data"]["v"], 0);
    cancel.cancel();
}
