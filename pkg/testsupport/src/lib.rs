//! What the test harnesses and the benchmark share to start real processes: free loopback
//! ports, children that die with the process that started them, and a single-member etcd.

mod etcd;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};

pub use etcd::{EtcdError, EtcdProcess};

/// A loopback port nothing listens on at the moment of asking.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Spawns `cmd` (stdin closed) with a parent-death signal, so the child is killed when this
/// process dies, however it dies. The kernel sends that signal when the spawning *thread*
/// exits, and test threads and tokio's blocking threads come and go: every child is spawned
/// from one thread that lives as long as the process.
pub fn spawn_owned(mut cmd: Command) -> std::io::Result<Child> {
    /// A command to spawn, and where to send the spawned child.
    type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::spawn(move || {
            for (mut cmd, reply) in rx {
                // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
                unsafe {
                    cmd.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                let _ = reply.send(cmd.spawn());
            }
        });
        Mutex::new(tx)
    });
    cmd.stdin(Stdio::null());
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).send((cmd, reply_tx)).map_err(|e| std::io::Error::other(e.to_string()))?;
    reply_rx.recv().map_err(|e| std::io::Error::other(e.to_string()))?
}

/// The last `lines` lines of a log file (empty if it cannot be read), to quote in an error.
pub fn log_tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
