//! Keeps container logs bounded, as upstream's container log manager: every few seconds each
//! running container's log is checked, and one over the size limit is renamed aside
//! (`N.log.YYYYMMDD-HHMMSS`) and the runtime told to reopen it (CRI ReopenContainerLog); the
//! oldest rotated files go so that at most `max_files` remain with the live one. (Upstream
//! also gzips all but the newest rotated file; corekube leaves them plain.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{cri, Shared};

/// How often logs are checked (upstream's monitor period).
const CHECK_EVERY: Duration = Duration::from_secs(10);

/// The size and count limits (`--container-log-max-size`, `--container-log-max-files`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    /// Files kept per container, the live one included (at least 2).
    pub max_files: usize,
}

impl Default for Limits {
    /// Upstream's defaults: 10 MiB, 5 files.
    fn default() -> Self {
        Limits { max_bytes: 10 << 20, max_files: 5 }
    }
}

/// The rotated files of the log at `live`, oldest first (their suffix is a timestamp).
fn rotated(live: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (live.parent(), live.file_name().and_then(|n| n.to_str())) else { return Vec::new() };
    let prefix = format!("{name}.");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix))).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

/// Removes the oldest rotated files beyond what `limits` keeps.
fn prune(live: &Path, limits: Limits) {
    let old = rotated(live);
    let keep = limits.max_files.saturating_sub(1);
    for path in old.iter().take(old.len().saturating_sub(keep)) {
        let _ = std::fs::remove_file(path);
    }
}

/// Rotates one container's log if it has grown past the limit.
async fn check(cri: &cri::Cri, id: &str, limits: Limits) {
    let Ok(status) = cri.container_status(id).await else { return };
    let live = PathBuf::from(&status.log_path);
    if status.log_path.is_empty() || std::fs::metadata(&live).map(|m| m.len()).unwrap_or(0) <= limits.max_bytes {
        return;
    }
    prune(&live, Limits { max_files: limits.max_files.saturating_sub(1), ..limits });
    let stamp = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).strftime("%Y%m%d-%H%M%S").to_string();
    let mut aside = live.with_file_name(format!("{}.{stamp}", live.file_name().and_then(|n| n.to_str()).unwrap_or("log")));
    if aside.exists() {
        // Two rotations within one second: keep both.
        aside.set_extension(format!("{}-1", aside.extension().and_then(|e| e.to_str()).unwrap_or_default()));
    }
    if let Err(e) = std::fs::rename(&live, &aside) {
        tracing::warn!(log = %live.display(), error = %e, "cannot rotate a container log");
        return;
    }
    if let Err(e) = cri.reopen_container_log(id).await {
        // The runtime still writes to the renamed file: put it back, as upstream does.
        tracing::warn!(container = id, error = %e, "the runtime did not reopen a rotated log; undoing the rotation");
        let _ = std::fs::rename(&aside, &live);
        return;
    }
    prune(&live, limits);
}

/// Checks every running container's log until `shutdown`.
pub(crate) async fn run(shared: Arc<Shared>, limits: Limits, shutdown: CancellationToken) {
    loop {
        tokio::select! { _ = shutdown.cancelled() => return, _ = tokio::time::sleep(CHECK_EVERY) => {} }
        let Ok(containers) = shared.cri.list_containers().await else { continue };
        for c in containers.iter().filter(|c| c.state == cri::ContainerState::ContainerRunning as i32) {
            check(&shared.cri, &c.id, limits).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("0.log");
        std::fs::write(&live, "x").unwrap();
        for stamp in ["20240101-000001", "20240101-000003", "20240101-000002", "20240101-000004"] {
            std::fs::write(dir.path().join(format!("0.log.{stamp}")), "x").unwrap();
        }
        std::fs::write(dir.path().join("1.log"), "another instance").unwrap();
        prune(&live, Limits { max_bytes: 1, max_files: 3 });
        let left: Vec<String> = rotated(&live).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(left, ["0.log.20240101-000003", "0.log.20240101-000004"]);
        assert!(live.exists() && dir.path().join("1.log").exists());
    }
}
