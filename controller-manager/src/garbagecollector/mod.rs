//! The garbage collector (upstream pkg/controller/garbagecollector): deletes objects whose
//! owners are all gone, orphans the dependents of an owner deleted with the `orphan`
//! finalizer, and deletes the dependents of an owner deleted with `foregroundDeletion` before
//! letting the owner go.
//!
//! Discovery names every resource that can be listed, watched and deleted (again every 30 s,
//! for kinds added later); a metadata-only watch of each feeds the ownership graph
//! ([`graph::Graph`]), which answers which objects to look at. Workers take those from two
//! rate-limited queues and decide from live reads ([`attempt`]), never from the graph alone.

mod attempt;
mod graph;
mod monitors;
mod queue;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use kube::Client;
use tokio_util::sync::CancellationToken;

use graph::{Graph, Resource, Uid, Work};
use queue::WorkQueue;

/// Upstream's `--concurrent-gc-syncs`.
const WORKERS: usize = 20;
/// How often discovery is made again to watch resources added since.
const RESYNC: Duration = Duration::from_secs(30);
/// How long the workers wait for the first lists before they start anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this long for one item's API calls; a slower one fails and is retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// A reference to a kind discovery does not list (yet): retried with backoff, as upstream.
    #[error("no served resource for {api_version} {kind}")]
    UnknownKind { api_version: String, kind: String },
    /// A cluster-scoped object cannot have a namespaced owner: left alone, not retried.
    #[error("cluster-scoped {0} refers to a namespaced owner")]
    NamespacedOwnerOfClusterScoped(String),
    #[error("{0}")]
    Failed(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// What the watches, the discovery loop and the workers share.
pub(crate) struct Gc {
    client: Client,
    graph: Mutex<Graph>,
    /// Every served kind by (apiVersion, kind), every version of every group, from the last
    /// discovery that succeeded.
    kinds: RwLock<HashMap<(String, String), Arc<Resource>>>,
    deletes: Arc<WorkQueue<Uid>>,
    orphans: Arc<WorkQueue<Uid>>,
}

impl Gc {
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph.lock().expect("graph lock")
    }

    fn enqueue(&self, work: Vec<Work>) {
        for w in work {
            match w {
                Work::AttemptToDelete(uid) => self.deletes.add(uid),
                Work::AttemptToOrphan(uid) => self.orphans.add(uid),
            }
        }
    }

    fn kind(&self, api_version: &str, kind: &str) -> Result<Arc<Resource>, Error> {
        let kinds = self.kinds.read().expect("kinds lock");
        kinds
            .get(&(api_version.to_string(), kind.to_string()))
            .cloned()
            .ok_or_else(|| Error::UnknownKind { api_version: api_version.into(), kind: kind.into() })
    }
}

pub(crate) fn start(client: Client, shutdown: CancellationToken) -> crate::Running {
    let gc = Arc::new(Gc {
        client,
        graph: Mutex::new(Graph::default()),
        kinds: RwLock::new(HashMap::new()),
        deletes: WorkQueue::new(shutdown.clone()),
        orphans: WorkQueue::new(shutdown.clone()),
    });
    Box::pin(run(gc, shutdown))
}

/// Discovery and watches first, then the workers once the graph holds every first list; then
/// discovery again every 30 s until shutdown.
async fn run(gc: Arc<Gc>, shutdown: CancellationToken) {
    let mut monitors = monitors::Monitors::default();
    let mut retry = Duration::from_secs(1);
    let synced = loop {
        match monitors.sync(&gc, &shutdown).await {
            Ok(synced) => break synced,
            Err(e) => {
                tracing::warn!(error = %e, ?retry, "garbage collector: discovery failed; trying again");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(RESYNC);
            }
        }
    };
    tokio::select! {
        _ = shutdown.cancelled() => return,
        done = tokio::time::timeout(SYNC_TIMEOUT, futures::future::join_all(synced)) => {
            if done.is_err() {
                tracing::warn!("garbage collector: some watches not synced after {SYNC_TIMEOUT:?}; starting anyway");
            }
        }
    }
    tracing::info!(resources = monitors.len(), objects = gc.graph().len(), "garbage collector synced");
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        workers.push(tokio::spawn(delete_worker(gc.clone())));
        workers.push(tokio::spawn(orphan_worker(gc.clone())));
    }
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(RESYNC) => {}
        }
        if let Err(e) = monitors.sync(&gc, &shutdown).await {
            tracing::warn!(error = %e, "garbage collector: discovery failed; the watches stay as they are");
        }
    }
    monitors.stop();
    futures::future::join_all(workers).await;
}

async fn delete_worker(gc: Arc<Gc>) {
    while let Some(uid) = gc.deletes.next().await {
        let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, gc.attempt_to_delete(&uid)).await.unwrap_or(Err(Error::Timeout(ATTEMPT_TIMEOUT)));
        match outcome {
            Ok(()) => gc.deletes.forget(&uid),
            Err(e @ Error::NamespacedOwnerOfClusterScoped(_)) => {
                tracing::info!(%uid, error = %e, "garbage collector: object left alone");
                gc.deletes.forget(&uid);
            }
            Err(e @ Error::UnknownKind { .. }) => {
                tracing::debug!(%uid, error = %e, "garbage collector: cannot decide yet; retried later");
                gc.deletes.add_rate_limited(uid.clone());
            }
            Err(e) => {
                tracing::info!(%uid, error = %e, "garbage collector: attempt to delete failed; retried later");
                gc.deletes.add_rate_limited(uid.clone());
            }
        }
        gc.deletes.done(&uid);
    }
}

async fn orphan_worker(gc: Arc<Gc>) {
    while let Some(uid) = gc.orphans.next().await {
        let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, gc.attempt_to_orphan(&uid)).await.unwrap_or(Err(Error::Timeout(ATTEMPT_TIMEOUT)));
        match outcome {
            Ok(()) => gc.orphans.forget(&uid),
            Err(e) => {
                tracing::info!(%uid, error = %e, "garbage collector: orphaning failed; retried later");
                gc.orphans.add_rate_limited(uid.clone());
            }
        }
        gc.orphans.done(&uid);
    }
}
