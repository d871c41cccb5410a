//! Small ordered sets and maps kept as sorted vectors, for the many small collections that are
//! built once and then mostly read: the nodes of a managedFields field set (one per object, list
//! element and map of the object it describes) and the labels the watch cache keeps per object.
//! As `BTreeSet`/`BTreeMap` each such collection cost a fresh allocation of about 0.5 KiB (set)
//! or 1 KiB (map) however few entries it held; recording a pod's managedFields allocated over
//! 100 KiB. Entries are usually added in order (object keys come sorted), so an insert is
//! mostly an append.

use std::borrow::Borrow;
use std::cmp::Ordering;

/// A set of `T` in ascending order, each value once: a map to nothing, so the search and the
/// ordered insert live in one place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecSet<T>(VecMap<T, ()>);

impl<T> Default for VecSet<T> {
    fn default() -> Self {
        VecSet(VecMap::default())
    }
}

impl<T: Ord> VecSet<T> {
    /// Adds `value`; false when it was already there (the stored value is kept).
    pub fn insert(&mut self, value: T) -> bool {
        self.0.insert(value, ()).is_none()
    }

    pub fn contains(&self, value: &T) -> bool {
        self.0.contains_key(value)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.0.retain(|v, _| keep(v));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map(|(v, _)| v)
    }

    /// Values in both sets, ascending.
    pub fn intersection<'a>(&'a self, other: &'a VecSet<T>) -> impl Iterator<Item = &'a T> + 'a {
        self.iter().filter(move |v| other.contains(v))
    }

    /// Values of `self` not in `other`, ascending.
    pub fn difference<'a>(&'a self, other: &'a VecSet<T>) -> impl Iterator<Item = &'a T> + 'a {
        self.iter().filter(move |v| !other.contains(v))
    }
}

impl<T: Ord> Extend<T> for VecSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, values: I) {
        for v in values {
            self.insert(v);
        }
    }
}

impl<T: Ord> FromIterator<T> for VecSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Self {
        let mut set = VecSet::default();
        set.extend(values);
        set
    }
}

impl<'a, T> IntoIterator for &'a VecSet<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (T, ())>, fn(&'a (T, ())) -> &'a T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0 .0.iter().map(|(v, _)| v)
    }
}

/// A map from `K` to `V` in ascending key order, each key once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        match self.0.last().map(|(last, _)| last.borrow().cmp(key)) {
            None | Some(Ordering::Less) => Err(self.0.len()),
            Some(Ordering::Equal) => Ok(self.0.len() - 1),
            Some(Ordering::Greater) => self.0.binary_search_by(|(k, _)| k.borrow().cmp(key)),
        }
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`, inserting `V::default()` first when there is none.
    pub fn get_or_insert_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.0[i].1
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    /// Drops spare capacity, for a map that will not grow again.
    pub fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// A repeated key keeps its last value, as collecting into a `BTreeMap` does.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut map = VecMap::default();
        for (k, v) in pairs {
            map.insert(k, v);
        }
        map
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<'a, K, V> IntoIterator for &'a mut VecMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = std::iter::Map<std::slice::IterMut<'a, (K, V)>, fn(&'a mut (K, V)) -> (&'a K, &'a mut V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keeps_order_and_uniqueness() {
        let mut s: VecSet<i32> = [5, 1, 3, 1].into_iter().collect();
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![1, 3, 5]);
        assert!(!s.insert(3));
        assert!(s.insert(4) && s.insert(9) && s.insert(0));
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![0, 1, 3, 4, 5, 9]);
        assert!(s.contains(&4) && !s.contains(&2));
        let other: VecSet<i32> = [1, 2, 9].into_iter().collect();
        assert_eq!(s.intersection(&other).copied().collect::<Vec<_>>(), vec![1, 9]);
        assert_eq!(s.difference(&other).copied().collect::<Vec<_>>(), vec![0, 3, 4, 5]);
        s.retain(|v| v % 2 == 1);
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![1, 3, 5, 9]);
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn map_matches_btreemap() {
        use std::collections::BTreeMap;
        let pairs = [(3, "c"), (1, "a"), (2, "b"), (1, "z"), (7, "g"), (5, "e")];
        let v: VecMap<i32, &str> = pairs.into_iter().collect();
        let b: BTreeMap<i32, &str> = pairs.into_iter().collect();
        assert_eq!(v.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(), b.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
        let mut v = v;
        assert_eq!(v.insert(2, "B"), Some("b"));
        assert_eq!(v.insert(4, "d"), None);
        *v.get_or_insert_default(6) = "f";
        assert_eq!(*v.get_or_insert_default(6), "f");
        assert_eq!(v.get(&4), Some(&"d"));
        assert!(v.contains_key(&7) && !v.contains_key(&8));
        for (_, val) in &mut v {
            *val = if val.len() == 1 { "x" } else { val };
        }
        v.retain(|k, _| *k != 1);
        assert_eq!(v.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6, 7]);
        assert_eq!(v.values().count(), 6);
    }
}
