//! A watch of one kind as a stream of changes for a component's loop. kube-rs's watcher
//! lists, then watches, and relists after a 410 (or any failure, with backoff); a relist
//! arrives as `Relist`, the objects, then `Synced`, so the loop can drop objects that
//! disappeared meanwhile.

use futures::StreamExt;
use kube::runtime::watcher::{self, watcher};
use kube::Api;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One change seen by a watch.
#[derive(Debug)]
pub enum Change<K> {
    /// An object as it is now (added or modified).
    Apply(K),
    Delete(K),
    /// A (re)list starts: objects not applied before `Synced` are gone.
    Relist,
    /// The list is complete.
    Synced,
}

/// Watches `api` (narrowed by `config`'s selectors) until `shutdown` or until the receiver of
/// `tx` is gone, sending each change wrapped by `wrap` into the component's own event type.
pub fn spawn<K, E>(api: Api<K>, config: watcher::Config, wrap: fn(Change<K>) -> E, tx: mpsc::Sender<E>, shutdown: CancellationToken)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    E: Send + 'static,
{
    tokio::spawn(async move {
        // Default backoff: a failed list or watch is retried, never ends the stream.
        let mut stream = Box::pin(kube::runtime::WatchStreamExt::default_backoff(watcher(api, config)));
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = stream.next() => n,
            };
            let change = match next {
                None => return,
                Some(Err(e)) => {
                    tracing::debug!(kind = std::any::type_name::<K>(), error = %e, "watch error; the watcher retries");
                    continue;
                }
                Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) => Change::Apply(o),
                Some(Ok(watcher::Event::Delete(o))) => Change::Delete(o),
                Some(Ok(watcher::Event::Init)) => Change::Relist,
                Some(Ok(watcher::Event::InitDone)) => Change::Synced,
            };
            if tx.send(wrap(change)).await.is_err() {
                return;
            }
        }
    });
}
