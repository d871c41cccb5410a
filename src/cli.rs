//! Command-line flags. Defaults are the secure, single-machine ones.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "corekube", version, about = "A miniature Kubernetes in one binary")]
pub struct Cli {
    /// Log verbosity: error, warn, info, debug or trace (RUST_LOG overrides it).
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn log_filter(&self) -> String {
        // Dependencies stay quiet unless asked for; corekube logs at the chosen level.
        format!("warn,corekube={0},corekube_apiserver={0},corekube_storage={0},corekube_scheduler={0},corekube_kubelet={0},corekube_controller_manager={0},corekube_client={0}", self.log_level)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Runs the control plane: the API server, with its own etcd unless --etcd-servers is given,
    /// and the scheduler.
    Server(ServerOptions),
    /// Runs only the scheduler, against the API server a kubeconfig names.
    Scheduler(SchedulerOptions),
    /// Runs only the controller manager, against the API server a kubeconfig names.
    ControllerManager(ControllerManagerOptions),
    /// Runs only a kubelet (a node), against the API server a kubeconfig names.
    Kubelet(KubeletOptions),
    /// Loads or lists the images of a node's container runtime.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Issues certificates from a server's cluster CA.
    #[command(subcommand)]
    Certs(CertsCommand),
}

/// How a node runs its pods; shared by `corekube server` and `corekube kubelet`.
#[derive(Args, Debug, Clone)]
pub struct NodeOptions {
    /// The node's name (default: the machine's host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// The address the node reports (default: the machine's first non-loopback IPv4 address).
    #[arg(long)]
    pub node_ip: Option<String>,
    /// The unix socket of a running CRI runtime; without it corekube starts its own containerd.
    #[arg(long)]
    pub container_runtime_endpoint: Option<PathBuf>,
    /// This node's pod range (its own bridge); two nodes on one machine need distinct ones.
    #[arg(long, default_value = "10.42.0.0/24")]
    pub pod_cidr: String,
    /// The whole cluster's pod range: pods get a route to it, nothing else, and the machine
    /// routes nothing addressed to it anywhere but to the nodes' bridges.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: String,
    /// The Linux bridge of this node's pods (default: ckbr<third octet of --pod-cidr>).
    #[arg(long)]
    pub bridge: Option<String>,
    /// Image archives (OCI or docker tar files) loaded into the node's runtime at start
    /// (default: DIR/images, where scripts/up puts the offline images).
    #[arg(long)]
    pub image_dir: Option<PathBuf>,
    /// Resources kept from pods, e.g. cpu=500m,memory=1Gi.
    #[arg(long, value_delimiter = ',')]
    pub system_reserved: Vec<String>,
    /// Leave the node's pods running when corekube stops (by default they are stopped).
    #[arg(long)]
    pub keep_pods_on_exit: bool,
    /// The kubelet API's port (logs, exec, attach, port-forward), on the node's IP; 0 picks a
    /// free one. The Node's status.daemonEndpoints reports it.
    #[arg(long, default_value_t = 10250)]
    pub kubelet_port: u16,
    /// A container log grows to this size before it is rotated (a quantity: 10Mi).
    #[arg(long, default_value = "10Mi")]
    pub container_log_max_size: String,
    /// Taints the node gets when it first registers, as upstream's kubelet flag:
    /// KEY=VALUE:EFFECT or KEY:EFFECT, comma-separated (EFFECT NoSchedule, PreferNoSchedule or
    /// NoExecute).
    #[arg(long, value_delimiter = ',')]
    pub register_with_taints: Vec<String>,
    /// Log files kept per container, the live one included (at least 2).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..))]
    pub container_log_max_files: u32,
}

impl NodeOptions {
    pub fn bridge_name(&self) -> String {
        self.bridge.clone().unwrap_or_else(|| format!("ckbr{}", self.pod_cidr.split('.').nth(2).unwrap_or("0")))
    }
}

#[derive(Args, Debug, Clone)]
pub struct KubeletOptions {
    /// The kubeconfig with the node's identity (`corekube server` writes DIR/kubelet.kubeconfig).
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Where the node keeps pod volumes, logs and its managed containerd.
    #[arg(long, default_value = "/var/lib/corekube/kubelet")]
    pub root_dir: PathBuf,
    /// The kubelet API's serving certificate (from the cluster CA, for the node's IP), as
    /// `corekube certs kubelet-serving` writes it; without it and its key the kubelet API
    /// is off and `kubectl logs`/`exec` cannot reach this node's pods.
    #[arg(long, requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    #[arg(long, requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    #[command(flatten)]
    pub node: NodeOptions,
}

#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Issues a kubelet serving certificate from a server's cluster CA (DIR/pki), for a node
    /// started with `corekube kubelet`: writes NODE-kubelet-serving.crt/.key under DIR/pki.
    KubeletServing {
        /// The data directory of the `corekube server` whose CA signs.
        #[arg(long, default_value = "/var/lib/corekube")]
        data_dir: PathBuf,
        #[arg(long)]
        node_name: String,
        /// The node's addresses the certificate covers (its InternalIP first).
        #[arg(long = "node-ip", required = true)]
        node_ips: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImagesCommand {
    /// Loads an OCI or docker image archive into the node's runtime (containerd namespace k8s.io).
    Import {
        file: PathBuf,
        #[command(flatten)]
        runtime: RuntimeSocket,
    },
    /// Lists the images the node's runtime has.
    List {
        #[command(flatten)]
        runtime: RuntimeSocket,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RuntimeSocket {
    /// The runtime's socket (default: the managed containerd of DIR/kubelet).
    #[arg(long)]
    pub container_runtime_endpoint: Option<PathBuf>,
    /// The data directory of the `corekube server` whose node is meant.
    #[arg(long, default_value = "/var/lib/corekube")]
    pub data_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct SchedulerOptions {
    /// The kubeconfig with the scheduler's identity (`corekube server` writes
    /// DATA_DIR/scheduler.kubeconfig).
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// The profile name pods select with spec.schedulerName.
    #[arg(long, default_value = "default-scheduler")]
    pub scheduler_name: String,
    /// Take the kube-system/kube-scheduler Lease before scheduling, so that of several
    /// instances only one acts (`--leader-elect=false` to act without it).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ControllerManagerOptions {
    /// The kubeconfig with the controller manager's identity (`corekube server` writes
    /// DATA_DIR/controller-manager.kubeconfig).
    #[arg(long)]
    pub kubeconfig: PathBuf,
    /// Which controllers run: `*` for all, `NAME` to add one, `-NAME` to leave one out (as
    /// upstream's --controllers).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,
    /// Take the kube-system/kube-controller-manager Lease before acting, so that of several
    /// instances only one acts (`--leader-elect=false` to act without it).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// The cluster's pod range, which node IPAM cuts node ranges from.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: String,
    #[command(flatten)]
    pub node_controllers: NodeControllerFlags,
    /// Where the built-in local provisioner (`corekube.io/local-path`) makes its volumes'
    /// directories (`corekube server` uses DATA_DIR/volumes).
    #[arg(long, default_value = "/var/lib/corekube/volumes")]
    pub volume_dir: PathBuf,
}

/// The node controllers' settings, shared by `corekube server` and `corekube controller-manager`.
#[derive(Args, Debug, Clone)]
pub struct NodeControllerFlags {
    /// The prefix length of the pod range node IPAM gives each node from the cluster range.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// How often the node lifecycle controller checks node heartbeats.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub node_monitor_period: Duration,
    /// How long a node may go without a heartbeat before it is marked Unknown and tainted
    /// unreachable.
    #[arg(long, default_value = "50s", value_parser = parse_duration)]
    pub node_monitor_grace_period: Duration,
    /// How many finished pods are kept before the pod garbage collector deletes the oldest.
    #[arg(long, default_value_t = 12500)]
    pub terminated_pod_gc_threshold: usize,
}

impl NodeControllerFlags {
    pub fn options(&self, cluster_cidr: &str) -> corekube_controller_manager::nodes::Options {
        corekube_controller_manager::nodes::Options {
            cluster_cidr: cluster_cidr.to_string(),
            node_cidr_mask_size: self.node_cidr_mask_size,
            node_monitor_period: self.node_monitor_period,
            node_monitor_grace_period: self.node_monitor_grace_period,
            terminated_pod_gc_threshold: self.terminated_pod_gc_threshold,
        }
    }
}

/// Components `corekube server` runs besides the API server, each of which `--disable` turns off.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Scheduler,
    ControllerManager,
    Kubelet,
}

#[derive(Args, Debug, Clone)]
pub struct ServerOptions {
    /// Where certificates, the admin kubeconfig and the managed etcd's data live.
    #[arg(long, default_value = "/var/lib/corekube")]
    pub data_dir: PathBuf,
    /// The HTTPS port of the API server.
    #[arg(long, default_value_t = 6443)]
    pub secure_port: u16,
    /// The address the API server listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: IpAddr,
    /// Comma-separated client URLs of an existing etcd cluster; without it corekube starts and
    /// supervises its own etcd on loopback.
    #[arg(long, value_delimiter = ',', value_parser = parse_etcd_url)]
    pub etcd_servers: Vec<String>,
    /// How often etcd history is compacted (e.g. 5m, 30s; 0 disables).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub etcd_compaction_interval: Duration,
    /// Components not to run in this process (comma-separated): scheduler, controller-manager,
    /// kubelet.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub disable: Vec<Component>,
    /// Which controllers the controller manager runs (as `corekube controller-manager
    /// --controllers`).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,
    #[command(flatten)]
    pub node_controllers: NodeControllerFlags,
    #[command(flatten)]
    pub node: NodeOptions,
}

/// Checks one etcd client URL: `http://HOST:PORT` (etcd TLS is not supported yet), so a
/// malformed one stops the start with a clear error instead of failing every request later.
pub fn parse_etcd_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    let bad = |why: &str| format!("invalid etcd URL {s:?}: {why} (expected http://HOST:PORT)");
    let rest = match s.split_once("://") {
        Some(("http", rest)) => rest,
        Some(("https", _)) => return Err(bad("TLS to etcd is not supported yet")),
        Some(_) | None => return Err(bad("the scheme must be http")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') || authority.contains('@') {
        return Err(bad("a path or user part is not allowed"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => return Err(bad("the port is missing")),
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("the host is missing"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(format!("http://{host}:{p}")),
        _ => Err(bad("the port must be a number from 1 to 65535")),
    }
}

/// Parses `90`, `90s`, `5m`, `1h` or `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("invalid duration unit in {s:?} (use ms, s, m or h)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn etcd_urls_are_checked_at_start() {
        assert_eq!(parse_etcd_url("http://127.0.0.1:2379").unwrap(), "http://127.0.0.1:2379");
        assert_eq!(parse_etcd_url("http://[::1]:2379/").unwrap(), "http://[::1]:2379");
        for bad in ["http://127.0.0.1:", "http://127.0.0.1", "127.0.0.1:2379", "http://:2379", "https://e:2379", "http://e:99999", "http://e:1/x"] {
            assert!(parse_etcd_url(bad).is_err(), "{bad}");
        }
        let err = Cli::try_parse_from(["corekube", "server", "--etcd-servers", "http://127.0.0.1:"]).unwrap_err().to_string();
        assert!(err.contains("the port must be a number"), "{err}");
    }

    #[test]
    fn server_defaults_are_secure_and_local() {
        let cli = Cli::parse_from(["corekube", "server"]);
        let Command::Server(o) = cli.command else { panic!("server") };
        assert_eq!(o.secure_port, 6443);
        assert!(o.disable.is_empty(), "every component runs by default");
        assert_eq!(o.bind_address.to_string(), "127.0.0.1");
        assert!(o.etcd_servers.is_empty());
    }
}
