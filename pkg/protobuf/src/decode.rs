//! Turns one serialized message into the JSON object Go's encoding/json would write for it.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::descriptor::{Card, Field, Message, Type};
use crate::error::DecodeError;
use crate::wellknown;
use crate::wire::{Reader, WireValue};

/// Deeper nesting than any Kubernetes object has; guards the stack against hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

/// What was read for one field of a message.
enum Slot<'a> {
    Absent,
    Scalar(Value),
    /// Every occurrence of a singular nested message; protobuf merges them, which is the same as
    /// decoding their concatenation.
    Chunks(Vec<&'a [u8]>),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

/// Decodes `bytes` as `message` into a JSON object.
pub(crate) fn message_to_json(message: &'static Message, bytes: &[u8], depth: usize) -> Result<Map<String, Value>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::malformed(format!("objects nest deeper than {MAX_DEPTH} levels")));
    }
    let mut slots: Vec<Slot> = message.fields.iter().map(|_| Slot::Absent).collect();
    let mut reader = Reader::new(bytes);
    while let Some((tag, value)) = reader.next_field()? {
        // Fields this schema does not know (newer or older API versions) are skipped.
        let Some(index) = message.field_index(tag) else { continue };
        let field = &message.fields[index];
        read_field(field, value, &mut slots[index], depth).map_err(|e| e.within(field.json))?;
    }
    let mut out = Map::new();
    for (field, slot) in message.fields.iter().zip(slots) {
        write_field(field, slot, &mut out, depth).map_err(|e| e.within(field.json))?;
    }
    Ok(out)
}

fn read_field<'a>(field: &Field, value: WireValue<'a>, slot: &mut Slot<'a>, depth: usize) -> Result<(), DecodeError> {
    match field.card {
        Card::List | Card::ListOmitEmpty => {
            if !matches!(slot, Slot::List(_)) {
                *slot = Slot::List(Vec::new());
            }
            let Slot::List(items) = slot else { unreachable!() };
            let at = items.len();
            match (field.ty, value) {
                // Packed encoding of repeated numbers.
                (Type::Bool | Type::I32 | Type::I64, WireValue::Bytes(packed)) => {
                    for v in Reader::packed_varints(packed)? {
                        items.push(value_of(field.ty, WireValue::Varint(v), depth)?);
                    }
                }
                (Type::F64, WireValue::Bytes(packed)) => {
                    for v in Reader::packed_fixed64(packed)? {
                        items.push(value_of(field.ty, WireValue::Fixed64(v), depth)?);
                    }
                }
                _ => items.push(value_of(field.ty, value, depth).map_err(|e| e.within(&format!("[{at}]")))?),
            }
        }
        Card::Map | Card::MapOmitEmpty => {
            if !matches!(slot, Slot::Map(_)) {
                *slot = Slot::Map(Map::new());
            }
            let Slot::Map(entries) = slot else { unreachable!() };
            let (key, val) = map_entry(field.ty, expect_bytes(value)?, depth)?;
            entries.insert(key, val);
        }
        _ if field.ty.is_message() || field.card == Card::Inline => {
            let bytes = expect_bytes(value)?;
            match slot {
                Slot::Chunks(chunks) => chunks.push(bytes),
                _ => *slot = Slot::Chunks(vec![bytes]),
            }
        }
        _ => *slot = Slot::Scalar(value_of(field.ty, value, depth)?),
    }
    Ok(())
}

fn map_entry(ty: Type, bytes: &[u8], depth: usize) -> Result<(String, Value), DecodeError> {
    let (mut key, mut val) = (String::new(), None);
    let mut reader = Reader::new(bytes);
    while let Some((tag, value)) = reader.next_field()? {
        match tag {
            1 => key = String::from_utf8_lossy(expect_bytes(value)?).into_owned(),
            2 => val = Some(value),
            _ => {}
        }
    }
    let val = match val {
        Some(value) => value_of(ty, value, depth).map_err(|e| e.within(&format!("[{key:?}]")))?,
        None => zero(ty, depth)?,
    };
    Ok((key, val))
}

fn write_field(field: &Field, slot: Slot, out: &mut Map<String, Value>, depth: usize) -> Result<(), DecodeError> {
    let value = match (field.card, slot) {
        (Card::Inline, slot) => {
            let Type::Msg(inner) = field.ty else { unreachable!("inline fields are messages") };
            let bytes = match slot {
                Slot::Chunks(chunks) => chunks.concat(),
                _ => Vec::new(),
            };
            out.extend(message_to_json(inner, &bytes, depth + 1)?);
            return Ok(());
        }
        (Card::Plain, Slot::Absent) => zero(field.ty, depth)?,
        (Card::PointerNull | Card::List | Card::Map, Slot::Absent) => Value::Null,
        (_, Slot::Absent) => return Ok(()),
        (_, Slot::Scalar(value)) => value,
        (_, Slot::Chunks(chunks)) => value_of(field.ty, WireValue::Bytes(&chunks.concat()), depth)?,
        (_, Slot::List(items)) => Value::Array(items),
        (_, Slot::Map(entries)) => Value::Object(entries),
    };
    let omit = match field.card {
        Card::OmitEmpty => is_empty_scalar(&value),
        Card::OmitZero => value == zero(field.ty, depth)?,
        _ => false,
    };
    if !omit {
        out.insert(field.json.to_string(), value);
    }
    Ok(())
}

/// One value (scalar, list element, map value or nested message) as JSON.
fn value_of(ty: Type, value: WireValue, depth: usize) -> Result<Value, DecodeError> {
    Ok(match (ty, value) {
        (Type::Str, WireValue::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Type::Bytes, WireValue::Bytes(b)) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        (Type::Bool, WireValue::Varint(v)) => Value::Bool(v != 0),
        // int32 travels sign-extended to 64 bits; the low 32 bits are the value.
        (Type::I32, WireValue::Varint(v)) => Value::from(v as i32),
        (Type::I64, WireValue::Varint(v)) => Value::from(v as i64),
        (Type::F64, WireValue::Fixed64(bits)) => {
            let float = f64::from_bits(bits);
            Value::Number(Number::from_f64(float).ok_or_else(|| {
                DecodeError::malformed(format!("{float} cannot be written as JSON"))
            })?)
        }
        (Type::Msg(message), WireValue::Bytes(b)) => Value::Object(message_to_json(message, b, depth + 1)?),
        (special, WireValue::Bytes(b)) if special.is_message() => wellknown::decode(special, b, depth)?,
        (_, other) => {
            let want = match ty {
                Type::Bool | Type::I32 | Type::I64 => 0,
                Type::F64 => 1,
                _ => 2,
            };
            return Err(DecodeError::malformed(format!("wire type {} where {want} was expected", other.wire_type())));
        }
    })
}

fn expect_bytes(value: WireValue<'_>) -> Result<&[u8], DecodeError> {
    match value {
        WireValue::Bytes(b) => Ok(b),
        other => Err(DecodeError::malformed(format!("wire type {} where 2 was expected", other.wire_type()))),
    }
}

/// The JSON Go writes for a zero value of this type.
fn zero(ty: Type, depth: usize) -> Result<Value, DecodeError> {
    Ok(match ty {
        Type::Str => Value::String(String::new()),
        Type::Bool => Value::Bool(false),
        Type::I32 | Type::I64 | Type::F64 => Value::from(0),
        // A nil []byte.
        Type::Bytes => Value::Null,
        Type::Msg(message) => Value::Object(message_to_json(message, &[], depth + 1)?),
        special => wellknown::zero(special),
    })
}

fn is_empty_scalar(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Null => true,
        Value::Array(_) | Value::Object(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::{f, Card::*, Type::*};
    use crate::testenc::Enc;
    use serde_json::json;

    static INNER: Message = Message { name: "Inner", fields: &[f(1, "a", OmitEmpty, Str), f(2, "b", Plain, I32)] };
    static EMBEDDED: Message = Message { name: "Embedded", fields: &[f(1, "promoted", OmitEmpty, Str)] };
    static OUTER: Message = Message {
        name: "Outer",
        fields: &[
            f(1, "plain", Plain, Str),
            f(2, "omit", OmitEmpty, Str),
            f(3, "ptr", Pointer, I32),
            f(4, "ptrNull", PointerNull, Bool),
            f(5, "list", List, Str),
            f(6, "listOmit", ListOmitEmpty, I64),
            f(7, "map", Map, Bytes),
            f(8, "mapOmit", MapOmitEmpty, Quantity),
            f(9, "inner", Plain, Msg(&INNER)),
            f(10, "innerPtr", Pointer, Msg(&INNER)),
            f(11, "", Inline, Msg(&EMBEDDED)),
            f(12, "time", OmitZero, Time),
            f(13, "ratio", OmitEmpty, F64),
            f(14, "port", Plain, IntOrString),
        ],
    };

    fn decode(enc: Enc) -> Result<Value, DecodeError> {
        message_to_json(&OUTER, &enc.finish(), 0).map(Value::Object)
    }

    #[test]
    fn applies_go_json_rules() {
        let all_zero = json!({"plain": "", "ptrNull": null, "list": null, "map": null, "inner": {"b": 0}, "port": 0});
        let cases: Vec<(&str, Enc, Value)> = vec![
            ("empty message", Enc::new(), all_zero.clone()),
            (
                "zero scalars as Go writes them",
                Enc::new().str(1, "").str(2, "").int(3, 0).fixed64(13, 0).msg(9, Enc::new()).msg(12, Enc::new()),
                json!({"plain": "", "ptr": 0, "ptrNull": null, "list": null, "map": null, "inner": {"b": 0}, "port": 0}),
            ),
            (
                "values",
                Enc::new()
                    .str(1, "x")
                    .str(2, "y")
                    .int(3, -5)
                    .int(4, 1)
                    .str(5, "l1")
                    .str(5, "l2")
                    .int(6, 7)
                    .map_entry(7, "k", Enc::new().bytes(2, b"hi"))
                    .map_entry(8, "cpu", Enc::new().msg(2, Enc::new().str(1, "500m")))
                    .msg(10, Enc::new().str(1, "in"))
                    .msg(11, Enc::new().str(1, "up"))
                    .msg(12, Enc::new().int(1, 0))
                    .fixed64(13, 0.5f64.to_bits())
                    .msg(14, Enc::new().int(1, 1).str(3, "http")),
                json!({
                    "plain": "x", "omit": "y", "ptr": -5, "ptrNull": true, "list": ["l1", "l2"], "listOmit": [7],
                    "map": {"k": "aGk="}, "mapOmit": {"cpu": "500m"}, "inner": {"b": 0}, "innerPtr": {"a": "in", "b": 0},
                    "promoted": "up", "time": "1970-01-01T00:00:00Z", "ratio": 0.5, "port": "http"
                }),
            ),
            ("packed repeated int64", Enc::new().bytes(6, &[1, 2, 0x96, 0x01]), {
                let mut v = all_zero.clone();
                v["listOmit"] = json!([1, 2, 150]);
                v
            }),
            ("split message merges", Enc::new().msg(9, Enc::new().str(1, "a")).msg(9, Enc::new().int(2, 3)), {
                let mut v = all_zero.clone();
                v["inner"] = json!({"a": "a", "b": 3});
                v
            }),
            ("map entry without value, unknown field", Enc::new().map_entry(7, "k", Enc::new()).str(99, "skip"), {
                let mut v = all_zero.clone();
                v["map"] = json!({"k": null});
                v
            }),
            ("last scalar wins", Enc::new().str(1, "a").str(1, "b"), {
                let mut v = all_zero.clone();
                v["plain"] = json!("b");
                v
            }),
        ];
        for (name, enc, want) in cases {
            assert_eq!(decode(enc).unwrap(), want, "{name}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let cases: Vec<(Enc, &str)> = vec![
            (Enc::new().int(1, 3), "invalid protobuf body at plain: wire type 0 where 2 was expected"),
            (Enc::new().str(3, "x"), "invalid protobuf body at ptr: wire type 2 where 0 was expected"),
            (Enc::new().int(5, 1), "invalid protobuf body at list[0]: wire type 0 where 2 was expected"),
            (Enc::new().msg(9, Enc::new().str(2, "x")), "invalid protobuf body at inner.b: wire type 2 where 0 was expected"),
            (
                Enc::new().map_entry(8, "cpu", Enc::new().msg(2, Enc::new().int(1, 1))),
                "invalid protobuf body at mapOmit[\"cpu\"]: string has wire type 0, expected 2",
            ),
            (Enc::new().fixed64(13, f64::NAN.to_bits()), "invalid protobuf body at ratio: NaN cannot be written as JSON"),
            (Enc::new().raw(&[0x4a, 0x05, 0x0a]), "invalid protobuf body: field 9 claims 5 bytes but only 1 remain"),
            (Enc::new().msg(9, Enc::new().raw(&[0x08])), "invalid protobuf body at inner: truncated varint at byte 1"),
        ];
        for (enc, want) in cases {
            assert_eq!(decode(enc).unwrap_err().to_string(), want);
        }
    }
}
