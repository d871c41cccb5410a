//! One watch of a kind shared by every controller that needs it, as upstream's shared
//! informer factory: a kube-rs reflector store to read, and any number of subscriber streams
//! that see each object that changed, including deleted ones.
//!
//! kube-rs's own shared streams (`reflector::store_shared`) pass on only applied objects, so
//! an owner never hears that its pod was deleted; this fan-out passes deletions on too, and
//! after a relist it passes on, as deleted, every object the relist no longer has (client-go's
//! DeletedFinalStateUnknown).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, Lookup, ObjectRef, Store};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::Api;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A kind's shared watch: build it, subscribe every consumer, then `spawn` it.
pub struct SharedInformer<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    api: Api<K>,
    config: watcher::Config,
    writer: reflector::store::Writer<K>,
    subscribers: Arc<Mutex<Vec<mpsc::UnboundedSender<K>>>>,
}

impl<K> SharedInformer<K>
where
    K: kube::Resource<DynamicType = ()> + Lookup<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    pub fn new(api: Api<K>, config: watcher::Config) -> Self {
        SharedInformer { api, config, writer: reflector::store::Writer::default(), subscribers: Default::default() }
    }

    /// The cache every subscriber reads; it is ready once the first list is complete.
    pub fn store(&self) -> Store<K> {
        self.writer.as_reader()
    }

    /// A stream of every object that changes from now on, deleted ones included, each sent after
    /// the store holds the change. In the form `kube::runtime::Controller`'s `*_stream` builders take.
    pub fn subscribe(&self) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.lock().expect("subscribers lock").push(tx);
        tokio_stream::wrappers::UnboundedReceiverStream::new(rx).map(Ok)
    }

    /// Runs the watch until `shutdown`; failures are retried with kube-rs's default backoff.
    pub fn spawn(self, shutdown: CancellationToken) {
        let SharedInformer { api, config, mut writer, subscribers } = self;
        tokio::spawn(async move {
            let mut stream = Box::pin(watcher(api, config).default_backoff());
            // What the store held when a relist began, to find what the relist dropped.
            let mut before_relist: Option<HashMap<ObjectRef<K>, Arc<K>>> = None;
            loop {
                let event = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    e = stream.next() => e,
                };
                let event = match event {
                    None => return,
                    Some(Err(e)) => {
                        tracing::debug!(kind = %<K as kube::Resource>::kind(&()), error = %e, "watch error; the watcher retries");
                        continue;
                    }
                    Some(Ok(e)) => e,
                };
                if matches!(event, watcher::Event::Init) {
                    let store = writer.as_reader();
                    before_relist = Some(store.state().into_iter().map(|o| (ObjectRef::from_obj(o.as_ref()), o)).collect());
                }
                writer.apply_watcher_event(&event);
                let touched: Vec<K> = match event {
                    watcher::Event::Apply(o) | watcher::Event::Delete(o) => vec![o],
                    watcher::Event::Init | watcher::Event::InitApply(_) => continue,
                    watcher::Event::InitDone => {
                        // Everything the new list holds, and, as deleted, what it dropped.
                        let store = writer.as_reader();
                        let mut all: Vec<K> = store.state().iter().map(|o| o.as_ref().clone()).collect();
                        if let Some(before) = before_relist.take() {
                            all.extend(before.into_iter().filter(|(key, _)| store.get(key).is_none()).map(|(_, o)| o.as_ref().clone()));
                        }
                        all
                    }
                };
                let mut subs = subscribers.lock().expect("subscribers lock");
                subs.retain(|tx| touched.iter().all(|o| tx.send(o.clone()).is_ok()));
            }
        });
    }
}
