//! Schema tables: for each protobuf message, its fields' numbers, JSON names, types and Go JSON rules.

/// One protobuf message of the Kubernetes API.
#[derive(Debug)]
pub struct Message {
    /// The Go type name, for documentation and error messages.
    pub name: &'static str,
    /// Sorted by tag.
    pub fields: &'static [Field],
}

impl Message {
    /// The position in `fields` of the field with this number.
    pub fn field_index(&self, tag: u32) -> Option<usize> {
        self.fields.binary_search_by_key(&tag, |f| f.tag).ok()
    }
}

/// One field of a message.
#[derive(Debug)]
pub struct Field {
    pub tag: u32,
    /// The Go json tag's name; empty for inlined (embedded) structs.
    pub json: &'static str,
    pub card: Card,
    pub ty: Type,
}

/// How the Go struct holds the field, which decides what Go's encoding/json writes for it.
///
/// Go's protobuf code always writes non-pointer fields (even zero strings and empty structs)
/// and writes pointers only when set, so "present on the wire" alone cannot tell the JSON shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    /// A non-pointer value without omitempty: always in the JSON, zero if absent.
    Plain,
    /// A non-pointer scalar with omitempty: left out when zero.
    OmitEmpty,
    /// A non-pointer struct with omitzero: left out when zero.
    OmitZero,
    /// A pointer with omitempty: in the JSON exactly when it was on the wire.
    Pointer,
    /// A pointer without omitempty: `null` when absent.
    PointerNull,
    /// An embedded struct whose fields Go's JSON promotes into the enclosing object.
    Inline,
    /// A slice without omitempty: `null` when empty.
    List,
    /// A slice with omitempty.
    ListOmitEmpty,
    /// A map without omitempty (entries are {1: key, 2: value} messages): `null` when empty.
    Map,
    /// A map with omitempty.
    MapOmitEmpty,
}

/// What one value (a scalar, a list element or a map value) is.
#[derive(Debug, Clone, Copy)]
pub enum Type {
    Str,
    /// JSON: base64 string.
    Bytes,
    Bool,
    I32,
    I64,
    F64,
    Msg(&'static Message),
    /// meta/v1 Time {1: seconds, 2: nanos}; JSON RFC 3339 seconds, null when zero.
    Time,
    /// meta/v1 MicroTime; JSON RFC 3339 with microseconds.
    MicroTime,
    /// meta/v1 Duration {1: nanoseconds}; JSON Go duration string.
    Duration,
    /// resource.Quantity {1: string}; JSON string.
    Quantity,
    /// intstr.IntOrString {1: type, 2: intVal, 3: strVal}; JSON number or string.
    IntOrString,
    /// runtime.RawExtension {1: raw}; JSON: the embedded object.
    RawExtension,
    /// meta/v1 FieldsV1 {1: raw JSON}.
    FieldsV1,
    /// A message wrapping `repeated string items = 1` (ExtraValue); JSON: array of strings.
    StringList,
}

impl Type {
    /// Whether the value travels as a length-delimited nested message.
    pub fn is_message(&self) -> bool {
        !matches!(self, Type::Str | Type::Bytes | Type::Bool | Type::I32 | Type::I64 | Type::F64)
    }
}

/// Shorthand for the generated tables.
pub const fn f(tag: u32, json: &'static str, card: Card, ty: Type) -> Field {
    Field { tag, json, card, ty }
}

#[cfg(test)]
mod tests {
    use crate::schema::{ALL_MESSAGES, KINDS};

    #[test]
    fn every_message_has_sorted_unique_tags_and_names() {
        for message in ALL_MESSAGES {
            let tags: Vec<u32> = message.fields.iter().map(|f| f.tag).collect();
            assert!(tags.windows(2).all(|w| w[0] < w[1]), "{} tags {tags:?}", message.name);
            let mut names: Vec<&str> = message.fields.iter().map(|f| f.json).filter(|n| !n.is_empty()).collect();
            names.sort_unstable();
            let count = names.len();
            names.dedup();
            assert_eq!(names.len(), count, "{} has a repeated JSON name", message.name);
        }
    }

    #[test]
    fn kinds_are_unique() {
        let mut keys: Vec<(&str, &str)> = KINDS.iter().map(|(v, k, _)| (*v, *k)).collect();
        keys.sort_unstable();
        let count = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), count);
    }
}
