//! The Swagger 2.0 document in the protobuf form clients ask `/openapi/v2` for
//! (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`): the `openapi.v2.Document`
//! message of gnostic's OpenAPIv2.proto. kubectl 1.27 and 1.28 fetch it before every validated
//! create/apply and fail if it does not parse.
//!
//! Only the parts of the message the v2 document uses are encoded. Vendor extensions are
//! `NamedAny` values whose `Any.yaml` holds the value as JSON text (JSON is YAML).

use serde_json::{Map, Value};

/// A protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    /// A string field; proto3 leaves empty strings out.
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    /// A repeated string field: every element, even empty ones.
    fn strings(&mut self, field: u32, v: Option<&Value>) {
        for s in v.and_then(Value::as_array).into_iter().flatten() {
            self.bytes(field, s.as_str().unwrap_or_default().as_bytes());
        }
    }

    fn msg(&mut self, field: u32, m: Msg) {
        self.bytes(field, &m.0);
    }

    fn boolean(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v as u64);
        }
    }

    fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, 1);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn str_of<'a>(o: &'a Map<String, Value>, k: &str) -> &'a str {
    o.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn bool_of(o: &Map<String, Value>, k: &str) -> bool {
    o.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// `Any { yaml }`.
fn any(v: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(2, &v.to_string());
    m
}

/// `NamedAny { name, value }` for every `x-` key of an object.
fn vendor_extensions(m: &mut Msg, field: u32, o: &Map<String, Value>) {
    for (k, v) in o {
        if k.starts_with("x-") {
            let mut named = Msg::default();
            named.string(1, k);
            named.msg(2, any(v));
            m.msg(field, named);
        }
    }
}

fn schema(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else { return m };
    m.string(1, str_of(o, "$ref"));
    m.string(2, str_of(o, "format"));
    m.string(3, str_of(o, "title"));
    m.string(4, str_of(o, "description"));
    if let Some(d) = o.get("default") {
        m.msg(5, any(d));
    }
    let num = |k: &str| o.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let int = |k: &str| o.get(k).and_then(Value::as_i64).unwrap_or(0);
    m.double(6, num("multipleOf"));
    m.double(7, num("maximum"));
    m.boolean(8, bool_of(o, "exclusiveMaximum"));
    m.double(9, num("minimum"));
    m.boolean(10, bool_of(o, "exclusiveMinimum"));
    m.int64(11, int("maxLength"));
    m.int64(12, int("minLength"));
    m.string(13, str_of(o, "pattern"));
    m.int64(14, int("maxItems"));
    m.int64(15, int("minItems"));
    m.boolean(16, bool_of(o, "uniqueItems"));
    m.int64(17, int("maxProperties"));
    m.int64(18, int("minProperties"));
    m.strings(19, o.get("required"));
    for e in o.get("enum").and_then(Value::as_array).into_iter().flatten() {
        m.msg(20, any(e));
    }
    match o.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut a = Msg::default();
            a.key(2, 0);
            a.varint(u64::from(*b));
            m.msg(21, a);
        }
        Some(s @ Value::Object(_)) => {
            let mut a = Msg::default();
            a.msg(1, schema(s));
            m.msg(21, a);
        }
        _ => {}
    }
    match o.get("type") {
        Some(Value::String(t)) => {
            let mut ty = Msg::default();
            ty.string(1, t);
            m.msg(22, ty);
        }
        Some(t @ Value::Array(_)) => {
            let mut ty = Msg::default();
            ty.strings(1, Some(t));
            m.msg(22, ty);
        }
        _ => {}
    }
    match o.get("items") {
        Some(Value::Array(a)) => {
            let mut items = Msg::default();
            for s in a {
                items.msg(1, schema(s));
            }
            m.msg(23, items);
        }
        Some(s @ Value::Object(_)) => {
            let mut items = Msg::default();
            items.msg(1, schema(s));
            m.msg(23, items);
        }
        _ => {}
    }
    for s in o.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        m.msg(24, schema(s));
    }
    if let Some(Value::Object(props)) = o.get("properties") {
        let mut p = Msg::default();
        for (name, s) in props {
            let mut named = Msg::default();
            named.string(1, name);
            named.msg(2, schema(s));
            p.msg(1, named);
        }
        m.msg(25, p);
    }
    m.boolean(27, bool_of(o, "readOnly"));
    vendor_extensions(&mut m, 31, o);
    m
}

/// `ParametersItem { parameter: Parameter { body_parameter | non_body_parameter } }`.
fn parameter(v: &Value) -> Msg {
    let mut p = Msg::default();
    let Some(o) = v.as_object() else { return p };
    let location = str_of(o, "in");
    if location == "body" {
        let mut b = Msg::default();
        b.string(1, str_of(o, "description"));
        b.string(2, str_of(o, "name"));
        b.string(3, location);
        b.boolean(4, bool_of(o, "required"));
        if let Some(s) = o.get("schema") {
            b.msg(5, schema(s));
        }
        vendor_extensions(&mut b, 6, o);
        p.msg(1, b);
    } else {
        // Query, path and header sub-schemas share their first fields; type and unique_items
        // sit at different numbers.
        let (oneof, type_field, unique_field, ext_field) = match location {
            "path" => (4, 5, 19, 22),
            "header" => (1, 5, 19, 22),
            _ => (3, 6, 20, 23),
        };
        let mut s = Msg::default();
        s.boolean(1, bool_of(o, "required"));
        s.string(2, location);
        s.string(3, str_of(o, "description"));
        s.string(4, str_of(o, "name"));
        s.string(type_field, str_of(o, "type"));
        s.boolean(unique_field, bool_of(o, "uniqueItems"));
        vendor_extensions(&mut s, ext_field, o);
        let mut nb = Msg::default();
        nb.msg(oneof, s);
        p.msg(2, nb);
    }
    let mut item = Msg::default();
    item.msg(1, p);
    item
}

fn operation(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else { return m };
    m.strings(1, o.get("tags"));
    m.string(2, str_of(o, "summary"));
    m.string(3, str_of(o, "description"));
    m.string(5, str_of(o, "operationId"));
    m.strings(6, o.get("produces"));
    m.strings(7, o.get("consumes"));
    for p in o.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        m.msg(8, parameter(p));
    }
    if let Some(Value::Object(responses)) = o.get("responses") {
        let mut rs = Msg::default();
        for (code, r) in responses {
            let mut resp = Msg::default();
            resp.string(1, r.get("description").and_then(Value::as_str).unwrap_or_default());
            if let Some(s) = r.get("schema") {
                let mut item = Msg::default();
                item.msg(1, schema(s));
                resp.msg(2, item);
            }
            let mut value = Msg::default();
            value.msg(1, resp);
            let mut named = Msg::default();
            named.string(1, code);
            named.msg(2, value);
            rs.msg(1, named);
        }
        m.msg(9, rs);
    }
    m.strings(10, o.get("schemes"));
    m.boolean(11, bool_of(o, "deprecated"));
    vendor_extensions(&mut m, 13, o);
    m
}

fn path_item(v: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(o) = v.as_object() else { return m };
    for (method, field) in [("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("options", 6), ("head", 7), ("patch", 8)] {
        if let Some(op) = o.get(method) {
            m.msg(field, operation(op));
        }
    }
    for p in o.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        m.msg(9, parameter(p));
    }
    vendor_extensions(&mut m, 10, o);
    m
}

fn security_requirement(v: &Value) -> Msg {
    let mut m = Msg::default();
    for (name, scopes) in v.as_object().into_iter().flatten() {
        let mut arr = Msg::default();
        arr.strings(1, Some(scopes));
        let mut named = Msg::default();
        named.string(1, name);
        named.msg(2, arr);
        m.msg(1, named);
    }
    m
}

/// Encodes a Swagger 2.0 document (as `v2_document` builds it) as a gnostic `Document`.
pub(crate) fn encode_document(doc: &Value) -> Vec<u8> {
    let mut m = Msg::default();
    let Some(o) = doc.as_object() else { return m.0 };
    m.string(1, str_of(o, "swagger"));
    if let Some(Value::Object(info)) = o.get("info") {
        let mut i = Msg::default();
        i.string(1, str_of(info, "title"));
        i.string(2, str_of(info, "version"));
        i.string(3, str_of(info, "description"));
        m.msg(2, i);
    }
    if let Some(Value::Object(paths)) = o.get("paths") {
        let mut p = Msg::default();
        for (path, item) in paths {
            let mut named = Msg::default();
            named.string(1, path);
            named.msg(2, path_item(item));
            p.msg(2, named);
        }
        m.msg(8, p);
    }
    if let Some(Value::Object(defs)) = o.get("definitions") {
        let mut d = Msg::default();
        for (name, s) in defs {
            let mut named = Msg::default();
            named.string(1, name);
            named.msg(2, schema(s));
            d.msg(1, named);
        }
        m.msg(9, d);
    }
    for s in o.get("security").and_then(Value::as_array).into_iter().flatten() {
        m.msg(12, security_requirement(s));
    }
    if let Some(Value::Object(defs)) = o.get("securityDefinitions") {
        let mut d = Msg::default();
        for (name, s) in defs {
            let Some(so) = s.as_object() else { continue };
            if str_of(so, "type") != "apiKey" {
                continue;
            }
            let mut key = Msg::default();
            key.string(1, "apiKey");
            key.string(2, str_of(so, "name"));
            key.string(3, str_of(so, "in"));
            key.string(4, str_of(so, "description"));
            let mut item = Msg::default();
            item.msg(2, key);
            let mut named = Msg::default();
            named.string(1, name);
            named.msg(2, item);
            d.msg(1, named);
        }
        m.msg(13, d);
    }
    vendor_extensions(&mut m, 16, o);
    m.0
}
