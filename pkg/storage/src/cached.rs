//! How the watch cache holds an object: its JSON, encoded once when the change arrives, plus the
//! few attributes selectors read. Watchers and cached lists copy the bytes as they are instead
//! of re-encoding a tree per request, and the cache costs about the objects' encoded size
//! instead of several times it for parsed trees.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

/// What label and field selectors look at, taken from the object when it is cached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    pub labels: BTreeMap<String, String>,
    /// `(field label, value)` for each field label the resource supports.
    pub fields: Vec<(&'static str, String)>,
}

impl Attrs {
    pub fn field(&self, label: &str) -> Option<&str> {
        self.fields.iter().find(|(l, _)| *l == label).map(|(_, v)| v.as_str())
    }
}

/// Computes the selector attributes of a resource's objects; the apiserver supplies it from
/// the resource's field labels. The default records labels only.
pub type AttrsFn = Arc<dyn Fn(&Value) -> Attrs + Send + Sync>;

pub fn labels_only() -> AttrsFn {
    Arc::new(|obj: &Value| Attrs { labels: labels_of(obj), fields: Vec::new() })
}

pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// One object as the cache holds it.
#[derive(Debug)]
pub struct CachedObject {
    /// The stored JSON with `metadata.resourceVersion` set to `revision`.
    pub json: Bytes,
    pub attrs: Attrs,
    pub revision: i64,
}

impl CachedObject {
    pub fn new(obj: &Value, revision: i64, attrs: &AttrsFn) -> Arc<CachedObject> {
        let json = Bytes::from(serde_json::to_vec(obj).expect("a JSON value always serializes"));
        Arc::new(CachedObject { json, attrs: attrs(obj), revision })
    }

    /// The placeholder a bookmark carries.
    pub fn empty() -> Arc<CachedObject> {
        Arc::new(CachedObject { json: Bytes::from_static(b"null"), attrs: Attrs::default(), revision: 0 })
    }

    /// The object parsed; for the paths that need the whole tree (tables, conversions).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).expect("cached JSON was produced by serde_json")
    }
}
