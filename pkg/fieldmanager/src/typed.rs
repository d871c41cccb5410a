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
    Fields { def: Option<&'a StructDef>, elem: Option<&'a TypeRef> },
    /// Element by element, identified per `kind` (never `Atomic`).
    List { elem: &'a TypeRef, kind: &'a ListKind },
}

/// The types walks fall back to, borrowed like the schema's own.
pub(crate) static DEDUCED: TypeRef = TypeRef::Deduced;
pub(crate) static UNTYPED: TypeRef = TypeRef::Untyped;

impl Schema {
    /// How to walk `ty`; deduced types take their shape from `sample`.
    pub(crate) fn shape<'a>(&'a self, ty: &'a TypeRef, sample: Option<&Value>) -> Shape<'a> {
        match ty {
            TypeRef::Scalar | TypeRef::Untyped => Shape::Leaf,
            TypeRef::Deduced => match sample {
                Some(Value::Object(_)) => Shape::Fields { def: None, elem: Some(&DEDUCED) },
                _ => Shape::Leaf,
            },
            TypeRef::Struct { atomic: true, .. } | TypeRef::Map { atomic: true, .. } => Shape::Leaf,
            TypeRef::List { kind: ListKind::Atomic, .. } => Shape::Leaf,
            TypeRef::Struct { def, .. } => {
                let d = self.def(*def);
                Shape::Fields { def: Some(d), elem: d.extra.as_ref() }
            }
            TypeRef::Map { elem, .. } => Shape::Fields { def: None, elem: Some(&**elem) },
            TypeRef::List { elem, kind } => Shape::List { elem, kind },
        }
    }

    /// The type below `pe` in a value of type `ty`, whatever its atomicity.
    pub(crate) fn child_type(&self, ty: &TypeRef, pe: &PathElement) -> Option<TypeRef> {
        match (ty, pe) {
            (TypeRef::Struct { def, .. }, PathElement::Field(name)) => {
                let d = self.def(*def);
                d.fields.get(name).or(d.extra.as_ref()).cloned()
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
        let mut w = FieldSetWalk { schema: self, path: Vec::new(), errors: Vec::new(), allow_duplicates };
        let mut set = FieldSet::new();
        w.walk(v, ty, &mut set);
        if w.errors.is_empty() {
            Ok(set)
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

/// Builds the field set in place, node by node: each value fills the set below its own path
/// element, so no path is copied or looked up from the root (a create walks every field).
struct FieldSetWalk<'s> {
    schema: &'s Schema,
    /// Where the walk is, for error messages only.
    path: Vec<PathElement>,
    errors: Vec<ValidationError>,
    allow_duplicates: bool,
}

impl FieldSetWalk<'_> {
    fn error(&mut self, message: String) {
        let path = std::mem::take(&mut self.path);
        self.errors.push(ValidationError { path: Path(path.clone()).to_string(), message });
        self.path = path;
    }

    /// Fills `below` with the fields `v` sets beneath itself; returns whether `v` is a leaf
    /// (then its own path element is a member of the parent's set).
    fn walk(&mut self, v: &Value, ty: &TypeRef, below: &mut FieldSet) -> bool {
        match self.schema.shape(ty, Some(v)) {
            Shape::Leaf => {
                if matches!(ty, TypeRef::Scalar) && (v.is_object() || v.is_array()) {
                    self.error(format!("expected scalar, got {}", kind_name(v)));
                }
                true
            }
            Shape::Fields { def, elem } => {
                let obj = match v {
                    Value::Object(o) => o,
                    Value::Null => return false,
                    other => {
                        self.error(format!("expected map, got {}", kind_name(other)));
                        return false;
                    }
                };
                for (k, child) in obj {
                    let pe = PathElement::Field(k.clone());
                    let declared = def.and_then(|d| d.fields.get(k));
                    let Some(child_ty) = declared.or(elem) else {
                        self.path.push(pe);
                        self.error("field not declared in schema".into());
                        self.path.pop();
                        continue;
                    };
                    let empty_map = child.as_object().is_some_and(|m| m.is_empty());
                    let (member, unused) = self.walk_child(child, child_ty, pe, below);
                    if member || child.is_null() || empty_map || declared.is_none() {
                        below.members.insert(unused.unwrap_or_else(|| PathElement::Field(k.clone())));
                    }
                }
                false
            }
            Shape::List { elem, kind } => {
                let items = match v {
                    Value::Array(a) => a,
                    Value::Null => return false,
                    other => {
                        self.error(format!("expected list, got {}", kind_name(other)));
                        return false;
                    }
                };
                let mut pes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match self.schema.list_item_element(elem, kind, item) {
                        Ok(pe) => pes.push(Some(pe)),
                        Err(e) => {
                            self.error(format!("element {i}: {e}"));
                            pes.push(None);
                        }
                    }
                }
                for (i, item) in items.iter().enumerate() {
                    let Some(pe) = &pes[i] else { continue };
                    let dup = pes.iter().enumerate().any(|(j, other)| j != i && other.as_ref() == Some(pe));
                    if dup {
                        let first = pes.iter().position(|o| o.as_ref() == Some(pe)) == Some(i);
                        if !self.allow_duplicates && first {
                            self.error(format!("duplicate entries for key {pe}"));
                        }
                        below.members.insert(pe.clone());
                        continue;
                    }
                    let (_, unused) = self.walk_child(item, elem, pe.clone(), below);
                    below.members.insert(unused.unwrap_or_else(|| pe.clone()));
                }
                false
            }
        }
    }

    /// Walks `child` under `pe` (an object key or a list element, so never seen twice in one
    /// parent), keeping what it sets below itself as `parent`'s child set. Returns whether the
    /// child is a leaf, and `pe` back unless the child set took it.
    fn walk_child(&mut self, child: &Value, ty: &TypeRef, pe: PathElement, parent: &mut FieldSet) -> (bool, Option<PathElement>) {
        self.path.push(pe);
        let mut below = FieldSet::new();
        let member = self.walk(child, ty, &mut below);
        let pe = self.path.pop().expect("pushed above");
        if below.members.is_empty() && below.children.is_empty() {
            return (member, Some(pe));
        }
        parent.children.insert(pe, below);
        (member, None)
    }
}
