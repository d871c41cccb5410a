//! Test harness: real etcd and a real `corekube server` on free loopback ports, driven through
//! the real `kubectl` (the one on PATH) and a kube-rs client. Processes are started through
//! corekube-testsupport with a parent-death signal, so they end with the test binary.

#![allow(dead_code)]

pub mod fake_kubelet;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use corekube_testsupport::{free_port, EtcdProcess};

/// Fails with an install hint if a required program is missing; tests never skip silently.
pub fn require(program: &str, package: &str) {
    let found = Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "`{program}` is not on PATH: install it (apt-get install {package})");
}

/// Spawns a corekube or etcd child that ends with the test binary; panics if it cannot start.
fn spawn_owned(cmd: Command) -> Child {
    let program = cmd.get_program().to_string_lossy().into_owned();
    corekube_testsupport::spawn_owned(cmd).unwrap_or_else(|e| panic!("cannot start {program}: {e}"))
}

/// Compacts the history of `etcd` up to its current revision with etcdctl, as an operator would.
pub fn compact_all(etcd: &EtcdProcess) -> i64 {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &etcd.url(), "endpoint", "status", "-w", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("etcdctl status json");
    let rev = v[0]["Status"]["header"]["revision"].as_i64().expect("revision");
    let out =
        Command::new("etcdctl").env("ETCDCTL_API", "3").args(["--endpoints", &etcd.url(), "compact", &rev.to_string()]).output().unwrap();
    assert!(out.status.success(), "etcdctl compact: {}", String::from_utf8_lossy(&out.stderr));
    rev
}

/// A running `corekube server`.
pub struct Cluster {
    /// The external etcd (data and log in `etcd/` of `dir`), for the tests that stop and
    /// restart it. Declared before `dir`: it is killed before its directory is removed.
    pub etcd: Option<EtcdProcess>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    extra_args: Vec<String>,
    /// The name of the cluster's own node, when it runs one (a kubelet and containerd).
    node: Option<String>,
}

/// The node tests' pod range: away from the default 10.42.0.0/24 of a cluster a developer
/// may be running on the same machine.
pub const TEST_POD_CIDR: &str = "10.42.250.0/24";

/// The offline images (busybox:1.35, nginx:1.22, pause), built once by the project's
/// images/build into the target directory and loaded by each node at start.
pub fn test_images() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
            let dir = target.join("images");
            let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/images/build")).arg(&dir).output().expect("images/build runs");
            assert!(out.status.success(), "images/build failed:\n{}", String::from_utf8_lossy(&out.stderr));
            dir
        })
        .clone()
}

impl Cluster {
    /// corekube with its own node: its managed containerd (containerd, runc and the CNI
    /// plugins must be installed: scripts/install-deps) runs the pods, with the offline images.
    pub fn start_node(extra: &[&str]) -> Cluster {
        Self::start_node_on(TEST_POD_CIDR, extra)
    }

    /// `start_node` with its own pod range (and so its own bridge), for a node that runs
    /// beside the shared one.
    pub fn start_node_on(pod_cidr: &str, extra: &[&str]) -> Cluster {
        require("containerd", "containerd");
        require("runc", "runc");
        let images = test_images();
        let node = "corekube-test-node";
        let mut args: Vec<String> = ["--node-name", node, "--pod-cidr", pod_cidr].iter().map(|s| s.to_string()).collect();
        args.push("--image-dir".into());
        args.push(images.display().to_string());
        // Several test clusters run at once: each kubelet API takes a free port.
        if !extra.contains(&"--kubelet-port") {
            args.extend(["--kubelet-port".to_string(), "0".to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut c = Self::prepare(false, &args);
        c.node = Some(node.to_string());
        c.launch();
        c
    }

    /// Whether this cluster runs its controller manager (not disabled, all controllers).
    pub fn runs_controllers(&self) -> bool {
        !self.extra_args.windows(2).any(|w| w[0] == "--disable" && w[1].contains("controller-manager"))
            && !self.extra_args.iter().any(|a| a.starts_with("--disable=") && a.contains("controller-manager"))
            && !self.extra_args.iter().any(|a| a.starts_with("--controllers"))
    }

    /// The name of the cluster's node (`start_node` clusters only).
    pub fn node_name(&self) -> String {
        self.node.clone().expect("a cluster started with its node")
    }

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
        let etcd = external.then(|| EtcdProcess::start(&dir.path().join("etcd")).unwrap_or_else(|e| panic!("{e}")));
        let mut extra_args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        if let Some(e) = &etcd {
            extra_args.push("--etcd-servers".into());
            extra_args.push(e.url());
        }
        // Only node tests run a node: the others make their nodes with kubectl.
        if !extra.contains(&"--node-name") {
            extra_args.extend(["--disable".to_string(), "kubelet".to_string()]);
        }
        Cluster { dir, port: free_port().expect("a free loopback port"), etcd, child: None, extra_args, node: None }
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

    /// The server's data directory (its PKI under `pki/`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A kubectl command against this cluster, to spawn and drive (streams, port-forward).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(self.kubeconfig()).arg("--cache-dir").arg(self.dir.path().join("kubectl-cache")).args(args);
        cmd
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
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
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
    pub async fn raw_with_headers(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, http::HeaderMap, serde_json::Value) {
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
            // A node stops its pods first (at most 5 s each, in parallel), then containerd.
            let deadline = Instant::now() + Duration::from_secs(if self.node.is_some() { 40 } else { 10 });
            while Instant::now() < deadline && c.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
        }
    }
}

/// A plain HTTP/1.0 GET from this machine (to a pod over its node's bridge, or to a local
/// port-forward); the whole response.
pub fn http_get(ip: &str, port: u16) -> std::io::Result<String> {
    use std::io::Read;
    let addr = std::net::SocketAddr::new(ip.parse().map_err(std::io::Error::other)?, port);
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n").as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
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

/// A namespace unique to one test, created through kubectl. Where the cluster runs its
/// controller manager, it is returned once its `default` ServiceAccount and `kube-root-ca.crt`
/// ConfigMap exist (as upstream's e2e framework waits for the service account), so what a test
/// lists in it does not depend on how fast the controllers were.
pub fn namespace(cluster: &Cluster, prefix: &str) -> String {
    let name = format!("{prefix}-{}", std::process::id() % 100000);
    let manifest = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
    cluster.ok_stdin(&["create", "--validate=false", "-f", "-"], &manifest);
    if cluster.runs_controllers() {
        wait_until(Duration::from_secs(30), "the namespace's default ServiceAccount and kube-root-ca.crt", || {
            cluster.kubectl(&["get", "-n", &name, "serviceaccount/default", "configmap/kube-root-ca.crt", "-o", "name"]).status.success()
        });
    }
    name
}

/// The name of the ConfigMap the root CA publisher puts in every namespace, which tests that
/// count ConfigMaps leave out.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";

/// One cluster shared by every test of a test binary (namespaces keep tests apart). It is
/// stopped and its directory removed when the binary exits.
pub fn shared() -> &'static Cluster {
    static SHARED: SharedCluster = std::sync::OnceLock::new();
    extern "C" fn stop_shared() {
        stop_shared_cluster(&SHARED);
    }
    shared_cluster(&SHARED, Cluster::start, stop_shared)
}

/// Like `shared`, for a cluster with its own node (`Cluster::start_node`).
pub fn node_cluster() -> &'static Cluster {
    static NODE: SharedCluster = std::sync::OnceLock::new();
    extern "C" fn stop_node() {
        stop_shared_cluster(&NODE);
    }
    shared_cluster(&NODE, || Cluster::start_node(&[]), stop_node)
}

type SharedCluster = std::sync::OnceLock<std::sync::Mutex<Option<Cluster>>>;

fn stop_shared_cluster(cell: &SharedCluster) {
    if let Some(m) = cell.get() {
        if let Ok(mut g) = m.lock() {
            drop(g.take());
        }
    }
}

fn shared_cluster(cell: &'static SharedCluster, start: impl FnOnce() -> Cluster, stop_at_exit: extern "C" fn()) -> &'static Cluster {
    let cell = cell.get_or_init(|| {
        let c = start();
        unsafe {
            libc::atexit(stop_at_exit);
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
