//! JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch, with upstream's limits.

pub mod merge_keys;
pub mod strategic;

use serde_json::Value;

use crate::ApiError;

/// Upstream's cap on operations in one JSON patch.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Applies an RFC 6902 patch. Undecodable: 400; too many operations: 413; does not apply
/// (missing path, failed `test`): 422.
pub fn apply_json_patch(target: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let ops: Vec<Value> = serde_json::from_slice(patch).map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(ApiError::RequestEntityTooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    let patch: json_patch::Patch =
        serde_json::from_value(Value::Array(ops)).map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
    let mut doc = target.clone();
    json_patch::patch(&mut doc, &patch).map_err(|e| ApiError::UnprocessablePatch(e.to_string()))?;
    Ok(doc)
}

/// Applies an RFC 7386 merge patch. Undecodable: 400.
pub fn apply_merge_patch(target: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let p: Value = serde_json::from_slice(patch).map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
    if !p.is_object() {
        return Err(ApiError::BadRequest("error decoding patch: a merge patch must be a JSON object".into()));
    }
    let mut doc = target.clone();
    json_patch::merge(&mut doc, &p);
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_applies_and_fails_like_upstream() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}});
        let out = apply_json_patch(&doc, br#"[{"op":"add","path":"/metadata/labels/b","value":"2"}]"#).unwrap();
        assert_eq!(out["metadata"]["labels"]["b"], "2");
        assert_eq!(apply_json_patch(&doc, b"nope").unwrap_err().code(), 400);
        assert_eq!(apply_json_patch(&doc, br#"[{"op":"test","path":"/metadata/labels/a","value":"9"}]"#).unwrap_err().code(), 422);
        assert_eq!(apply_json_patch(&doc, br#"[{"op":"remove","path":"/nope"}]"#).unwrap_err().code(), 422);
        let many = serde_json::to_vec(&vec![json!({"op":"test","path":"/metadata","value":{}}); 10_001]).unwrap();
        assert_eq!(apply_json_patch(&doc, &many).unwrap_err().code(), 413);
    }

    #[test]
    fn merge_patch_sets_and_removes() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let out = apply_merge_patch(&doc, br#"{"metadata":{"labels":{"a":null,"c":"3"}}}"#).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        assert_eq!(apply_merge_patch(&doc, b"[1]").unwrap_err().code(), 400);
    }
}
