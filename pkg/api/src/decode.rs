//! Request bodies to objects: media types, JSON/YAML parsing, duplicate and unknown fields, and
//! the round trip through the k8s-openapi type that normalises what is stored.

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ApiError;

/// The body formats the server reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
}

const ACCEPTED: &str = "application/json, application/yaml, application/vnd.kubernetes.protobuf";

/// Picks the body format from a Content-Type. A missing Content-Type is JSON, because kubectl
/// sends the scale PUT without one.
pub fn body_format(content_type: Option<&str>) -> Result<BodyFormat, ApiError> {
    let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match media.as_deref() {
        None | Some("") | Some("application/json") => Ok(BodyFormat::Json),
        Some("application/yaml") => Ok(BodyFormat::Yaml),
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: {ACCEPTED} (got {other})"
        ))),
    }
}

/// `fieldValidation` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    /// Upstream defaults to Warn when the parameter is absent.
    pub fn parse(param: Option<&str>) -> Result<Self, ApiError> {
        match param {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::BadRequest(format!(
                "fieldValidation parameter unsupported: {other}. Supported values: Ignore, Warn, Strict"
            ))),
        }
    }
}

/// A parsed body and the paths of keys that appeared twice in one object (last one wins).
#[derive(Debug)]
pub struct Parsed {
    pub value: Value,
    pub duplicates: Vec<String>,
}

/// Parses a body. Malformed input is a 400.
pub fn parse_body(bytes: &[u8], format: BodyFormat) -> Result<Parsed, ApiError> {
    match format {
        BodyFormat::Json => {
            let mut duplicates = Vec::new();
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let value = DupSeed { path: PathSeg::Root, duplicates: &mut duplicates }
                .deserialize(&mut de)
                .and_then(|v| de.end().map(|_| v))
                .map_err(|e| ApiError::BadRequest(format!("json parse error: {e}")))?;
            Ok(Parsed { value, duplicates })
        }
        BodyFormat::Yaml => {
            let value: Value = serde_yaml::from_slice(bytes)
                .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: {e}")))?;
            Ok(Parsed { value, duplicates: Vec::new() })
        }
    }
}

/// Where a value sits in the body, as a chain of borrowed segments: building it costs nothing,
/// and it is rendered (`metadata.name`, `spec.containers[0]`) only for a duplicate.
#[derive(Clone, Copy)]
enum PathSeg<'a> {
    Root,
    Key(&'a PathSeg<'a>, &'a str),
    Index(&'a PathSeg<'a>, usize),
}

impl PathSeg<'_> {
    fn render(&self) -> String {
        match self {
            PathSeg::Root => String::new(),
            PathSeg::Key(parent, key) => {
                let p = parent.render();
                if p.is_empty() {
                    key.to_string()
                } else {
                    format!("{p}.{key}")
                }
            }
            PathSeg::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

/// Builds a `Value` while recording duplicate keys with their paths (`metadata.name`).
struct DupSeed<'a, 'p> {
    path: PathSeg<'p>,
    duplicates: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for DupSeed<'_, '_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DupSeed<'_, '_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let path = PathSeg::Index(&self.path, out.len());
            match seq.next_element_seed(DupSeed { path, duplicates: &mut *self.duplicates })? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = PathSeg::Key(&self.path, &key);
            let v = map.next_value_seed(DupSeed { path, duplicates: &mut *self.duplicates })?;
            if out.contains_key(&key) {
                self.duplicates.push(path.render());
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// The result of reading a JSON object through its k8s-openapi type.
#[derive(Debug)]
pub struct Normalized {
    pub value: Value,
    /// Paths of fields the type does not have, e.g. `spec.containers[0].foo`.
    pub unknown: Vec<String>,
}

/// How a registry entry reads objects of its kind.
pub type Codec = fn(Value) -> Result<Normalized, String>;

/// Reads `v` as `K` and writes it back: unknown fields are dropped (and reported), types are
/// checked, and the stored form is the type's canonical JSON.
pub fn typed<K: DeserializeOwned + Serialize>(v: Value) -> Result<Normalized, String> {
    let mut unknown = Vec::new();
    let typed: K = serde_ignored::deserialize(v, |path| unknown.push(render_path(&path))).map_err(|e| e.to_string())?;
    let value = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    Ok(Normalized { value, unknown })
}

fn render_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render_path(parent)),
        Path::Map { parent, key } => {
            let p = render_path(parent);
            if p.is_empty() {
                key.clone()
            } else {
                format!("{p}.{key}")
            }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => render_path(parent),
    }
}

/// Applies the fieldValidation policy to what decoding found: Strict fails with every field
/// named; Warn returns the warnings to send as `Warning` headers; Ignore drops them.
pub fn field_policy(policy: FieldValidation, unknown: &[String], duplicates: &[String]) -> Result<Vec<String>, ApiError> {
    let mut problems: Vec<String> = Vec::new();
    for d in duplicates {
        problems.push(format!("duplicate field \"{d}\""));
    }
    for u in unknown {
        problems.push(format!("unknown field \"{u}\""));
    }
    match policy {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(problems),
        FieldValidation::Strict if problems.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(ApiError::BadRequest(format!("strict decoding error: {}", problems.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn media_types() {
        assert_eq!(body_format(None).unwrap(), BodyFormat::Json);
        assert_eq!(body_format(Some("application/json; charset=utf-8")).unwrap(), BodyFormat::Json);
        assert_eq!(body_format(Some("application/yaml")).unwrap(), BodyFormat::Yaml);
        assert_eq!(body_format(Some("text/plain")).unwrap_err().code(), 415);
    }

    #[test]
    fn duplicates_are_found_with_paths() {
        let p = parse_body(br#"{"metadata":{"name":"a","name":"b"},"x":[{"k":1,"k":2}]}"#, BodyFormat::Json).unwrap();
        assert_eq!(p.duplicates, vec!["metadata.name".to_string(), "x[0].k".to_string()]);
        assert_eq!(p.value["metadata"]["name"], "b");
        assert_eq!(parse_body(b"{nope", BodyFormat::Json).unwrap_err().code(), 400);
        assert_eq!(parse_body(b"{} {}", BodyFormat::Json).unwrap_err().code(), 400);
        assert_eq!(parse_body(b"a: [", BodyFormat::Yaml).unwrap_err().code(), 400);
    }

    #[test]
    fn unknown_fields_are_reported_and_dropped() {
        let v = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "bogus": 1},
            "spec": {"containers": [{"name": "c", "image": "i", "foo": "bar"}]}
        });
        let n = typed::<Pod>(v).unwrap();
        assert_eq!(n.unknown, vec!["metadata.bogus".to_string(), "spec.containers[0].foo".to_string()]);
        assert!(n.value["spec"]["containers"][0].get("foo").is_none());
        assert_eq!(n.value["kind"], "Pod");
    }

    #[test]
    fn wrong_types_fail() {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": "x"}});
        assert!(typed::<Pod>(v).is_err());
    }

    #[test]
    fn policy() {
        let u = vec!["spec.foo".to_string()];
        assert!(field_policy(FieldValidation::Ignore, &u, &[]).unwrap().is_empty());
        assert_eq!(field_policy(FieldValidation::Warn, &u, &[]).unwrap(), vec!["unknown field \"spec.foo\"".to_string()]);
        let e = field_policy(FieldValidation::Strict, &u, &["metadata.name".into()]).unwrap_err();
        assert_eq!(e.to_string(), "strict decoding error: duplicate field \"metadata.name\", unknown field \"spec.foo\"");
    }
}
