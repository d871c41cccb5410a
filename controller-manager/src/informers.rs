//! The controller manager's shared watches: one per kind however many controllers read it,
//! as upstream's SharedInformerFactory. Controllers ask for a kind's store and subscribe to its
//! changes while they are built; `start` then opens every watch and waits until each store
//! holds its first list, so no controller acts on an empty cache.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corekube_client::shared::SharedInformer;
use futures::future::BoxFuture;
use futures::Stream;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

type Starter = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

pub struct Informers {
    client: Client,
    by_kind: HashMap<TypeId, Box<dyn Any + Send>>,
    starters: Vec<Starter>,
}

/// How long `start` waits for the first lists before it reports a stuck watch (it keeps waiting).
const SYNC_WARNING: Duration = Duration::from_secs(30);

impl Informers {
    pub fn new(client: Client) -> Self {
        Informers { client, by_kind: HashMap::new(), starters: Vec::new() }
    }

    fn informer_with<K>(&mut self, api: impl FnOnce(Client) -> Api<K>) -> Arc<Mutex<Option<SharedInformer<K>>>>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    {
        if let Some(existing) = self.by_kind.get(&TypeId::of::<K>()) {
            return existing.downcast_ref::<Arc<Mutex<Option<SharedInformer<K>>>>>().expect("one entry type per kind").clone();
        }
        let informer = Arc::new(Mutex::new(Some(SharedInformer::new(api(self.client.clone()), watcher::Config::default()))));
        self.by_kind.insert(TypeId::of::<K>(), Box::new(informer.clone()));
        let starting = informer.clone();
        self.starters.push(Box::new(move |shutdown| {
            let informer = starting.lock().expect("informer lock").take().expect("started once");
            let store = informer.store();
            informer.spawn(shutdown);
            Box::pin(async move {
                let waited = tokio::time::timeout(SYNC_WARNING, store.wait_until_ready()).await;
                if waited.is_err() {
                    tracing::warn!(kind = %K::kind(&()), "watch not synced after 30 s; still waiting");
                    let _ = store.wait_until_ready().await;
                }
            })
        }));
        informer
    }

    /// The cache of a kind, across all namespaces for a namespaced one.
    pub fn store<K>(&mut self) -> Store<K>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    {
        self.informer_with(|c| Api::<K>::all(c)).lock().expect("informer lock").as_ref().expect("not started").store()
    }

    /// Every change of a kind, deleted objects included.
    pub fn subscribe<K>(&mut self) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    {
        self.informer_with(|c| Api::<K>::all(c)).lock().expect("informer lock").as_ref().expect("not started").subscribe()
    }

    /// Opens every watch asked for and waits until each has listed once; false on shutdown.
    pub async fn start(self, shutdown: CancellationToken) -> bool {
        let synced: Vec<_> = self.starters.into_iter().map(|start| start(shutdown.clone())).collect();
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = futures::future::join_all(synced) => true,
        }
    }
}
