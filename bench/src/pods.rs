//! pods (issue 20): pod start latency on one node, create to Running as a watch sees it, for
//! batches of 1, 10 and 30 pods created at once, beside the same run's raw CRI latency
//! (RunPodSandbox + CreateContainer + StartContainer driven directly on the node's containerd,
//! as many at once); then 30 running pods with 1 s exec and HTTP probes, and corekube's CPU
//! and RSS growth over 30 s. corekube runs with its node (its managed containerd), on etcd.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use serde_json::json;

use crate::api::{Api, JSON};
use crate::load::{now_ns, Summary};
use crate::procs::{cpu_secs, rss_bytes, start_corekube, start_etcd};
use crate::report::{emit, Row, Target};
use crate::Env;

const NS: &str = "pods-bench";
const BATCHES: &[usize] = &[1, 10, 30];
const PROBED_PODS: usize = 30;
/// A pod range of its own, away from a cluster a developer may be running.
const POD_CIDR: &str = "10.42.240.0/24";

fn pod(name: &str, probed: bool) -> Vec<u8> {
    // busybox's httpd serving /etc: the readiness probe fetches a small file that exists.
    let mut c = json!({"name": "c", "image": "busybox:1.35", "command": ["httpd", "-f", "-p", "8080", "-h", "/etc"]});
    if probed {
        c["livenessProbe"] = json!({"exec": {"command": ["true"]}, "periodSeconds": 1});
        c["readinessProbe"] = json!({"httpGet": {"path": "/group", "port": 8080}, "periodSeconds": 1});
    }
    let spec = json!({"containers": [c], "terminationGracePeriodSeconds": 1});
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": spec})).unwrap()
}

/// Records when each pod of the namespace is first seen Running on an open watch.
async fn record_running(body: kube::client::Body, running: Arc<Mutex<HashMap<String, u64>>>, want: usize, deadline: Instant) -> Result<(), String> {
    crate::api::follow_watch(body, deadline, "pods to run", |obj| {
        if obj["status"]["phase"] != "Running" {
            return false;
        }
        let mut r = running.lock().unwrap();
        r.entry(obj["metadata"]["name"].as_str().unwrap_or_default().to_string()).or_insert_with(now_ns);
        r.len() >= want
    })
    .await
}

async fn current_rv(api: &Api) -> Result<String, String> {
    let list = api.get_json(&format!("/api/v1/namespaces/{NS}/pods?limit=1")).await?;
    Ok(list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string())
}

/// Creates `n` pods at once and returns each one's create-to-Running latency.
async fn corekube_batch(api: &Api, batch: usize, n: usize) -> Result<Summary, String> {
    let rv = current_rv(api).await?;
    let running = Arc::new(Mutex::new(HashMap::new()));
    // The watch is open (its headers are in) before the first create is sent.
    let body = api.stream(&format!("/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={rv}")).await?;
    let watcher = tokio::spawn(record_running(body, running.clone(), n, Instant::now() + Duration::from_secs(120)));
    let t = Instant::now();
    let names: Vec<String> = (0..n).map(|i| format!("b{batch}-{i}")).collect();
    let mut sent = HashMap::new();
    let creates = names.iter().map(|name| {
        let api = api.clone();
        let body = pod(name, false);
        async move { (now_ns(), api.ok(Method::POST, &format!("/api/v1/namespaces/{NS}/pods"), Some(JSON), body).await) }
    });
    for (name, (at, result)) in names.iter().zip(futures::future::join_all(creates).await) {
        result?;
        sent.insert(name.clone(), at);
    }
    watcher.await.map_err(|e| e.to_string())??;
    let lat: Vec<u64> = {
        let running = running.lock().unwrap();
        names.iter().filter_map(|n| Some(running.get(n)?.saturating_sub(sent[n]))).collect()
    };
    let summary = Summary::from_latencies(lat, 0, None, t.elapsed().as_secs_f64());
    for name in &names {
        let _ = api.call(Method::DELETE, &format!("/api/v1/namespaces/{NS}/pods/{name}?gracePeriodSeconds=0"), None, Vec::new()).await;
    }
    Ok(summary)
}

/// The same number of pods started directly through CRI: sandbox, container, start.
async fn raw_cri_batch(cri: &corekube_kubelet::cri::Cri, batch: usize, n: usize) -> Result<Summary, String> {
    use corekube_kubelet::cri;
    let t = Instant::now();
    let starts = (0..n).map(|i| {
        let cri = cri.clone();
        async move {
            let begin = now_ns();
            let name = format!("raw-{batch}-{i}");
            let sandbox = cri::PodSandboxConfig {
                metadata: Some(cri::PodSandboxMetadata { name: name.clone(), uid: format!("raw-uid-{batch}-{i}"), namespace: "raw".into(), attempt: 0 }),
                hostname: name.clone(),
                log_directory: std::env::temp_dir().join(format!("corekube-bench-raw-{name}")).display().to_string(),
                linux: Some(cri::LinuxPodSandboxConfig::default()),
                ..Default::default()
            };
            let id = cri.run_pod_sandbox(sandbox.clone()).await.map_err(|e| e.to_string())?;
            let container = cri::ContainerConfig {
                metadata: Some(cri::ContainerMetadata { name: "c".into(), attempt: 0 }),
                image: Some(cri::ImageSpec { image: "docker.io/library/busybox:1.35".into(), ..Default::default() }),
                command: vec!["httpd".into(), "-f".into(), "-p".into(), "8080".into()],
                log_path: "c.log".into(),
                linux: Some(cri::LinuxContainerConfig::default()),
                ..Default::default()
            };
            let cid = cri.create_container(&id, container, sandbox).await.map_err(|e| e.to_string())?;
            cri.start_container(&cid).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((now_ns() - begin, id))
        }
    });
    let results = futures::future::join_all(starts).await;
    let mut lat = Vec::new();
    for r in results {
        let (l, id) = r?;
        lat.push(l);
        let _ = cri.stop_pod_sandbox(&id).await;
        let _ = cri.remove_pod_sandbox(&id).await;
    }
    Ok(Summary::from_latencies(lat, 0, None, t.elapsed().as_secs_f64()))
}

async fn wait_gone(api: &Api) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(list) = api.get_json(&format!("/api/v1/namespaces/{NS}/pods")).await {
            if list["items"].as_array().is_some_and(|i| i.is_empty()) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let bin = env.corekube_bin.clone()?;
    let dir = env.workdir.join("pods");
    let images = dir.join("images");
    let build = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../images/build")).arg(&images).output().map_err(|e| format!("images/build: {e}"))?;
    if !build.status.success() {
        return Err(format!("images/build failed: {}", String::from_utf8_lossy(&build.stderr)));
    }
    let etcd = start_etcd(&env.etcd_binary, &dir.join("etcd")).await?;
    let images_arg = images.display().to_string();
    let node_args = ["--node-name", "bench-node", "--pod-cidr", POD_CIDR, "--image-dir", images_arg.as_str()];
    let ck = start_corekube(&bin, &dir.join("data"), Some(&etcd.process.url()), None, &node_args).await?;
    let api = ck.api.clone();
    api.ensure_namespace(NS).await?;
    // The node registers once the API server is ready; wait for it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get_json("/api/v1/nodes/bench-node").await.map(|n| n["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))) != Ok(true) {
        if Instant::now() > deadline {
            return Err("the node did not become Ready within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cri = corekube_kubelet::cri::Cri::connect(&dir.join("data/kubelet/containerd/containerd.sock")).map_err(|e| e.to_string())?;
    let mut details = serde_json::Map::new();
    for (i, &n) in BATCHES.iter().enumerate() {
        let raw = raw_cri_batch(&cri, i, n).await?;
        let ours = corekube_batch(&api, i, n).await?;
        wait_gone(&api).await;
        let section = "pods";
        emit(rows, Row::new(section, format!("pod start p50, batch of {n}"), "ms", Some(ours.p50()), Some(raw.p50())).note("baseline: raw CRI"));
        let mut row = Row::new(section, format!("pod start p99, batch of {n}"), "ms", Some(ours.p99()), Some(raw.p99())).note(format!("raw CRI p99 + 300 ms = {:.0}", raw.p99() + 300.0));
        row = row.target(if n == 10 { Target::AtMost(2000.0_f64.min(raw.p99() + 300.0)) } else { Target::AtMost(raw.p99() + 300.0) });
        emit(rows, row);
        details.insert(format!("batch_{n}"), json!({"corekube": ours.to_json(), "raw_cri": raw.to_json()}));
    }
    // 30 pods with 1 s exec and HTTP probes: corekube's CPU and RSS growth over 30 s.
    let pid = ck.proc.pid;
    let rss_before = rss_bytes(pid).unwrap_or(0);
    for i in 0..PROBED_PODS {
        api.ok(Method::POST, &format!("/api/v1/namespaces/{NS}/pods"), Some(JSON), pod(&format!("probed-{i}"), true)).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = api.get_json(&format!("/api/v1/namespaces/{NS}/pods")).await?;
        let ready = list["items"].as_array().map(|i| i.iter().filter(|p| p["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))).count()).unwrap_or(0);
        if ready >= PROBED_PODS {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {ready} of {PROBED_PODS} probed pods became Ready within 120 s"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let window = Duration::from_secs(30);
    let cpu_before = cpu_secs(pid).unwrap_or(0.0);
    tokio::time::sleep(window).await;
    let cpu_share = (cpu_secs(pid).unwrap_or(0.0) - cpu_before) / window.as_secs_f64() * 100.0;
    let rss_growth = rss_bytes(pid).unwrap_or(0).saturating_sub(rss_before) as f64 / (1 << 20) as f64;
    emit(rows, Row::new("pods", "corekube CPU, 30 pods with 1 s exec + HTTP probes, of one core", "%", Some(cpu_share), None).target(Target::AtMost(5.0)));
    emit(rows, Row::new("pods", "corekube RSS growth with those 30 pods", "MiB", Some(rss_growth), None).target(Target::AtMost(30.0)));
    details.insert("probes".into(), json!({"cpu_percent": cpu_share, "rss_growth_mib": rss_growth}));
    env.details.insert("pods".into(), serde_json::Value::Object(details));
    for i in 0..PROBED_PODS {
        let _ = api.call(Method::DELETE, &format!("/api/v1/namespaces/{NS}/pods/probed-{i}?gracePeriodSeconds=0"), None, Vec::new()).await;
    }
    wait_gone(&api).await;
    drop(ck);
    drop(etcd);
    Ok(())
}
