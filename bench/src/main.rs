//! corekube-bench: measures corekube against the etcd it stores into, in the same run, and
//! prints every figure beside its etcd baseline, the ratio and the target of issue 4.
//!
//! Everything runs on loopback; every loop is bounded by a count and a deadline. The exit code
//! is 0 when all measurements ran (targets may be missed), non-zero when one failed to run.

mod api;
mod churn;
mod controllers;
mod create;
mod footprint;
mod load;
mod objects;
mod pods;
mod procs;
mod reads;
mod report;
mod scheduler;
mod streaming;
mod watch;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Map, Value};

use api::Api;
use report::Row;

const MEASUREMENTS: &[&str] = &["create", "reads", "churn", "watch", "footprint", "scheduler", "pods", "controllers", "streaming"];
/// Run by default; `scheduler` (issue 5), `pods` (issue 20: needs root, containerd, runc and
/// the CNI plugins), `controllers` (issue 21) and `streaming` (issue 22: a node, and kubectl
/// on PATH) are asked for with `--only`.
const DEFAULT_MEASUREMENTS: &[&str] = &["create", "reads", "churn", "watch", "footprint"];

/// The API server measurements run corekube without its scheduler: the pods they create have
/// no nodes, and scheduling attempts would add writes of their own.
pub const APISERVER_ONLY: &[&str] = &["--disable", "scheduler"];

#[derive(Parser, Debug)]
#[command(name = "corekube-bench", about = "Benchmarks corekube against raw etcd in the same run (issue 4)")]
struct Cli {
    /// Small counts and short durations (a CI smoke run, under 2 minutes).
    #[arg(long)]
    quick: bool,
    /// Run only these measurements (comma-separated): create, reads, churn, watch, footprint,
    /// and, not in the default set, scheduler, pods, controllers, streaming.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where the results are written as JSON.
    #[arg(long, default_value = "bench-results.json")]
    json: PathBuf,
    /// The corekube binary to start (default: the one beside this release binary, else
    /// target/release/corekube from the current directory or the workspace).
    #[arg(long)]
    corekube: Option<PathBuf>,
    /// The etcd binary to start.
    #[arg(long, default_value = "etcd")]
    etcd_binary: String,
    /// Use this running corekube (with --kubeconfig and --etcd) instead of starting one.
    #[arg(long, requires_all = ["kubeconfig", "etcd"])]
    server: Option<String>,
    /// Admin kubeconfig (client certificate) for --server.
    #[arg(long, requires = "server")]
    kubeconfig: Option<PathBuf>,
    /// Client URL of the etcd that --server stores into (the baseline runs against it).
    #[arg(long, requires = "server")]
    etcd: Option<String>,
    /// PID of --server, to read its RSS (memory figures are n/a without it).
    #[arg(long, requires = "server")]
    server_pid: Option<u32>,
    /// Override: ConfigMaps created per concurrency level.
    #[arg(long)]
    configmaps: Option<usize>,
    /// Override: Pods created per concurrency level.
    #[arg(long)]
    pods: Option<usize>,
    /// Override: seconds of steady churn.
    #[arg(long)]
    churn_secs: Option<u64>,
    /// Override: updates per second during the watch fan-out.
    #[arg(long)]
    watch_rate: Option<f64>,
    /// Also measure the most watchers each on its own HTTP/1.1 connection (as kube-rs clients
    /// watch), for comparison with one shared HTTP/2 connection: about 25 s more.
    #[arg(long)]
    watch_http1_each: bool,
}

/// Counts and durations of one run.
#[derive(Debug, Clone)]
pub struct Counts {
    pub configmaps: usize,
    pub configmap_bytes: usize,
    pub pods: usize,
    pub concurrency: Vec<usize>,
    pub churn_rate: f64,
    pub churn_secs: u64,
    pub churn_objects: usize,
    pub gets: usize,
    pub get_clients: usize,
    pub lists_ns: usize,
    pub lists_cluster: usize,
    pub list_clients: usize,
    pub watchers: Vec<usize>,
    pub watch_pods: usize,
    pub watch_updates: usize,
    pub watch_rate: f64,
    pub watch_drain_secs: u64,
    /// Whether the watch measurement adds a round of one HTTP/1.1 connection per watcher.
    pub watch_http1_each: bool,
    pub footprint_objects: usize,
    pub settle_secs: u64,
    /// Scheduler: cluster sizes (nodes), pods already placed, pods to schedule, clients.
    pub sched_nodes: Vec<usize>,
    pub sched_placed: usize,
    pub sched_pods: usize,
    pub sched_clients: usize,
    /// Upper bound of one phase (one side of one figure).
    pub phase_limit: Duration,
    /// Upper bound of one read phase (LISTs of thousands of pods are slow; the rate is taken
    /// over what was done in time).
    pub read_limit: Duration,
}

impl Counts {
    fn full() -> Counts {
        Counts {
            configmaps: 10_000,
            configmap_bytes: 1024,
            pods: 5_000,
            concurrency: vec![1, 16, 64],
            churn_rate: 20.0,
            churn_secs: 60,
            churn_objects: 100,
            gets: 10_000,
            get_clients: 16,
            lists_ns: 200,
            lists_cluster: 50,
            list_clients: 4,
            watchers: vec![1, 100, 1000],
            watch_pods: 100,
            watch_updates: 2000,
            watch_rate: 100.0,
            watch_drain_secs: 30,
            watch_http1_each: false,
            footprint_objects: 10_000,
            settle_secs: 3,
            sched_nodes: vec![500, 5000],
            sched_placed: 1000,
            sched_pods: 5000,
            sched_clients: 16,
            phase_limit: Duration::from_secs(120),
            read_limit: Duration::from_secs(20),
        }
    }

    fn quick() -> Counts {
        Counts {
            configmaps: 300,
            pods: 200,
            churn_secs: 5,
            churn_objects: 20,
            gets: 1000,
            lists_ns: 20,
            lists_cluster: 5,
            watchers: vec![1, 10, 100],
            watch_updates: 200,
            watch_drain_secs: 10,
            footprint_objects: 1000,
            settle_secs: 1,
            sched_nodes: vec![100],
            sched_placed: 100,
            sched_pods: 300,
            phase_limit: Duration::from_secs(15),
            read_limit: Duration::from_secs(10),
            ..Counts::full()
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "configmaps": self.configmaps, "configmap_bytes": self.configmap_bytes, "pods": self.pods,
            "concurrency": self.concurrency, "churn_rate": self.churn_rate, "churn_secs": self.churn_secs,
            "gets": self.gets, "get_clients": self.get_clients, "lists_ns": self.lists_ns,
            "lists_cluster": self.lists_cluster, "list_clients": self.list_clients,
            "watchers": self.watchers, "watch_pods": self.watch_pods, "watch_updates": self.watch_updates,
            "watch_rate": self.watch_rate, "watch_http1_each": self.watch_http1_each, "footprint_objects": self.footprint_objects,
            "sched_nodes": self.sched_nodes, "sched_placed": self.sched_placed, "sched_pods": self.sched_pods, "sched_clients": self.sched_clients,
            "phase_limit_secs": self.phase_limit.as_secs(), "read_limit_secs": self.read_limit.as_secs(),
        })
    }
}

/// Pods stored in corekube for the read measurements: `pod-0` .. `pod-{count-1}` in `namespace`.
#[derive(Debug, Clone)]
pub struct Seed {
    pub namespace: String,
    pub count: usize,
}

/// What every measurement works with.
pub struct Env {
    pub api: Api,
    pub etcd: etcd_client::Client,
    pub corekube_pid: Option<u32>,
    pub etcd_pid: Option<u32>,
    pub corekube_bin: Result<PathBuf, String>,
    pub etcd_binary: String,
    pub counts: Counts,
    /// Unique per run: namespaces and etcd keys carry it, so runs against a given server do not collide.
    pub tag: String,
    pub workdir: PathBuf,
    /// (etcd spawn → ready, corekube spawn → /readyz on that ready etcd), when the benchmark started them.
    pub startup: Option<(f64, f64)>,
    pub pod_seed: Option<Seed>,
    /// Raw figures per measurement, written to the JSON file.
    pub details: Map<String, Value>,
}

impl Env {
    /// Key of one object in the etcd baseline: `/bench/{tag}/{resource}/{namespace}/{name}`.
    pub fn etcd_prefix(&self, resource: &str, ns: &str) -> String {
        format!("/bench/{}/{resource}/{ns}/", self.tag)
    }
}

/// Where corekube keeps a namespace's objects of a resource in etcd (`""` for all namespaces):
/// the read baseline ranges over these very keys, so both sides read the same stored bytes.
pub fn stored_prefix(resource: &str, ns: &str) -> String {
    if ns.is_empty() {
        format!("/registry/{resource}/")
    } else {
        format!("/registry/{resource}/{ns}/")
    }
}

fn find_corekube(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return if p.is_file() { Ok(p.to_path_buf()) } else { Err(format!("--corekube {}: no such file", p.display())) };
    }
    // A release benchmark looks beside itself first: the same build, wherever CARGO_TARGET_DIR
    // put it. (A debug one would find a debug corekube there, which is not worth measuring.)
    let sibling = std::env::current_exe().ok().filter(|_| !cfg!(debug_assertions)).map(|exe| exe.with_file_name("corekube"));
    let rel = Path::new("target/release/corekube");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    for p in sibling.into_iter().chain([rel.to_path_buf(), workspace]) {
        if p.is_file() {
            return Ok(std::fs::canonicalize(&p).unwrap_or(p));
        }
    }
    Err("target/release/corekube not found: build it first with `cargo build --release` (or pass --corekube PATH)".into())
}

fn machine() -> Value {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "memory_gib": (mem_kb as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
    })
}

fn etcd_version(binary: &str) -> String {
    std::process::Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(|l| l.trim_start_matches("etcd Version:").trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // On Ctrl-C the run future is dropped: its processes are stopped and its directory removed.
    let outcome = tokio::select! {
        r = run(cli) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("corekube-bench: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(cli: Cli) -> Result<i32, String> {
    let started = Instant::now();
    for name in &cli.only {
        if !MEASUREMENTS.contains(&name.as_str()) {
            return Err(format!("--only {name}: unknown measurement (choose from {})", MEASUREMENTS.join(", ")));
        }
    }
    let selected: Vec<&str> = if cli.only.is_empty() {
        DEFAULT_MEASUREMENTS.to_vec()
    } else {
        MEASUREMENTS.iter().copied().filter(|m| cli.only.iter().any(|o| o == m)).collect()
    };
    let mut counts = if cli.quick { Counts::quick() } else { Counts::full() };
    if let Some(n) = cli.configmaps {
        counts.configmaps = n;
    }
    if let Some(n) = cli.pods {
        counts.pods = n;
    }
    if let Some(s) = cli.churn_secs {
        counts.churn_secs = s;
    }
    if let Some(r) = cli.watch_rate {
        counts.watch_rate = r;
    }
    counts.watch_http1_each = cli.watch_http1_each;

    let corekube_bin = find_corekube(cli.corekube.as_deref());
    let tmp = tempfile::Builder::new().prefix("corekube-bench-").tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let tag = format!("{:05x}", (secs ^ std::process::id() as u64) & 0xfffff);

    // Our own etcd and corekube, or the given ones.
    // Declared before `owned`, so that corekube stops before its etcd on every way out.
    let mut owned_etcd = None;
    let mut owned = Vec::new();
    let (api, etcd_url, corekube_pid, etcd_pid, startup) = match &cli.server {
        None => {
            let bin = corekube_bin.clone()?;
            let etcd = procs::start_etcd(&cli.etcd_binary, &tmp.path().join("etcd")).await?;
            let ck = procs::start_corekube(&bin, &tmp.path().join("corekube").join("data"), Some(&etcd.process.url()), None, APISERVER_ONLY).await?;
            let r = (etcd.process.url(), Some(ck.proc.pid), Some(etcd.process.pid()), Some((etcd.ready_secs, ck.ready_secs)));
            let api = ck.api.clone();
            owned.push(ck.proc);
            owned_etcd = Some(etcd.process);
            (api, r.0, r.1, r.2, r.3)
        }
        Some(server) => {
            let kubeconfig = cli.kubeconfig.as_deref().ok_or("--server needs --kubeconfig")?;
            let api = Api::from_kubeconfig(kubeconfig, Some(server)).await?;
            api.ok(http::Method::GET, "/readyz", None, Vec::new()).await.map_err(|e| format!("{server} is not ready: {e}"))?;
            (api, cli.etcd.clone().ok_or("--server needs --etcd")?, cli.server_pid, None, None)
        }
    };
    let etcd = etcd_client::Client::connect([etcd_url.as_str()], None).await.map_err(|e| format!("etcd {etcd_url}: {e}"))?;

    let machine = machine();
    let etcd_ver = etcd_version(&cli.etcd_binary);
    println!(
        "corekube-bench{}: {} cores, {} GiB, kernel {}, etcd {}, corekube {}",
        if cli.quick { " --quick" } else { "" },
        machine["cores"],
        machine["memory_gib"],
        machine["kernel"].as_str().unwrap_or(""),
        etcd_ver,
        cli.server.clone().unwrap_or_else(|| corekube_bin.as_ref().map(|p| p.display().to_string()).unwrap_or_default())
    );
    println!("measurements: {}", selected.join(", "));
    report::print_header();

    let mut env = Env {
        api,
        etcd,
        corekube_pid,
        etcd_pid,
        corekube_bin,
        etcd_binary: cli.etcd_binary.clone(),
        counts: counts.clone(),
        tag,
        workdir: tmp.path().to_path_buf(),
        startup,
        pod_seed: None,
        details: Map::new(),
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut errors: Vec<Value> = Vec::new();
    for m in &selected {
        println!("{m}");
        let t = Instant::now();
        let r = match *m {
            "create" => create::run(&mut env, &mut rows).await,
            "reads" => reads::run(&mut env, &mut rows).await,
            "churn" => churn::run(&mut env, &mut rows).await,
            "watch" => watch::run(&mut env, &mut rows).await,
            "footprint" => footprint::run(&mut env, &mut rows).await,
            "scheduler" => scheduler::run(&mut env, &mut rows).await,
            "pods" => pods::run(&mut env, &mut rows).await,
            "controllers" => controllers::run(&mut env, &mut rows).await,
            "streaming" => streaming::run(&mut env, &mut rows).await,
            _ => unreachable!(),
        };
        if let Err(e) = r {
            eprintln!("  ERROR in {m}: {e}");
            errors.push(json!({"measurement": m, "error": e}));
        }
        println!("  ({m} took {:.1} s)", t.elapsed().as_secs_f64());
    }

    report::print_table(&rows);
    let result = json!({
        "date": jiff::Timestamp::now().to_string(),
        "quick": cli.quick,
        "machine": machine,
        "etcd_version": etcd_ver,
        "counts": counts.to_json(),
        "measurements": selected,
        "rows": rows.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "details": env.details,
        "errors": errors,
        "seconds": load::round3(started.elapsed().as_secs_f64()),
    });
    std::fs::write(&cli.json, serde_json::to_vec_pretty(&result).unwrap()).map_err(|e| format!("writing {}: {e}", cli.json.display()))?;
    println!("results written to {} ({:.0} s)", cli.json.display(), started.elapsed().as_secs_f64());
    drop(env);
    drop(owned);
    drop(owned_etcd);
    if errors.is_empty() {
        Ok(0)
    } else {
        eprintln!("{} measurement(s) failed to run", errors.len());
        Ok(1)
    }
}
