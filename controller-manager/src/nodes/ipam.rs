//! Node IPAM (upstream's range allocator): every node without `spec.podCIDR` gets the lowest
//! free range of `--node-cidr-mask-size` cut from `--cluster-cidr`. A range is free when no
//! node in the cache holds it and this allocator has not just handed it out (the cache may not
//! show that node yet). A kubelet started with its own `--pod-cidr` registers with that range,
//! which then counts as taken.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::util::Ctx;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("no pod range left in {0}")]
    Exhausted(String),
    #[error(transparent)]
    Panicked(#[from] crate::util::Panicked),
}

/// An IPv4 range: first address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    base: u32,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (ip, prefix) = s.split_once('/')?;
        let ip: Ipv4Addr = ip.parse().ok()?;
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        Some(Cidr { base: u32::from(ip) & mask, prefix })
    }

    /// The `n`th subrange of length `prefix`, if it fits.
    fn subrange(&self, prefix: u8, n: u32) -> Option<Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let count = 1u64 << (prefix - self.prefix);
        if u64::from(n) >= count {
            return None;
        }
        let size = if prefix == 32 { 1 } else { 1u32 << (32 - prefix) };
        Some(Cidr { base: self.base + n * size, prefix })
    }

    fn subranges(&self, prefix: u8) -> u32 {
        if prefix < self.prefix {
            return 0;
        }
        (1u64 << (prefix - self.prefix)).min(u64::from(u32::MAX)) as u32
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// The lowest range of `mask` in `cluster` not in `taken`.
pub fn lowest_free(cluster: Cidr, mask: u8, taken: &[Cidr]) -> Option<Cidr> {
    (0..cluster.subranges(mask)).filter_map(|n| cluster.subrange(mask, n)).find(|c| !taken.contains(c))
}

struct State {
    base: Arc<Ctx<Node>>,
    nodes: Store<Node>,
    cluster: Cidr,
    mask: u8,
    /// Ranges handed out recently, by node name, until the cache shows them.
    handed_out: Mutex<HashMap<String, (Cidr, Instant)>>,
}

/// How long a handed-out range is remembered without the cache showing it.
const HANDED_OUT_TTL: Duration = Duration::from_secs(60);

pub(crate) fn start(informers: &mut Informers, client: kube::Client, options: &super::Options, shutdown: CancellationToken) -> crate::Running {
    let Some(cluster) = Cidr::parse(&options.cluster_cidr) else {
        tracing::error!(cidr = %options.cluster_cidr, "node IPAM: invalid --cluster-cidr; not allocating");
        return Box::pin(async {});
    };
    let nodes = informers.store::<Node>();
    let state = Arc::new(State {
        base: Ctx::new(client, "node-ipam-controller"),
        nodes: nodes.clone(),
        cluster,
        mask: options.node_cidr_mask_size,
        handed_out: Mutex::new(HashMap::new()),
    });
    // One at a time: two nodes must never get the same range.
    let controller = Controller::for_stream(informers.subscribe::<Node>(), nodes)
        .with_config(Config::default().concurrency(1))
        .graceful_shutdown_on(async move { shutdown.cancelled().await });
    Box::pin(controller.run(reconcile, error_policy, state).for_each(|_| async {}))
}

fn error_policy(node: Arc<Node>, error: &Error, state: Arc<State>) -> Action {
    let delay = state.base.backoff.failed(&ObjectRef::from_obj(node.as_ref()));
    tracing::debug!(node = %node.name_any(), %error, ?delay, "pod range allocation failed; requeued");
    Action::requeue(delay)
}

fn node_cidr(node: &Node) -> Option<Cidr> {
    node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()).and_then(Cidr::parse)
}

async fn reconcile(node: Arc<Node>, state: Arc<State>) -> Result<Action, Error> {
    crate::util::guarded(allocate(node, state)).await
}

async fn allocate(node: Arc<Node>, state: Arc<State>) -> Result<Action, Error> {
    if node_cidr(&node).is_some() || node.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = node.name_any();
    let mut taken: Vec<Cidr> = state.nodes.state().iter().filter_map(|n| node_cidr(n)).collect();
    let again = {
        let mut handed = state.handed_out.lock().expect("ipam lock");
        handed.retain(|_, (c, at)| at.elapsed() < HANDED_OUT_TTL && !taken.contains(c));
        taken.extend(handed.values().map(|(c, _)| *c));
        handed.get(&name).map(|(c, _)| *c)
    };
    // A range handed to this node whose write the cache does not show yet is written again.
    let cidr = match again.or_else(|| lowest_free(state.cluster, state.mask, &taken)) {
        Some(c) => c,
        None => {
            let note = format!("Node {name} status is now: CIDRNotAvailable");
            state.base.event(&node.object_ref(&()), EventType::Normal, "CIDRNotAvailable", note).await;
            return Err(Error::Exhausted(state.cluster.to_string()));
        }
    };
    let api: Api<Node> = Api::all(state.base.client.clone());
    let patch = json!({"spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
    state.handed_out.lock().expect("ipam lock").insert(name.clone(), (cidr, Instant::now()));
    tracing::info!(node = %name, %cidr, "pod range allocated");
    state.base.backoff.succeeded(&ObjectRef::from_obj(node.as_ref()));
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_range() {
        let cluster = Cidr::parse("10.42.0.0/16").unwrap();
        let c = |s: &str| Cidr::parse(s).unwrap();
        assert_eq!(lowest_free(cluster, 24, &[]).unwrap().to_string(), "10.42.0.0/24");
        assert_eq!(lowest_free(cluster, 24, &[c("10.42.0.0/24"), c("10.42.2.0/24")]).unwrap().to_string(), "10.42.1.0/24");
        let small = Cidr::parse("10.0.0.0/23").unwrap();
        assert_eq!(lowest_free(small, 24, &[c("10.0.0.0/24"), c("10.0.1.0/24")]), None);
        assert_eq!(Cidr::parse("10.42.3.7/16").unwrap().to_string(), "10.42.0.0/16");
        assert!(Cidr::parse("10.42.0.0/33").is_none());
    }
}
