//! Server side of strategic merge patch: applies a kubectl-computed patch to a stored object with upstream's directives and list ordering.

use serde_json::{Map, Value};

use super::merge_keys::{strategy_for_path, FieldStrategy};
use crate::ApiError;

/// `$patch: replace | delete | merge` on a map or a list element.
const PATCH: &str = "$patch";
/// `$retainKeys: [..]`: after merging, drop the live keys not listed.
const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<field>: [..]`: the final order of a merging list.
const SET_ORDER: &str = "$setElementOrder";
/// `$deleteFromPrimitiveList/<field>: [..]`: values to remove from a primitive list.
const DELETE_FROM: &str = "$deleteFromPrimitiveList";

type Object = Map<String, Value>;

/// Applies a strategic merge patch (JSON) to `original` (JSON of `kind` in `group`).
///
/// Errors as upstream's handler classifies them: an undecodable patch and malformed
/// `$deleteFromPrimitiveList`/`$setElementOrder` keys or `$retainKeys` lists are 400
/// (`BadRequest`); a patch that decodes but cannot apply to this object (bad `$patch` value,
/// merge-list element without its key, mixed element types, ...) is 422 (`UnprocessablePatch`).
pub fn apply(group: &str, kind: &str, original: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(patch).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let patch = match patch {
        Value::Object(patch) => patch,
        // Upstream decodes into a Go map, where `null` leaves it empty: a no-op patch.
        Value::Null => return Ok(original.clone()),
        other => {
            return Err(ApiError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other).json_name()
            )))
        }
    };
    // Stored objects are always JSON objects; anything else is patched as if empty.
    let original = original.as_object().cloned().unwrap_or_default();
    let strategy_of = |path: &[String]| strategy_for_path(group, kind, path);
    Merger { strategy_of: &strategy_of }.merge_map(&mut Vec::new(), original, patch).map(Value::Object)
}

/// One patch application; `strategy_of` answers which strategy a field path has.
struct Merger<'a> {
    strategy_of: &'a dyn Fn(&[String]) -> Option<FieldStrategy>,
}

impl Merger<'_> {
    fn strategy(&self, path: &[String]) -> FieldStrategy {
        (self.strategy_of)(path).unwrap_or_default()
    }

    /// Merges `patch` into the live map `original` found at `path`.
    fn merge_map(&self, path: &mut Vec<String>, mut original: Object, mut patch: Object) -> Result<Object, ApiError> {
        if let Some(directive) = patch.remove(PATCH) {
            return match directive.as_str() {
                // The rest of the patch map becomes the value, cleaned of directives and nulls.
                Some("replace") => self.fresh_map(path, patch),
                // Upstream leaves an empty map behind rather than removing the key.
                Some("delete") => Ok(Object::new()),
                _ => Err(unknown_patch_type(&directive, &patch)),
            };
        }
        apply_retain_keys(&mut original, &mut patch)?;
        self.apply_element_orders(path, &mut original, &mut patch)?;

        // Upstream visits keys in Go's random map order; deleting from primitive lists after
        // all additions makes a patch that both adds and deletes a value deterministic.
        let (deletions, plain): (Vec<_>, Vec<_>) = patch.into_iter().partition(|(k, _)| k.starts_with(DELETE_FROM));
        for (key, value) in plain {
            self.merge_field(path, &mut original, key, value, false)?;
        }
        for (key, value) in deletions {
            let field = directive_target(&key, DELETE_FROM)
                .ok_or_else(|| ApiError::BadRequest("invalid patch format of primitive list".into()))?;
            self.merge_field(path, &mut original, field.to_string(), value, true)?;
        }
        Ok(original)
    }

    /// Merges one patch entry into `original`. `delete_list` marks the value of a
    /// `$deleteFromPrimitiveList/<key>` directive.
    fn merge_field(&self, path: &mut Vec<String>, original: &mut Object, key: String, value: Value, delete_list: bool) -> Result<(), ApiError> {
        // `null` deletes the key (even under a deletion directive, as upstream).
        if value.is_null() {
            original.remove(&key);
            return Ok(());
        }
        path.push(key);
        let result = self.merge_field_at(path, original, value, delete_list);
        path.pop();
        result
    }

    fn merge_field_at(&self, path: &mut Vec<String>, original: &mut Object, value: Value, delete_list: bool) -> Result<(), ApiError> {
        let key = path.last().expect("merge_field pushed the key").clone();
        let same_kind = original.get(&key).map(|live| json_kind(live) == json_kind(&value));
        match same_kind {
            // New key, or the patch changes the value's type: the patch value is taken as it
            // is, minus directives. A deletion list never adds anything.
            None | Some(false) => {
                if !delete_list {
                    match self.fresh(path, value)? {
                        Some(v) => {
                            original.insert(key, v);
                        }
                        None => {
                            original.remove(&key);
                        }
                    }
                }
                Ok(())
            }
            Some(true) => {
                let strategy = self.strategy(path);
                let slot = original.get_mut(&key).expect("key checked above");
                *slot = match (std::mem::take(slot), value) {
                    (Value::Object(_), Value::Object(patch)) if strategy.replace => Value::Object(self.fresh_map(path, patch)?),
                    (Value::Object(live), Value::Object(patch)) => Value::Object(self.merge_map(path, live, patch)?),
                    // Deletion lists remove values whatever the field's strategy.
                    (Value::Array(live), Value::Array(patch)) if strategy.merge || delete_list => {
                        Value::Array(self.merge_list(path, live, patch, strategy.merge_key, delete_list, None)?)
                    }
                    (Value::Array(_), Value::Array(patch)) => Value::Array(self.fresh_list(path, patch)?),
                    (_, scalar) => scalar,
                };
                Ok(())
            }
        }
    }

    /// A patch value with no live counterpart, as it should be stored: directives processed
    /// against nothing, nulls dropped. `None`: the value deletes itself (`$patch: delete`).
    fn fresh(&self, path: &mut Vec<String>, value: Value) -> Result<Option<Value>, ApiError> {
        Ok(match value {
            Value::Object(map) if map.get(PATCH).and_then(Value::as_str) == Some("delete") => None,
            Value::Object(map) => Some(Value::Object(self.fresh_map(path, map)?)),
            Value::Array(items) => Some(Value::Array(self.fresh_list(path, items)?)),
            scalar => Some(scalar),
        })
    }

    fn fresh_map(&self, path: &mut Vec<String>, patch: Object) -> Result<Object, ApiError> {
        self.merge_map(path, Object::new(), patch)
    }

    /// A list taken from the patch: elements carrying `$patch` are markers, not content
    /// (upstream drops them too); object elements are cleaned like any fresh map.
    fn fresh_list(&self, path: &mut Vec<String>, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::Object(map) if map.contains_key(PATCH) => {}
                Value::Object(map) => out.push(Value::Object(self.fresh_map(path, map)?)),
                other => out.push(other),
            }
        }
        Ok(out)
    }

    /// Merges a list with strategy `merge` (or a deletion list) into the live list.
    ///
    /// `live_alias`, when given, holds the live elements' identities and is updated the way
    /// upstream's Go slice operations overwrite the live list's backing array in place
    /// (deletions shift left, new elements fill the freed tail). Upstream then orders a
    /// `$setElementOrder` list by that overwritten array, so the final order depends on it.
    fn merge_list(
        &self,
        path: &mut Vec<String>,
        original: Vec<Value>,
        patch: Vec<Value>,
        merge_key: Option<&'static str>,
        delete_list: bool,
        mut live_alias: Option<&mut [Option<Value>]>,
    ) -> Result<Vec<Value>, ApiError> {
        let Some(kind) = element_kind(&original, &patch)? else {
            return Ok(original);
        };
        if kind != Kind::Object {
            if delete_list {
                return Ok(original.into_iter().filter(|v| !patch.contains(v)).collect());
            }
            if let Some(key) = merge_key {
                // A keyed list must hold objects; upstream fails while partitioning.
                let offender = original.iter().chain(&patch).next().expect("element_kind saw an element");
                return Err(bad_arg_type(&Value::Object(Object::new()), offender, key));
            }
            // A set union: live values first, duplicates dropped, then ordered below.
            let server_order: Vec<Option<Value>> = original.iter().cloned().map(Some).collect();
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for v in original.into_iter().chain(patch.iter().cloned()) {
                if !merged.contains(&v) {
                    merged.push(v);
                }
            }
            return order_elements(merged, &patch, &server_order, None);
        }
        let Some(key) = merge_key else {
            return Err(ApiError::UnprocessablePatch(format!("cannot merge lists without merge key for {}", path.join("."))));
        };

        let (mut merged, patch, replaced) = self.apply_list_directives(path, original, patch, key, live_alias.as_deref_mut())?;
        if replaced {
            // The list now lives in a new array; the live one is no longer written.
            live_alias = None;
        }
        let server_order: Vec<Option<Value>> = merged.iter().map(|item| item.get(key).cloned()).collect();
        let mut patch_order = Vec::with_capacity(patch.len());
        for item in patch {
            let Value::Object(item) = item else { unreachable!("element_kind checked every element") };
            let id = item.get(key).cloned().ok_or_else(|| no_merge_key(&item, key))?;
            // The first live element with the same key takes the patch; otherwise it is new.
            match merged.iter().position(|live| live.get(key) == Some(&id)) {
                Some(i) => {
                    let Value::Object(live) = std::mem::take(&mut merged[i]) else { unreachable!("objects only") };
                    merged[i] = Value::Object(self.merge_map(path, live, item)?);
                }
                None => {
                    // Go's append reuses the live array while it has room (freed by deletions).
                    if let Some(slot) = live_alias.as_deref_mut().and_then(|alias| alias.get_mut(merged.len())) {
                        *slot = Some(id.clone());
                    }
                    merged.push(Value::Object(self.fresh_map(path, item)?));
                }
            }
            patch_order.push(id);
        }
        order_elements(merged, &patch_order, &server_order, Some(key))
    }

    /// Handles the `$patch` elements of a keyed list: `delete` removes live elements with the
    /// same key, `replace` makes the other patch elements the whole list. Returns the live list
    /// left to merge into, the plain patch elements, and whether the list was replaced.
    fn apply_list_directives(
        &self,
        path: &mut Vec<String>,
        mut original: Vec<Value>,
        patch: Vec<Value>,
        key: &str,
        mut live_alias: Option<&mut [Option<Value>]>,
    ) -> Result<(Vec<Value>, Vec<Value>, bool), ApiError> {
        let mut plain = Vec::with_capacity(patch.len());
        let mut replace = false;
        for item in patch {
            let Some(directive) = item.get(PATCH) else {
                plain.push(item);
                continue;
            };
            let Value::Object(map) = &item else { unreachable!("only objects have keys") };
            match directive.as_str() {
                Some("delete") => {
                    let id = map.get(key).ok_or_else(|| no_merge_key(map, key))?;
                    // One at a time, as upstream, so the aliased array ends up the same.
                    while let Some(i) = original.iter().position(|live| live.get(key) == Some(id)) {
                        original.remove(i);
                        if let Some(alias) = live_alias.as_deref_mut() {
                            for (slot, live) in alias.iter_mut().zip(&original) {
                                *slot = live.get(key).cloned();
                            }
                        }
                    }
                }
                // Keep scanning: other directive elements are still validated and dropped.
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(ApiError::UnprocessablePatch("merging lists cannot yet be specified in the patch".into()))
                }
                _ => return Err(unknown_patch_type(directive, map)),
            }
        }
        if replace {
            return Ok((self.fresh_list(path, plain)?, Vec::new(), true));
        }
        Ok((original, plain, false))
    }

    /// Processes every `$setElementOrder/<field>` of `patch`: merges the field's patch list (if
    /// any) and orders the result as the directive says, removing both from `patch`.
    fn apply_element_orders(&self, path: &mut Vec<String>, original: &mut Object, patch: &mut Object) -> Result<(), ApiError> {
        let directives: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ORDER)).cloned().collect();
        for directive in directives {
            let order = patch.remove(&directive).expect("key listed above");
            let Value::Array(order) = order else {
                return Err(bad_arg_type(&Value::Array(Vec::new()), &order, ""));
            };
            let field = directive_target(&directive, SET_ORDER)
                .ok_or_else(|| ApiError::BadRequest("invalid patch format of setElementOrder list".into()))?
                .to_string();
            let live = list_at(original, &field)?;
            let patch_list = list_at(patch, &field)?;
            path.push(field.clone());
            let result = self.merge_ordered_list(path, live, patch_list, &order);
            path.pop();
            if let Some(list) = result? {
                original.insert(field.clone(), Value::Array(list));
            }
            patch.remove(&field);
        }
        Ok(())
    }

    /// The merged list for one `$setElementOrder` directive, or `None` when the field is in
    /// neither the live object nor the patch.
    fn merge_ordered_list(
        &self,
        path: &mut Vec<String>,
        live: Option<Vec<Value>>,
        patch: Option<Vec<Value>>,
        order: &[Value],
    ) -> Result<Option<Vec<Value>>, ApiError> {
        let strategy = self.strategy(path);
        validate_order(patch.as_deref().unwrap_or_default(), order, strategy.merge_key)?;
        let kind = element_kind(live.as_deref().unwrap_or_default(), patch.as_deref().unwrap_or_default())?;
        let id_key = if kind == Some(Kind::Object) { strategy.merge_key } else { None };
        let mut server_order: Vec<Option<Value>> = match &live {
            Some(items) => items.iter().map(|item| element_id(item, id_key)).collect(),
            None => Vec::new(),
        };
        let merged = match (live, patch) {
            (None, None) => return Ok(None),
            (Some(live), None) => live,
            (None, Some(patch)) => self.fresh_list(path, patch)?,
            (Some(live), Some(patch)) if strategy.merge => {
                self.merge_list(path, live, patch, strategy.merge_key, false, Some(&mut server_order))?
            }
            (Some(_), Some(patch)) => self.fresh_list(path, patch)?,
        };
        // Nothing to order (upstream errors on two empty lists here; an empty result is harmless).
        if kind.is_none() {
            return Ok(Some(merged));
        }
        let order_ids: Vec<Value> = order.iter().map(|item| required_id(item, id_key)).collect::<Result<_, _>>()?;
        order_elements(merged, &order_ids, &server_order, id_key).map(Some)
    }
}

/// Applies `$retainKeys`: every non-null patch key must be listed, and live keys not listed
/// are dropped before merging.
fn apply_retain_keys(original: &mut Object, patch: &mut Object) -> Result<(), ApiError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad_format = || ApiError::BadRequest("invalid patch format of retainKeys".into());
    let Value::Array(retain) = retain else {
        return Err(bad_format());
    };
    let retained = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null() || k.starts_with(DELETE_FROM) || k.starts_with(SET_ORDER) {
            continue;
        }
        if !retained(k) {
            return Err(bad_format());
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// Checks that the patch list's elements appear in the `$setElementOrder` list in the same
/// relative order (deletions and other directive elements excepted).
fn validate_order(patch: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<(), ApiError> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        if let Some(key) = merge_key {
            let Value::Object(map) = item else {
                return Err(bad_arg_type(&Value::Object(Object::new()), item, key));
            };
            if map.get(PATCH).and_then(Value::as_str) == Some("delete") {
                continue;
            }
        }
        items.push(item);
    }
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p].get(PATCH).is_some() {
            p += 1;
            continue;
        }
        if same_element(items[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return Err(ApiError::UnprocessablePatch(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ORDER} list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

fn same_element(patch_item: &Value, order_item: &Value, merge_key: Option<&str>) -> Result<bool, ApiError> {
    let Some(key) = merge_key else {
        return Ok(patch_item == order_item);
    };
    let id = |item: &Value| -> Result<Value, ApiError> {
        let Value::Object(map) = item else {
            return Err(bad_arg_type(&Value::Object(Object::new()), item, key));
        };
        map.get(key).cloned().ok_or_else(|| no_merge_key(map, key))
    };
    Ok(id(patch_item)? == id(order_item)?)
}

/// Orders a merged list as upstream does: elements named by `order_ids` (identities from the
/// patch list or the `$setElementOrder` list) follow that order; the others (live-only) keep their live order;
/// the two runs are interleaved by live position, and an element the live list does not know
/// goes before the remaining live-only ones. E.g. live [a b c] + patch [c a] gives [b c a].
fn order_elements(merged: Vec<Value>, order_ids: &[Value], server_order: &[Option<Value>], key: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let live_position = |id: &Value| server_order.iter().position(|s| s.as_ref() == Some(id));
    let mut named = Vec::new();
    let mut live_only = Vec::new();
    for item in merged {
        let id = required_id(&item, key)?;
        match order_ids.iter().position(|o| *o == id) {
            Some(rank) => named.push((rank, live_position(&id), item)),
            None => live_only.push((live_position(&id), item)),
        }
    }
    // Stable sorts; an element missing from its order sorts last.
    named.sort_by_key(|(rank, _, _)| *rank);
    live_only.sort_by_key(|(pos, _)| pos.unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(named.len() + live_only.len());
    let mut live_only = live_only.into_iter().peekable();
    for (_, pos, item) in named {
        while let Some((Some(live_pos), _)) = live_only.peek() {
            match pos {
                Some(pos) if *live_pos < pos => out.push(live_only.next().expect("peeked").1),
                _ => break,
            }
        }
        out.push(item);
    }
    out.extend(live_only.map(|(_, item)| item));
    Ok(out)
}

/// What identifies a list element: its merge key's value, or the element itself.
fn element_id(item: &Value, key: Option<&str>) -> Option<Value> {
    match key {
        Some(key) => item.get(key).cloned(),
        None => Some(item.clone()),
    }
}

fn required_id(item: &Value, key: Option<&str>) -> Result<Value, ApiError> {
    match (key, item) {
        (None, _) => Ok(item.clone()),
        (Some(key), Value::Object(map)) => map.get(key).cloned().ok_or_else(|| no_merge_key(map, key)),
        (Some(key), other) => Err(bad_arg_type(&Value::Object(Object::new()), other, key)),
    }
}

/// The list under `field` of `map`, if present; anything else there is a type error.
fn list_at(map: &Object, field: &str) -> Result<Option<Vec<Value>>, ApiError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg_type(&Value::Array(Vec::new()), other, "")),
    }
}

/// `$setElementOrder/containers` -> `containers`; `None` when the key is not `prefix/field`.
fn directive_target<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    key.split_once('/').filter(|(head, _)| *head == prefix).map(|(_, field)| field)
}

/// JSON value kinds, standing in for the Go types upstream compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    fn json_name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "bool",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }

    /// How Go's reflection prints the decoded type, for upstream-shaped messages.
    fn go_name(self) -> &'static str {
        match self {
            Kind::Null => "<nil>",
            Kind::Bool => "bool",
            Kind::Number => "float64",
            Kind::String => "string",
            Kind::Array => "[]interface {}",
            Kind::Object => "map[string]interface {}",
        }
    }
}

fn json_kind(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::Array,
        Value::Object(_) => Kind::Object,
    }
}

/// The one kind shared by all elements of both lists; `None` when both are empty.
fn element_kind(original: &[Value], patch: &[Value]) -> Result<Option<Kind>, ApiError> {
    let mut kinds = original.iter().chain(patch).map(json_kind);
    let Some(first) = kinds.next() else {
        return Ok(None);
    };
    if first == Kind::Array {
        return Err(ApiError::UnprocessablePatch("lists of lists are not supported".into()));
    }
    if kinds.any(|k| k != first) {
        return Err(ApiError::UnprocessablePatch(format!(
            "list element types are not identical: {} {}",
            Value::Array(original.to_vec()),
            Value::Array(patch.to_vec())
        )));
    }
    Ok(Some(first))
}

fn no_merge_key(map: &Object, key: &str) -> ApiError {
    ApiError::UnprocessablePatch(format!("map: {} does not contain declared merge key: {key}", Value::Object(map.clone())))
}

fn unknown_patch_type(directive: &Value, map: &Object) -> ApiError {
    let directive = directive.as_str().map_or_else(|| directive.to_string(), str::to_string);
    ApiError::UnprocessablePatch(format!("unknown patch type: {directive} in map: {}", Value::Object(map.clone())))
}

/// Upstream's "expected a X, but received a Y"; `context` names the merge key when there is one.
fn bad_arg_type(expected: &Value, actual: &Value, context: &str) -> ApiError {
    let mut msg = format!("expected a {}, but received a {}", json_kind(expected).go_name(), json_kind(actual).go_name());
    if !context.is_empty() {
        msg.push_str(&format!(" (merge key {context})"));
    }
    ApiError::UnprocessablePatch(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(group: &str, kind: &str, original: &Value, patch: &Value) -> Result<Value, ApiError> {
        apply(group, kind, original, patch.to_string().as_bytes())
    }

    fn assert_no_directives(v: &Value, case: &str) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                assert!(!k.starts_with('$'), "{case}: directive {k} left in result");
                assert_no_directives(v, case);
            }),
            Value::Array(items) => items.iter().for_each(|v| assert_no_directives(v, case)),
            _ => {}
        }
    }

    fn pod(containers: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
    }

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec})
    }

    fn conditions(types: &[(&str, Option<&str>)]) -> Value {
        let items: Vec<Value> = types
            .iter()
            .map(|(t, status)| match status {
                Some(s) => json!({"type": t, "status": s}),
                None => json!({"type": t}),
            })
            .collect();
        json!({"status": {"conditions": items}})
    }

    #[test]
    fn applies_like_upstream() {
        let nginx_sidecar = json!([{"name": "nginx", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox"}]);
        let rolling = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
        // (case, group, kind, original, patch, expected)
        let cases: Vec<(&str, &str, &str, Value, Value, Value)> = vec![
            (
                "containers merge by name; the untouched one stays",
                "", "Pod",
                pod(nginx_sidecar.clone()),
                json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}),
                pod(json!([{"name": "nginx", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox"}])),
            ),
            (
                "a new element without $setElementOrder goes before the live-only ones",
                "", "Pod",
                pod(nginx_sidecar.clone()),
                json!({"spec": {"containers": [{"name": "extra", "image": "x"}]}}),
                pod(json!([{"name": "extra", "image": "x"}, {"name": "nginx", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox"}])),
            ),
            (
                "$setElementOrder places a new element",
                "", "Pod",
                pod(nginx_sidecar.clone()),
                json!({"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "extra"}, {"name": "sidecar"}],
                                 "containers": [{"name": "extra", "image": "x"}]}}),
                pod(json!([{"name": "nginx", "image": "nginx:1.25"}, {"name": "extra", "image": "x"}, {"name": "sidecar", "image": "busybox"}])),
            ),
            (
                "$setElementOrder alone reorders",
                "", "Pod",
                pod(nginx_sidecar.clone()),
                json!({"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}}),
                pod(json!([{"name": "sidecar", "image": "busybox"}, {"name": "nginx", "image": "nginx:1.25"}])),
            ),
            (
                // Upstream orders by the live array after its in-place deletion and append
                // ([b d c] here), which puts d before the new c.
                "$setElementOrder with a deletion and an addition in one list",
                "", "Pod",
                pod(json!([{"name": "a"}, {"name": "b", "image": "x"}, {"name": "d", "image": "y"}])),
                json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
                                 "containers": [{"name": "c"}, {"$patch": "delete", "name": "a"}]}}),
                pod(json!([{"name": "b", "image": "x"}, {"name": "d", "image": "y"}, {"name": "c"}])),
            ),
            (
                "a new merging list drops its directive elements",
                "", "Pod",
                json!({"metadata": {"name": "p"}}),
                json!({"spec": {"containers": [{"name": "hello"}, {"$patch": "delete", "name": "nope"}]}}),
                json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "hello"}]}}),
            ),
            (
                "env merges by name inside a container",
                "", "Pod",
                pod(json!([{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}]}])),
                json!({"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}]}]}}),
                pod(json!([{"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}]}])),
            ),
            (
                "$patch: delete removes a container by key",
                "", "Pod",
                pod(nginx_sidecar.clone()),
                json!({"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}}),
                pod(json!([{"name": "nginx", "image": "nginx:1.25"}])),
            ),
            (
                "$patch: replace as a list element makes the patch the whole list",
                "", "Pod",
                pod(nginx_sidecar.clone()),
                json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "i"}]}}),
                pod(json!([{"name": "only", "image": "i"}])),
            ),
            (
                "container args (no strategy) are replaced",
                "", "Pod",
                pod(json!([{"name": "app", "args": ["a", "b"], "command": ["sh"]}])),
                json!({"spec": {"containers": [{"name": "app", "args": ["c"]}]}}),
                pod(json!([{"name": "app", "args": ["c"], "command": ["sh"]}])),
            ),
            (
                "tolerations have no merge key: replaced",
                "", "Pod",
                json!({"spec": {"tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]}}),
                json!({"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}}),
                json!({"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}}),
            ),
            (
                "null deletes a map key; null for an absent key adds nothing",
                "", "Pod",
                json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
                json!({"metadata": {"labels": {"a": null, "c": "3", "z": null}, "annotations": null}}),
                json!({"metadata": {"labels": {"b": "2", "c": "3"}}}),
            ),
            (
                "nulls inside a new map are dropped",
                "", "Pod",
                json!({"metadata": {}}),
                json!({"metadata": {"labels": {"a": "1", "b": null}}}),
                json!({"metadata": {"labels": {"a": "1"}}}),
            ),
            (
                "$patch: replace on a map",
                "", "Pod",
                json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
                json!({"metadata": {"labels": {"$patch": "replace", "x": "1"}}}),
                json!({"metadata": {"labels": {"x": "1"}}}),
            ),
            (
                "$patch: delete on a live map leaves it empty, on an absent one adds nothing",
                "apps", "Deployment",
                deployment(json!({"strategy": rolling.clone()})),
                json!({"spec": {"strategy": {"$patch": "delete"}, "selector": {"$patch": "delete"}}}),
                deployment(json!({"strategy": {}})),
            ),
            (
                "$retainKeys switches a Deployment from RollingUpdate to Recreate",
                "apps", "Deployment",
                deployment(json!({"replicas": 1, "strategy": rolling.clone()})),
                json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
                deployment(json!({"replicas": 1, "strategy": {"type": "Recreate"}})),
            ),
            (
                "without $retainKeys the other union member survives",
                "apps", "Deployment",
                deployment(json!({"strategy": rolling.clone()})),
                json!({"spec": {"strategy": {"type": "Recreate"}}}),
                deployment(json!({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}})),
            ),
            (
                "$retainKeys on a volume switches its source",
                "apps", "Deployment",
                deployment(json!({"template": {"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]}}})),
                json!({"spec": {"template": {"spec": {"volumes": [{"$retainKeys": ["configMap", "name"], "name": "data", "configMap": {"name": "cm"}}]}}}}),
                deployment(json!({"template": {"spec": {"volumes": [{"name": "data", "configMap": {"name": "cm"}}, {"name": "tmp", "emptyDir": {}}]}}})),
            ),
            (
                "the patch kubectl 1.32 sends for `kubectl edit` of a Deployment image",
                "apps", "Deployment",
                deployment(json!({"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": nginx_sidecar.clone()}}})),
                json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],"containers":[{"image":"nginx:1.27","name":"nginx"}]}}}}),
                deployment(json!({"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox"}]}}})),
            ),
            (
                "env of a container in a Deployment's pod template merges by name",
                "apps", "Deployment",
                deployment(json!({"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "1"}]}]}}})),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}, "value": null}]}]}}}}),
                deployment(json!({"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}}})),
            ),
            (
                "finalizers are unioned, live order first",
                "", "ConfigMap",
                json!({"metadata": {"finalizers": ["a", "b"]}}),
                json!({"metadata": {"finalizers": ["b", "c"]}}),
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            ),
            (
                "a primitive only in the patch goes first, as upstream",
                "", "ConfigMap",
                json!({"metadata": {"finalizers": ["a", "b"]}}),
                json!({"metadata": {"finalizers": ["c"]}}),
                json!({"metadata": {"finalizers": ["c", "a", "b"]}}),
            ),
            (
                "patch order wins over live order in a primitive merge list",
                "", "ConfigMap",
                json!({"metadata": {"finalizers": ["1", "2", "3"]}}),
                json!({"metadata": {"finalizers": ["3", "1"]}}),
                json!({"metadata": {"finalizers": ["2", "3", "1"]}}),
            ),
            (
                "$deleteFromPrimitiveList removes finalizers",
                "", "ConfigMap",
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zzz"]}}),
                json!({"metadata": {"finalizers": ["a", "c"]}}),
            ),
            (
                "kubectl's finalizer removal: $setElementOrder plus $deleteFromPrimitiveList",
                "", "ConfigMap",
                json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
                json!({"metadata": {"$setElementOrder/finalizers": ["c", "a"], "$deleteFromPrimitiveList/finalizers": ["b"]}}),
                json!({"metadata": {"finalizers": ["c", "a"]}}),
            ),
            (
                "$deleteFromPrimitiveList never creates the list",
                "", "ConfigMap",
                json!({"metadata": {"name": "x"}}),
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
                json!({"metadata": {"name": "x"}}),
            ),
            (
                "$deleteFromPrimitiveList also works on a list without merge strategy",
                "", "Node",
                json!({"spec": {"taints": [], "providerID": "x"}, "status": {"volumesInUse": ["a", "b"]}}),
                json!({"status": {"$deleteFromPrimitiveList/volumesInUse": ["a"]}}),
                json!({"spec": {"taints": [], "providerID": "x"}, "status": {"volumesInUse": ["b"]}}),
            ),
            (
                "a new list with $setElementOrder is ordered and cleaned",
                "", "ConfigMap",
                json!({"metadata": {"name": "x"}}),
                json!({"metadata": {"$setElementOrder/finalizers": ["b", "a"], "finalizers": ["b", "a"]}}),
                json!({"metadata": {"name": "x", "finalizers": ["b", "a"]}}),
            ),
            (
                "$setElementOrder may name elements that exist nowhere",
                "", "Pod",
                conditions(&[("1", None), ("3", None)]),
                json!({"status": {"$setElementOrder/conditions": [{"type": "3"}, {"type": "2"}, {"type": "1"}],
                                   "conditions": [{"type": "3", "status": "x"}, {"type": "1", "status": "y"}]}}),
                conditions(&[("3", Some("x")), ("1", Some("y"))]),
            ),
            (
                "patch order wins over live order in a keyed list",
                "", "Pod",
                json!({"status": {"conditions": [{"type": "1"}, {"type": "2", "status": "b"}, {"type": "3"}]}}),
                json!({"status": {"conditions": [{"type": "3", "status": "c"}, {"type": "1", "status": "a"}]}}),
                json!({"status": {"conditions": [{"type": "2", "status": "b"}, {"type": "3", "status": "c"}, {"type": "1", "status": "a"}]}}),
            ),
            (
                "$patch: delete removes every element with the key",
                "", "Node",
                json!({"status": {"conditions": [{"type": "A"}, {"type": "A"}, {"type": "B", "status": "x"}, {"type": "C"}, {"type": "C"}]}}),
                json!({"status": {"conditions": [{"type": "A", "$patch": "delete"}, {"type": "C", "$patch": "delete"}]}}),
                json!({"status": {"conditions": [{"type": "B", "status": "x"}]}}),
            ),
            (
                "empty merging lists stay empty",
                "", "Pod",
                pod(json!([])),
                json!({"spec": {"containers": []}}),
                pod(json!([])),
            ),
            (
                "Service ports merge by port",
                "", "Service",
                json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "https", "port": 443}]}}),
                json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
                json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9090}, {"name": "https", "port": 443}]}}),
            ),
            (
                "ownerReferences merge by uid",
                "apps", "ReplicaSet",
                json!({"metadata": {"ownerReferences": [{"uid": "u1", "name": "a"}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "u1", "controller": true}, {"uid": "u2", "name": "b"}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "u1", "name": "a", "controller": true}, {"uid": "u2", "name": "b"}]}}),
            ),
            (
                "Node podCIDRs union, taints replaced",
                "", "Node",
                json!({"spec": {"podCIDRs": ["10.0.0.0/24"], "taints": [{"key": "a", "effect": "NoSchedule"}]}}),
                json!({"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"], "taints": [{"key": "b", "effect": "NoExecute"}]}}),
                json!({"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"], "taints": [{"key": "b", "effect": "NoExecute"}]}}),
            ),
            (
                "Endpoints subsets are replaced",
                "", "Endpoints",
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}),
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]}),
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]}),
            ),
            (
                "unknown kinds merge maps and replace lists",
                "example.com", "Widget",
                json!({"spec": {"items": [{"name": "a"}], "size": 1, "labels": {"x": "1"}}}),
                json!({"spec": {"items": [{"name": "b"}], "labels": {"y": "2"}}}),
                json!({"spec": {"items": [{"name": "b"}], "size": 1, "labels": {"x": "1", "y": "2"}}}),
            ),
            (
                "a value of another type replaces the live one",
                "", "ConfigMap",
                json!({"data": {"a": "1"}, "binaryData": "oops"}),
                json!({"data": "x", "binaryData": {"b": "Yg=="}}),
                json!({"data": "x", "binaryData": {"b": "Yg=="}}),
            ),
            (
                "$patch: replace of the whole object",
                "", "ConfigMap",
                json!({"metadata": {"name": "x"}, "data": {"a": "1"}}),
                json!({"$patch": "replace", "data": {"b": "2"}}),
                json!({"data": {"b": "2"}}),
            ),
            (
                "directives inside a new container are processed, not stored",
                "", "Pod",
                pod(json!([{"name": "nginx"}])),
                json!({"spec": {"containers": [{"name": "new", "$setElementOrder/env": [{"name": "A"}], "env": [{"name": "A", "value": "1"}],
                                                 "resources": {"$patch": "replace", "limits": {"cpu": "1"}}}]}}),
                pod(json!([{"name": "new", "env": [{"name": "A", "value": "1"}], "resources": {"limits": {"cpu": "1"}}}, {"name": "nginx"}])),
            ),
        ];
        for (case, group, kind, original, patch, want) in cases {
            let got = run(group, kind, &original, &patch).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(got, want, "{case}");
            assert_no_directives(&got, case);
        }
    }

    #[test]
    fn a_null_patch_changes_nothing() {
        let original = json!({"metadata": {"name": "x"}});
        assert_eq!(apply("", "ConfigMap", &original, b"null").unwrap(), original);
        assert_eq!(apply("", "ConfigMap", &original, b"{}").unwrap(), original);
    }

    #[test]
    fn rejects_bad_patches_with_upstream_codes() {
        let live = json!({
            "metadata": {"labels": {"a": "1"}, "finalizers": ["x"]},
            "spec": {"containers": [{"name": "nginx"}], "strategy": {"type": "RollingUpdate"}},
            "status": {"conditions": [{"type": "1"}, {"type": "3"}, {"type": "2"}]}
        });
        // (case, kind, patch bytes, code)
        let cases: &[(&str, &str, &str, u16)] = &[
            ("not JSON", "Pod", "{nope", 400),
            ("not an object", "Pod", "[1]", 400),
            ("a string", "Pod", "\"x\"", 400),
            ("merge-list element without its key", "Pod", r#"{"spec":{"containers":[{"image":"x"}]}}"#, 422),
            ("unknown $patch on a map", "Pod", r#"{"metadata":{"labels":{"$patch":"bogus"}}}"#, 422),
            ("$patch: merge on a map (upstream rejects it)", "Pod", r#"{"metadata":{"labels":{"$patch":"merge"}}}"#, 422),
            ("unknown $patch in a list", "Pod", r#"{"spec":{"containers":[{"$patch":"bogus","name":"nginx"}]}}"#, 422),
            ("$patch: merge in a list", "Pod", r#"{"spec":{"containers":[{"$patch":"merge","name":"nginx"}]}}"#, 422),
            ("$patch: delete without the key", "Pod", r#"{"spec":{"containers":[{"$patch":"delete"}]}}"#, 422),
            ("primitives in a keyed list", "Pod", r#"{"spec":{"containers":["nginx"]}}"#, 422),
            ("mixed element types", "Pod", r#"{"metadata":{"finalizers":[{"a":1}]}}"#, 422),
            (
                "$setElementOrder disagreeing with the patch order",
                "Pod",
                r#"{"status":{"$setElementOrder/conditions":[{"type":"1"},{"type":"2"},{"type":"3"}],"conditions":[{"type":"3"},{"type":"1"}]}}"#,
                422,
            ),
            ("$setElementOrder element without the key", "Pod", r#"{"spec":{"$setElementOrder/containers":[{"image":"x"}]}}"#, 422),
            ("$setElementOrder not a list", "Pod", r#"{"spec":{"$setElementOrder/containers":{"name":"x"}}}"#, 422),
            ("$setElementOrder without a field", "Pod", r#"{"spec":{"$setElementOrder":[{"name":"x"}]}}"#, 400),
            ("$deleteFromPrimitiveList without a field", "Pod", r#"{"metadata":{"$deleteFromPrimitiveListfinalizers":["x"]}}"#, 400),
            ("$retainKeys not a list", "Deployment", r#"{"spec":{"strategy":{"$retainKeys":"type"}}}"#, 400),
            (
                "$retainKeys missing a patched key",
                "Deployment",
                r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":{"maxSurge":1}}}}"#,
                400,
            ),
        ];
        for (case, kind, patch, code) in cases {
            let group = if *kind == "Deployment" { "apps" } else { "" };
            match apply(group, kind, &live, patch.as_bytes()) {
                Ok(v) => panic!("{case}: expected {code}, got {v}"),
                Err(e) => assert_eq!(e.code(), *code, "{case}: {e}"),
            }
        }
    }
}
