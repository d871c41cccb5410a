//! watch fan-out: 1, 100 and 1,000 watchers of pods (HTTP watch streams from a list's
//! resourceVersion) while one writer makes 2,000 updates at a fixed rate. Each update carries
//! its send time in an annotation; each watcher computes the delivery latency on receipt. The
//! baseline is the same number of watches opened directly on etcd, fed the same updates as puts
//! of the pods as corekube stored them (so both sides deliver events of the same size).
//!
//! A light round (one watcher) runs both sides at once, as churn does; the heavier rounds run
//! one side after the other, so that neither side's load slows the other's delivery.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{GetOptions, WatchOptions};
use futures::StreamExt;
use http::Method;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use crate::api::MERGE_PATCH;
use crate::create::{create_corekube, create_etcd, notes, Batch};
use crate::load::{half_period_later, now_ns, paced, Summary};
use crate::objects::{sent_ns, SENT_ANNOTATION};
use crate::procs::rss_bytes;
use crate::report::{emit, Row, Target};
use crate::{stored_prefix, Env};

/// Rounds delivering at most this many events a second in all (watchers × update rate) run
/// the two sides at the same time: a few percent of either side's capacity, and 20 s less.
const SIDE_BY_SIDE_EVENTS_PER_SEC: f64 = 1000.0;

/// What one round (one side, N watchers) measured.
struct Round {
    delivery: Summary,
    expected: usize,
    received: usize,
    /// Watchers that could not be opened or whose stream ended before the last update.
    failed: usize,
    writes: Summary,
    /// RSS growth of the server per open watcher, before and after the updates (bytes).
    rss_per_watcher: Option<f64>,
    rss_per_watcher_after: Option<f64>,
    open_secs: f64,
}

impl Round {
    fn delivered_pct(&self) -> f64 {
        100.0 * self.received as f64 / self.expected.max(1) as f64
    }

    fn to_json(&self) -> Value {
        json!({
            "delivery": self.delivery.to_json(),
            "expected_events": self.expected,
            "received_events": self.received,
            "failed_watchers": self.failed,
            "writes": self.writes.to_json(),
            "rss_bytes_per_watcher": self.rss_per_watcher,
            "rss_bytes_per_watcher_after_updates": self.rss_per_watcher_after,
            "open_seconds": self.open_secs,
        })
    }
}

/// Per-watcher result: latencies, events received, and whether the stream ended early.
type WatcherOut = (Vec<u64>, usize, bool);

/// Shared end of a round: readers stop at this time (ns on the `now_ns` clock).
fn deadline_passed(deadline: &AtomicU64) -> bool {
    now_ns() >= deadline.load(Ordering::Relaxed)
}

async fn read_http<B>(mut body: B, want: usize, deadline: Arc<AtomicU64>) -> WatcherOut
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
{
    let mut lat = Vec::with_capacity(want);
    let mut buf: Vec<u8> = Vec::new();
    let mut got = 0;
    while got < want && !deadline_passed(&deadline) {
        match tokio::time::timeout(Duration::from_millis(500), body.frame()).await {
            Err(_) => continue,
            Ok(None) | Ok(Some(Err(_))) => return (lat, got, true),
            Ok(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else { continue };
                let now = now_ns();
                buf.extend_from_slice(&data);
                let mut start = 0;
                while let Some(off) = buf[start..].iter().position(|&b| b == b'\n') {
                    if let Some(sent) = sent_ns(&buf[start..start + off]) {
                        lat.push(now.saturating_sub(sent));
                        got += 1;
                    }
                    start += off + 1;
                }
                buf.drain(..start);
            }
        }
    }
    (lat, got, false)
}

async fn read_etcd(mut stream: etcd_client::WatchStream, want: usize, deadline: Arc<AtomicU64>) -> WatcherOut {
    let mut lat = Vec::with_capacity(want);
    let mut got = 0;
    while got < want && !deadline_passed(&deadline) {
        match tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
            Err(_) => continue,
            Ok(Ok(Some(resp))) => {
                let now = now_ns();
                for ev in resp.events() {
                    if let Some(sent) = ev.kv().and_then(|kv| sent_ns(kv.value())) {
                        lat.push(now.saturating_sub(sent));
                        got += 1;
                    }
                }
                if resp.canceled() {
                    return (lat, got, true);
                }
            }
            Ok(_) => return (lat, got, true),
        }
    }
    (lat, got, false)
}

async fn settle_rss(pid: Option<u32>) -> Option<u64> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    pid.and_then(rss_bytes)
}

fn per_watcher(before: Option<u64>, after: Option<u64>, n: usize) -> Option<f64> {
    Some((after? as f64 - before? as f64) / n as f64)
}

/// Collects the readers once the writer is done (they stop by themselves, or at the deadline).
async fn finish(mut readers: tokio::task::JoinSet<WatcherOut>, deadline: &AtomicU64, drain: Duration, want: usize) -> (Summary, usize, usize) {
    deadline.store(now_ns() + drain.as_nanos() as u64, Ordering::Relaxed);
    let mut lat = Vec::new();
    let (mut received, mut failed) = (0, 0);
    let hard_stop = Instant::now() + drain + Duration::from_secs(5);
    while let Ok(Some(r)) = tokio::time::timeout(hard_stop.saturating_duration_since(Instant::now()), readers.join_next()).await {
        match r {
            Ok((l, got, ended)) => {
                received += got;
                if ended || got < want {
                    failed += 1;
                }
                lat.extend(l);
            }
            Err(_) => failed += 1,
        }
    }
    failed += readers.len();
    readers.abort_all();
    (Summary::from_latencies(lat, 0, None, 0.0), received, failed)
}

/// How corekube's watchers connect.
#[derive(Clone, Copy, PartialEq)]
enum Transport {
    /// All streams on one HTTP/2 connection, as a client-go informer's watches are (and as the
    /// etcd baseline's watches share one gRPC connection).
    Http2Shared,
    /// One HTTP/1.1 connection per watch, as kube-rs clients make them.
    Http1Each,
}

async fn open_watch(h2: Option<&crate::api::Http2>, api: &crate::api::Api, path: &str) -> Result<WatchBody, String> {
    match h2 {
        Some(h2) => h2.stream(path).await.map(WatchBody::H2),
        None => api.stream(path).await.map(WatchBody::H1),
    }
}

enum WatchBody {
    H2(hyper::body::Incoming),
    H1(kube::client::Body),
}

async fn corekube_round(env: &Env, ns: &str, watchers: usize, transport: Transport) -> Result<Round, String> {
    let c = &env.counts;
    let list = env.api.get_json(&format!("/api/v1/namespaces/{ns}/pods")).await?;
    let rv = list["metadata"]["resourceVersion"].as_str().ok_or("list without resourceVersion")?.to_string();
    let rss0 = settle_rss(env.corekube_pid).await;
    let path = format!("/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={rv}");
    let t = Instant::now();
    let h2 = match transport {
        Transport::Http2Shared => Some(env.api.http2().await?),
        Transport::Http1Each => None,
    };
    let opened: Vec<Result<WatchBody, String>> = futures::stream::iter(0..watchers)
        .map(|_| {
            let (h2, api, path) = (h2.clone(), env.api.clone(), path.clone());
            async move {
                tokio::time::timeout(Duration::from_secs(30), open_watch(h2.as_ref(), &api, &path)).await.unwrap_or_else(|_| Err("timed out opening a watch".into()))
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let open_secs = t.elapsed().as_secs_f64();
    let open_failures = opened.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = opened.iter().find(|r| r.is_err()) {
        eprintln!("  corekube: {open_failures} of {watchers} watches failed to open: {e}");
    }
    let rss1 = settle_rss(env.corekube_pid).await;
    let deadline = Arc::new(AtomicU64::new(u64::MAX));
    let mut readers = tokio::task::JoinSet::new();
    for body in opened.into_iter().flatten() {
        match body {
            WatchBody::H2(b) => readers.spawn(read_http(b, c.watch_updates, deadline.clone())),
            WatchBody::H1(b) => readers.spawn(read_http(b, c.watch_updates, deadline.clone())),
        };
    }

    let (api, ns2, pods) = (env.api.clone(), ns.to_string(), c.watch_pods);
    let writes = paced(c.watch_rate, write_window(c), c.watch_updates, move |i| {
        let api = api.clone();
        let path = format!("/api/v1/namespaces/{ns2}/pods/w-{}", i % pods);
        async move {
            let patch = json!({"metadata": {"annotations": {SENT_ANNOTATION: now_ns().to_string()}}});
            api.ok(Method::PATCH, &path, Some(MERGE_PATCH), serde_json::to_vec(&patch).unwrap()).await.map(|_| ())
        }
    })
    .await;
    let (delivery, received, failed) = finish(readers, &deadline, Duration::from_secs(c.watch_drain_secs), writes.ok).await;
    let rss2 = env.corekube_pid.and_then(rss_bytes);
    Ok(Round {
        delivery,
        expected: watchers * writes.ok,
        received,
        failed: failed + open_failures,
        rss_per_watcher: per_watcher(rss0, rss1, watchers),
        rss_per_watcher_after: per_watcher(rss0, rss2, watchers),
        writes,
        open_secs,
    })
}

fn write_window(c: &crate::Counts) -> Duration {
    Duration::from_secs_f64(c.watch_updates as f64 / c.watch_rate * 2.0 + 5.0)
}

async fn etcd_round(env: &Env, prefix: &str, templates: &Arc<Vec<Value>>, watchers: usize) -> Result<Round, String> {
    let c = &env.counts;
    let mut kv = env.etcd.kv_client();
    let r = kv.get(prefix, Some(GetOptions::new().with_prefix().with_count_only())).await.map_err(|e| e.to_string())?;
    let rev = r.header().map(|h| h.revision()).ok_or("etcd response without header")?;
    let rss0 = settle_rss(env.etcd_pid).await;
    let t = Instant::now();
    let opened: Vec<Result<etcd_client::WatchStream, String>> = futures::stream::iter(0..watchers)
        .map(|_| {
            let mut w = env.etcd.watch_client();
            let prefix = prefix.to_string();
            async move {
                let open = async {
                    let opts = WatchOptions::new().with_prefix().with_start_revision(rev + 1);
                    let mut s = w.watch(prefix, Some(opts)).await.map_err(|e| e.to_string())?;
                    // The first response confirms the watch exists.
                    match s.message().await {
                        Ok(Some(m)) if m.created() => Ok(s),
                        other => Err(format!("etcd watch not created: {other:?}")),
                    }
                };
                tokio::time::timeout(Duration::from_secs(30), open).await.unwrap_or_else(|_| Err("timed out opening a watch".into()))
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let open_secs = t.elapsed().as_secs_f64();
    let open_failures = opened.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = opened.iter().find(|r| r.is_err()) {
        eprintln!("  etcd: {open_failures} of {watchers} watches failed to open: {e}");
    }
    let rss1 = settle_rss(env.etcd_pid).await;
    let deadline = Arc::new(AtomicU64::new(u64::MAX));
    let mut readers = tokio::task::JoinSet::new();
    for s in opened.into_iter().flatten() {
        readers.spawn(read_etcd(s, c.watch_updates, deadline.clone()));
    }

    let (prefix2, templates2, pods) = (prefix.to_string(), templates.clone(), c.watch_pods);
    let writes = paced(c.watch_rate, write_window(c), c.watch_updates, move |i| {
        let mut kv = kv.clone();
        let key = format!("{prefix2}w-{}", i % pods);
        let mut pod = templates2[i % pods].clone();
        async move {
            pod["metadata"]["annotations"][SENT_ANNOTATION] = Value::String(now_ns().to_string());
            kv.put(key.clone(), serde_json::to_vec(&pod).unwrap(), None).await.map(|_| ()).map_err(|e| format!("etcd put {key}: {e}"))
        }
    })
    .await;
    let (delivery, received, failed) = finish(readers, &deadline, Duration::from_secs(c.watch_drain_secs), writes.ok).await;
    let rss2 = env.etcd_pid.and_then(rss_bytes);
    Ok(Round {
        delivery,
        expected: watchers * writes.ok,
        received,
        failed: failed + open_failures,
        rss_per_watcher: per_watcher(rss0, rss1, watchers),
        rss_per_watcher_after: per_watcher(rss0, rss2, watchers),
        writes,
        open_secs,
    })
}

/// The pods `w-0` .. `w-{n-1}` of `ns` as corekube stored them in etcd: the baseline puts these,
/// so an etcd watch event carries the same object bytes as corekube's (defaults, managedFields).
async fn stored_pods(env: &Env, ns: &str, n: usize) -> Result<Vec<Value>, String> {
    let prefix = stored_prefix("pods", ns);
    let r = env.etcd.kv_client().get(prefix.clone(), Some(GetOptions::new().with_prefix())).await.map_err(|e| format!("etcd get {prefix}: {e}"))?;
    let mut by_name: HashMap<String, Value> = HashMap::new();
    for kv in r.kvs() {
        let v: Value = serde_json::from_slice(kv.value()).map_err(|e| format!("stored pod {}: {e}", String::from_utf8_lossy(kv.key())))?;
        let name = v["metadata"]["name"].as_str().unwrap_or_default().to_string();
        by_name.insert(name, v);
    }
    (0..n).map(|i| by_name.remove(&format!("w-{i}")).ok_or_else(|| format!("pod w-{i} not found under {prefix} in etcd"))).collect()
}

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let c = env.counts.clone();
    let ns = format!("bench-watch-{}", env.tag);
    env.api.ensure_namespace(&ns).await?;
    let batch = Arc::new(Batch::pods(&ns, "w", c.watch_pods));
    let prefix = env.etcd_prefix("watchpods", &ns);
    let e = create_etcd(&env.etcd, &prefix, &batch, 16, c.phase_limit).await;
    let k = create_corekube(&env.api, "pods", &ns, &batch, 16, c.phase_limit).await;
    if e.ok != c.watch_pods || k.ok != c.watch_pods {
        return Err(format!("preparing {} pods: {}", c.watch_pods, notes(&k, &e)));
    }
    let templates = Arc::new(stored_pods(env, &ns, c.watch_pods).await?);
    let max_watchers = c.watchers.iter().copied().max().unwrap_or(0);
    let mut details = serde_json::Map::new();
    for &n in &c.watchers {
        let (k, e) = if n as f64 * c.watch_rate <= SIDE_BY_SIDE_EVENTS_PER_SEC {
            let etcd_side = half_period_later(c.watch_rate, etcd_round(env, &prefix, &templates, n));
            let (k, e) = tokio::join!(corekube_round(env, &ns, n, Transport::Http2Shared), etcd_side);
            (k?, e?)
        } else {
            let k = corekube_round(env, &ns, n, Transport::Http2Shared).await?;
            (k, etcd_round(env, &prefix, &templates, n).await?)
        };
        let label = format!("watch {n} watchers");
        let mut note = format!("{} updates at {}/s", k.writes.ok, c.watch_rate);
        if k.failed > 0 || e.failed > 0 {
            note = format!("{note}; incomplete watchers: corekube {}, etcd {}", k.failed, e.failed);
        }
        emit(rows, Row::new("watch", format!("{label} delivery p50"), "ms", Some(k.delivery.p50()), Some(e.delivery.p50())).note(note));
        let mut p99 = Row::new("watch", format!("{label} delivery p99"), "ms", Some(k.delivery.p99()), Some(e.delivery.p99()));
        if n == max_watchers {
            p99 = p99.target(Target::RatioAtMost(1.5));
        }
        emit(rows, p99);
        emit(rows, Row::new("watch", format!("{label} events delivered"), "%", Some(k.delivered_pct()), Some(e.delivered_pct())));
        if n >= 10 {
            let kib = |x: Option<f64>| x.map(|b| b / 1024.0);
            let mut mem = Row::new("watch", format!("{label} server RSS per watcher"), "KiB", kib(k.rss_per_watcher), kib(e.rss_per_watcher));
            if n == max_watchers {
                mem = mem.target(Target::AtMost(20.0));
            }
            emit(rows, mem);
        }
        let mut detail = json!({"corekube": k.to_json(), "etcd": e.to_json()});
        if n == max_watchers && n >= 10 && c.watch_http1_each {
            // For comparison, not a target: the same watchers each on its own connection.
            let h1 = corekube_round(env, &ns, n, Transport::Http1Each).await?;
            let label = format!("{label}, HTTP/1.1 connection each,");
            emit(rows, Row::new("watch", format!("{label} delivery p99"), "ms", Some(h1.delivery.p99()), Some(e.delivery.p99())));
            let kib = |x: Option<f64>| x.map(|b| b / 1024.0);
            emit(rows, Row::new("watch", format!("{label} server RSS per watcher"), "KiB", kib(h1.rss_per_watcher), kib(e.rss_per_watcher)));
            detail["corekube_http1_each"] = h1.to_json();
        }
        details.insert(format!("watchers_{n}"), detail);
    }
    env.details.insert("watch".into(), details.into());
    Ok(())
}
