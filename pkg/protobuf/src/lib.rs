//! Decodes Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into their JSON form.
//!
//! kubectl's typed clients (`kubectl create deployment|namespace|secret|...`) send objects as
//! `k8s\0` + a `runtime.Unknown` envelope whose `raw` field holds the object encoded with the
//! k8s.io/api generated.proto schema. [`decode_body`] turns that into the JSON object the same
//! client would have sent with `Content-Type: application/json`, following Go's encoding/json
//! rules for each field (omitempty, pointers, embedded structs), so the server continues in JSON.

mod decode;
pub mod descriptor;
mod error;
pub mod schema;
#[cfg(test)]
mod testenc;
#[cfg(test)]
mod tests;
mod wellknown;
mod wire;

use serde_json::{Map, Value};

pub use error::DecodeError;

use wire::{Reader, WireValue};

/// The prefix of every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Decodes a Kubernetes protobuf body (with the k8s\0 envelope) into the object's JSON form (as
/// the JSON API would have received it, with apiVersion and kind from the envelope). Errors name
/// what was wrong (the server answers them as 400 BadRequest).
pub fn decode_body(bytes: &[u8]) -> Result<Value, DecodeError> {
    decode_nested(bytes, 0).map(Value::Object)
}

/// [`decode_body`] at a nesting depth, for objects embedded in other objects (RawExtension).
pub(crate) fn decode_nested(bytes: &[u8], depth: usize) -> Result<Map<String, Value>, DecodeError> {
    let envelope = bytes.strip_prefix(MAGIC).ok_or(DecodeError::BadMagic)?;
    let unknown = Envelope::read(envelope)?;
    if unknown.kind.is_empty() {
        return Err(DecodeError::MissingKind);
    }
    if !unknown.content_encoding.is_empty() {
        return Err(DecodeError::UnsupportedEncoding(unknown.content_encoding));
    }
    let message = schema::kind_message(&unknown.api_version, &unknown.kind).ok_or_else(|| {
        DecodeError::UnsupportedKind { api_version: unknown.api_version.clone(), kind: unknown.kind.clone() }
    })?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(unknown.api_version));
    object.insert("kind".into(), Value::String(unknown.kind));
    object.extend(decode::message_to_json(message, unknown.raw, depth)?);
    Ok(object)
}

/// runtime.Unknown {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}.
#[derive(Default)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
}

impl<'a> Envelope<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut envelope = Envelope::default();
        let mut reader = Reader::new(bytes);
        while let Some((tag, value)) = reader.next_field()? {
            match tag {
                1 => {
                    let mut type_meta = Reader::new(envelope_bytes(value, "typeMeta")?);
                    while let Some((tag, value)) = type_meta.next_field()? {
                        match tag {
                            1 => envelope.api_version = envelope_string(value, "typeMeta.apiVersion")?,
                            2 => envelope.kind = envelope_string(value, "typeMeta.kind")?,
                            _ => {}
                        }
                    }
                }
                2 => envelope.raw = envelope_bytes(value, "raw")?,
                3 => envelope.content_encoding = envelope_string(value, "contentEncoding")?,
                // 4 (contentType) is not consulted by Go's protobuf serializer either.
                _ => {}
            }
        }
        Ok(envelope)
    }
}

fn envelope_bytes<'a>(value: WireValue<'a>, field: &str) -> Result<&'a [u8], DecodeError> {
    match value {
        WireValue::Bytes(bytes) => Ok(bytes),
        other => Err(DecodeError::malformed(format!(
            "envelope field {field} has wire type {}, expected 2",
            other.wire_type()
        ))),
    }
}

fn envelope_string(value: WireValue, field: &str) -> Result<String, DecodeError> {
    Ok(String::from_utf8_lossy(envelope_bytes(value, field)?).into_owned())
}
