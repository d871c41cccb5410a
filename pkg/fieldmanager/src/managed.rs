//! The managedFields of an object as the field manager works with them: per manager
//! identifier (manager, operation, apiVersion for updaters, subresource) a field set, whether it
//! was applied, and when it last changed; decoded from and encoded into `metadata.managedFields`
//! the way upstream does (entry order, identifier JSON, the update-manager cap).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::fieldset::FieldSet;
use crate::serialize::write_go_string;

/// The operation of a managedFields entry.
pub const APPLY: &str = "Apply";
pub const UPDATE: &str = "Update";

/// At most this many Update entries are kept; older ones merge into `ancient-changes`.
pub const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

/// The fields one manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedSet {
    pub set: FieldSet,
    /// The apiVersion the set is expressed in (`apps/v1`).
    pub api_version: String,
    /// True for Apply entries.
    pub applied: bool,
}

/// An object's managed fields, keyed by manager identifier (upstream's `BuildManagerIdentifier`:
/// the entry's JSON without fields and time, and without apiVersion for appliers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagedFields {
    pub fields: BTreeMap<String, VersionedSet>,
    /// RFC 3339 timestamps of the entries that have one.
    pub times: BTreeMap<String, String>,
}

/// The identifier of a manager: `{"manager":"kubectl","operation":"Apply"}`,
/// `{"manager":"kube-controller-manager","operation":"Update","apiVersion":"apps/v1"}`, with
/// `"subresource"` last when set. Same bytes as Go's `json.Marshal` of the entry.
pub fn manager_identifier(manager: &str, operation: &str, api_version: &str, subresource: &str) -> String {
    let mut s = String::from("{\"manager\":");
    write_go_string(manager, &mut s);
    s.push_str(",\"operation\":");
    write_go_string(operation, &mut s);
    if operation != APPLY && !api_version.is_empty() {
        s.push_str(",\"apiVersion\":");
        write_go_string(api_version, &mut s);
    }
    if !subresource.is_empty() {
        s.push_str(",\"subresource\":");
        write_go_string(subresource, &mut s);
    }
    s.push('}');
    s
}

/// The parts of a manager identifier (manager, operation, apiVersion, subresource).
pub(crate) fn identifier_parts(id: &str) -> Option<(String, String, String, String)> {
    let v: Value = serde_json::from_str(id).ok()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Some((s("manager"), s("operation"), s("apiVersion"), s("subresource")))
}

fn unix_seconds(t: Option<&String>) -> i64 {
    t.and_then(|t| t.parse::<jiff::Timestamp>().ok()).map(|t| t.as_second()).unwrap_or(0)
}

impl ManagedFields {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Decodes `metadata.managedFields` of `obj` (absent means empty). Errors as upstream's
    /// `DecodeManagedFields`.
    pub fn decode(obj: &Value) -> Result<ManagedFields, String> {
        let mut out = ManagedFields::default();
        let entries = match obj.pointer("/metadata/managedFields") {
            None | Some(Value::Null) => return Ok(out),
            Some(Value::Array(a)) => a,
            Some(_) => return Err("managedFields must be a list".into()),
        };
        for (i, e) in entries.iter().enumerate() {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
            let operation = s("operation");
            if operation != APPLY && operation != UPDATE {
                return Err("operation must be `Apply` or `Update`".into());
            }
            if s("apiVersion").is_empty() {
                return Err("apiVersion must not be empty".into());
            }
            match s("fieldsType") {
                "FieldsV1" => {}
                "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
                other => return Err(format!("invalid fieldsType \"{other}\" in managed fields entry {i}")),
            }
            let set = match e.get("fieldsV1") {
                None | Some(Value::Null) => FieldSet::new(),
                Some(v) => FieldSet::from_fields_v1(v).map_err(|err| format!("error decoding versioned set from entry {i}: {err}"))?,
            };
            let id = manager_identifier(s("manager"), operation, s("apiVersion"), s("subresource"));
            out.fields.insert(id.clone(), VersionedSet { set, api_version: s("apiVersion").to_string(), applied: operation == APPLY });
            match e.get("time").and_then(Value::as_str) {
                Some(t) => out.times.insert(id, t.to_string()),
                None => out.times.remove(&id),
            };
        }
        Ok(out)
    }

    /// The `metadata.managedFields` entries, sorted as upstream: by operation (Apply first),
    /// time, manager, apiVersion, subresource.
    pub fn entries(&self) -> Vec<Value> {
        let mut rows: Vec<(String, i64, String, String, String, Value)> = Vec::new();
        for (id, vs) in &self.fields {
            let (manager, operation, _, subresource) = identifier_parts(id).unwrap_or_default();
            let operation = if vs.applied { APPLY.to_string() } else { operation };
            let mut e = Map::new();
            e.insert("manager".into(), manager.clone().into());
            e.insert("operation".into(), operation.clone().into());
            e.insert("apiVersion".into(), vs.api_version.clone().into());
            let time = self.times.get(id);
            if let Some(t) = time {
                e.insert("time".into(), t.clone().into());
            }
            e.insert("fieldsType".into(), "FieldsV1".into());
            e.insert("fieldsV1".into(), vs.set.to_fields_v1());
            if !subresource.is_empty() {
                e.insert("subresource".into(), subresource.clone().into());
            }
            rows.push((operation, unix_seconds(time), manager, vs.api_version.clone(), subresource, Value::Object(e)));
        }
        rows.sort_by(|a, b| (&a.0, a.1, &a.2, &a.3, &a.4).cmp(&(&b.0, b.1, &b.2, &b.3, &b.4)));
        rows.into_iter().map(|r| r.5).collect()
    }

    /// Writes the entries into `obj.metadata.managedFields` (removing it when empty).
    pub fn encode_into(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else { return };
        if self.fields.is_empty() {
            if let Some(Value::Object(meta)) = o.get_mut("metadata") {
                meta.remove("managedFields");
            }
            return;
        }
        let meta = o.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("managedFields".into(), Value::Array(self.entries()));
        }
    }

    /// Merges the oldest Update entries into per-version `ancient-changes` entries until at most
    /// `max` Update entries are left (upstream's capManagersManager).
    pub fn cap_update_managers(&mut self, max: usize) {
        let mut updaters: Vec<String> = self.fields.iter().filter(|(_, vs)| !vs.applied).map(|(id, _)| id.clone()).collect();
        if updaters.len() <= max {
            return;
        }
        updaters.sort_by(|a, b| unix_seconds(self.times.get(a)).cmp(&unix_seconds(self.times.get(b))).then_with(|| a.cmp(b)));
        let mut first_of_version: BTreeMap<String, String> = BTreeMap::new();
        let mut length = updaters.len();
        for manager in updaters {
            if length <= max {
                break;
            }
            let Some(vs) = self.fields.get(&manager).cloned() else { continue };
            let time = self.times.get(&manager).cloned();
            let bucket = manager_identifier(ANCIENT_CHANGES, UPDATE, &vs.api_version, "");
            if let Some(first) = first_of_version.get(&vs.api_version) {
                if !self.fields.contains_key(&bucket) {
                    if let Some(s) = self.fields.remove(first) {
                        self.times.remove(first);
                        self.fields.insert(bucket.clone(), s);
                    }
                }
                let merged = vs.set.union(&self.fields[&bucket].set);
                self.fields.insert(bucket.clone(), VersionedSet { set: merged, api_version: vs.api_version.clone(), applied: vs.applied });
                self.fields.remove(&manager);
                self.times.remove(&manager);
                length -= 1;
                match time {
                    Some(t) => self.times.insert(bucket, t),
                    None => self.times.remove(&bucket),
                };
            } else {
                first_of_version.insert(vs.api_version.clone(), manager);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_match_go() {
        assert_eq!(manager_identifier("kubectl", APPLY, "apps/v1", ""), r#"{"manager":"kubectl","operation":"Apply"}"#);
        assert_eq!(
            manager_identifier("kubelet", UPDATE, "v1", "status"),
            r#"{"manager":"kubelet","operation":"Update","apiVersion":"v1","subresource":"status"}"#
        );
    }

    #[test]
    fn decode_encode_sorts_entries() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:02Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "a", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:03Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:y": {}}}},
            {"manager": "z", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-01T00:00:09Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:z": {}}}},
        ]}});
        let m = ManagedFields::decode(&obj).unwrap();
        let entries = m.entries();
        let names: Vec<&str> = entries.iter().map(|e| e["manager"].as_str().unwrap()).collect();
        assert_eq!(names, ["z", "b", "a"]);
        let mut back = obj.clone();
        m.encode_into(&mut back);
        assert_eq!(ManagedFields::decode(&back).unwrap(), m);
        let bad = json!({"metadata": {"managedFields": [{"manager": "a", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}]}});
        assert_eq!(ManagedFields::decode(&bad).unwrap_err(), "operation must be `Apply` or `Update`");
    }

    #[test]
    fn cap_merges_oldest_updaters_per_version() {
        let mut m = ManagedFields::default();
        for i in 0..12 {
            let id = manager_identifier(&format!("m{i:02}"), UPDATE, "v1", "");
            let set = FieldSet::from_paths([crate::Path::fields(&["data", &format!("k{i}")])]);
            m.fields.insert(id.clone(), VersionedSet { set, api_version: "v1".into(), applied: false });
            m.times.insert(id, format!("2024-01-01T00:00:{i:02}Z"));
        }
        m.cap_update_managers(MAX_UPDATE_MANAGERS);
        assert_eq!(m.fields.len(), 10);
        let bucket = &m.fields[&manager_identifier(ANCIENT_CHANGES, UPDATE, "v1", "")];
        assert_eq!(bucket.set.paths().len(), 3);
        assert_eq!(m.times[&manager_identifier(ANCIENT_CHANGES, UPDATE, "v1", "")], "2024-01-01T00:00:02Z");
    }
}
