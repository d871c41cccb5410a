//! Leader election through a coordination.k8s.io Lease, as client-go's leaderelection: of all
//! the instances of a component that share a Lease, one acts at a time.
//!
//! A candidate takes the Lease when it is free or when its record has not changed for the
//! lease duration, as measured on the candidate's own clock since it last saw the record
//! change (so clocks need not agree). The leader renews every retry period; if it cannot
//! renew within the renew deadline it stops its work and becomes a candidate again (upstream's
//! components exit instead; here a lost lease must not stop the other components of the
//! all-in-one server). On shutdown the leader releases the Lease so a standby takes over at once.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::Api;
use tokio_util::sync::CancellationToken;

/// Upstream's defaults (`--leader-elect-lease-duration` and friends).
#[derive(Clone, Debug)]
pub struct Timing {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { lease_duration: Duration::from_secs(15), renew_deadline: Duration::from_secs(10), retry_period: Duration::from_secs(2) }
    }
}

pub struct LeaseLock {
    pub api: Api<Lease>,
    pub name: String,
    /// Who this instance is (upstream: `hostname_uuid`).
    pub identity: String,
    pub timing: Timing,
}

/// What this candidate last saw of the Lease, and when it saw it change.
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    lease_duration: Duration,
    changed_at: Instant,
}

impl LeaseLock {
    /// Runs `work` whenever this instance leads, until `shutdown`. `work` gets a token that is
    /// cancelled when leadership is lost (or at shutdown) and must return soon after.
    pub async fn run<F, Fut>(self, shutdown: CancellationToken, mut work: F)
    where
        F: FnMut(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut observed: Option<Observed> = None;
        loop {
            // Candidate: try every retry period until the Lease is ours.
            loop {
                if self.try_acquire_or_renew(&mut observed).await {
                    break;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(self.timing.retry_period) => {}
                }
            }
            tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
            let leading = shutdown.child_token();
            let task = tokio::spawn(work(leading.clone()));
            let mut last_renew = Instant::now();
            let lost = loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break false,
                    _ = tokio::time::sleep(self.timing.retry_period) => {}
                }
                if self.try_acquire_or_renew(&mut observed).await {
                    last_renew = Instant::now();
                } else if last_renew.elapsed() >= self.timing.renew_deadline {
                    break true;
                }
            };
            leading.cancel();
            let _ = task.await;
            if !lost {
                self.release().await;
                return;
            }
            tracing::warn!(lease = %self.name, identity = %self.identity, "leadership lost; stopped, standing again");
            observed = None;
        }
    }

    /// One attempt: true when this instance holds the Lease afterwards.
    async fn try_acquire_or_renew(&self, observed: &mut Option<Observed>) -> bool {
        let now = MicroTime(jiff::Timestamp::now());
        let duration_secs = self.timing.lease_duration.as_secs().max(1) as i32;
        let current = match self.api.get_opt(&self.name).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(lease = %self.name, error = %e, "reading the lease");
                return false;
            }
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.name.clone()), ..Default::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return self.api.create(&PostParams::default(), &lease).await.is_ok();
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.identity.as_str());
        let changed = match observed {
            Some(o) => o.holder != holder || o.renew_time != spec.renew_time,
            None => true,
        };
        if changed {
            *observed = Some(Observed {
                holder: holder.clone(),
                renew_time: spec.renew_time.clone(),
                lease_duration: Duration::from_secs(spec.lease_duration_seconds.unwrap_or(duration_secs).max(1) as u64),
                changed_at: Instant::now(),
            });
        }
        let o = observed.as_ref().expect("set above");
        if holder.is_some() && !ours && o.changed_at.elapsed() < o.lease_duration {
            return false;
        }
        let mut new_spec = spec.clone();
        if !ours {
            new_spec.holder_identity = Some(self.identity.clone());
            new_spec.acquire_time = Some(now.clone());
            new_spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        new_spec.lease_duration_seconds = Some(duration_secs);
        new_spec.renew_time = Some(now);
        lease.spec = Some(new_spec);
        // The resourceVersion read above makes this a compare-and-swap: of two candidates, one wins.
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(stored) => {
                let spec = stored.spec.unwrap_or_default();
                *observed = Some(Observed {
                    holder: spec.holder_identity,
                    renew_time: spec.renew_time,
                    lease_duration: self.timing.lease_duration,
                    changed_at: Instant::now(),
                });
                true
            }
            Err(e) => {
                tracing::debug!(lease = %self.name, error = %e, "writing the lease");
                false
            }
        }
    }

    /// Gives the Lease up, as client-go's ReleaseOnCancel: no holder, a one-second duration.
    async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else { return };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        let now = MicroTime(jiff::Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        lease.spec = Some(spec);
        if let Err(e) = self.api.replace(&self.name, &PostParams::default(), &lease).await {
            tracing::debug!(lease = %self.name, error = %e, "releasing the lease");
        }
    }
}

/// An identity for a lease holder as upstream's: the host name and a unique suffix.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string();
    let unique = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap_or_default().trim().to_string();
    format!("{host}_{unique}")
}
