//! The part of a stored object that selectors read, parsed from its JSON without building the
//! rest. Every change the watch cache receives needs its labels and field-label values, and
//! those sit near the top (`metadata.labels`, `spec.nodeName`, `involvedObject.name`), while
//! most of an object's bytes are lists (containers, volumes, managedFields) nobody selects on.
//! The skipped parts are still parsed, so malformed JSON is still an error.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The object with only: top-level members that are scalars or objects; scalar members of
/// those objects; and `metadata.labels` with its values. Lists are left out everywhere.
pub fn selector_view(json: &[u8]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let view = Keep { depth: 0, metadata: false, labels: false }.deserialize(&mut de)?;
    de.end()?;
    Ok(view.unwrap_or(Value::Null))
}

/// Parses one value at `depth` (0 = the object itself), yielding it if the view keeps it.
#[derive(Clone, Copy)]
struct Keep {
    depth: u8,
    /// This value is the top-level `metadata`.
    metadata: bool,
    /// This value is `metadata.labels`.
    labels: bool,
}

impl Keep {
    fn keeps_object(self) -> bool {
        self.depth <= 1 || self.labels
    }
}

impl<'de> DeserializeSeed<'de> for Keep {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keep {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::String(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if !self.keeps_object() {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(None);
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = Keep {
                depth: self.depth + 1,
                metadata: self.depth == 0 && key == "metadata",
                labels: self.metadata && key == "labels",
            };
            if let Some(v) = map.next_value_seed(child)? {
                out.insert(key, v);
            }
        }
        Ok(Some(Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_what_selectors_read_and_drops_lists() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "n", "labels": {"app": "web", "tier": "1"},
                "managedFields": [{"manager": "kubectl"}], "annotations": {"a": "b"}},
            "spec": {"nodeName": "n1", "hostNetwork": true, "containers": [{"name": "c"}], "securityContext": {"runAsUser": 1}, "labels": {"x": "y"}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready"}], "podIP": "10.0.0.1"}
        });
        let view = selector_view(&serde_json::to_vec(&pod).unwrap()).unwrap();
        assert_eq!(
            view,
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "n", "labels": {"app": "web", "tier": "1"}},
                "spec": {"nodeName": "n1", "hostNetwork": true},
                "status": {"phase": "Running", "podIP": "10.0.0.1"}
            })
        );
        let event = json!({"involvedObject": {"kind": "Pod", "name": "p"}, "source": {"component": "kubelet"}, "reason": "Started"});
        assert_eq!(selector_view(&serde_json::to_vec(&event).unwrap()).unwrap(), event);
    }

    #[test]
    fn malformed_json_in_skipped_parts_is_still_an_error() {
        assert!(selector_view(br#"{"metadata":{"name":"a"},"spec":{"containers":[{"name":]}}"#).is_err());
        assert!(selector_view(br#"{"metadata":{"name":"a"}} trailing"#).is_err());
    }
}
