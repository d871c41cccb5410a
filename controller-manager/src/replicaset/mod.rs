//! The ReplicaSet controller (upstream pkg/controller/replicaset): keeps `spec.replicas` active
//! pods that match the selector, and reports them in the status.
//!
//! One sync: claim the namespace's active pods (adopt matching orphans, release pods that
//! stopped matching), then, unless an earlier create or delete is still missing from the pod
//! cache (the expectations), create or delete the difference, and write the status.

mod expectations;
mod rank;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::util::{self, Ctx};
use expectations::{Expectations, Seen};
pub(crate) use rank::pods_to_delete;

/// Upstream's BurstReplicas: at most this many creates or deletes per sync.
const BURST_REPLICAS: usize = 500;
/// Creates or deletes of one sync in flight at once. Upstream sends a whole batch at once over
/// client-go's one HTTP/2 connection; kube-rs speaks HTTP/1.1, one connection per request in
/// flight, and a batch of 256 opened 256 TLS connections whose handshakes took the CPU the
/// creates needed (the controllers benchmark: 0.20 of the create ceiling before this bound).
const MAX_IN_FLIGHT: usize = 16;
/// Upstream's `--concurrent-replicaset-syncs`.
const CONCURRENT_SYNCS: u16 = 5;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// A create or delete of pods failed (it is also in the ReplicaFailure condition).
    #[error("{0}")]
    Manage(String),
    #[error(transparent)]
    Panicked(#[from] util::Panicked),
}

struct State {
    base: Arc<Ctx<ReplicaSet>>,
    pods: Store<Pod>,
    replicasets: Store<ReplicaSet>,
    expectations: Expectations,
}

pub(crate) fn start(informers: &mut Informers, client: kube::Client, shutdown: CancellationToken) -> crate::Running {
    let replicasets = informers.store::<ReplicaSet>();
    let pods = informers.store::<Pod>();
    let state = Arc::new(State {
        base: Ctx::new(client, "replicaset-controller"),
        pods,
        replicasets: replicasets.clone(),
        expectations: Expectations::default(),
    });
    let for_pods = state.clone();
    let controller = Controller::for_stream(informers.subscribe::<ReplicaSet>(), replicasets)
        .watches_stream(informers.subscribe::<Pod>(), move |pod| owners_of(&for_pods.replicasets, &pod))
        .with_config(Config::default().concurrency(CONCURRENT_SYNCS))
        .graceful_shutdown_on(async move { shutdown.cancelled().await });
    Box::pin(controller.run(reconcile, error_policy, state).for_each(|_| async {}))
}

/// The ReplicaSets a pod's change concerns: its controller, or, for an orphan, every
/// ReplicaSet of its namespace whose selector matches it (one may adopt it).
fn owners_of(replicasets: &Store<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    let ns = pod.namespace().unwrap_or_default();
    if let Some(owner) = util::controller_of(&pod.metadata) {
        if owner.kind == "ReplicaSet" && owner.api_version == "apps/v1" {
            return vec![ObjectRef::new(&owner.name).within(&ns)];
        }
        return vec![];
    }
    replicasets
        .state()
        .iter()
        .filter(|rs| rs.namespace().as_deref() == Some(ns.as_str()))
        .filter(|rs| {
            util::selector(rs.spec.as_ref().map(|s| &s.selector))
                .is_some_and(|sel| !sel.selects_all() && util::selector_matches(&sel, pod.metadata.labels.as_ref()))
        })
        .map(|rs| ObjectRef::from_obj(rs.as_ref()))
        .collect()
}

fn error_policy(rs: Arc<ReplicaSet>, error: &Error, state: Arc<State>) -> Action {
    let delay = state.base.backoff.failed(&ObjectRef::from_obj(rs.as_ref()));
    tracing::debug!(replicaset = %util::namespace_and_name(&rs.metadata), %error, ?delay, "sync failed; requeued");
    Action::requeue(delay)
}

async fn reconcile(rs: Arc<ReplicaSet>, state: Arc<State>) -> Result<Action, Error> {
    util::guarded(sync(rs, state)).await
}

async fn sync(rs: Arc<ReplicaSet>, state: Arc<State>) -> Result<Action, Error> {
    let key = util::namespace_and_name(&rs.metadata);
    let ns = rs.namespace().unwrap_or_default();
    let spec = rs.spec.clone().unwrap_or_default();
    let pods_api: Api<Pod> = Api::namespaced(state.base.client.clone(), &ns);
    let rs_api: Api<ReplicaSet> = Api::namespaced(state.base.client.clone(), &ns);

    let expectations = state.expectations.satisfied(&key, |name| match state.pods.get(&ObjectRef::new(name).within(&ns)) {
        None => Seen::Absent,
        Some(p) => Seen::Present { uid: p.metadata.uid.clone().unwrap_or_default(), deleting: p.metadata.deletion_timestamp.is_some() },
    });
    let selector = util::selector(Some(&spec.selector));
    let active: Vec<Arc<Pod>> = state
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()) && util::is_pod_active(p))
        .collect();
    // An empty or invalid selector selects nothing here (the API server refuses both).
    let matches = |p: &Pod| selector.as_ref().is_some_and(|s| !s.selects_all() && util::selector_matches(s, p.metadata.labels.as_ref()));
    let uid = rs.metadata.uid.clone();
    let owned = crate::claim::claim(&pods_api, rs.as_ref(), active, matches, async || {
        let fresh = rs_api.get_opt(&rs.name_any()).await?;
        Ok(fresh.is_some_and(|f| f.metadata.uid == uid && f.metadata.deletion_timestamp.is_none()))
    })
    .await?;

    let mut manage_error = None;
    if expectations.is_ok() && rs.metadata.deletion_timestamp.is_none() {
        manage_error = manage_replicas(&rs, &owned, &state).await.err();
    }
    let status = calculate_status(&rs, &owned, manage_error.as_ref());
    let updated = write_status(&rs_api, &rs, status).await?;

    if let Some((reason, message)) = manage_error {
        return Err(Error::Manage(format!("{reason}: {message}")));
    }
    state.base.backoff.succeeded(&ObjectRef::from_obj(rs.as_ref()));
    // Pods that turn available by time alone bring no event: look again then.
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let replicas = spec.replicas.unwrap_or(1);
    if min_ready > 0 && updated.ready_replicas.unwrap_or(0) == replicas && updated.available_replicas.unwrap_or(0) != replicas {
        let now = jiff::Timestamp::now();
        let soonest = owned.iter().filter_map(|p| util::until_available(p, min_ready, now)).min();
        return Ok(Action::requeue(soonest.unwrap_or(Duration::from_secs(min_ready as u64))));
    }
    if let Err(left) = expectations {
        return Ok(Action::requeue(left));
    }
    Ok(Action::await_change())
}

/// Creates or deletes pods to reach `spec.replicas`; on failure, the ReplicaFailure reason and
/// message.
async fn manage_replicas(rs: &ReplicaSet, owned: &[Arc<Pod>], state: &State) -> Result<(), (&'static str, String)> {
    let key = util::namespace_and_name(&rs.metadata);
    let ns = rs.namespace().unwrap_or_default();
    let want = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as usize;
    let pods_api: Api<Pod> = Api::namespaced(state.base.client.clone(), &ns);
    let rs_ref = rs.object_ref(&());
    if owned.len() < want {
        let count = (want - owned.len()).min(BURST_REPLICAS);
        let template = rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
        let pod = pod_from_template(&template, rs);
        let result = slow_start_batch(count, || {
            let (api, pod, key, rs_ref) = (pods_api.clone(), pod.clone(), key.clone(), rs_ref.clone());
            async move {
                match api.create(&PostParams::default(), &pod).await {
                    Ok(created) => {
                        let name = created.name_any();
                        state.expectations.expect_created(&key, &name);
                        state.base.event(&rs_ref, EventType::Normal, "SuccessfulCreate", format!("Created pod: {name}")).await;
                        Ok(())
                    }
                    // Creating in a namespace being deleted fails; that is expected, not a failure.
                    Err(kube::Error::Api(s)) if s.code == 403 && s.message.contains("being terminated") => Ok(()),
                    Err(e) => {
                        let message = api_message(&e);
                        state.base.event(&rs_ref, EventType::Warning, "FailedCreate", format!("Error creating: {message}")).await;
                        Err(message)
                    }
                }
            }
        })
        .await;
        return result.map_err(|m| ("FailedCreate", m));
    }
    if owned.len() > want {
        let count = (owned.len() - want).min(BURST_REPLICAS);
        let related = related_pods(rs, state);
        let doomed = pods_to_delete(owned.to_vec(), &related, count, jiff::Timestamp::now());
        let deletions = doomed.into_iter().map(|pod| {
            let (api, key, rs_ref) = (pods_api.clone(), key.clone(), rs_ref.clone());
            async move {
                let name = pod.name_any();
                state.expectations.expect_deleted(&key, &name, pod.metadata.uid.as_deref().unwrap_or_default());
                match api.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => {
                        state.base.event(&rs_ref, EventType::Normal, "SuccessfulDelete", format!("Deleted pod: {name}")).await;
                        Ok(())
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => {
                        let message = api_message(&e);
                        state.base.event(&rs_ref, EventType::Warning, "FailedDelete", format!("Error deleting: {message}")).await;
                        Err(message)
                    }
                }
            }
        });
        let results: Vec<Result<(), String>> = futures::stream::iter(deletions).buffer_unordered(MAX_IN_FLIGHT).collect().await;
        if let Some(Err(m)) = results.into_iter().find(|r| r.is_err()) {
            return Err(("FailedDelete", m));
        }
    }
    Ok(())
}

/// The message of an API error as upstream prints it in events and conditions.
fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        e => e.to_string(),
    }
}

/// Runs `count` calls of `call` in batches of 1, 2, 4, ... and stops after the first batch
/// with a failure, as upstream's slowStartBatch: a quota or admission refusal costs one call,
/// not hundreds.
async fn slow_start_batch<F, Fut>(count: usize, call: F) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut remaining = count;
    let mut batch = remaining.min(1);
    while batch > 0 {
        let results: Vec<Result<(), String>> = futures::stream::iter((0..batch).map(|_| call())).buffer_unordered(MAX_IN_FLIGHT).collect().await;
        if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
            return Err(e);
        }
        remaining -= batch;
        batch = (batch * 2).min(remaining);
    }
    Ok(())
}

/// The pods of every ReplicaSet with the same controller as `rs` (a Deployment's old and new
/// ReplicaSets), for ranking which pods to delete.
fn related_pods(rs: &ReplicaSet, state: &State) -> Vec<Arc<Pod>> {
    let ns = rs.namespace().unwrap_or_default();
    let siblings: Vec<String> = match util::controller_of(&rs.metadata) {
        None => vec![rs.metadata.uid.clone().unwrap_or_default()],
        Some(owner) => state
            .replicasets
            .state()
            .iter()
            .filter(|r| r.namespace().as_deref() == Some(ns.as_str()))
            .filter(|r| util::controller_of(&r.metadata).is_some_and(|o| o.uid == owner.uid))
            .filter_map(|r| r.metadata.uid.clone())
            .collect(),
    };
    state
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .filter(|p| util::controller_of(&p.metadata).is_some_and(|o| siblings.contains(&o.uid)))
        .collect()
}

/// The pod a ReplicaSet creates: its template, named after it, controlled by it.
fn pod_from_template(template: &PodTemplateSpec, rs: &ReplicaSet) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(pod_name_prefix(&rs.name_any())),
            namespace: rs.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![util::controller_ref(rs)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Upstream's getPodsPrefix: `NAME-`, cut so a generated name stays a valid DNS label.
fn pod_name_prefix(owner: &str) -> String {
    const MAX_GENERATED_NAME_LENGTH: usize = 63 - 5;
    let mut prefix = format!("{owner}-");
    prefix.truncate(MAX_GENERATED_NAME_LENGTH);
    prefix
}

fn calculate_status(rs: &ReplicaSet, owned: &[Arc<Pod>], manage_error: Option<&(&'static str, String)>) -> ReplicaSetStatus {
    let spec = rs.spec.clone().unwrap_or_default();
    let old = rs.status.clone().unwrap_or_default();
    let template_labels = spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let now = jiff::Timestamp::now();
    let count = |f: &dyn Fn(&Pod) -> bool| owned.iter().filter(|p| f(p)).count() as i32;
    let fully_labeled = count(&|p| {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        template_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    });
    let mut conditions = old.conditions.clone().unwrap_or_default();
    let failure = conditions.iter().position(|c| c.type_ == "ReplicaFailure");
    match (manage_error, failure) {
        (Some((reason, message)), None) => conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(reason.to_string()),
            message: Some(message.clone()),
            last_transition_time: Some(Time(now)),
        }),
        (None, Some(i)) => {
            conditions.remove(i);
        }
        _ => {}
    }
    ReplicaSetStatus {
        replicas: owned.len() as i32,
        fully_labeled_replicas: Some(fully_labeled),
        ready_replicas: Some(count(&util::is_pod_ready)),
        available_replicas: Some(count(&|p| util::is_pod_available(p, min_ready, now))),
        observed_generation: rs.metadata.generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
        terminating_replicas: old.terminating_replicas,
    }
}

/// Writes the status unless it is what the API already has; a conflict is retried once from a
/// fresh read, as upstream's updateReplicaSetStatus.
async fn write_status(api: &Api<ReplicaSet>, rs: &ReplicaSet, status: ReplicaSetStatus) -> Result<ReplicaSetStatus, kube::Error> {
    if rs.status.as_ref() == Some(&status) {
        return Ok(status);
    }
    let mut current = rs.clone();
    for attempt in 0..2 {
        current.status = Some(status.clone());
        match api.replace_status(&rs.name_any(), &PostParams::default(), &current).await {
            Ok(_) => return Ok(status),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt == 0 => current = api.get(&rs.name_any()).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn slow_start_stops_at_the_first_failing_batch() {
        let calls = AtomicUsize::new(0);
        let r = slow_start_batch(10, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n >= 3 { Err("quota".to_string()) } else { Ok(()) } }
        })
        .await;
        assert_eq!(r.unwrap_err(), "quota");
        // Batches of 1 and 2 succeed; the batch of 4 fails and nothing more is tried.
        assert_eq!(calls.load(Ordering::SeqCst), 7);
        let calls = AtomicUsize::new(0);
        slow_start_batch(10, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .await
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 10);
    }

    #[test]
    fn generated_names_stay_valid() {
        assert_eq!(pod_name_prefix("web-6d4cf56db6"), "web-6d4cf56db6-");
        assert_eq!(pod_name_prefix(&"x".repeat(80)).len(), 58);
    }
}
