//! Liveness, readiness and startup probes, as upstream's prober manager: one worker per
//! container and probe kind, each a task with its own timer (not a thread), reporting to its
//! pod's worker over a channel when a probe's verdict changes (after its success or failure
//! threshold) and whenever a probe fails (for the `Unhealthy` event). The startup probe gates
//! the other two.

pub(crate) mod check;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cri::Cri;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Liveness,
    Readiness,
    Startup,
}

impl Kind {
    /// As upstream's event messages name it ("Liveness probe failed: ...").
    pub fn title(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }
}

/// What a probe worker tells its pod's worker.
#[derive(Debug)]
pub enum Report {
    /// The probe's verdict crossed its threshold: `healthy` after successThreshold successes,
    /// not after failureThreshold failures.
    Verdict { container: String, container_id: String, kind: Kind, healthy: bool },
    /// One failed probe (each is an `Unhealthy` event upstream).
    Failed { kind: Kind, message: String },
}

/// The probes of one running container instance.
struct Running {
    container_id: String,
    stop: CancellationToken,
    /// Set once the startup probe succeeded (or at once without one); the others wait for it.
    started: Arc<AtomicBool>,
}

/// The probe workers of one pod, by container name.
pub struct PodProbes {
    running: HashMap<String, Running>,
    /// Readiness verdicts by container name (absent: not yet decided).
    ready: HashMap<String, bool>,
    tx: mpsc::Sender<Report>,
    pub rx: mpsc::Receiver<Report>,
}

impl Default for PodProbes {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(64);
        PodProbes { running: HashMap::new(), ready: HashMap::new(), tx, rx }
    }
}

/// Where probes reach the container.
#[derive(Clone)]
pub struct Target {
    pub cri: Cri,
    pub pod_ip: String,
    pub container: Container,
    pub container_id: String,
}

impl PodProbes {
    /// Makes sure the probes of `target`'s container instance run (starting them for a new
    /// instance, stopping those of the one before).
    pub fn ensure(&mut self, target: Target) {
        let name = target.container.name.clone();
        if self.running.get(&name).is_some_and(|r| r.container_id == target.container_id) {
            return;
        }
        self.stop(&name);
        let c = &target.container;
        let started = Arc::new(AtomicBool::new(c.startup_probe.is_none()));
        let stop = CancellationToken::new();
        for (kind, probe) in [(Kind::Startup, &c.startup_probe), (Kind::Liveness, &c.liveness_probe), (Kind::Readiness, &c.readiness_probe)] {
            if let Some(probe) = probe.clone() {
                let worker = Worker { kind, probe, target: target.clone(), started: started.clone(), tx: self.tx.clone() };
                tokio::spawn(worker.run(stop.clone()));
            }
        }
        self.running.insert(name, Running { container_id: target.container_id, stop, started });
    }

    /// Stops the probes of a container (its instance ended).
    pub fn stop(&mut self, container: &str) {
        if let Some(r) = self.running.remove(container) {
            r.stop.cancel();
        }
        self.ready.remove(container);
    }

    pub fn stop_all(&mut self) {
        for (_, r) in self.running.drain() {
            r.stop.cancel();
        }
        self.ready.clear();
    }

    /// Takes a verdict into account; returns whether it belongs to the current instance.
    pub fn take(&mut self, container: &str, container_id: &str, kind: Kind, healthy: bool) -> bool {
        let Some(r) = self.running.get(container).filter(|r| r.container_id == container_id) else { return false };
        match kind {
            Kind::Readiness => {
                self.ready.insert(container.to_string(), healthy);
            }
            Kind::Startup if healthy => r.started.store(true, Ordering::SeqCst),
            _ => {}
        }
        true
    }

    /// Whether the running container counts as started (its startup probe succeeded).
    pub fn started(&self, container: &Container) -> bool {
        container.startup_probe.is_none() || self.running.get(&container.name).is_some_and(|r| r.started.load(Ordering::SeqCst))
    }

    /// Whether the running container is ready: started, and its readiness probe (if any) says so.
    pub fn ready(&self, container: &Container) -> bool {
        self.started(container) && (container.readiness_probe.is_none() || self.ready.get(&container.name).copied().unwrap_or(false))
    }
}

/// One probe of one container instance.
struct Worker {
    kind: Kind,
    probe: Probe,
    target: Target,
    started: Arc<AtomicBool>,
    tx: mpsc::Sender<Report>,
}

fn secs(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(v.filter(|s| *s > 0).unwrap_or(default) as u64)
}

impl Worker {
    async fn run(self, stop: CancellationToken) {
        let p = &self.probe;
        let period = secs(p.period_seconds, 10);
        let timeout = secs(p.timeout_seconds, 1);
        let success_threshold = p.success_threshold.filter(|t| *t > 0).unwrap_or(1);
        let failure_threshold = p.failure_threshold.filter(|t| *t > 0).unwrap_or(3);
        let initial = Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64);
        tokio::select! { _ = stop.cancelled() => return, _ = tokio::time::sleep(initial) => {} }
        let (mut successes, mut failures) = (0, 0);
        let mut verdict: Option<bool> = None;
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! { _ = stop.cancelled() => return, _ = ticker.tick() => {} }
            if self.kind != Kind::Startup && !self.started.load(Ordering::SeqCst) {
                continue;
            }
            if self.kind == Kind::Startup && verdict == Some(true) {
                // A startup probe stops once it succeeded.
                return;
            }
            let outcome = tokio::select! { _ = stop.cancelled() => return, r = check::run(&self.probe, &self.target, timeout) => r };
            let name = self.target.container.name.clone();
            let healthy = match outcome {
                Ok(()) => {
                    successes += 1;
                    failures = 0;
                    (successes >= success_threshold).then_some(true)
                }
                Err(message) => {
                    failures += 1;
                    successes = 0;
                    let _ = self.tx.send(Report::Failed { kind: self.kind, message }).await;
                    (failures >= failure_threshold).then_some(false)
                }
            };
            if let Some(healthy) = healthy {
                if verdict != Some(healthy) || !healthy {
                    verdict = Some(healthy);
                    let report = Report::Verdict { container: name, container_id: self.target.container_id.clone(), kind: self.kind, healthy };
                    if self.tx.send(report).await.is_err() {
                        return;
                    }
                    if !healthy && self.kind != Kind::Readiness {
                        // The container is about to be killed; its next instance gets new probes.
                        return;
                    }
                }
            }
        }
    }
}
