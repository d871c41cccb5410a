//! The pod garbage collector (upstream's podgc): every 20 s, and when a node is deleted, it
//! force-deletes pods bound to a node that has been missing for 40 s (upstream's quarantine, so
//! a node that is being created or re-registered is not taken for gone; a live read confirms it)
//! and pods being deleted that were never scheduled, and deletes the
//! oldest finished pods beyond `--terminated-pod-gc-threshold`. A pod it removes is first
//! marked Failed with the DisruptionTarget condition, as upstream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;

/// Upstream's gcCheckPeriod.
const PERIOD: Duration = Duration::from_secs(20);
/// Upstream's quarantineTime: how long a node must be missing before its pods are orphans.
const QUARANTINE: Duration = Duration::from_secs(40);

struct State {
    client: kube::Client,
    nodes: Store<Node>,
    pods: Store<Pod>,
    threshold: usize,
}

pub(crate) fn start(informers: &mut Informers, client: kube::Client, options: &super::Options, shutdown: CancellationToken) -> crate::Running {
    let state = State { client, nodes: informers.store::<Node>(), pods: informers.store::<Pod>(), threshold: options.terminated_pod_gc_threshold };
    let mut node_changes = Box::pin(informers.subscribe::<Node>());
    Box::pin(async move {
        let mut missing_since: HashMap<String, Instant> = HashMap::new();
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
                change = node_changes.next() => match change {
                    // A deleted node is what makes pods orphans: collect now.
                    Some(Ok(node)) if node.metadata.deletion_timestamp.is_some() || state.nodes.get(&kube::runtime::reflector::ObjectRef::from_obj(&node)).is_none() => {}
                    Some(_) => continue,
                    None => return,
                },
            }
            collect(&state, &mut missing_since).await;
        }
    })
}

fn is_finished(p: &Pod) -> bool {
    matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded") | Some("Failed"))
}

async fn collect(state: &State, missing_since: &mut HashMap<String, Instant>) {
    let pods = state.pods.state();
    // Finished pods beyond the threshold, oldest first.
    let mut finished: Vec<&Arc<Pod>> = pods.iter().filter(|p| is_finished(p) && p.metadata.deletion_timestamp.is_none()).collect();
    if finished.len() > state.threshold {
        finished.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let excess = finished.len() - state.threshold;
        for pod in finished.into_iter().take(excess) {
            remove(state, pod, None).await;
        }
    }
    let nodes_api: Api<Node> = Api::all(state.client.clone());
    let known = |node: &str| state.nodes.get(&kube::runtime::reflector::ObjectRef::new(node)).is_some();
    missing_since.retain(|node, _| !known(node));
    for pod in &pods {
        match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty()) {
            Some(node) => {
                if known(node) {
                    continue;
                }
                let since = *missing_since.entry(node.to_string()).or_insert_with(Instant::now);
                // The cache may lag: only a node the API server does not have, for the whole
                // quarantine, makes an orphan.
                if since.elapsed() >= QUARANTINE && matches!(nodes_api.get_opt(node).await, Ok(None)) {
                    remove(state, pod, Some("PodGC: node no longer exists")).await;
                }
            }
            None if pod.metadata.deletion_timestamp.is_some() => remove(state, pod, None).await,
            None => {}
        }
    }
}

/// Marks the pod Failed with DisruptionTarget (when `why` is given) and deletes it at once.
async fn remove(state: &State, pod: &Pod, why: Option<&str>) {
    let api: Api<Pod> = Api::namespaced(state.client.clone(), &pod.namespace().unwrap_or_default());
    let name = pod.name_any();
    if let Some(message) = why {
        if !is_finished(pod) {
            let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
            let patch = json!({"status": {"phase": "Failed", "conditions": [{
                "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC", "message": message, "lastTransitionTime": now,
            }]}});
            let _ = api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch)).await;
        }
    }
    match api.delete(&name, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await {
        Ok(_) => tracing::info!(pod = %name, reason = why.unwrap_or("garbage"), "pod garbage collected"),
        Err(e) => tracing::debug!(pod = %name, error = %e, "pod garbage collection failed; next pass"),
    }
}
