//! controllers (issue 21): a Deployment scaled 0 -> N -> 0 over simulated nodes, end to end
//! (the controller manager's ReplicaSet creates the pods, the scheduler binds them, the
//! benchmark plays every node's kubelet: it marks bound pods Running and Ready at once and
//! confirms deletions), in pods per second, beside the same run's ceiling: N bound pods
//! created straight through the API server by the same kind of client, the better of 16 and
//! 64 at once. Then a rollout of 100 pods (maxSurge 25 %) with that instant readiness, timed
//! from the image change to the Deployment reporting complete.
//!
//! corekube runs with its scheduler and controller manager and without a kubelet, on its own
//! etcd; node health monitoring is slowed so the simulated nodes (which send no heartbeats)
//! stay Ready.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use http::Method;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::api::{Api, JSON, MERGE_PATCH};
use crate::load::closed_loop;
use crate::procs::{start_corekube, start_etcd};
use crate::report::{emit, Row, Target};
use crate::Env;

const NS: &str = "controllers-bench";
const CEILING_NS: &str = "controllers-ceiling";
const NODES: usize = 100;
const ROLLOUT_PODS: i64 = 100;

fn node(name: &str) -> Vec<u8> {
    let capacity = json!({"cpu": "64", "memory": "256Gi", "pods": "110"});
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"capacity": capacity, "allocatable": capacity, "conditions": [{"type": "Ready", "status": "True"}]},
    });
    serde_json::to_vec(&node).unwrap()
}

fn container(image: &str) -> serde_json::Value {
    json!({"name": "app", "image": image, "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}})
}

fn deployment(name: &str, replicas: i64) -> Vec<u8> {
    let d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container("registry.k8s.io/pause:3.10")], "terminationGracePeriodSeconds": 0}},
        },
    });
    serde_json::to_vec(&d).unwrap()
}

/// Plays the kubelet of every simulated node for the pods of `NS`: a bound pod is Running and
/// Ready at once, a pod being deleted is confirmed gone (the kubelet's final delete).
fn spawn_kubelets(api: &Api) -> tokio::task::JoinHandle<()> {
    let pods: kube::Api<Pod> = kube::Api::namespaced(api.client.clone(), NS);
    let writes = Arc::new(Semaphore::new(64));
    tokio::spawn(async move {
        let mut stream = Box::pin(watcher(pods.clone(), watcher::Config::default()));
        while let Some(event) = stream.next().await {
            let pod = match event {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
                _ => continue,
            };
            let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            let name = pod.metadata.name.clone().unwrap_or_default();
            let (pods, permit) = (pods.clone(), writes.clone().acquire_owned().await.expect("semaphore"));
            if pod.metadata.deletion_timestamp.is_some() {
                tokio::spawn(async move {
                    let _ = pods.delete(&name, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await;
                    drop(permit);
                });
            } else if bound && !running {
                tokio::spawn(async move {
                    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
                    let status = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                    let _ = pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status)).await;
                    drop(permit);
                });
            }
        }
    })
}

/// Waits until the Deployment's status satisfies `done`; the time it took.
async fn wait_deployment(api: &Api, name: &str, limit: Duration, done: impl Fn(&serde_json::Value) -> bool) -> Result<Duration, String> {
    let t = Instant::now();
    loop {
        let d = api.get_json(&format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}")).await?;
        if done(&d) {
            return Ok(t.elapsed());
        }
        if t.elapsed() > limit {
            return Err(format!("deployment {name} not done within {limit:?}: status {}", d["status"]));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn complete(d: &serde_json::Value, want: i64) -> bool {
    let s = &d["status"];
    s["observedGeneration"].as_i64() >= d["metadata"]["generation"].as_i64()
        && s["updatedReplicas"].as_i64().unwrap_or(0) == want
        && s["availableReplicas"].as_i64().unwrap_or(0) == want
        && s["replicas"].as_i64().unwrap_or(0) == want
}

async fn scale(api: &Api, name: &str, replicas: i64) -> Result<(), String> {
    let body = serde_json::to_vec(&json!({"spec": {"replicas": replicas}})).unwrap();
    api.ok(Method::PATCH, &format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}/scale"), Some(MERGE_PATCH), body).await.map(|_| ())
}

async fn count_pods(api: &Api, ns: &str) -> Result<usize, String> {
    Ok(api.list_all(&format!("/api/v1/namespaces/{ns}/pods")).await?.len())
}

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let pods = if env.counts.pods < 1000 { 200 } else { 1000 };
    let limit = Duration::from_secs(600);
    let bin = env.corekube_bin.clone()?;
    let dir = env.workdir.join("controllers");
    let etcd = start_etcd(&env.etcd_binary, &dir.join("etcd")).await?;
    let extra = ["--disable", "kubelet", "--node-monitor-grace-period", "1h"];
    let ck = start_corekube(&bin, &dir.join("data"), Some(&etcd.process.url()), None, &extra).await?;
    let api = ck.api.clone();
    api.warm_up(64).await;
    api.ensure_namespace(NS).await?;
    api.ensure_namespace(CEILING_NS).await?;
    let node_names: Vec<String> = (0..NODES).map(|i| format!("sim-{i:03}")).collect();
    let (api2, names2) = (api.clone(), Arc::new(node_names.clone()));
    let made = closed_loop(NODES, 16, limit, move |i| {
        let (api, names) = (api2.clone(), names2.clone());
        async move { api.ok(Method::POST, "/api/v1/nodes", Some(JSON), node(&names[i])).await.map(|_| ()) }
    })
    .await;
    if made.errors > 0 {
        return Err(format!("creating nodes: {}", made.first_error.unwrap_or_default()));
    }

    // The ceiling: bound pods created straight through the API, the better of two widths.
    let mut ceilings = Vec::new();
    for (round, clients) in [(0, 16usize), (1, 64usize)] {
        let (api3, names3) = (api.clone(), Arc::new(node_names.clone()));
        let created = closed_loop(pods, clients, limit, move |i| {
            let (api, names) = (api3.clone(), names3.clone());
            async move {
                let pod = json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("raw-{round}-{i}"), "namespace": CEILING_NS, "labels": {"app": "raw"}},
                    "spec": {"nodeName": names[i % names.len()], "containers": [container("registry.k8s.io/pause:3.10")]},
                });
                api.ok(Method::POST, &format!("/api/v1/namespaces/{CEILING_NS}/pods"), Some(JSON), serde_json::to_vec(&pod).unwrap()).await.map(|_| ())
            }
        })
        .await;
        if created.errors > 0 {
            return Err(format!("ceiling creates: {}", created.first_error.unwrap_or_default()));
        }
        ceilings.push(created.throughput());
        api.ok(Method::DELETE, &format!("/api/v1/namespaces/{CEILING_NS}/pods?gracePeriodSeconds=0"), None, Vec::new()).await?;
    }
    let ceiling = ceilings.iter().copied().fold(0.0, f64::max);

    // Scale 0 -> N -> 0 end to end; etcd's revision counts the writes it took.
    let mut etcd_client = etcd_client::Client::connect([etcd.process.url()], None).await.map_err(|e| format!("etcd: {e}"))?;
    let kubelets = spawn_kubelets(&api);
    api.ok(Method::POST, &format!("/apis/apps/v1/namespaces/{NS}/deployments"), Some(JSON), deployment("scale", 0)).await?;
    wait_deployment(&api, "scale", limit, |d| d["status"]["observedGeneration"].as_i64() >= Some(1)).await?;
    let revision = |s: etcd_client::StatusResponse| s.header().map(|h| h.revision()).unwrap_or(0);
    let before = revision(etcd_client.status().await.map_err(|e| format!("etcd status: {e}"))?);
    let t = Instant::now();
    scale(&api, "scale", pods as i64).await?;
    wait_deployment(&api, "scale", limit, |d| complete(d, pods as i64)).await?;
    let up = t.elapsed();
    let writes_per_pod = (revision(etcd_client.status().await.map_err(|e| format!("etcd status: {e}"))?) - before) as f64 / pods as f64;
    let t = Instant::now();
    scale(&api, "scale", 0).await?;
    wait_deployment(&api, "scale", limit, |d| d["status"]["replicas"].as_i64().unwrap_or(0) == 0 && d["status"]["observedGeneration"] == d["metadata"]["generation"]).await?;
    let deadline = Instant::now() + limit;
    while count_pods(&api, NS).await? > 0 {
        if Instant::now() > deadline {
            return Err("pods not gone after scaling to 0".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let down = t.elapsed();
    let up_rate = pods as f64 / up.as_secs_f64();
    let down_rate = pods as f64 / down.as_secs_f64();

    // A rollout of 100 ready pods to a new image.
    api.ok(Method::POST, &format!("/apis/apps/v1/namespaces/{NS}/deployments"), Some(JSON), deployment("roll", ROLLOUT_PODS)).await?;
    wait_deployment(&api, "roll", limit, |d| complete(d, ROLLOUT_PODS)).await?;
    let patch = json!({"spec": {"template": {"spec": {"containers": [container("registry.k8s.io/pause:3.9")]}}}});
    let t = Instant::now();
    api.ok(Method::PATCH, &format!("/apis/apps/v1/namespaces/{NS}/deployments/roll"), Some("application/strategic-merge-patch+json"), serde_json::to_vec(&patch).unwrap()).await?;
    wait_deployment(&api, "roll", limit, |d| complete(d, ROLLOUT_PODS) && d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2").await?;
    let rollout = t.elapsed();
    kubelets.abort();

    let section = "controllers";
    let note = format!("{NODES} simulated nodes; etcd column: raw creates of bound pods, better of 16 and 64 clients");
    emit(rows, Row::new(section, format!("deployment scale 0 -> {pods}"), "pods/s", Some(up_rate), Some(ceiling)).target(Target::RatioAtLeast(0.5)).note(note.clone()));
    let writes_note = "pod create, its event, binding, Scheduled event, kubelet status, ReplicaSet and Deployment status writes";
    emit(rows, Row::new(section, format!("etcd writes per pod, scale 0 -> {pods}"), "writes", Some(writes_per_pod), None).note(writes_note));
    emit(rows, Row::new(section, format!("deployment scale {pods} -> 0"), "pods/s", Some(down_rate), Some(ceiling)).note(note));
    emit(rows, Row::new(section, format!("rollout of {ROLLOUT_PODS} pods, maxSurge 25 %"), "s", Some(rollout.as_secs_f64()), None).target(Target::AtMost(10.0)).note("instant readiness"));
    env.details.insert(
        "controllers".into(),
        json!({"pods": pods, "nodes": NODES, "writes_per_pod": writes_per_pod, "scale_up_secs": up.as_secs_f64(), "scale_down_secs": down.as_secs_f64(), "ceiling_per_sec": ceilings, "rollout_secs": rollout.as_secs_f64()}),
    );
    drop(ck);
    drop(etcd);
    Ok(())
}
