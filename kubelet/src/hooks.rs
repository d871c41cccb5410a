//! Container lifecycle hooks, as upstream runs them: postStart right after a container
//! starts (a failure kills it), preStop before it is stopped (within its grace period); each
//! an exec in the container, an HTTP GET, or a sleep.

use std::time::Duration;

use k8s_openapi::api::core::v1::LifecycleHandler;

use crate::prober::check;
use crate::prober::Target;

/// Runs one hook; Err with the message for the FailedPostStartHook / FailedPreStopHook event.
pub async fn run(handler: &LifecycleHandler, target: &Target, timeout: Duration) -> Result<(), String> {
    if let Some(exec) = &handler.exec {
        let cmd = exec.command.clone().unwrap_or_default();
        return check::exec_command(cmd.clone(), target, timeout).await.map_err(|out| format!("Exec lifecycle hook ({cmd:?}) for Container \"{}\" failed - error: {out}", target.container.name));
    }
    if let Some(http) = &handler.http_get {
        return check::http_get(http, target, timeout).await.map_err(|e| format!("HTTP lifecycle hook ({}) for Container \"{}\" failed - error: {e}", http.path.as_deref().unwrap_or("/"), target.container.name));
    }
    if let Some(sleep) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64).min(timeout)).await;
    }
    Ok(())
}
