//! corekube's controller manager: upstream kube-controller-manager's reconcile loops, each a
//! client of the API server like every other component.
//!
//! One module per controller. Each builds on `kube::runtime` (a `Controller` with its work
//! queue, fed by the shared watches of [`informers::Informers`]) and reconciles one object at a
//! time, level-triggered and idempotent: it reads the caches, writes through the API server,
//! and is asked again when anything it depends on changes or after a backoff when it failed.

pub mod informers;
pub mod requeue;

mod claim;
mod deployment;
mod garbagecollector;
mod namespace;
pub mod nodes;
mod replicaset;
mod serviceaccount;
pub(crate) mod util;
mod volume;

use std::future::Future;
use std::pin::Pin;

use kube::Client;
use tokio_util::sync::CancellationToken;

pub use informers::Informers;
pub use serviceaccount::root_ca::ca_from_kubeconfig;

/// The controllers this manager knows, by upstream's names (`--controllers` takes these or
/// their short aliases).
pub const CONTROLLERS: &[(&str, &str)] = &[
    ("replicaset-controller", "replicaset"),
    ("deployment-controller", "deployment"),
    ("namespace-controller", "namespace"),
    ("serviceaccount-controller", "serviceaccount"),
    ("root-ca-certificate-publisher-controller", "root-ca-cert-publisher"),
    ("persistentvolume-binder-controller", "persistentvolume-binder"),
    ("node-ipam-controller", "nodeipam"),
    ("node-lifecycle-controller", "nodelifecycle"),
    ("taint-eviction-controller", "tainteviction"),
    ("pod-garbage-collector-controller", "podgc"),
    ("garbage-collector-controller", "garbagecollector"),
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown controller {0:?} in --controllers (known: {1})")]
    UnknownController(String, String),
}

/// Which controllers run, from upstream's `--controllers` syntax: `*` for all, `name` to add
/// one, `-name` to leave one out.
pub fn select_controllers(list: &[String]) -> Result<Vec<&'static str>, Error> {
    let resolve = |name: &str| {
        CONTROLLERS
            .iter()
            .find(|(full, short)| *full == name || *short == name)
            .map(|(full, _)| *full)
            .ok_or_else(|| Error::UnknownController(name.to_string(), CONTROLLERS.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")))
    };
    let list: Vec<&str> = if list.is_empty() { vec!["*"] } else { list.iter().map(String::as_str).collect() };
    let mut all_by_default = false;
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for item in list {
        match item {
            "*" => all_by_default = true,
            n if n.starts_with('-') => off.push(resolve(&n[1..])?),
            n => on.push(resolve(n)?),
        }
    }
    Ok(CONTROLLERS
        .iter()
        .map(|(full, _)| *full)
        .filter(|c| !off.contains(c) && (all_by_default || on.contains(c)))
        .collect())
}

#[derive(Clone)]
pub struct Config {
    /// A client with the controller manager's identity (`system:kube-controller-manager`).
    pub client: Client,
    /// Upstream names of the controllers to run.
    pub controllers: Vec<&'static str>,
    /// Take the `kube-system/kube-controller-manager` Lease before acting (on by default, as
    /// upstream's `--leader-elect`).
    pub leader_elect: bool,
    pub leader_timing: corekube_client::leader::Timing,
    /// The cluster CA certificate (PEM) the root CA publisher puts in every namespace.
    pub root_ca_pem: String,
    /// The node controllers' settings (IPAM ranges, health timing, pod GC threshold).
    pub nodes: nodes::Options,
    /// Where the built-in local provisioner (`corekube.io/local-path`) keeps its volumes.
    pub volume_dir: std::path::PathBuf,
}

/// What a controller module hands back: the loop to run once the caches are filled.
pub(crate) type Running = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs the enabled controllers until `shutdown`, while this instance holds the lease.
pub async fn run(config: Config, shutdown: CancellationToken) {
    if !config.leader_elect {
        run_controllers(&config, shutdown).await;
        return;
    }
    let lock = corekube_client::leader::LeaseLock {
        api: kube::Api::namespaced(config.client.clone(), "kube-system"),
        name: "kube-controller-manager".into(),
        identity: corekube_client::leader::identity(),
        timing: config.leader_timing.clone(),
    };
    lock.run(shutdown, move |leading| {
        let config = config.clone();
        async move { run_controllers(&config, leading).await }
    })
    .await;
}

async fn run_controllers(config: &Config, shutdown: CancellationToken) {
    let mut informers = Informers::new(config.client.clone());
    let mut running: Vec<Running> = Vec::new();
    for name in &config.controllers {
        let client = config.client.clone();
        match *name {
            "replicaset-controller" => running.push(replicaset::start(&mut informers, client, shutdown.clone())),
            "deployment-controller" => running.push(deployment::start(&mut informers, client, shutdown.clone())),
            "namespace-controller" => running.push(namespace::start(&mut informers, client, shutdown.clone())),
            "serviceaccount-controller" => running.push(serviceaccount::start(&mut informers, client, shutdown.clone())),
            "root-ca-certificate-publisher-controller" => {
                running.push(serviceaccount::root_ca::start(&mut informers, client, config.root_ca_pem.clone(), shutdown.clone()))
            }
            "garbage-collector-controller" => running.push(garbagecollector::start(client, shutdown.clone())),
            "node-ipam-controller" => running.push(nodes::ipam::start(&mut informers, client, &config.nodes, shutdown.clone())),
            "node-lifecycle-controller" => running.push(nodes::lifecycle::start(&mut informers, client, &config.nodes, shutdown.clone())),
            "taint-eviction-controller" => running.push(nodes::taint_eviction::start(&mut informers, client, shutdown.clone())),
            "pod-garbage-collector-controller" => running.push(nodes::podgc::start(&mut informers, client, &config.nodes, shutdown.clone())),
            "persistentvolume-binder-controller" => running.push(volume::start(&mut informers, client, config.volume_dir.clone(), shutdown.clone())),
            _ => unreachable!("select_controllers returns known names"),
        }
    }
    tracing::info!(controllers = ?config.controllers, "controller manager started");
    if !informers.start(shutdown.clone()).await {
        return;
    }
    futures::future::join_all(running).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_flag_as_upstream() {
        let s = |v: &[&str]| select_controllers(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&[]).unwrap().len(), CONTROLLERS.len());
        let all_but_deployment = s(&["*", "-deployment"]).unwrap();
        assert!(all_but_deployment.contains(&"replicaset-controller") && !all_but_deployment.contains(&"deployment-controller"));
        assert_eq!(s(&["deployment-controller"]).unwrap(), vec!["deployment-controller"]);
        assert!(s(&["nope"]).unwrap_err().to_string().contains("unknown controller \"nope\""));
    }
}
