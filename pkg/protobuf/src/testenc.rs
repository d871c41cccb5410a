//! A tiny protobuf encoder for building test bodies the way Go's generated code writes them.

/// A message under construction; fields are appended in call order.
#[derive(Default, Clone)]
pub(crate) struct Enc(Vec<u8>);

impl Enc {
    pub(crate) fn new() -> Self {
        Enc(Vec::new())
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }

    fn key(mut self, tag: u32, wire_type: u8) -> Self {
        self.push_varint(u64::from(tag) << 3 | u64::from(wire_type));
        self
    }

    fn push_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    /// A varint field; negative numbers are sign-extended as Go does for int32 and int64.
    pub(crate) fn int(self, tag: u32, v: i64) -> Self {
        let mut out = self.key(tag, 0);
        out.push_varint(v as u64);
        out
    }

    pub(crate) fn bool(self, tag: u32, v: bool) -> Self {
        self.int(tag, i64::from(v))
    }

    pub(crate) fn fixed64(self, tag: u32, bits: u64) -> Self {
        let mut out = self.key(tag, 1);
        out.0.extend_from_slice(&bits.to_le_bytes());
        out
    }

    pub(crate) fn bytes(self, tag: u32, v: &[u8]) -> Self {
        let mut out = self.key(tag, 2);
        out.push_varint(v.len() as u64);
        out.0.extend_from_slice(v);
        out
    }

    pub(crate) fn str(self, tag: u32, v: &str) -> Self {
        self.bytes(tag, v.as_bytes())
    }

    pub(crate) fn msg(self, tag: u32, inner: Enc) -> Self {
        self.bytes(tag, &inner.0)
    }

    /// One map entry: {1: key, 2: value}, with the value fields given by `value`.
    pub(crate) fn map_entry(self, tag: u32, key: &str, value: Enc) -> Self {
        let mut entry = Enc::new().str(1, key);
        entry.0.extend_from_slice(&value.0);
        self.msg(tag, entry)
    }

    /// A map<string, string> entry.
    pub(crate) fn str_entry(self, tag: u32, key: &str, value: &str) -> Self {
        self.map_entry(tag, key, Enc::new().str(2, value))
    }

    /// Bytes appended as they are, for malformed input.
    pub(crate) fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
}

/// A complete request body: `k8s\0` + runtime.Unknown{typeMeta, raw, contentEncoding, contentType}.
pub(crate) fn body(api_version: &str, kind: &str, object: Enc) -> Vec<u8> {
    let unknown = Enc::new()
        .msg(1, Enc::new().str(1, api_version).str(2, kind))
        .msg(2, object)
        .str(3, "")
        .str(4, "");
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.finish());
    out
}
