//! Load generators (closed loop with N clients, and paced at a fixed rate) and the summary of
//! what they measured. Every loop is bounded by a count and a deadline.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// No single request may take longer than this; a timed-out one counts as an error.
pub const OP_TIMEOUT: Duration = Duration::from_secs(30);

pub type OpResult = Result<(), String>;

/// Nanoseconds on a clock shared by every task of this process (for send → receive latency).
pub fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// What one run of operations achieved.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub ok: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub secs: f64,
    /// Latencies of successful operations in nanoseconds, sorted.
    pub lat_ns: Vec<u64>,
}

impl Summary {
    pub fn from_latencies(mut lat_ns: Vec<u64>, errors: usize, first_error: Option<String>, secs: f64) -> Summary {
        lat_ns.sort_unstable();
        Summary { ok: lat_ns.len(), errors, first_error, secs, lat_ns }
    }

    /// One summary of several runs of the same operations: their counts, times and
    /// latencies together (throughput is all operations over all the runs' time).
    pub fn pooled(parts: Vec<Summary>) -> Summary {
        let (mut all, mut secs) = (Collector::default(), 0.0);
        for p in parts {
            secs += p.secs;
            all.merge(Collector { lat: p.lat_ns, errors: p.errors, first_error: p.first_error });
        }
        Summary::from_latencies(all.lat, all.errors, all.first_error, secs)
    }

    pub fn throughput(&self) -> f64 {
        if self.secs > 0.0 {
            self.ok as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Percentile in milliseconds (nearest rank), NaN when nothing succeeded.
    pub fn pct_ms(&self, p: f64) -> f64 {
        if self.lat_ns.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.lat_ns.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, self.lat_ns.len()) - 1;
        self.lat_ns[idx] as f64 / 1e6
    }

    pub fn p50(&self) -> f64 {
        self.pct_ms(50.0)
    }

    pub fn p99(&self) -> f64 {
        self.pct_ms(99.0)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok,
            "errors": self.errors,
            "first_error": self.first_error,
            "seconds": round3(self.secs),
            "ops_per_s": round3(self.throughput()),
            "p50_ms": num(self.p50()),
            "p99_ms": num(self.p99()),
            "max_ms": num(self.pct_ms(100.0)),
        })
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A JSON number, or null for NaN/infinite.
pub fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(round3(x))
    } else {
        Value::Null
    }
}

#[derive(Default)]
struct Collector {
    lat: Vec<u64>,
    errors: usize,
    first_error: Option<String>,
}

impl Collector {
    fn record(&mut self, r: OpResult, ns: u64) {
        match r {
            Ok(()) => self.lat.push(ns),
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    /// Adds what another collector saw (its first error counts only if this one has none).
    fn merge(&mut self, other: Collector) {
        self.lat.extend(other.lat);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn timed<Fut: Future<Output = OpResult>>(f: Fut) -> (OpResult, u64) {
    let t = Instant::now();
    let r = match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {OP_TIMEOUT:?}")),
    };
    (r, t.elapsed().as_nanos() as u64)
}

/// `n` operations (op(0) .. op(n-1)) from `clients` concurrent loops, stopping early at `limit`.
pub async fn closed_loop<F, Fut>(n: usize, clients: usize, limit: Duration, op: F) -> Summary
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = OpResult> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + limit;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients.max(1) {
        let (op, next) = (op.clone(), next.clone());
        tasks.spawn(async move {
            let mut c = Collector::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() >= deadline {
                    break;
                }
                let (r, ns) = timed(op(i)).await;
                c.record(r, ns);
            }
            c
        });
    }
    let mut all = Collector::default();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(c) => all.merge(c),
            // A client loop that panicked counts as one failed operation.
            Err(e) => all.record(Err(e.to_string()), 0),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Summary::from_latencies(all.lat, all.errors, all.first_error, secs)
}

/// op(i) started `rate` times a second for `duration` (at most `count` times), each in its own
/// task so a slow one does not delay the next; at most 256 in flight.
/// Runs `load` half a period of `rate` late: started beside another load at the same rate,
/// the two sides' operations then interleave instead of arriving together.
pub async fn half_period_later<F: Future>(rate: f64, load: F) -> F::Output {
    tokio::time::sleep(Duration::from_secs_f64(0.5 / rate.max(0.001))).await;
    load.await
}

pub async fn paced<F, Fut>(rate: f64, duration: Duration, count: usize, op: F) -> Summary
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = OpResult> + Send + 'static,
{
    let op = Arc::new(op);
    let collector = Arc::new(Mutex::new(Collector::default()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0;
    while i < count && start.elapsed() < duration {
        ticker.tick().await;
        let permit = match in_flight.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => break,
        };
        let (op, collector) = (op.clone(), collector.clone());
        tasks.spawn(async move {
            let (r, ns) = timed(op(i)).await;
            collector.lock().unwrap().record(r, ns);
            drop(permit);
        });
        i += 1;
    }
    let drain = Instant::now() + OP_TIMEOUT + Duration::from_secs(1);
    while !tasks.is_empty() && Instant::now() < drain {
        let _ = tokio::time::timeout(Duration::from_secs(1), tasks.join_next()).await;
    }
    tasks.abort_all();
    let secs = start.elapsed().as_secs_f64();
    let c = std::mem::take(&mut *collector.lock().unwrap());
    Summary::from_latencies(c.lat, c.errors, c.first_error, secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s = Summary::from_latencies((1..=100).map(|i| i * 1_000_000).collect(), 0, None, 1.0);
        assert_eq!(s.p50(), 50.0);
        assert_eq!(s.p99(), 99.0);
        assert_eq!(s.pct_ms(100.0), 100.0);
        assert_eq!(s.throughput(), 100.0);
        assert!(Summary::default().p99().is_nan());
    }

    #[test]
    fn pooled_summaries_add_up() {
        let a = Summary::from_latencies(vec![3, 1], 0, None, 1.0);
        let b = Summary::from_latencies(vec![2], 1, Some("x".into()), 2.0);
        let p = Summary::pooled(vec![a, b]);
        assert_eq!(p.throughput(), 1.0);
        assert_eq!((p.ok, p.errors, p.first_error.as_deref(), p.lat_ns), (3, 1, Some("x"), vec![1, 2, 3]));
    }

    #[tokio::test]
    async fn closed_loop_runs_each_index_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let s = closed_loop(50, 4, Duration::from_secs(10), move |i| {
            let s2 = s2.clone();
            async move {
                s2.lock().unwrap().push(i);
                if i == 7 {
                    Err("seven".into())
                } else {
                    Ok(())
                }
            }
        })
        .await;
        let mut v = seen.lock().unwrap().clone();
        v.sort();
        assert_eq!(v, (0..50).collect::<Vec<_>>());
        assert_eq!((s.ok, s.errors), (49, 1));
    }
}
