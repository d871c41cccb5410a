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
    /// The text format it was read from (None for protobuf), to place reported fields in it.
    pub format: Option<BodyFormat>,
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
            Ok(Parsed { value, duplicates, format: Some(BodyFormat::Json) })
        }
        BodyFormat::Yaml => {
            let value: Value = serde_yaml::from_slice(bytes)
                .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: {e}")))?;
            Ok(Parsed { value, duplicates: Vec::new(), format: Some(BodyFormat::Yaml) })
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
/// `body`, when the request had one, puts the problems in the order their fields stand in it,
/// as upstream reports them (an unknown field where it first appears, a duplicate where it
/// appears again); without it, duplicates come first.
pub fn field_policy(
    policy: FieldValidation,
    unknown: &[String],
    duplicates: &[String],
    body: Option<(&[u8], BodyFormat)>,
) -> Result<Vec<String>, ApiError> {
    if policy == FieldValidation::Ignore || (unknown.is_empty() && duplicates.is_empty()) {
        return Ok(Vec::new());
    }
    // (position in the body, message); fields not found in it keep their order, last.
    let keys = body.map(|(bytes, format)| key_paths_in_order(bytes, format)).unwrap_or_default();
    let mut problems: Vec<(usize, String)> = Vec::new();
    let mut seen_duplicates: Vec<&str> = Vec::new();
    for d in duplicates {
        // The n-th duplicate of a path stands at its (n+1)-th occurrence.
        let nth = seen_duplicates.iter().filter(|x| **x == d.as_str()).count() + 1;
        seen_duplicates.push(d);
        let at = keys.iter().enumerate().filter(|(_, k)| *k == d).nth(nth).map_or(usize::MAX, |(i, _)| i);
        problems.push((at, format!("duplicate field \"{d}\"")));
    }
    for u in unknown {
        let at = keys.iter().position(|k| k == u).unwrap_or(usize::MAX);
        problems.push((at, format!("unknown field \"{u}\"")));
    }
    problems.sort_by_key(|(at, _)| *at);
    let problems: Vec<String> = problems.into_iter().map(|(_, p)| p).collect();
    match policy {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(problems),
        FieldValidation::Strict if problems.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(ApiError::BadRequest(format!("strict decoding error: {}", problems.join(", ")))),
    }
}

/// Every key's path (`spec.replicas`, `spec.containers[0].name`) in the order keys stand in the
/// body, each occurrence of a repeated key included. Only read when a field is reported, so the
/// common path never renders a path.
fn key_paths_in_order(bytes: &[u8], format: BodyFormat) -> Vec<String> {
    let mut keys = Vec::new();
    let seed = KeyOrder { path: PathSeg::Root, keys: &mut keys };
    let _ = match format {
        BodyFormat::Json => seed.deserialize(&mut serde_json::Deserializer::from_slice(bytes)).map_err(|_| ()),
        BodyFormat::Yaml => seed.deserialize(serde_yaml::Deserializer::from_slice(bytes)).map_err(|_| ()),
    };
    keys
}

/// Walks a body, recording each key's path as it is met.
struct KeyOrder<'a, 'p> {
    path: PathSeg<'p>,
    keys: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for KeyOrder<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyOrder<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq.next_element_seed(KeyOrder { path: PathSeg::Index(&self.path, index), keys: &mut *self.keys })?.is_some() {
            index += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let path = PathSeg::Key(&self.path, &key);
            self.keys.push(path.render());
            map.next_value_seed(KeyOrder { path, keys: &mut *self.keys })?;
        }
        Ok(())
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
        assert!(field_policy(FieldValidation::Ignore, &u, &[], None).unwrap().is_empty());
        assert_eq!(field_policy(FieldValidation::Warn, &u, &[], None).unwrap(), vec!["unknown field \"spec.foo\"".to_string()]);
        let e = field_policy(FieldValidation::Strict, &u, &["metadata.name".into()], None).unwrap_err();
        assert_eq!(e.to_string(), "strict decoding error: duplicate field \"metadata.name\", unknown field \"spec.foo\"");
    }

    #[test]
    fn problems_are_reported_in_the_order_of_the_body() {
        // Upstream's conformance body: an unknown field, then a repeated one.
        let body = br#"{"spec":{"unknownField":"foo","replicas":2,"replicas":3,"zzz":1,"aaa":2}}"#;
        let unknown = vec!["spec.aaa".to_string(), "spec.unknownField".to_string(), "spec.zzz".to_string()];
        let e = field_policy(FieldValidation::Strict, &unknown, &["spec.replicas".into()], Some((body, BodyFormat::Json))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "strict decoding error: unknown field \"spec.unknownField\", duplicate field \"spec.replicas\", unknown field \"spec.zzz\", unknown field \"spec.aaa\""
        );
        let yaml = b"spec:\n  zzz: 1\n  containers:\n  - name: c\n    foo: 1\n  aaa: 2\n";
        let unknown = vec!["spec.aaa".to_string(), "spec.containers[0].foo".to_string(), "spec.zzz".to_string()];
        let warnings = field_policy(FieldValidation::Warn, &unknown, &[], Some((yaml, BodyFormat::Yaml))).unwrap();
        assert_eq!(warnings, ["unknown field \"spec.zzz\"", "unknown field \"spec.containers[0].foo\"", "unknown field \"spec.aaa\""]);
    }
}
