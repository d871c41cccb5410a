//! `corekube server`: the composition root. Readiness gates run in order: PKI and kubeconfig,
//! etcd answering, then the API server; shutdown runs in reverse.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use corekube_storage::{CacherConfig, EtcdStore};
use tokio_util::sync::CancellationToken;

use crate::cli::{Component, ServerOptions};
use crate::etcd::{set_mode, ManagedEtcd};

/// The admin identity written to admin.kubeconfig, as kubeadm's super-admin.conf.
const ADMIN_USER: &str = "kubernetes-admin";
const ADMIN_GROUP: &str = "system:masters";
/// The scheduler's identity, as upstream's kube-scheduler client certificate.
const SCHEDULER_USER: &str = "system:kube-scheduler";
/// The controller manager's identity, as upstream's kube-controller-manager client certificate.
const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";
/// The API server's identity toward kubelets, as upstream's apiserver-kubelet-client.
const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
/// The group of every node's identity (`system:node:NAME`), which the Node authorizer reads.
const NODES_GROUP: &str = "system:nodes";

pub async fn run(opts: ServerOptions, shutdown: CancellationToken) -> Result<(), String> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|e| format!("cannot create {}: {e}", opts.data_dir.display()))?;
    set_mode(&opts.data_dir, 0o700);

    let pki = corekube_pki::load_or_create(&opts.data_dir.join("pki"), &[opts.bind_address.to_string()])
        .map_err(|e| format!("PKI: {e}"))?;
    let (admin_cert, admin_key) =
        pki.client_cert("admin", ADMIN_USER, &[ADMIN_GROUP]).map_err(|e| format!("admin certificate: {e}"))?;
    let server_url = format!("https://{}", SocketAddr::new(client_address(opts.bind_address), opts.secure_port));
    let kubeconfig = opts.data_dir.join("admin.kubeconfig");
    pki.write_kubeconfig(&kubeconfig, &server_url, ADMIN_USER, &admin_cert, &admin_key)
        .map_err(|e| format!("writing {}: {e}", kubeconfig.display()))?;

    let scheduler_kubeconfig = opts.data_dir.join("scheduler.kubeconfig");
    let (cert, key) = pki.client_cert("scheduler", SCHEDULER_USER, &[]).map_err(|e| format!("scheduler certificate: {e}"))?;
    pki.write_kubeconfig(&scheduler_kubeconfig, &server_url, SCHEDULER_USER, &cert, &key)
        .map_err(|e| format!("writing {}: {e}", scheduler_kubeconfig.display()))?;

    let controller_manager_kubeconfig = opts.data_dir.join("controller-manager.kubeconfig");
    let (cert, key) = pki
        .client_cert("controller-manager", CONTROLLER_MANAGER_USER, &[])
        .map_err(|e| format!("controller manager certificate: {e}"))?;
    pki.write_kubeconfig(&controller_manager_kubeconfig, &server_url, CONTROLLER_MANAGER_USER, &cert, &key)
        .map_err(|e| format!("writing {}: {e}", controller_manager_kubeconfig.display()))?;
    let controllers = corekube_controller_manager::select_controllers(&opts.controllers).map_err(|e| e.to_string())?;

    // The node: its runtime first (a missing containerd stops the start here, with the packages
    // to install), its kubelet once the API server is ready.
    let kubelet_enabled = !opts.disable.contains(&Component::Kubelet);
    let node_runtime = if kubelet_enabled {
        let root = opts.data_dir.join("kubelet");
        let image_dir = opts.node.image_dir.clone().unwrap_or_else(|| opts.data_dir.join("images"));
        Some(crate::node::start_runtime(&opts.node, &root, &image_dir, shutdown.clone()).await?)
    } else {
        None
    };
    let node_name = opts.node.node_name.clone().unwrap_or_else(crate::node::host_name);
    let kubelet_kubeconfig = opts.data_dir.join("kubelet.kubeconfig");
    let node_user = format!("system:node:{node_name}");
    let (cert, key) = pki.client_cert("kubelet", &node_user, &[NODES_GROUP]).map_err(|e| format!("kubelet certificate: {e}"))?;
    pki.write_kubeconfig(&kubelet_kubeconfig, &server_url, &node_user, &cert, &key)
        .map_err(|e| format!("writing {}: {e}", kubelet_kubeconfig.display()))?;

    // The kubelet API: this node's serving certificate, and the API server's identity for
    // calling kubelets (upstream's apiserver-kubelet-client: O=system:masters).
    let node_ip = opts.node.node_ip.clone().unwrap_or_else(corekube_kubelet::default_node_ip);
    let kubelet_serving = pki
        .kubelet_serving_cert("kubelet-serving", &node_name, &[node_ip.clone(), node_name.clone()])
        .map_err(|e| format!("kubelet serving certificate: {e}"))?;
    let kubelet_client = pki
        .client_cert("apiserver-kubelet-client", KUBELET_CLIENT_USER, &[ADMIN_GROUP])
        .map_err(|e| format!("API server kubelet client certificate: {e}"))?;

    let mut etcd_task = None;
    let endpoints = if opts.etcd_servers.is_empty() {
        let etcd = ManagedEtcd::start(&opts.data_dir.join("etcd")).await.map_err(|e| e.to_string())?;
        tracing::info!(url = %etcd.client_url, "managed etcd is ready");
        let url = etcd.client_url.clone();
        // etcd stops after the API server: it gets its own token, cancelled at the end.
        let etcd_stop = CancellationToken::new();
        let failure = shutdown.clone();
        let stop = etcd_stop.clone();
        etcd_task = Some((
            etcd_stop,
            tokio::spawn(async move {
                let r = etcd.supervise(stop).await;
                if r.is_err() {
                    failure.cancel();
                }
                r
            }),
        ));
        vec![url]
    } else {
        opts.etcd_servers.clone()
    };
    let store = EtcdStore::connect(&endpoints).await.map_err(|e| format!("connecting to etcd at {endpoints:?}: {e}"))?;

    let health = corekube_apiserver::Health::new(store.clone());
    let config = corekube_apiserver::Config {
        listen: SocketAddr::new(opts.bind_address, opts.secure_port),
        serving_cert_pem: pki.serving_cert_pem.clone(),
        serving_key_pem: pki.serving_key_pem.clone(),
        client_ca_pem: pki.ca_cert_pem.clone(),
        store,
        compaction_interval: opts.etcd_compaction_interval,
        cacher: CacherConfig::default(),
        kubelet_client: Some(kubelet_client),
    };
    tracing::info!(kubeconfig = %kubeconfig.display(), "admin kubeconfig written");
    let serve = {
        let health = health.clone();
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            health.mark_shutting_down();
        }
    };
    tokio::spawn(serve);
    let scheduler = (!opts.disable.contains(&Component::Scheduler)).then(|| {
        tokio::spawn(run_scheduler_when_ready(scheduler_kubeconfig, health.clone(), shutdown.clone()))
    });
    let controller_manager = (!opts.disable.contains(&Component::ControllerManager)).then(|| {
        let root_ca_pem = pki.ca_cert_pem.clone();
        tokio::spawn(run_controller_manager_when_ready(
            controller_manager_kubeconfig,
            controllers,
            root_ca_pem,
            opts.node_controllers.options(&opts.node.cluster_cidr),
            opts.data_dir.join("volumes"),
            health.clone(),
            shutdown.clone(),
        ))
    });
    let kubelet = node_runtime.as_ref().map(|rt| {
        let (socket, opts_node, root) = (rt.socket.clone(), opts.node.clone(), opts.data_dir.join("kubelet"));
        let (health, shutdown) = (health.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = health.wait_startup_done() => {}
            }
            if let Err(e) = crate::node::run_kubelet(&kubelet_kubeconfig, &opts_node, &root, &socket, Some(kubelet_serving), shutdown.clone()).await {
                tracing::error!(error = %e, "kubelet failed; stopping");
                shutdown.cancel();
            }
        })
    });
    // The API server keeps serving while the kubelet stops its pods: its status writes and
    // final deletions go through it.
    let api_stop = CancellationToken::new();
    let api_shutdown = {
        let (shutdown, api_stop) = (shutdown.clone(), api_stop.clone());
        async move {
            shutdown.cancelled().await;
            if let Some(task) = kubelet {
                let _ = tokio::time::timeout(Duration::from_secs(45), task).await;
            }
            api_stop.cancel();
        }
    };
    tokio::spawn(api_shutdown);
    let served = corekube_apiserver::run(config, health, api_stop).await.map_err(|e| e.to_string());
    for task in [scheduler, controller_manager].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    if let Some(rt) = node_runtime {
        if let Err(e) = rt.stop().await {
            tracing::warn!(error = %e, "managed containerd");
        }
    }

    let mut result = served;
    if let Some((stop, task)) = etcd_task {
        stop.cancel();
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(Ok(Err(e))) => result = result.and(Err(e)),
            Ok(_) => {}
            Err(_) => tracing::warn!("etcd did not stop in time"),
        }
    }
    result
}

/// Starts the scheduler once the API server is ready; like etcd, a scheduler that fails stops
/// the whole server rather than leaving it half working.
async fn run_scheduler_when_ready(kubeconfig: std::path::PathBuf, health: corekube_apiserver::Health, shutdown: CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = health.wait_startup_done() => {}
    }
    let result = async {
        let client = corekube_scheduler::run::client_from_kubeconfig(&kubeconfig).await.map_err(|e| e.to_string())?;
        crate::scheduler_with_lease(client, corekube_scheduler::run::DEFAULT_SCHEDULER_NAME.into(), true, shutdown.clone()).await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "scheduler failed; stopping");
        shutdown.cancel();
    }
}

/// Starts the controller manager once the API server is ready (it elects itself leader
/// through its Lease like a separate instance would, so a standby `corekube controller-manager`
/// can take over).
async fn run_controller_manager_when_ready(
    kubeconfig: std::path::PathBuf,
    controllers: Vec<&'static str>,
    root_ca_pem: String,
    nodes: corekube_controller_manager::nodes::Options,
    volume_dir: std::path::PathBuf,
    health: corekube_apiserver::Health,
    shutdown: CancellationToken,
) {
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = health.wait_startup_done() => {}
    }
    match corekube_client::client_from_kubeconfig(&kubeconfig, "kube-controller-manager").await {
        Ok(client) => {
            let config =
                corekube_controller_manager::Config { client, controllers, leader_elect: true, leader_timing: Default::default(), root_ca_pem, nodes, volume_dir };
            corekube_controller_manager::run(config, shutdown).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "controller manager failed; stopping");
            shutdown.cancel();
        }
    }
}

/// The address clients use: an unspecified bind address is reached over loopback.
fn client_address(bind: IpAddr) -> IpAddr {
    if bind.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bind
    }
}
