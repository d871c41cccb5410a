//! What a ReplicaSet's last sync asked for and the cache has not shown yet, as upstream's
//! ControllerExpectations: while pods it created are missing from the pod cache, or pods it
//! deleted are still there, the next sync leaves the replica count alone (the cache lags; it
//! would otherwise create or delete the same pods twice). Tracked by pod name, so the check is
//! against the cache's state, not against counting events. A record older than five minutes
//! is dropped (a pod created and deleted again before the cache saw it would keep it forever).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upstream's ExpectationsTimeout.
pub const TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Default)]
struct Pending {
    /// Names of pods created and not yet in the cache.
    creates: HashSet<String>,
    /// Pods deleted (name, uid) that the cache still shows as active.
    deletes: HashSet<(String, String)>,
    since: Option<Instant>,
}

/// What the cache says about a pod name, for checking what is still pending.
pub enum Seen {
    Absent,
    /// Present, with its uid and whether it is already being deleted.
    Present { uid: String, deleting: bool },
}

#[derive(Default)]
pub struct Expectations {
    by_owner: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    pub fn expect_created(&self, owner: &str, pod: &str) {
        let mut all = self.by_owner.lock().expect("expectations lock");
        let p = all.entry(owner.to_string()).or_default();
        p.since.get_or_insert_with(Instant::now);
        p.creates.insert(pod.to_string());
    }

    pub fn expect_deleted(&self, owner: &str, pod: &str, uid: &str) {
        let mut all = self.by_owner.lock().expect("expectations lock");
        let p = all.entry(owner.to_string()).or_default();
        p.since.get_or_insert_with(Instant::now);
        p.deletes.insert((pod.to_string(), uid.to_string()));
    }

    /// Drops what the cache now shows; `Ok` when nothing is pending (the owner may sync its
    /// replicas), else how long until the record expires.
    pub fn satisfied(&self, owner: &str, seen: impl Fn(&str) -> Seen) -> Result<(), Duration> {
        let mut all = self.by_owner.lock().expect("expectations lock");
        let Some(p) = all.get_mut(owner) else { return Ok(()) };
        p.creates.retain(|name| matches!(seen(name), Seen::Absent));
        p.deletes.retain(|(name, uid)| matches!(seen(name), Seen::Present { uid: u, deleting: false } if &u == uid));
        let age = p.since.map(|s| s.elapsed()).unwrap_or_default();
        if (p.creates.is_empty() && p.deletes.is_empty()) || age >= TIMEOUT {
            all.remove(owner);
            return Ok(());
        }
        Err(TIMEOUT - age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_until_the_cache_shows_it() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/rs", |_| Seen::Absent).is_ok());
        e.expect_created("ns/rs", "p1");
        e.expect_deleted("ns/rs", "p2", "u2");
        let present = |deleting| move |n: &str| Seen::Present { uid: format!("u{}", &n[1..]), deleting };
        // p1 is missing from the cache: still pending.
        assert!(e.satisfied("ns/rs", |n| if n == "p1" { Seen::Absent } else { present(false)(n) }).is_err());
        // p1 shows up; p2 is still active.
        assert!(e.satisfied("ns/rs", present(false)).is_err());
        // p2 is being deleted: done.
        assert!(e.satisfied("ns/rs", present(true)).is_ok());
    }
}
