//! The `corekube` command: parses flags, installs signal handling and logging, and runs the
//! chosen component until it stops, turning its result into the exit code.

mod child;
mod cli;
mod containerd;
mod etcd;
mod node;
mod server;

use clap::Parser;

/// mimalloc: the API server's request paths allocate many small JSON trees, and glibc's
/// allocator was a quarter of its CPU time in the create benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;

/// mimalloc v3 option numbers (include/mimalloc.h, `mi_option_e`).
const MI_OPTION_ARENA_EAGER_COMMIT: i32 = 4;
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// Turns transparent huge pages off for this process, unless `MIMALLOC_ALLOW_THP` says
/// otherwise. mimalloc asks for them on its arenas, which makes every 2 MiB region it has
/// touched at all resident in full: the idle server was 38 MiB with them and 22 MiB without
/// (14 MiB of AnonHugePages for about 3 MiB of live heap), and create throughput in an
/// alternating A/B did not drop. mimalloc's own option for this is read in its constructor
/// (priority 101, before main), after it has advised huge pages for its first arena; this runs
/// at 100, just before it, and sets the process-wide switch that option sets, which overrides
/// any advice. Children inherit it; the managed etcd clears it again.
extern "C" fn disable_transparent_huge_pages() {
    // libc directly: nothing here may allocate, as the allocator has not started.
    // SAFETY: getenv with a NUL-terminated name, before any thread could change the environment;
    // prctl on this process with no memory passed.
    unsafe {
        if libc::getenv(c"MIMALLOC_ALLOW_THP".as_ptr()).is_null() {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

#[used]
#[link_section = ".init_array.00100"]
static DISABLE_THP_BEFORE_MIMALLOC: extern "C" fn() = disable_transparent_huge_pages;

/// How long freed memory stays committed before it is given back to the OS. Giving it back at
/// once (delay 0) made every emptied page an madvise, a TLB shootdown across cores and a fresh
/// page fault when it was used again: about a fifth of the API server's CPU in the pod create
/// benchmark, where an alternating A/B gave 3.4-3.5k pods/s at 64 clients with 1000 ms against
/// 2.7-2.9k with 0.
const PURGE_DELAY_MS: i64 = 1000;

/// mimalloc purges expired memory only when some thread allocates a fresh page, which an idle
/// server may not do for a long time; this thread purges everything freed so far once a
/// second, so memory freed by a burst of work goes back to the OS within about a second.
const PURGE_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// A small idle footprint matters more here than the last percent of allocation speed: commit
/// arena memory on use (mimalloc's default keeps whole arenas committed), return freed memory
/// within a second or two, and no transparent huge pages (`disable_transparent_huge_pages`).
/// mimalloc's own environment variables (`MIMALLOC_PURGE_DELAY`, ...) still win.
fn tune_allocator() {
    let options = [(MI_OPTION_ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT", 0), (MI_OPTION_PURGE_DELAY, "MIMALLOC_PURGE_DELAY", PURGE_DELAY_MS)];
    for (option, env, value) in options {
        if std::env::var_os(env).is_none() {
            // SAFETY: a plain option setter of the allocator in use, called before any other thread exists.
            unsafe { libmimalloc_sys::mi_option_set(option, value as _) };
        }
    }
    let purger = std::thread::Builder::new().name("mem-purge".into()).spawn(|| loop {
        std::thread::sleep(PURGE_TICK);
        // SAFETY: mimalloc's collect entry point, callable from any thread at any time; `true`
        // purges what is pending now instead of waiting for PURGE_DELAY_MS.
        unsafe { libmimalloc_sys::mi_collect(true) };
    });
    if let Err(e) = purger {
        eprintln!("corekube: no memory purge thread ({e}); freed memory is returned only under load");
    }
}

/// A worker thread going idle collects its own heap, at most once per PURGE_TICK. mimalloc
/// hands a block freed by another thread back to the page's owner only when the owner next
/// allocates, and the purge thread cannot do that for it: after 1,000 watches on one HTTP/2
/// connection ended, about 45 MiB stayed resident until the workers did more work.
fn collect_idle_worker() {
    use std::cell::Cell;
    use std::time::Instant;
    thread_local!(static LAST: Cell<Option<Instant>> = const { Cell::new(None) });
    let now = Instant::now();
    if LAST.get().is_some_and(|last| now.duration_since(last) < PURGE_TICK) {
        return;
    }
    LAST.set(Some(now));
    // SAFETY: mimalloc's collect entry point for the calling thread's heap; callable any time.
    unsafe { libmimalloc_sys::mi_collect(false) };
}

fn main() -> std::process::ExitCode {
    tune_allocator();
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| cli.log_filter().into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().on_thread_park(collect_idle_worker).build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        match cli.command {
            cli::Command::Server(opts) => server::run(opts, shutdown).await,
            cli::Command::Scheduler(opts) => run_scheduler(opts, shutdown).await,
            cli::Command::ControllerManager(opts) => run_controller_manager(opts, shutdown).await,
            cli::Command::Kubelet(opts) => run_kubelet(opts, shutdown).await,
            cli::Command::Images(cmd) => images(cmd).await,
            cli::Command::Certs(cmd) => certs(cmd),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("corekube: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `corekube scheduler`: the same scheduler the server runs, as a separate process.
async fn run_scheduler(opts: cli::SchedulerOptions, shutdown: CancellationToken) -> Result<(), String> {
    let client = corekube_scheduler::run::client_from_kubeconfig(&opts.kubeconfig).await.map_err(|e| e.to_string())?;
    scheduler_with_lease(client, opts.scheduler_name, opts.leader_elect, shutdown).await
}

/// Runs the scheduler while this instance holds the kube-system/kube-scheduler Lease (or at
/// once without leader election). A scheduler that cannot start fails the caller.
pub(crate) async fn scheduler_with_lease(client: kube::Client, scheduler_name: String, leader_elect: bool, shutdown: CancellationToken) -> Result<(), String> {
    let config = corekube_scheduler::run::Config { client: client.clone(), scheduler_name };
    if !leader_elect {
        return corekube_scheduler::run::run(config, shutdown).await.map_err(|e| e.to_string());
    }
    let lock = corekube_client::leader::LeaseLock {
        api: kube::Api::namespaced(client, "kube-system"),
        name: "kube-scheduler".into(),
        identity: corekube_client::leader::identity(),
        timing: Default::default(),
    };
    let failure = std::sync::Arc::new(std::sync::Mutex::new(None));
    let failed = failure.clone();
    let stop_all = shutdown.clone();
    lock.run(shutdown, move |leading| {
        let config = corekube_scheduler::run::Config { client: config.client.clone(), scheduler_name: config.scheduler_name.clone() };
        let (failed, stop_all) = (failed.clone(), stop_all.clone());
        async move {
            if let Err(e) = corekube_scheduler::run::run(config, leading).await {
                *failed.lock().expect("failure lock") = Some(e.to_string());
                stop_all.cancel();
            }
        }
    })
    .await;
    let failed = failure.lock().expect("failure lock").take();
    failed.map_or(Ok(()), Err)
}

/// `corekube controller-manager`: the same controllers the server runs, as a separate process.
async fn run_controller_manager(opts: cli::ControllerManagerOptions, shutdown: CancellationToken) -> Result<(), String> {
    let controllers = corekube_controller_manager::select_controllers(&opts.controllers).map_err(|e| e.to_string())?;
    let client = corekube_client::client_from_kubeconfig(&opts.kubeconfig, "kube-controller-manager").await.map_err(|e| e.to_string())?;
    // As upstream without --root-ca-file: the CA the kubeconfig trusts is the one published.
    let root_ca_pem = corekube_controller_manager::ca_from_kubeconfig(&opts.kubeconfig).map_err(|e| e.to_string())?;
    let config =
        corekube_controller_manager::Config { client, controllers, leader_elect: opts.leader_elect, leader_timing: Default::default(), root_ca_pem, nodes: opts.node_controllers.options(&opts.cluster_cidr), volume_dir: opts.volume_dir };
    corekube_controller_manager::run(config, shutdown).await;
    Ok(())
}

/// `corekube kubelet`: one node, with its own managed containerd unless given a CRI socket.
async fn run_kubelet(opts: cli::KubeletOptions, shutdown: CancellationToken) -> Result<(), String> {
    std::fs::create_dir_all(&opts.root_dir).map_err(|e| format!("cannot create {}: {e}", opts.root_dir.display()))?;
    let image_dir = opts.node.image_dir.clone().unwrap_or_else(|| opts.root_dir.join("images"));
    let runtime = node::start_runtime(&opts.node, &opts.root_dir, &image_dir, shutdown.clone()).await?;
    let serving = match (&opts.tls_cert_file, &opts.tls_private_key_file) {
        (Some(cert), Some(key)) => {
            let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()));
            Some((read(cert)?, read(key)?))
        }
        _ => {
            tracing::warn!("no --tls-cert-file: the kubelet API is off, so kubectl logs, exec and port-forward cannot reach this node's pods");
            None
        }
    };
    let result = node::run_kubelet(&opts.kubeconfig, &opts.node, &opts.root_dir, &runtime.socket, serving, shutdown).await;
    let stopped = runtime.stop().await;
    result.and(stopped)
}

/// `corekube certs kubelet-serving`: a joining node's kubelet serving certificate.
fn certs(cmd: cli::CertsCommand) -> Result<(), String> {
    match cmd {
        cli::CertsCommand::KubeletServing { data_dir, node_name, node_ips } => {
            let pki = corekube_pki::load_or_create(&data_dir.join("pki"), &[]).map_err(|e| format!("PKI: {e}"))?;
            let stem = format!("{node_name}-kubelet-serving");
            let mut sans = node_ips;
            sans.push(node_name.clone());
            pki.kubelet_serving_cert(&stem, &node_name, &sans).map_err(|e| format!("kubelet serving certificate: {e}"))?;
            println!("{}", pki.dir.join(format!("{stem}.crt")).display());
            println!("{}", pki.dir.join(format!("{stem}.key")).display());
            Ok(())
        }
    }
}

/// `corekube images import|list`: the node's runtime image store.
async fn images(cmd: cli::ImagesCommand) -> Result<(), String> {
    let socket = |r: &cli::RuntimeSocket| r.container_runtime_endpoint.clone().unwrap_or_else(|| node::managed_socket(&r.data_dir.join("kubelet")));
    match cmd {
        cli::ImagesCommand::Import { file, runtime } => containerd::import_image(&socket(&runtime), &file).map_err(|e| e.to_string()),
        cli::ImagesCommand::List { runtime } => {
            let cri = corekube_kubelet::cri::Cri::connect(&socket(&runtime)).map_err(|e| e.to_string())?;
            let images = cri.list_images().await.map_err(|e| e.to_string())?;
            println!("{:<50} {:<20} {:>10}", "IMAGE", "ID", "SIZE");
            for i in images {
                let id: String = i.id.trim_start_matches("sha256:").chars().take(13).collect();
                for tag in i.repo_tags.iter().chain(i.repo_tags.is_empty().then_some(&i.id)) {
                    println!("{:<50} {:<20} {:>9.1}M", tag, id, i.size as f64 / 1e6);
                }
            }
            Ok(())
        }
    }
}

/// SIGTERM or SIGINT starts a graceful stop; a second one ends the process at once.
async fn stop_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::info!("signal received; shutting down");
    shutdown.cancel();
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::warn!("second signal; exiting now");
    std::process::exit(130);
}
