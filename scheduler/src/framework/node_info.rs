//! What the scheduler knows about one node: the node, its pods, and aggregates kept in step.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use corekube_api::selector::LabelSelector;
use k8s_openapi::api::core::v1::{Node, Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use crate::resources::{node_allocatable, pod_requests, Resource};

/// A parsed pod (anti-)affinity term, as upstream's `framework.AffinityTerm`.
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    pub namespaces: Vec<String>,
    /// `None` matches no namespace; an empty selector matches every namespace.
    pub namespace_selector: Option<LabelSelector>,
    /// `None` (a term without a labelSelector) matches no pod.
    pub selector: Option<LabelSelector>,
    pub topology_key: String,
}

impl AffinityTerm {
    /// Parses as upstream's `newAffinityTerm`: no namespaces and no namespaceSelector mean the
    /// owning pod's namespace. An invalid selector matches nothing.
    pub fn new(owner_namespace: &str, term: &PodAffinityTerm) -> AffinityTerm {
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(owner_namespace.to_string());
        }
        AffinityTerm {
            namespaces,
            namespace_selector: term.namespace_selector.as_ref().and_then(|s| LabelSelector::from_metav1(s).ok()),
            selector: term.label_selector.as_ref().and_then(|s| LabelSelector::from_metav1(s).ok()),
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` (with its namespace's labels) is selected by the term.
    pub fn matches(&self, pod: &Pod, namespace_labels: Option<&BTreeMap<String, String>>) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let ns_ok = self.namespaces.iter().any(|n| n == ns)
            || match (&self.namespace_selector, namespace_labels) {
                (Some(sel), Some(labels)) => sel.matches(labels),
                (Some(sel), None) => sel.is_empty(),
                (None, _) => false,
            };
        ns_ok && self.selector.as_ref().is_some_and(|s| s.matches(pod_labels(pod)))
    }
}

#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    pub term: AffinityTerm,
    pub weight: i32,
}

/// A pod's parsed inter-pod affinity; only allocated for pods that have some.
#[derive(Clone, Debug, Default)]
pub struct PodAffinityInfo {
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
}

impl PodAffinityInfo {
    pub fn of(pod: &Pod) -> Option<PodAffinityInfo> {
        let aff = pod.spec.as_ref()?.affinity.as_ref()?;
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let req = |t: &Option<Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            t.iter().flatten().map(|t| AffinityTerm::new(ns, t)).collect()
        };
        let pref = |t: &Option<Vec<WeightedPodAffinityTerm>>| -> Vec<WeightedAffinityTerm> {
            t.iter()
                .flatten()
                .map(|w| WeightedAffinityTerm { term: AffinityTerm::new(ns, &w.pod_affinity_term), weight: w.weight })
                .collect()
        };
        let pa = aff.pod_affinity.as_ref();
        let paa = aff.pod_anti_affinity.as_ref();
        let info = PodAffinityInfo {
            required_affinity: pa.map(|a| req(&a.required_during_scheduling_ignored_during_execution)).unwrap_or_default(),
            required_anti_affinity: paa
                .map(|a| req(&a.required_during_scheduling_ignored_during_execution))
                .unwrap_or_default(),
            preferred_affinity: pa.map(|a| pref(&a.preferred_during_scheduling_ignored_during_execution)).unwrap_or_default(),
            preferred_anti_affinity: paa
                .map(|a| pref(&a.preferred_during_scheduling_ignored_during_execution))
                .unwrap_or_default(),
        };
        let empty = info.required_affinity.is_empty()
            && info.required_anti_affinity.is_empty()
            && info.preferred_affinity.is_empty()
            && info.preferred_anti_affinity.is_empty();
        (!empty).then_some(info)
    }
}

/// A pod with what the scheduler derives from it, computed once when it enters the snapshot.
#[derive(Clone, Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub requests: Resource,
    /// cpu (millicores) and memory with the scoring defaults for containers requesting nothing.
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub affinity: Option<Box<PodAffinityInfo>>,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let requests = pod_requests(&pod, false);
        let nz = pod_requests(&pod, true);
        let affinity = PodAffinityInfo::of(&pod).map(Box::new);
        PodInfo { pod, requests, non_zero_cpu: nz.milli_cpu, non_zero_memory: nz.memory, affinity }
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        self.affinity.as_ref().is_some_and(|a| !a.required_anti_affinity.is_empty())
    }

    fn same_pod(&self, pod: &Pod) -> bool {
        same_pod(&self.pod, pod)
    }
}

/// Identity as the cache sees it: UID when both have one, else namespace/name.
pub(crate) fn same_pod(a: &Pod, b: &Pod) -> bool {
    match (a.metadata.uid.as_deref(), b.metadata.uid.as_deref()) {
        (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => x == y,
        _ => a.metadata.name == b.metadata.name && a.metadata.namespace == b.metadata.namespace,
    }
}

pub(crate) fn pod_labels(pod: &Pod) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    pod.metadata.labels.as_ref().unwrap_or(&EMPTY)
}

pub(crate) fn node_labels(node: &Node) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    node.metadata.labels.as_ref().unwrap_or(&EMPTY)
}

/// One host port in use: ip ("0.0.0.0" when unset), protocol ("TCP" when unset), port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// Upstream's `HostPortInfo.CheckConflict`: the wildcard address conflicts with every
    /// address; otherwise the same address or a wildcard entry conflicts.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// The host ports a pod asks for (containers and sidecar init containers).
pub fn pod_host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else { return Vec::new() };
    let sidecars = spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|&h| h > 0)?;
            Some(HostPort {
                ip: p.host_ip.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "0.0.0.0".into()),
                protocol: p.protocol.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "TCP".into()),
                port,
            })
        })
        .collect()
}

/// A node and its pods, with the aggregates Filter and Score read.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub pods: Vec<PodInfo>,
    pub allocatable: Resource,
    /// Sum of the pods' requests.
    pub requested: Resource,
    /// Sum with the 100m / 200Mi scoring defaults; only cpu and memory are kept.
    pub non_zero_requested: Resource,
    pub used_ports: Vec<HostPort>,
    /// Image name (every name the node reports) -> size in bytes.
    pub images: HashMap<String, i64>,
    pub pods_with_affinity: usize,
    pub pods_with_required_anti_affinity: usize,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let allocatable = node_allocatable(&node);
        let images = node_images(&node);
        NodeInfo {
            node,
            pods: Vec::new(),
            allocatable,
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            used_ports: Vec::new(),
            images,
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
        }
    }

    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or("")
    }

    pub fn labels(&self) -> &BTreeMap<String, String> {
        node_labels(&self.node)
    }

    /// Replaces the node object, keeping the pods (allocatable and images are recomputed).
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = node_allocatable(&node);
        self.images = node_images(&node);
        self.node = node;
    }

    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        self.add_pod_info(PodInfo::new(pod));
    }

    pub fn add_pod_info(&mut self, pi: PodInfo) {
        self.requested.add(&pi.requests);
        self.non_zero_requested.milli_cpu += pi.non_zero_cpu;
        self.non_zero_requested.memory += pi.non_zero_memory;
        self.used_ports.extend(pod_host_ports(&pi.pod));
        if pi.affinity.is_some() {
            self.pods_with_affinity += 1;
        }
        if pi.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(pi);
    }

    /// Removes the pod (matched by UID, else namespace/name); returns it if it was there.
    pub fn remove_pod(&mut self, pod: &Pod) -> Option<PodInfo> {
        let i = self.pods.iter().position(|p| p.same_pod(pod))?;
        let pi = self.pods.swap_remove(i);
        self.requested.sub(&pi.requests);
        self.non_zero_requested.milli_cpu -= pi.non_zero_cpu;
        self.non_zero_requested.memory -= pi.non_zero_memory;
        for hp in pod_host_ports(&pi.pod) {
            if let Some(j) = self.used_ports.iter().position(|u| *u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        if pi.affinity.is_some() {
            self.pods_with_affinity -= 1;
        }
        if pi.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity -= 1;
        }
        Some(pi)
    }
}

fn node_images(node: &Node) -> HashMap<String, i64> {
    let mut m = HashMap::new();
    for img in node.status.as_ref().and_then(|s| s.images.as_ref()).into_iter().flatten() {
        for name in img.names.iter().flatten() {
            m.insert(name.clone(), img.size_bytes.unwrap_or(0));
        }
    }
    m
}
