//! Subresources that speak another kind: `scale` (autoscaling/v1 Scale over a workload's
//! replicas) and `pods/binding` (assigning a pod to a node, once).

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use corekube_api::selector::LabelSelector;
use corekube_api::{decode, meta, ApiError};
use serde_json::{json, Value};

use super::body;
use super::negotiate::{self, Render};
use super::resource::{apply_patch, json, manager_of, patch_kind};
use crate::query::{Query, WriteParams};
use crate::state::AppState;
use crate::store::{self, Scope};

/// The Scale view of a Deployment or ReplicaSet.
fn to_scale(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector")
        .and_then(|s| serde_json::from_value::<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>(s.clone()).ok())
        .and_then(|s| LabelSelector::from_metav1(&s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut metadata = json!({});
    for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta::meta(obj).and_then(|m| m.get(field)) {
            metadata[field] = v.clone();
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// Reads a Scale body; kubectl's `scale --current-replicas` PUT has no Content-Type (JSON).
fn decode_scale(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    check_scale(body::parse(headers, bytes)?.value)
}

fn check_scale(v: Value) -> Result<Value, ApiError> {
    match v.get("apiVersion").and_then(|a| a.as_str()) {
        None | Some("") | Some("autoscaling/v1") => {}
        Some(other) => return Err(ApiError::BadRequest(format!("the API version in the data ({other}) does not match the expected API version (autoscaling/v1)"))),
    }
    let typed = decode::typed::<k8s_openapi::api::autoscaling::v1::Scale>(v).map_err(|e| ApiError::BadRequest(format!("Scale in version \"v1\" cannot be handled as a Scale: {e}")))?;
    Ok(typed.value)
}

/// Sets the workload's replicas from a Scale; its resourceVersion, if any, is the precondition.
fn apply_scale(old_workload: &Value, scale: &Value) -> Result<Value, ApiError> {
    let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
    let mut new = old_workload.clone();
    new["spec"]["replicas"] = replicas;
    match meta::resource_version(scale) {
        Some(rv) => meta::set(&mut new, "resourceVersion", rv.to_string().into()),
        None => meta::remove(&mut new, "resourceVersion"),
    }
    Ok(new)
}

pub async fn scale(state: AppState, scope: Scope, name: &str, method: &Method, q: &Query, headers: &HeaderMap, body_in: Body) -> Result<Response, ApiError> {
    match *method {
        Method::GET => {
            let render = negotiate::render_for(headers, q)?;
            let scale = to_scale(&store::get(state.store(), &scope, name).await?);
            let body = match render {
                Render::Object => scale,
                Render::Metadata { .. } => negotiate::metadata_of_object(scope.def, &render, &scale)?,
                Render::Table { .. } => {
                    let list_meta = json!({"resourceVersion": meta::resource_version(&scale).unwrap_or_default()});
                    negotiate::table_of_kind("autoscaling", "Scale", &render, &[scale], list_meta, true)
                }
            };
            Ok(json(StatusCode::OK, &body, &[]))
        }
        Method::PUT => {
            let params = WriteParams::parse(q)?;
            let scale = decode_scale(headers, &body::read(headers, body_in).await?)?;
            let manager = manager_of(&params, headers);
            let updated = store::update(&state, &scope, name, Some("scale"), params.dry_run, Some(&manager), |old| apply_scale(old, &scale)).await?;
            Ok(json(StatusCode::OK, &to_scale(&updated), &[]))
        }
        Method::PATCH => {
            let params = WriteParams::parse(q)?;
            let kind = patch_kind(headers)?;
            let bytes = body::read(headers, body_in).await?;
            let manager = manager_of(&params, headers);
            let updated = store::update(&state, &scope, name, Some("scale"), params.dry_run, Some(&manager), |old| {
                let patched = apply_patch(kind, "autoscaling", "Scale", &to_scale(old), &bytes)?;
                apply_scale(old, &check_scale(patched)?)
            })
            .await?;
            Ok(json(StatusCode::OK, &to_scale(&updated), &[]))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

pub async fn binding(state: AppState, scope: Scope, name: &str, q: &Query, headers: &HeaderMap, body_in: Body) -> Result<Response, ApiError> {
    let params = WriteParams::parse(q)?;
    let v = body::parse(headers, &body::read(headers, body_in).await?)?.value;
    let binding = decode::typed::<k8s_openapi::api::core::v1::Binding>(v)
        .map_err(|e| ApiError::BadRequest(format!("Binding in version \"v1\" cannot be handled as a Binding: {e}")))?
        .value;
    let body_name = meta::name(&binding);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::BadRequest(format!("the name of the object ({body_name}) does not match the name on the URL ({name})")));
    }
    let node = binding.pointer("/target/name").and_then(|n| n.as_str()).unwrap_or_default().to_string();
    if node.is_empty() {
        return Err(ApiError::Invalid {
            group: String::new(),
            kind: "Binding".into(),
            name: name.to_string(),
            causes: vec![corekube_api::Cause { reason: "FieldValueRequired".into(), message: "Required value".into(), field: "target.name".into() }],
        });
    }
    let conflict = |detail: String| ApiError::Conflict { resource: corekube_api::error::GroupResource::new("", "pods/binding"), name: name.to_string(), detail };
    // Upstream's binding writes the pod without the field manager.
    store::update(&state, &scope, name, Some("binding"), params.dry_run, None, |old| {
        let current = old.pointer("/spec/nodeName").and_then(|n| n.as_str()).unwrap_or_default();
        if !current.is_empty() {
            return Err(conflict(format!("pod {name} is already assigned to node \"{current}\"")));
        }
        if meta::deletion_timestamp(old).is_some() {
            return Err(conflict(format!("pod {name} is being deleted, cannot be assigned to a host")));
        }
        let mut new = old.clone();
        new["spec"]["nodeName"] = json!(node);
        set_scheduled_condition(&mut new);
        if let Some(uid) = binding.pointer("/metadata/uid").and_then(|u| u.as_str()) {
            if uid != meta::uid(old) {
                return Err(conflict(format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", meta::uid(old))));
            }
        }
        meta::remove(&mut new, "resourceVersion");
        Ok(new)
    })
    .await?;
    Ok(json(StatusCode::CREATED, &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}), &[]))
}

/// Marks the pod PodScheduled=True, as upstream's binding does.
fn set_scheduled_condition(pod: &mut Value) {
    let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now_rfc3339()});
    let conditions = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let mut out: Vec<Value> = conditions.into_iter().filter(|c| c["type"] != "PodScheduled").collect();
    out.push(condition);
    pod["status"]["conditions"] = Value::Array(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view_of_a_deployment() {
        let d = json!({"metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7", "labels": {"x": "y"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}}, "status": {"replicas": 2}});
        let s = to_scale(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=web");
        assert_eq!(s["metadata"]["resourceVersion"], "7");
        assert!(s["metadata"].get("labels").is_none());
        let back = apply_scale(&d, &json!({"spec": {"replicas": 5}})).unwrap();
        assert_eq!(back["spec"]["replicas"], 5);
        assert!(meta::resource_version(&back).is_none(), "no precondition without one in the Scale");
    }
}
