//! The root CA publisher (upstream pkg/controller/certificates/rootcacertpublisher): every
//! namespace holds the ConfigMap `kube-root-ca.crt` with the cluster's CA certificate, so pods
//! can verify the API server; it is created again when deleted and reset when edited.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::util::Ctx;

pub const CONFIG_MAP_NAME: &str = "kube-root-ca.crt";
const DATA_KEY: &str = "ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

struct State {
    base: Arc<Ctx<Namespace>>,
    config_maps: Store<ConfigMap>,
    root_ca_pem: String,
}

pub(crate) fn start(informers: &mut Informers, client: kube::Client, root_ca_pem: String, shutdown: CancellationToken) -> crate::Running {
    let namespaces = informers.store::<Namespace>();
    let state = Arc::new(State {
        base: Ctx::new(client, "root-ca-certificate-publisher-controller"),
        config_maps: informers.store::<ConfigMap>(),
        root_ca_pem,
    });
    let controller = Controller::for_stream(informers.subscribe::<Namespace>(), namespaces)
        .watches_stream(informers.subscribe::<ConfigMap>(), |cm: ConfigMap| {
            let ns = cm.namespace().unwrap_or_default();
            (cm.name_any() == CONFIG_MAP_NAME).then(|| ObjectRef::<Namespace>::new(&ns))
        })
        .with_config(Config::default().concurrency(1))
        .graceful_shutdown_on(async move { shutdown.cancelled().await });
    Box::pin(controller.run(reconcile, error_policy, state).for_each(|_| async {}))
}

fn error_policy(ns: Arc<Namespace>, error: &kube::Error, state: Arc<State>) -> Action {
    let delay = state.base.backoff.failed(&ObjectRef::from_obj(ns.as_ref()));
    tracing::debug!(namespace = %ns.name_any(), %error, ?delay, "root CA publish failed; requeued");
    Action::requeue(delay)
}

async fn reconcile(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, kube::Error> {
    if !super::is_active(&ns) {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let api: Api<ConfigMap> = Api::namespaced(state.base.client.clone(), &name);
    let data = BTreeMap::from([(DATA_KEY.to_string(), state.root_ca_pem.clone())]);
    match state.config_maps.get(&ObjectRef::new(CONFIG_MAP_NAME).within(&name)) {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(CONFIG_MAP_NAME.into()),
                    annotations: Some(BTreeMap::from([(DESCRIPTION_ANNOTATION.to_string(), DESCRIPTION.to_string())])),
                    ..Default::default()
                },
                data: Some(data),
                ..Default::default()
            };
            match api.create(&PostParams::default(), &cm).await {
                Ok(_) => {}
                // The cache is behind: the ConfigMap's own event brings it here again.
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) if super::refused_for_namespace(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Some(cm) => {
            let described = cm.annotations().get(DESCRIPTION_ANNOTATION).is_some_and(|d| !d.is_empty());
            if cm.data.as_ref() != Some(&data) || !described {
                let mut cm = (*cm).clone();
                cm.data = Some(data);
                cm.annotations_mut().insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
                match api.replace(CONFIG_MAP_NAME, &PostParams::default(), &cm).await {
                    Ok(_) => {}
                    // Changed or gone meanwhile: its own event brings the namespace here again.
                    Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    state.base.backoff.succeeded(&ObjectRef::from_obj(ns.as_ref()));
    Ok(Action::await_change())
}

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("kubeconfig {0}: {1}")]
    Kubeconfig(String, String),
}

/// The CA certificate (PEM) of the current context's cluster in a kubeconfig file, as upstream
/// falls back to the client configuration's CA when `--root-ca-file` is not given.
pub fn ca_from_kubeconfig(path: &Path) -> Result<String, CaError> {
    let err = |m: String| CaError::Kubeconfig(path.display().to_string(), m);
    let config = kube::config::Kubeconfig::read_from(path).map_err(|e| err(e.to_string()))?;
    let context_name = config.current_context.clone().ok_or_else(|| err("no current-context".into()))?;
    let cluster_name = config
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .ok_or_else(|| err(format!("context {context_name:?} not found")))?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| err(format!("cluster {cluster_name:?} not found")))?;
    if let Some(data) = &cluster.certificate_authority_data {
        // ByteString's JSON form is base64: decode through it.
        let bytes: k8s_openapi::ByteString =
            serde_json::from_value(serde_json::Value::String(data.clone())).map_err(|e| err(format!("certificate-authority-data: {e}")))?;
        return String::from_utf8(bytes.0).map_err(|e| err(format!("certificate-authority-data: {e}")));
    }
    if let Some(file) = &cluster.certificate_authority {
        return std::fs::read_to_string(file).map_err(|e| err(format!("certificate-authority {file}: {e}")));
    }
    Err(err(format!("cluster {cluster_name:?} has no certificate authority")))
}
