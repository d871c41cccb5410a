//! The processes the benchmark owns: an etcd (corekube-testsupport's, as the tests use) and
//! `corekube server` instances on free loopback ports. They get a parent-death signal, so they
//! end with the benchmark even if it is killed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use corekube_testsupport::{free_port, log_tail, spawn_owned, EtcdProcess};

use crate::api::Api;

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
                return Err(format!("{} exited ({status}); last log lines:\n{}", self.name, log_tail(&self.log, 20)));
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
    pub process: EtcdProcess,
    /// Seconds from spawn to answering a health request.
    pub ready_secs: f64,
}

/// Starts a single-member etcd with its data under `dir` and waits until it answers.
pub async fn start_etcd(binary: &str, dir: &Path) -> Result<EtcdProc, String> {
    let (binary, dir) = (binary.to_string(), dir.to_path_buf());
    let t = Instant::now();
    // The start waits for etcd on a blocking thread, so the runtime's other tasks keep running.
    let process = tokio::task::spawn_blocking(move || EtcdProcess::start_binary(&binary, &dir)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    Ok(EtcdProc { process, ready_secs: t.elapsed().as_secs_f64() })
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
        None => free_port().map_err(|e| format!("no free loopback port: {e}"))?,
    };
    let mut cmd = Command::new(binary);
    cmd.arg("server").arg("--data-dir").arg(data_dir).args(["--secure-port", &port.to_string(), "--log-level", "warn"]);
    if let Some(url) = etcd {
        cmd.args(["--etcd-servers", url]);
    }
    cmd.args(extra);
    // Several corekubes run at once here (the main one, footprint's, a section's own), each
    // with its node: their kubelet APIs take free ports rather than all wanting 10250.
    if !extra.contains(&"--kubelet-port") {
        cmd.args(["--kubelet-port", "0"]);
    }
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
            return Err(format!("corekube was not ready within 60 s; log:\n{}", log_tail(&proc.log, 30)));
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
