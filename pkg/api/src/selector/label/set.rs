//! What a label selector reads labels from. Any map of key to value will do; the watch cache
//! keeps the labels of every object it holds, so it uses [`LabelSet`], a sorted vector,
//! instead of a `BTreeMap` whose first node alone is over 500 bytes.

use std::collections::BTreeMap;

use crate::sorted::VecMap;

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
pub struct LabelSet(VecMap<Box<str>, Box<str>>);

impl LabelSet {
    /// From key-value pairs in any order; a repeated key keeps its last value, as a map would.
    pub fn from_pairs<K: Into<Box<str>>, V: Into<Box<str>>>(pairs: impl IntoIterator<Item = (K, V)>) -> LabelSet {
        let mut map: VecMap<Box<str>, Box<str>> = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        map.shrink_to_fit();
        LabelSet(map)
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
        self.0.get(key).map(|v| &**v)
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
