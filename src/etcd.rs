//! The managed etcd: a child `etcd` process on loopback, with its data under the corekube data
//! directory. Started before the API server, stopped after it; if it dies on its own, corekube
//! reports it and stops with an error rather than serving without storage.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("cannot start etcd ({binary}): {source}. Install it with: apt-get install etcd-server")]
    Spawn { binary: String, source: std::io::Error },
    #[error("etcd exited during start-up ({status}); see {log}")]
    ExitedEarly { status: String, log: String },
    #[error("etcd did not answer within {0:?}; see {1}")]
    NotReady(Duration, String),
    #[error("etcd data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
}

/// How long etcd gets to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long etcd gets to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct ManagedEtcd {
    pub client_url: String,
    log_path: PathBuf,
    child: Child,
}

/// Loopback ports chosen once and kept in the data directory, so the member's recorded peer
/// URL stays valid across restarts.
fn ports(dir: &Path) -> Result<(u16, u16), EtcdError> {
    let file = dir.join("ports");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let p: Vec<u16> = text.split_whitespace().filter_map(|s| s.parse().ok()).collect();
        if p.len() == 2 {
            return Ok((p[0], p[1]));
        }
    }
    let pick = || -> Result<u16, EtcdError> {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| EtcdError::DataDir(file.clone(), e))?;
        Ok(l.local_addr().map_err(|e| EtcdError::DataDir(file.clone(), e))?.port())
    };
    let (client, peer) = (pick()?, pick()?);
    std::fs::write(&file, format!("{client} {peer}\n")).map_err(|e| EtcdError::DataDir(file.clone(), e))?;
    Ok((client, peer))
}

impl ManagedEtcd {
    /// Starts etcd with its data in `dir` and waits until it answers.
    pub async fn start(dir: &Path) -> Result<ManagedEtcd, EtcdError> {
        std::fs::create_dir_all(dir).map_err(|e| EtcdError::DataDir(dir.to_path_buf(), e))?;
        set_mode(dir, 0o700);
        let (client_port, peer_port) = ports(dir)?;
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let log_path = dir.join("etcd.log");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| EtcdError::DataDir(log_path.clone(), e))?;
        let binary = std::env::var("COREKUBE_ETCD_BINARY").unwrap_or_else(|_| "etcd".into());
        // The tests' etcd (corekube-testsupport) has the same flags; this copy stays here so
        // that production code depends on no test code.
        let mut cmd = Command::new(&binary);
        cmd.args(["--name", "corekube"])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("corekube={peer_url}")])
            .args(["--listen-metrics-urls", ""])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| EtcdError::DataDir(log_path.clone(), e))?)
            .stderr(log)
            .kill_on_drop(true);
        // If corekube dies without stopping etcd, the kernel stops it. etcd gets the machine's
        // transparent huge page policy back, which corekube turned off for its own allocator.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| EtcdError::Spawn { binary, source })?;
        let mut etcd = ManagedEtcd { client_url, log_path, child };
        etcd.wait_ready().await?;
        Ok(etcd)
    }

    async fn wait_ready(&mut self) -> Result<(), EtcdError> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(EtcdError::ExitedEarly { status: status.to_string(), log: self.log_path.display().to_string() });
            }
            let probe = async {
                let mut c = etcd_client::Client::connect([&self.client_url], None).await?;
                c.status().await
            };
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), probe).await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EtcdError::NotReady(READY_TIMEOUT, self.log_path.display().to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs until etcd exits or `shutdown` fires. Returns an error if etcd exited on its own.
    pub async fn supervise(mut self, shutdown: CancellationToken) -> Result<(), String> {
        crate::child::supervise(&mut self.child, "etcd", &self.log_path, STOP_GRACE, shutdown).await
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}
