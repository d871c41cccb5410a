//! /healthz, /livez and /readyz with upstream's text format, `?verbose`, `?exclude=` and
//! per-check paths. Checks: ping, log, etcd (a bounded read), start-up steps, and for readiness
//! the watch caches and shutdown.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use corekube_storage::EtcdStore;

use crate::error::StatusResponse;
use crate::state::AppState;

/// Start-up steps that report as `poststarthook/...` checks once done.
pub const STARTUP_STEPS: &[&str] =
    &["poststarthook/start-watch-cache", "poststarthook/bootstrap-namespaces", "poststarthook/scheduling/bootstrap-system-priority-classes"];

/// How long the etcd check may take before it counts as failed (upstream's default).
const ETCD_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Health(Arc<HealthInner>);

struct HealthInner {
    store: EtcdStore,
    done: Mutex<BTreeSet<String>>,
    /// Woken whenever a start-up step finishes.
    step_done: tokio::sync::Notify,
    shutting_down: AtomicBool,
}

impl Health {
    pub fn new(store: EtcdStore) -> Health {
        Health(Arc::new(HealthInner {
            store,
            done: Mutex::new(BTreeSet::new()),
            step_done: tokio::sync::Notify::new(),
            shutting_down: AtomicBool::new(false),
        }))
    }

    pub fn mark_done(&self, step: &str) {
        self.0.done.lock().unwrap().insert(step.to_string());
        self.0.step_done.notify_waiters();
    }

    fn startup_done(&self) -> bool {
        let done = self.0.done.lock().unwrap();
        STARTUP_STEPS.iter().all(|s| done.contains(*s))
    }

    /// Returns once every start-up step has finished (the server is serving and bootstrapped),
    /// for components in the same process that wait to start.
    pub async fn wait_startup_done(&self) {
        loop {
            let step = self.0.step_done.notified();
            if self.startup_done() {
                return;
            }
            step.await;
        }
    }

    /// Readiness fails from now on, so load balancers stop sending new work.
    pub fn mark_shutting_down(&self) {
        self.0.shutting_down.store(true, Ordering::SeqCst);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Healthz,
    Livez,
    Readyz,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Healthz => "healthz",
            Endpoint::Livez => "livez",
            Endpoint::Readyz => "readyz",
        }
    }

    fn checks(self) -> Vec<&'static str> {
        let mut c = vec!["ping", "log", "etcd"];
        if self == Endpoint::Readyz {
            c.push("etcd-readiness");
            c.push("informer-sync");
        }
        c.extend_from_slice(STARTUP_STEPS);
        if self == Endpoint::Readyz {
            c.push("shutdown");
        }
        c
    }
}

/// Runs one named check; Err carries the reason.
async fn run_check(state: &AppState, name: &str) -> Result<(), String> {
    let health = state.health();
    match name {
        "ping" | "log" => Ok(()),
        "etcd" | "etcd-readiness" => match tokio::time::timeout(ETCD_CHECK_TIMEOUT, health.0.store.current_revision()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("etcd: {e}")),
            Err(_) => Err("etcd: request timed out".into()),
        },
        "informer-sync" if state.caches_synced() => Ok(()),
        "informer-sync" => Err("watch caches not yet synced".into()),
        "shutdown" if health.0.shutting_down.load(Ordering::SeqCst) => Err("process is shutting down".into()),
        "shutdown" => Ok(()),
        step if health.0.done.lock().unwrap().contains(step) => Ok(()),
        _ => Err("not finished".into()),
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], body).into_response()
}

/// `/<endpoint>`: every check, upstream's output format.
pub async fn all_checks(state: &AppState, endpoint: Endpoint, query: &[(String, String)]) -> Response {
    let verbose = query.iter().any(|(k, _)| k == "verbose");
    let mut excluded: BTreeSet<String> = query.iter().filter(|(k, _)| k == "exclude").map(|(_, v)| v.clone()).collect();
    let checks = endpoint.checks();
    let results = futures::future::join_all(checks.iter().map(|name| async move {
        (name, run_check(state, name).await)
    }))
    .await;
    let mut out = String::new();
    let mut failed = false;
    for (name, result) in results {
        if excluded.remove(*name) {
            out.push_str(&format!("[+]{name} excluded: ok\n"));
            continue;
        }
        match result {
            Ok(()) => out.push_str(&format!("[+]{name} ok\n")),
            Err(reason) => {
                tracing::info!(check = name, %reason, "health check failed");
                failed = true;
                out.push_str(&format!("[-]{name} failed: reason withheld\n"));
            }
        }
    }
    if !excluded.is_empty() {
        let names: Vec<String> = excluded.iter().map(|n| format!("{n:?}")).collect();
        out.push_str(&format!("warn: some health checks cannot be excluded: no matches for {}\n", names.join(",")));
    }
    let name = endpoint.name();
    if failed {
        return text(StatusCode::INTERNAL_SERVER_ERROR, format!("{out}{name} check failed\n"));
    }
    if !verbose {
        return text(StatusCode::OK, "ok".into());
    }
    text(StatusCode::OK, format!("{out}{name} check passed\n"))
}

/// `/<endpoint>/<check>`: one check; 404 for a name the endpoint does not have.
pub async fn one_check(state: &AppState, endpoint: Endpoint, check: &str) -> Response {
    if !endpoint.checks().contains(&check) {
        return corekube_api::ApiError::PathNotFound.into_response();
    }
    match run_check(state, check).await {
        Ok(()) => text(StatusCode::OK, "ok".into()),
        Err(reason) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("internal server error: {reason}\n")),
    }
}

pub fn parse_endpoint(path_segment: &str) -> Option<Endpoint> {
    match path_segment {
        "healthz" => Some(Endpoint::Healthz),
        "livez" => Some(Endpoint::Livez),
        "readyz" => Some(Endpoint::Readyz),
        _ => None,
    }
}
