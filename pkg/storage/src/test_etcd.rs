//! A real etcd for tests (feature `test-etcd`) with a store connected to it: the shared
//! single-member etcd of corekube-testsupport, with its data in a temporary directory. It can
//! be stopped, started again on the same ports and data, and frozen (SIGSTOP).

use std::time::{Duration, Instant};

use corekube_testsupport::EtcdProcess;

use crate::EtcdStore;

pub struct TestEtcd {
    // Declared before `dir`: etcd is killed before its data directory is removed.
    process: EtcdProcess,
    dir: tempfile::TempDir,
    pub url: String,
}

impl TestEtcd {
    /// Starts etcd and returns it with a store connected and answering. The start blocks this
    /// thread until etcd answers; nothing else of the test runs yet.
    pub async fn start_with_store() -> (TestEtcd, EtcdStore) {
        let dir = tempfile::tempdir().unwrap();
        let process = EtcdProcess::start(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let url = process.url();
        let store = EtcdStore::connect(std::slice::from_ref(&url)).await.unwrap();
        wait_answering(&store).await;
        (TestEtcd { process, dir, url }, store)
    }

    /// Starts (again) on the same ports and data, and waits until etcd answers.
    pub fn start(&mut self) {
        self.process.restart().unwrap_or_else(|e| panic!("{e} (data in {})", self.dir.path().display()));
    }

    /// Kills etcd (SIGKILL).
    pub fn stop(&mut self) {
        self.process.stop();
    }

    pub fn signal(&self, signal: i32) {
        self.process.signal(signal);
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Stops the process (SIGSTOP) and waits until every thread of it is stopped.
    pub fn freeze(&self) {
        self.process.freeze();
    }
}

/// Waits (bounded) until etcd answers through `store`.
pub async fn wait_answering(store: &EtcdStore) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.current_revision().await.is_err() {
        assert!(Instant::now() < deadline, "etcd did not answer within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
