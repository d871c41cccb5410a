//! The cluster state one scheduling cycle reads: nodes ordered by name with their pods, plus
//! volumes. The runtime keeps it current with the incremental `upsert_*`/`remove_*` methods.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use super::node_info::{same_pod, NodeInfo, PodInfo};

#[derive(Default, Clone)]
pub struct Snapshot {
    /// Sorted by node name; `index` maps a name to its position.
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Pods bound to nodes the snapshot does not (yet) have, by node name.
    orphans: HashMap<String, Vec<Arc<Pod>>>,
    /// Image name -> how many nodes report it (ImageLocality's spread).
    image_nodes: HashMap<String, usize>,
    pub pvs: HashMap<String, Arc<PersistentVolume>>,
    /// Namespace -> claim name -> claim.
    pub pvcs: HashMap<String, HashMap<String, Arc<PersistentVolumeClaim>>>,
    pub storage_classes: HashMap<String, Arc<StorageClass>>,
    /// Namespace labels for pod affinity `namespaceSelector`s; unknown namespaces have none.
    pub namespace_labels: HashMap<String, BTreeMap<String, String>>,
}

impl Snapshot {
    /// Builds a snapshot; pods are placed by `spec.nodeName` (pods without one are ignored).
    pub fn new(
        nodes: impl IntoIterator<Item = impl Into<Arc<Node>>>,
        pods: impl IntoIterator<Item = impl Into<Arc<Pod>>>,
        pvs: impl IntoIterator<Item = impl Into<Arc<PersistentVolume>>>,
        pvcs: impl IntoIterator<Item = impl Into<Arc<PersistentVolumeClaim>>>,
        storage_classes: impl IntoIterator<Item = impl Into<Arc<StorageClass>>>,
    ) -> Snapshot {
        let mut s = Snapshot::default();
        let mut infos: Vec<NodeInfo> = nodes.into_iter().map(|n| NodeInfo::new(n.into())).collect();
        infos.sort_by(|a, b| a.name().cmp(b.name()));
        infos.dedup_by(|a, b| a.name() == b.name());
        for ni in &infos {
            s.count_images(ni, 1);
        }
        s.nodes = infos;
        s.reindex();
        for p in pods {
            s.add_pod(p.into());
        }
        for pv in pvs {
            s.upsert_pv(pv.into());
        }
        for pvc in pvcs {
            s.upsert_pvc(pvc.into());
        }
        for sc in storage_classes {
            let sc: Arc<StorageClass> = sc.into();
            s.storage_classes.insert(sc.metadata.name.clone().unwrap_or_default(), sc);
        }
        s
    }

    fn reindex(&mut self) {
        self.index = self.nodes.iter().enumerate().map(|(i, n)| (n.name().to_string(), i)).collect();
    }

    fn count_images(&mut self, ni: &NodeInfo, up: isize) {
        for name in ni.images.keys() {
            let e = self.image_nodes.entry(name.clone()).or_insert(0);
            *e = e.saturating_add_signed(up);
            if *e == 0 {
                self.image_nodes.remove(name);
            }
        }
    }

    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn node_info(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Direct access for the runtime; keep `image_nodes` in mind (use `upsert_node` to change
    /// the node object itself).
    pub fn node_info_mut(&mut self, name: &str) -> Option<&mut NodeInfo> {
        self.index.get(name).map(|&i| &mut self.nodes[i])
    }

    /// How many nodes report the image under this name.
    pub fn image_num_nodes(&self, image: &str) -> usize {
        self.image_nodes.get(image).copied().unwrap_or(0)
    }

    /// Adds or replaces a node; pods already known for it are kept. Inserting a new name is
    /// O(nodes) (re-indexing), updating an existing one is O(images).
    pub fn upsert_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(&i) = self.index.get(&name) {
            let old = std::mem::replace(&mut self.nodes[i], NodeInfo::new(Arc::new(Node::default())));
            self.count_images(&old, -1);
            let mut ni = old;
            ni.set_node(node);
            self.count_images(&ni, 1);
            self.nodes[i] = ni;
            return;
        }
        let mut ni = NodeInfo::new(node);
        for p in self.orphans.remove(&name).unwrap_or_default() {
            ni.add_pod(p);
        }
        self.count_images(&ni, 1);
        let pos = self.nodes.partition_point(|n| n.name() < name.as_str());
        self.nodes.insert(pos, ni);
        self.reindex();
    }

    /// Removes a node; its pods are remembered in case it comes back before they are deleted.
    pub fn remove_node(&mut self, name: &str) -> Option<NodeInfo> {
        let i = self.index.get(name).copied()?;
        let ni = self.nodes.remove(i);
        self.count_images(&ni, -1);
        if !ni.pods.is_empty() {
            self.orphans.insert(name.to_string(), ni.pods.iter().map(|p| p.pod.clone()).collect());
        }
        self.reindex();
        Some(ni)
    }

    /// Adds a pod on `spec.nodeName` (an assumed pod: set nodeName on the copy first, or use
    /// `add_pod_to`). Pods without a node name are ignored.
    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()) else {
            return;
        };
        self.add_pod_to(&node, pod);
    }

    pub fn add_pod_to(&mut self, node: &str, pod: Arc<Pod>) {
        match self.index.get(node) {
            Some(&i) => self.nodes[i].add_pod_info(PodInfo::new(pod)),
            None => self.orphans.entry(node.to_string()).or_default().push(pod),
        }
    }

    /// Removes a pod from the node it is on (by `spec.nodeName`), returning whether it was found.
    pub fn remove_pod(&mut self, pod: &Pod) -> bool {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else { return false };
        self.remove_pod_from(node, pod)
    }

    pub fn remove_pod_from(&mut self, node: &str, pod: &Pod) -> bool {
        if let Some(&i) = self.index.get(node) {
            return self.nodes[i].remove_pod(pod).is_some();
        }
        if let Some(list) = self.orphans.get_mut(node) {
            if let Some(j) = list.iter().position(|p| same_pod(p, pod)) {
                list.swap_remove(j);
                if list.is_empty() {
                    self.orphans.remove(node);
                }
                return true;
            }
        }
        false
    }

    /// Replaces `old` with `new` (which may have moved nodes).
    pub fn update_pod(&mut self, old: &Pod, new: Arc<Pod>) {
        self.remove_pod(old);
        self.add_pod(new);
    }

    pub fn upsert_pv(&mut self, pv: Arc<PersistentVolume>) {
        self.pvs.insert(pv.metadata.name.clone().unwrap_or_default(), pv);
    }

    pub fn remove_pv(&mut self, name: &str) {
        self.pvs.remove(name);
    }

    pub fn upsert_pvc(&mut self, pvc: Arc<PersistentVolumeClaim>) {
        let ns = pvc.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let name = pvc.metadata.name.clone().unwrap_or_default();
        self.pvcs.entry(ns).or_default().insert(name, pvc);
    }

    pub fn remove_pvc(&mut self, namespace: &str, name: &str) {
        if let Some(m) = self.pvcs.get_mut(namespace) {
            m.remove(name);
        }
    }

    pub fn pvc(&self, namespace: &str, name: &str) -> Option<&Arc<PersistentVolumeClaim>> {
        self.pvcs.get(namespace)?.get(name)
    }

    pub fn upsert_storage_class(&mut self, sc: Arc<StorageClass>) {
        self.storage_classes.insert(sc.metadata.name.clone().unwrap_or_default(), sc);
    }

    pub fn remove_storage_class(&mut self, name: &str) {
        self.storage_classes.remove(name);
    }
}
