//! Discovery of the resources the garbage collector follows, and one metadata-only watch of
//! each feeding the graph (upstream's GraphBuilder monitors).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{DynamicObject, PartialObjectMeta};
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::Api;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::graph::{Resource, Uid};
use super::Gc;

/// Resources the garbage collector never follows (upstream's DefaultIgnoredResources).
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

struct Monitor {
    resource: Arc<Resource>,
    stop: CancellationToken,
}

/// The running watches, by `apiVersion/plural`.
#[derive(Default)]
pub(super) struct Monitors {
    running: HashMap<String, Monitor>,
}

impl Monitors {
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Makes discovery again: records every served kind, starts a watch for each new deletable
    /// resource and stops those no longer served. Answers the first-list signals of the
    /// watches it started.
    pub async fn sync(&mut self, gc: &Arc<Gc>, shutdown: &CancellationToken) -> Result<Vec<oneshot::Receiver<()>>, kube::Error> {
        let discovery = match Discovery::new(gc.client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(error = %e, "aggregated discovery failed; trying the legacy one");
                Discovery::new(gc.client.clone()).run().await?
            }
        };
        let mut kinds = HashMap::new();
        let mut deletable = HashMap::new();
        for group in discovery.groups() {
            for version in group.versions() {
                for (api, caps) in group.versioned_resources(version) {
                    let resource = Arc::new(Resource { namespaced: caps.scope == Scope::Namespaced, api });
                    kinds.entry((resource.api.api_version.clone(), resource.api.kind.clone())).or_insert(resource);
                }
            }
            for (api, caps) in group.recommended_resources() {
                let watched = [verbs::LIST, verbs::WATCH, verbs::DELETE].iter().all(|v| caps.supports_operation(v));
                if !watched || IGNORED.contains(&(api.group.as_str(), api.plural.as_str())) {
                    continue;
                }
                let key = format!("{}/{}", api.api_version, api.plural);
                deletable.insert(key, Resource { namespaced: caps.scope == Scope::Namespaced, api });
            }
        }
        *gc.kinds.write().expect("kinds lock") = kinds;

        self.running.retain(|key, m| {
            let keep = deletable.get(key).is_some_and(|r| *r == *m.resource);
            if !keep {
                tracing::info!(resource = %key, "garbage collector: no longer watching");
                m.stop.cancel();
            }
            keep
        });
        let mut synced = Vec::new();
        for (key, resource) in deletable {
            if self.running.contains_key(&key) {
                continue;
            }
            let resource = Arc::new(resource);
            let stop = shutdown.child_token();
            let (tx, rx) = oneshot::channel();
            tokio::spawn(watch(gc.clone(), resource.clone(), stop.clone(), tx));
            tracing::debug!(resource = %key, "garbage collector: watching");
            self.running.insert(key, Monitor { resource, stop });
            synced.push(rx);
        }
        Ok(synced)
    }

    pub fn stop(&mut self) {
        for (_, m) in self.running.drain() {
            m.stop.cancel();
        }
    }
}

/// Follows one resource until `stop`, applying every change to the graph and queueing what
/// it asks for. After a (re)list, objects the list no longer has count as deleted.
async fn watch(gc: Arc<Gc>, resource: Arc<Resource>, stop: CancellationToken, synced: oneshot::Sender<()>) {
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(gc.client.clone(), &resource.api);
    let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
    let mut synced = Some(synced);
    // The uids of the list under way.
    let mut listed: Option<HashSet<Uid>> = None;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            e = stream.next() => e,
        };
        let work = match event {
            None => return,
            Some(Err(e)) => {
                tracing::debug!(resource = %resource.api.plural, error = %e, "garbage collector watch error; the watcher retries");
                continue;
            }
            Some(Ok(watcher::Event::Init)) => {
                listed = Some(HashSet::new());
                continue;
            }
            Some(Ok(watcher::Event::InitApply(o))) => {
                if let (Some(seen), Some(uid)) = (listed.as_mut(), o.metadata.uid.clone()) {
                    seen.insert(uid);
                }
                gc.graph().observe(&resource, &o.metadata)
            }
            Some(Ok(watcher::Event::InitDone)) => {
                let seen = listed.take().unwrap_or_default();
                let mut graph = gc.graph();
                let gone: Vec<Uid> = graph.observed_in(&resource).into_iter().filter(|u| !seen.contains(u)).collect();
                let work = gone.iter().flat_map(|uid| graph.observe_deleted(uid)).collect();
                drop(graph);
                if let Some(tx) = synced.take() {
                    let _ = tx.send(());
                }
                work
            }
            Some(Ok(watcher::Event::Apply(o))) => gc.graph().observe(&resource, &o.metadata),
            Some(Ok(watcher::Event::Delete(o))) => match o.metadata.uid.as_deref() {
                Some(uid) => gc.graph().observe_deleted(uid),
                None => continue,
            },
        };
        gc.enqueue(work);
    }
}
