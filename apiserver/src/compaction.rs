//! Periodic compaction of etcd history, as upstream: each interval, compact to the revision
//! recorded one interval earlier, so at least one interval of history is always kept.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

pub async fn run(state: AppState, interval: Duration, shutdown: CancellationToken) {
    let store = state.store().clone();
    let mut recorded: i64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if recorded > 0 {
            match store.compact(recorded).await {
                Ok(()) => {
                    tracing::info!(revision = recorded, "compacted etcd history");
                    for cacher in state.0.cachers.values() {
                        cacher.forget_before(recorded);
                    }
                }
                Err(e) => tracing::warn!(revision = recorded, error = %e, "etcd compaction failed"),
            }
        }
        match store.current_revision().await {
            Ok(rev) => recorded = rev,
            Err(e) => tracing::warn!(error = %e, "cannot read the etcd revision for compaction"),
        }
    }
}
