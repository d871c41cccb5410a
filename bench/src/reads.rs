//! reads: GET by name and LIST (namespace, cluster-wide, label selector matching 1 %), each with
//! resourceVersion unset (consistent, read from etcd) and "0" (served from the watch cache), vs
//! etcd single-key reads and prefix range reads of the same keys: the objects as corekube stored
//! them, so both sides move the same bytes (what etcd returns is the floor of a consistent read).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use etcd_client::GetOptions;
use serde_json::{json, Value};

use crate::create::{create_corekube, notes, Batch};
use crate::load::{closed_loop, Summary};
use crate::report::{emit, Row, Target};
use crate::{stored_prefix, Env, Seed};

/// Pods to read: the ones `create` stored at the highest concurrency, or a fresh set.
async fn seed(env: &mut Env) -> Result<Seed, String> {
    if let Some(s) = &env.pod_seed {
        return Ok(s.clone());
    }
    let n = env.counts.pods;
    let ns = format!("bench-read-{}", env.tag);
    env.api.ensure_namespace(&ns).await?;
    let batch = Arc::new(Batch::pods(&ns, "pod", n));
    let k = create_corekube(&env.api, "pods", &ns, &batch, 64, env.counts.phase_limit * 2).await;
    if k.ok != n {
        return Err(format!("seeding {n} pods: {} ok, first error: {:?}", k.ok, k.first_error));
    }
    let s = Seed { namespace: ns, count: n };
    env.pod_seed = Some(s.clone());
    Ok(s)
}

/// `n` GETs of `path(i)` from `clients` loops; also returns the mean response size.
async fn corekube_reads(env: &Env, n: usize, clients: usize, path: impl Fn(usize) -> String + Send + Sync + 'static) -> (Summary, f64) {
    let api = env.api.clone();
    let bytes = Arc::new(AtomicUsize::new(0));
    let b2 = bytes.clone();
    let path = Arc::new(path);
    api.warm_up(clients).await;
    let s = closed_loop(n, clients, env.counts.read_limit, move |i| {
        let (api, path, bytes) = (api.clone(), path.clone(), b2.clone());
        async move {
            let len = api.get_counted(&path(i)).await?;
            bytes.fetch_add(len, Ordering::Relaxed);
            Ok(())
        }
    })
    .await;
    let mean = bytes.load(Ordering::Relaxed) as f64 / s.ok.max(1) as f64;
    (s, mean)
}

/// `n` etcd range reads (linearizable, as a consistent read is): one key, or a prefix.
async fn etcd_reads(env: &Env, n: usize, clients: usize, prefix: bool, key: impl Fn(usize) -> String + Send + Sync + 'static) -> (Summary, f64) {
    // tonic's default 4 MiB limit on a response is too small for a range of thousands of pods.
    let kv = env.etcd.kv_client().max_decoding_message_size(1 << 30);
    let bytes = Arc::new(AtomicUsize::new(0));
    let b2 = bytes.clone();
    let key = Arc::new(key);
    let s = closed_loop(n, clients, env.counts.read_limit, move |i| {
        let (mut kv, key, bytes) = (kv.clone(), key(i), b2.clone());
        async move {
            let opts = prefix.then(|| GetOptions::new().with_prefix());
            let r = kv.get(key.clone(), opts).await.map_err(|e| format!("etcd get {key}: {e}"))?;
            if r.kvs().is_empty() {
                return Err(format!("etcd get {key}: nothing found"));
            }
            bytes.fetch_add(r.kvs().iter().map(|kv| kv.key().len() + kv.value().len()).sum(), Ordering::Relaxed);
            Ok(())
        }
    })
    .await;
    let mean = bytes.load(Ordering::Relaxed) as f64 / s.ok.max(1) as f64;
    (s, mean)
}

/// Number of items of a collection (read in pages, so it works whatever the size), or the error.
async fn count_items(env: &Env, path: &str) -> Value {
    match env.api.list_all(path).await {
        Ok(items) => json!(items.len()),
        Err(e) => json!(e),
    }
}

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let seed = seed(env).await?;
    let c = env.counts.clone();
    let ns = seed.namespace.clone();
    let count = seed.count;
    let ns_prefix = stored_prefix("pods", &ns);
    let cluster_prefix = stored_prefix("pods", "");
    let mut details = serde_json::Map::new();

    // The same number of objects on both sides, or the comparison means little.
    let cluster_in_etcd = {
        let mut kv = env.etcd.kv_client();
        let r = kv.get(cluster_prefix.clone(), Some(GetOptions::new().with_prefix().with_count_only())).await.map_err(|e| e.to_string())?;
        r.count() as usize
    };
    let cluster_in_corekube = count_items(env, "/api/v1/pods").await;
    let ns_in_corekube = count_items(env, &format!("/api/v1/namespaces/{ns}/pods")).await;
    let selected = count_items(env, &format!("/api/v1/namespaces/{ns}/pods?labelSelector=bench-group%3Dg7")).await;
    details.insert(
        "objects".into(),
        json!({"namespace_pods": ns_in_corekube, "cluster_pods_corekube": cluster_in_corekube, "cluster_pods_etcd": cluster_in_etcd, "label_selected": selected}),
    );

    // GET by name.
    let (e_get, e_get_b) = {
        let p = ns_prefix.clone();
        etcd_reads(env, c.gets, c.get_clients, false, move |i| format!("{p}pod-{}", i % count)).await
    };
    for (rv, q, target) in [("unset", "", None), ("0", "?resourceVersion=0", Some(Target::RatioAtLeast(2.0)))] {
        let ns2 = ns.clone();
        let (k, kb) = corekube_reads(env, c.gets, c.get_clients, move |i| format!("/api/v1/namespaces/{ns2}/pods/pod-{}{q}", i % count)).await;
        let mut r = Row::new("reads", format!("GET pod rv={rv} c={} throughput", c.get_clients), "ops/s", Some(k.throughput()), Some(e_get.throughput())).note(notes(&k, &e_get));
        if let Some(t) = target {
            r = r.target(t);
        }
        emit(rows, r);
        emit(rows, Row::new("reads", format!("GET pod rv={rv} p99"), "ms", Some(k.p99()), Some(e_get.p99())));
        details.insert(format!("get_rv_{rv}"), json!({"corekube": k.to_json(), "corekube_mean_bytes": kb, "etcd": e_get.to_json(), "etcd_mean_bytes": e_get_b}));
    }

    // LISTs: (label, path without query, extra query, etcd prefix, count).
    let lists = [
        ("LIST namespace", format!("/api/v1/namespaces/{ns}/pods"), "", ns_prefix.clone(), c.lists_ns),
        ("LIST cluster", "/api/v1/pods".to_string(), "", cluster_prefix.clone(), c.lists_cluster),
        ("LIST ns selector 1%", format!("/api/v1/namespaces/{ns}/pods"), "labelSelector=bench-group%3Dg7", ns_prefix.clone(), c.lists_ns),
    ];
    // etcd cannot filter by label: the selector's baseline is the namespace's range again, so
    // each prefix is ranged once and its figures serve every row that reads it.
    let mut ranged: HashMap<String, (Summary, f64)> = HashMap::new();
    for (label, path, extra, prefix, n) in lists {
        let (e, eb) = match ranged.get(&prefix) {
            Some(r) => r.clone(),
            None => {
                let p2 = prefix.clone();
                let r = etcd_reads(env, n, c.list_clients, true, move |_| p2.clone()).await;
                ranged.insert(prefix.clone(), r.clone());
                r
            }
        };
        for (rv, target) in [("unset", Target::RatioAtLeast(0.8)), ("0", Target::RatioAtLeast(2.0))] {
            let mut query: Vec<String> = Vec::new();
            if !extra.is_empty() {
                query.push(extra.to_string());
            }
            if rv == "0" {
                query.push("resourceVersion=0".into());
            }
            let full = if query.is_empty() { path.clone() } else { format!("{path}?{}", query.join("&")) };
            let (k, kb) = corekube_reads(env, n, c.list_clients, move |_| full.clone()).await;
            let mut note = format!("{:.1} MB per response, etcd range {:.1} MB {}", kb / 1e6, eb / 1e6, notes(&k, &e));
            if k.ok + k.errors < n || e.ok + e.errors < n {
                note = format!("{note} {} and {} of {n} done in {} s", k.ok, e.ok, c.read_limit.as_secs());
            }
            emit(
                rows,
                Row::new("reads", format!("{label} rv={rv} c={} throughput", c.list_clients), "ops/s", Some(k.throughput()), Some(e.throughput()))
                    .target(target)
                    .note(note.trim().to_string()),
            );
            emit(rows, Row::new("reads", format!("{label} rv={rv} p99"), "ms", Some(k.p99()), Some(e.p99())));
            details.insert(
                format!("{label} rv={rv}"),
                json!({"corekube": k.to_json(), "corekube_mean_bytes": kb, "etcd": e.to_json(), "etcd_mean_bytes": eb, "etcd_prefix": prefix}),
            );
        }
    }
    env.details.insert("reads".into(), details.into());
    Ok(())
}
