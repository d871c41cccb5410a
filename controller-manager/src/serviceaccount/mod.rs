//! The service account controller (upstream pkg/controller/serviceaccount): every active
//! namespace has a `default` ServiceAccount, created again when deleted. The root CA publisher,
//! which puts the cluster's CA in every namespace, lives beside it in [`root_ca`].

pub(crate) mod root_ca;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::util::Ctx;

/// The service accounts every namespace gets (upstream's `serviceAccountsToEnsure`).
const ENSURED: &[&str] = &["default"];
/// Upstream's `--concurrent-serviceaccount-syncs`.
const CONCURRENT_SYNCS: u16 = 1;

struct State {
    base: Arc<Ctx<Namespace>>,
    service_accounts: Store<ServiceAccount>,
}

pub(crate) fn start(informers: &mut Informers, client: kube::Client, shutdown: CancellationToken) -> crate::Running {
    let namespaces = informers.store::<Namespace>();
    let state =
        Arc::new(State { base: Ctx::new(client, "serviceaccount-controller"), service_accounts: informers.store::<ServiceAccount>() });
    let controller = Controller::for_stream(informers.subscribe::<Namespace>(), namespaces)
        .watches_stream(informers.subscribe::<ServiceAccount>(), |sa: ServiceAccount| {
            let ns = sa.namespace().unwrap_or_default();
            ENSURED.contains(&sa.name_any().as_str()).then(|| ObjectRef::<Namespace>::new(&ns))
        })
        .with_config(Config::default().concurrency(CONCURRENT_SYNCS))
        .graceful_shutdown_on(async move { shutdown.cancelled().await });
    Box::pin(controller.run(reconcile, error_policy, state).for_each(|_| async {}))
}

fn error_policy(ns: Arc<Namespace>, error: &kube::Error, state: Arc<State>) -> Action {
    let delay = state.base.backoff.failed(&ObjectRef::from_obj(ns.as_ref()));
    tracing::debug!(namespace = %ns.name_any(), %error, ?delay, "service account sync failed; requeued");
    Action::requeue(delay)
}

async fn reconcile(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, kube::Error> {
    if !is_active(&ns) {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let api: Api<ServiceAccount> = Api::namespaced(state.base.client.clone(), &name);
    for sa in ENSURED {
        if state.service_accounts.get(&ObjectRef::new(sa).within(&name)).is_some() {
            continue;
        }
        let wanted = ServiceAccount { metadata: ObjectMeta { name: Some(sa.to_string()), ..Default::default() }, ..Default::default() };
        match api.create(&PostParams::default(), &wanted).await {
            Ok(_) => {}
            // Already there (the cache is behind), or the namespace went away or is terminating.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) if refused_for_namespace(&e) => return Ok(Action::await_change()),
            Err(e) => return Err(e),
        }
    }
    state.base.backoff.succeeded(&ObjectRef::from_obj(ns.as_ref()));
    Ok(Action::await_change())
}

/// Upstream's check: only a namespace in the Active phase gets content.
pub(crate) fn is_active(ns: &Namespace) -> bool {
    let phase = ns.status.as_ref().and_then(|s| s.phase.as_deref());
    ns.metadata.deletion_timestamp.is_none() && phase == Some("Active")
}

/// A create refused because its namespace is gone (404) or terminating (403): nothing to retry.
pub(crate) fn refused_for_namespace(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404 || (s.code == 403 && s.message.contains("because it is being terminated")))
}
