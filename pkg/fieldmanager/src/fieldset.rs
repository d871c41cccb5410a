//! Sets of field paths (upstream's `fieldpath.Set`): a trie whose nodes hold the path elements
//! that are members and the child sets below path elements.

use corekube_api::sorted::{VecMap, VecSet};

use crate::element::{Path, PathElement};

/// A set of field paths. A path is a member when it was inserted; its prefixes are not members
/// unless inserted too. Child sets are never left empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub(crate) members: VecSet<PathElement>,
    pub(crate) children: VecMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding `paths`.
    pub fn from_paths<I: IntoIterator<Item = Path>>(paths: I) -> Self {
        let mut s = Self::new();
        for p in paths {
            s.insert(&p);
        }
        s
    }

    /// Makes every proper prefix of its paths a member too: what comparing with an empty
    /// object yields, where each container a value adds counts as added.
    pub(crate) fn add_prefixes_as_members(&mut self) {
        for (pe, child) in &mut self.children {
            if !self.members.contains(pe) {
                self.members.insert(pe.clone());
            }
            child.add_prefixes_as_members();
        }
    }

    /// In place: [`difference`](Self::difference), or with `recursive`
    /// [`recursive_difference`](Self::recursive_difference).
    pub(crate) fn remove(&mut self, other: &FieldSet, recursive: bool) {
        if recursive {
            self.children.retain(|pe, _| !other.members.contains(pe));
        }
        self.members.retain(|pe| !other.members.contains(pe));
        self.children.retain(|pe, c| {
            if let Some(o) = other.children.get(pe) {
                c.remove(o, recursive);
            }
            !c.is_empty()
        });
    }

    /// True when no path is a member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds `path` (the empty path is ignored).
    pub fn insert(&mut self, path: &Path) {
        self.insert_elems(&path.0);
    }

    pub(crate) fn insert_elems(&mut self, elems: &[PathElement]) {
        match elems {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.get_or_insert_default(first.clone()).insert_elems(rest),
        }
    }

    /// True when `path` is a member.
    pub fn has(&self, path: &Path) -> bool {
        let mut s = self;
        let Some((last, init)) = path.0.split_last() else { return false };
        for pe in init {
            match s.children.get(pe) {
                Some(c) => s = c,
                None => return false,
            }
        }
        s.members.contains(last)
    }

    /// The child set below `pe` (what upstream calls `WithPrefix`), empty if none.
    pub fn with_prefix(&self, pe: &PathElement) -> FieldSet {
        self.children.get(pe).cloned().unwrap_or_default()
    }

    pub(crate) fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| other.children.get(pe).map(|o| (pe.clone(), c.intersection(o))))
            .filter(|(_, c)| !c.is_empty())
            .collect();
        FieldSet { members, children }
    }

    /// Members of `self` that are not members of `other`; children of removed members stay.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(pe, c)| match other.children.get(pe) {
                Some(o) => (pe.clone(), c.difference(o)),
                None => (pe.clone(), c.clone()),
            })
            .filter(|(_, c)| !c.is_empty())
            .collect();
        FieldSet { members, children }
    }

    /// Like [`difference`](Self::difference), and also drops everything below members of
    /// `other` (upstream's `RecursiveDifference`, used to ignore reset fields).
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(pe, _)| !other.members.contains(pe))
            .map(|(pe, c)| match other.children.get(pe) {
                Some(o) => (pe.clone(), c.recursive_difference(o)),
                None => (pe.clone(), c.clone()),
            })
            .filter(|(_, c)| !c.is_empty())
            .collect();
        FieldSet { members, children }
    }

    /// Every member path, in upstream's iteration order (a node's members, then its children).
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for pe in &self.members {
            let mut p = prefix.clone();
            p.push(pe.clone());
            out.push(Path(p));
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Member paths that have nothing below them.
    pub fn leaves(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_leaves(&mut Vec::new(), &mut out);
        out
    }

    fn collect_leaves(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for pe in &self.members {
            if !self.children.contains_key(pe) {
                let mut p = prefix.clone();
                p.push(pe.clone());
                out.push(Path(p));
            }
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect_leaves(prefix, out);
            prefix.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(names: &[&str]) -> Path {
        Path::fields(names)
    }

    #[test]
    fn set_operations() {
        let a = FieldSet::from_paths([p(&["a", "b"]), p(&["a", "c"]), p(&["d"])]);
        let b = FieldSet::from_paths([p(&["a", "b"]), p(&["e"])]);
        assert_eq!(a.intersection(&b), FieldSet::from_paths([p(&["a", "b"])]));
        assert_eq!(a.difference(&b), FieldSet::from_paths([p(&["a", "c"]), p(&["d"])]));
        assert_eq!(a.union(&b).paths().len(), 4);
        assert!(a.difference(&a).is_empty());
        // A member prefix removes the whole subtree only recursively.
        let top = FieldSet::from_paths([p(&["a"])]);
        assert_eq!(a.difference(&top), a);
        assert_eq!(a.recursive_difference(&top), FieldSet::from_paths([p(&["d"])]));
        assert!(a.has(&p(&["a", "c"])) && !a.has(&p(&["a"])));
    }

    #[test]
    fn path_rendering() {
        let path = Path(vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            PathElement::key(vec![("name".into(), json!("nginx"))]),
            PathElement::field("ports"),
            PathElement::key(vec![("protocol".into(), json!("TCP")), ("containerPort".into(), json!(80))]),
        ]);
        assert_eq!(path.to_string(), r#".spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"]"#);
        assert_eq!(PathElement::Value(json!("a")).to_string(), r#"[="a"]"#);
        assert_eq!(PathElement::Index(3).to_string(), "[3]");
    }
}
