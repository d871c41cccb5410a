//! Watches of the objects the scheduler needs (pods, nodes, volumes), turned into one stream
//! of cluster events for the scheduling loop (the watch plumbing is corekube-client's).

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use corekube_client::informer::Change;

// Each event moves once through a channel; boxing the larger objects would only add an
// allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ClusterEvent {
    Pod(Change<Pod>),
    Node(Change<Node>),
    PersistentVolume(Change<PersistentVolume>),
    PersistentVolumeClaim(Change<PersistentVolumeClaim>),
    StorageClass(Change<StorageClass>),
}

/// How many kinds `spawn_all` watches; the loop is synced when each reported `Synced` once.
pub const WATCHED_KINDS: usize = 5;

/// Starts one watch per kind, all feeding `tx`, until `shutdown`.
pub fn spawn_all(client: &Client, tx: mpsc::Sender<ClusterEvent>, shutdown: &CancellationToken) {
    spawn(Api::<Pod>::all(client.clone()), ClusterEvent::Pod, tx.clone(), shutdown.clone());
    spawn(Api::<Node>::all(client.clone()), ClusterEvent::Node, tx.clone(), shutdown.clone());
    spawn(Api::<PersistentVolume>::all(client.clone()), ClusterEvent::PersistentVolume, tx.clone(), shutdown.clone());
    spawn(Api::<PersistentVolumeClaim>::all(client.clone()), ClusterEvent::PersistentVolumeClaim, tx.clone(), shutdown.clone());
    spawn(Api::<StorageClass>::all(client.clone()), ClusterEvent::StorageClass, tx, shutdown.clone());
}

fn spawn<K>(api: Api<K>, wrap: fn(Change<K>) -> ClusterEvent, tx: mpsc::Sender<ClusterEvent>, shutdown: CancellationToken)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    corekube_client::informer::spawn(api, watcher::Config::default(), wrap, tx, shutdown);
}
