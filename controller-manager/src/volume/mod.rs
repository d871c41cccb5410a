//! Persistent volumes: upstream's PV controller (pkg/controller/volume/persistentvolume), which
//! binds claims to volumes and reclaims released volumes, and corekube's built-in local
//! provisioner, which serves StorageClasses whose provisioner is [`LOCAL_PATH`] the way an
//! external provisioner serves its classes (kind's `standard` class works the same way).
//!
//! [`binder`] keeps two loops, one over claims and one over volumes, as upstream's two work
//! queues; [`provisioner`] keeps two more, one that provisions for claims annotated with its
//! name and one that deletes what it provisioned once released. All four read the shared caches
//! and write through the API server.

mod binder;
pub(crate) mod matching;
mod provisioner;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kube::runtime::reflector::Store;
use kube::Resource;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;

/// The provisioner name of corekube's built-in local provisioner (the `standard` class's).
pub const LOCAL_PATH: &str = "corekube.io/local-path";

/// The annotations of the binding protocol, shared with the scheduler and provisioners.
pub mod ann {
    /// On a claim: the binder finished binding it (upstream's AnnBindCompleted).
    pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
    /// On a claim or volume: the binder (not the user) set the binding.
    pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
    /// On a volume: the provisioner that made it.
    pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
    /// On a claim: the provisioner asked to provision it.
    pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
    pub const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
    /// On a claim: the node the scheduler chose for its first consumer.
    pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
    pub const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
    /// On a StorageClass: claims without a class get it.
    pub const IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
    pub const BETA_IS_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
}

/// Starts the binder's and the local provisioner's loops; the provisioner keeps its
/// directories under `volume_dir`.
pub(crate) fn start(informers: &mut Informers, client: kube::Client, volume_dir: PathBuf, shutdown: CancellationToken) -> crate::Running {
    let binder = binder::start(informers, client.clone(), shutdown.clone());
    let provisioner = provisioner::start(informers, client, volume_dir, shutdown);
    Box::pin(async move {
        futures::future::join(binder, provisioner).await;
    })
}

/// The newest version of the objects a loop wrote itself, until the watch delivers them
/// (upstream's storeObjectUpdate): a binding takes four writes, and the steps after the
/// first must not act on the cache's older copies.
pub(crate) struct Newest<K> {
    written: Mutex<HashMap<String, Arc<K>>>,
}

impl<K> Default for Newest<K> {
    fn default() -> Self {
        Newest { written: Mutex::new(HashMap::new()) }
    }
}

fn revision<K: Resource>(obj: &K) -> u64 {
    obj.meta().resource_version.as_deref().and_then(|rv| rv.parse().ok()).unwrap_or(0)
}

fn key<K: Resource>(obj: &K) -> String {
    format!("{}/{}", obj.meta().namespace.as_deref().unwrap_or_default(), obj.meta().name.as_deref().unwrap_or_default())
}

impl<K: Resource<DynamicType = ()> + Clone> Newest<K> {
    /// Remembers what the API server returned for a write.
    pub fn wrote(&self, obj: K) -> Arc<K> {
        let obj = Arc::new(obj);
        self.written.lock().expect("newest lock").insert(key(obj.as_ref()), obj.clone());
        obj
    }

    /// The newer of the cached object and the one last written; None when the cache no
    /// longer has it (it was deleted).
    pub fn fresher(&self, cached: Option<Arc<K>>, name: &str, namespace: Option<&str>) -> Option<Arc<K>> {
        let key = format!("{}/{name}", namespace.unwrap_or_default());
        let mut written = self.written.lock().expect("newest lock");
        let Some(cached) = cached else {
            written.remove(&key);
            return None;
        };
        match written.get(&key) {
            Some(mine) if revision(mine.as_ref()) > revision(cached.as_ref()) => Some(mine.clone()),
            Some(_) => {
                written.remove(&key);
                Some(cached)
            }
            None => Some(cached),
        }
    }

    /// Every cached object, each replaced by a newer written one.
    pub fn all(&self, store: &Store<K>) -> Vec<Arc<K>> {
        let written = self.written.lock().expect("newest lock");
        store
            .state()
            .into_iter()
            .map(|cached| match written.get(&key(cached.as_ref())) {
                Some(mine) if revision(mine.as_ref()) > revision(cached.as_ref()) => mine.clone(),
                _ => cached,
            })
            .collect()
    }
}

/// Whether the class is marked default (either annotation, as upstream's IsDefaultAnnotation).
pub fn is_default_class(class: &k8s_openapi::api::storage::v1::StorageClass) -> bool {
    let a = class.metadata.annotations.as_ref();
    a.and_then(|a| a.get(ann::IS_DEFAULT_CLASS)).is_some_and(|v| v == "true")
        || a.and_then(|a| a.get(ann::BETA_IS_DEFAULT_CLASS)).is_some_and(|v| v == "true")
}

/// Upstream's GetDefaultClass: of the default classes, the newest; equally old ones by name.
pub fn default_class<'a>(
    classes: impl IntoIterator<Item = &'a k8s_openapi::api::storage::v1::StorageClass>,
) -> Option<&'a k8s_openapi::api::storage::v1::StorageClass> {
    let created = |c: &k8s_openapi::api::storage::v1::StorageClass| c.metadata.creation_timestamp.as_ref().map(|t| t.0);
    classes
        .into_iter()
        .filter(|c| is_default_class(c))
        .min_by(|a, b| created(b).cmp(&created(a)).then_with(|| a.metadata.name.cmp(&b.metadata.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::storage::v1::StorageClass;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use std::collections::BTreeMap;

    fn class(name: &str, created: i64, default: Option<&str>) -> StorageClass {
        StorageClass {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(jiff::Timestamp::from_second(created).unwrap())),
                annotations: default.map(|k| BTreeMap::from([(k.to_string(), "true".to_string())])),
                ..Default::default()
            },
            provisioner: LOCAL_PATH.into(),
            ..Default::default()
        }
    }

    #[test]
    fn newest_default_class_wins() {
        let name = |v: &[StorageClass]| default_class(v.iter()).and_then(|c| c.metadata.name.clone());
        assert_eq!(name(&[class("a", 1, None)]), None);
        assert_eq!(
            name(&[class("old", 1, Some(ann::IS_DEFAULT_CLASS)), class("new", 2, Some(ann::BETA_IS_DEFAULT_CLASS))]),
            Some("new".into())
        );
        assert_eq!(
            name(&[class("b", 5, Some(ann::IS_DEFAULT_CLASS)), class("a", 5, Some(ann::IS_DEFAULT_CLASS)), class("z", 9, None)]),
            Some("a".into())
        );
    }
}
