//! Walks of JSON objects under the type table: the set of fields a value sets (upstream's
//! `ToFieldSet`), with validation errors for undeclared fields and bad list elements; list
//! element identity; and adding the named struct fields above members
//! (`EnsureNamedFieldsAreMembers`). Merging, comparing and removal live in `merge.rs`.

use std::fmt;

use serde_json::Value;

use crate::element::{Path, PathElement};
use crate::fieldset::FieldSet;
use crate::schema::{ListKind, Schema, StructDef, TypeRef};

/// One problem with an object, at a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// The path as upstream renders it (`.spec.foo`).
    pub path: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The problems found in an object, rendered as upstream's `ValidationErrors`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            all => {
                write!(f, "errors:")?;
                for e in all {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ValidationErrors {}

/// How a value of some type is walked.
pub(crate) enum Shape<'a> {
    /// Owned and replaced as a whole.
    Leaf,
    /// Field by field: a struct's declared fields, and `elem` for other keys (map values,
    /// preserved unknown fields); `elem` None means other keys are not allowed.
    Fields { def: Option<&'a StructDef>, elem: Option<TypeRef> },
    /// Element by element, identified per `kind` (never `Atomic`).
    List { elem: &'a TypeRef, kind: &'a ListKind },
}

impl Schema {
    /// How to walk `ty`; deduced types take their shape from `sample`.
    pub(crate) fn shape<'a>(&'a self, ty: &'a TypeRef, sample: Option<&Value>) -> Shape<'a> {
        match ty {
            TypeRef::Scalar | TypeRef::Untyped => Shape::Leaf,
            TypeRef::Deduced => match sample {
                Some(Value::Object(_)) => Shape::Fields { def: None, elem: Some(TypeRef::Deduced) },
                _ => Shape::Leaf,
            },
            TypeRef::Struct { atomic: true, .. } | TypeRef::Map { atomic: true, .. } => Shape::Leaf,
            TypeRef::List { kind: ListKind::Atomic, .. } => Shape::Leaf,
            TypeRef::Struct { def, .. } => {
                let d = self.def(*def);
                Shape::Fields { def: Some(d), elem: d.extra.clone() }
            }
            TypeRef::Map { elem, .. } => Shape::Fields { def: None, elem: Some((**elem).clone()) },
            TypeRef::List { elem, kind } => Shape::List { elem, kind },
        }
    }

    /// The type below `pe` in a value of type `ty`, whatever its atomicity.
    pub(crate) fn child_type(&self, ty: &TypeRef, pe: &PathElement) -> Option<TypeRef> {
        match (ty, pe) {
            (TypeRef::Struct { def, .. }, PathElement::Field(name)) => {
                let d = self.def(*def);
                d.fields.get(name).cloned().or_else(|| d.extra.clone())
            }
            (TypeRef::Map { elem, .. }, PathElement::Field(_)) => Some((**elem).clone()),
            (TypeRef::Deduced, PathElement::Field(_)) => Some(TypeRef::Deduced),
            (TypeRef::List { elem, .. }, PathElement::Key(_) | PathElement::Value(_)) => Some((**elem).clone()),
            _ => None,
        }
    }

    /// The path element identifying one element of a granular list.
    pub(crate) fn list_item_element(&self, elem: &TypeRef, kind: &ListKind, item: &Value) -> Result<PathElement, String> {
        let keys = match kind {
            ListKind::Map(keys) if !keys.is_empty() => keys,
            _ => {
                return match item {
                    Value::Object(_) => Err("associative list without keys has an element that's a map type".into()),
                    Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
                    v => Ok(PathElement::Value(v.clone())),
                }
            }
        };
        let obj = match item {
            Value::Null => return Err("associative list with keys may not have a null element".into()),
            Value::Object(o) => o,
            _ => return Err("associative list with keys may not have non-map elements".into()),
        };
        let defaults = match elem {
            TypeRef::Struct { def, .. } => Some(&self.def(*def).defaults),
            _ => None,
        };
        let mut fields = Vec::with_capacity(keys.len());
        for k in keys {
            match obj.get(k).or_else(|| defaults.and_then(|d| d.get(k))) {
                Some(v) => fields.push((k.clone(), v.clone())),
                None => {
                    return Err(format!(
                        "associative list with keys has an element that omits key field {k:?} (and doesn't have default value)"
                    ))
                }
            }
        }
        Ok(PathElement::key(fields))
    }

    /// The elements of a list, identified; an element that cannot be identified gets its index.
    pub(crate) fn list_elements(&self, elem: &TypeRef, kind: &ListKind, items: &[Value]) -> Vec<PathElement> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.list_item_element(elem, kind, item).unwrap_or(PathElement::Index(i as i64)))
            .collect()
    }

    /// The fields `v` sets, validating it on the way. Duplicate list elements are errors unless
    /// `allow_duplicates` (live objects may carry them; then only the element itself is owned).
    pub fn to_field_set(&self, v: &Value, ty: &TypeRef, allow_duplicates: bool) -> Result<FieldSet, ValidationErrors> {
        let mut w = FieldSetWalk { schema: self, set: FieldSet::new(), errors: Vec::new(), allow_duplicates };
        w.walk(v, ty, &Path::default());
        if w.errors.is_empty() {
            Ok(w.set)
        } else {
            Err(ValidationErrors(w.errors))
        }
    }

    /// `set` plus every declared struct field that has members below it (upstream's
    /// `EnsureNamedFieldsAreMembers`), so removing it removes the field itself.
    pub(crate) fn ensure_named_fields_are_members(&self, set: &FieldSet, ty: &TypeRef) -> FieldSet {
        let mut out = FieldSet { members: set.members.clone(), children: Default::default() };
        for (pe, child) in &set.children {
            let child_ty = self.child_type(ty, pe);
            if let (TypeRef::Struct { def, .. }, PathElement::Field(name)) = (ty, pe) {
                if self.def(*def).fields.contains_key(name) {
                    out.members.insert(pe.clone());
                }
            }
            let c = match &child_ty {
                Some(t) => self.ensure_named_fields_are_members(child, t),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), c);
        }
        out
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

struct FieldSetWalk<'s> {
    schema: &'s Schema,
    set: FieldSet,
    errors: Vec<ValidationError>,
    allow_duplicates: bool,
}

impl FieldSetWalk<'_> {
    fn error(&mut self, path: &Path, message: String) {
        self.errors.push(ValidationError { path: path.to_string(), message });
    }

    fn walk(&mut self, v: &Value, ty: &TypeRef, path: &Path) {
        match self.schema.shape(ty, Some(v)) {
            Shape::Leaf => {
                if matches!(ty, TypeRef::Scalar) && (v.is_object() || v.is_array()) {
                    self.error(path, format!("expected scalar, got {}", kind_name(v)));
                }
                self.set.insert(path);
            }
            Shape::Fields { def, elem } => {
                let obj = match v {
                    Value::Object(o) => o,
                    Value::Null => return,
                    other => return self.error(path, format!("expected map, got {}", kind_name(other))),
                };
                for (k, child) in obj {
                    let pe = PathElement::Field(k.clone());
                    let child_path = path.child(pe);
                    let declared = def.and_then(|d| d.fields.get(k));
                    let Some(child_ty) = declared.cloned().or_else(|| elem.clone()) else {
                        self.error(&child_path, "field not declared in schema".into());
                        continue;
                    };
                    self.walk(child, &child_ty, &child_path);
                    let empty_map = child.as_object().is_some_and(|m| m.is_empty());
                    if child.is_null() || empty_map || declared.is_none() {
                        self.set.insert(&child_path);
                    }
                }
            }
            Shape::List { elem, kind } => {
                let items = match v {
                    Value::Array(a) => a,
                    Value::Null => return,
                    other => return self.error(path, format!("expected list, got {}", kind_name(other))),
                };
                let mut pes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match self.schema.list_item_element(elem, kind, item) {
                        Ok(pe) => pes.push(Some(pe)),
                        Err(e) => {
                            self.error(path, format!("element {i}: {e}"));
                            pes.push(None);
                        }
                    }
                }
                for (i, (item, pe)) in items.iter().zip(&pes).enumerate() {
                    let Some(pe) = pe else { continue };
                    let dup = pes.iter().enumerate().any(|(j, other)| j != i && other.as_ref() == Some(pe));
                    let child_path = path.child(pe.clone());
                    if dup {
                        let first = pes.iter().position(|o| o.as_ref() == Some(pe)) == Some(i);
                        if !self.allow_duplicates && first {
                            self.error(path, format!("duplicate entries for key {pe}"));
                        }
                        self.set.insert(&child_path);
                        continue;
                    }
                    self.walk(item, elem, &child_path);
                    self.set.insert(&child_path);
                }
            }
        }
    }
}
