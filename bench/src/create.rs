//! create: N ConfigMaps (~1 KiB) and N Pods (~2.5 KiB) at 1, 16 and 64 concurrent clients, vs
//! etcd create-if-absent transactions (create_revision == 0) of the same bytes and concurrency.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Compare, CompareOp, Txn, TxnOp};
use http::Method;
use serde_json::json;

use crate::api::{Api, JSON};
use crate::load::{closed_loop, Summary};
use crate::objects;
use crate::procs::cpu_secs;
use crate::report::{emit, Row, Target};
use crate::{Env, Seed};

/// Names and JSON bodies of a batch of objects of one namespace.
pub struct Batch {
    pub names: Vec<String>,
    pub bodies: Vec<Vec<u8>>,
}

impl Batch {
    pub fn configmaps(ns: &str, prefix: &str, n: usize, size: usize) -> Batch {
        let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
        let bodies = names.iter().enumerate().map(|(i, name)| objects::configmap(ns, name, i, size)).collect();
        Batch { names, bodies }
    }

    pub fn pods(ns: &str, prefix: &str, n: usize) -> Batch {
        let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
        let bodies = names.iter().enumerate().map(|(i, name)| objects::pod(ns, name, i)).collect();
        Batch { names, bodies }
    }

    /// The objects `range` of this batch, as a batch of their own.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Batch {
        Batch { names: self.names[range.clone()].to_vec(), bodies: self.bodies[range].to_vec() }
    }

    pub fn mean_bytes(&self) -> f64 {
        self.bodies.iter().map(|b| b.len()).sum::<usize>() as f64 / self.bodies.len().max(1) as f64
    }
}

/// POSTs every body of `batch` to `/api/v1/namespaces/{ns}/{resource}`.
pub async fn create_corekube(api: &Api, resource: &str, ns: &str, batch: &Arc<Batch>, clients: usize, limit: Duration) -> Summary {
    let path = Arc::new(format!("/api/v1/namespaces/{ns}/{resource}"));
    let (api, batch) = (api.clone(), batch.clone());
    closed_loop(batch.bodies.len(), clients, limit, move |i| {
        let (api, path, body) = (api.clone(), path.clone(), batch.bodies[i].clone());
        async move { api.ok(Method::POST, &path, Some(JSON), body).await.map(|_| ()) }
    })
    .await
}

/// Stores every body of `batch` under `prefix + name` with a create-if-absent transaction.
pub async fn create_etcd(etcd: &etcd_client::Client, prefix: &str, batch: &Arc<Batch>, clients: usize, limit: Duration) -> Summary {
    let (kv, batch, prefix) = (etcd.kv_client(), batch.clone(), Arc::new(prefix.to_string()));
    closed_loop(batch.bodies.len(), clients, limit, move |i| {
        let mut kv = kv.clone();
        let key = format!("{prefix}{}", batch.names[i]);
        let value = batch.bodies[i].clone();
        async move {
            let txn = Txn::new()
                .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.clone(), value, None)]);
            let r = kv.txn(txn).await.map_err(|e| format!("etcd txn {key}: {e}"))?;
            if r.succeeded() {
                Ok(())
            } else {
                Err(format!("etcd key {key} already exists"))
            }
        }
    })
    .await
}

pub fn note(s: &Summary) -> String {
    if s.errors > 0 {
        format!("{} errors, first: {}", s.errors, s.first_error.as_deref().unwrap_or(""))
    } else {
        String::new()
    }
}

pub fn notes(k: &Summary, e: &Summary) -> String {
    match (note(k), note(e)) {
        (a, b) if a.is_empty() && b.is_empty() => String::new(),
        (a, b) if b.is_empty() => format!("corekube: {a}"),
        (a, b) if a.is_empty() => format!("etcd: {b}"),
        (a, b) => format!("corekube: {a}; etcd: {b}"),
    }
}

/// Each create row alternates etcd and corekube over this many slices of its batch, and each
/// side's figures pool its slices, so that a slow spell of this machine (the disk flushing,
/// another process) cannot fall on one side's whole phase: in single-phase runs the pod
/// baseline at 64 clients ranged from 5,119 to 10,735 creates/s. Over six alternating runs
/// this did not measurably narrow the ratios' spread; the row's note shows each round's ratio.
const ROUNDS: usize = 3;

/// CPU time of each of the three processes that share the machine's cores: seconds used, or
/// microseconds per operation (`per_op_us`). None where a process is not known, e.g. a given
/// server without `--server-pid`.
#[derive(Debug, Clone, Copy)]
struct CpuTimes {
    corekube: Option<f64>,
    etcd: Option<f64>,
    client: Option<f64>,
}

impl CpuTimes {
    /// Nothing used yet: the start of a sum.
    const ZERO: CpuTimes = CpuTimes { corekube: Some(0.0), etcd: Some(0.0), client: Some(0.0) };

    /// Each process's CPU time so far.
    fn now(env: &Env) -> CpuTimes {
        CpuTimes { corekube: env.corekube_pid.and_then(cpu_secs), etcd: env.etcd_pid.and_then(cpu_secs), client: cpu_secs(std::process::id()) }
    }

    /// What each process used from `start` to `self`, added to `total` (which stays unknown
    /// for a process once one reading of it was).
    fn add_since(self, start: CpuTimes, total: &mut CpuTimes) {
        let add = |sum: &mut Option<f64>, end: Option<f64>, begin: Option<f64>| {
            *sum = match (*sum, end, begin) {
                (Some(sum), Some(end), Some(begin)) => Some(sum + end - begin),
                _ => None,
            }
        };
        add(&mut total.corekube, self.corekube, start.corekube);
        add(&mut total.etcd, self.etcd, start.etcd);
        add(&mut total.client, self.client, start.client);
    }

    /// Microseconds per operation of each process.
    fn per_op_us(&self, ops: usize) -> CpuTimes {
        let us = |secs: Option<f64>| secs.filter(|_| ops > 0).map(|s| s * 1e6 / ops as f64);
        CpuTimes { corekube: us(self.corekube), etcd: us(self.etcd), client: us(self.client) }
    }

    /// The three processes together, when all three are known.
    fn all(&self) -> Option<f64> {
        Some(self.corekube? + self.etcd? + self.client?)
    }

    fn text(&self) -> String {
        let f = |x: Option<f64>| x.map(|v| format!("{v:.0}")).unwrap_or_else(|| "?".into());
        format!("corekube {} + etcd {} + client {}", f(self.corekube), f(self.etcd), f(self.client))
    }

    fn to_json(self) -> serde_json::Value {
        json!({"corekube": self.corekube, "etcd": self.etcd, "client": self.client, "all": self.all()})
    }
}

/// `n` indices cut into `rounds` contiguous ranges (fewer when `n` is smaller).
fn round_ranges(n: usize, rounds: usize) -> Vec<std::ops::Range<usize>> {
    let rounds = rounds.clamp(1, n.max(1));
    (0..rounds).map(|r| n * r / rounds..n * (r + 1) / rounds).collect()
}

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let c = env.counts.clone();
    let mut details = serde_json::Map::new();
    for (resource, short, n) in [("configmaps", "cm", c.configmaps), ("pods", "pod", c.pods)] {
        for &clients in &c.concurrency {
            let ns = format!("bench-{short}-c{clients}-{}", env.tag);
            env.api.ensure_namespace(&ns).await?;
            let batch = Arc::new(match resource {
                "configmaps" => Batch::configmaps(&ns, short, n, c.configmap_bytes),
                _ => Batch::pods(&ns, short, n),
            });
            let prefix = env.etcd_prefix(resource, &ns);
            let (mut e_rounds, mut k_rounds) = (Vec::new(), Vec::new());
            let (mut e_cpu, mut k_cpu) = (CpuTimes::ZERO, CpuTimes::ZERO);
            for range in round_ranges(n, ROUNDS) {
                let slice = Arc::new(batch.slice(range));
                // etcd first in each round: the baseline runs on the smaller database.
                let start = CpuTimes::now(env);
                e_rounds.push(create_etcd(&env.etcd, &prefix, &slice, clients, c.phase_limit / ROUNDS as u32).await);
                CpuTimes::now(env).add_since(start, &mut e_cpu);
                env.api.warm_up(clients).await;
                let start = CpuTimes::now(env);
                k_rounds.push(create_corekube(&env.api, resource, &ns, &slice, clients, c.phase_limit / ROUNDS as u32).await);
                CpuTimes::now(env).add_since(start, &mut k_cpu);
            }
            let round_ratios: Vec<f64> = k_rounds.iter().zip(&e_rounds).map(|(k, e)| k.throughput() / e.throughput()).collect();
            let (e, k) = (Summary::pooled(e_rounds), Summary::pooled(k_rounds));
            let label = format!("create {resource} c={clients}");
            let rounds_note = format!("ratio per round {}", round_ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(" / "));
            let note = [notes(&k, &e), rounds_note].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("; ");
            let mut tput = Row::new("create", format!("{label} throughput"), "ops/s", Some(k.throughput()), Some(e.throughput())).note(note);
            if clients == 64 {
                tput = tput.target(Target::RatioAtLeast(0.6));
            } else if clients == 1 {
                tput = tput.target(Target::RatioAtLeast(0.8));
            }
            if k.ok < n {
                tput = tput.note(format!("{} of {n} done within the phase limit; {}", k.ok, notes(&k, &e)));
            }
            emit(rows, tput);
            emit(rows, Row::new("create", format!("{label} p50"), "ms", Some(k.p50()), Some(e.p50())));
            emit(rows, Row::new("create", format!("{label} p99"), "ms", Some(k.p99()), Some(e.p99())));
            // Where the two cores go: at saturation, a side's rate is at most the cores' time
            // over its CPU per create.
            let (k_per_op, e_per_op) = (k_cpu.per_op_us(k.ok), e_cpu.per_op_us(e.ok));
            let cpu_note = format!("corekube side: {}; etcd side: {}", k_per_op.text(), e_per_op.text());
            emit(rows, Row::new("create", format!("{label} CPU per create, all processes"), "µs", k_per_op.all(), e_per_op.all()).note(cpu_note));
            details.insert(
                format!("{resource}_c{clients}"),
                json!({
                    "mean_body_bytes": batch.mean_bytes(), "corekube": k.to_json(), "etcd": e.to_json(), "round_throughput_ratios": round_ratios,
                    "cpu_us_per_create": {"corekube_side": k_per_op.to_json(), "etcd_side": e_per_op.to_json()},
                }),
            );
            if resource == "pods" && k.ok == n && e.ok == n && env.pod_seed.as_ref().is_none_or(|s| s.count <= n) {
                env.pod_seed = Some(Seed { namespace: ns.clone(), count: n });
            }
        }
    }
    env.details.insert("create".into(), details.into());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_per_create_sums_each_process_over_the_rounds() {
        let at = |k: f64, e: f64, c: f64| CpuTimes { corekube: Some(k), etcd: Some(e), client: Some(c) };
        let mut total = CpuTimes::ZERO;
        at(1.0, 2.0, 0.5).add_since(at(0.5, 1.0, 0.25), &mut total);
        at(3.0, 4.0, 1.0).add_since(at(2.5, 3.0, 0.75), &mut total);
        let per_op = total.per_op_us(1000);
        assert_eq!((per_op.corekube, per_op.etcd, per_op.client, per_op.all()), (Some(1000.0), Some(2000.0), Some(500.0), Some(3500.0)));
        assert_eq!(per_op.text(), "corekube 1000 + etcd 2000 + client 500");

        // A process not known in one round (no pid) stays unknown, and so does the sum.
        CpuTimes { corekube: None, ..at(4.0, 5.0, 2.0) }.add_since(at(3.0, 4.0, 1.0), &mut total);
        let per_op = total.per_op_us(1000);
        assert_eq!((per_op.corekube, per_op.all()), (None, None));
        assert_eq!(per_op.etcd, Some(3000.0));
        assert_eq!(per_op.text(), "corekube ? + etcd 3000 + client 1500");
    }

    #[test]
    fn round_ranges_cover_every_index_once() {
        assert_eq!(round_ranges(10, 3), vec![0..3, 3..6, 6..10]);
        assert_eq!(round_ranges(2, 3), vec![0..1, 1..2]);
        assert_eq!(round_ranges(0, 3), vec![0..0]);
    }
}
