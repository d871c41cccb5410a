//! Field errors and field paths, rendered exactly as upstream's `field.Error.ErrorBody()`.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::quote::go_quote;
use crate::Cause;

/// Why a field was rejected; each maps to one `metav1.CauseType` reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    TypeInvalid,
    Internal,
}

impl ErrorType {
    /// The `reason` of the status cause.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
            ErrorType::Internal => "InternalError",
        }
    }

    /// The words that open the message.
    pub fn words(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
        }
    }
}

/// The offending value as upstream prints it: strings quoted Go-style, numbers and booleans
/// bare, anything else as JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum BadValue {
    /// Not printed at all (`field.OmitValueType`).
    Omit,
    Str(String),
    Int(i64),
    Bool(bool),
    Json(Value),
    /// Already rendered, e.g. a Go struct whose fields keep declaration order.
    Raw(String),
}

impl BadValue {
    /// A complex value, printed as its JSON encoding (Go's `json.Marshal` fallback).
    pub fn json<T: Serialize + ?Sized>(value: &T) -> BadValue {
        BadValue::Json(serde_json::to_value(value).unwrap_or(Value::Null))
    }

    fn render(&self) -> Option<String> {
        match self {
            BadValue::Omit => None,
            BadValue::Str(s) => Some(go_quote(s)),
            BadValue::Int(i) => Some(i.to_string()),
            BadValue::Bool(b) => Some(b.to_string()),
            BadValue::Json(v) => Some(go_json(v)),
            BadValue::Raw(s) => Some(s.clone()),
        }
    }
}

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        BadValue::Str(s.to_string())
    }
}
impl From<String> for BadValue {
    fn from(s: String) -> Self {
        BadValue::Str(s)
    }
}
impl From<&String> for BadValue {
    fn from(s: &String) -> Self {
        BadValue::Str(s.clone())
    }
}
impl From<i64> for BadValue {
    fn from(i: i64) -> Self {
        BadValue::Int(i)
    }
}
impl From<i32> for BadValue {
    fn from(i: i32) -> Self {
        BadValue::Int(i.into())
    }
}
impl From<bool> for BadValue {
    fn from(b: bool) -> Self {
        BadValue::Bool(b)
    }
}

/// A field path such as `spec.containers[0].image`, built the way `field.Path` is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn new(name: &str) -> Path {
        Path(name.to_string())
    }

    /// `a.b.c` from one call.
    pub fn of(names: &[&str]) -> Path {
        names.iter().fold(Path::default(), |p, n| p.child(n))
    }

    // Paths are built for every field validated, not only for errors, so they are appended
    // into one right-sized buffer rather than formatted.
    fn extended(&self, extra: usize) -> String {
        let mut s = String::with_capacity(self.0.len() + extra);
        s.push_str(&self.0);
        s
    }

    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            return Path(name.to_string());
        }
        let mut s = self.extended(1 + name.len());
        s.push('.');
        s.push_str(name);
        Path(s)
    }

    pub fn index(&self, i: usize) -> Path {
        let mut s = self.extended(2 + 20);
        let _ = write!(s, "[{i}]");
        Path(s)
    }

    /// Map keys are bracketed unquoted, as upstream does (`data[key]`).
    pub fn key(&self, k: &str) -> Path {
        let mut s = self.extended(2 + k.len());
        s.push('[');
        s.push_str(k);
        s.push(']');
        Path(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One field-level validation failure (`field.Error`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub kind: ErrorType,
    pub field: String,
    pub bad_value: BadValue,
    pub detail: String,
}

impl FieldError {
    fn new(kind: ErrorType, path: &Path, bad_value: BadValue, detail: impl Into<String>) -> FieldError {
        FieldError { kind, field: path.to_string(), bad_value, detail: detail.into() }
    }

    pub fn required(path: &Path, detail: &str) -> FieldError {
        FieldError::new(ErrorType::Required, path, BadValue::Omit, detail)
    }

    pub fn invalid(path: &Path, value: impl Into<BadValue>, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::Invalid, path, value.into(), detail)
    }

    pub fn type_invalid(path: &Path, value: impl Into<BadValue>, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::TypeInvalid, path, value.into(), detail)
    }

    /// `supported values: "a", "b"` in the order given.
    pub fn not_supported(path: &Path, value: impl Into<BadValue>, supported: &[&str]) -> FieldError {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError::new(ErrorType::NotSupported, path, value.into(), detail)
    }

    pub fn forbidden(path: &Path, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::Forbidden, path, BadValue::Omit, detail)
    }

    pub fn duplicate(path: &Path, value: impl Into<BadValue>) -> FieldError {
        FieldError::new(ErrorType::Duplicate, path, value.into(), "")
    }

    pub fn not_found(path: &Path, value: impl Into<BadValue>) -> FieldError {
        FieldError::new(ErrorType::NotFound, path, value.into(), "")
    }

    /// The value itself is never echoed; a negative `max` says only "value is too long".
    pub fn too_long(path: &Path, max: i64) -> FieldError {
        let detail = match max {
            m if m < 0 => "value is too long".to_string(),
            1 => "may not be more than 1 byte".to_string(),
            m => format!("may not be more than {m} bytes"),
        };
        FieldError::new(ErrorType::TooLong, path, BadValue::Omit, detail)
    }

    pub fn too_many(path: &Path, actual: Option<i64>, max: i64) -> FieldError {
        let detail = match max {
            m if m < 0 => "has too many items".to_string(),
            1 => "must have at most 1 item".to_string(),
            m => format!("must have at most {m} items"),
        };
        FieldError::new(ErrorType::TooMany, path, actual.map(BadValue::Int).unwrap_or(BadValue::Omit), detail)
    }

    pub fn internal(path: &Path, detail: impl Into<String>) -> FieldError {
        FieldError::new(ErrorType::Internal, path, BadValue::Omit, detail)
    }

    /// Replaces the detail, as upstream does when it amends a constructed error.
    pub fn with_detail(mut self, detail: impl Into<String>) -> FieldError {
        self.detail = detail.into();
        self
    }

    /// The message without the field name (`ErrorBody`).
    pub fn body(&self) -> String {
        let mut s = self.kind.words().to_string();
        let shows_value = !matches!(self.kind, ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong | ErrorType::Internal);
        if shows_value {
            if let Some(v) = self.bad_value.render() {
                let _ = write!(s, ": {v}");
            }
        }
        if !self.detail.is_empty() {
            let _ = write!(s, ": {}", self.detail);
        }
        s
    }

    pub fn to_cause(&self) -> Cause {
        Cause { reason: self.kind.reason().to_string(), message: self.body(), field: self.field.clone() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// Encodes like Go's `json.Marshal`: object keys sorted and `<`, `>`, `&`, U+2028, U+2029
/// escaped, whatever order the map kept.
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(&mut out, v);
    out
}

/// Encodes a Go struct: fields in the order given (Go keeps declaration order), each value
/// encoded as `go_json` does.
pub fn go_struct(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (name, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_go_string(&mut out, name);
        out.push(':');
        write_go_json(&mut out, v);
    }
    out.push('}');
    out
}

/// Appends `v` as Go's `json.Marshal` encodes it.
pub fn write_go_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => write_go_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(out, k);
                out.push(':');
                write_go_json(out, &map[k]);
            }
            out.push('}');
        }
    }
}

/// A number as Go prints a float64 (`1e+21`, `1e-07`); integers as they are.
fn go_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = exp.strip_prefix('-').map(|d| ('-', d)).unwrap_or(('+', exp));
        return format!("{mant}e{sign}{digits:0>2}");
    }
    format!("{f}")
}

/// Appends `s` as a Go JSON string (HTML characters and U+2028/2029 escaped).
pub fn write_go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_render_like_upstream() {
        let cases = [
            (Path::new("spec").child("containers").index(0).child("image"), "spec.containers[0].image"),
            (Path::of(&["metadata", "labels"]), "metadata.labels"),
            (Path::new("data").key("my.key"), "data[my.key]"),
            (Path::new("").child("x"), "x"),
            (Path::of(&["metadata", "annotations"]).key("a/b"), "metadata.annotations[a/b]"),
        ];
        for (path, want) in cases {
            assert_eq!(path.to_string(), want);
        }
    }

    #[test]
    fn bodies_match_error_body() {
        let p = Path::new("f");
        let cases = [
            (FieldError::required(&p, ""), "Required value"),
            (FieldError::required(&p, "name or generateName is required"), "Required value: name or generateName is required"),
            (FieldError::invalid(&p, "-bad", "detail"), "Invalid value: \"-bad\": detail"),
            (FieldError::invalid(&p, 0i32, "must be 1"), "Invalid value: 0: must be 1"),
            (FieldError::invalid(&p, true, "x"), "Invalid value: true: x"),
            (FieldError::invalid(&p, BadValue::Json(json!({"b": 1, "a": "<"})), "x"), "Invalid value: {\"a\":\"\\u003c\",\"b\":1}: x"),
            (FieldError::invalid(&p, BadValue::Json(Value::Null), "field is immutable"), "Invalid value: null: field is immutable"),
            (FieldError::invalid(&p, BadValue::Omit, "x"), "Invalid value: x"),
            (
                FieldError::invalid(&p, BadValue::Raw(go_struct(&[("Z", json!(1)), ("A", json!("&"))])), "x"),
                "Invalid value: {\"Z\":1,\"A\":\"\\u0026\"}: x",
            ),
            (FieldError::type_invalid(&p, "s", "x"), "Invalid value: \"s\": x"),
            (FieldError::not_supported(&p, "x", &["a", "b"]), "Unsupported value: \"x\": supported values: \"a\", \"b\""),
            (FieldError::not_supported(&p, "x", &[]), "Unsupported value: \"x\""),
            (FieldError::forbidden(&p, "not allowed on this type"), "Forbidden: not allowed on this type"),
            (FieldError::duplicate(&p, "a"), "Duplicate value: \"a\""),
            (FieldError::not_found(&p, "vol"), "Not found: \"vol\""),
            (FieldError::too_long(&p, 253), "Too long: may not be more than 253 bytes"),
            (FieldError::too_long(&p, 1), "Too long: may not be more than 1 byte"),
            (FieldError::too_long(&p, -1), "Too long: value is too long"),
            (FieldError::too_many(&p, Some(5), 4), "Too many: 5: must have at most 4 items"),
            (FieldError::too_many(&p, None, 1), "Too many: must have at most 1 item"),
            (FieldError::internal(&p, "boom"), "Internal error: boom"),
        ];
        for (err, want) in cases {
            assert_eq!(err.body(), want);
        }
    }

    #[test]
    fn causes_carry_reason_field_and_body() {
        let p = Path::new("spec").child("containers").index(0).child("image");
        let cause = FieldError::required(&p, "").to_cause();
        assert_eq!(cause.reason, "FieldValueRequired");
        assert_eq!(cause.field, "spec.containers[0].image");
        assert_eq!(cause.message, "Required value");
        let kinds = [
            (ErrorType::NotFound, "FieldValueNotFound"),
            (ErrorType::Duplicate, "FieldValueDuplicate"),
            (ErrorType::Invalid, "FieldValueInvalid"),
            (ErrorType::NotSupported, "FieldValueNotSupported"),
            (ErrorType::Forbidden, "FieldValueForbidden"),
            (ErrorType::TooLong, "FieldValueTooLong"),
            (ErrorType::TooMany, "FieldValueTooMany"),
            (ErrorType::TypeInvalid, "FieldValueTypeInvalid"),
        ];
        for (kind, reason) in kinds {
            assert_eq!(kind.reason(), reason);
        }
        assert_eq!(FieldError::invalid(&p, "x", "y").to_string(), "spec.containers[0].image: Invalid value: \"x\": y");
    }

}
