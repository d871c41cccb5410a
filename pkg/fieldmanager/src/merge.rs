//! Value walks over two (or one) objects under the type table: merging an applied
//! configuration into a live object (the applied side wins; list-map elements merge by key,
//! set elements union, atomics are replaced), comparing two objects field by field, and
//! removing a set of fields from an object.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::element::{values_equal, PathElement};
use crate::fieldset::FieldSet;
use crate::schema::{ListKind, Schema, TypeRef};
use crate::typed::{Shape, UNTYPED};

/// The differences between two objects: fields only the new one has, fields whose value
/// changed, fields only the old one has. Granular maps, structs and list elements present on
/// one side only are themselves listed too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    /// Drops the ignored (reset) fields and everything below them.
    pub fn exclude(&self, ignored: &FieldSet) -> Comparison {
        Comparison {
            added: self.added.recursive_difference(ignored),
            modified: self.modified.recursive_difference(ignored),
            removed: self.removed.recursive_difference(ignored),
        }
    }
}

/// The elements of two granular lists paired by identity, in upstream's merged order: the
/// applied order for shared and new elements, live-only elements kept where they were.
fn zip_list<'v>(schema: &Schema, elem: &TypeRef, kind: &ListKind, lhs: &'v [Value], rhs: &'v [Value]) -> Vec<(PathElement, Option<&'v Value>, Option<&'v Value>)> {
    let lpes = schema.list_elements(elem, kind, lhs);
    let rpes = schema.list_elements(elem, kind, rhs);
    // First occurrence wins; duplicated live elements are not merged with anything.
    let mut observed_l: BTreeMap<&PathElement, Option<&Value>> = BTreeMap::new();
    for (pe, v) in lpes.iter().zip(lhs) {
        observed_l.entry(pe).and_modify(|slot| *slot = None).or_insert(Some(v));
    }
    let mut observed_r: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (pe, v) in rpes.iter().zip(rhs) {
        observed_r.entry(pe).or_insert(v);
    }
    let mut shared = rpes.iter().filter(|pe| observed_l.contains_key(pe));
    let mut next_shared = shared.next();
    let mut merged_r: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (ln, rn) = (lpes.len(), rpes.len());
    let (mut li, mut ri) = (0, 0);
    while li < ln || ri < rn {
        if li < ln && ri < rn {
            let pe = &lpes[li];
            if *pe == rpes[ri] {
                merged_r.insert(pe);
                out.push((pe.clone(), observed_l.get(pe).copied().flatten(), observed_r.get(pe).copied()));
                li += 1;
                ri += 1;
                next_shared = shared.next();
                continue;
            }
            if observed_r.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < ln {
            let pe = &lpes[li];
            if !observed_r.contains_key(pe) {
                out.push((pe.clone(), Some(&lhs[li]), None));
                li += 1;
                continue;
            } else if merged_r.contains(pe) {
                li += 1;
            }
        }
        if ri < rn {
            let pe = &rpes[ri];
            if merged_r.insert(pe) {
                out.push((pe.clone(), observed_l.get(pe).copied().flatten(), observed_r.get(pe).copied()));
            }
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.next();
            }
        }
    }
    out
}

fn is_empty_list(v: Option<&Value>) -> bool {
    v.and_then(Value::as_array).is_none_or(|a| a.is_empty())
}

fn is_empty_map(v: Option<&Value>) -> bool {
    v.and_then(Value::as_object).is_none_or(|m| m.is_empty())
}

impl Schema {
    /// `rhs` merged into `lhs` (upstream's `Merge` with the applied side winning). `None` when
    /// both sides are absent or a granular value merges to nothing.
    pub fn merge(&self, lhs: Option<&Value>, rhs: Option<&Value>, ty: &TypeRef) -> Option<Value> {
        let leaf = || rhs.or(lhs).cloned();
        let sample = rhs.or(lhs);
        if matches!(ty, TypeRef::Deduced) && lhs.is_some() && rhs.is_some() && lhs.map(Value::is_object) != rhs.map(Value::is_object) {
            return leaf();
        }
        match self.shape(ty, sample) {
            Shape::Leaf => leaf(),
            Shape::Fields { def, elem } => {
                if is_empty_map(lhs) && is_empty_map(rhs) {
                    return leaf();
                }
                let (lm, rm) = (lhs.and_then(Value::as_object), rhs.and_then(Value::as_object));
                let mut out = Map::new();
                let keys: BTreeSet<&String> = lm.into_iter().flat_map(|m| m.keys()).chain(rm.into_iter().flat_map(|m| m.keys())).collect();
                for k in keys {
                    let child_ty = def.and_then(|d| d.fields.get(k)).or(elem).unwrap_or(&UNTYPED);
                    if let Some(v) = self.merge(lm.and_then(|m| m.get(k)), rm.and_then(|m| m.get(k)), child_ty) {
                        out.insert(k.clone(), v);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Shape::List { elem, kind } => {
                if is_empty_list(lhs) && is_empty_list(rhs) {
                    return leaf();
                }
                let empty = Vec::new();
                let l = lhs.and_then(Value::as_array).unwrap_or(&empty);
                let r = rhs.and_then(Value::as_array).unwrap_or(&empty);
                let out: Vec<Value> = zip_list(self, elem, kind, l, r)
                    .into_iter()
                    .filter_map(|(_, a, b)| self.merge(a, b, elem))
                    .collect();
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }

    /// How `new` differs from `old`, field by field (upstream's `Compare`).
    pub fn compare(&self, old: &Value, new: &Value, ty: &TypeRef) -> Comparison {
        let mut c = Comparison::default();
        self.compare_at(Some(old), Some(new), ty, &mut Vec::new(), &mut c);
        c
    }

    /// Compares the values at `path`, which the walk extends and restores as it goes (an
    /// update compares whole objects; a path copied per node was most of the cost).
    fn compare_at(&self, lhs: Option<&Value>, rhs: Option<&Value>, ty: &TypeRef, path: &mut Vec<PathElement>, c: &mut Comparison) {
        // Identical values have no differences anywhere below: an update usually changes a
        // few fields, and the rest of the object is skipped whole.
        if let (Some(a), Some(b)) = (lhs, rhs) {
            if a == b {
                return;
            }
        }
        let leaf = |c: &mut Comparison, path: &[PathElement]| match (lhs, rhs) {
            (None, _) => c.added.insert_elems(path),
            (_, None) => c.removed.insert_elems(path),
            (Some(a), Some(b)) if !values_equal(a, b) => c.modified.insert_elems(path),
            _ => {}
        };
        if matches!(ty, TypeRef::Deduced) && lhs.is_some() && rhs.is_some() && lhs.map(Value::is_object) != rhs.map(Value::is_object) {
            return leaf(c, path);
        }
        match self.shape(ty, rhs.or(lhs)) {
            Shape::Leaf => return leaf(c, path),
            Shape::Fields { def, elem } => {
                if is_empty_map(lhs) && is_empty_map(rhs) {
                    return leaf(c, path);
                }
                let (lm, rm) = (lhs.and_then(Value::as_object), rhs.and_then(Value::as_object));
                let keys: BTreeSet<&String> = lm.into_iter().flat_map(|m| m.keys()).chain(rm.into_iter().flat_map(|m| m.keys())).collect();
                for k in keys {
                    let child_ty = def.and_then(|d| d.fields.get(k)).or(elem).unwrap_or(&UNTYPED);
                    path.push(PathElement::Field(k.clone()));
                    self.compare_at(lm.and_then(|m| m.get(k)), rm.and_then(|m| m.get(k)), child_ty, path, c);
                    path.pop();
                }
            }
            Shape::List { elem, kind } => {
                if is_empty_list(lhs) && is_empty_list(rhs) {
                    return leaf(c, path);
                }
                let empty = Vec::new();
                let l = lhs.and_then(Value::as_array).unwrap_or(&empty);
                let r = rhs.and_then(Value::as_array).unwrap_or(&empty);
                for (pe, a, b) in zip_list(self, elem, kind, l, r) {
                    if a.is_none() && b.is_none() {
                        continue;
                    }
                    path.push(pe);
                    self.compare_at(a, b, elem, path, c);
                    path.pop();
                }
            }
        }
        match (lhs, rhs) {
            (None, _) => c.added.insert_elems(path),
            (_, None) => c.removed.insert_elems(path),
            _ => {}
        }
    }

    /// `v` without the fields in `remove` (upstream's `RemoveItems`). `None` when nothing is
    /// left of a granular value something was removed from.
    pub fn remove_items(&self, v: &Value, remove: &FieldSet, ty: &TypeRef) -> Option<Value> {
        match self.shape(ty, Some(v)) {
            Shape::Leaf => match ty {
                TypeRef::Scalar | TypeRef::Untyped => Some(v.clone()),
                TypeRef::Deduced if !v.is_array() => Some(v.clone()),
                _ => None,
            },
            Shape::Fields { def, elem } => {
                let obj = v.as_object()?;
                let mut out = Map::new();
                for (k, val) in obj {
                    let pe = PathElement::Field(k.clone());
                    if remove.members.contains(&pe) {
                        continue;
                    }
                    let kept = match remove.child(&pe) {
                        Some(sub) if !sub.is_empty() => {
                            let child_ty = def.and_then(|d| d.fields.get(k)).or(elem).unwrap_or(&UNTYPED);
                            self.remove_items(val, sub, child_ty)
                        }
                        _ => Some(val.clone()),
                    };
                    if let Some(kept) = kept {
                        out.insert(k.clone(), kept);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Shape::List { elem, kind } => {
                let items = v.as_array()?;
                let pes = self.list_elements(elem, kind, items);
                let mut out = Vec::with_capacity(items.len());
                for (pe, item) in pes.iter().zip(items) {
                    if remove.members.contains(pe) {
                        continue;
                    }
                    let kept = match remove.child(pe) {
                        Some(sub) if !sub.is_empty() => self.remove_items(item, sub, elem),
                        _ => Some(item.clone()),
                    };
                    out.extend(kept);
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }
}
