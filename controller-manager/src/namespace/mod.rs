//! The namespace controller (upstream pkg/controller/namespace): empties a namespace marked
//! for deletion, reports its progress in the status conditions, and then removes the
//! `kubernetes` finalizer through the finalize subresource, after which the API server
//! deletes the namespace.
//!
//! One sync: read the namespace afresh (other controllers edit it while it terminates); make
//! sure it is in the Terminating phase; delete its content; if anything is left, look again
//! after half the estimated time (the pods' grace periods, or a fixed wait for finalizers);
//! else finalize.

mod conditions;
mod deleter;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus};
use kube::api::PostParams;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::util::Ctx;
use deleter::Deleter;

/// The spec.finalizers token this controller owns.
const FINALIZER: &str = "kubernetes";
/// Upstream's `--concurrent-namespace-syncs`.
const CONCURRENT_SYNCS: u16 = 10;
/// Upstream's namespace queue retries a failure after at most a minute.
const MAX_RETRY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("namespace uid has changed across retries")]
    UidChanged,
    /// Some content could not be deleted (also in the NamespaceDeletionContentFailure and
    /// NamespaceDeletionDiscoveryFailure conditions).
    #[error("{0}")]
    Content(String),
}

struct State {
    base: Arc<Ctx<Namespace>>,
    deleter: Deleter,
}

pub(crate) fn start(informers: &mut Informers, client: kube::Client, shutdown: CancellationToken) -> crate::Running {
    let namespaces = informers.store::<Namespace>();
    let state = Arc::new(State { base: Ctx::new(client.clone(), "namespace-controller"), deleter: Deleter::new(client) });
    let controller = Controller::for_stream(informers.subscribe::<Namespace>(), namespaces)
        .with_config(Config::default().concurrency(CONCURRENT_SYNCS))
        .graceful_shutdown_on(async move { shutdown.cancelled().await });
    Box::pin(controller.run(reconcile, error_policy, state).for_each(|_| async {}))
}

fn error_policy(ns: Arc<Namespace>, error: &Error, state: Arc<State>) -> Action {
    let delay = state.base.backoff.failed(&ObjectRef::from_obj(ns.as_ref())).min(MAX_RETRY);
    tracing::debug!(namespace = %ns.name_any(), %error, ?delay, "namespace deletion failed; requeued");
    Action::requeue(delay)
}

async fn reconcile(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, Error> {
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let api: Api<Namespace> = Api::all(state.base.client.clone());
    let Some(current) = api.get_opt(&ns.name_any()).await? else { return Ok(Action::await_change()) };
    let Some(deleted_at) = current.metadata.deletion_timestamp.clone() else { return Ok(Action::await_change()) };

    let Some(mut current) = retry_on_conflict(&api, current, mark_terminating).await? else { return Ok(Action::await_change()) };

    let (estimate, outcome) = state.deleter.delete_all_content(&current.name_any(), deleted_at.0).await;
    // The conditions are written every pass: one may have turned from failing to ok.
    let status = current.status.get_or_insert_with(NamespaceStatus::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if conditions::update(conditions, &outcome, jiff::Timestamp::now()) {
        if let Err(e) = api.replace_status(&current.name_any(), &PostParams::default(), &current).await {
            tracing::debug!(namespace = %current.name_any(), error = %e, "cannot write the deletion conditions");
        }
    }
    let mut errors: Vec<String> = outcome.discovery_error.into_iter().chain(outcome.content_errors).collect();
    if !errors.is_empty() {
        errors.sort();
        return Err(Error::Content(errors.join("; ")));
    }
    if estimate > 0 {
        tracing::debug!(namespace = %current.name_any(), estimate, "content remains in the namespace");
        state.base.backoff.succeeded(&ObjectRef::from_obj(ns.as_ref()));
        return Ok(Action::requeue(Duration::from_secs(estimate as u64 / 2 + 1)));
    }

    retry_on_conflict(&api, current, finalize).await?;
    state.base.backoff.succeeded(&ObjectRef::from_obj(ns.as_ref()));
    Ok(Action::await_change())
}

/// One write of a namespace, given its latest state; None: nothing to write.
type Write = for<'a> fn(&'a Api<Namespace>, &'a Namespace) -> futures::future::BoxFuture<'a, Option<Result<Namespace, kube::Error>>>;

/// Applies `write` to the latest namespace until it does not conflict; None when the namespace
/// is gone.
async fn retry_on_conflict(api: &Api<Namespace>, ns: Namespace, write: Write) -> Result<Option<Namespace>, Error> {
    let mut latest = ns;
    loop {
        match write(api, &latest).await {
            None => return Ok(Some(latest)),
            Some(Ok(written)) => return Ok(Some(written)),
            Some(Err(kube::Error::Api(s))) if s.code == 404 => return Ok(None),
            Some(Err(kube::Error::Api(s))) if s.code == 409 => {
                let Some(fresh) = api.get_opt(&latest.name_any()).await? else { return Ok(None) };
                if fresh.metadata.uid != latest.metadata.uid {
                    return Err(Error::UidChanged);
                }
                latest = fresh;
            }
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// Sets the Terminating phase on a namespace marked for deletion that lacks it.
fn mark_terminating<'a>(
    api: &'a Api<Namespace>,
    ns: &'a Namespace,
) -> futures::future::BoxFuture<'a, Option<Result<Namespace, kube::Error>>> {
    Box::pin(async move {
        if ns.metadata.deletion_timestamp.is_none() || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating") {
            return None;
        }
        let mut updated = ns.clone();
        updated.status.get_or_insert_with(NamespaceStatus::default).phase = Some("Terminating".into());
        Some(api.replace_status(&ns.name_any(), &PostParams::default(), &updated).await)
    })
}

/// Removes this controller's token from spec.finalizers (the others stay, sorted, as upstream).
fn finalize<'a>(api: &'a Api<Namespace>, ns: &'a Namespace) -> futures::future::BoxFuture<'a, Option<Result<Namespace, kube::Error>>> {
    Box::pin(async move {
        let mut updated = ns.clone();
        let spec = updated.spec.get_or_insert_with(Default::default);
        let mut rest: Vec<String> = spec.finalizers.iter().flatten().filter(|f| *f != FINALIZER).cloned().collect();
        rest.sort();
        rest.dedup();
        spec.finalizers = Some(rest);
        Some(api.replace_subresource("finalize", &ns.name_any(), &PostParams::default(), &updated).await)
    })
}
