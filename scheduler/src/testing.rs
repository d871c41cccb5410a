//! Test-support builders for nodes and pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::*;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::framework::{CycleState, NodeInfo, Snapshot};

fn rl(cpu: &str, mem: &str) -> Option<BTreeMap<String, Quantity>> {
    let mut m = BTreeMap::new();
    if !cpu.is_empty() {
        m.insert("cpu".to_string(), Quantity(cpu.into()));
    }
    if !mem.is_empty() {
        m.insert("memory".to_string(), Quantity(mem.into()));
    }
    (!m.is_empty()).then_some(m)
}

pub fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn selector(kv: &[(&str, &str)]) -> LabelSelector {
    LabelSelector { match_labels: Some(labels(kv)), ..Default::default() }
}


pub struct PodBuilder(pub Pod);

pub fn pod(name: &str) -> PodBuilder {
    PodBuilder(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec::default()),
        status: Some(PodStatus::default()),
    })
}

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.0.spec.as_mut().unwrap()
    }
    pub fn namespace(mut self, ns: &str) -> Self {
        self.0.metadata.namespace = Some(ns.into());
        self
    }
    pub fn labels(mut self, kv: &[(&str, &str)]) -> Self {
        self.0.metadata.labels = Some(labels(kv));
        self
    }
    pub fn container(mut self, cpu: &str, mem: &str) -> Self {
        let n = self.spec().containers.len();
        self.spec().containers.push(Container {
            name: format!("c{n}"),
            image: Some("busybox".into()),
            resources: Some(ResourceRequirements { requests: rl(cpu, mem), ..Default::default() }),
            ..Default::default()
        });
        self
    }
    pub fn image(mut self, image: &str) -> Self {
        let n = self.spec().containers.len();
        self.spec().containers.push(Container { name: format!("c{n}"), image: Some(image.into()), ..Default::default() });
        self
    }
    pub fn request(mut self, name: &str, q: &str) -> Self {
        let n = self.spec().containers.len();
        self.spec().containers.push(Container {
            name: format!("c{n}"),
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([(name.to_string(), Quantity(q.into()))])),
                ..Default::default()
            }),
            ..Default::default()
        });
        self
    }
    pub fn init_container(mut self, cpu: &str, mem: &str, sidecar: bool) -> Self {
        let n = self.spec().init_containers.as_ref().map_or(0, |v| v.len());
        self.spec().init_containers.get_or_insert_with(Vec::new).push(Container {
            name: format!("i{n}"),
            restart_policy: sidecar.then(|| "Always".to_string()),
            resources: Some(ResourceRequirements { requests: rl(cpu, mem), ..Default::default() }),
            ..Default::default()
        });
        self
    }
    pub fn overhead(mut self, cpu: &str, mem: &str) -> Self {
        self.spec().overhead = rl(cpu, mem);
        self
    }
    pub fn host_port(mut self, ip: &str, protocol: &str, port: i32) -> Self {
        let n = self.spec().containers.len();
        self.spec().containers.push(Container {
            name: format!("c{n}"),
            ports: Some(vec![ContainerPort {
                container_port: port,
                host_port: Some(port),
                host_ip: (!ip.is_empty()).then(|| ip.to_string()),
                protocol: (!protocol.is_empty()).then(|| protocol.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        self
    }
    pub fn priority(mut self, p: i32) -> Self {
        self.spec().priority = Some(p);
        self
    }
    pub fn preemption_policy(mut self, p: &str) -> Self {
        self.spec().preemption_policy = Some(p.into());
        self
    }
    pub fn node(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.into());
        self
    }
    pub fn node_selector(mut self, kv: &[(&str, &str)]) -> Self {
        self.spec().node_selector = Some(labels(kv));
        self
    }
    pub fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        self.spec().tolerations.get_or_insert_with(Vec::new).push(Toleration {
            key: (!key.is_empty()).then(|| key.to_string()),
            operator: (!op.is_empty()).then(|| op.to_string()),
            value: (!value.is_empty()).then(|| value.to_string()),
            effect: (!effect.is_empty()).then(|| effect.to_string()),
            ..Default::default()
        });
        self
    }
    pub fn affinity(mut self, a: Affinity) -> Self {
        self.spec().affinity = Some(a);
        self
    }
    pub fn spread(mut self, max_skew: i32, key: &str, when: &str, sel: LabelSelector) -> Self {
        self.spec().topology_spread_constraints.get_or_insert_with(Vec::new).push(TopologySpreadConstraint {
            max_skew,
            topology_key: key.into(),
            when_unsatisfiable: when.into(),
            label_selector: Some(sel),
            ..Default::default()
        });
        self
    }
    pub fn pvc(mut self, claim: &str) -> Self {
        self.spec().volumes.get_or_insert_with(Vec::new).push(Volume {
            name: claim.into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim.into(), read_only: None }),
            ..Default::default()
        });
        self
    }
    pub fn nominated(mut self, node: &str) -> Self {
        self.0.status.as_mut().unwrap().nominated_node_name = Some(node.into());
        self
    }
    pub fn build(self) -> Pod {
        self.0
    }
}

pub struct NodeBuilder(pub Node);

/// A node with 4 cpu, 8Gi memory and 110 pods allocatable, labelled with its hostname.
pub fn node(name: &str) -> NodeBuilder {
    let alloc = BTreeMap::from([
        ("cpu".to_string(), Quantity("4".into())),
        ("memory".to_string(), Quantity("8Gi".into())),
        ("pods".to_string(), Quantity("110".into())),
    ]);
    NodeBuilder(Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels(&[("kubernetes.io/hostname", name)])),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus { allocatable: Some(alloc), ..Default::default() }),
    })
}

impl NodeBuilder {
    pub fn alloc(mut self, name: &str, q: &str) -> Self {
        self.0.status.as_mut().unwrap().allocatable.as_mut().unwrap().insert(name.into(), Quantity(q.into()));
        self
    }
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0.metadata.labels.get_or_insert_with(BTreeMap::new).insert(k.into(), v.into());
        self
    }
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        self.0.spec.as_mut().unwrap().taints.get_or_insert_with(Vec::new).push(Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.to_string()),
            effect: effect.into(),
            ..Default::default()
        });
        self
    }
    pub fn unschedulable(mut self) -> Self {
        self.0.spec.as_mut().unwrap().unschedulable = Some(true);
        self
    }
    pub fn image(mut self, names: &[&str], size: i64) -> Self {
        self.0.status.as_mut().unwrap().images.get_or_insert_with(Vec::new).push(ContainerImage {
            names: Some(names.iter().map(|s| s.to_string()).collect()),
            size_bytes: Some(size),
        });
        self
    }
    pub fn build(self) -> Node {
        self.0
    }
}

/// A snapshot of nodes and pods (placed by spec.nodeName), no volumes.
pub fn snapshot(nodes: Vec<Node>, pods: Vec<Pod>) -> Snapshot {
    Snapshot::new(nodes, pods, Vec::<PersistentVolume>::new(), Vec::<PersistentVolumeClaim>::new(), Vec::<k8s_openapi::api::storage::v1::StorageClass>::new())
}


/// Runs a plugin's PreFilter (if any) then its Filter on every node of the snapshot, returning
/// the reasons per node ("" for success).
pub fn run_filter(p: &dyn crate::framework::Plugin, pod: &Pod, snap: &Snapshot) -> Vec<(String, crate::framework::Code, String)> {
    let mut state = CycleState::new();
    if let Some(pf) = p.as_pre_filter() {
        let st = pf.pre_filter(&mut state, pod, snap);
        if !st.is_ok() {
            return snap.nodes().iter().map(|n| (n.name().to_string(), st.code, st.message())).collect();
        }
    }
    snap.nodes()
        .iter()
        .map(|n| {
            let st = p.as_filter().unwrap().filter(&state, pod, n, snap);
            (n.name().to_string(), st.code, st.message())
        })
        .collect()
}

/// Runs PreScore, Score and NormalizeScore of one plugin over all nodes.
pub fn run_score(p: &dyn crate::framework::Plugin, pod: &Pod, snap: &Snapshot) -> Vec<i64> {
    let mut state = CycleState::new();
    if let Some(pf) = p.as_pre_filter() {
        pf.pre_filter(&mut state, pod, snap);
    }
    let nodes: Vec<&NodeInfo> = snap.nodes().iter().collect();
    if let Some(ps) = p.as_pre_score() {
        if ps.pre_score(&mut state, pod, snap, &nodes).code == crate::framework::Code::Skip {
            return vec![0; nodes.len()];
        }
    }
    let sp = p.as_score().unwrap();
    let mut scores: Vec<i64> = nodes.iter().map(|n| sp.score(&state, pod, n, snap)).collect();
    sp.normalize_score(&state, pod, &nodes, &mut scores);
    scores
}
