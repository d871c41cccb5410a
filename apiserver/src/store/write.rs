//! Create and update (PUT, PATCH and the status subresource share one path): server-set
//! metadata, defaults, validation, namespace lifecycle, preconditions and compare-and-swap.

use corekube_api::{meta, ApiError};
use corekube_storage::StorageError;
use serde_json::Value;

use super::{get_stored, Scope};
use crate::strategy;
use crate::state::AppState;

/// How many times an update without a resourceVersion precondition is retried on a conflict.
const MAX_CONFLICT_RETRIES: usize = 5;

/// Letters upstream's generateName suffix draws from (no vowels, no look-alike digits).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generated_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..5).map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char).collect()
}

/// A random (version 4) UUID from the thread's CSPRNG, seeded from the OS: `Uuid::new_v4`
/// asks the kernel for 16 bytes on every call, a getrandom syscall per create.
fn new_uid() -> String {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string()
}

/// Refuses writes into a namespace that does not exist (404) or is terminating (403).
pub(crate) async fn check_namespace(state: &AppState, scope: &Scope, name: &str) -> Result<(), ApiError> {
    let Some(ns) = scope.namespace.as_deref() else { return Ok(()) };
    let ns_def = corekube_api::kinds::find("", "v1", "namespaces").expect("namespaces are served");
    let ns_scope = Scope { def: ns_def, namespace: None };
    let found = match state.cacher(ns_def).get(&ns_scope.key(ns)).0 {
        Some(o) => Some(o.value()),
        // The cache may not have seen a namespace created a moment ago; ask etcd.
        None => state.store().get(&ns_scope.key(ns)).await.map_err(|e| ns_scope.storage_error(ns, e))?,
    };
    match found {
        None => Err(ns_scope.not_found(ns)),
        Some(o) if strategy::is_terminating(&o) => Err(ApiError::Forbidden {
            resource: scope.def.group_resource(),
            name: name.to_string(),
            message: format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                scope.def.group_resource()
            ),
        }),
        Some(_) => Ok(()),
    }
}

/// Creates an object from a decoded body (served form, namespace already checked against the
/// URL). Returns the stored object in served form.
/// `manager`, when given, is recorded as the owner of every field (managedFields, operation
/// Update); a server-side apply passes None, having recorded its own.
pub async fn create(state: &AppState, scope: &Scope, body: Value, dry_run: bool, manager: Option<&str>) -> Result<Value, ApiError> {
    let (name, obj) = prepare_create(state, scope, body, manager).await?;
    if dry_run {
        return Ok(strategy::to_served(scope.def, obj));
    }
    let stored = state.store().create(&scope.key(&name), obj).await.map_err(|e| scope.storage_error(&name, e))?;
    Ok(strategy::to_served(scope.def, stored))
}

/// `create` for a caller that sends the created object back as JSON: where the served form is
/// the stored form, the response is the bytes written to etcd with the resourceVersion added,
/// not the object serialized a second time.
pub async fn create_json(state: &AppState, scope: &Scope, body: Value, dry_run: bool, manager: Option<&str>) -> Result<Vec<u8>, ApiError> {
    if dry_run || scope.def.is_converted_view() {
        let created = create(state, scope, body, dry_run, manager).await?;
        return Ok(serde_json::to_vec(&created).expect("a JSON value always serializes"));
    }
    let (name, obj) = prepare_create(state, scope, body, manager).await?;
    state.store().create_json(&scope.key(&name), obj).await.map_err(|e| scope.storage_error(&name, e))
}

/// Everything a create does before storing: server-owned metadata, defaults, admission,
/// managedFields, validation and the namespace check. Returns the name and the stored form.
async fn prepare_create(state: &AppState, scope: &Scope, body: Value, manager: Option<&str>) -> Result<(String, Value), ApiError> {
    let mut obj = strategy::to_stored(scope.def, body)?;
    if meta::resource_version(&obj).is_some() {
        return Err(ApiError::Internal("resourceVersion should not be set on objects to be created".into()));
    }
    match &scope.namespace {
        Some(ns) => meta::set(&mut obj, "namespace", ns.clone().into()),
        None => meta::remove(&mut obj, "namespace"),
    }
    if meta::name(&obj).is_empty() && !meta::generate_name(&obj).is_empty() {
        let name = format!("{}{}", meta::generate_name(&obj), generated_suffix());
        meta::set(&mut obj, "name", name.into());
    }
    meta::set(&mut obj, "uid", new_uid().into());
    meta::set(&mut obj, "creationTimestamp", meta::now_rfc3339().into());
    for field in ["deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"] {
        meta::remove(&mut obj, field);
    }
    strategy::prepare_for_create(scope.def, &mut obj);
    crate::admission::admit_create(state, scope, &mut obj).await?;
    if let Some(manager) = manager {
        obj = crate::managed::record_update(scope.def, None, None, obj, manager);
    }
    let name = meta::name(&obj).to_string();
    let causes = strategy::validate_create(scope.def, &mut obj);
    if !causes.is_empty() {
        return Err(invalid(scope, &name, causes));
    }
    check_namespace(state, scope, &name).await?;
    Ok((name, obj))
}

pub(crate) fn invalid(scope: &Scope, name: &str, causes: Vec<corekube_api::Cause>) -> ApiError {
    ApiError::Invalid { group: scope.def.group.to_string(), kind: scope.def.kind.to_string(), name: name.to_string(), causes }
}

/// Updates `name` with the object `compute` derives from the current one (both served form):
/// the request body for PUT, the patched object for PATCH. A resourceVersion in the result
/// that differs from the current one is a 409; without one, conflicts are retried.
/// `manager`, when given, is recorded for the fields the write changes (managedFields).
///
/// The first try starts from the watch cache's copy of the object, as upstream's
/// GuaranteedUpdate does, which saves a read from etcd. The write is a compare-and-swap on
/// that copy's revision, so a stale copy cannot be written over a newer object: its swap
/// fails, or whatever the write decided from it (a precondition, validation, a no-op) is
/// decided again from etcd's copy.
#[allow(clippy::too_many_arguments)]
pub async fn update<F>(
    state: &AppState,
    scope: &Scope,
    name: &str,
    subresource: Option<&str>,
    dry_run: bool,
    manager: Option<&str>,
    compute: F,
) -> Result<Value, ApiError>
where
    F: Fn(&Value) -> Result<Value, ApiError>,
{
    let key = scope.key(name);
    let mut cached = if dry_run { None } else { state.cacher(scope.def).get(&key).0.map(|o| o.value()) };
    let mut attempt = 0;
    loop {
        let (old, current) = match cached.take() {
            Some(old) => (old, false),
            None => {
                attempt += 1;
                (get_stored(state.store(), scope, name).await?, true)
            }
        };
        let planned = plan_update(scope, name, subresource, dry_run, manager, &compute, old);
        let (new, old_rv, has_precondition, completes_deletion) = match planned {
            Ok(Planned::Write { new, old_rv, has_precondition, completes_deletion }) => (new, old_rv, has_precondition, completes_deletion),
            Ok(Planned::Answer(obj)) if current => return Ok(strategy::to_served(scope.def, obj)),
            Err(e) if current => return Err(e),
            // Decided from a stale copy: decide again from etcd's.
            Ok(_) | Err(_) => continue,
        };
        let result = if completes_deletion {
            state.store().delete(&key, Some(old_rv)).await.map(|(_, rev)| {
                let mut gone = new.clone();
                meta::set(&mut gone, "resourceVersion", rev.to_string().into());
                gone
            })
        } else {
            state.store().update(&key, new, old_rv).await
        };
        match result {
            Ok(stored) => return Ok(strategy::to_served(scope.def, stored)),
            Err(StorageError::Conflict { .. } | StorageError::NotFound) if !current => continue,
            Err(StorageError::Conflict { .. }) if !has_precondition && attempt < MAX_CONFLICT_RETRIES => continue,
            Err(e) => return Err(scope.storage_error(name, e)),
        }
    }
}

/// What an update will do, decided from one copy of the current object.
enum Planned {
    /// Store `new` if the object is still at `old_rv`; or, when `completes_deletion`, delete
    /// the object if it is still at `old_rv`.
    Write { new: Value, old_rv: i64, has_precondition: bool, completes_deletion: bool },
    /// Nothing to store, and the object to answer with: the current one when the write changes
    /// nothing (not even the resourceVersion), or what a dry run would have stored.
    Answer(Value),
}

/// Everything an update does before storing: the new object from `compute`, its identity and
/// precondition checks, server-set fields, managedFields and validation.
#[allow(clippy::too_many_arguments)]
fn plan_update<F>(
    scope: &Scope,
    name: &str,
    subresource: Option<&str>,
    dry_run: bool,
    manager: Option<&str>,
    compute: &F,
    mut old: Value,
) -> Result<Planned, ApiError>
where
    F: Fn(&Value) -> Result<Value, ApiError>,
{
    let old_rv: i64 = meta::resource_version(&old).and_then(|r| r.parse().ok()).unwrap_or(0);
    // `compute` sees the served form; only a converted view needs a converted copy.
    let requested = if scope.def.is_converted_view() { compute(&strategy::to_served(scope.def, old.clone()))? } else { compute(&old)? };
    let mut new = strategy::to_stored(scope.def, requested)?;
    check_identity(scope, name, &mut new)?;
    let precondition = meta::resource_version(&new).map(String::from);
    if let Some(rv) = &precondition {
        if rv.parse::<i64>().ok() != Some(old_rv) {
            return Err(scope.conflict(name));
        }
    }
    strategy::prepare_for_update(scope.def, subresource, &mut new, &old);
    if let Some(manager) = manager {
        new = crate::managed::record_update(scope.def, subresource, Some(&old), new, manager);
    }
    meta::set(&mut new, "resourceVersion", old_rv.to_string().into());
    let causes = strategy::validate_update(scope.def, subresource, &mut new, &mut old);
    if !causes.is_empty() {
        return Err(invalid(scope, name, causes));
    }
    if new == old {
        return Ok(Planned::Answer(old));
    }
    if dry_run {
        return Ok(Planned::Answer(new));
    }
    let completes_deletion = deletes_during_update(scope, &old, &new);
    Ok(Planned::Write { new, old_rv, has_precondition: precondition.is_some(), completes_deletion })
}

/// Whether storing `new` over `old` completes a deletion instead, as upstream's
/// `ShouldDeleteDuringUpdate`: an update that leaves no finalizers on an object already marked
/// for deletion with no grace period left. Any other update of an object being deleted is
/// stored as usual: a pod in its graceful termination keeps its deletionTimestamp through
/// status writes and label changes until its kubelet deletes it with grace 0.
fn deletes_during_update(scope: &Scope, old: &Value, new: &Value) -> bool {
    let grace = meta::meta(old).and_then(|m| m.get("deletionGracePeriodSeconds")).and_then(|g| g.as_i64());
    meta::deletion_timestamp(old).is_some()
        && grace.unwrap_or(0) == 0
        && meta::finalizers(new).is_empty()
        && spec_finalizers_done(scope, new)
}

/// A namespace still waiting for its contents to be removed (spec.finalizers) is not done
/// even when metadata.finalizers is empty (upstream's `ShouldDeleteNamespaceDuringUpdate`).
fn spec_finalizers_done(scope: &Scope, obj: &Value) -> bool {
    scope.def.storage_def().behaviour.may_remove(obj)
}

/// The body must name the object of the URL, in the URL's namespace.
fn check_identity(scope: &Scope, name: &str, new: &mut Value) -> Result<(), ApiError> {
    let body_name = meta::name(new).to_string();
    if body_name.is_empty() {
        meta::set(new, "name", name.into());
    } else if body_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    match (meta::namespace(new).map(String::from), &scope.namespace) {
        (Some(body_ns), Some(url_ns)) if &body_ns != url_ns => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request".into(),
        )),
        (_, Some(url_ns)) => {
            meta::set(new, "namespace", url_ns.clone().into());
            Ok(())
        }
        (_, None) => {
            meta::remove(new, "namespace");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use corekube_storage::test_etcd::TestEtcd;
    use corekube_storage::CacherConfig;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    fn rv(obj: &Value) -> String {
        meta::resource_version(obj).expect("a resourceVersion").to_string()
    }

    /// Sets `data.<key>` (and the resourceVersion precondition, if given) on the current object.
    fn set(key: &'static str, value: &'static str, precondition: Option<String>) -> impl Fn(&Value) -> Result<Value, ApiError> {
        move |old| {
            let mut new = old.clone();
            new["data"][key] = value.into();
            match &precondition {
                Some(rv) => meta::set(&mut new, "resourceVersion", rv.clone().into()),
                None => meta::remove(&mut new, "resourceVersion"),
            }
            Ok(new)
        }
    }

    #[tokio::test]
    async fn updates_from_a_stale_cached_copy_are_decided_again_from_etcd() {
        let (_etcd, store) = TestEtcd::start_with_store().await;
        let caches_stop = CancellationToken::new();
        let state = crate::build_state(store.clone(), CacherConfig::default(), crate::Health::new(store.clone()), caches_stop.clone());
        assert!(state.wait_caches_synced(Duration::from_secs(20)).await);
        let def = corekube_api::kinds::find("", "v1", "configmaps").unwrap();
        let scope = Scope { def, namespace: Some("default".into()) };
        let key = scope.key("c");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default", "uid": "u-1"}, "data": {"k": "1"}});
        let created = store.create(&key, cm).await.unwrap();
        let cacher = state.cacher(def);
        assert!(cacher.wait_for_revision(rv(&created).parse().unwrap(), Duration::from_secs(10)).await, "the cache never saw the object");
        // The caches stop following etcd and keep what they have; a write behind their back
        // makes their copy stale. A cache closes its watchers as its loop ends: once this
        // watch ends, nothing more is applied.
        let mut watch = cacher.watch(&scope.prefix(), corekube_storage::WatchStart::Snapshot).await.unwrap();
        caches_stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), async { while watch.next().await.is_some() {} }).await.expect("the cache stopped");
        let stale_rv = cacher.get(&key).0.unwrap().revision.to_string();
        let behind = store.update(&key, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default", "uid": "u-1"}, "data": {"k": "2"}}), stale_rv.parse().unwrap()).await.unwrap();
        assert_eq!(cacher.get(&key).0.unwrap().revision.to_string(), stale_rv, "the cache is stale");

        // The current resourceVersion as a precondition is no conflict.
        let out = update(&state, &scope, "c", None, false, None, set("k", "3", Some(rv(&behind)))).await.unwrap();
        assert_eq!(out["data"]["k"], "3");
        // Without a precondition nothing written since the cached copy is lost.
        let out = update(&state, &scope, "c", None, false, None, set("extra", "x", None)).await.unwrap();
        assert_eq!((out["data"]["k"].as_str(), out["data"]["extra"].as_str()), (Some("3"), Some("x")));
        // The cached copy's resourceVersion is really stale: a conflict.
        let err = update(&state, &scope, "c", None, false, None, set("k", "4", Some(stale_rv))).await.unwrap_err();
        assert!(matches!(err, ApiError::Conflict { .. }), "{err:?}");
        // A write that changes nothing in etcd's copy is a no-op, though it would change the
        // cached one.
        let again = update(&state, &scope, "c", None, false, None, set("extra", "x", None)).await.unwrap();
        assert_eq!(rv(&again), rv(&out));
        assert_eq!(store.get(&key).await.unwrap().unwrap()["data"], json!({"k": "3", "extra": "x"}));
        // And one that would change nothing in the cached copy still changes etcd's.
        let back = update(&state, &scope, "c", None, false, None, set("k", "1", None)).await.unwrap();
        assert_ne!(rv(&back), rv(&again));
        assert_eq!(store.get(&key).await.unwrap().unwrap()["data"], json!({"k": "1", "extra": "x"}));
    }

    #[test]
    fn uids_are_distinct_version_4_uuids() {
        let (a, b) = (new_uid(), new_uid());
        assert_ne!(a, b);
        for uid in [a, b] {
            let parsed = uuid::Uuid::parse_str(&uid).unwrap();
            assert_eq!(parsed.get_version(), Some(uuid::Version::Random), "{uid}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{uid}");
            assert_eq!(uid.len(), 36);
        }
    }
}
