//! The FieldsV1 encoding of field sets (`{"f:spec":{"f:replicas":{}}}`), byte-compatible with
//! upstream's `fieldpath` serializer, and the Go-`encoding/json`-compatible writer it (and the
//! last-applied annotation, and manager identifiers) need: sorted object keys, HTML-escaped
//! strings, Go's float formatting.

use serde_json::{Map, Value};

use crate::element::PathElement;
use crate::fieldset::FieldSet;

/// Why a FieldsV1 document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl FieldSet {
    /// The FieldsV1 JSON text, exactly as upstream writes it: a member that also has children
    /// gets a `".": {}` entry first; entries are ordered by path element (fields, then keys,
    /// then values, then indices).
    pub fn to_fields_v1_string(&self) -> String {
        let mut out = String::new();
        out.push('{');
        self.emit(false, &mut out);
        out.push('}');
        out
    }

    /// The FieldsV1 document as a JSON value (for `managedFields[].fieldsV1`). Note that
    /// `serde_json::Map` orders keys by string, which differs from upstream's order only for
    /// key/value elements whose numbers sort differently as text.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.fields_v1_node(false))
    }

    /// One node of [`to_fields_v1`](Self::to_fields_v1), built directly (the text form's
    /// entries, in the map's own key order).
    fn fields_v1_node(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !(self.members.is_empty() && self.children.is_empty()) {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        for pe in &self.members {
            if !self.children.contains_key(pe) {
                out.insert(path_element_key(pe), Value::Object(Map::new()));
            }
        }
        for (pe, child) in &self.children {
            out.insert(path_element_key(pe), Value::Object(child.fields_v1_node(self.members.contains(pe))));
        }
        out
    }

    fn emit(&self, include_self: bool, out: &mut String) {
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !first {
                out.push(',');
            }
            first = false;
        };
        if include_self && !(self.members.is_empty() && self.children.is_empty()) {
            sep(out);
            out.push_str("\".\":{}");
        }
        let mut members = self.members.iter().peekable();
        let mut children = self.children.iter().peekable();
        loop {
            let take_member = match (members.peek(), children.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(m), Some((c, _))) => *m < c,
            };
            sep(out);
            if take_member {
                let pe = members.next().expect("peeked");
                write_go_string(&path_element_key(pe), out);
                out.push_str(":{}");
            } else {
                let (pe, child) = children.next().expect("peeked");
                let is_member = members.peek() == Some(&pe);
                if is_member {
                    members.next();
                }
                write_go_string(&path_element_key(pe), out);
                out.push_str(":{");
                child.emit(is_member, out);
                out.push('}');
            }
        }
    }

    /// Reads a FieldsV1 document. Keys of unknown element types are ignored, as upstream does.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, DecodeError> {
        let obj = v.as_object().ok_or_else(|| DecodeError("FieldsV1 must be a JSON object".into()))?;
        let (set, _) = read_node(obj)?;
        Ok(set)
    }

    /// [`from_fields_v1`](Self::from_fields_v1) from JSON text.
    pub fn from_fields_v1_str(s: &str) -> Result<FieldSet, DecodeError> {
        let v: Value = serde_json::from_str(s).map_err(|e| DecodeError(e.to_string()))?;
        Self::from_fields_v1(&v)
    }
}

/// Reads one node: its set, and whether the node itself is a member (`"."` or empty object).
fn read_node(obj: &Map<String, Value>) -> Result<(FieldSet, bool), DecodeError> {
    let mut set = FieldSet::new();
    let mut is_member = false;
    for (key, child) in obj {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(pe) = parse_path_element(key)? else { continue };
        let child = child
            .as_object()
            .ok_or_else(|| DecodeError(format!("expected an object for {key:?}")))?;
        let (grandchildren, child_member) = read_node(child)?;
        if child_member {
            set.members.insert(pe.clone());
        }
        if !grandchildren.is_empty() {
            set.children.insert(pe, grandchildren);
        }
    }
    if obj.is_empty() {
        is_member = true;
    }
    Ok((set, is_member))
}

/// Parses `f:name`, `k:{...}`, `v:<json>`, `i:<n>`; `None` for an unknown element type.
pub fn parse_path_element(s: &str) -> Result<Option<PathElement>, DecodeError> {
    let b = s.as_bytes();
    if b.len() < 2 {
        return Err(DecodeError("key must be 2 characters long:".into()));
    }
    if b[1] != b':' {
        return Err(DecodeError(format!("missing colon: {s}")));
    }
    let rest = &s[2..];
    let json = |r: &str| serde_json::from_str::<Value>(r).map_err(|e| DecodeError(format!("parsing key as path element: {e}")));
    Ok(Some(match b[0] {
        b'f' => PathElement::Field(rest.to_string()),
        b'v' => PathElement::Value(json(rest)?),
        b'k' => match json(rest)? {
            Value::Object(m) => PathElement::key(m.into_iter().collect()),
            _ => return Err(DecodeError(format!("key element must be a JSON object: {s}"))),
        },
        b'i' => PathElement::Index(rest.parse().map_err(|e| DecodeError(format!("{e}")))?),
        _ => return Ok(None),
    }))
}

/// The FieldsV1 key of a path element: `f:name`, `k:{"name":"c1"}`, `v:"a"`, `i:0`.
pub fn path_element_key(pe: &PathElement) -> String {
    let mut out = String::new();
    match pe {
        PathElement::Field(name) => {
            out.push_str("f:");
            out.push_str(name);
        }
        PathElement::Key(fields) => {
            out.push_str("k:{");
            for (i, (name, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(name, &mut out);
                out.push(':');
                write_go_json(v, &mut out);
            }
            out.push('}');
        }
        PathElement::Value(v) => {
            out.push_str("v:");
            write_go_json(v, &mut out);
        }
        PathElement::Index(i) => out.push_str(&format!("i:{i}")),
    }
    out
}

/// Go's `json.Marshal` of a value: object keys sorted, HTML-escaped strings (the encoder
/// pkg/api's validation messages use too).
pub fn to_go_json(v: &Value) -> String {
    corekube_api::validation::field::go_json(v)
}

pub(crate) fn write_go_json(v: &Value, out: &mut String) {
    corekube_api::validation::field::write_go_json(out, v)
}

pub(crate) fn write_go_string(s: &str, out: &mut String) {
    corekube_api::validation::field::write_go_string(out, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Deployment's `kubectl apply --server-side` entry, as on the server-side apply docs page.
    const DEPLOYMENT_APPLY: &str = r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}"#;

    /// A ConfigMap created by `kubectl create`, with the annotation kubectl client-side apply
    /// writes; finalizers as a set.
    const CONFIGMAP_UPDATE: &str = r#"{"f:data":{".":{},"f:key":{},"f:legacy":{}},"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},"f:finalizers":{".":{},"v:\"example.com/a\"":{},"v:\"example.com/b\"":{}},"f:labels":{".":{},"f:app":{}}}}"#;

    #[test]
    fn fields_v1_round_trips_byte_for_byte() {
        for doc in [DEPLOYMENT_APPLY, CONFIGMAP_UPDATE, "{}"] {
            let set = FieldSet::from_fields_v1_str(doc).unwrap();
            assert_eq!(set.to_fields_v1_string(), doc);
            assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()).unwrap(), set);
        }
    }

    #[test]
    fn decoded_members_and_children() {
        let set = FieldSet::from_fields_v1_str(DEPLOYMENT_APPLY).unwrap();
        let paths: Vec<String> = set.paths().iter().map(|p| p.to_string()).collect();
        assert!(paths.contains(&".spec.replicas".to_string()));
        assert!(paths.contains(&r#".spec.template.spec.containers[name="nginx"]"#.to_string()));
        assert!(paths.contains(&r#".spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].containerPort"#.to_string()));
        assert!(!paths.contains(&".spec.template".to_string()));
        assert_eq!(set.leaves().len(), 7);
    }

    #[test]
    fn upstream_element_order_not_string_order() {
        // Numbers compare numerically (9 before 10), fields before keys before values before indices.
        let mut s = FieldSet::new();
        s.insert(&crate::Path(vec![PathElement::key(vec![("port".into(), json!(10))])]));
        s.insert(&crate::Path(vec![PathElement::key(vec![("port".into(), json!(9))])]));
        s.insert(&crate::Path(vec![PathElement::Index(0)]));
        s.insert(&crate::Path(vec![PathElement::Value(json!("x"))]));
        s.insert(&crate::Path(vec![PathElement::field("z")]));
        assert_eq!(s.to_fields_v1_string(), r#"{"f:z":{},"k:{\"port\":9}":{},"k:{\"port\":10}":{},"v:\"x\"":{},"i:0":{}}"#);
    }

    #[test]
    fn go_json_escaping_and_numbers() {
        assert_eq!(to_go_json(&json!({"b": "<&>", "a": 1.5, "c": 1e21})), r#"{"a":1.5,"b":"\u003c\u0026\u003e","c":1e+21}"#);
        assert_eq!(parse_path_element("x:1").unwrap(), None);
        assert!(parse_path_element("f").is_err());
    }
}
