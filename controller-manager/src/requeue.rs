//! Rate-limited requeue after a failed reconcile, as client-go's default controller rate
//! limiter: per object, 5 ms doubling up to 1000 s, reset by the next success. A controller
//! that fails on a bad object therefore never loops hot on it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

const BASE: Duration = Duration::from_millis(5);
const MAX: Duration = Duration::from_secs(1000);

pub struct Backoff<Key> {
    failures: Mutex<HashMap<Key, u32>>,
}

impl<Key: Hash + Eq + Clone> Default for Backoff<Key> {
    fn default() -> Self {
        Backoff { failures: Mutex::new(HashMap::new()) }
    }
}

impl<Key: Hash + Eq + Clone> Backoff<Key> {
    /// The delay before the next try of `key`, which just failed.
    pub fn failed(&self, key: &Key) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock");
        let n = failures.entry(key.clone()).or_insert(0);
        let delay = BASE.saturating_mul(1u32 << (*n).min(30)).min(MAX);
        *n = n.saturating_add(1);
        delay
    }

    /// `key` reconciled: its next failure starts from the base delay again.
    pub fn succeeded(&self, key: &Key) {
        self.failures.lock().expect("backoff lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_a_cap_and_resets_on_success() {
        let b = Backoff::default();
        assert_eq!(b.failed(&"a"), Duration::from_millis(5));
        assert_eq!(b.failed(&"a"), Duration::from_millis(10));
        assert_eq!(b.failed(&"b"), Duration::from_millis(5));
        for _ in 0..40 {
            b.failed(&"a");
        }
        assert_eq!(b.failed(&"a"), MAX);
        b.succeeded(&"a");
        assert_eq!(b.failed(&"a"), Duration::from_millis(5));
    }
}
