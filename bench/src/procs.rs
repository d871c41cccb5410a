//! The processes the benchmark owns: an etcd and `corekube server` instances on free loopback
//! ports. They get a parent-death signal, so they end with the benchmark even if it is killed.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::api::Api;

pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Spawns from one long-lived thread: the parent-death signal fires when the spawning thread
/// exits, and tokio's blocking threads come and go.
fn spawn_owned(mut cmd: Command) -> std::io::Result<Child> {
    type Req = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: std::sync::OnceLock<std::sync::Mutex<mpsc::Sender<Req>>> = std::sync::OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Req>();
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
    cmd.stdin(Stdio::null());
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner.lock().unwrap().send((cmd, reply_tx)).map_err(|e| std::io::Error::other(e.to_string()))?;
    reply_rx.recv().map_err(|e| std::io::Error::other(e.to_string()))?
}

/// A child process, stopped (SIGTERM, then SIGKILL after 10 s) when dropped.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Result<Proc, String> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdout(file.try_clone().map_err(|e| e.to_string())?).stderr(file);
        let child = spawn_owned(cmd).map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Proc { name: name.into(), pid: child.id(), child: Some(child), log })
    }

    /// Returns an error with the log's tail if the process has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                return Err(format!("{} exited ({status}); last log lines:\n{}", self.name, tail(&self.log, 20)));
            }
        }
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && c.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// VmRSS of a process in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A process's command name and the fields of `/proc/PID/stat` after it: `fields[0]` is field 3
/// (state), `fields[1]` the parent's pid, `fields[11]` and `fields[12]` utime and stime.
pub fn proc_stat(pid: u32) -> Option<(String, Vec<String>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is parenthesized and may itself contain spaces or parentheses.
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    Some((comm, rest.split_whitespace().map(str::to_string).collect()))
}

/// CPU time in seconds (user and system, every thread's, exited threads included) a process
/// has used so far.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let (_, fields) = proc_stat(pid)?;
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_sec > 0).then(|| ticks as f64 / per_sec as f64)
}

pub struct EtcdProc {
    pub proc: Proc,
    pub url: String,
    /// Seconds from spawn to answering a status request.
    pub ready_secs: f64,
}

/// Starts a single-member etcd with its data under `dir` and waits until it answers.
pub async fn start_etcd(binary: &str, dir: &Path) -> Result<EtcdProc, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (client, peer) = (free_port()?, free_port()?);
    let url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut cmd = Command::new(binary);
    cmd.args(["--name", "bench", "--data-dir"])
        .arg(dir.join("data"))
        .args(["--listen-client-urls", &url, "--advertise-client-urls", &url])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("bench={peer_url}"), "--listen-metrics-urls", ""]);
    let t = Instant::now();
    let mut proc = Proc::spawn("etcd", cmd, dir.join("etcd.log"))
        .map_err(|e| format!("{e}. Install etcd with: apt-get install etcd-server"))?;
    let deadline = t + Duration::from_secs(30);
    loop {
        proc.check_alive()?;
        let probe = async {
            let mut c = etcd_client::Client::connect([url.as_str()], None).await?;
            c.status().await
        };
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), probe).await {
            return Ok(EtcdProc { proc, url, ready_secs: t.elapsed().as_secs_f64() });
        }
        if Instant::now() > deadline {
            return Err(format!("etcd did not answer within 30 s; log:\n{}", tail(&proc.log, 20)));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub struct CorekubeProc {
    pub proc: Proc,
    pub port: u16,
    pub api: Api,
    /// Seconds from spawn to the first `/readyz` 200.
    pub ready_secs: f64,
}

/// Starts `corekube scheduler` against the API server a kubeconfig names.
pub fn start_scheduler(binary: &Path, kubeconfig: &Path, log: PathBuf) -> Result<Proc, String> {
    let mut cmd = Command::new(binary);
    cmd.arg("scheduler").arg("--kubeconfig").arg(kubeconfig).args(["--log-level", "warn"]);
    Proc::spawn("corekube scheduler", cmd, log)
}

/// Starts `corekube server` on a free port with its data in `data_dir` (on `etcd`, or with its
/// own managed etcd when `None`) and waits for `/readyz` 200, polling every 10 ms.
pub async fn start_corekube(binary: &Path, data_dir: &Path, etcd: Option<&str>, port: Option<u16>, extra: &[&str]) -> Result<CorekubeProc, String> {
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let port = match port {
        Some(p) => p,
        None => free_port()?,
    };
    let mut cmd = Command::new(binary);
    cmd.arg("server").arg("--data-dir").arg(data_dir).args(["--secure-port", &port.to_string(), "--log-level", "warn"]);
    if let Some(url) = etcd {
        cmd.args(["--etcd-servers", url]);
    }
    cmd.args(extra);
    let log = data_dir.parent().unwrap_or(data_dir).join(format!("corekube-{port}.log"));
    let t = Instant::now();
    let mut proc = Proc::spawn("corekube", cmd, log)?;
    let kubeconfig = data_dir.join("admin.kubeconfig");
    let deadline = t + Duration::from_secs(60);
    let mut api: Option<Api> = None;
    loop {
        proc.check_alive()?;
        if api.is_none() && kubeconfig.exists() {
            api = Api::from_kubeconfig(&kubeconfig, None).await.ok();
        }
        if let Some(a) = &api {
            if let Ok((200, _)) = a.call(http::Method::GET, "/readyz", None, Vec::new()).await {
                let ready_secs = t.elapsed().as_secs_f64();
                return Ok(CorekubeProc { proc, port, api: a.clone(), ready_secs });
            }
        }
        if Instant::now() > deadline {
            return Err(format!("corekube was not ready within 60 s; log:\n{}", tail(&proc.log, 30)));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_secs_follows_the_cpu_a_process_uses() {
        let me = std::process::id();
        let start = cpu_secs(me).expect("this process's CPU time");
        // Spin until the kernel has counted 50 ms more (a few clock ticks), bounded by time.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut x = 0u64;
        while cpu_secs(me).unwrap() < start + 0.05 {
            assert!(Instant::now() < deadline, "50 ms of CPU not counted within 10 s");
            for i in 0..100_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
        }
        assert_eq!(cpu_secs(u32::MAX), None);
    }
}
