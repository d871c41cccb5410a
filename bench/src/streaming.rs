//! streaming (issue 22): what a user's `kubectl logs`, `port-forward` and `exec` cost beside
//! the same run's direct route to the same bytes. corekube runs with its node on etcd; the real
//! kubectl on PATH is the client.
//!
//! - `kubectl logs` of a 100 MiB log (1 KiB lines) to /dev/null, beside reading the same log
//!   file straight from disk and taking the lines out of their CRI records in this process;
//! - 100 MiB through `kubectl port-forward` from busybox httpd, beside a direct TCP connection
//!   to the pod's IP over the node's bridge;
//! - `kubectl exec POD -- true`, p50 of 20, beside raw CRI ExecSync of `true` on the node's
//!   containerd (the `crictl exec` route: no API server, no kubelet, no kubectl start-up).
//!
//! Each throughput is the best of three runs (the runs are short and the machine noisy).

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http::Method;
use serde_json::json;

use crate::api::{Api, JSON};
use crate::load::Summary;
use crate::procs::{start_corekube, start_etcd};
use crate::report::{emit, Row, Target};
use crate::Env;

const NS: &str = "streaming-bench";
/// A pod range of its own, away from a cluster a developer may be running.
const POD_CIDR: &str = "10.42.241.0/24";
const LOG_BYTES: u64 = 100 << 20;
const LINE: usize = 1024;
const TRANSFER_BYTES: u64 = 100 << 20;
const EXEC_RUNS: usize = 20;

fn pod(name: &str, script: &str) -> Vec<u8> {
    let spec = json!({"containers": [{"name": "c", "image": "busybox:1.35", "command": ["sh", "-c", script]}], "terminationGracePeriodSeconds": 1});
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": spec})).unwrap()
}

async fn wait_ready(api: &Api, name: &str) -> Result<serde_json::Value, String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let p = api.get_json(&format!("/api/v1/namespaces/{NS}/pods/{name}")).await?;
        if p["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")) {
            return Ok(p);
        }
        if Instant::now() > deadline {
            return Err(format!("pod {name} not Ready within 90 s"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    cmd
}

fn mib_per_s(bytes: u64, t: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / t.as_secs_f64()
}

/// Reads a CRI log file and keeps the content of each record (what the kubelet must do).
fn read_log_directly(path: &Path) -> Result<u64, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut r = std::io::BufReader::with_capacity(64 * 1024, f);
    let (mut line, mut content) = (Vec::with_capacity(2048), 0u64);
    let mut sink = std::io::sink();
    while r.read_until(b'\n', &mut line).map_err(|e| e.to_string())? > 0 {
        // "TIMESTAMP STREAM TAG content\n"
        let mut spaces = 0;
        let start = line.iter().position(|b| {
            spaces += (*b == b' ') as u32;
            spaces == 3
        });
        let body = &line[start.map_or(line.len(), |s| s + 1)..];
        sink.write_all(body).map_err(|e| e.to_string())?;
        content += body.len() as u64;
        line.clear();
    }
    Ok(content)
}

/// The body bytes of `GET /big` on `addr`, and how long they took to arrive. It stops at
/// Content-Length, as curl does, rather than waiting for the close: through a port-forward the
/// close arrives about a second after the last byte (containerd's port forwarder ends the
/// stream only when the client's side ends too), which is not throughput.
fn http_fetch(addr: &str) -> Result<(u64, Duration), String> {
    let t = Instant::now();
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut head, mut body, mut want) = (Vec::new(), 0u64, None::<u64>);
    loop {
        let n = s.read(&mut buf).map_err(|e| format!("{addr}: {e}"))?;
        if n == 0 {
            break;
        }
        match want {
            Some(_) => body += n as u64,
            None => {
                head.extend_from_slice(&buf[..n]);
                if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                    let length = text.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
                    want = Some(length.ok_or_else(|| format!("no Content-Length from {addr}"))?);
                    body = (head.len() - end - 4) as u64;
                }
            }
        }
        if want.is_some_and(|w| body >= w) {
            break;
        }
    }
    Ok((body, t.elapsed()))
}

/// The median of latencies in nanoseconds, in milliseconds.
fn p50(lat_ns: Vec<u64>) -> f64 {
    Summary::from_latencies(lat_ns, 0, None, 0.0).p50()
}

fn best_of<T: Copy + PartialOrd>(runs: impl IntoIterator<Item = Result<T, String>>, better: fn(T, T) -> bool) -> Result<T, String> {
    let mut best: Option<T> = None;
    for r in runs {
        let v = r?;
        if best.is_none_or(|b| better(v, b)) {
            best = Some(v);
        }
    }
    best.ok_or_else(|| "no runs".into())
}

/// The live log file of a pod's only container on the node (`logs/NS_NAME_UID/c/0.log`).
fn log_file(data: &Path, pod: &serde_json::Value) -> PathBuf {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    data.join("kubelet/logs").join(format!("{NS}_{}_{uid}", pod["metadata"]["name"].as_str().unwrap_or_default())).join("c/0.log")
}

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let bin = env.corekube_bin.clone()?;
    let dir = env.workdir.join("streaming");
    let images = dir.join("images");
    let build = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../images/build")).arg(&images).output().map_err(|e| format!("images/build: {e}"))?;
    if !build.status.success() {
        return Err(format!("images/build failed: {}", String::from_utf8_lossy(&build.stderr)));
    }
    let etcd = start_etcd(&env.etcd_binary, &dir.join("etcd")).await?;
    let images_arg = images.display().to_string();
    // Logs are not rotated during the measurement (the default rotates at 10 MiB).
    let node_args = ["--node-name", "stream-bench", "--pod-cidr", POD_CIDR, "--image-dir", images_arg.as_str(), "--container-log-max-size", "1Gi"];
    let data = dir.join("data");
    let ck = start_corekube(&bin, &data, Some(&etcd.process.url()), None, &node_args).await?;
    let api = ck.api.clone();
    let kubeconfig = data.join("admin.kubeconfig");
    api.ensure_namespace(NS).await?;
    let mut details = serde_json::Map::new();

    // Logs: 100 MiB of 1 KiB lines, written once, read three times each way.
    let line = "x".repeat(LINE - 1);
    let script = format!("yes {line} | head -c {LOG_BYTES}; echo written >&2; sleep 3600");
    api.ok(Method::POST, &format!("/api/v1/namespaces/{NS}/pods"), Some(JSON), pod("logger", &script)).await?;
    let logger = wait_ready(&api, "logger").await?;
    let path = log_file(&data, &logger);
    // Written when the file has stopped growing past 100 MiB (the records add their prefixes).
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = 0;
    loop {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if size >= LOG_BYTES && size == last {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the 100 MiB log was not written within 120 s ({}: {size} bytes)", path.display()));
        }
        last = size;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let direct = best_of(
        (0..3).map(|_| {
            let t = Instant::now();
            read_log_directly(&path).map(|n| mib_per_s(n, t.elapsed()))
        }),
        |a, b| a > b,
    )?;
    // Once through a pipe, to check every byte arrives; then timed into /dev/null, as the
    // baseline's bytes go nowhere: kubectl writes each line with its own write(2), so a pipe's
    // reader or a file on this disk would be what the figure measured.
    let mut check = kubectl(&kubeconfig, &["logs", "-n", NS, "logger"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?;
    let got = std::io::copy(&mut check.stdout.take().unwrap(), &mut std::io::sink()).map_err(|e| e.to_string())?;
    let _ = check.wait();
    if got < LOG_BYTES {
        return Err(format!("kubectl logs gave {got} bytes of {LOG_BYTES}"));
    }
    let through_kubectl = best_of(
        (0..3).map(|_| {
            let null = std::fs::File::create("/dev/null").map_err(|e| e.to_string())?;
            let t = Instant::now();
            let status = kubectl(&kubeconfig, &["logs", "-n", NS, "logger"]).stdout(null).stderr(Stdio::null()).status().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("kubectl logs: {status}"));
            }
            Ok(mib_per_s(got, t.elapsed()))
        }),
        |a, b| a > b,
    )?;
    emit(rows, Row::new("streaming", "kubectl logs of a 100 MiB log", "MiB/s", Some(through_kubectl), Some(direct)).note("baseline: the log file read and parsed directly").target(Target::RatioAtLeast(0.5)));
    details.insert("logs".into(), json!({"kubectl_mib_s": through_kubectl, "direct_mib_s": direct}));

    // Port-forward: busybox httpd serving a 100 MiB file.
    let script = format!("mkdir -p /tmp/www && head -c {TRANSFER_BYTES} /dev/zero > /tmp/www/big && httpd -f -p 8080 -h /tmp/www");
    let server = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "server", "namespace": NS}, "spec": {
        "containers": [{"name": "c", "image": "busybox:1.35", "command": ["sh", "-c", script],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}],
        "terminationGracePeriodSeconds": 1}});
    api.ok(Method::POST, &format!("/api/v1/namespaces/{NS}/pods"), Some(JSON), serde_json::to_vec(&server).unwrap()).await?;
    let server = wait_ready(&api, "server").await?;
    let ip = server["status"]["podIP"].as_str().ok_or("the server pod has no IP")?.to_string();
    let direct_addr = format!("{ip}:8080");
    let direct = best_of((0..3).map(|_| http_fetch(&direct_addr).map(|(n, t)| mib_per_s(n, t))), |a, b| a > b)?;
    let mut forward = kubectl(&kubeconfig, &["port-forward", "-n", NS, "pod/server", ":8080"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?;
    let mut out = std::io::BufReader::new(forward.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).map_err(|e| e.to_string())?;
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let local = first.split("127.0.0.1:").nth(1).and_then(|r| r.split(' ').next()).map(|p| format!("127.0.0.1:{p}")).ok_or_else(|| format!("port-forward said {first:?}"))?;
    let forwarded = best_of(
        (0..3).map(|_| {
            let (n, t) = http_fetch(&local)?;
            if n < TRANSFER_BYTES {
                return Err(format!("port-forward carried {n} bytes"));
            }
            Ok(mib_per_s(n, t))
        }),
        |a, b| a > b,
    );
    let _ = forward.kill();
    let _ = forward.wait();
    let forwarded = forwarded?;
    emit(rows, Row::new("streaming", "kubectl port-forward of 100 MiB", "MiB/s", Some(forwarded), Some(direct)).note("baseline: direct TCP to the pod IP").target(Target::RatioAtLeast(0.5)));
    details.insert("port_forward".into(), json!({"kubectl_mib_s": forwarded, "direct_mib_s": direct}));

    // Exec round trip.
    let cri = corekube_kubelet::cri::Cri::connect(&data.join("kubelet/containerd/containerd.sock")).map_err(|e| e.to_string())?;
    let labels = std::collections::HashMap::from([("io.kubernetes.pod.name".to_string(), "server".to_string())]);
    let id = cri.containers_labelled(labels).await.map_err(|e| e.to_string())?.into_iter().find(|c| c.state == corekube_kubelet::cri::ContainerState::ContainerRunning as i32).map(|c| c.id).ok_or("no running server container")?;
    let mut raw = Vec::new();
    for _ in 0..EXEC_RUNS {
        let t = Instant::now();
        let r = cri.exec_sync(&id, vec!["true".into()], Duration::from_secs(10)).await.map_err(|e| e.to_string())?;
        if r.exit_code != 0 {
            return Err(format!("ExecSync true exited {}", r.exit_code));
        }
        raw.push(t.elapsed().as_nanos() as u64);
    }
    let mut ours = Vec::new();
    for _ in 0..EXEC_RUNS {
        let t = Instant::now();
        let status = kubectl(&kubeconfig, &["exec", "-n", NS, "server", "--", "true"]).stdout(Stdio::null()).stderr(Stdio::null()).status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("kubectl exec true failed".into());
        }
        ours.push(t.elapsed().as_nanos() as u64);
    }
    let kubectl_start = {
        let mut v = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let _ = Command::new("kubectl").args(["version", "--client"]).stdout(Stdio::null()).status();
            v.push(t.elapsed().as_nanos() as u64);
        }
        p50(v)
    };
    let (ours, raw) = (p50(ours), p50(raw));
    emit(rows, Row::new("streaming", "kubectl exec POD -- true, p50", "ms", Some(ours), Some(raw)).note(format!("baseline: raw CRI ExecSync; kubectl's own start-up is {kubectl_start:.0} ms of it")));
    details.insert("exec".into(), json!({"kubectl_p50_ms": ours, "raw_exec_sync_p50_ms": raw, "kubectl_start_ms": kubectl_start}));
    env.details.insert("streaming".into(), serde_json::Value::Object(details));

    for name in ["logger", "server"] {
        let _ = api.call(Method::DELETE, &format!("/api/v1/namespaces/{NS}/pods/{name}?gracePeriodSeconds=0"), None, Vec::new()).await;
    }
    drop(ck);
    drop(etcd);
    Ok(())
}
