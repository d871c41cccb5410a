//! What the workers do about one object, from live reads (upstream's attemptToDeleteItem,
//! processDeletingDependentsItem, attemptToOrphanWorker and removeFinalizer).

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, DynamicObject, PartialObjectMeta, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::Api;
use serde_json::{json, Value};

use super::graph::{Node, Resource, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use super::{Error, Gc};

/// How many times a finalizer removal is tried again after a conflict (client-go's
/// retry.DefaultBackoff steps).
const FINALIZER_TRIES: usize = 5;

/// How an object's owner references stand, read live.
#[derive(Default)]
struct Owners {
    /// Present and not deleting their dependents.
    solid: Vec<OwnerReference>,
    /// Gone, or replaced by another object of the same name.
    dangling: Vec<OwnerReference>,
    /// Being deleted with `foregroundDeletion`: waiting for this object to go.
    waiting: Vec<OwnerReference>,
}

impl Gc {
    fn api(&self, resource: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
        match (resource.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource.api),
            _ => Api::all_with(self.client.clone(), &resource.api),
        }
    }

    /// The resource of a node: the one it was seen in, or, for a virtual node, what discovery
    /// serves for its reference's kind.
    fn resource_of(&self, node: &Node) -> Result<Arc<Resource>, Error> {
        match &node.resource {
            Some(r) => Ok(r.clone()),
            None => self.kind(&node.identity.api_version, &node.identity.kind),
        }
    }

    async fn get(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Result<Option<PartialObjectMeta<DynamicObject>>, Error> {
        Ok(self.api(resource, namespace).get_metadata_opt(name).await?)
    }

    /// Decides about one object: an owner waiting for its dependents may go once none blocks
    /// it; any other object goes when none of its owners remains, and loses its references to
    /// the owners that are gone or waiting for it when some remain.
    pub async fn attempt_to_delete(&self, uid: &str) -> Result<(), Error> {
        let Some(item) = self.graph().node(uid) else { return Ok(()) };
        // Being deleted is a one-way trip: its dependents are looked at once it is gone.
        if item.deletion.being_deleted && !item.deleting_dependents {
            return Ok(());
        }
        let resource = self.resource_of(&item)?;
        let id = &item.identity;
        // A namespaced kind named by a cluster-scoped dependent's reference cannot exist.
        let latest = if resource.namespaced && id.namespace.is_none() { None } else { self.get(&resource, id.namespace.as_deref(), &id.name).await? };
        let Some(latest) = latest.filter(|l| l.metadata.uid.as_deref() == Some(uid)) else {
            tracing::debug!(item = %id, "garbage collector: not found; its dependents are looked at");
            let work = self.graph().verified_absent(uid);
            self.enqueue(work);
            return Ok(());
        };
        if item.deleting_dependents {
            return self.process_deleting_dependents(&item, &resource).await;
        }
        let references = latest.metadata.owner_references.clone().unwrap_or_default();
        if references.is_empty() {
            return Ok(());
        }
        let owners = self.classify(&item, &references).await?;
        let has = |f: &str| latest.metadata.finalizers.iter().flatten().any(|x| x == f);
        if !owners.solid.is_empty() {
            if owners.dangling.is_empty() && owners.waiting.is_empty() {
                return Ok(());
            }
            // Some owners remain: only the references to the others go (a reference to an
            // owner waiting for this object would keep that owner forever).
            let uids: Vec<&str> = owners.dangling.iter().chain(&owners.waiting).map(|r| r.uid.as_str()).collect();
            tracing::debug!(item = %id, owners = ?uids, "garbage collector: removing references to owners that are gone or waiting");
            return self.remove_references(&item, &resource, &uids).await;
        }
        let has_dependents = !self.graph().dependents(uid).is_empty();
        let policy = if !owners.waiting.is_empty() && has_dependents {
            // Its owners wait for it and it has dependents of its own: it goes in the
            // foreground too. A dependent also deleting in the foreground could wait for it in
            // a cycle; its references then stop blocking first (upstream's coarse check).
            if self.graph().dependents(uid).iter().any(|d| d.deleting_dependents) {
                self.unblock_references(&item, &resource, &references).await?;
            }
            PropagationPolicy::Foreground
        } else if has(ORPHAN_FINALIZER) {
            PropagationPolicy::Orphan
        } else if has(FOREGROUND_FINALIZER) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        tracing::info!(item = %id, ?policy, "garbage collector: deleting an object whose owners are gone");
        self.delete(&item, &resource, policy).await
    }

    /// Reads each owner live (after the cache of owners known to be absent).
    async fn classify(&self, item: &Node, references: &[OwnerReference]) -> Result<Owners, Error> {
        let namespace = item.identity.namespace.as_deref();
        let mut owners = Owners::default();
        for r in references {
            if self.graph().is_absent(r, namespace) {
                owners.dangling.push(r.clone());
                continue;
            }
            let resource = self.kind(&r.api_version, &r.kind)?;
            if resource.namespaced && namespace.is_none() {
                return Err(Error::NamespacedOwnerOfClusterScoped(item.identity.to_string()));
            }
            let owner_namespace = if resource.namespaced { namespace } else { None };
            match self.get(&resource, owner_namespace, &r.name).await? {
                Some(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                    let foreground = o.metadata.finalizers.iter().flatten().any(|f| f == FOREGROUND_FINALIZER);
                    if o.metadata.deletion_timestamp.is_some() && foreground {
                        owners.waiting.push(r.clone());
                    } else {
                        owners.solid.push(r.clone());
                    }
                }
                _ => {
                    self.graph().mark_absent(r, owner_namespace);
                    owners.dangling.push(r.clone());
                }
            }
        }
        Ok(owners)
    }

    /// An owner deleting in the foreground: it may go once no dependent blocks it; until then
    /// its blocking dependents are looked at.
    async fn process_deleting_dependents(&self, item: &Node, resource: &Resource) -> Result<(), Error> {
        let blocking = self.graph().blocking_dependents(&item.identity.uid);
        if blocking.is_empty() {
            tracing::debug!(item = %item.identity, "garbage collector: no blocking dependent left; removing foregroundDeletion");
            return self.remove_finalizer(item, resource, FOREGROUND_FINALIZER).await;
        }
        for dependent in blocking.iter().filter(|d| !d.deleting_dependents) {
            self.deletes.add(dependent.identity.uid.clone());
        }
        Ok(())
    }

    /// An owner deleted with `orphan`: its dependents lose their references to it, then it
    /// loses the finalizer.
    pub async fn attempt_to_orphan(&self, uid: &str) -> Result<(), Error> {
        let Some(owner) = self.graph().node(uid) else { return Ok(()) };
        let dependents = self.graph().dependents(uid);
        let mut failures = Vec::new();
        for dependent in &dependents {
            let result = match self.resource_of(dependent) {
                Ok(resource) => self.remove_references(dependent, &resource, &[uid]).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                failures.push(format!("{}: {e}", dependent.identity));
            }
        }
        if !failures.is_empty() {
            return Err(Error::Failed(format!("orphaning the dependents of {} failed: {}", owner.identity, failures.join("; "))));
        }
        let resource = self.resource_of(&owner)?;
        self.remove_finalizer(&owner, &resource, ORPHAN_FINALIZER).await
    }

    async fn delete(&self, item: &Node, resource: &Resource, policy: PropagationPolicy) -> Result<(), Error> {
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions { uid: Some(item.identity.uid.clone()), resource_version: None }),
            ..Default::default()
        };
        match self.api(resource, item.identity.namespace.as_deref()).delete(&item.identity.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the references to `owner_uids` from `item` (a strategic merge patch that names
    /// the item's uid, so it cannot land on a successor of the same name; kinds without
    /// strategic merge patch get a merge patch of the remaining list, pinned to the version read).
    async fn remove_references(&self, item: &Node, resource: &Resource, owner_uids: &[&str]) -> Result<(), Error> {
        let deletes: Vec<Value> = owner_uids.iter().map(|u| json!({"$patch": "delete", "uid": u})).collect();
        let patch = json!({"metadata": {"ownerReferences": deletes, "uid": item.identity.uid}});
        self.patch_references(item, resource, patch, |refs| refs.retain(|r| !owner_uids.contains(&r.uid.as_str()))).await
    }

    /// Sets blockOwnerDeletion to false on the item's blocking references.
    async fn unblock_references(&self, item: &Node, resource: &Resource, references: &[OwnerReference]) -> Result<(), Error> {
        let unblocked: Vec<OwnerReference> = references
            .iter()
            .filter(|r| r.block_owner_deletion == Some(true))
            .map(|r| OwnerReference { block_owner_deletion: Some(false), ..r.clone() })
            .collect();
        if unblocked.is_empty() {
            return Ok(());
        }
        let patch = json!({"metadata": {"ownerReferences": unblocked, "uid": item.identity.uid}});
        self.patch_references(item, resource, patch, |refs| {
            for r in refs.iter_mut() {
                if r.block_owner_deletion == Some(true) {
                    r.block_owner_deletion = Some(false);
                }
            }
        })
        .await
    }

    async fn patch_references(&self, item: &Node, resource: &Resource, strategic: Value, edit: impl FnOnce(&mut Vec<OwnerReference>)) -> Result<(), Error> {
        let api = self.api(resource, item.identity.namespace.as_deref());
        let name = &item.identity.name;
        match api.patch(name, &PatchParams::default(), &Patch::Strategic(strategic)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 415 => {}
            Err(e) => return Err(e.into()),
        }
        let Some(current) = api.get_metadata_opt(name).await? else { return Ok(()) };
        if current.metadata.uid.as_deref() != Some(item.identity.uid.as_str()) {
            return Ok(());
        }
        let mut refs = current.metadata.owner_references.clone().unwrap_or_default();
        edit(&mut refs);
        let merge = json!({"metadata": {"ownerReferences": refs, "resourceVersion": current.metadata.resource_version}});
        match api.patch(name, &PatchParams::default(), &Patch::Merge(merge)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes one finalizer with a merge patch pinned to the resourceVersion read, read
    /// again after a conflict.
    async fn remove_finalizer(&self, item: &Node, resource: &Resource, finalizer: &str) -> Result<(), Error> {
        let api = self.api(resource, item.identity.namespace.as_deref());
        let name = &item.identity.name;
        for _ in 0..FINALIZER_TRIES {
            let Some(current) = api.get_metadata_opt(name).await? else { return Ok(()) };
            if current.metadata.uid.as_deref() != Some(item.identity.uid.as_str()) {
                return Ok(());
            }
            let finalizers = current.metadata.finalizers.clone().unwrap_or_default();
            if !finalizers.iter().any(|f| f == finalizer) {
                return Ok(());
            }
            let rest: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
            let value = if rest.is_empty() { Value::Null } else { json!(rest) };
            let patch = json!({"metadata": {"resourceVersion": current.metadata.resource_version, "finalizers": value}});
            match api.patch(name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Failed(format!("removing the {finalizer} finalizer from {} kept conflicting", item.identity)))
    }
}
