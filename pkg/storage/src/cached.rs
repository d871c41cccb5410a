//! How the watch cache holds an object: its JSON, encoded once when the change arrives, plus the
//! few attributes selectors read. Watchers and cached lists copy the bytes as they are instead
//! of re-encoding a tree per request, and the cache costs about the objects' encoded size
//! instead of several times it for parsed trees.

use std::sync::Arc;

use bytes::Bytes;
use corekube_api::selector::LabelSet;
use serde_json::Value;

/// What label and field selectors look at, taken from the object when it is cached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    pub labels: LabelSet,
    /// `(field label, value)` for each field label the resource supports.
    pub fields: Box<[(&'static str, Box<str>)]>,
}

impl Attrs {
    pub fn field(&self, label: &str) -> Option<&str> {
        self.fields.iter().find(|(l, _)| *l == label).map(|(_, v)| &**v)
    }
}

/// Computes the selector attributes of a resource's objects; the apiserver supplies it from
/// the resource's field labels. The default records labels only.
pub type AttrsFn = Arc<dyn Fn(&Value) -> Attrs + Send + Sync>;

pub fn labels_only() -> AttrsFn {
    Arc::new(|obj: &Value| Attrs { labels: labels_of(obj), fields: Box::default() })
}

pub fn labels_of(obj: &Value) -> LabelSet {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| LabelSet::from_pairs(m.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))))
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

    /// From the bytes etcd stores (the object without a resourceVersion): the resourceVersion
    /// is spliced into the stored bytes and the attributes read from the selector view, so
    /// the object is neither parsed whole nor encoded again. Errors when the bytes are not a
    /// JSON object.
    pub fn from_stored(stored: &[u8], revision: i64, attrs: &AttrsFn) -> serde_json::Result<Arc<CachedObject>> {
        if let Some(json) = with_resource_version_spliced(stored, revision) {
            let view = crate::selector_view::selector_view(stored)?;
            if view.is_object() {
                return Ok(Arc::new(CachedObject { json: Bytes::from(json), attrs: attrs(&view), revision }));
            }
        }
        let mut obj: Value = serde_json::from_slice(stored)?;
        let Some(o) = obj.as_object_mut() else {
            return Err(serde::de::Error::custom("not a JSON object"));
        };
        let meta = o.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("resourceVersion".into(), Value::String(revision.to_string()));
        }
        Ok(CachedObject::new(&obj, revision, attrs))
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

/// Inserts `"resourceVersion":"<revision>"` as the first member of the top-level `metadata`
/// object of a JSON document, scanning only as far as that object starts. None when the
/// document has no such object (the caller then encodes the parsed tree). It does not look
/// for a resourceVersion already in `metadata`: the caller passes only what etcd stores, which
/// never has one (the store strips it before every write), so no duplicate member can result.
pub fn with_resource_version_spliced(json: &[u8], revision: i64) -> Option<Vec<u8>> {
    let at = top_level_member_start(json, b"metadata")?;
    if json.get(at) != Some(&b'{') {
        return None;
    }
    let rest = &json[at + 1..];
    let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    let member = format!("\"resourceVersion\":\"{revision}\"{}", if empty { "" } else { "," });
    let mut out = Vec::with_capacity(json.len() + member.len());
    out.extend_from_slice(&json[..=at]);
    out.extend_from_slice(member.as_bytes());
    out.extend_from_slice(rest);
    Some(out)
}

/// The offset of the value of the top-level member `key` (after the colon and whitespace).
fn top_level_member_start(json: &[u8], key: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    // Whether the next string at depth 1 is a member name (after `{` or `,`), not a value.
    let mut expect_key = false;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    if json[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let s = json.get(start..i)?;
                if depth == 1 && expect_key {
                    expect_key = false;
                    if s == key {
                        let mut j = i + 1;
                        while j < json.len() && (json[j].is_ascii_whitespace() || json[j] == b':') {
                            j += 1;
                        }
                        return Some(j);
                    }
                }
            }
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1;
            }
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 1 => expect_key = true,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spliced(v: &Value) -> Value {
        serde_json::from_slice(&with_resource_version_spliced(&serde_json::to_vec(v).unwrap(), 42).unwrap()).unwrap()
    }

    #[test]
    fn splices_into_the_top_level_metadata_only() {
        let obj = json!({
            "apiVersion": "apps/v1",
            "data": {"metadata": "{\"x\": 1}", "a\"metadata": "y"},
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"metadata": "z"}},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}}},
        });
        let mut want = obj.clone();
        want["metadata"]["resourceVersion"] = json!("42");
        assert_eq!(spliced(&obj), want);
        assert_eq!(spliced(&json!({"metadata": {}})), json!({"metadata": {"resourceVersion": "42"}}));
        assert!(with_resource_version_spliced(br#"{"kind":"X"}"#, 1).is_none());
        assert!(with_resource_version_spliced(br#"{"metadata":null}"#, 1).is_none());
    }
}
