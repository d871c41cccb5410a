//! The `corekube` command: parses flags, installs signal handling and logging, and runs the
//! chosen component until it stops, turning its result into the exit code.

mod cli;
mod etcd;
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

/// A small idle footprint matters more here than the last percent of allocation speed: commit
/// arena memory on use and give freed pages back to the OS at once (mimalloc's default waits
/// 10 ms and keeps whole arenas committed).
fn tune_allocator() {
    // SAFETY: plain option setters of the allocator in use, called before any other thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

fn main() -> std::process::ExitCode {
    tune_allocator();
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| cli.log_filter().into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        match cli.command {
            cli::Command::Server(opts) => server::run(opts, shutdown).await,
            cli::Command::Scheduler(opts) => run_scheduler(opts, shutdown).await,
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
    let config = corekube_scheduler::run::Config { client, scheduler_name: opts.scheduler_name };
    corekube_scheduler::run::run(config, shutdown).await.map_err(|e| e.to_string())
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
