//! What a label selector reads labels from. Any map of key to value will do; the watch cache
//! keeps the labels of every object it holds, so it uses [`LabelSet`], a sorted boxed slice,
//! instead of a `BTreeMap` whose first node alone is over 500 bytes.

use std::collections::BTreeMap;

/// A set of labels a selector can be matched against.
pub trait Labels {
    /// The value of label `key`, if the object has it.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// Labels sorted by key, each key once: compact, for holding many objects' labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSet(Box<[(Box<str>, Box<str>)]>);

impl LabelSet {
    /// From key-value pairs in any order; a repeated key keeps its last value, as a map would.
    pub fn from_pairs<K: Into<Box<str>>, V: Into<Box<str>>>(pairs: impl IntoIterator<Item = (K, V)>) -> LabelSet {
        let mut v: Vec<(Box<str>, Box<str>)> = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        // A stable sort keeps repeats in input order; the last of each run wins.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Box<str>, Box<str>)> = Vec::with_capacity(v.len());
        for pair in v {
            match out.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => out.push(pair),
            }
        }
        LabelSet(out.into_boxed_slice())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Labels for LabelSet {
    fn label(&self, key: &str) -> Option<&str> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(key)).ok().map(|i| &*self.0[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_sorting_and_repeats() {
        let set = LabelSet::from_pairs([("tier", "web"), ("app", "a"), ("app", "b"), ("z", "")]);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![("app", "b"), ("tier", "web"), ("z", "")]);
        assert_eq!(set.label("app"), Some("b"));
        assert_eq!(set.label("z"), Some(""));
        assert_eq!(set.label("ap"), None);
        assert_eq!(LabelSet::default().label("app"), None);
        let map: BTreeMap<String, String> = set.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(map.label("tier"), Some("web"));
    }
}
