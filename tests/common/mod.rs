//! Test harness: real etcd and a real `corekube server` on free loopback ports, driven through
//! the real `kubectl` (the one on PATH) and a kube-rs client. Processes are started from a
//! long-lived thread with a parent-death signal, so they end with the test binary.

#![allow(dead_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Fails with an install hint if a required program is missing; tests never skip silently.
pub fn require(program: &str, package: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "`{program}` is not on PATH: install it (apt-get install {package})");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Spawns a process from a thread that lives as long as the test binary: the parent-death
/// signal fires when the spawning thread exits, and test threads end after each test.
fn spawn_owned(mut cmd: Command) -> Child {
    /// A command to spawn, and where to send the spawned child.
    type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: std::sync::OnceLock<std::sync::Mutex<mpsc::Sender<SpawnRequest>>> = std::sync::OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::spawn(move || {
            for (mut cmd, reply) in rx {
                unsafe {
                    cmd.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                let _ = reply.send(cmd.spawn());
            }
        });
        std::sync::Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    cmd.stdin(Stdio::null());
    spawner.lock().unwrap().send((cmd, reply_tx)).unwrap();
    reply_rx.recv().unwrap().expect("spawn")
}

/// An etcd the test controls (to stop, restart and compact it).
pub struct Etcd {
    pub dir: PathBuf,
    pub client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl Etcd {
    pub fn start(dir: &Path) -> Etcd {
        require("etcd", "etcd-server");
        let mut e = Etcd { dir: dir.to_path_buf(), client_port: free_port(), peer_port: free_port(), child: None };
        e.launch();
        e
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn launch(&mut self) {
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("etcd.log")).unwrap();
        let mut cmd = Command::new("etcd");
        cmd.args(["--name", "test", "--data-dir"])
            .arg(self.dir.join("etcd-data"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("test={peer}"), "--listen-metrics-urls", ""])
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(spawn_owned(cmd));
        wait_until(Duration::from_secs(20), "etcd to answer", || {
            Command::new("etcdctl").env("ETCDCTL_API", "3").args(["--endpoints", &self.url(), "endpoint", "health"]).output().map(|o| o.status.success()).unwrap_or(false)
        });
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Compacts history up to the current revision with etcdctl, as an operator would.
    pub fn compact_all(&self) -> i64 {
        let out = Command::new("etcdctl").env("ETCDCTL_API", "3").args(["--endpoints", &self.url(), "endpoint", "status", "-w", "json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("etcdctl status json");
        let rev = v[0]["Status"]["header"]["revision"].as_i64().expect("revision");
        let out = Command::new("etcdctl").env("ETCDCTL_API", "3").args(["--endpoints", &self.url(), "compact", &rev.to_string()]).output().unwrap();
        assert!(out.status.success(), "etcdctl compact: {}", String::from_utf8_lossy(&out.stderr));
        rev
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `corekube server`.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub etcd: Option<Etcd>,
    child: Option<Child>,
    extra_args: Vec<String>,
}

impl Cluster {
    /// corekube with its own managed etcd.
    pub fn start() -> Cluster {
        Self::start_with(false, &[])
    }

    /// corekube on an etcd the test controls.
    pub fn start_with_external_etcd(extra: &[&str]) -> Cluster {
        Self::start_with(true, extra)
    }

    /// corekube started while its (external) etcd is down, not waited for: the test starts
    /// the etcd with `etcd.as_mut().unwrap().restart()` when it likes.
    pub fn start_with_etcd_down() -> Cluster {
        let mut c = Self::prepare(true, &[]);
        c.etcd.as_mut().unwrap().stop();
        c.spawn();
        c
    }

    fn start_with(external: bool, extra: &[&str]) -> Cluster {
        let mut c = Self::prepare(external, extra);
        c.launch();
        c
    }

    fn prepare(external: bool, extra: &[&str]) -> Cluster {
        require("kubectl", "kubectl (Google Cloud SDK)");
        require("etcd", "etcd-server");
        let dir = tempfile::Builder::new().prefix("corekube-test").tempdir().unwrap();
        let etcd = external.then(|| Etcd::start(dir.path()));
        let mut extra_args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        if let Some(e) = &etcd {
            extra_args.push("--etcd-servers".into());
            extra_args.push(e.url());
        }
        Cluster { dir, port: free_port(), etcd, child: None, extra_args }
    }

    fn launch(&mut self) {
        self.spawn();
        self.wait_ready();
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("corekube.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_corekube"));
        cmd.args(["server", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--secure-port", &self.port.to_string()])
            .args(&self.extra_args)
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(spawn_owned(cmd));
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.kubectl(&["get", "--raw", "/readyz"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("corekube not ready in 60 s; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("corekube.log")).unwrap_or_default()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("data/admin.kubeconfig")
    }

    /// Runs kubectl against this cluster with its own discovery cache.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(args, None)
    }

    pub fn kubectl_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(self.kubeconfig()).arg("--cache-dir").arg(self.dir.path().join("kubectl-cache")).args(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        match stdin {
            Some(input) => {
                cmd.stdin(Stdio::piped());
                let mut child = cmd.spawn().expect("kubectl runs");
                child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
                child.wait_with_output().unwrap()
            }
            None => cmd.stdin(Stdio::null()).output().expect("kubectl runs"),
        }
    }

    /// kubectl that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stdout).unwrap()
    }

    /// kubectl that must fail; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(!out.status.success(), "kubectl {args:?} unexpectedly succeeded: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }

    /// `kubectl apply/create -f -` with a manifest on stdin.
    pub fn ok_stdin(&self, args: &[&str], manifest: &str) -> String {
        let out = self.kubectl_with(args, Some(manifest));
        assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// A kube-rs client authenticated with the admin kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
        kube::Client::try_from(cfg).unwrap()
    }

    /// Sends a raw request and returns (status, body) without interpreting errors.
    pub async fn raw(&self, method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, serde_json::Value) {
        let (status, _, body) = self.raw_with_headers(method, path, content_type, body).await;
        (status, body)
    }

    /// Like `raw`, also returning the response headers.
    pub async fn raw_with_headers(&self, method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, http::HeaderMap, serde_json::Value) {
        let client = self.client().await;
        let mut req = http::Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let req = req.body(body).unwrap();
        let resp = client.send(req.map(kube::client::Body::from)).await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(String::from_utf8_lossy(&bytes).into())))
    }

    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// SIGTERM and wait; returns how long the stop took and the exit status.
    pub fn stop(&mut self) -> (Duration, std::process::ExitStatus) {
        let mut child = self.child.take().expect("running");
        let t = Instant::now();
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (t.elapsed(), status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("corekube did not stop within 20 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.launch();
    }

    /// The corekube server process.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().unwrap())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && c.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
        }
    }
}

/// Polls `cond` until it holds, failing after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// A namespace unique to one test, created through kubectl.
pub fn namespace(cluster: &Cluster, prefix: &str) -> String {
    let name = format!("{prefix}-{}", std::process::id() % 100000);
    let manifest = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
    cluster.ok_stdin(&["create", "--validate=false", "-f", "-"], &manifest);
    name
}

/// One cluster shared by every test of a test binary (namespaces keep tests apart). It is
/// stopped and its directory removed when the binary exits.
pub fn shared() -> &'static Cluster {
    static SHARED: std::sync::OnceLock<std::sync::Mutex<Option<Cluster>>> = std::sync::OnceLock::new();
    extern "C" fn stop_shared() {
        if let Some(m) = SHARED.get() {
            if let Ok(mut g) = m.lock() {
                drop(g.take());
            }
        }
    }
    let cell = SHARED.get_or_init(|| {
        let c = Cluster::start();
        unsafe {
            libc::atexit(stop_shared);
        }
        std::sync::Mutex::new(Some(c))
    });
    let guard = cell.lock().unwrap();
    let ptr: *const Cluster = guard.as_ref().expect("shared cluster is running");
    // The cluster lives until process exit; only the atexit hook takes it out.
    unsafe { &*ptr }
}

/// The path of a sample manifest in manifests/examples.
pub fn example(name: &str) -> String {
    format!("{}/manifests/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The bundled kubectl of one minor version (`kubectl.1.29` beside the real kubectl file).
pub fn bundled_kubectl(minor: u32) -> PathBuf {
    let real = std::fs::canonicalize(
        String::from_utf8(Command::new("sh").arg("-c").arg("command -v kubectl").output().unwrap().stdout).unwrap().trim(),
    )
    .expect("kubectl on PATH");
    let path = real.parent().unwrap().join(format!("kubectl.1.{minor}"));
    assert!(path.exists(), "{} is missing: the kubectl package with bundled minors is required", path.display());
    path
}
