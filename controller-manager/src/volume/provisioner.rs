//! corekube's built-in local provisioner, [`LOCAL_PATH`]: a directory per claim under the
//! volume directory, exposed as a `hostPath` volume (type DirectoryOrCreate). For a claim the
//! scheduler placed (WaitForFirstConsumer), the volume gets node affinity to that node, as
//! rancher's local-path provisioner that kind's `standard` class uses; for an Immediate class it
//! has none (fine on one machine). It acts as an external provisioner does
//! (sig-storage-lib-external-provisioner): it provisions claims the binder annotated with its
//! name, and deletes the volumes it made once the binder marks them Released with the Delete
//! policy, directory first.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use corekube_client::events::{EventType, Recorder};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::matching::{self, annotation};
use super::{ann, LOCAL_PATH};
use crate::informers::Informers;
use crate::requeue::Backoff;

/// The node label a provisioned volume's affinity names, as upstream's local volumes.
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Storage(String),
}

struct LocalPath {
    client: Client,
    /// Where the volumes' directories live.
    dir: PathBuf,
    volumes: Store<PersistentVolume>,
    classes: Store<StorageClass>,
    nodes: Store<Node>,
    recorder: Recorder,
    claim_backoff: Backoff<ObjectRef<PersistentVolumeClaim>>,
    volume_backoff: Backoff<ObjectRef<PersistentVolume>>,
}

pub(super) fn start(informers: &mut Informers, client: Client, dir: PathBuf, shutdown: CancellationToken) -> crate::Running {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
    let volumes = informers.store::<PersistentVolume>();
    let claims = informers.store::<PersistentVolumeClaim>();
    let state = Arc::new(LocalPath {
        // The event source external provisioners use: their name and identity.
        recorder: Recorder::new(client.clone(), &format!("{LOCAL_PATH}_{hostname}")),
        client,
        dir,
        volumes: volumes.clone(),
        classes: informers.store::<StorageClass>(),
        nodes: informers.store::<Node>(),
        claim_backoff: Backoff::default(),
        volume_backoff: Backoff::default(),
    });
    let stop = shutdown.clone();
    let claim_loop = Controller::for_stream(informers.subscribe::<PersistentVolumeClaim>(), claims)
        .with_config(Config::default().concurrency(2))
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile_claim, claim_error_policy, state.clone())
        .for_each(|_| async {});
    let volume_loop = Controller::for_stream(informers.subscribe::<PersistentVolume>(), volumes)
        .with_config(Config::default().concurrency(1))
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile_volume, volume_error_policy, state)
        .for_each(|_| async {});
    Box::pin(async move {
        futures::future::join(claim_loop, volume_loop).await;
    })
}

fn claim_error_policy(claim: Arc<PersistentVolumeClaim>, error: &Error, p: Arc<LocalPath>) -> Action {
    let delay = p.claim_backoff.failed(&ObjectRef::from_obj(claim.as_ref()));
    tracing::debug!(claim = %crate::util::namespace_and_name(&claim.metadata), %error, ?delay, "provisioning failed; requeued");
    Action::requeue(delay)
}

fn volume_error_policy(volume: Arc<PersistentVolume>, error: &Error, p: Arc<LocalPath>) -> Action {
    let delay = p.volume_backoff.failed(&ObjectRef::from_obj(volume.as_ref()));
    tracing::debug!(volume = %volume.name_any(), %error, ?delay, "deleting a provisioned volume failed; requeued");
    Action::requeue(delay)
}

/// The provisioned volume's name, as upstream names them.
pub(super) fn volume_name_for(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.metadata.uid.as_deref().unwrap_or_default())
}

async fn reconcile_claim(claim: Arc<PersistentVolumeClaim>, p: Arc<LocalPath>) -> Result<Action, Error> {
    let Some(class) = p.should_provision(&claim) else { return Ok(Action::await_change()) };
    let result = p.provision(&claim, &class).await;
    match result {
        Ok(name) => {
            let message = format!("Successfully provisioned volume {name}");
            p.event(claim.as_ref(), EventType::Normal, "ProvisioningSucceeded", message).await;
            p.claim_backoff.succeeded(&ObjectRef::from_obj(claim.as_ref()));
            Ok(Action::await_change())
        }
        Err(e) => {
            let message = format!("failed to provision volume with StorageClass {:?}: {e}", class.name_any());
            p.event(claim.as_ref(), EventType::Warning, "ProvisioningFailed", message).await;
            p.reschedule(&claim).await;
            Err(e)
        }
    }
}

async fn reconcile_volume(volume: Arc<PersistentVolume>, p: Arc<LocalPath>) -> Result<Action, Error> {
    let released = volume.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
    let delete = volume.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()) == Some("Delete");
    if !released || !delete || annotation(&volume.metadata, ann::PROVISIONED_BY) != Some(LOCAL_PATH) {
        return Ok(Action::await_change());
    }
    if let Err(e) = p.delete(&volume).await {
        p.event(volume.as_ref(), EventType::Warning, "VolumeFailedDelete", e.to_string()).await;
        return Err(e);
    }
    p.volume_backoff.succeeded(&ObjectRef::from_obj(volume.as_ref()));
    Ok(Action::await_change())
}

fn selected_node(claim: &PersistentVolumeClaim) -> Option<&str> {
    annotation(&claim.metadata, ann::SELECTED_NODE).filter(|n| !n.is_empty())
}

impl LocalPath {
    async fn event<K: Resource<DynamicType = ()>>(&self, object: &K, type_: EventType, reason: &str, message: String) {
        self.recorder.record(&object.object_ref(&()), type_, reason, message).await;
    }

    /// The claim's class when this provisioner should make its volume now (the external
    /// provisioner library's shouldProvision).
    fn should_provision(&self, claim: &PersistentVolumeClaim) -> Option<Arc<StorageClass>> {
        if claim.metadata.deletion_timestamp.is_some()
            || !claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("").is_empty()
        {
            return None;
        }
        let asked =
            annotation(&claim.metadata, ann::STORAGE_PROVISIONER).or_else(|| annotation(&claim.metadata, ann::BETA_STORAGE_PROVISIONER));
        if asked != Some(LOCAL_PATH) {
            return None;
        }
        let class = self.classes.get(&ObjectRef::new(matching::claim_class(claim)))?;
        if class.provisioner != LOCAL_PATH {
            return None;
        }
        if class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") && selected_node(claim).is_none() {
            return None;
        }
        if self.volumes.get(&ObjectRef::new(&volume_name_for(claim))).is_some() {
            return None;
        }
        Some(class)
    }

    /// Makes the directory and the volume bound to the claim; the volume's name.
    async fn provision(&self, claim: &PersistentVolumeClaim, class: &StorageClass) -> Result<String, Error> {
        let (ns, name) = (claim.metadata.namespace.clone().unwrap_or_default(), claim.name_any());
        let message = format!("External provisioner is provisioning volume for claim \"{ns}/{name}\"");
        self.event(claim, EventType::Normal, "Provisioning", message).await;
        let spec = claim.spec.clone().unwrap_or_default();
        if spec.selector.is_some() {
            return Err(Error::Storage("claim Selector is not supported".into()));
        }
        if spec.volume_mode.as_deref() == Some("Block") {
            return Err(Error::Storage("Block volume mode is not supported".into()));
        }
        if spec.data_source.is_some() || spec.data_source_ref.is_some() {
            return Err(Error::Storage("claim dataSource is not supported".into()));
        }
        let affinity = match selected_node(claim) {
            None => None,
            Some(node) => {
                let Some(found) = self.nodes.get(&ObjectRef::new(node)) else {
                    return Err(Error::Storage(format!("failed to get target node: nodes {node:?} not found")));
                };
                let hostname = found.labels().get(HOSTNAME_LABEL).cloned().unwrap_or_else(|| node.to_string());
                Some(node_affinity(&hostname))
            }
        };
        let pv_name = volume_name_for(claim);
        let path = self.dir.join(format!("{pv_name}_{ns}_{name}"));
        make_directory(&path).map_err(|e| Error::Storage(format!("creating {}: {e}", path.display())))?;
        let volume = PersistentVolume {
            metadata: ObjectMeta {
                name: Some(pv_name.clone()),
                annotations: Some([(ann::PROVISIONED_BY.to_string(), LOCAL_PATH.to_string())].into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                capacity: spec
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get("storage").cloned())
                    .map(|q| [("storage".to_string(), q)].into()),
                access_modes: spec.access_modes.clone(),
                persistent_volume_reclaim_policy: Some(class.reclaim_policy.clone().unwrap_or_else(|| "Delete".into())),
                storage_class_name: Some(class.name_any()),
                volume_mode: Some(spec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into())),
                mount_options: class.mount_options.clone(),
                host_path: Some(HostPathVolumeSource { path: path.display().to_string(), type_: Some("DirectoryOrCreate".into()) }),
                node_affinity: affinity,
                claim_ref: Some(ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("PersistentVolumeClaim".into()),
                    namespace: Some(ns),
                    name: Some(name),
                    uid: claim.metadata.uid.clone(),
                    resource_version: claim.metadata.resource_version.clone(),
                    field_path: None,
                }),
                ..Default::default()
            }),
            status: None,
        };
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        match api.create(&PostParams::default(), &volume).await {
            Ok(_) => {}
            // Made by an earlier try whose answer was lost.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => {
                let _ = std::fs::remove_dir_all(&path);
                return Err(e.into());
            }
        }
        tracing::info!(volume = %pv_name, path = %path.display(), "volume provisioned");
        Ok(pv_name)
    }

    /// After a failure, lets the scheduler choose the node again (removes selected-node).
    async fn reschedule(&self, claim: &PersistentVolumeClaim) {
        if selected_node(claim).is_none() {
            return;
        }
        let mut updated = claim.clone();
        if let Some(a) = updated.metadata.annotations.as_mut() {
            a.remove(ann::SELECTED_NODE);
        }
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), claim.metadata.namespace.as_deref().unwrap_or_default());
        if let Err(e) = api.replace(&claim.name_any(), &PostParams::default(), &updated).await {
            tracing::debug!(error = %e, "cannot remove the selected node of a claim");
        }
    }

    /// Removes the volume's directory, then the volume.
    async fn delete(&self, volume: &PersistentVolume) -> Result<(), Error> {
        let spec = volume.spec.as_ref();
        let path = spec
            .and_then(|s| s.host_path.as_ref())
            .map(|h| h.path.clone())
            .or_else(|| spec.and_then(|s| s.local.as_ref()).map(|l| l.path.clone()));
        if let Some(path) = path {
            remove_directory(&self.dir, Path::new(&path)).map_err(Error::Storage)?;
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        match api.delete(&volume.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(volume = %volume.name_any(), "provisioned volume deleted");
        Ok(())
    }
}

fn node_affinity(hostname: &str) -> VolumeNodeAffinity {
    VolumeNodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: HOSTNAME_LABEL.into(),
                    operator: "In".into(),
                    values: Some(vec![hostname.to_string()]),
                }]),
                match_fields: None,
            }],
        }),
    }
}

/// A volume's directory, writable by any user the pod runs as (as local-path's).
fn make_directory(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
}

/// Removes a volume's directory, refusing anything outside the volume directory.
fn remove_directory(root: &Path, path: &Path) -> Result<(), String> {
    let inside = path.parent() == Some(root) && path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("pvc-"));
    if !inside {
        return Err(format!("refusing to delete {}: not a volume directory of {}", path.display(), root.display()));
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("removing {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_made_and_removed_only_inside_the_volume_dir() {
        let root = std::env::temp_dir().join(format!("corekube-local-path-test-{}", std::process::id()));
        let dir = root.join("pvc-1_ns_data");
        make_directory(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o777);
        std::fs::write(dir.join("f"), "x").unwrap();
        assert!(remove_directory(&root, Path::new("/etc")).is_err());
        assert!(remove_directory(&root, &root.join("pvc-1_ns_data/../..")).is_err());
        assert!(remove_directory(&root, &root.join("other")).is_err());
        remove_directory(&root, &dir).unwrap();
        assert!(!dir.exists());
        remove_directory(&root, &dir).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }
}
