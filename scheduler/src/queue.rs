//! The scheduling queue, as upstream's PriorityQueue: an active queue ordered by priority then
//! age, a backoff queue (1 s doubling to 10 s per failed attempt), and the unschedulable pods,
//! which wait for a cluster event that could make them fit (or at most five minutes).
//!
//! A pod is in exactly one place: active, backoff, unschedulable, or in flight (popped and
//! being scheduled). A failed pod normally waits as unschedulable; but if a cluster event
//! arrived while it was in flight, it goes to backoff instead, so that event is not missed.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Upstream's podMaxInUnschedulablePodsDuration.
pub const MAX_UNSCHEDULABLE_WAIT: Duration = Duration::from_secs(5 * 60);

/// `namespace/name`.
pub type PodKey = String;

pub fn pod_key(pod: &Pod) -> PodKey {
    format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default())
}

/// A pod waiting to be scheduled, with its scheduling history.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    pub pod: Arc<Pod>,
    pub key: PodKey,
    /// When the pod first entered the queue: the age that orders equal priorities.
    pub enqueued: Instant,
    /// Failed scheduling attempts so far.
    pub attempts: u32,
    /// When the last attempt failed.
    pub last_failure: Option<Instant>,
}

impl QueuedPod {
    fn priority(&self) -> i32 {
        self.pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
    }

    /// 1 s after the first failure, doubling per failure up to 10 s.
    pub fn backoff(&self) -> Duration {
        let doublings = self.attempts.saturating_sub(1).min(16);
        (INITIAL_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
    }

    fn backoff_until(&self) -> Option<Instant> {
        self.last_failure.map(|t| t + self.backoff())
    }
}

/// The active queue's order: higher priority first, then the pod that waited longest, then
/// the key (so the order is total).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ActiveEntry {
    priority: i32,
    enqueued: Instant,
    key: PodKey,
}

impl Ord for ActiveEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.priority.cmp(&self.priority).then(self.enqueued.cmp(&other.enqueued)).then(self.key.cmp(&other.key))
    }
}

impl PartialOrd for ActiveEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

#[derive(Default)]
pub struct SchedulingQueue {
    pods: HashMap<PodKey, (QueuedPod, Place)>,
    active: BTreeSet<ActiveEntry>,
    /// (backoff expiry, key)
    backoff: BTreeSet<(Instant, PodKey)>,
    /// Counts cluster events that may make pods schedulable; a pod that failed after one
    /// happened during its attempt is retried after backoff instead of waiting for another.
    move_requests: u64,
    /// `move_requests` when each in-flight pod was popped.
    popped_at: HashMap<PodKey, u64>,
}

impl SchedulingQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    pub fn keys(&self) -> Vec<PodKey> {
        self.pods.keys().cloned().collect()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// How many pods wait in each place: (active, backoff, unschedulable).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |p: Place| self.pods.values().filter(|(_, place)| *place == p).count();
        (count(Place::Active), count(Place::Backoff), count(Place::Unschedulable))
    }

    /// A new pod that needs a node.
    pub fn add(&mut self, pod: Arc<Pod>, now: Instant) {
        let key = pod_key(&pod);
        if self.pods.contains_key(&key) {
            self.update(pod, now);
            return;
        }
        let qp = QueuedPod { pod, key: key.clone(), enqueued: now, attempts: 0, last_failure: None };
        self.put_active(qp);
    }

    /// The pod object changed. An unschedulable pod whose spec changed may fit now, so it is
    /// retried (after its backoff); otherwise only the stored object is refreshed.
    pub fn update(&mut self, pod: Arc<Pod>, now: Instant) {
        let key = pod_key(&pod);
        let Some((qp, place)) = self.pods.get_mut(&key) else {
            self.add(pod, now);
            return;
        };
        let spec_changed = qp.pod.spec != pod.spec || qp.pod.metadata.labels != pod.metadata.labels;
        if *place == Place::Active {
            // The order key may change with the priority.
            self.active.remove(&entry(qp));
            qp.pod = pod;
            self.active.insert(entry(qp));
            return;
        }
        qp.pod = pod;
        if *place == Place::Unschedulable && spec_changed {
            let (qp, _) = self.pods.remove(&key).expect("present");
            self.put_active_or_backoff(qp, now);
        }
    }

    /// The pod is gone or no longer needs scheduling (bound, deleted, another scheduler's).
    pub fn delete(&mut self, key: &str) {
        if let Some((qp, place)) = self.pods.remove(key) {
            match place {
                Place::Active => {
                    self.active.remove(&entry(&qp));
                }
                Place::Backoff => {
                    if let Some(until) = qp.backoff_until() {
                        self.backoff.remove(&(until, qp.key.clone()));
                    }
                }
                Place::Unschedulable | Place::InFlight => {}
            }
        }
        self.popped_at.remove(key);
    }

    /// The next pod to schedule, moving expired backoffs and overdue unschedulable pods first.
    pub fn pop(&mut self, now: Instant) -> Option<QueuedPod> {
        self.flush(now);
        let first = self.active.pop_first()?;
        let (qp, place) = self.pods.get_mut(&first.key).expect("active entries are tracked");
        *place = Place::InFlight;
        self.popped_at.insert(first.key.clone(), self.move_requests);
        Some(qp.clone())
    }

    /// Scheduling succeeded (the pod is assumed and being bound): it leaves the queue.
    pub fn done(&mut self, key: &str) {
        if matches!(self.pods.get(key), Some((_, Place::InFlight))) {
            self.pods.remove(key);
        }
        self.popped_at.remove(key);
    }

    /// The attempt found no node. The pod waits as unschedulable, or in backoff if a cluster
    /// event arrived while it was in flight.
    pub fn unschedulable(&mut self, key: &str, now: Instant) {
        let Some((mut qp, Place::InFlight)) = self.pods.remove(key) else { return };
        let popped = self.popped_at.remove(key).unwrap_or(0);
        qp.attempts += 1;
        qp.last_failure = Some(now);
        if self.move_requests > popped {
            self.put_backoff(qp);
        } else {
            self.pods.insert(qp.key.clone(), (qp, Place::Unschedulable));
        }
    }

    /// The attempt failed for another reason (an API error, a failed bind): retry after backoff.
    pub fn error(&mut self, qp: QueuedPod, now: Instant) {
        let key = qp.key.clone();
        let current = match self.pods.remove(&key) {
            Some((current, Place::InFlight)) => current,
            Some(other) => {
                // Already requeued by an update; keep that.
                self.pods.insert(key, other);
                return;
            }
            None => qp,
        };
        self.popped_at.remove(&key);
        let mut qp = current;
        qp.attempts += 1;
        qp.last_failure = Some(now);
        self.put_backoff(qp);
    }

    /// A cluster event that may make unschedulable pods fit (a node added or changed, a pod
    /// deleted, a volume change): they move to active, or to backoff while it lasts.
    pub fn move_all_to_active_or_backoff(&mut self, now: Instant) {
        self.move_requests += 1;
        let keys: Vec<PodKey> = self.pods.iter().filter(|(_, (_, p))| *p == Place::Unschedulable).map(|(k, _)| k.clone()).collect();
        for key in keys {
            let (qp, _) = self.pods.remove(&key).expect("present");
            self.put_active_or_backoff(qp, now);
        }
    }

    /// Moves pods whose backoff ended to active, and pods unschedulable for too long back in.
    pub fn flush(&mut self, now: Instant) {
        while let Some((until, _)) = self.backoff.first() {
            if *until > now {
                break;
            }
            let (_, key) = self.backoff.pop_first().expect("non-empty");
            if let Some((qp, Place::Backoff)) = self.pods.remove(&key) {
                self.put_active(qp);
            }
        }
        let overdue: Vec<PodKey> = self
            .pods
            .iter()
            .filter(|(_, (qp, p))| *p == Place::Unschedulable && qp.last_failure.is_some_and(|t| now >= t + MAX_UNSCHEDULABLE_WAIT))
            .map(|(k, _)| k.clone())
            .collect();
        for key in overdue {
            let (qp, _) = self.pods.remove(&key).expect("present");
            self.put_active_or_backoff(qp, now);
        }
    }

    /// When `pop` could next return a pod that is not active yet (the earliest backoff expiry
    /// or unschedulable timeout), for sleeping until then.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let backoff = self.backoff.first().map(|(t, _)| *t);
        let unschedulable = self
            .pods
            .values()
            .filter(|(_, p)| *p == Place::Unschedulable)
            .filter_map(|(qp, _)| qp.last_failure.map(|t| t + MAX_UNSCHEDULABLE_WAIT))
            .min();
        [backoff, unschedulable].into_iter().flatten().min()
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    fn put_active(&mut self, qp: QueuedPod) {
        self.active.insert(entry(&qp));
        self.pods.insert(qp.key.clone(), (qp, Place::Active));
    }

    fn put_backoff(&mut self, qp: QueuedPod) {
        let until = qp.backoff_until().unwrap_or_else(Instant::now);
        self.backoff.insert((until, qp.key.clone()));
        self.pods.insert(qp.key.clone(), (qp, Place::Backoff));
    }

    fn put_active_or_backoff(&mut self, qp: QueuedPod, now: Instant) {
        match qp.backoff_until() {
            Some(until) if until > now => self.put_backoff(qp),
            _ => self.put_active(qp),
        }
    }
}

fn entry(qp: &QueuedPod) -> ActiveEntry {
    ActiveEntry { priority: qp.priority(), enqueued: qp.enqueued, key: qp.key.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, priority: i32) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns"}, "spec": {"containers": [], "priority": priority}})).unwrap())
    }

    #[test]
    fn higher_priority_first_then_oldest() {
        let mut q = SchedulingQueue::new();
        let t = Instant::now();
        q.add(pod("low-old", 0), t);
        q.add(pod("high", 10), t + Duration::from_millis(2));
        q.add(pod("low-new", 0), t + Duration::from_millis(1));
        let order: Vec<String> = std::iter::from_fn(|| q.pop(t + Duration::from_millis(3))).map(|p| p.key).collect();
        assert_eq!(order, vec!["ns/high", "ns/low-old", "ns/low-new"]);
    }

    #[test]
    fn unschedulable_pods_wait_for_a_cluster_event_then_respect_backoff() {
        let mut q = SchedulingQueue::new();
        let t = Instant::now();
        q.add(pod("a", 0), t);
        let a = q.pop(t).unwrap();
        q.unschedulable(&a.key, t);
        assert!(q.pop(t + Duration::from_secs(30)).is_none(), "waits for an event, not for its backoff");
        // An event within the backoff sends it to backoff; it comes out after 1 s.
        q.move_all_to_active_or_backoff(t + Duration::from_millis(500));
        assert!(q.pop(t + Duration::from_millis(600)).is_none());
        let again = q.pop(t + Duration::from_millis(1001)).unwrap();
        assert_eq!(again.attempts, 1);
        // Second failure: 2 s of backoff.
        q.unschedulable(&again.key, t + Duration::from_secs(2));
        q.move_all_to_active_or_backoff(t + Duration::from_secs(2));
        assert!(q.pop(t + Duration::from_millis(3900)).is_none());
        assert!(q.pop(t + Duration::from_millis(4001)).is_some());
    }

    #[test]
    fn an_event_during_the_attempt_sends_the_pod_to_backoff() {
        let mut q = SchedulingQueue::new();
        let t = Instant::now();
        q.add(pod("a", 0), t);
        let a = q.pop(t).unwrap();
        q.move_all_to_active_or_backoff(t);
        q.unschedulable(&a.key, t);
        assert!(q.pop(t + Duration::from_millis(999)).is_none());
        assert!(q.pop(t + Duration::from_millis(1000)).is_some(), "retried after backoff without a new event");
    }

    #[test]
    fn unschedulable_pods_are_retried_after_five_minutes() {
        let mut q = SchedulingQueue::new();
        let t = Instant::now();
        q.add(pod("a", 0), t);
        let a = q.pop(t).unwrap();
        q.unschedulable(&a.key, t);
        assert_eq!(q.next_wakeup(), Some(t + MAX_UNSCHEDULABLE_WAIT));
        assert!(q.pop(t + MAX_UNSCHEDULABLE_WAIT).is_some());
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let mut qp = QueuedPod { pod: pod("a", 0), key: "ns/a".into(), enqueued: Instant::now(), attempts: 1, last_failure: None };
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(qp.backoff().as_secs());
            qp.attempts += 1;
        }
        assert_eq!(seen, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn deleted_and_updated_pods() {
        let mut q = SchedulingQueue::new();
        let t = Instant::now();
        q.add(pod("a", 0), t);
        q.add(pod("b", 0), t);
        q.delete("ns/a");
        assert_eq!(q.pop(t).unwrap().key, "ns/b");
        q.unschedulable("ns/b", t);
        // A spec change (here: priority) makes it worth another try, after its backoff.
        q.update(pod("b", 5), t + Duration::from_secs(2));
        assert_eq!(q.pop(t + Duration::from_secs(2)).unwrap().key, "ns/b");
        q.done("ns/b");
        assert!(q.is_empty());
    }
}
