//! DELETE and DELETE-collection: preconditions, dry run, finalizers, graceful pod deletion and
//! namespace termination, and the garbage collector's finalizers a propagationPolicy asks for.

use corekube_api::{meta, ApiError, Cause};
use corekube_storage::StorageError;
use serde_json::{json, Value};

use super::{get_stored, list::matches, Scope};
use crate::query::ListParams;
use crate::strategy::{self, DeletePlan};
use crate::state::AppState;

/// The finalizer that has the garbage collector remove an owner's references from its
/// dependents before the owner goes (`propagationPolicy: Orphan`).
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that has the garbage collector delete an owner's dependents before the owner
/// goes (`propagationPolicy: Foreground`).
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// DeleteOptions' propagationPolicy: what becomes of the dependents of a deleted object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents lose their reference to the object and stay.
    Orphan,
    /// The object goes now; the garbage collector deletes the dependents afterwards.
    Background,
    /// The object stays, marked for deletion, until the garbage collector has deleted the
    /// dependents that block it.
    Foreground,
}

impl Propagation {
    fn parse(value: &str) -> Result<Propagation, ApiError> {
        match value {
            "Orphan" => Ok(Propagation::Orphan),
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            other => Err(delete_options_invalid(
                "FieldValueNotSupported",
                format!("Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
            )),
        }
    }
}

/// DeleteOptions as sent in the body or the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteParams {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
    pub propagation_policy: Option<Propagation>,
    /// The deprecated `orphanDependents`: true is Orphan, false is the kind's default.
    pub orphan_dependents: Option<bool>,
}

impl DeleteParams {
    /// Reads DeleteOptions from a JSON body (kubectl sends it without kind/apiVersion) merged
    /// with query parameters. The propagation options come from the query only without a body,
    /// as upstream decodes either the body or the query.
    pub fn parse(body: &[u8], q: &crate::query::Query) -> Result<DeleteParams, ApiError> {
        let mut p = DeleteParams::default();
        let policy: Option<String>;
        if !body.iter().all(|b| b.is_ascii_whitespace()) {
            let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("error decoding DeleteOptions: {e}")))?;
            let opts: k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions =
                serde_json::from_value(v).map_err(|e| ApiError::BadRequest(format!("error decoding DeleteOptions: {e}")))?;
            p.grace_period_seconds = opts.grace_period_seconds;
            if let Some(pre) = opts.preconditions {
                p.precondition_uid = pre.uid;
                p.precondition_resource_version = pre.resource_version;
            }
            let dry: Vec<&str> = opts.dry_run.iter().flatten().map(String::as_str).collect();
            p.dry_run = crate::query::dry_run(&dry)?;
            policy = opts.propagation_policy;
            p.orphan_dependents = opts.orphan_dependents;
        } else {
            policy = q.get("propagationPolicy").filter(|s| !s.is_empty()).map(String::from);
            if q.get("orphanDependents").is_some() {
                p.orphan_dependents = Some(q.flag("orphanDependents")?);
            }
        }
        if let Some(g) = q.get("gracePeriodSeconds") {
            p.grace_period_seconds = Some(g.parse().map_err(|_| ApiError::BadRequest(format!("invalid gracePeriodSeconds: {g:?}")))?);
        }
        p.dry_run |= crate::query::dry_run(&q.all("dryRun"))?;
        // Upstream's ValidateDeleteOptions: the two ways to say it exclude each other.
        if let (Some(value), Some(_)) = (&policy, p.orphan_dependents) {
            return Err(delete_options_invalid("FieldValueInvalid", format!("Invalid value: {value:?}: orphanDependents and deletionPropagation cannot be both set")));
        }
        p.propagation_policy = policy.as_deref().map(Propagation::parse).transpose()?;
        Ok(p)
    }
}

fn delete_options_invalid(reason: &str, message: String) -> ApiError {
    ApiError::Invalid {
        group: "meta.k8s.io".into(),
        kind: "DeleteOptions".into(),
        name: String::new(),
        causes: vec![Cause { reason: reason.into(), message, field: "propagationPolicy".into() }],
    }
}

/// The object's finalizers once the garbage collector's two are set as `params` ask (upstream's
/// `deletionFinalizersForGarbageCollection`), or None when they stay as they are. An explicit
/// option decides; without one, a finalizer already there does; without either, the kind's
/// default, which is background (nothing to add) for every kind served here. Kinds the garbage
/// collector does not handle (events) never carry either finalizer.
fn gc_finalizers(scope: &Scope, obj: &Value, params: &DeleteParams) -> Option<Vec<String>> {
    let unsupported = !scope.def.storage_def().behaviour.garbage_collected();
    let current = meta::finalizers(obj);
    let explicit = match (params.orphan_dependents, params.propagation_policy) {
        (Some(true), _) => Some(Propagation::Orphan),
        (Some(false), _) => Some(Propagation::Background),
        (None, policy) => policy,
    };
    let policy = explicit.or_else(|| {
        current.iter().find_map(|f| match f.as_str() {
            ORPHAN_FINALIZER => Some(Propagation::Orphan),
            FOREGROUND_FINALIZER => Some(Propagation::Foreground),
            _ => None,
        })
    });
    let mut wanted: Vec<String> = current.iter().filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER).cloned().collect();
    match policy {
        _ if unsupported => {}
        Some(Propagation::Orphan) => wanted.push(ORPHAN_FINALIZER.into()),
        Some(Propagation::Foreground) => wanted.push(FOREGROUND_FINALIZER.into()),
        Some(Propagation::Background) | None => {}
    }
    let same = |a: &[String], b: &[String]| a.iter().all(|f| b.contains(f)) && b.iter().all(|f| a.contains(f));
    (!same(&current, &wanted)).then_some(wanted)
}

pub async fn delete(state: &AppState, scope: &Scope, name: &str, params: &DeleteParams) -> Result<Value, ApiError> {
    if let Some(message) = scope.def.storage_def().behaviour.delete_forbidden(name) {
        return Err(ApiError::Forbidden { resource: scope.def.group_resource(), name: name.to_string(), message });
    }
    // A write between the read and the compare-and-swap (a kubelet's status update, say) is
    // no reason to fail the delete: decide again from the new state, as upstream's
    // GuaranteedUpdate does, unless the caller pinned a resourceVersion.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match delete_once(state, scope, name, params).await {
            Err(Attempt::Lost(_)) if params.precondition_resource_version.is_none() && attempt < MAX_CONFLICT_RETRIES => continue,
            Err(Attempt::Lost(e) | Attempt::Failed(e)) => return Err(e),
            Ok(v) => return Ok(v),
        }
    }
}

/// How many times a delete is decided again after losing a compare-and-swap.
const MAX_CONFLICT_RETRIES: usize = 5;

/// Why one try at a delete did not delete.
enum Attempt {
    /// The object changed between the read and the compare-and-swap (the Conflict to answer
    /// if no retry is left).
    Lost(ApiError),
    Failed(ApiError),
}

impl From<ApiError> for Attempt {
    fn from(e: ApiError) -> Attempt {
        Attempt::Failed(e)
    }
}

fn write_error(scope: &Scope, name: &str, e: StorageError) -> Attempt {
    match e {
        StorageError::Conflict { .. } => Attempt::Lost(scope.storage_error(name, e)),
        e => Attempt::Failed(scope.storage_error(name, e)),
    }
}

async fn delete_once(state: &AppState, scope: &Scope, name: &str, params: &DeleteParams) -> Result<Value, Attempt> {
    let old = get_stored(state.store(), scope, name).await?;
    let old_rv: i64 = meta::resource_version(&old).and_then(|r| r.parse().ok()).unwrap_or(0);
    if let Some(uid) = &params.precondition_uid {
        if uid != meta::uid(&old) {
            return Err(precondition_failed(scope, name, "UID", uid, meta::uid(&old)).into());
        }
    }
    if let Some(rv) = &params.precondition_resource_version {
        if rv != &old_rv.to_string() {
            return Err(precondition_failed(scope, name, "ResourceVersion", rv, &old_rv.to_string()).into());
        }
    }
    // Some kinds refuse another delete while one is under way (a terminating namespace).
    if let Some(detail) = scope.def.storage_def().behaviour.delete_conflict(&old) {
        return Err(ApiError::Conflict { resource: scope.def.group_resource(), name: name.to_string(), detail }.into());
    }
    // The garbage collector's finalizers follow the request, even on an object already being
    // deleted, unless a graceful deletion is under way that this request does not shorten.
    let mut base = old.clone();
    if let Some(finalizers) = gc_finalizers(scope, &old, params).filter(|_| !graceful_deletion_pending(&old, params)) {
        if finalizers.is_empty() {
            meta::remove(&mut base, "finalizers");
        } else {
            meta::set(&mut base, "finalizers", json!(finalizers));
        }
    }
    let plan = if meta::finalizers(&base).is_empty() {
        strategy::delete_plan(scope.def, &base, params.grace_period_seconds)
    } else {
        // Finalizers keep the object, marked for deletion, until the last one is removed.
        match strategy::delete_plan(scope.def, &base, params.grace_period_seconds) {
            DeletePlan::Immediate => DeletePlan::Graceful(0),
            other => other,
        }
    };
    if plan == DeletePlan::Immediate {
        if params.dry_run {
            return Ok(strategy::to_served(scope.def, old));
        }
        let (last, rev) = state.store().delete(&scope.key(name), Some(old_rv)).await.map_err(|e| write_error(scope, name, e))?;
        let mut gone = last;
        meta::set(&mut gone, "resourceVersion", rev.to_string().into());
        return Ok(strategy::to_served(scope.def, gone));
    }
    let mut marked = strategy::mark_deleting(scope.def, &base, &plan);
    // Marking an object for deletion is a change of its desired state (upstream bumps the
    // generation of kinds that keep one).
    if meta::deletion_timestamp(&old).is_none() && meta::generation(&old) > 0 {
        meta::set(&mut marked, "generation", (meta::generation(&old) + 1).into());
    }
    if marked == old || params.dry_run {
        return Ok(strategy::to_served(scope.def, marked));
    }
    let stored = state.store().update(&scope.key(name), marked, old_rv).await.map_err(|e| write_error(scope, name, e))?;
    Ok(strategy::to_served(scope.def, stored))
}

/// A pod in its grace period, which this request does not shorten: upstream leaves it, its
/// finalizers included, as it is.
fn graceful_deletion_pending(old: &Value, params: &DeleteParams) -> bool {
    let current = meta::meta(old).and_then(|m| m.get("deletionGracePeriodSeconds")).and_then(|g| g.as_i64()).unwrap_or(0);
    meta::deletion_timestamp(old).is_some() && current > 0 && params.grace_period_seconds.is_none_or(|g| g >= current)
}

fn precondition_failed(scope: &Scope, name: &str, what: &str, wanted: &str, actual: &str) -> ApiError {
    ApiError::Conflict {
        resource: scope.def.group_resource(),
        name: name.to_string(),
        detail: format!("Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {actual}"),
    }
}

/// Deletes every object the selectors match, one by one, and returns them as a list.
pub async fn delete_collection(state: &AppState, scope: &Scope, params: &ListParams, opts: &DeleteParams) -> Result<Value, ApiError> {
    super::list::check_field_labels(scope, params)?;
    let page = state.store().list(&scope.prefix(), 0, None, None).await.map_err(|e| scope.storage_error("", e))?;
    let mut deleted = Vec::new();
    for obj in page.items.iter().filter(|o| matches(scope, params, o)) {
        let item_scope = Scope { def: scope.def, namespace: meta::namespace(obj).map(String::from) };
        match delete(state, &item_scope, meta::name(obj), opts).await {
            Ok(d) => deleted.push(d),
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json!({
        "kind": format!("{}List", scope.def.kind),
        "apiVersion": scope.def.api_version(),
        "metadata": {"resourceVersion": page.revision.to_string()},
        "items": deleted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;

    fn params(body: &str, query: &str) -> Result<DeleteParams, ApiError> {
        DeleteParams::parse(body.as_bytes(), &Query::parse(Some(query)))
    }

    fn scope(resource: &str) -> Scope {
        let def = match resource {
            "events" => corekube_api::kinds::find("", "v1", "events").unwrap(),
            "replicasets" => corekube_api::kinds::find("apps", "v1", "replicasets").unwrap(),
            _ => corekube_api::kinds::find("", "v1", "configmaps").unwrap(),
        };
        Scope { def, namespace: Some("default".into()) }
    }

    fn with_finalizers(f: &[&str]) -> Value {
        json!({"metadata": {"name": "x", "finalizers": f}})
    }

    fn policy(p: Option<Propagation>) -> DeleteParams {
        DeleteParams { propagation_policy: p, ..Default::default() }
    }

    #[test]
    fn propagation_options_from_body_or_query() {
        assert_eq!(params(r#"{"propagationPolicy":"Foreground"}"#, "").unwrap().propagation_policy, Some(Propagation::Foreground));
        assert_eq!(params("", "propagationPolicy=Orphan").unwrap().propagation_policy, Some(Propagation::Orphan));
        assert_eq!(params("", "orphanDependents=true").unwrap().orphan_dependents, Some(true));
        assert_eq!(params(r#"{"orphanDependents":false}"#, "").unwrap().orphan_dependents, Some(false));
        // The query is not read for these when a body came (upstream decodes one or the other).
        assert_eq!(params(r#"{"gracePeriodSeconds":1}"#, "propagationPolicy=Orphan").unwrap().propagation_policy, None);

        let both = params(r#"{"propagationPolicy":"Orphan","orphanDependents":true}"#, "").unwrap_err();
        assert_eq!(both.code(), 422);
        assert_eq!(
            both.to_string(),
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Orphan\": orphanDependents and deletionPropagation cannot be both set"
        );
        assert_eq!(params("", "propagationPolicy=Background&orphanDependents=false").unwrap_err().code(), 422);
        let bad = params(r#"{"propagationPolicy":"Sometimes"}"#, "").unwrap_err();
        assert_eq!(bad.code(), 422);
        assert!(bad.to_string().ends_with(r#"propagationPolicy: Unsupported value: "Sometimes": supported values: "Foreground", "Background", "Orphan", "nil""#), "{bad}");
        assert_eq!(params("", "orphanDependents=maybe").unwrap_err().code(), 400);
    }

    #[test]
    fn finalizers_for_the_garbage_collector_as_upstream() {
        let cm = scope("configmaps");
        let none = with_finalizers(&[]);
        // No option and no finalizer: the default (background) needs none.
        assert_eq!(gc_finalizers(&cm, &none, &policy(None)), None);
        assert_eq!(gc_finalizers(&cm, &none, &policy(Some(Propagation::Background))), None);
        assert_eq!(gc_finalizers(&cm, &none, &policy(Some(Propagation::Orphan))), Some(vec!["orphan".to_string()]));
        assert_eq!(gc_finalizers(&cm, &none, &policy(Some(Propagation::Foreground))), Some(vec!["foregroundDeletion".to_string()]));
        let legacy = DeleteParams { orphan_dependents: Some(true), ..Default::default() };
        assert_eq!(gc_finalizers(&cm, &none, &legacy), Some(vec!["orphan".to_string()]));

        // An explicit option replaces the other finalizer and keeps everyone else's.
        let fg = with_finalizers(&["example.com/keep", "foregroundDeletion"]);
        assert_eq!(gc_finalizers(&cm, &fg, &policy(Some(Propagation::Orphan))), Some(vec!["example.com/keep".to_string(), "orphan".to_string()]));
        assert_eq!(gc_finalizers(&cm, &fg, &policy(Some(Propagation::Background))), Some(vec!["example.com/keep".to_string()]));
        let not_orphan = DeleteParams { orphan_dependents: Some(false), ..Default::default() };
        assert_eq!(gc_finalizers(&cm, &with_finalizers(&["orphan"]), &not_orphan), Some(vec![]));
        // Without an option the finalizer already there decides: nothing changes.
        assert_eq!(gc_finalizers(&cm, &fg, &policy(None)), None);
        assert_eq!(gc_finalizers(&cm, &fg, &policy(Some(Propagation::Foreground))), None);
        // Both present (only by hand): the first decides.
        assert_eq!(gc_finalizers(&cm, &with_finalizers(&["orphan", "foregroundDeletion"]), &policy(None)), Some(vec!["orphan".to_string()]));

        // apps/v1 kinds default to background too.
        assert_eq!(gc_finalizers(&scope("replicasets"), &none, &policy(None)), None);
        // Events are not garbage collected: never either finalizer.
        let ev = scope("events");
        assert_eq!(gc_finalizers(&ev, &none, &policy(Some(Propagation::Foreground))), None);
        assert_eq!(gc_finalizers(&ev, &with_finalizers(&["orphan", "x"]), &policy(None)), Some(vec!["x".to_string()]));
    }

    #[test]
    fn a_pod_in_its_grace_period_keeps_its_finalizers() {
        let pod = json!({"metadata": {"name": "p", "deletionTimestamp": "2030-01-01T00:00:00Z", "deletionGracePeriodSeconds": 30}});
        assert!(graceful_deletion_pending(&pod, &policy(Some(Propagation::Foreground))));
        assert!(graceful_deletion_pending(&pod, &DeleteParams { grace_period_seconds: Some(30), ..Default::default() }));
        assert!(!graceful_deletion_pending(&pod, &DeleteParams { grace_period_seconds: Some(5), ..Default::default() }));
        let finalizing = json!({"metadata": {"name": "p", "deletionTimestamp": "2030-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}});
        assert!(!graceful_deletion_pending(&finalizing, &policy(None)));
        assert!(!graceful_deletion_pending(&json!({"metadata": {"name": "p"}}), &policy(None)));
    }

    #[tokio::test]
    async fn propagation_finalizers_keep_or_release_the_object() {
        use corekube_storage::test_etcd::TestEtcd;
        use corekube_storage::CacherConfig;
        use std::time::Duration;
        use tokio_util::sync::CancellationToken;

        let (_etcd, store) = TestEtcd::start_with_store().await;
        let stop = CancellationToken::new();
        let state = crate::build_state(store.clone(), CacherConfig::default(), crate::Health::new(store.clone()), stop.clone());
        assert!(state.wait_caches_synced(Duration::from_secs(20)).await);
        let rs = scope("replicasets");
        let make =
            |name: &str| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}"), "generation": 1}});
        store.create(&rs.key("a"), make("a")).await.unwrap();
        let stored = |name: &'static str| {
            let store = store.clone();
            let key = rs.key(name);
            async move { store.get(&key).await.unwrap() }
        };

        // Foreground: kept, marked, with the finalizer and one generation more.
        let dry = DeleteParams { dry_run: true, ..policy(Some(Propagation::Foreground)) };
        let out = delete(&state, &rs, "a", &dry).await.unwrap();
        assert_eq!(meta::finalizers(&out), vec!["foregroundDeletion"]);
        assert!(meta::deletion_timestamp(&stored("a").await.unwrap()).is_none(), "a dry run writes nothing");
        let out = delete(&state, &rs, "a", &policy(Some(Propagation::Foreground))).await.unwrap();
        assert_eq!(meta::finalizers(&out), vec!["foregroundDeletion"]);
        assert!(meta::deletion_timestamp(&out).is_some());
        assert_eq!(out["metadata"]["deletionGracePeriodSeconds"], 0);
        assert_eq!(meta::generation(&out), 2);
        // A second delete without an option changes nothing; one with Orphan swaps the finalizer.
        let again = delete(&state, &rs, "a", &policy(None)).await.unwrap();
        assert_eq!(meta::resource_version(&again), meta::resource_version(&out));
        let orphan = delete(&state, &rs, "a", &policy(Some(Propagation::Orphan))).await.unwrap();
        assert_eq!(meta::finalizers(&orphan), vec!["orphan"]);
        assert_eq!(meta::deletion_timestamp(&orphan), meta::deletion_timestamp(&out));
        assert_eq!(meta::generation(&orphan), 2);
        // Background drops the last finalizer: the object goes.
        delete(&state, &rs, "a", &policy(Some(Propagation::Background))).await.unwrap();
        assert!(stored("a").await.is_none());

        // Background on an object without finalizers deletes at once; Orphan keeps it.
        store.create(&rs.key("b"), make("b")).await.unwrap();
        let out = delete(&state, &rs, "b", &DeleteParams { orphan_dependents: Some(true), ..Default::default() }).await.unwrap();
        assert_eq!(meta::finalizers(&out), vec!["orphan"]);
        assert!(stored("b").await.is_some());
        stop.cancel();
    }
}
