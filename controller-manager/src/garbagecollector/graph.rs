//! The ownership graph (upstream's GraphBuilder without its informers): one node per object
//! uid, edges from owner references. Each observed change is applied here and answers what the
//! workers must look at next; nothing here talks to the API server.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::discovery::ApiResource;

pub type Uid = String;

/// The garbage collector's finalizers (set by the API server from the delete's propagationPolicy).
pub const ORPHAN_FINALIZER: &str = "orphan";
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// A resource the garbage collector knows from discovery.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

/// What an object is known by: its kind's coordinates, namespace, name and uid. A virtual
/// node's identity is its dependent's reference, in the dependent's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: Uid,
}

impl Identity {
    fn of_reference(r: &OwnerReference, namespace: Option<String>) -> Identity {
        Identity { api_version: r.api_version.clone(), kind: r.kind.clone(), namespace, name: r.name.clone(), uid: r.uid.clone() }
    }

    fn matches(&self, r: &OwnerReference) -> bool {
        self.uid == r.uid && self.name == r.name && self.kind == r.kind && self.api_version == r.api_version
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} {ns}/{} ({})", self.api_version, self.kind, self.name, self.uid),
            None => write!(f, "{} {} {} ({})", self.api_version, self.kind, self.name, self.uid),
        }
    }
}

/// Where an object is in its deletion, as far as the garbage collector cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deletion {
    pub being_deleted: bool,
    pub orphan_finalizer: bool,
    pub foreground_finalizer: bool,
}

impl Deletion {
    pub fn of(meta: &ObjectMeta) -> Deletion {
        let has = |f: &str| meta.finalizers.iter().flatten().any(|x| x == f);
        Deletion { being_deleted: meta.deletion_timestamp.is_some(), orphan_finalizer: has(ORPHAN_FINALIZER), foreground_finalizer: has(FOREGROUND_FINALIZER) }
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub identity: Identity,
    /// The watched resource the object was seen in; None for a virtual node, known only from
    /// the references of its dependents (it may not exist).
    pub resource: Option<Arc<Resource>>,
    pub owners: Vec<OwnerReference>,
    pub dependents: BTreeSet<Uid>,
    pub deletion: Deletion,
    /// Marked for deletion with `foregroundDeletion`: waits for its blocking dependents.
    pub deleting_dependents: bool,
}

impl Node {
    pub fn is_virtual(&self) -> bool {
        self.resource.is_none()
    }
}

/// What a worker must do next about an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Work {
    /// Decide whether the object goes (its owners are gone or deleting it in the foreground),
    /// or, for an owner deleting its dependents, whether it may go now.
    AttemptToDelete(Uid),
    /// Remove the references to this owner from its dependents, then its `orphan` finalizer.
    AttemptToOrphan(Uid),
}

/// Owners verified absent, by their reference's coordinates and namespace (upstream's
/// absentOwnerCache, 500 entries, the oldest forgotten first).
#[derive(Default)]
struct AbsentOwners {
    set: HashSet<Identity>,
    order: VecDeque<Identity>,
}

const ABSENT_OWNERS: usize = 500;

impl AbsentOwners {
    fn add(&mut self, id: Identity) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > ABSENT_OWNERS {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

#[derive(Default)]
pub struct Graph {
    nodes: HashMap<Uid, Node>,
    absent: AbsentOwners,
}

impl Graph {
    pub fn node(&self, uid: &str) -> Option<Node> {
        self.nodes.get(uid).cloned()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn dependents(&self, uid: &str) -> Vec<Node> {
        let Some(n) = self.nodes.get(uid) else { return vec![] };
        n.dependents.iter().filter_map(|d| self.nodes.get(d)).cloned().collect()
    }

    /// The dependents whose reference to `uid` has blockOwnerDeletion.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<Node> {
        self.dependents(uid).into_iter().filter(|d| d.owners.iter().any(|r| r.uid == uid && r.block_owner_deletion == Some(true))).collect()
    }

    /// The observed objects of one watched resource (to find what a relist no longer has).
    pub fn observed_in(&self, resource: &Arc<Resource>) -> Vec<Uid> {
        self.nodes.values().filter(|n| n.resource.as_ref().is_some_and(|r| Arc::ptr_eq(r, resource))).map(|n| n.identity.uid.clone()).collect()
    }

    /// Whether an owner reference from an object in `namespace` is known to name nothing.
    pub fn is_absent(&self, r: &OwnerReference, namespace: Option<&str>) -> bool {
        self.absent.set.contains(&Identity::of_reference(r, None)) || self.absent.set.contains(&Identity::of_reference(r, namespace.map(String::from)))
    }

    /// Records an owner verified absent (`namespace` None for a cluster-scoped owner).
    pub fn mark_absent(&mut self, r: &OwnerReference, namespace: Option<&str>) {
        self.absent.add(Identity::of_reference(r, namespace.map(String::from)));
    }

    /// An object added or changed in `resource`.
    pub fn observe(&mut self, resource: &Arc<Resource>, meta: &ObjectMeta) -> Vec<Work> {
        let Some(uid) = meta.uid.clone().filter(|u| !u.is_empty()) else { return vec![] };
        let identity = Identity {
            api_version: resource.api.api_version.clone(),
            kind: resource.api.kind.clone(),
            namespace: meta.namespace.clone().filter(|n| !n.is_empty()),
            name: meta.name.clone().unwrap_or_default(),
            uid: uid.clone(),
        };
        let owners = meta.owner_references.clone().unwrap_or_default();
        let deletion = Deletion::of(meta);
        let mut work = Vec::new();
        let old = match self.nodes.get_mut(&uid) {
            None => {
                let node = Node {
                    identity,
                    resource: Some(resource.clone()),
                    owners: owners.clone(),
                    dependents: BTreeSet::new(),
                    deletion,
                    deleting_dependents: false,
                };
                self.nodes.insert(uid.clone(), node);
                self.add_to_owners(&uid, &owners, &mut work);
                None
            }
            Some(node) => {
                // A virtual node now observed: its dependents may have named it wrongly.
                let was_virtual = node.is_virtual();
                if was_virtual && node.identity != identity {
                    work.extend(node.dependents.iter().cloned().map(Work::AttemptToDelete));
                }
                // (Also when a watch of another version of its resource took over.)
                node.resource = Some(resource.clone());
                node.identity = identity;
                let old = std::mem::replace(&mut node.deletion, deletion);
                let previous = std::mem::replace(&mut node.owners, owners.clone());
                let added: Vec<OwnerReference> = owners.iter().filter(|r| !previous.iter().any(|p| p.uid == r.uid)).cloned().collect();
                let removed: Vec<OwnerReference> = previous.iter().filter(|p| !owners.iter().any(|r| r.uid == p.uid)).cloned().collect();
                // An owner waiting for its blocking dependents may go once a reference to it is
                // gone or stops blocking.
                let blocks = |r: &OwnerReference| r.block_owner_deletion == Some(true);
                let unblocked =
                    removed.iter().filter(|r| blocks(r)).chain(owners.iter().filter(|r| !blocks(r) && previous.iter().any(|p| p.uid == r.uid && blocks(p))));
                for r in unblocked {
                    if self.nodes.contains_key(&r.uid) {
                        work.push(Work::AttemptToDelete(r.uid.clone()));
                    }
                }
                self.add_to_owners(&uid, &added, &mut work);
                self.remove_from_owners(&uid, &removed);
                (!was_virtual).then_some(old)
            }
        };
        self.transitions(&uid, old, deletion, &mut work);
        work
    }

    /// An object the watch saw deleted (or a relist no longer lists).
    pub fn observe_deleted(&mut self, uid: &str) -> Vec<Work> {
        let Some(node) = self.nodes.remove(uid) else { return vec![] };
        self.remove_from_owners(uid, &node.owners);
        if !node.dependents.is_empty() {
            self.absent.add(node.identity.clone());
        }
        let mut work: Vec<Work> = node.dependents.iter().cloned().map(Work::AttemptToDelete).collect();
        // An owner deleting its dependents may be done now.
        for r in &node.owners {
            if self.nodes.get(&r.uid).is_some_and(|o| o.deleting_dependents) {
                work.push(Work::AttemptToDelete(r.uid.clone()));
            }
        }
        work
    }

    /// An object a worker verified absent with a live read (upstream's virtual delete event).
    pub fn verified_absent(&mut self, uid: &str) -> Vec<Work> {
        self.observe_deleted(uid)
    }

    /// Adds `uid` to the dependents of `owners`, creating virtual nodes for owners not seen
    /// yet (a worker checks they exist); a reference that disagrees with what is known of its
    /// owner has the dependent checked too.
    fn add_to_owners(&mut self, uid: &str, owners: &[OwnerReference], work: &mut Vec<Work>) {
        let namespace = self.nodes.get(uid).and_then(|n| n.identity.namespace.clone());
        let mut doubtful = false;
        for r in owners {
            match self.nodes.get_mut(&r.uid) {
                None => {
                    let mut owner = Node {
                        identity: Identity::of_reference(r, namespace.clone()),
                        resource: None,
                        owners: vec![],
                        dependents: BTreeSet::new(),
                        deletion: Deletion::default(),
                        deleting_dependents: false,
                    };
                    owner.dependents.insert(uid.to_string());
                    self.nodes.insert(r.uid.clone(), owner);
                    work.push(Work::AttemptToDelete(r.uid.clone()));
                }
                Some(owner) => {
                    owner.dependents.insert(uid.to_string());
                    let owner_namespaced = owner.identity.namespace.is_some();
                    // A namespaced owner in another namespace, other coordinates than known,
                    // or a virtual cluster-scoped owner that may be a namespaced kind missing
                    // here: the dependent's own references are checked.
                    doubtful |= (owner_namespaced && owner.identity.namespace != namespace)
                        || !owner.identity.matches(r)
                        || (!owner_namespaced && owner.is_virtual() && namespace.is_some());
                }
            }
        }
        if doubtful {
            work.push(Work::AttemptToDelete(uid.to_string()));
        }
    }

    fn remove_from_owners(&mut self, uid: &str, owners: &[OwnerReference]) {
        for r in owners {
            if let Some(owner) = self.nodes.get_mut(&r.uid) {
                owner.dependents.remove(uid);
            }
        }
    }

    /// Upstream's processTransitions: an object that just started its deletion with one of the
    /// garbage collector's finalizers is handed to the orphaning or the foreground worker.
    fn transitions(&mut self, uid: &str, old: Option<Deletion>, new: Deletion, work: &mut Vec<Work>) {
        let starts = |has: fn(&Deletion) -> bool| new.being_deleted && has(&new) && old.is_none_or(|o| !o.being_deleted || !has(&o));
        let Some(node) = self.nodes.get_mut(uid) else { return };
        node.deleting_dependents = new.being_deleted && new.foreground_finalizer;
        if starts(|d| d.orphan_finalizer) {
            work.push(Work::AttemptToOrphan(uid.to_string()));
        } else if starts(|d| d.foreground_finalizer) {
            work.extend(node.dependents.iter().cloned().map(Work::AttemptToDelete));
            work.push(Work::AttemptToDelete(uid.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs() -> Arc<Resource> {
        Arc::new(Resource {
            api: ApiResource {
                group: "apps".into(),
                version: "v1".into(),
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                plural: "replicasets".into(),
            },
            namespaced: true,
        })
    }

    fn pods() -> Arc<Resource> {
        Arc::new(Resource {
            api: ApiResource { group: "".into(), version: "v1".into(), api_version: "v1".into(), kind: "Pod".into(), plural: "pods".into() },
            namespaced: true,
        })
    }

    fn owner_ref(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("rs-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn meta(name: &str, uid: &str, owners: Vec<OwnerReference>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(uid.into()),
            owner_references: (!owners.is_empty()).then_some(owners),
            ..Default::default()
        }
    }

    fn deleting(mut m: ObjectMeta, finalizer: &str) -> ObjectMeta {
        m.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()));
        m.finalizers = Some(vec![finalizer.into()]);
        m
    }

    fn del(uid: &str) -> Work {
        Work::AttemptToDelete(uid.into())
    }

    #[test]
    fn an_unseen_owner_is_a_virtual_node_to_check() {
        let mut g = Graph::default();
        let work = g.observe(&pods(), &meta("p", "p1", vec![owner_ref("o1", true)]));
        assert_eq!(work, vec![del("o1")]);
        let owner = g.node("o1").unwrap();
        assert!(owner.is_virtual());
        assert_eq!(owner.identity.namespace.as_deref(), Some("ns"));
        assert_eq!(owner.identity.name, "rs-o1");
        assert_eq!(g.dependents("o1").len(), 1);
        // Seen later with the coordinates the reference gave: nothing to check.
        assert_eq!(g.observe(&rs(), &meta("rs-o1", "o1", vec![])), vec![]);
        assert!(!g.node("o1").unwrap().is_virtual());
        // Verified absent: the dependents are looked at.
        assert_eq!(g.verified_absent("o1"), vec![del("p1")]);
        assert!(g.node("o1").is_none());
        assert!(g.is_absent(&owner_ref("o1", true), Some("ns")));
    }

    #[test]
    fn a_deleted_owner_has_its_dependents_looked_at() {
        let mut g = Graph::default();
        let rs = rs();
        g.observe(&rs, &meta("rs-o1", "o1", vec![]));
        assert_eq!(g.observe(&pods(), &meta("p", "p1", vec![owner_ref("o1", true)])), vec![]);
        assert_eq!(g.observed_in(&rs), vec!["o1".to_string()]);
        assert_eq!(g.observe_deleted("o1"), vec![del("p1")]);
        assert!(g.is_absent(&owner_ref("o1", false), Some("ns")));
        assert!(g.node("p1").is_some());
    }

    #[test]
    fn deletion_with_a_finalizer_starts_orphaning_or_foreground_once() {
        let mut g = Graph::default();
        g.observe(&rs(), &meta("rs-o1", "o1", vec![]));
        g.observe(&pods(), &meta("a", "p1", vec![owner_ref("o1", true)]));
        g.observe(&pods(), &meta("b", "p2", vec![owner_ref("o1", false)]));
        let orphaning = deleting(meta("rs-o1", "o1", vec![]), ORPHAN_FINALIZER);
        assert_eq!(g.observe(&rs(), &orphaning), vec![Work::AttemptToOrphan("o1".into())]);
        assert_eq!(g.observe(&rs(), &orphaning), vec![], "no transition on a repeat");
        // Switched to foreground by a second delete: every dependent, then the owner.
        let foreground = deleting(meta("rs-o1", "o1", vec![]), FOREGROUND_FINALIZER);
        assert_eq!(g.observe(&rs(), &foreground), vec![del("p1"), del("p2"), del("o1")]);
        let owner = g.node("o1").unwrap();
        assert!(owner.deleting_dependents);
        assert_eq!(g.blocking_dependents("o1").iter().map(|d| d.identity.uid.as_str()).collect::<Vec<_>>(), vec!["p1"]);
        // A blocking dependent gone: the owner is looked at again.
        assert_eq!(g.observe_deleted("p1"), vec![del("o1")]);
        // The other one stops referring to it: not blocking, nothing to do for the owner.
        assert_eq!(g.observe(&pods(), &meta("b", "p2", vec![])), vec![]);
        assert!(g.dependents("o1").is_empty());
    }

    #[test]
    fn a_reference_that_stops_blocking_releases_a_waiting_owner() {
        let mut g = Graph::default();
        g.observe(&rs(), &deleting(meta("rs-o1", "o1", vec![]), FOREGROUND_FINALIZER));
        g.observe(&pods(), &meta("a", "p1", vec![owner_ref("o1", true)]));
        assert_eq!(g.observe(&pods(), &meta("a", "p1", vec![owner_ref("o1", false)])), vec![del("o1")]);
        assert_eq!(g.observe(&pods(), &meta("a", "p1", vec![])), vec![]);
    }

    #[test]
    fn a_reference_across_namespaces_has_the_dependent_checked() {
        let mut g = Graph::default();
        let mut owner = meta("rs-o1", "o1", vec![]);
        owner.namespace = Some("other".into());
        g.observe(&rs(), &owner);
        assert_eq!(g.observe(&pods(), &meta("a", "p1", vec![owner_ref("o1", true)])), vec![del("p1")]);
        let mut renamed = owner_ref("o1", true);
        renamed.name = "elsewhere".into();
        let mut g = Graph::default();
        g.observe(&rs(), &meta("rs-o1", "o1", vec![]));
        assert_eq!(g.observe(&pods(), &meta("a", "p1", vec![renamed])), vec![del("p1")]);
    }

    #[test]
    fn absent_owners_are_remembered_by_coordinates() {
        let mut g = Graph::default();
        let r = owner_ref("o1", true);
        g.mark_absent(&r, None);
        assert!(g.is_absent(&r, Some("any")));
        let mut other = r.clone();
        other.uid = "o2".into();
        assert!(!g.is_absent(&other, Some("any")));
        for i in 0..ABSENT_OWNERS {
            let mut x = r.clone();
            x.uid = format!("x{i}");
            g.mark_absent(&x, Some("ns"));
        }
        assert!(!g.is_absent(&r, None), "the oldest is forgotten");
    }
}
