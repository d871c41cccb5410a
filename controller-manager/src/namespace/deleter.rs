//! Deletes everything in a terminating namespace, as upstream's namespaced resources deleter:
//! every namespaced resource discovery lists with the `delete` verb, through deletecollection
//! where the resource supports it and one object at a time where not, then lists what is left.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, DynamicObject, ListParams};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::{Api, Client, ResourceExt};

use super::conditions::Outcome;

/// Upstream's finalizerEstimateSeconds: how long objects held by finalizers are given before
/// the namespace looks again.
const FINALIZER_ESTIMATE_SECONDS: i64 = 15;
/// Namespaces deleted together share one discovery made this recently.
const DISCOVERY_REUSE: Duration = Duration::from_secs(2);

/// A namespaced resource that supports delete, at its preferred version.
#[derive(Clone, Debug)]
pub struct Deletable {
    pub resource: ApiResource,
    pub verbs: Vec<String>,
}

impl Deletable {
    /// Go's rendering of a GroupVersionResource, as upstream's messages print it.
    fn gvr(&self) -> String {
        format!("{{{} {} {}}}", self.resource.group, self.resource.version, self.resource.plural)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Op {
    List,
    DeleteCollection,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::List => "list",
            Op::DeleteCollection => "deletecollection",
        }
    }
}

/// What is left of one resource after a pass.
#[derive(Default)]
struct Left {
    /// Seconds until the objects should be gone (their grace period or a finalizer estimate).
    estimate: i64,
    count: usize,
    finalizers: BTreeMap<String, usize>,
}

pub struct Deleter {
    client: Client,
    /// The last discovery that succeeded and when it was made: reused by namespaces deleted
    /// together, and in place of a failed discovery.
    discovered: tokio::sync::Mutex<Option<(Instant, Arc<Vec<Deletable>>)>>,
    /// Operations a resource answered 405 or 404 to although discovery listed it (upstream's
    /// operationNotSupportedCache), by (group, version, resource).
    unsupported: Mutex<HashSet<(String, Op)>>,
}

impl Deleter {
    pub fn new(client: Client) -> Self {
        Deleter { client, discovered: tokio::sync::Mutex::new(None), unsupported: Mutex::new(HashSet::new()) }
    }

    /// The namespaced, deletable resources at their preferred versions (upstream's
    /// ServerPreferredNamespacedResources filtered by the delete verb). On failure the last
    /// discovery is used, with the error to report.
    async fn discover(&self) -> (Arc<Vec<Deletable>>, Option<String>) {
        let mut cached = self.discovered.lock().await;
        if let Some((at, found)) = cached.as_ref() {
            if at.elapsed() < DISCOVERY_REUSE {
                return (found.clone(), None);
            }
        }
        match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) => {
                let found = Arc::new(preferred_deletable(&d));
                *cached = Some((Instant::now(), found.clone()));
                (found, None)
            }
            Err(e) => {
                let last = cached.as_ref().map(|(_, f)| f.clone()).unwrap_or_default();
                (last, Some(e.to_string()))
            }
        }
    }

    fn supports(&self, r: &Deletable, op: Op) -> bool {
        r.verbs.iter().any(|v| v == op.verb()) && !self.unsupported.lock().expect("unsupported lock").contains(&(r.gvr(), op))
    }

    fn set_unsupported(&self, r: &Deletable, op: Op) {
        self.unsupported.lock().expect("unsupported lock").insert((r.gvr(), op));
    }

    /// One pass over the namespace's content: deletes what can be deleted and reports what is
    /// left, with the seconds to wait before the next pass (0: nothing left to wait for).
    pub async fn delete_all_content(&self, namespace: &str, deleted_at: jiff::Timestamp) -> (i64, Outcome) {
        let mut outcome = Outcome::default();
        let (resources, discovery_error) = self.discover().await;
        outcome.discovery_error = discovery_error;
        let mut estimate = 0;
        for r in resources.iter() {
            let (left, error) = self.delete_resource(r, namespace, deleted_at).await;
            if let Some(e) = error {
                outcome.content_errors.push(e);
            }
            estimate = estimate.max(left.estimate);
            if left.count > 0 {
                let key = format!("{}.{}", r.resource.plural, r.resource.group);
                *outcome.remaining.entry(key).or_default() += left.count;
                for (f, n) in left.finalizers.into_iter().filter(|(_, n)| *n > 0) {
                    *outcome.finalizers.entry(f).or_default() += n;
                }
            }
        }
        (estimate, outcome)
    }

    /// Deletes one resource's objects in the namespace (upstream's
    /// deleteAllContentForGroupVersionResource).
    async fn delete_resource(&self, r: &Deletable, namespace: &str, deleted_at: jiff::Timestamp) -> (Left, Option<String>) {
        let estimate = match self.estimate_graceful_termination(r, namespace, deleted_at).await {
            Ok(e) => e,
            Err(e) => return (Left { estimate: 0, ..Default::default() }, Some(e.to_string())),
        };
        let failed = |e: String| (Left { estimate, ..Default::default() }, Some(e));
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &r.resource);
        match self.delete_collection(&api, r).await {
            Ok(true) => {}
            Ok(false) => {
                if let Err(e) = self.delete_each_item(&api, r).await {
                    return failed(e.to_string());
                }
            }
            Err(e) => return failed(e.to_string()),
        }
        let items = match self.list(&api, r).await {
            Ok(Some(items)) => items,
            Ok(None) => return (Left { estimate, ..Default::default() }, None),
            Err(e) => return failed(e.to_string()),
        };
        let mut finalizers = BTreeMap::new();
        for item in &items {
            for f in item.finalizers() {
                *finalizers.entry(f.clone()).or_insert(0) += 1;
            }
        }
        let count = items.len();
        if estimate != 0 {
            return (Left { estimate, count, finalizers }, None);
        }
        // Objects held by finalizers are expected to take a while.
        if !finalizers.is_empty() {
            return (Left { estimate: FINALIZER_ESTIMATE_SECONDS, count, finalizers }, None);
        }
        if count > 0 {
            let e = format!("unexpected items still remain in namespace: {namespace} for gvr: {}", r.gvr());
            return (Left { estimate, count, finalizers }, Some(e));
        }
        (Left::default(), None)
    }

    /// For pods, the longest grace period of those not finished, unless that much time has
    /// already passed since the namespace was deleted.
    async fn estimate_graceful_termination(&self, r: &Deletable, namespace: &str, deleted_at: jiff::Timestamp) -> Result<i64, kube::Error> {
        if !(r.resource.group.is_empty() && r.resource.plural == "pods") {
            return Ok(0);
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let estimate = pods.list(&ListParams::default()).await?.items.iter().filter_map(pod_grace_seconds).max().unwrap_or(0);
        let since = jiff::Timestamp::now().duration_since(deleted_at);
        Ok(if since.as_secs() >= estimate { 0 } else { estimate })
    }

    /// Ok(false) when the resource does not support deletecollection.
    async fn delete_collection(&self, api: &Api<DynamicObject>, r: &Deletable) -> Result<bool, kube::Error> {
        if !self.supports(r, Op::DeleteCollection) {
            return Ok(false);
        }
        match api.delete_collection(&DeleteParams::background(), &ListParams::default()).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_supported(&e) => {
                self.set_unsupported(r, Op::DeleteCollection);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Ok(None) when the resource does not support list.
    async fn list(&self, api: &Api<DynamicObject>, r: &Deletable) -> Result<Option<Vec<DynamicObject>>, kube::Error> {
        if !self.supports(r, Op::List) {
            return Ok(None);
        }
        match api.list(&ListParams::default()).await {
            Ok(list) => Ok(Some(list.items)),
            Err(e) if is_not_supported(&e) => {
                self.set_unsupported(r, Op::List);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn delete_each_item(&self, api: &Api<DynamicObject>, r: &Deletable) -> Result<(), kube::Error> {
        let Some(items) = self.list(api, r).await? else { return Ok(()) };
        for item in items {
            match api.delete(&item.name_any(), &DeleteParams::background()).await {
                Ok(_) => {}
                Err(e) if is_not_supported(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A pod's say in the estimate: its grace period, unless it has finished.
fn pod_grace_seconds(pod: &Pod) -> Option<i64> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded") | Some("Failed")) {
        return None;
    }
    pod.spec.as_ref()?.termination_grace_period_seconds
}

/// 405, or 404 for a resource discovery listed (upstream treats both as "not supported").
fn is_not_supported(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 405 || s.code == 404)
}

/// For every group, each namespaced resource with the delete verb, at the group's preferred
/// version or else the first version that serves it.
fn preferred_deletable(d: &Discovery) -> Vec<Deletable> {
    let mut out = Vec::new();
    for group in d.groups() {
        let preferred = group.preferred_version_or_latest().to_string();
        let mut versions = vec![preferred.clone()];
        versions.extend(group.versions().filter(|v| *v != preferred).map(String::from));
        let mut seen = HashSet::new();
        for v in versions {
            for (ar, caps) in group.versioned_resources(&v) {
                if !seen.insert(ar.plural.clone()) {
                    continue;
                }
                if !matches!(caps.scope, Scope::Namespaced) || !caps.supports_operation("delete") {
                    continue;
                }
                out.push(Deletable { resource: ar, verbs: caps.operations.clone() });
            }
        }
    }
    out
}
