//! DELETE and DELETE-collection: preconditions, dry run, finalizers, graceful pod deletion and
//! namespace termination.

use corekube_api::{meta, ApiError};
use corekube_storage::StorageError;
use serde_json::{json, Value};

use super::{get_stored, list::matches, Scope};
use crate::query::ListParams;
use crate::registry::{self, DeletePlan};
use crate::state::AppState;

/// DeleteOptions as sent in the body or the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteParams {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteParams {
    /// Reads DeleteOptions from a JSON body (kubectl sends it without kind/apiVersion) merged
    /// with query parameters.
    pub fn parse(body: &[u8], q: &crate::query::Query) -> Result<DeleteParams, ApiError> {
        let mut p = DeleteParams::default();
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
            if let Some(policy) = opts.propagation_policy.as_deref() {
                if !matches!(policy, "Orphan" | "Background" | "Foreground") {
                    return Err(ApiError::BadRequest(format!("invalid propagationPolicy: {policy:?}")));
                }
            }
        }
        if let Some(g) = q.get("gracePeriodSeconds") {
            p.grace_period_seconds = Some(g.parse().map_err(|_| ApiError::BadRequest(format!("invalid gracePeriodSeconds: {g:?}")))?);
        }
        p.dry_run |= crate::query::dry_run(&q.all("dryRun"))?;
        Ok(p)
    }
}

pub async fn delete(state: &AppState, scope: &Scope, name: &str, params: &DeleteParams) -> Result<Value, ApiError> {
    if scope.def.storage_def().kind == "Namespace" && registry::is_protected_namespace(name) {
        return Err(ApiError::Forbidden {
            resource: scope.def.group_resource(),
            name: name.to_string(),
            message: format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
        });
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
    let plan = if meta::finalizers(&old).is_empty() {
        registry::delete_plan(scope.def, &old, params.grace_period_seconds)
    } else {
        // Finalizers keep the object, marked for deletion, until the last one is removed.
        match registry::delete_plan(scope.def, &old, params.grace_period_seconds) {
            DeletePlan::Immediate => DeletePlan::Graceful(0),
            other => other,
        }
    };
    if plan == DeletePlan::Immediate {
        if params.dry_run {
            return Ok(registry::to_served(scope.def, old));
        }
        let (last, rev) = state.store().delete(&scope.key(name), Some(old_rv)).await.map_err(|e| write_error(scope, name, e))?;
        let mut gone = last;
        meta::set(&mut gone, "resourceVersion", rev.to_string().into());
        return Ok(registry::to_served(scope.def, gone));
    }
    let marked = registry::mark_deleting(scope.def, &old, &plan);
    if marked == old || params.dry_run {
        return Ok(registry::to_served(scope.def, marked));
    }
    let stored = state.store().update(&scope.key(name), marked, old_rv).await.map_err(|e| write_error(scope, name, e))?;
    Ok(registry::to_served(scope.def, stored))
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
