//! scheduler (issue 5), after upstream's scheduler_perf "SchedulingBasic": N nodes, some pods
//! already placed, then M new pods to schedule, in two phases:
//!
//! * backlog: the M pods are created while no scheduler runs; then `corekube scheduler`
//!   starts and the rate at which it binds them (first bind to last) is the throughput,
//!   compared with the same run's raw bind ceiling: M bindings POSTed with no scheduling to
//!   pods no scheduler looks at, half at the benchmark's concurrency and half at 64 clients,
//!   the better rate counting (the scheduler keeps up to 64 binds in flight);
//! * steady: M more pods created while the scheduler runs; per-pod latency from the create
//!   request to the watch seeing spec.nodeName (p50, p99).
//!
//! Each cluster size gets a fresh etcd and a corekube without its built-in scheduler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use serde_json::json;

use crate::api::{Api, JSON};
use crate::load::{closed_loop, now_ns, Summary};
use crate::procs::{start_corekube, start_etcd, start_scheduler};
use crate::report::{emit, Row, Target};
use crate::Env;

const NS: &str = "sched-bench";
const CEILING_NS: &str = "bind-ceiling";
/// The wider of the two concurrencies the bind ceiling is measured at.
const CEILING_WIDE_CLIENTS: usize = 64;

/// upstream's node-default.yaml: 4 cpu, 32 Gi, 110 pods.
fn node(name: &str) -> Vec<u8> {
    let capacity = json!({"cpu": "4", "memory": "32Gi", "pods": "110"});
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"capacity": capacity, "allocatable": capacity, "conditions": [{"type": "Ready", "status": "True"}]},
    });
    serde_json::to_vec(&node).unwrap()
}

/// upstream's pod-default.yaml: one container requesting 100m cpu and 500Mi memory.
fn pod(ns: &str, name: &str, node: Option<&str>, scheduler: Option<&str>) -> Vec<u8> {
    let mut spec = json!({"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]});
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    if let Some(s) = scheduler {
        spec["schedulerName"] = json!(s);
    }
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec})).unwrap()
}

async fn create_all(api: &Api, path: &str, bodies: Vec<Vec<u8>>, clients: usize, limit: Duration) -> Summary {
    let (api, bodies, path) = (api.clone(), Arc::new(bodies), Arc::new(path.to_string()));
    closed_loop(bodies.len(), clients, limit, move |i| {
        let (api, path, body) = (api.clone(), path.clone(), bodies[i].clone());
        async move { api.ok(Method::POST, &path, Some(JSON), body).await.map(|_| ()) }
    })
    .await
}

/// Follows a pod watch and records when each pod whose name starts with `prefix` was first
/// seen with a node, until `want` of them were.
async fn record_bindings(
    api: Api,
    ns: String,
    from_rv: String,
    prefix: &'static str,
    bound: Arc<Mutex<HashMap<String, u64>>>,
    want: usize,
    deadline: Instant,
) -> Result<(), String> {
    let path = format!("/api/v1/namespaces/{ns}/pods?watch=1&resourceVersion={from_rv}&allowWatchBookmarks=true");
    let body = api.stream(&path).await?;
    crate::api::follow_watch(body, deadline, "bindings", |obj| {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if !name.starts_with(prefix) || obj["spec"]["nodeName"].as_str().is_none_or(|n| n.is_empty()) {
            return false;
        }
        let mut b = bound.lock().unwrap();
        b.entry(name.to_string()).or_insert_with(now_ns);
        b.len() >= want
    })
    .await
}

struct Round {
    nodes: usize,
    /// Backlog phase: pods bound per second, first bind to last.
    pods_per_sec: f64,
    /// Backlog phase: seconds from starting the scheduler to its first bind (cache sync).
    first_bind_secs: f64,
    /// Steady phase: created-to-bound latencies.
    p50_ms: f64,
    p99_ms: f64,
    steady_per_sec: f64,
    ceiling_per_sec: f64,
}

fn pod_bodies(ns: &str, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| pod(ns, &format!("{prefix}{i}"), None, None)).collect()
}

async fn current_rv(api: &Api, ns: &str) -> Result<String, String> {
    let list = api.get_json(&format!("/api/v1/namespaces/{ns}/pods?limit=1")).await?;
    Ok(list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string())
}

async fn round(env: &Env, nodes: usize) -> Result<Round, String> {
    let c = &env.counts;
    let bin = env.corekube_bin.clone()?;
    let dir = env.workdir.join(format!("sched-{nodes}"));
    let etcd = start_etcd(&env.etcd_binary, &dir.join("etcd")).await?;
    let ck = start_corekube(&bin, &dir.join("data"), Some(&etcd.process.url()), None, crate::APISERVER_ONLY).await?;
    let api = ck.api.clone();
    api.warm_up(c.sched_clients).await;
    api.ensure_namespace(NS).await?;
    api.ensure_namespace(CEILING_NS).await?;
    let pods_path = format!("/api/v1/namespaces/{NS}/pods");

    let names: Vec<String> = (0..nodes).map(|i| format!("node-{i:05}")).collect();
    let made = create_all(&api, "/api/v1/nodes", names.iter().map(|n| node(n)).collect(), 32, c.phase_limit).await;
    if made.errors > 0 {
        return Err(format!("creating nodes: {}", made.first_error.unwrap_or_default()));
    }
    let placed: Vec<Vec<u8>> = (0..c.sched_placed).map(|i| pod(NS, &format!("placed-{i}"), Some(&names[i % nodes]), None)).collect();
    let made = create_all(&api, &pods_path, placed, 32, c.phase_limit).await;
    if made.errors > 0 {
        return Err(format!("creating placed pods: {}", made.first_error.unwrap_or_default()));
    }

    // Backlog: pending pods first, then the scheduler.
    let made = create_all(&api, &pods_path, pod_bodies(NS, "backlog-", c.sched_pods), 32, c.phase_limit).await;
    if made.errors > 0 {
        return Err(format!("creating pending pods: {}", made.first_error.unwrap_or_default()));
    }
    let bound = Arc::new(Mutex::new(HashMap::new()));
    let deadline = Instant::now() + c.phase_limit * 2;
    let rv = current_rv(&api, NS).await?;
    let watcher = tokio::spawn(record_bindings(api.clone(), NS.into(), rv, "backlog-", bound.clone(), c.sched_pods, deadline));
    let started = now_ns();
    let _scheduler = start_scheduler(&bin, &dir.join("data").join("scheduler.kubeconfig"), dir.join("scheduler.log"))?;
    watcher.await.map_err(|e| e.to_string())??;
    let times: Vec<u64> = bound.lock().unwrap().values().copied().collect();
    let (first, last) = (times.iter().min().copied().unwrap_or(started), times.iter().max().copied().unwrap_or(started));
    let pods_per_sec = times.len().saturating_sub(1) as f64 / ((last - first) as f64 / 1e9).max(1e-9);
    let first_bind_secs = first.saturating_sub(started) as f64 / 1e9;

    // Steady: create while the scheduler runs; latency per pod.
    let bound = Arc::new(Mutex::new(HashMap::new()));
    let rv = current_rv(&api, NS).await?;
    let watcher = tokio::spawn(record_bindings(api.clone(), NS.into(), rv, "pod-", bound.clone(), c.sched_pods, deadline + c.phase_limit));
    let created_at = Arc::new(Mutex::new(HashMap::new()));
    let start = now_ns();
    let (api2, created2) = (api.clone(), created_at.clone());
    let made = closed_loop(c.sched_pods, c.sched_clients, c.phase_limit, move |i| {
        let (api, created) = (api2.clone(), created2.clone());
        async move {
            let name = format!("pod-{i}");
            created.lock().unwrap().insert(name.clone(), now_ns());
            api.ok(Method::POST, &format!("/api/v1/namespaces/{NS}/pods"), Some(JSON), pod(NS, &name, None, None)).await.map(|_| ())
        }
    })
    .await;
    if made.errors > 0 {
        return Err(format!("creating pods to schedule: {}", made.first_error.unwrap_or_default()));
    }
    watcher.await.map_err(|e| e.to_string())??;
    let bound = bound.lock().unwrap().clone();
    let created = created_at.lock().unwrap().clone();
    let mut latencies: Vec<u64> = created.iter().filter_map(|(n, t)| bound.get(n).map(|b| b.saturating_sub(*t))).collect();
    let steady_last = created.keys().filter_map(|n| bound.get(n)).max().copied().unwrap_or(start);
    let steady_per_sec = latencies.len() as f64 / ((steady_last.saturating_sub(start)) as f64 / 1e9).max(1e-9);
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).map(|n| *n as f64 / 1e6).unwrap_or(f64::NAN);

    // The ceiling: the same number of binds, no scheduling. The scheduler keeps up to 64 binds
    // in flight, so the ceiling is the better of two concurrencies: the benchmark's clients
    // and 64 (half of the pods each).
    let unscheduled: Vec<Vec<u8>> = (0..c.sched_pods).map(|i| pod(CEILING_NS, &format!("raw-{i}"), None, Some("none"))).collect();
    create_all(&api, &format!("/api/v1/namespaces/{CEILING_NS}/pods"), unscheduled, 32, c.phase_limit).await;
    let names = Arc::new(names);
    let half = c.sched_pods / 2;
    let mut ceilings = Vec::new();
    for (offset, count, clients) in [(0, half, c.sched_clients), (half, c.sched_pods - half, CEILING_WIDE_CLIENTS)] {
        let (api3, names) = (api.clone(), names.clone());
        let binds = closed_loop(count, clients, c.phase_limit, move |i| {
            let (api, names) = (api3.clone(), names.clone());
            async move {
                let name = format!("raw-{}", offset + i);
                let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"kind": "Node", "name": names[i % names.len()]}});
                api.ok(Method::POST, &format!("/api/v1/namespaces/{CEILING_NS}/pods/{name}/binding"), Some(JSON), serde_json::to_vec(&binding).unwrap())
                    .await
                    .map(|_| ())
            }
        })
        .await;
        ceilings.push(binds.throughput());
    }
    let ceiling_per_sec = ceilings.iter().copied().fold(0.0, f64::max);
    drop(ck);
    drop(etcd);
    Ok(Round { nodes, pods_per_sec, first_bind_secs, p50_ms: pct(0.50), p99_ms: pct(0.99), steady_per_sec, ceiling_per_sec })
}

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let sizes = env.counts.sched_nodes.clone();
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let mut details = Vec::new();
    for nodes in sizes {
        let r = round(env, nodes).await?;
        let c = &env.counts;
        let note = format!("{} placed, {} pending, then scheduler started; etcd column: raw bind ceiling, the better of {} and {CEILING_WIDE_CLIENTS} clients", c.sched_placed, c.sched_pods, c.sched_clients);
        let mut throughput = Row::new("scheduler", format!("schedule {nodes} nodes throughput"), "pods/s", Some(r.pods_per_sec), Some(r.ceiling_per_sec)).note(note);
        if nodes == largest {
            throughput = throughput.target(Target::RatioAtLeast(0.7));
            emit(rows, throughput);
            emit(rows, Row::new("scheduler", format!("schedule {nodes} nodes throughput, absolute"), "pods/s", Some(r.pods_per_sec), None).target(Target::AtLeast(300.0)));
        } else {
            emit(rows, throughput);
        }
        emit(rows, Row::new("scheduler", format!("schedule {nodes} nodes start to first bind"), "s", Some(r.first_bind_secs), None).note("scheduler process start, cache sync"));
        let steady = format!("{} pods created by {} clients while it runs", c.sched_pods, c.sched_clients);
        emit(rows, Row::new("scheduler", format!("schedule {nodes} nodes steady rate"), "pods/s", Some(r.steady_per_sec), None).note(steady));
        emit(rows, Row::new("scheduler", format!("schedule {nodes} nodes created-to-bound p50"), "ms", Some(r.p50_ms), None));
        emit(rows, Row::new("scheduler", format!("schedule {nodes} nodes created-to-bound p99"), "ms", Some(r.p99_ms), None));
        details.push(json!({
            "nodes": r.nodes, "backlog_pods_per_sec": r.pods_per_sec, "first_bind_secs": r.first_bind_secs,
            "steady_pods_per_sec": r.steady_per_sec, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "bind_ceiling_per_sec": r.ceiling_per_sec,
        }));
    }
    env.details.insert("scheduler".into(), json!(details));
    Ok(())
}
