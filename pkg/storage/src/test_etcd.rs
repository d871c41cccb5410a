//! A real etcd for tests (feature `test-etcd`): a single member on free loopback ports with
//! its data in a temporary directory, killed with the test process. It can be stopped,
//! started again on the same ports and data, and frozen (SIGSTOP).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Store;

pub struct TestEtcd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    peer_port: u16,
    pub url: String,
}

impl Drop for TestEtcd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TestEtcd {
    /// Starts etcd and returns it with a store connected and answering.
    pub async fn start_with_store() -> (TestEtcd, Store) {
        let found = Command::new("sh").arg("-c").arg("command -v etcd").output().map(|o| o.status.success()).unwrap_or(false);
        assert!(found, "etcd is not on PATH: install it (apt-get install etcd-server)");
        let (client_port, peer_port) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client_port}");
        let mut etcd = TestEtcd { dir: tempfile::tempdir().unwrap(), child: None, peer_port, url };
        etcd.start();
        let store = Store::connect(std::slice::from_ref(&etcd.url)).await.unwrap();
        wait_answering(&store).await;
        (etcd, store)
    }

    /// Starts (again) on the same ports and data.
    pub fn start(&mut self) {
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", "t", "--data-dir"])
            .arg(self.dir.path().join("d"))
            .args(["--listen-client-urls", &self.url, "--advertise-client-urls", &self.url, "--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer, "--initial-cluster", &format!("t={peer}"), "--listen-metrics-urls", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, signal: i32) {
        assert_eq!(unsafe { libc::kill(self.pid() as i32, signal) }, 0);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
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
}

/// Waits (bounded) until etcd answers through `store`.
pub async fn wait_answering(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.current_revision().await.is_err() {
        assert!(Instant::now() < deadline, "etcd did not answer within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
