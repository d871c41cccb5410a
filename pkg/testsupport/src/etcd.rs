//! A single-member etcd on free loopback ports with its data and log in a directory the caller
//! gives: started and waited for, stopped, started again on the same ports and data, frozen.
//!
//! The command line matches the managed etcd's (`src/etcd.rs` of the `corekube` package), which
//! keeps its own copy so that production code depends on no test code; the two also differ
//! where it matters: the managed etcd keeps its ports across runs of corekube, gets SIGTERM
//! rather than SIGKILL when corekube dies, and gets transparent huge pages back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::{free_port, log_tail, spawn_owned};

/// How long etcd gets to answer after a start.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one health request may take. etcd accepts connections before it is ready and
/// answers them once it is, so a request may wait here for the answer that ends the start.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// The pause between refused probes: short, since the benchmark reports the time to the first answer.
const PROBE_INTERVAL: Duration = Duration::from_millis(10);
/// How many log lines an error quotes.
const LOG_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("cannot start {binary}: {source}. Install etcd with: apt-get install etcd-server")]
    Spawn { binary: String, source: std::io::Error },
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("etcd exited during start-up ({status}); last lines of {log}:\n{tail}", log = .log.display())]
    Exited { status: ExitStatus, log: PathBuf, tail: String },
    #[error("etcd did not answer within {ANSWER_TIMEOUT:?}; last lines of {log}:\n{tail}", log = .log.display())]
    NotAnswering { log: PathBuf, tail: String },
}

/// An etcd child process, killed when dropped. Its data is `DIR/data`, its log `DIR/etcd.log`.
pub struct EtcdProcess {
    binary: String,
    dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    /// `None` while stopped.
    child: Option<Child>,
}

impl EtcdProcess {
    /// Starts the `etcd` on PATH with its data under `dir` and waits until it answers.
    pub fn start(dir: &Path) -> Result<EtcdProcess, EtcdError> {
        Self::start_binary("etcd", dir)
    }

    /// Starts `binary` as etcd with its data under `dir` and waits until it answers.
    pub fn start_binary(binary: &str, dir: &Path) -> Result<EtcdProcess, EtcdError> {
        std::fs::create_dir_all(dir).map_err(|source| EtcdError::Io { path: dir.to_path_buf(), source })?;
        let port = || free_port().map_err(EtcdError::Port);
        let mut etcd = EtcdProcess { binary: binary.to_string(), dir: dir.to_path_buf(), client_port: port()?, peer_port: port()?, child: None };
        etcd.restart()?;
        Ok(etcd)
    }

    /// The client URL, the same across restarts.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    /// The running process; panics while stopped.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("etcd is running").id()
    }

    /// Starts etcd (again, stopping it first if it runs) on the same ports and data, and waits
    /// until it answers.
    pub fn restart(&mut self) -> Result<(), EtcdError> {
        self.stop();
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log_path = self.log_path();
        let io_error = |source| EtcdError::Io { path: log_path.clone(), source };
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(io_error)?;
        let mut cmd = Command::new(&self.binary);
        cmd.args(["--name", "loopback", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("loopback={peer}"), "--listen-metrics-urls", ""])
            .stdout(log.try_clone().map_err(io_error)?)
            .stderr(log);
        let child = spawn_owned(cmd).map_err(|source| EtcdError::Spawn { binary: self.binary.clone(), source })?;
        self.child = Some(child);
        self.wait_answering()
    }

    fn wait_answering(&mut self) -> Result<(), EtcdError> {
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.client_port));
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(EtcdError::Exited { status, log: self.log_path(), tail: log_tail(&self.log_path(), LOG_LINES) });
            }
            if healthy(addr) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(EtcdError::NotAnswering { log: self.log_path(), tail: log_tail(&self.log_path(), LOG_LINES) });
            }
            std::thread::sleep(PROBE_INTERVAL);
        }
    }

    /// Kills etcd at once (SIGKILL), as a crash would, and reaps it. Nothing if it is stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill only sends a signal to our own child.
        let sent = unsafe { libc::kill(self.pid() as i32, signal) };
        assert_eq!(sent, 0, "signal {signal} to etcd: {}", std::io::Error::last_os_error());
    }

    /// Stops the process (SIGSTOP) and waits until the kernel reports every thread of it
    /// stopped: until then a thread may still answer.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
        let tasks = format!("/proc/{}/task", self.pid());
        // A thread's state is the field after its parenthesized command name.
        let state = |stat: String| stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()).map(str::to_string);
        let all_stopped = || {
            std::fs::read_dir(&tasks).unwrap().flatten().all(|t| {
                std::fs::read_to_string(t.path().join("stat")).ok().and_then(state).is_some_and(|s| s == "T" || s == "t")
            })
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !all_stopped() {
            assert!(Instant::now() < deadline, "etcd did not stop within 5 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Lets a frozen etcd run again (SIGCONT).
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the etcd at `addr` answers `GET /health` as healthy: it has a leader and serves
/// reads. etcd serves its client URL only once it has joined its cluster, as the gRPC API does.
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(PROBE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(PROBE_TIMEOUT));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok() && stream.read_to_string(&mut answer).is_ok() && answer.contains(r#""health":"true""#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_answers_after_start_and_restart_on_the_same_port_and_not_while_stopped_or_frozen() {
        let dir = tempfile::tempdir().unwrap();
        let mut etcd = EtcdProcess::start(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let addr = SocketAddr::from(([127, 0, 0, 1], etcd.client_port));
        let url = etcd.url();
        etcd.freeze();
        assert!(!healthy(addr), "a frozen etcd answered");
        etcd.thaw();
        assert!(healthy(addr));
        etcd.stop();
        assert!(!healthy(addr), "a stopped etcd answered");
        etcd.restart().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(etcd.url(), url);
        assert!(healthy(addr));
        assert!(dir.path().join("data").is_dir() && etcd.log_path().is_file());
    }

    #[test]
    fn a_missing_etcd_is_an_error_that_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = EtcdProcess::start_binary("/nonexistent/etcd", dir.path()).err().expect("no etcd there");
        assert!(err.to_string().contains("apt-get install etcd-server"), "{err}");
    }
}
