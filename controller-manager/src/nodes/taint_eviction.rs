//! Taint eviction (upstream's tainteviction controller): a pod on a node with a NoExecute taint
//! it does not tolerate is deleted at once; one it tolerates for `tolerationSeconds` is deleted
//! when that time has passed since the taint was added; one it tolerates without a limit
//! stays. The API server's DefaultTolerationSeconds admission gives every pod 300 s for the
//! not-ready and unreachable taints, so a lost node's pods go five minutes after it is tainted.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::util::Ctx;

struct State {
    base: Arc<Ctx<Pod>>,
    nodes: Store<Node>,
    pods: Store<Pod>,
}

pub(crate) fn start(informers: &mut Informers, client: kube::Client, shutdown: CancellationToken) -> crate::Running {
    let pods = informers.store::<Pod>();
    let state = Arc::new(State { base: Ctx::new(client, "taint-eviction-controller"), nodes: informers.store::<Node>(), pods: pods.clone() });
    let for_nodes = state.clone();
    let controller = Controller::for_stream(informers.subscribe::<Pod>(), pods)
        .watches_stream(informers.subscribe::<Node>(), move |node| pods_on(&for_nodes.pods, &node.name_any()))
        .with_config(Config::default().concurrency(8))
        .graceful_shutdown_on(async move { shutdown.cancelled().await });
    Box::pin(controller.run(reconcile, error_policy, state).for_each(|_| async {}))
}

fn pods_on(pods: &Store<Pod>, node: &str) -> Vec<ObjectRef<Pod>> {
    pods.state()
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Panicked(#[from] crate::util::Panicked),
}

fn error_policy(pod: Arc<Pod>, error: &Error, state: Arc<State>) -> Action {
    let delay = state.base.backoff.failed(&ObjectRef::from_obj(pod.as_ref()));
    tracing::debug!(pod = %pod.name_any(), %error, ?delay, "eviction failed; requeued");
    Action::requeue(delay)
}

/// Upstream's ToleratesTaint.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    if t.key.as_deref().is_some_and(|k| !k.is_empty() && k != taint.key) {
        return false;
    }
    match t.operator.as_deref() {
        Some("Exists") => true,
        _ => t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
    }
}

/// How long after its taints were added the pod may stay: None when forever, Some(zero) when
/// a taint is not tolerated at all.
fn allowed_stay(tolerations: &[Toleration], taints: &[&Taint]) -> Option<Duration> {
    let mut min: Option<i64> = None;
    for taint in taints {
        let matching: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(Duration::ZERO);
        }
        for t in matching {
            if let Some(s) = t.toleration_seconds {
                min = Some(min.map_or(s, |m| m.min(s)));
            }
        }
    }
    min.map(|s| Duration::from_secs(s.max(0) as u64))
}

async fn reconcile(pod: Arc<Pod>, state: Arc<State>) -> Result<Action, Error> {
    crate::util::guarded(check(pod, state)).await
}

async fn check(pod: Arc<Pod>, state: Arc<State>) -> Result<Action, Error> {
    let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else { return Ok(Action::await_change()) };
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(node) = state.nodes.get(&ObjectRef::new(&node_name)) else { return Ok(Action::await_change()) };
    let node_taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let no_execute: Vec<&Taint> = node_taints.iter().filter(|t| t.effect == "NoExecute").collect();
    if no_execute.is_empty() {
        return Ok(Action::await_change());
    }
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.clone()).unwrap_or_default();
    let Some(stay) = allowed_stay(&tolerations, &no_execute) else { return Ok(Action::await_change()) };
    let now = jiff::Timestamp::now();
    let tainted_at = no_execute.iter().filter_map(|t| t.time_added.as_ref().map(|a| a.0)).min().unwrap_or(now);
    let evict_at = tainted_at + jiff::SignedDuration::try_from(stay).unwrap_or_default();
    let left = evict_at.duration_since(now);
    if left.is_positive() {
        return Ok(Action::requeue(Duration::from_millis(left.as_millis() as u64 + 100)));
    }
    evict(&state, &pod).await?;
    state.base.backoff.succeeded(&ObjectRef::from_obj(pod.as_ref()));
    Ok(Action::await_change())
}

/// Marks the pod as disrupted by the taint manager, then deletes it (graceful, as upstream).
async fn evict(state: &State, pod: &Pod) -> Result<(), kube::Error> {
    let ns = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(state.base.client.clone(), &ns);
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now,
    }]}});
    match api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(condition)).await {
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    state.base.event(&pod.object_ref(&()), EventType::Normal, "TaintManagerEviction", format!("Marking for deletion Pod {ns}/{name}")).await;
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str) -> Taint {
        Taint { key: key.into(), effect: "NoExecute".into(), ..Default::default() }
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration { key: Some(key.into()), operator: Some("Exists".into()), effect: Some("NoExecute".into()), toleration_seconds: seconds, value: None }
    }

    #[test]
    fn stay_is_the_shortest_matching_toleration() {
        let t = taint("node.kubernetes.io/unreachable");
        assert_eq!(allowed_stay(&[], &[&t]), Some(Duration::ZERO));
        assert_eq!(allowed_stay(&[toleration("node.kubernetes.io/unreachable", Some(300))], &[&t]), Some(Duration::from_secs(300)));
        assert_eq!(allowed_stay(&[toleration("node.kubernetes.io/unreachable", None)], &[&t]), None);
        assert_eq!(allowed_stay(&[toleration("other", Some(5))], &[&t]), Some(Duration::ZERO));
        // An empty key with Exists tolerates every taint.
        assert_eq!(allowed_stay(&[toleration("", Some(7)), toleration("node.kubernetes.io/unreachable", Some(9))], &[&t]), Some(Duration::from_secs(7)));
    }
}
