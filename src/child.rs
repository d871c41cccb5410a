//! The managed child processes' common end: supervised until corekube stops (an exit of its
//! own is an error naming its log), then stopped with SIGTERM and, after a grace period, SIGKILL.

use std::path::Path;
use std::time::Duration;

use tokio::process::Child;
use tokio_util::sync::CancellationToken;

/// Runs until `child` exits or `shutdown` fires; an error if it exited on its own.
pub async fn supervise(child: &mut Child, what: &str, log: &Path, grace: Duration, shutdown: CancellationToken) -> Result<(), String> {
    tokio::select! {
        status = child.wait() => {
            let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
            Err(format!("managed {what} exited unexpectedly ({status}); see {}", log.display()))
        }
        _ = shutdown.cancelled() => {
            stop(child, grace).await;
            Ok(())
        }
    }
}

/// SIGTERM, then SIGKILL after `grace`.
pub async fn stop(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        // SAFETY: a signal to our own child's pid, which it keeps until we reap it.
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}
