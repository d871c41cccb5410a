//! The type table server-side apply walks objects with, built once from the served OpenAPI
//! definitions: per definition, what each property is (scalar, struct, map, list of which kind,
//! untyped), following upstream's schema conversion (kube-openapi `schemaconv`): lists without a
//! list type are atomic unless patch-merged by key, maps and structs are granular unless marked
//! atomic, schemaless objects and int-or-string values are atomic, and
//! `x-kubernetes-preserve-unknown-fields` values are deduced from the data.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// How the elements of a granular list are identified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced as a whole.
    Atomic,
    /// Scalars, identified by value (`x-kubernetes-list-type: set`).
    Set,
    /// Objects, identified by these key fields (`x-kubernetes-list-type: map`).
    Map(Vec<String>),
}

/// What a value is, as far as merging and ownership go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeRef {
    Scalar,
    /// A value owned as a whole whatever its shape (IntOrString, Quantity, RawExtension).
    Untyped,
    /// Schemaless data: maps are granular, lists atomic (preserve-unknown-fields, unknown kinds).
    Deduced,
    /// A definition with properties; `atomic` when marked (or overridden at the property) atomic.
    Struct { def: usize, atomic: bool },
    /// `additionalProperties`.
    Map { elem: Box<TypeRef>, atomic: bool },
    List { elem: Box<TypeRef>, kind: ListKind },
}

/// A definition with properties.
#[derive(Debug)]
pub struct StructDef {
    pub name: String,
    pub fields: BTreeMap<String, TypeRef>,
    /// The type of undeclared fields, if they are allowed at all.
    pub extra: Option<TypeRef>,
    /// Property defaults, used for list-map keys a list element omits.
    pub defaults: BTreeMap<String, Value>,
    atomic: bool,
}

/// Key defaults upstream's OpenAPI declares and k8s-openapi's schemas lack.
const KEY_DEFAULTS: &[(&str, &str, &str)] = &[
    ("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP"),
    ("io.k8s.api.core.v1.ServicePort", "protocol", "TCP"),
];

/// The type table.
#[derive(Debug, Default)]
pub struct Schema {
    defs: Vec<StructDef>,
    by_name: HashMap<String, usize>,
    by_gvk: HashMap<(String, String, String), usize>,
}

impl Schema {
    /// The table of the served kinds, built on first use from `corekube_openapi::definitions()`.
    pub fn global() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::from_definitions(&corekube_openapi::definitions()))
    }

    /// Builds a table from OpenAPI definitions (v3 `#/components/schemas/` or v2
    /// `#/definitions/` refs).
    pub fn from_definitions(defs: &Map<String, Value>) -> Schema {
        let mut s = Schema::default();
        for (name, d) in defs {
            if d.get("properties").is_some_and(Value::is_object) {
                let idx = s.defs.len();
                s.defs.push(StructDef {
                    name: name.clone(),
                    fields: BTreeMap::new(),
                    extra: None,
                    defaults: BTreeMap::new(),
                    atomic: d.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic")
                        || d.get("x-kubernetes-struct-type").and_then(Value::as_str) == Some("atomic"),
                });
                s.by_name.insert(name.clone(), idx);
                for gvk in d.get("x-kubernetes-group-version-kind").and_then(Value::as_array).into_iter().flatten() {
                    let part = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    s.by_gvk.entry((part("group"), part("version"), part("kind"))).or_insert(idx);
                }
            }
        }
        for (name, d) in defs {
            if let Some(&idx) = s.by_name.get(name) {
                s.fill_struct(idx, d, defs);
            }
        }
        s
    }

    fn fill_struct(&mut self, idx: usize, d: &Value, defs: &Map<String, Value>) {
        let mut fields = BTreeMap::new();
        let mut defaults = BTreeMap::new();
        for (prop, ps) in d["properties"].as_object().into_iter().flatten() {
            fields.insert(prop.clone(), self.type_of(ps, defs));
            if let Some(dv) = ps.get("default") {
                defaults.insert(prop.clone(), dv.clone());
            }
        }
        let name = self.defs[idx].name.clone();
        for (def, prop, value) in KEY_DEFAULTS {
            if *def == name {
                defaults.entry(prop.to_string()).or_insert_with(|| Value::from(*value));
            }
        }
        let extra = if d.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            Some(TypeRef::Deduced)
        } else {
            d.get("additionalProperties").filter(|a| a.is_object()).map(|a| self.type_of(a, defs))
        };
        let def = &mut self.defs[idx];
        def.fields = fields;
        def.defaults = defaults;
        def.extra = extra;
    }

    /// The type of one (property) schema.
    fn type_of(&mut self, s: &Value, defs: &Map<String, Value>) -> TypeRef {
        if let Some(name) = ref_name(s) {
            let mut t = match self.by_name.get(name) {
                Some(&def) => TypeRef::Struct { def, atomic: self.defs[def].atomic },
                None => defs.get(name).map(scalar_or_untyped).unwrap_or(TypeRef::Untyped),
            };
            if let TypeRef::Struct { atomic, .. } = &mut t {
                match s.get("x-kubernetes-map-type").and_then(Value::as_str) {
                    Some("atomic") => *atomic = true,
                    Some("granular") => *atomic = false,
                    _ => {}
                }
            }
            return t;
        }
        if s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            return TypeRef::Untyped;
        }
        let preserve = s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        match s.get("type").and_then(Value::as_str) {
            Some("array") => {
                let elem = s.get("items").map(|i| self.type_of(i, defs)).unwrap_or(TypeRef::Untyped);
                TypeRef::List { elem: Box::new(elem), kind: list_kind(s) }
            }
            Some("object") => {
                let atomic = s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
                if s.get("properties").is_some_and(Value::is_object) {
                    let idx = self.defs.len();
                    self.defs.push(StructDef {
                        name: String::new(),
                        fields: BTreeMap::new(),
                        extra: None,
                        defaults: BTreeMap::new(),
                        atomic,
                    });
                    self.fill_struct(idx, s, defs);
                    TypeRef::Struct { def: idx, atomic }
                } else if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                    TypeRef::Map { elem: Box::new(self.type_of(ap, defs)), atomic }
                } else if preserve {
                    TypeRef::Deduced
                } else {
                    TypeRef::Untyped
                }
            }
            Some(_) => scalar_or_untyped(s),
            None if preserve => TypeRef::Deduced,
            None => TypeRef::Untyped,
        }
    }

    /// The root type of a kind, found through the definitions' `x-kubernetes-group-version-kind`.
    pub fn kind_type(&self, group: &str, version: &str, kind: &str) -> Option<TypeRef> {
        let idx = *self.by_gvk.get(&(group.to_string(), version.to_string(), kind.to_string()))?;
        Some(TypeRef::Struct { def: idx, atomic: false })
    }

    /// A definition by index (from [`TypeRef::Struct`]).
    pub fn def(&self, idx: usize) -> &StructDef {
        &self.defs[idx]
    }

    /// A definition's type by name.
    pub fn named(&self, name: &str) -> Option<TypeRef> {
        self.by_name.get(name).map(|&def| TypeRef::Struct { def, atomic: self.defs[def].atomic })
    }
}

fn ref_name(s: &Value) -> Option<&str> {
    let r = s
        .get("$ref")
        .or_else(|| s.get("allOf").and_then(Value::as_array).filter(|a| a.len() == 1).and_then(|a| a[0].get("$ref")))?
        .as_str()?;
    Some(r.rsplit('/').next().unwrap_or(r))
}

fn scalar_or_untyped(s: &Value) -> TypeRef {
    match s.get("type").and_then(Value::as_str) {
        Some("string" | "integer" | "number" | "boolean") if s.get("format").and_then(Value::as_str) != Some("int-or-string") => {
            TypeRef::Scalar
        }
        _ => TypeRef::Untyped,
    }
}

/// `x-kubernetes-list-type`, else merge-by-key patch strategy, else atomic (as `schemaconv`).
fn list_kind(s: &Value) -> ListKind {
    let str_of = |k: &str| s.get(k).and_then(Value::as_str);
    match str_of("x-kubernetes-list-type") {
        Some("set") => ListKind::Set,
        Some("map") => ListKind::Map(
            s.get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                .unwrap_or_default(),
        ),
        Some(_) => ListKind::Atomic,
        None => match (str_of("x-kubernetes-patch-strategy"), str_of("x-kubernetes-patch-merge-key")) {
            (Some(p), Some(key)) if p.split(',').any(|x| x == "merge") => ListKind::Map(vec![key.to_string()]),
            _ => ListKind::Atomic,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(s: &'a Schema, t: &TypeRef, name: &str) -> &'a TypeRef {
        let TypeRef::Struct { def, .. } = t else { panic!("{t:?} is not a struct") };
        &s.def(*def).fields[name]
    }

    #[test]
    fn served_types() {
        let s = Schema::global();
        let deploy = s.kind_type("apps", "v1", "Deployment").unwrap();
        let spec = field(s, &deploy, "spec");
        assert!(matches!(field(s, spec, "replicas"), TypeRef::Scalar));
        assert!(matches!(field(s, spec, "selector"), TypeRef::Struct { atomic: true, .. }));
        let pod_spec = field(s, field(s, spec, "template"), "spec");
        let TypeRef::List { elem, kind } = field(s, pod_spec, "containers") else { panic!() };
        assert_eq!(kind, &ListKind::Map(vec!["name".into()]));
        let TypeRef::List { kind, .. } = field(s, elem, "ports") else { panic!() };
        assert_eq!(kind, &ListKind::Map(vec!["containerPort".into(), "protocol".into()]));
        assert!(matches!(field(s, elem, "command"), TypeRef::List { kind: ListKind::Atomic, .. }));
        assert!(matches!(field(s, pod_spec, "nodeSelector"), TypeRef::Map { atomic: true, .. }));
        let meta = field(s, &deploy, "metadata");
        assert!(matches!(field(s, meta, "labels"), TypeRef::Map { atomic: false, .. }));
        assert!(matches!(field(s, meta, "finalizers"), TypeRef::List { kind: ListKind::Set, .. }));
        let svc = s.kind_type("", "v1", "Service").unwrap();
        let TypeRef::List { elem, .. } = field(s, field(s, &svc, "spec"), "ports") else { panic!() };
        assert!(matches!(field(s, elem, "targetPort"), TypeRef::Untyped));
        let TypeRef::Struct { def, .. } = **elem else { panic!() };
        assert_eq!(s.def(def).defaults["protocol"], "TCP");
        assert!(s.kind_type("example.com", "v1", "Nope").is_none());
    }
}
