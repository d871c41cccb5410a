//! The apimachinery types whose JSON form differs from their protobuf structure (Time, Quantity, IntOrString, ...).

use serde_json::Value;

use crate::descriptor::Type;
use crate::error::DecodeError;
use crate::wire::{Reader, WireValue};

/// Seconds from 0001-01-01 to 1970-01-01: Go's zero time.Time, which marshals as null.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// Decodes the message bytes of one special type into its JSON value.
pub(crate) fn decode(ty: Type, bytes: &[u8], depth: usize) -> Result<Value, DecodeError> {
    match ty {
        // Go keeps only whole seconds of a Time, and truncates a MicroTime to microseconds.
        Type::Time => Ok(match timestamp(bytes)? {
            Some((secs, _)) if secs != GO_ZERO_TIME_UNIX => Value::String(rfc3339(secs, None)),
            _ => Value::Null,
        }),
        Type::MicroTime => Ok(match timestamp(bytes)? {
            Some((secs, nanos)) if !(0..1_000_000_000).contains(&nanos) => {
                return Err(DecodeError::malformed(format!("time {secs} has nanos {nanos} outside 0..1e9")));
            }
            Some((secs, nanos)) if secs != GO_ZERO_TIME_UNIX || nanos >= 1000 => {
                Value::String(rfc3339(secs, Some(nanos / 1000)))
            }
            _ => Value::Null,
        }),
        Type::Duration => {
            let mut nanos = 0i64;
            for_each_field(bytes, |tag, value| {
                if tag == 1 {
                    nanos = varint(value, "duration")? as i64;
                }
                Ok(())
            })?;
            Ok(Value::String(go_duration(nanos)))
        }
        Type::Quantity => {
            // Passed through unparsed: the server parses quantities the same way for JSON bodies.
            let mut text = String::new();
            for_each_field(bytes, |tag, value| {
                if tag == 1 {
                    text = string(value, "string")?;
                }
                Ok(())
            })?;
            Ok(Value::String(if text.is_empty() { "0".into() } else { text }))
        }
        Type::IntOrString => int_or_string(bytes),
        Type::RawExtension | Type::FieldsV1 => {
            let mut raw: &[u8] = &[];
            for_each_field(bytes, |tag, value| {
                if tag == 1 {
                    raw = bytes_of(value, "raw")?;
                }
                Ok(())
            })?;
            raw_json(raw, depth)
        }
        Type::StringList => {
            let mut items = Vec::new();
            for_each_field(bytes, |tag, value| {
                if tag == 1 {
                    items.push(Value::String(string(value, "items")?));
                }
                Ok(())
            })?;
            Ok(if items.is_empty() { Value::Null } else { Value::Array(items) })
        }
        Type::Str | Type::Bytes | Type::Bool | Type::I32 | Type::I64 | Type::F64 | Type::Msg(_) => {
            unreachable!("not a special type: {ty:?}")
        }
    }
}

/// The JSON Go writes for the zero value of a special type.
pub(crate) fn zero(ty: Type) -> Value {
    match ty {
        Type::Duration => Value::String("0s".into()),
        Type::Quantity => Value::String("0".into()),
        Type::IntOrString => Value::from(0),
        _ => Value::Null,
    }
}

fn for_each_field<'a>(
    bytes: &'a [u8],
    mut visit: impl FnMut(u32, WireValue<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut reader = Reader::new(bytes);
    while let Some((tag, value)) = reader.next_field()? {
        visit(tag, value)?;
    }
    Ok(())
}

fn varint(value: WireValue, field: &str) -> Result<u64, DecodeError> {
    match value {
        WireValue::Varint(v) => Ok(v),
        other => Err(wrong_wire_type(field, other, 0)),
    }
}

fn bytes_of<'a>(value: WireValue<'a>, field: &str) -> Result<&'a [u8], DecodeError> {
    match value {
        WireValue::Bytes(b) => Ok(b),
        other => Err(wrong_wire_type(field, other, 2)),
    }
}

fn string(value: WireValue, field: &str) -> Result<String, DecodeError> {
    // Go keeps invalid UTF-8 and its JSON encoder writes U+FFFD for it; do the same.
    Ok(String::from_utf8_lossy(bytes_of(value, field)?).into_owned())
}

fn wrong_wire_type(field: &str, got: WireValue, want: u8) -> DecodeError {
    DecodeError::malformed(format!("{field} has wire type {}, expected {want}", got.wire_type()))
}

/// (seconds, nanoseconds) of a Time/MicroTime, or None for an empty message.
fn timestamp(bytes: &[u8]) -> Result<Option<(i64, i64)>, DecodeError> {
    // Go writes a zero time as an empty message and reads an empty message back as zero.
    if bytes.is_empty() {
        return Ok(None);
    }
    let (mut secs, mut nanos) = (0i64, 0i64);
    for_each_field(bytes, |tag, value| {
        match tag {
            1 => secs = varint(value, "seconds")? as i64,
            2 => nanos = i64::from(varint(value, "nanos")? as i32),
            _ => {}
        }
        Ok(())
    })?;
    // Years 0..=9999 are what RFC 3339 (and Go's JSON for time) can express.
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&secs) {
        return Err(DecodeError::malformed(format!("time of {secs} seconds is outside years 0-9999")));
    }
    Ok(Some((secs, nanos)))
}

/// `2006-01-02T15:04:05Z`, or with `.000000` microseconds when given.
fn rfc3339(unix_secs: i64, micros: Option<i64>) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    match micros {
        None => format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z"),
        Some(us) => format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{us:06}Z"),
    }
}

/// Proleptic Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(nanos: i64) -> String {
    let mut u = nanos.unsigned_abs();
    let sign = if nanos < 0 { "-" } else { "" };
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (int, frac) = split_fraction(u, prec);
        return format!("{sign}{int}{frac}{unit}");
    }
    let (secs, frac) = split_fraction(u, 9);
    u = secs;
    let mut out = format!("{}{frac}s", u % 60);
    u /= 60;
    if u > 0 {
        out = format!("{}m{out}", u % 60);
        u /= 60;
        if u > 0 {
            out = format!("{u}h{out}");
        }
    }
    format!("{sign}{out}")
}

/// Splits `v` into its integer part and `.fraction` (trailing zeros dropped) at `prec` decimal digits.
fn split_fraction(v: u64, prec: u32) -> (u64, String) {
    let scale = 10u64.pow(prec);
    let frac = v % scale;
    if frac == 0 {
        return (v / scale, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / scale, format!(".{}", digits.trim_end_matches('0')))
}

fn int_or_string(bytes: &[u8]) -> Result<Value, DecodeError> {
    let (mut kind, mut int_val, mut str_val) = (0i64, 0i32, String::new());
    for_each_field(bytes, |tag, value| {
        match tag {
            1 => kind = varint(value, "type")? as i64,
            2 => int_val = varint(value, "intVal")? as i32,
            3 => str_val = string(value, "strVal")?,
            _ => {}
        }
        Ok(())
    })?;
    match kind {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::String(str_val)),
        other => Err(DecodeError::malformed(format!("IntOrString has type {other}; only 0 (int) and 1 (string) exist"))),
    }
}

/// Raw bytes that Go would copy into the JSON verbatim: JSON text, or a nested protobuf object.
fn raw_json(raw: &[u8], depth: usize) -> Result<Value, DecodeError> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(crate::MAGIC) {
        return crate::decode_nested(raw, depth + 1).map(Value::Object);
    }
    serde_json::from_slice(raw).map_err(|e| DecodeError::malformed(format!("embedded raw JSON is invalid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_field(tag: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![tag << 3 | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn formats_times() {
        let cases: &[(i64, Option<i64>, &str)] = &[
            (0, None, "1970-01-01T00:00:00Z"),
            (1_700_000_000, None, "2023-11-14T22:13:20Z"),
            (951_782_400, None, "2000-02-29T00:00:00Z"),
            (-1, None, "1969-12-31T23:59:59Z"),
            (253_402_300_799, None, "9999-12-31T23:59:59Z"),
            (1_700_000_000, Some(5), "2023-11-14T22:13:20.000005Z"),
            (1_700_000_000, Some(123_456), "2023-11-14T22:13:20.123456Z"),
        ];
        for (secs, micros, want) in cases {
            assert_eq!(rfc3339(*secs, *micros), *want);
        }
    }

    #[test]
    fn formats_durations_like_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (1_500_000, "1.5ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (61_000_000_000, "1m1s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_001, "1h2m3.000000001s"),
            (-90_000_000_000, "-1m30s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(go_duration(*nanos), *want, "{nanos}");
        }
    }

    #[test]
    fn decodes_special_messages() {
        use serde_json::json;
        let cases: Vec<(Type, Vec<u8>, Value)> = vec![
            (Type::Time, vec![], Value::Null),
            (Type::Time, vec![0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06, 0x10, 0x05], json!("2023-11-14T22:13:20Z")),
            (Type::MicroTime, vec![0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06, 0x10, 0xe8, 0x07], json!("2023-11-14T22:13:20.000001Z")),
            (Type::Duration, vec![0x08, 0x80, 0x94, 0xeb, 0xdc, 0x03], json!("1s")),
            (Type::Quantity, vec![0x0a, 0x03, b'1', b'0', b'0'], json!("100")),
            (Type::Quantity, vec![], json!("0")),
            (Type::IntOrString, vec![0x08, 0x00, 0x10, 0x50], json!(80)),
            (Type::IntOrString, vec![0x08, 0x01, 0x1a, 0x04, b'h', b't', b't', b'p'], json!("http")),
            (Type::IntOrString, vec![], json!(0)),
            (Type::RawExtension, vec![0x0a, 0x02, b'{', b'}'], json!({})),
            (Type::RawExtension, vec![], Value::Null),
            (Type::FieldsV1, len_field(1, br#"{"f:a":{}}"#), json!({"f:a": {}})),
            (Type::Time, vec![0x08, 0x80, 0x92, 0xb8, 0xc3, 0x98, 0xfe, 0xff, 0xff, 0xff, 0x01], Value::Null),
            (Type::StringList, vec![0x0a, 0x01, b'a', 0x0a, 0x01, b'b'], json!(["a", "b"])),
        ];
        for (ty, bytes, want) in cases {
            assert_eq!(decode(ty, &bytes, 0).unwrap(), want, "{ty:?} {bytes:02x?}");
        }
    }

    #[test]
    fn rejects_impossible_values() {
        let cases: Vec<(Type, Vec<u8>, &str)> = vec![
            (Type::IntOrString, vec![0x08, 0x02], "IntOrString has type 2"),
            (Type::MicroTime, vec![0x10, 0xff, 0xff, 0xff, 0xff, 0x0f], "nanos -1 outside 0..1e9"),
            (Type::Time, vec![0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], "outside years 0-9999"),
            (Type::Quantity, vec![0x08, 0x01], "string has wire type 0, expected 2"),
            (Type::RawExtension, vec![0x0a, 0x01, b'{'], "embedded raw JSON is invalid"),
        ];
        for (ty, bytes, want) in cases {
            let err = decode(ty, &bytes, 0).unwrap_err().to_string();
            assert!(err.contains(want), "{ty:?}: {err}");
        }
    }
}
