//! A work queue as client-go's rate-limited one: an item waiting is queued once however often
//! it is added, an item being processed is not handed to a second worker (added meanwhile, it
//! is queued again when the first is done), and a failed item comes back after its backoff.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::requeue::Backoff;

pub struct WorkQueue<T> {
    state: Mutex<State<T>>,
    /// Wakes a worker waiting in `next` when an item is queued.
    ready: Notify,
    backoff: Backoff<T>,
    /// Ends `next` and the delayed adds.
    shutdown: CancellationToken,
}

struct State<T> {
    queue: VecDeque<T>,
    /// Items waiting (in `queue`, or to be queued once their processing is done).
    dirty: HashSet<T>,
    processing: HashSet<T>,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    pub fn new(shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(WorkQueue {
            state: Mutex::new(State { queue: VecDeque::new(), dirty: HashSet::new(), processing: HashSet::new() }),
            ready: Notify::new(),
            backoff: Backoff::default(),
            shutdown,
        })
    }

    pub fn add(&self, item: T) {
        let mut s = self.state.lock().expect("queue lock");
        if !s.dirty.insert(item.clone()) || s.processing.contains(&item) {
            return;
        }
        s.queue.push_back(item);
        drop(s);
        self.ready.notify_one();
    }

    /// Adds `item` again after its backoff, which doubles with each failure in a row.
    pub fn add_rate_limited(self: &Arc<Self>, item: T) {
        let delay = self.backoff.failed(&item);
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = queue.shutdown.cancelled() => {}
                _ = tokio::time::sleep(delay) => queue.add(item),
            }
        });
    }

    /// `item` succeeded: its next failure starts from the shortest backoff.
    pub fn forget(&self, item: &T) {
        self.backoff.succeeded(item);
    }

    /// The next item to process (call `done` after), or None at shutdown.
    pub async fn next(&self) -> Option<T> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.state.lock().expect("queue lock");
                if let Some(item) = s.queue.pop_front() {
                    s.dirty.remove(&item);
                    s.processing.insert(item.clone());
                    if !s.queue.is_empty() {
                        self.ready.notify_one();
                    }
                    return Some(item);
                }
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                _ = notified => {}
            }
        }
    }

    pub fn done(&self, item: &T) {
        let mut s = self.state.lock().expect("queue lock");
        s.processing.remove(item);
        if s.dirty.contains(item) {
            s.queue.push_back(item.clone());
            drop(s);
            self.ready.notify_one();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().unwrap().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_item_is_queued_once_and_never_processed_twice_at_a_time() {
        let q = WorkQueue::new(CancellationToken::new());
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let a = q.next().await.unwrap();
        assert_eq!(a, "a");
        q.add("a");
        assert_eq!(q.len(), 1, "a is being processed: it waits");
        assert_eq!(q.next().await.unwrap(), "b");
        q.done(&"b");
        q.done(&"a");
        assert_eq!(q.next().await.unwrap(), "a");
    }

    #[tokio::test]
    async fn failures_come_back_after_a_backoff_and_shutdown_ends_next() {
        let stop = CancellationToken::new();
        let q = WorkQueue::new(stop.clone());
        q.add_rate_limited("x");
        let got = tokio::time::timeout(Duration::from_secs(2), q.next()).await.unwrap();
        assert_eq!(got, Some("x"));
        q.done(&"x");
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.next().await }
        });
        stop.cancel();
        assert_eq!(tokio::time::timeout(Duration::from_secs(2), waiting).await.unwrap().unwrap(), None);
    }
}
