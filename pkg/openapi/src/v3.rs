//! Rendering of the model as OpenAPI 3.0 group-version documents.

use serde_json::{json, Map, Value};

use crate::spec::{self, Body, Gv, Operation, Param, PathItem, INFO_VERSION, PATCH_TYPES, V3_REF};

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{V3_REF}{name}")})
}

fn param(p: &Param) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), p.name.into());
    o.insert("in".into(), p.location.into());
    o.insert("description".into(), p.description.clone().into());
    if p.location == "path" {
        o.insert("required".into(), true.into());
    }
    o.insert("schema".into(), json!({"type": p.ty.as_str(), "uniqueItems": true}));
    Value::Object(o)
}

fn operation(op: &Operation) -> Value {
    let mut o = Map::new();
    o.insert("tags".into(), json!([op.tag]));
    o.insert("description".into(), op.description.clone().into());
    o.insert("operationId".into(), op.id.clone().into());
    if !op.params.is_empty() {
        o.insert("parameters".into(), op.params.iter().map(param).collect());
    }
    match &op.body {
        Some(Body::Any(name)) => {
            o.insert("requestBody".into(), json!({"content": {"*/*": {"schema": schema_ref(name)}}, "required": op.method != "delete"}));
        }
        Some(Body::Patch) => {
            let content: Map<String, Value> =
                PATCH_TYPES.iter().map(|t| (t.to_string(), json!({"schema": schema_ref(spec::PATCH)}))).collect();
            o.insert("requestBody".into(), json!({"content": content, "required": true}));
        }
        None => {}
    }
    let mut responses = Map::new();
    for r in &op.responses {
        let mut resp = Map::new();
        resp.insert("description".into(), r.description.into());
        if let Some(name) = &r.schema {
            let content: Map<String, Value> =
                op.produces.iter().map(|t| (t.to_string(), json!({"schema": schema_ref(name)}))).collect();
            resp.insert("content".into(), Value::Object(content));
        }
        responses.insert(r.code.into(), Value::Object(resp));
    }
    o.insert("responses".into(), Value::Object(responses));
    if !op.action.is_empty() {
        o.insert("x-kubernetes-action".into(), op.action.into());
    }
    if let Some((g, v, k)) = &op.gvk {
        o.insert("x-kubernetes-group-version-kind".into(), json!({"group": g, "version": v, "kind": k}));
    }
    Value::Object(o)
}

pub(crate) fn paths_json(items: &[PathItem]) -> Map<String, Value> {
    let mut paths = Map::new();
    for item in items {
        let mut p = Map::new();
        for op in &item.operations {
            p.insert(op.method.into(), operation(op));
        }
        if !item.params.is_empty() {
            p.insert("parameters".into(), item.params.iter().map(param).collect());
        }
        paths.insert(item.path.clone(), Value::Object(p));
    }
    paths
}

pub(crate) fn document(gv: Gv) -> Value {
    let gvs = [gv];
    let defs = spec::definitions(&gvs);
    let items = spec::paths(&gvs, &defs);
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths_json(&items),
        "components": {
            "schemas": defs.schemas,
            "securitySchemes": {
                "BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"},
            },
        },
        "security": [{"BearerToken": []}],
    })
}
