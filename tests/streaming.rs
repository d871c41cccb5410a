//! Looking inside pods through the API server and the kubelet API, with the real kubectl of
//! every bundled minor (1.27 to 1.33, which between them use SPDY, WebSocket v5 and
//! SPDY-in-WebSocket): `logs` with its options and `-f`, `exec` exit codes and stdin,
//! `port-forward` under concurrent requests, `cp` both ways, and the kubelet API refusing
//! callers that are not the API server.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bundled_kubectl, http_get, namespace, node_cluster, wait_until, Cluster};

const MINORS: std::ops::RangeInclusive<u32> = 27..=33;

fn jsonpath(c: &Cluster, ns: &str, obj: &str, path: &str) -> String {
    c.ok(&["get", "-n", ns, obj, "-o", &format!("jsonpath={path}")])
}

fn wait_ready(c: &Cluster, ns: &str, pod: &str) {
    wait_until(Duration::from_secs(60), &format!("{pod} to be Ready"), || {
        jsonpath(c, ns, &format!("pod/{pod}"), "{.status.conditions[?(@.type==\"Ready\")].status}") == "True"
    });
}

/// One kubectl minor against the cluster.
fn kubectl(c: &Cluster, minor: u32, args: &[&str]) -> Command {
    let mut cmd = Command::new(bundled_kubectl(minor));
    cmd.arg("--kubeconfig").arg(c.kubeconfig()).args(args);
    cmd
}

fn run_pod(c: &Cluster, ns: &str, name: &str, image: &str, script: &str) {
    c.ok(&["run", name, "-n", ns, &format!("--image={image}"), "--restart=Never", "--command", "--", "sh", "-c", script]);
}

#[test]
fn logs_with_tail_since_timestamps_limit_and_containers() {
    let c = node_cluster();
    let ns = namespace(c, "logs");
    // stdout and stderr reach the log through two pipes, so only a pause orders them.
    run_pod(c, &ns, "counter", "busybox:1.35", "for i in 1 2 3 4 5; do echo line $i; done; sleep 0.5; echo oops >&2; sleep 3600");
    wait_ready(c, &ns, "counter");
    wait_until(Duration::from_secs(10), "the log to hold every line", || c.ok(&["logs", "-n", &ns, "counter"]).contains("oops"));
    assert_eq!(c.ok(&["logs", "-n", &ns, "counter"]), "line 1\nline 2\nline 3\nline 4\nline 5\noops\n");
    assert_eq!(c.ok(&["logs", "-n", &ns, "counter", "--tail=2"]), "line 5\noops\n");
    assert_eq!(c.ok(&["logs", "-n", &ns, "counter", "--limit-bytes=9"]), "line 1\nli");
    assert_eq!(c.ok(&["logs", "-n", &ns, "counter", "--since=1h"]).lines().count(), 6);
    let stamped = c.ok(&["logs", "-n", &ns, "counter", "--timestamps", "--tail=1"]);
    let (stamp, text) = stamped.trim_end().split_once(' ').unwrap();
    assert_eq!(text, "oops");
    assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "an RFC 3339 timestamp: {stamp}");
    // Every kubectl minor reads logs the same way; -l with --prefix names each line's source.
    for minor in MINORS {
        let out = kubectl(c, minor, &["logs", "-n", &ns, "counter", "--tail=1"]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "oops\n", "1.{minor}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let labelled = c.ok(&["logs", "-n", &ns, "-l", "run=counter", "--prefix", "--tail=1"]);
    assert_eq!(labelled, "[pod/counter/counter] oops\n");
    // Lines written before sinceTime are left out.
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)).to_string();
    assert_eq!(c.ok(&["logs", "-n", &ns, "counter", &format!("--since-time={future}")]), "");

    // Two containers: kubectl picks for itself, the API asks which.
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: pair\n  namespace: {ns}\nspec:\n  containers:\n  - name: a\n    image: busybox:1.35\n    command: [sh, -c, 'echo from-a; sleep 3600']\n  - name: b\n    image: busybox:1.35\n    command: [sh, -c, 'echo from-b; sleep 3600']\n"
    );
    c.ok_stdin(&["apply", "-f", "-"], &manifest);
    wait_ready(c, &ns, "pair");
    wait_until(Duration::from_secs(10), "b's line", || c.ok(&["logs", "-n", &ns, "pair", "-c", "b"]) == "from-b\n");
    let err = c.fails(&["get", "--raw", &format!("/api/v1/namespaces/{ns}/pods/pair/log")]);
    assert!(err.contains("a container name must be specified for pod pair, choose one of: [a b]"), "{err}");
    let err = c.fails(&["logs", "-n", &ns, "pair", "-c", "nope"]);
    assert!(err.contains("container nope is not valid for pod pair"), "{err}");
    assert_eq!(c.ok(&["logs", "-n", &ns, "pair", "--all-containers", "--prefix"]).lines().count(), 2);
    let err = c.fails(&["get", "--raw", &format!("/api/v1/namespaces/{ns}/pods/counter/log?tailLines=-1")]);
    assert!(err.contains("tailLines: Invalid value: -1"), "{err}");
    let err = c.fails(&["logs", "-n", &ns, "counter", "--previous"]);
    assert!(err.contains("previous terminated container \"counter\" in pod \"counter\" not found"), "{err}");
}

#[test]
fn logs_follow_sees_new_lines_and_ends_with_the_container() {
    let c = node_cluster();
    let ns = namespace(c, "follow");
    run_pod(c, &ns, "slow", "busybox:1.35", "sleep 2; for i in 1 2 3; do echo tick $i; sleep 1; done");
    wait_until(Duration::from_secs(60), "slow to run", || jsonpath(c, &ns, "pod/slow", "{.status.phase}") == "Running");
    let started = Instant::now();
    let mut follow = c.command(&["logs", "-f", "-n", &ns, "slow"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    // The first line arrives while the container still runs (before the last one is written).
    assert_eq!(lines.next().unwrap().unwrap(), "tick 1");
    assert!(started.elapsed() < Duration::from_secs(4), "tick 1 came {:?} after start", started.elapsed());
    assert_eq!(lines.next().unwrap().unwrap(), "tick 2");
    assert_eq!(lines.next().unwrap().unwrap(), "tick 3");
    assert!(lines.next().is_none());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = follow.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "kubectl logs -f ends when the container does");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
}

#[test]
fn logs_previous_after_a_restart() {
    let c = node_cluster();
    let ns = namespace(c, "previous");
    // The liveness probe fails once /tmp/alive is gone, and the kubelet restarts the container.
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: crashy\n  namespace: {ns}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.35\n    command: [sh, -c, 'echo run at $(date +%s%N); touch /tmp/alive; sleep 2; rm /tmp/alive; sleep 3600']\n    livenessProbe:\n      exec:\n        command: [cat, /tmp/alive]\n      periodSeconds: 1\n      failureThreshold: 1\n  terminationGracePeriodSeconds: 1\n"
    );
    c.ok_stdin(&["apply", "-f", "-"], &manifest);
    wait_until(Duration::from_secs(90), "a restart by the liveness probe", || jsonpath(c, &ns, "pod/crashy", "{.status.containerStatuses[0].restartCount}").parse::<i32>().unwrap_or(0) >= 1);
    let previous = c.ok(&["logs", "-n", &ns, "crashy", "--previous"]);
    assert!(previous.starts_with("run at "), "{previous}");
    wait_until(Duration::from_secs(30), "the new instance's line", || c.ok(&["logs", "-n", &ns, "crashy"]).starts_with("run at "));
    assert_ne!(c.ok(&["logs", "-n", &ns, "crashy"]), previous, "the current instance's log is its own");
}

#[test]
fn exec_exit_codes_and_stdin_with_every_kubectl() {
    let c = node_cluster();
    let ns = namespace(c, "exec");
    run_pod(c, &ns, "shell", "busybox:1.35", "sleep 3600");
    wait_ready(c, &ns, "shell");
    for minor in MINORS {
        let out = kubectl(c, minor, &["exec", "-n", &ns, "shell", "--", "echo", "hi"]).output().unwrap();
        assert!(out.status.success(), "1.{minor}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "1.{minor}");

        let out = kubectl(c, minor, &["exec", "-n", &ns, "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "1.{minor}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n", "1.{minor}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("err\n") && stderr.contains("command terminated with exit code 3"), "1.{minor}: {stderr}");

        // stdin reaches the command, and its end ends `cat`.
        let mut child = kubectl(c, minor, &["exec", "-i", "-n", &ns, "shell", "--", "sh", "-c", "cat; echo done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"hello\nworld\n").unwrap();
        let out = wait_output(child, Duration::from_secs(30), &format!("1.{minor} exec -i"));
        assert!(out.status.success(), "1.{minor}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\nworld\ndone\n", "1.{minor}");
    }
    let err = c.fails(&["exec", "-n", &ns, "shell", "-c", "nope", "--", "true"]);
    assert!(err.contains("container nope is not valid for pod shell") || err.contains("container nope not found"), "{err}");
}

/// Waits for a child with a deadline (a stuck stream must fail the test, not hang it).
fn wait_output(mut child: std::process::Child, within: Duration, what: &str) -> std::process::Output {
    let deadline = Instant::now() + within;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what} did not end within {within:?}: stdout {:?} stderr {:?}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `kubectl port-forward` to `target` and returns it with the local port it chose.
fn port_forward(c: &Cluster, minor: u32, ns: &str, target: &str, remote: u16) -> (std::process::Child, u16) {
    let mut child = kubectl(c, minor, &["port-forward", "-n", ns, target, &format!(":{remote}")]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // "Forwarding from 127.0.0.1:34567 -> 80"
    let port = line.split("127.0.0.1:").nth(1).and_then(|r| r.split(' ').next()).and_then(|p| p.parse().ok());
    let Some(port) = port else {
        let _ = child.kill();
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("1.{minor}: port-forward did not start: {line:?} {err}");
    };
    // kubectl reports every connection on stdout: keep reading, or it dies of a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, port)
}

#[test]
fn port_forward_serves_concurrent_requests_with_every_kubectl() {
    let c = node_cluster();
    let ns = namespace(c, "forward");
    c.ok(&["run", "web", "-n", &ns, "--image=nginx:1.22", "--port=80"]);
    wait_ready(c, &ns, "web");
    for minor in MINORS {
        let (mut child, port) = port_forward(c, minor, &ns, "pod/web", 80);
        let answers: Vec<std::io::Result<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..20).map(|_| s.spawn(move || http_get("127.0.0.1", port))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let _ = child.kill();
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        let _ = child.wait();
        for a in answers {
            let page = a.unwrap_or_else(|e| panic!("1.{minor}: {e}; kubectl said: {stderr}"));
            assert!(page.starts_with("HTTP/1.1 200") && page.contains("Welcome to nginx!"), "1.{minor}: {page}");
        }
    }
    // The nginx image has tar too, so `kubectl cp` works on it as on upstream's image.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    c.ok(&["cp", &format!("{ns}/web:/etc/nginx/nginx.conf"), conf.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&conf).unwrap().contains("http {"));
}

#[test]
fn cp_round_trips_a_10_mib_file() {
    let c = node_cluster();
    let ns = namespace(c, "cp");
    run_pod(c, &ns, "box", "busybox:1.35", "sleep 3600");
    wait_ready(c, &ns, "box");
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("data.bin");
    let mut data = vec![0u8; 10 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&original, &data).unwrap();
    c.ok(&["cp", original.to_str().unwrap(), &format!("{ns}/box:/tmp/data.bin")]);
    let size = c.ok(&["exec", "-n", &ns, "box", "--", "stat", "-c", "%s", "/tmp/data.bin"]);
    assert_eq!(size.trim(), (10 << 20).to_string());
    let back = dir.path().join("back.bin");
    c.ok(&["cp", &format!("{ns}/box:/tmp/data.bin"), back.to_str().unwrap()]);
    assert!(std::fs::read(&back).unwrap() == data, "the file came back unchanged");
}

#[test]
fn the_kubelet_api_refuses_anyone_but_the_api_server() {
    let c = node_cluster();
    let node = c.node_name();
    let port = jsonpath(c, "default", &format!("node/{node}"), "{.status.daemonEndpoints.kubeletEndpoint.Port}");
    let ip = jsonpath(c, "default", &format!("node/{node}"), "{.status.addresses[?(@.type==\"InternalIP\")].address}");
    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "the Node reports the kubelet port: {port:?}");
    let pki = c.data_dir().join("pki");
    let url = format!("https://{ip}:{port}/pods");
    let curl = |extra: &[&str]| {
        let out = Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"]).arg(pki.join("ca.crt")).args(extra).arg(&url).output().expect("curl runs");
        String::from_utf8(out.stdout).unwrap()
    };
    // The kubelet's serving certificate verifies against the cluster CA for the node's IP.
    assert_eq!(curl(&[]), "401", "no client certificate");
    let (cert, key) = (pki.join("kubelet.crt"), pki.join("kubelet.key"));
    assert_eq!(curl(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]), "403", "a node's identity");
    let (cert, key) = (pki.join("apiserver-kubelet-client.crt"), pki.join("apiserver-kubelet-client.key"));
    assert_eq!(curl(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]), "200", "the API server's identity");
    // A joining node's serving certificate, issued from the same CA.
    let out = Command::new(env!("CARGO_BIN_EXE_corekube"))
        .args(["certs", "kubelet-serving", "--node-name", "joiner", "--node-ip", "127.0.0.9", "--data-dir"])
        .arg(c.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let paths: Vec<&str> = printed.lines().collect();
    assert_eq!(paths, [pki.join("joiner-kubelet-serving.crt").to_str().unwrap(), pki.join("joiner-kubelet-serving.key").to_str().unwrap()]);
    assert!(std::fs::read_to_string(paths[0]).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(paths[1]).unwrap().permissions().mode() & 0o777, 0o600, "the key is private");
    // The same API through the API server's nodes/proxy.
    assert_eq!(c.ok(&["get", "--raw", &format!("/api/v1/nodes/{node}/proxy/healthz")]), "ok");
    let pods: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", &format!("/api/v1/nodes/{node}/proxy/pods")])).unwrap();
    assert_eq!(pods["kind"], "PodList");
}

/// kubectl under a pseudo-terminal of our own: what it prints, its window size changes.
struct Terminal {
    master: std::fs::File,
    child: std::process::Child,
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Terminal {
    fn spawn(mut cmd: Command, rows: u16, cols: u16) -> Terminal {
        use std::os::fd::FromRawFd;
        use std::os::unix::process::CommandExt;
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        assert_eq!(unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) }, 0, "openpty");
        let stdio = || unsafe { Stdio::from_raw_fd(libc::dup(slave)) };
        cmd.stdin(stdio()).stdout(stdio()).stderr(stdio());
        // Its own session with the terminal as controlling tty, as a login shell has.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("kubectl runs");
        unsafe { libc::close(slave) };
        let master = unsafe { std::fs::File::from_raw_fd(master) };
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (mut reader, sink) = (master.try_clone().unwrap(), output.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once the child side closes.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal { master, child, output }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.text().contains(what) {
            assert!(Instant::now() < deadline, "{what:?} never appeared on the terminal: {:?}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_line(&mut self, line: &str) {
        self.master.write_all(format!("{line}\r").as_bytes()).unwrap();
    }

    /// Changes the window size; the kernel tells kubectl with SIGWINCH.
    fn resize(&self, rows: u16, cols: u16) {
        use std::os::fd::AsRawFd;
        let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        assert_eq!(unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) }, 0);
    }
}

#[test]
fn exec_with_a_terminal_and_a_resize_with_every_kubectl() {
    let c = node_cluster();
    let ns = namespace(c, "tty");
    run_pod(c, &ns, "shell", "busybox:1.35", "sleep 3600");
    wait_ready(c, &ns, "shell");
    for minor in MINORS {
        let mut term = Terminal::spawn(kubectl(c, minor, &["exec", "-it", "-n", &ns, "shell", "--", "sh"]), 40, 100);
        term.wait_for("/ # ");
        term.type_line("stty size");
        term.wait_for("40 100");
        term.resize(30, 90);
        // The resize travels as its own message; ask until the shell sees it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !term.text().contains("30 90") {
            assert!(Instant::now() < deadline, "1.{minor}: the resize never arrived: {:?}", term.text());
            term.type_line("stty size");
            std::thread::sleep(Duration::from_millis(300));
        }
        term.type_line("exit 7");
        let status = wait_child(&mut term.child, Duration::from_secs(20));
        assert_eq!(status.code(), Some(7), "1.{minor}: {:?}", term.text());
        assert!(term.text().contains("command terminated with exit code 7"), "1.{minor}: {:?}", term.text());
    }
}

fn wait_child(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn attach_sees_the_containers_output() {
    let c = node_cluster();
    let ns = namespace(c, "attach");
    run_pod(c, &ns, "ticker", "busybox:1.35", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done");
    wait_ready(c, &ns, "ticker");
    for minor in [27, 33] {
        let mut child = kubectl(c, minor, &["attach", "-n", &ns, "ticker"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let second = lines.next().unwrap().unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let number = |l: &str| l.strip_prefix("tick ").and_then(|n| n.parse::<u64>().ok()).unwrap_or_else(|| panic!("1.{minor}: {l:?}"));
        assert_eq!(number(&second), number(&first) + 1, "1.{minor}: live output, in order");
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// 200 streams (exec with stdin, logs -f, port-forward with an open connection) dropped by
/// clients killed mid-stream: the server's open files fall back to where they were, so no
/// stream, connection or task holding one is left behind.
#[test]
fn abandoned_streams_leave_nothing_open() {
    let c = node_cluster();
    let ns = namespace(c, "abandon");
    run_pod(c, &ns, "box", "busybox:1.35", "while true; do echo still here; sleep 1; done");
    c.ok(&["run", "web", "-n", &ns, "--image=nginx:1.22", "--port=80"]);
    wait_ready(c, &ns, "box");
    wait_ready(c, &ns, "web");
    let pid = c.pid();
    // Settle what the cluster opens anyway (watches, caches) before the baseline: the count
    // holds still for half a second.
    c.ok(&["exec", "-n", &ns, "box", "--", "true"]);
    let mut last = open_fds(pid);
    wait_until(Duration::from_secs(15), "corekube's open files to settle", || {
        std::thread::sleep(Duration::from_millis(500));
        let now = open_fds(pid);
        std::mem::replace(&mut last, now) == now
    });
    let baseline = open_fds(pid);
    let mut peak = baseline;
    for batch in 0..10 {
        let mut clients = Vec::new();
        for i in 0..20 {
            let child = match i % 3 {
                0 => kubectl(c, 33, &["exec", "-i", "-n", &ns, "box", "--", "sleep", "20"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
                1 => kubectl(c, if batch % 2 == 0 { 33 } else { 27 }, &["logs", "-f", "-n", &ns, "box"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
                _ => kubectl(c, if batch % 2 == 0 { 33 } else { 27 }, &["exec", "-n", &ns, "box", "--", "sleep", "20"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap(),
            };
            clients.push(child);
        }
        let (forward, port) = port_forward(c, 33, &ns, "pod/web", 80);
        let mut held = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        held.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        // Wait until the streams are open (the server holds files for them), then drop them.
        let deadline = Instant::now() + Duration::from_secs(15);
        while open_fds(pid) < baseline + 20 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        peak = peak.max(open_fds(pid));
        for mut child in clients.into_iter().chain([forward]) {
            let _ = child.kill();
            let _ = child.wait();
        }
        drop(held);
    }
    let mut now = open_fds(pid);
    // Exec sessions whose client left end with their command (sleep 20) at the latest.
    let deadline = Instant::now() + Duration::from_secs(45);
    while now > baseline + 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        now = open_fds(pid);
    }
    println!("open files of corekube: baseline {baseline}, peak {peak}, after {now}");
    assert!(peak >= baseline + 20, "the streams were really open (peak {peak}, baseline {baseline})");
    assert!(now <= baseline + 5, "open files fell back: baseline {baseline}, peak {peak}, after {now}");
}

/// Reads kubectl port-forward's "Forwarding from 127.0.0.1:LOCAL -> REMOTE" lines until every
/// remote port has one; returns the local ports in `remotes`' order.
fn forwarded_ports(child: &mut std::process::Child, remotes: &[u16]) -> Vec<u16> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut found = std::collections::HashMap::new();
    let mut line = String::new();
    while found.len() < remotes.len() {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "port-forward ended early");
        if let Some(rest) = line.trim().strip_prefix("Forwarding from 127.0.0.1:") {
            let (local, remote) = rest.split_once(" -> ").unwrap();
            found.insert(remote.parse::<u16>().unwrap(), local.parse::<u16>().unwrap());
        }
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    remotes.iter().map(|r| found[r]).collect()
}

#[test]
fn port_forward_of_several_ports_and_of_a_port_with_nothing_listening() {
    let c = node_cluster();
    let ns = namespace(c, "ports");
    run_pod(c, &ns, "two", "busybox:1.35", "mkdir -p /a /b; echo A > /a/index.html; echo B > /b/index.html; httpd -p 8080 -h /a; httpd -f -p 8081 -h /b");
    wait_ready(c, &ns, "two");
    for minor in [27, 33] {
        let mut child = kubectl(c, minor, &["port-forward", "-n", &ns, "pod/two", ":8080", ":8081"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let ports = forwarded_ports(&mut child, &[8080, 8081]);
        let a = http_get("127.0.0.1", ports[0]);
        let b = http_get("127.0.0.1", ports[1]);
        let _ = child.kill();
        let _ = child.wait();
        assert!(a.as_deref().is_ok_and(|p| p.ends_with("\r\n\r\nA\n")), "1.{minor}: {a:?}");
        assert!(b.as_deref().is_ok_and(|p| p.ends_with("\r\n\r\nB\n")), "1.{minor}: {b:?}");

        // Nothing on 9999: the connection is closed, and kubectl reports the runtime's error.
        let mut child = kubectl(c, minor, &["port-forward", "-n", &ns, "pod/two", ":9999"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let port = forwarded_ports(&mut child, &[9999])[0];
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let mut got = Vec::new();
        let read = s.read_to_end(&mut got);
        assert!(read.is_ok() && got.is_empty(), "1.{minor}: the connection closes with nothing read: {read:?} {got:?}");
        let status = wait_child(&mut child, Duration::from_secs(20));
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(!status.success(), "1.{minor}: kubectl gives up on the lost connection");
        assert!(stderr.contains("-> 9999") && stderr.contains("connection refused"), "1.{minor}: {stderr}");
    }
}

#[test]
fn a_container_that_ends_mid_exec_ends_the_exec() {
    let c = node_cluster();
    let ns = namespace(c, "midexec");
    for minor in [27, 33] {
        let pod = format!("victim-{minor}");
        run_pod(c, &ns, &pod, "busybox:1.35", "sleep 3600");
        wait_ready(c, &ns, &pod);
        let mut exec = kubectl(c, minor, &["exec", "-n", &ns, &pod, "--", "sleep", "300"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        wait_until(Duration::from_secs(20), "the exec'd sleep to run", || c.ok(&["exec", "-n", &ns, &pod, "--", "ps"]).contains("sleep 300"));
        c.ok(&["delete", "pod", "-n", &ns, &pod, "--grace-period=1", "--wait=false"]);
        let status = wait_child(&mut exec, Duration::from_secs(30));
        let mut stderr = String::new();
        exec.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(137), "1.{minor}: killed with the container: {stderr}");
    }
}

/// A log past `--container-log-max-size` (10Mi here) is rotated within the 10 s check: the
/// runtime reopens the file and goes on writing to the new one, which `kubectl logs` reads.
#[test]
fn a_log_over_its_size_limit_is_rotated_and_logging_goes_on() {
    let c = node_cluster();
    let ns = namespace(c, "rotate");
    let line = "y".repeat(1023);
    run_pod(c, &ns, "chatty", "busybox:1.35", &format!("yes {line} | head -c 12582912; while true; do echo after $(date +%s); sleep 1; done"));
    wait_ready(c, &ns, "chatty");
    let uid = jsonpath(c, &ns, "pod/chatty", "{.metadata.uid}");
    let dir = c.data_dir().join("kubelet/logs").join(format!("{ns}_chatty_{uid}")).join("chatty");
    wait_until(Duration::from_secs(40), "a rotated log file", || {
        std::fs::read_dir(&dir).map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("0.log."))).unwrap_or(false)
    });
    // The live file started again small, and the runtime writes to it (it reopened the file).
    let size = || std::fs::metadata(dir.join("0.log")).map(|m| m.len()).unwrap_or(0);
    wait_until(Duration::from_secs(10), "the live log to exist again", || size() > 0);
    let before = size();
    assert!(before < 1 << 20, "the live log restarted small ({before} bytes)");
    wait_until(Duration::from_secs(10), "the reopened log to grow", || size() > before);
    assert!(c.ok(&["logs", "-n", &ns, "chatty", "--tail=1"]).starts_with("after "));
}
