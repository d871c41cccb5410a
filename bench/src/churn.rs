//! churn: steady updates (20/s for 60 s) of ConfigMaps, p99 latency, vs etcd puts of the same
//! size at the same rate. The two loads run side by side: 20 writes a second is a few percent
//! of either side's capacity, and the run is a minute shorter than one side after the other.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use serde_json::json;

use crate::api::MERGE_PATCH;
use crate::create::{create_corekube, create_etcd, notes, Batch};
use crate::load::{half_period_later, paced};
use crate::objects;
use crate::report::{emit, Row, Target};
use crate::Env;

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let c = env.counts.clone();
    let ns = format!("bench-churn-{}", env.tag);
    env.api.ensure_namespace(&ns).await?;
    let k_objects = c.churn_objects;
    let batch = Arc::new(Batch::configmaps(&ns, "churn", k_objects, c.configmap_bytes));
    let prefix = env.etcd_prefix("configmaps", &ns);
    let e = create_etcd(&env.etcd, &prefix, &batch, 16, c.phase_limit).await;
    let k = create_corekube(&env.api, "configmaps", &ns, &batch, 16, c.phase_limit).await;
    if e.ok != k_objects || k.ok != k_objects {
        return Err(format!("preparing {k_objects} ConfigMaps: {}", notes(&k, &e)));
    }

    let duration = Duration::from_secs(c.churn_secs);
    let count = (c.churn_rate * c.churn_secs as f64).round() as usize;

    let kv = env.etcd.kv_client();
    let (p2, size) = (prefix.clone(), c.configmap_bytes);
    let etcd_load = paced(c.churn_rate, duration, count, move |i| {
        let mut kv = kv.clone();
        let key = format!("{p2}churn-{}", i % k_objects);
        let value = objects::configmap("x", &key, i + 1_000_000, size);
        async move { kv.put(key.clone(), value, None).await.map(|_| ()).map_err(|e| format!("etcd put {key}: {e}")) }
    });

    let api = env.api.clone();
    let ns2 = ns.clone();
    let corekube_load = paced(c.churn_rate, duration, count, move |i| {
        let api = api.clone();
        let path = format!("/api/v1/namespaces/{ns2}/configmaps/churn-{}", i % k_objects);
        let body = serde_json::to_vec(&json!({"data": {"revision": i.to_string()}})).unwrap();
        async move { api.ok(Method::PATCH, &path, Some(MERGE_PATCH), body).await.map(|_| ()) }
    });
    let (k, e) = tokio::join!(corekube_load, half_period_later(c.churn_rate, etcd_load));

    let label = format!("churn {}/s for {} s", c.churn_rate, c.churn_secs);
    emit(rows, Row::new("churn", format!("{label} p99"), "ms", Some(k.p99()), Some(e.p99())).target(Target::AtMost(25.0)).note(notes(&k, &e)));
    emit(rows, Row::new("churn", format!("{label} p50"), "ms", Some(k.p50()), Some(e.p50())));
    emit(rows, Row::new("churn", format!("{label} achieved rate"), "ops/s", Some(k.throughput()), Some(e.throughput())));
    env.details.insert("churn".into(), json!({"corekube_patch": k.to_json(), "etcd_put": e.to_json()}));
    Ok(())
}
