//! Secrets: `stringData` is a write-only convenience merged into `data`, as upstream's
//! conversion does; it is never stored.

use base64::Engine;
use serde_json::Value;

pub fn merge_string_data(secret: &mut Value) {
    let Some(obj) = secret.as_object_mut() else { return };
    let Some(Value::Object(strings)) = obj.remove("stringData") else { return };
    let data = obj.entry("data").or_insert_with(|| Value::Object(Default::default()));
    if !data.is_object() {
        *data = Value::Object(Default::default());
    }
    let data = data.as_object_mut().expect("just made an object");
    for (k, v) in strings {
        if let Some(s) = v.as_str() {
            data.insert(k, Value::String(base64::engine::general_purpose::STANDARD.encode(s)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_data_wins_over_data_and_is_dropped() {
        let mut s = json!({"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "new", "c": "z"}});
        merge_string_data(&mut s);
        assert_eq!(s, json!({"data": {"a": "eA==", "b": "bmV3", "c": "eg=="}}));
    }
}
