//! Watches of the objects the scheduler needs (pods, nodes, volumes), turned into one stream
//! of cluster events for the scheduling loop. kube-rs's watcher lists, then watches, and
//! relists after a 410; a relist arrives as Init, InitApply..., InitDone so the loop can drop
//! objects that disappeared meanwhile.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One change seen by a watch.
#[derive(Debug)]
pub enum Change<K> {
    /// An object as it is now (added or modified).
    Apply(K),
    Delete(K),
    /// A (re)list starts: objects not applied before `Synced` are gone.
    Relist,
    /// The list is complete.
    Synced,
}

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
    tokio::spawn(async move {
        // Default backoff: a failed list or watch is retried, never ends the stream.
        let mut stream = Box::pin(kube::runtime::WatchStreamExt::default_backoff(watcher(api, watcher::Config::default())));
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = stream.next() => n,
            };
            let change = match next {
                None => return,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "scheduler watch error; the watcher retries");
                    continue;
                }
                Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) => Change::Apply(o),
                Some(Ok(watcher::Event::Delete(o))) => Change::Delete(o),
                Some(Ok(watcher::Event::Init)) => Change::Relist,
                Some(Ok(watcher::Event::InitDone)) => Change::Synced,
            };
            if tx.send(wrap(change)).await.is_err() {
                return;
            }
        }
    });
}
