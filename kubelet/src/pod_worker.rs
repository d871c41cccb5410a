//! One worker per pod, an explicit state machine as upstream's pod workers: Syncing (make the
//! runtime match the spec and report status), Terminating (stop the containers within the
//! grace period, then finish the API deletion), Terminated (nothing runs; wait to be
//! forgotten). Updates come from the pod watch and from the runtime relist (PLEG).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{ConfigMap, Container, PersistentVolume, PersistentVolumeClaim, Pod, PodStatus, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::events::{Event, EventType};
use kube::Resource;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cri::{self, Cri};
use crate::env::{self, Sources};
use crate::pod_status::{self, is_exited, is_running, ObservedContainer, Observed};
use crate::prober::{Kind, PodProbes, Report, Target};
use crate::runtime_config::{self, NodeContext, Resolved};
use crate::{hooks, labels, volumes, Shared};

/// What the runtime has of one pod, from the last relist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRuntime {
    pub sandboxes: Vec<cri::PodSandbox>,
    pub containers: Vec<cri::Container>,
}

/// What a worker is told.
#[derive(Debug)]
pub enum Update {
    /// The pod as the API server has it now.
    Pod(Box<Pod>),
    /// The runtime's view of the pod changed: what a relist that started at that instant saw.
    Runtime(PodRuntime, Instant),
    /// The pod is no longer in the API (deleted, or bound elsewhere): stop everything.
    Gone,
    /// The kubelet is stopping: stop the pod's containers (or leave them, when `false`).
    Shutdown { stop_containers: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Syncing,
    Terminating,
    Terminated,
}

/// CrashLoopBackOff bookkeeping of one container, as upstream's: 10 s doubling to 5 minutes.
#[derive(Clone, Copy, Debug)]
struct Backoff {
    delay: Duration,
    /// When the failed instance finished: the next restart waits until `since + delay`.
    since: SystemTime,
}

const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A container that ran this long before it exited starts its back-off afresh.
const BACKOFF_RESET: Duration = Duration::from_secs(600);
/// How often a worker re-syncs without being told anything.
const RESYNC: Duration = Duration::from_secs(10);
/// The longest a pod's containers get to stop when the kubelet itself stops.
const SHUTDOWN_GRACE_SECONDS: i64 = 5;

pub struct Worker {
    shared: Arc<Shared>,
    pod: Pod,
    runtime: PodRuntime,
    state: State,
    restart_backoff: HashMap<String, Backoff>,
    image_backoff: HashMap<String, Backoff>,
    /// The kubelet's own reason a container is not running (ErrImagePull, ...).
    waiting: HashMap<String, (String, String)>,
    /// Sandbox id -> pod IP, read once per sandbox.
    sandbox_ips: HashMap<String, String>,
    last_status: Option<PodStatus>,
    /// Events already recorded (reason + message), so a level-triggered sync reports each once.
    recorded: HashSet<(String, String)>,
    wake_at: Option<Instant>,
    /// The liveness, readiness and startup probes of the pod's running containers.
    probes: PodProbes,
    /// Sandboxes and containers this worker created, with when: a relist that started before
    /// one was created cannot have seen it, and must not make the worker create it again.
    created: Vec<(Instant, Created)>,
}

/// Something a worker created in the runtime.
#[derive(Clone, Debug)]
enum Created {
    Sandbox(cri::PodSandbox),
    Container(cri::Container),
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn label<'a>(labels: &'a HashMap<String, String>, key: &str) -> &'a str {
    labels.get(key).map(String::as_str).unwrap_or_default()
}

fn from_nanos(nanos: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos.max(0) as u64)
}

impl Worker {
    pub fn new(shared: Arc<Shared>, pod: Pod) -> Worker {
        Worker {
            shared,
            pod,
            runtime: PodRuntime::default(),
            state: State::Syncing,
            restart_backoff: HashMap::new(),
            image_backoff: HashMap::new(),
            waiting: HashMap::new(),
            sandbox_ips: HashMap::new(),
            last_status: None,
            recorded: HashSet::new(),
            wake_at: None,
            created: Vec::new(),
            probes: PodProbes::default(),
        }
    }

    /// Runs until the pod is gone and cleaned up, or the kubelet stops.
    pub async fn run(mut self, mut updates: mpsc::Receiver<Update>) {
        loop {
            let wake = self.wake_at.unwrap_or_else(|| Instant::now() + RESYNC);
            // None: the worker's own timer (a back-off ending, a periodic resync).
            let update = tokio::select! {
                u = updates.recv() => match u { Some(u) => Some(u), None => return },
                Some(report) = self.probes.rx.recv() => {
                    self.take_probe_report(report).await;
                    None
                }
                _ = tokio::time::sleep_until(wake) => None,
            };
            self.wake_at = None;
            tracing::trace!(pod = %self.key(), update = ?update.as_ref().map(std::mem::discriminant), "pod worker woken");
            match update {
                None => {}
                Some(Update::Pod(pod)) => self.pod = *pod,
                Some(Update::Runtime(rt, listed_at)) => self.take_relist(rt, listed_at),
                Some(Update::Gone) => {
                    self.kill(Some(2)).await;
                    self.forget();
                    return;
                }
                Some(Update::Shutdown { stop_containers }) => {
                    if stop_containers {
                        // Bounded, so that stopping the node never takes a pod's full grace
                        // period; nothing is left behind (no container, shim or netns).
                        let grace = self.grace_seconds().min(SHUTDOWN_GRACE_SECONDS);
                        self.kill(Some(grace)).await;
                        remove_sandboxes(&self.shared.cri, &self.runtime.sandboxes).await;
                        volumes::unmount_memory(&self.shared.root_dir, &uid(&self.pod));
                    }
                    return;
                }
            }
            if self.step().await {
                return;
            }
        }
    }

    /// One step of the state machine; true when the worker is done.
    async fn step(&mut self) -> bool {
        if self.pod.metadata.deletion_timestamp.is_some() && self.state != State::Terminating {
            self.state = State::Terminating;
        }
        match self.state {
            State::Syncing => {
                if let Err(e) = self.sync().await {
                    tracing::warn!(pod = %self.key(), error = %e, "pod sync failed; will retry");
                    self.wake_in(Duration::from_secs(2));
                }
                if matches!(self.last_status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")) {
                    // A finished pod keeps its containers (for logs) but not its sandbox.
                    for s in self.runtime.sandboxes.iter().filter(|s| s.state == cri::PodSandboxState::SandboxReady as i32) {
                        let _ = self.shared.cri.stop_pod_sandbox(&s.id).await;
                    }
                    self.state = State::Terminated;
                }
                false
            }
            State::Terminating => {
                self.kill(None).await;
                self.finish_deletion().await;
                self.state = State::Terminated;
                false
            }
            State::Terminated => false,
        }
    }

    /// A probe failed, or its verdict changed: an `Unhealthy` event for each failure; a
    /// container whose liveness or startup probe failed is killed (and restarted by its
    /// restart policy on the next sync).
    async fn take_probe_report(&mut self, report: Report) {
        match report {
            Report::Failed { kind, message, .. } => {
                self.record(EventType::Warning, "Unhealthy", format!("{} probe failed: {message}", kind.title())).await;
            }
            Report::Verdict { container, container_id, kind, healthy, .. } => {
                if !self.probes.take(&container, &container_id, kind, healthy) || healthy || kind == Kind::Readiness {
                    return;
                }
                let spec = self.pod.spec.as_ref().and_then(|s| s.containers.iter().find(|c| c.name == container)).cloned();
                let probe_grace = spec.as_ref().and_then(|c| if kind == Kind::Liveness { c.liveness_probe.as_ref() } else { c.startup_probe.as_ref() }).and_then(|p| p.termination_grace_period_seconds);
                let what = if kind == Kind::Liveness { "liveness" } else { "startup" };
                let note = format!("Container {container} failed {what} probe, will be restarted");
                self.recorded.remove(&("Killing".to_string(), note.clone()));
                self.record(EventType::Normal, "Killing", note).await;
                self.probes.stop(&container);
                if let Err(e) = self.shared.cri.stop_container(&container_id, probe_grace.unwrap_or_else(|| self.grace_seconds())).await {
                    tracing::warn!(pod = %self.key(), container, error = %e, "stopping a container that failed its probe");
                }
                // Its restart is not held back by an earlier crash loop's back-off window.
                self.poke_soon();
            }
        }
    }

    /// Takes a relist's view, adding what this worker created after the relist started.
    fn take_relist(&mut self, mut rt: PodRuntime, listed_at: Instant) {
        self.created.retain(|(at, _)| *at >= listed_at);
        for (_, c) in &self.created {
            match c {
                Created::Sandbox(s) if !rt.sandboxes.iter().any(|x| x.id == s.id) => rt.sandboxes.push(s.clone()),
                Created::Container(c) if !rt.containers.iter().any(|x| x.id == c.id) => rt.containers.push(c.clone()),
                _ => {}
            }
        }
        self.runtime = rt;
    }

    fn key(&self) -> String {
        format!("{}/{}", self.pod.metadata.namespace.as_deref().unwrap_or_default(), self.pod.metadata.name.as_deref().unwrap_or_default())
    }

    fn wake_in(&mut self, d: Duration) {
        let at = Instant::now() + d;
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }

    async fn record(&mut self, type_: EventType, reason: &str, note: String) {
        if !self.recorded.insert((reason.to_string(), note.clone())) {
            return;
        }
        let reference = self.pod.object_ref(&());
        let event = Event { type_, reason: reason.into(), note: Some(note), action: reason.into(), secondary: None };
        if let Err(e) = self.shared.recorder.publish(&event, &reference).await {
            tracing::debug!(pod = %self.key(), error = %e, "cannot record an event");
        }
    }

    /// The ConfigMaps and Secrets the pod's volumes and environment name, as the API has them.
    async fn sources(&self, pod_ip: &str) -> Sources {
        let ns = self.pod.metadata.namespace.clone().unwrap_or_default();
        let spec = self.pod.spec.clone().unwrap_or_default();
        let mut cm_names = HashSet::new();
        let mut secret_names = HashSet::new();
        for v in spec.volumes.iter().flatten() {
            if let Some(c) = &v.config_map {
                cm_names.insert(c.name.clone());
            }
            if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
                secret_names.insert(s);
            }
            for p in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
                if let Some(c) = &p.config_map {
                    cm_names.insert(c.name.clone());
                }
                if let Some(s) = &p.secret {
                    secret_names.insert(s.name.clone());
                }
            }
        }
        for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
            for f in c.env_from.iter().flatten() {
                cm_names.extend(f.config_map_ref.as_ref().map(|r| r.name.clone()));
                secret_names.extend(f.secret_ref.as_ref().map(|r| r.name.clone()));
            }
            for e in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
                cm_names.extend(e.config_map_key_ref.as_ref().map(|r| r.name.clone()));
                secret_names.extend(e.secret_key_ref.as_ref().map(|r| r.name.clone()));
            }
        }
        let mut src = Sources { pod_ip: pod_ip.to_string(), host_ip: self.shared.node_ip.clone(), node_name: self.shared.node_name.clone(), ..Default::default() };
        let cms: Api<ConfigMap> = Api::namespaced(self.shared.client.clone(), &ns);
        for name in cm_names {
            if let Ok(Some(cm)) = cms.get_opt(&name).await {
                src.config_maps.insert(name, cm);
            }
        }
        let secrets: Api<Secret> = Api::namespaced(self.shared.client.clone(), &ns);
        for name in secret_names {
            if let Ok(Some(s)) = secrets.get_opt(&name).await {
                src.secrets.insert(name, s);
            }
        }
        for claim in spec.volumes.iter().flatten().filter_map(|v| v.persistent_volume_claim.as_ref()) {
            let path = self.claim_path(&ns, &claim.claim_name).await;
            src.claims.insert(claim.claim_name.clone(), path);
        }
        src
    }

    /// The node path of the volume bound to a claim: its PersistentVolume's hostPath or local
    /// path (the kinds a single machine can provide).
    async fn claim_path(&self, ns: &str, claim: &str) -> Result<std::path::PathBuf, String> {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.shared.client.clone(), ns);
        let pvc = claims.get_opt(claim).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" not found"))?;
        let volume = pvc.spec.and_then(|s| s.volume_name).filter(|v| !v.is_empty()).ok_or_else(|| format!("persistentvolumeclaim \"{claim}\" is not bound"))?;
        let volumes: Api<PersistentVolume> = Api::all(self.shared.client.clone());
        let pv = volumes.get_opt(&volume).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("persistentvolume \"{volume}\" not found"))?;
        let spec = pv.spec.unwrap_or_default();
        let path = spec.host_path.map(|h| h.path).or(spec.local.map(|l| l.path)).ok_or_else(|| format!("persistentvolume \"{volume}\" is neither hostPath nor local, which this node cannot mount"))?;
        let path = std::path::PathBuf::from(path);
        std::fs::create_dir_all(&path).map_err(|e| format!("persistentvolume \"{volume}\": {e}"))?;
        Ok(path)
    }

    /// The pod's ready sandbox, creating one if it has none.
    async fn ensure_sandbox(&mut self) -> Result<Option<(String, String)>, String> {
        let mut ready: Vec<&cri::PodSandbox> = self.runtime.sandboxes.iter().filter(|s| s.state == cri::PodSandboxState::SandboxReady as i32).collect();
        ready.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        let id = match ready.first() {
            Some(s) => s.id.clone(),
            None => {
                let node = NodeContext { log_root: &self.shared.log_root, dns: self.shared.dns.clone() };
                let config = runtime_config::sandbox_config(&self.pod, self.runtime.sandboxes.len() as u32, &node);
                let _ = std::fs::create_dir_all(&config.log_directory);
                match self.shared.cri.run_pod_sandbox(config.clone()).await {
                    Ok(id) => {
                        // Old sandboxes (and their containers) are of no more use.
                        for old in self.runtime.sandboxes.clone() {
                            let _ = self.shared.cri.remove_pod_sandbox(&old.id).await;
                        }
                        let sandbox = cri::PodSandbox { id: id.clone(), state: cri::PodSandboxState::SandboxReady as i32, metadata: config.metadata, labels: config.labels, created_at: jiff::Timestamp::now().as_nanosecond() as i64, ..Default::default() };
                        self.created.push((Instant::now(), Created::Sandbox(sandbox.clone())));
                        self.runtime.sandboxes = vec![sandbox];
                        self.runtime.containers.clear();
                        id
                    }
                    Err(e) => {
                        let msg = format!("Failed to create pod sandbox: {e}");
                        self.record(EventType::Warning, "FailedCreatePodSandBox", msg.clone()).await;
                        return Err(msg);
                    }
                }
            }
        };
        if !self.sandbox_ips.contains_key(&id) {
            let status = self.shared.cri.pod_sandbox_status(&id).await.map_err(|e| e.to_string())?;
            let ip = status.network.map(|n| n.ip).unwrap_or_default();
            self.sandbox_ips.insert(id.clone(), ip);
        }
        let ip = self.sandbox_ips[&id].clone();
        Ok(Some((id, ip)))
    }

    /// The instances of one container of the spec, newest first.
    fn instances(&self, name: &str) -> Vec<cri::Container> {
        let mut v: Vec<cri::Container> = self.runtime.containers.iter().filter(|c| label(&c.labels, labels::CONTAINER_NAME) == name).cloned().collect();
        v.sort_by_key(|c| std::cmp::Reverse((c.metadata.as_ref().map(|m| m.attempt).unwrap_or(0), c.created_at)));
        v
    }

    /// Makes the image of `c` present as its pull policy says; false (with the reason recorded
    /// as the container's waiting state) when it is not.
    async fn ensure_image(&mut self, c: &Container) -> bool {
        let image = c.image.clone().unwrap_or_default();
        let policy = c.image_pull_policy.clone().unwrap_or_else(|| {
            let tag_latest = image.rsplit_once(':').map(|(_, t)| t == "latest" || t.contains('/')).unwrap_or(true) && !image.contains('@');
            if tag_latest { "Always".into() } else { "IfNotPresent".into() }
        });
        let present = matches!(self.shared.cri.image_id(&image).await, Ok(Some(_)));
        if present && policy != "Always" {
            self.record(EventType::Normal, "Pulled", format!("Container image \"{image}\" already present on machine")).await;
            return true;
        }
        if policy == "Never" {
            let msg = format!("Container image \"{image}\" is not present with pull policy of Never");
            self.waiting.insert(c.name.clone(), ("ErrImageNeverPull".into(), msg.clone()));
            self.record(EventType::Warning, "ErrImageNeverPull", msg).await;
            return false;
        }
        let now = SystemTime::now();
        if let Some(b) = self.image_backoff.get(&image).copied() {
            if now < b.since + b.delay {
                let msg = format!("Back-off pulling image \"{image}\"");
                self.waiting.insert(c.name.clone(), ("ImagePullBackOff".into(), msg.clone()));
                self.record(EventType::Normal, "BackOff", msg).await;
                self.wake_in((b.since + b.delay).duration_since(now).unwrap_or_default());
                return false;
            }
        }
        self.record(EventType::Normal, "Pulling", format!("Pulling image \"{image}\"")).await;
        match self.shared.cri.pull_image(&image, None).await {
            Ok(_) => {
                self.image_backoff.remove(&image);
                self.record(EventType::Normal, "Pulled", format!("Successfully pulled image \"{image}\"")).await;
                true
            }
            Err(e) => {
                let delay = self.image_backoff.get(&image).map_or(INITIAL_BACKOFF, |b| (b.delay * 2).min(MAX_BACKOFF));
                self.image_backoff.insert(image.clone(), Backoff { delay, since: now });
                let msg = format!("Failed to pull image \"{image}\": {e}");
                self.waiting.insert(c.name.clone(), ("ErrImagePull".into(), msg.clone()));
                self.record(EventType::Warning, "Failed", msg).await;
                self.record(EventType::Warning, "Failed", "Error: ErrImagePull".into()).await;
                self.wake_in(delay);
                false
            }
        }
    }

    /// Creates and starts instance `attempt` of `c` in the sandbox.
    async fn start(&mut self, c: &Container, init: bool, attempt: u32, sandbox: &str, sources: &Sources, volume_paths: &HashMap<String, std::path::PathBuf>) -> bool {
        if !self.ensure_image(c).await {
            return false;
        }
        let env = match env::build(&self.pod, c, sources) {
            Ok(env) => env,
            Err(msg) => {
                self.waiting.insert(c.name.clone(), ("CreateContainerConfigError".into(), msg.clone()));
                self.record(EventType::Warning, "Failed", format!("Error: {msg}")).await;
                self.wake_in(Duration::from_secs(2));
                return false;
            }
        };
        let mounts = match volumes::mounts(c, volume_paths) {
            Ok(mut m) => {
                // The file the container may leave its termination message in.
                let file = self.termination_log(&c.name, attempt);
                if let Some(dir) = file.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                if std::fs::write(&file, b"").is_ok() {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666));
                    let path = c.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into());
                    m.push(cri::Mount { container_path: path, host_path: file.display().to_string(), ..Default::default() });
                }
                m
            }
            Err(msg) => {
                self.waiting.insert(c.name.clone(), ("CreateContainerConfigError".into(), msg.clone()));
                self.record(EventType::Warning, "Failed", format!("Error: {msg}")).await;
                return false;
            }
        };
        let command = c.command.iter().flatten().map(|a| env::expand(a, &env)).collect();
        let args = c.args.iter().flatten().map(|a| env::expand(a, &env)).collect();
        let node = NodeContext { log_root: &self.shared.log_root, dns: self.shared.dns.clone() };
        let sandbox_config = runtime_config::sandbox_config(&self.pod, 0, &node);
        let log_dir = runtime_config::pod_log_dir(&self.shared.log_root, &self.pod).join(&c.name);
        let _ = std::fs::create_dir_all(&log_dir);
        let config = runtime_config::container_config(&self.pod, c, attempt, init, Resolved { env, mounts, command, args });
        let id = match self.shared.cri.create_container(sandbox, config, sandbox_config).await {
            Ok(id) => id,
            Err(e) => {
                let msg = format!("Error: {e}");
                self.waiting.insert(c.name.clone(), ("CreateContainerError".into(), e.to_string()));
                self.record(EventType::Warning, "Failed", msg).await;
                self.wake_in(Duration::from_secs(5));
                return false;
            }
        };
        // Known at once, before the next relist shows it, so a sync in between does not
        // create it again.
        let (ns, pod_name, pod_uid) = (self.pod.metadata.namespace.clone().unwrap_or_default(), self.pod.metadata.name.clone().unwrap_or_default(), uid(&self.pod));
        let created = cri::Container {
            id: id.clone(),
            pod_sandbox_id: sandbox.to_string(),
            metadata: Some(cri::ContainerMetadata { name: c.name.clone(), attempt }),
            state: cri::ContainerState::ContainerCreated as i32,
            created_at: jiff::Timestamp::now().as_nanosecond() as i64,
            labels: labels::container_labels(&ns, &pod_name, &pod_uid, &c.name),
            ..Default::default()
        };
        self.created.push((Instant::now(), Created::Container(created.clone())));
        self.runtime.containers.push(created);
        self.record(EventType::Normal, "Created", format!("Created container: {}", c.name)).await;
        if let Err(e) = self.shared.cri.start_container(&id).await {
            self.waiting.insert(c.name.clone(), ("RunContainerError".into(), e.to_string()));
            self.record(EventType::Warning, "Failed", format!("Error: {e}")).await;
            return false;
        }
        self.recorded.remove(&("Started".to_string(), format!("Started container {}", c.name)));
        self.record(EventType::Normal, "Started", format!("Started container {}", c.name)).await;
        self.waiting.remove(&c.name);
        if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let target = Target { cri: self.shared.cri.clone(), pod_ip: sources.pod_ip.clone(), container: c.clone(), container_id: id.clone() };
            if let Err(msg) = hooks::run(hook, &target, Duration::from_secs(self.grace_seconds().max(1) as u64)).await {
                self.record(EventType::Warning, "FailedPostStartHook", msg).await;
                let _ = self.shared.cri.stop_container(&id, self.grace_seconds()).await;
            }
        }
        true
    }

    /// Where instance `attempt` of a container leaves its termination message on the node.
    fn termination_log(&self, container: &str, attempt: u32) -> std::path::PathBuf {
        volumes::pod_dir(&self.shared.root_dir, &uid(&self.pod)).join("containers").join(container).join(format!("{attempt}-termination-log"))
    }

    /// An exited instance's termination message, as upstream reads it: the file the container
    /// wrote (at most 4 KiB), or with FallbackToLogsOnError after a failure, the end of its log.
    fn termination_message(&self, c: &Container, status: &cri::ContainerStatus) -> Option<String> {
        let attempt = status.metadata.as_ref().map(|m| m.attempt).unwrap_or(0);
        let written = std::fs::read(self.termination_log(&c.name, attempt)).unwrap_or_default();
        if !written.is_empty() {
            return Some(String::from_utf8_lossy(&written[..written.len().min(4096)]).into_owned());
        }
        if c.termination_message_policy.as_deref() != Some("FallbackToLogsOnError") || status.exit_code == 0 {
            return None;
        }
        let log = runtime_config::pod_log_dir(&self.shared.log_root, &self.pod).join(&c.name).join(format!("{attempt}.log"));
        let text = std::fs::read_to_string(log).ok()?;
        // CRI log lines: time, stream, tag (F full, P partial), then the text.
        let lines: Vec<String> = text.lines().filter_map(|l| l.splitn(4, ' ').nth(3).map(String::from)).collect();
        let tail = lines[lines.len().saturating_sub(80)..].join("\n");
        let start = tail.len().saturating_sub(2048);
        let start = (start..tail.len()).find(|i| tail.is_char_boundary(*i)).unwrap_or(tail.len());
        Some(tail[start..].to_string()).filter(|m| !m.is_empty())
    }

    /// Whether an exited container is started again, by the restart policy.
    fn should_restart(&self, exit_code: i32, init: bool) -> bool {
        match self.pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always") {
            "Never" => false,
            "OnFailure" => exit_code != 0,
            // Init containers of an Always pod run to completion once.
            _ => !init || exit_code != 0,
        }
    }

    /// Brings one container to what the spec wants; returns what is known of it, and for an
    /// init container whether it completed.
    #[allow(clippy::too_many_arguments)]
    async fn sync_container(&mut self, c: &Container, init: bool, sandbox: &str, sources: &Sources, paths: &HashMap<String, std::path::PathBuf>) -> (ObservedContainer, bool) {
        let instances = self.instances(&c.name);
        let mut statuses: Vec<cri::ContainerStatus> = Vec::new();
        for inst in instances.iter().take(2) {
            if let Ok(s) = self.shared.cri.container_status(&inst.id).await {
                statuses.push(s);
            }
        }
        for s in statuses.iter_mut().filter(|s| is_exited(s)) {
            if let Some(message) = self.termination_message(c, s) {
                s.message = message;
            }
        }
        let latest = statuses.first().cloned();
        let attempt = instances.first().and_then(|i| i.metadata.as_ref()).map(|m| m.attempt).unwrap_or(0);
        let mut observed = ObservedContainer { latest: latest.clone(), previous: statuses.get(1).cloned(), restart_count: attempt as i32, waiting: None, ready: false, started: false };
        if !latest.as_ref().is_some_and(is_running) {
            self.probes.stop(&c.name);
        }
        let completed = match &latest {
            None => {
                let started = self.start(c, init, 0, sandbox, sources, paths).await;
                if started {
                    self.poke_soon();
                }
                false
            }
            Some(s) if is_running(s) => {
                self.probes.ensure(Target { cri: self.shared.cri.clone(), pod_ip: sources.pod_ip.clone(), container: c.clone(), container_id: s.id.clone() });
                observed.ready = self.probes.ready(c);
                observed.started = self.probes.started(c);
                self.waiting.remove(&c.name);
                false
            }
            Some(s) if is_exited(s) => {
                if init && s.exit_code == 0 {
                    true
                } else if self.should_restart(s.exit_code, init) {
                    let finished = from_nanos(s.finished_at);
                    let ran = finished.duration_since(from_nanos(s.started_at)).unwrap_or_default();
                    if ran >= BACKOFF_RESET {
                        self.restart_backoff.remove(&c.name);
                    }
                    // Upstream's back-off: the first failure restarts at once; each later one
                    // waits the current delay from when it finished, which then doubles.
                    let now = SystemTime::now();
                    let backoff = self.restart_backoff.get(&c.name).copied();
                    match backoff {
                        Some(b) if now < finished + b.delay => {
                            let (ns, name, uid) = (self.pod.metadata.namespace.clone().unwrap_or_default(), self.pod.metadata.name.clone().unwrap_or_default(), uid(&self.pod));
                            let msg = format!("back-off {} restarting failed container={} pod={name}_{ns}({uid})", human(b.delay), c.name);
                            self.waiting.insert(c.name.clone(), ("CrashLoopBackOff".into(), msg));
                            self.record(EventType::Warning, "BackOff", format!("Back-off restarting failed container {} in pod {name}_{ns}({uid})", c.name)).await;
                            self.wake_in((finished + b.delay).duration_since(now).unwrap_or_default());
                        }
                        _ => {
                            let delay = backoff.map_or(INITIAL_BACKOFF, |b| (b.delay * 2).min(MAX_BACKOFF));
                            self.restart_backoff.insert(c.name.clone(), Backoff { delay, since: finished });
                            // Keep the exited instance for lastState; older ones go.
                            for old in instances.iter().skip(1) {
                                let _ = self.shared.cri.remove_container(&old.id).await;
                            }
                            if self.start(c, init, attempt + 1, sandbox, sources, paths).await {
                                observed.restart_count = attempt as i32 + 1;
                                observed.previous = latest.clone();
                                observed.latest = None;
                                self.poke_soon();
                            }
                        }
                    }
                    false
                } else {
                    false
                }
            }
            Some(s) => {
                // Created but not started (a kubelet that stopped in between).
                let _ = self.shared.cri.start_container(&s.id).await;
                false
            }
        };
        observed.waiting = self.waiting.get(&c.name).cloned();
        (observed, completed)
    }

    /// Asks for a relist soon, to see a container just started.
    fn poke_soon(&mut self) {
        self.wake_in(Duration::from_millis(300));
    }

    /// Syncing: sandbox, volumes, init containers in order, then the containers; then status.
    async fn sync(&mut self) -> Result<(), String> {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let mut init = BTreeMap::new();
        let mut containers = BTreeMap::new();
        let sandbox = self.ensure_sandbox().await?;
        let (sandbox_id, pod_ip) = sandbox.clone().unwrap_or_default();
        let sources = self.sources(&pod_ip).await;
        let paths = match volumes::prepare(&self.shared.root_dir, &self.pod, &sources) {
            Ok(p) => Some(p),
            Err(msg) => {
                self.record(EventType::Warning, "FailedMount", msg).await;
                self.wake_in(Duration::from_secs(2));
                None
            }
        };
        if let Some(paths) = paths {
            let mut init_done = true;
            for c in spec.init_containers.iter().flatten() {
                let (observed, completed) = self.sync_container(c, true, &sandbox_id, &sources, &paths).await;
                init.insert(c.name.clone(), observed);
                if !completed {
                    init_done = false;
                    break;
                }
            }
            if init_done {
                for c in &spec.containers {
                    let (observed, _) = self.sync_container(c, false, &sandbox_id, &sources, &paths).await;
                    containers.insert(c.name.clone(), observed);
                }
            }
        }
        let observed = Observed {
            pod: &self.pod,
            previous: self.last_status.as_ref(),
            pod_ip: Some(pod_ip).filter(|ip| !ip.is_empty()),
            host_ip: self.shared.node_ip.clone(),
            sandbox_ready: sandbox.is_some(),
            init,
            containers,
            now: pod_status::now(),
        };
        let status = pod_status::compute(&observed);
        self.write_status(status).await
    }

    async fn write_status(&mut self, status: PodStatus) -> Result<(), String> {
        // Times are to the second (as the API keeps them), so an unchanged status compares equal.
        if self.last_status.as_ref() == Some(&status) {
            return Ok(());
        }
        tracing::trace!(pod = %self.key(), "writing pod status");
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), self.pod.metadata.namespace.as_deref().unwrap_or_default());
        let name = self.pod.metadata.name.clone().unwrap_or_default();
        let patch = serde_json::json!({"metadata": {"uid": uid(&self.pod)}, "status": status});
        match api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(pod) => {
                self.pod.status = pod.status;
                self.last_status = Some(status);
                Ok(())
            }
            Err(e) => Err(format!("writing status: {e}")),
        }
    }

    /// The pod's grace period: the deletion's, or the spec's, or upstream's default of 30 s.
    fn grace_seconds(&self) -> i64 {
        self.pod.metadata.deletion_grace_period_seconds.or_else(|| self.pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds)).unwrap_or(30)
    }

    /// Stops every container of the pod within its grace period, then its sandboxes.
    /// `grace` overrides the pod's.
    async fn kill(&mut self, grace: Option<i64>) {
        let grace = grace.unwrap_or_else(|| self.grace_seconds());
        self.probes.stop_all();
        // Everything not known to have exited: a container started a moment ago may still be
        // `Created` in the last relist.
        let running: Vec<cri::Container> = self.runtime.containers.iter().filter(|c| c.state != cri::ContainerState::ContainerExited as i32).cloned().collect();
        let names: Vec<String> = running.iter().map(|c| label(&c.labels, labels::CONTAINER_NAME).to_string()).collect();
        for name in &names {
            self.record(EventType::Normal, "Killing", format!("Stopping container {name}")).await;
        }
        // preStop hooks first, all at once, within the grace period; the containers then get
        // what is left of it (at least 2 s, as upstream).
        let started = std::time::Instant::now();
        let pod_ip = self.sandbox_ips.values().next().cloned().unwrap_or_default();
        let specs = self.pod.spec.clone().unwrap_or_default().containers;
        let hooks = running.iter().filter_map(|rc| {
            let name = label(&rc.labels, labels::CONTAINER_NAME);
            let spec = specs.iter().find(|s| s.name == name)?;
            let hook = spec.lifecycle.as_ref()?.pre_stop.clone()?;
            let target = Target { cri: self.shared.cri.clone(), pod_ip: pod_ip.clone(), container: spec.clone(), container_id: rc.id.clone() };
            Some(async move { hooks::run(&hook, &target, Duration::from_secs(grace.max(1) as u64)).await })
        });
        for result in futures::future::join_all(hooks).await {
            if let Err(msg) = result {
                self.record(EventType::Warning, "FailedPreStopHook", msg).await;
            }
        }
        let grace = (grace - started.elapsed().as_secs() as i64).max(if grace > 0 { 2 } else { 0 });
        let stops = running.iter().map(|c| self.shared.cri.stop_container(&c.id, grace));
        for result in futures::future::join_all(stops).await {
            if let Err(e) = result {
                tracing::warn!(pod = %self.key(), error = %e, "stopping a container failed");
            }
        }
        for s in self.runtime.sandboxes.clone() {
            if let Err(e) = self.shared.cri.stop_pod_sandbox(&s.id).await {
                if !e.is_not_found() {
                    tracing::warn!(pod = %self.key(), error = %e, "stopping the sandbox failed");
                }
            }
        }
    }

    /// The last step of a graceful deletion: delete the pod with grace 0 and its UID as the
    /// precondition, so a new pod of the same name is never deleted by mistake.
    async fn finish_deletion(&mut self) {
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), self.pod.metadata.namespace.as_deref().unwrap_or_default());
        let params = DeleteParams { grace_period_seconds: Some(0), preconditions: Some(Preconditions { uid: Some(uid(&self.pod)), resource_version: None }), ..Default::default() };
        if let Err(e) = api.delete(self.pod.metadata.name.as_deref().unwrap_or_default(), &params).await {
            tracing::debug!(pod = %self.key(), error = %e, "finishing the deletion");
        }
    }

    /// Removes what the runtime and the disk still have of the pod.
    fn forget(&self) {
        let (cri, sandboxes, root, log_dir, uid) = (
            self.shared.cri.clone(),
            self.runtime.sandboxes.clone(),
            self.shared.root_dir.clone(),
            runtime_config::pod_log_dir(&self.shared.log_root, &self.pod),
            uid(&self.pod),
        );
        tokio::spawn(async move {
            remove_sandboxes(&cri, &sandboxes).await;
            volumes::clean_up(&root, &uid);
            let _ = std::fs::remove_dir_all(log_dir);
        });
    }
}

/// Stops and removes sandboxes (and so their containers).
pub async fn remove_sandboxes(cri: &Cri, sandboxes: &[cri::PodSandbox]) {
    for s in sandboxes {
        let _ = cri.stop_pod_sandbox(&s.id).await;
        let _ = cri.remove_pod_sandbox(&s.id).await;
    }
}

/// Go's duration format for whole seconds and minutes, as back-off messages print it (`1m20s`).
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m0s"),
        (m, s) => format!("{m}m{s}s"),
    }
}
