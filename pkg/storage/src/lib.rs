//! The Storage seam: objects in etcd keyed by resource, namespace and name, with resourceVersion
//! equal to the etcd revision, and one shared etcd watch per resource fanned out to watchers.

mod cached;
mod cacher;
mod error;
mod selector_view;
mod store;
#[cfg(feature = "test-etcd")]
pub mod test_etcd;
mod transport;

pub use cached::{labels_of, labels_only, Attrs, AttrsFn, CachedObject};
pub use cacher::{Cacher, CacherConfig, Event, EventType, WatchStart, WatchStream};
pub use error::StorageError;
pub use store::{EtcdStore, ListPage};

/// The etcd key prefix under which every object lives, as upstream.
pub const KEY_PREFIX: &str = "/registry";

/// The key of one object: `/registry/{resource}/{namespace}/{name}` or, cluster-scoped,
/// `/registry/{resource}/{name}`.
pub fn object_key(resource: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{KEY_PREFIX}/{resource}/{ns}/{name}"),
        None => format!("{KEY_PREFIX}/{resource}/{name}"),
    }
}

/// The prefix covering a resource's objects, optionally only those of one namespace. It ends in
/// `/` so that `pods/ns1` never matches `pods/ns10`.
pub fn collection_prefix(resource: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{KEY_PREFIX}/{resource}/{ns}/"),
        None => format!("{KEY_PREFIX}/{resource}/"),
    }
}
