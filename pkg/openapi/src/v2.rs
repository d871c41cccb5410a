//! Rendering of the model as one Swagger 2.0 document for every served group-version.

use serde_json::{json, Map, Value};

use crate::spec::{self, Body, Operation, Param, PathItem, INFO_VERSION, PATCH_TYPES, V3_REF};

const V2_REF: &str = "#/definitions/";

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{V2_REF}{name}")})
}

fn param(p: &Param) -> Value {
    let mut o = Map::new();
    o.insert("uniqueItems".into(), true.into());
    o.insert("type".into(), p.ty.as_str().into());
    o.insert("description".into(), p.description.clone().into());
    o.insert("name".into(), p.name.into());
    o.insert("in".into(), p.location.into());
    if p.location == "path" {
        o.insert("required".into(), true.into());
    }
    Value::Object(o)
}

fn operation(op: &Operation) -> Value {
    let mut o = Map::new();
    o.insert("description".into(), op.description.clone().into());
    let consumes: Vec<&str> = match &op.body {
        Some(Body::Patch) => PATCH_TYPES.to_vec(),
        _ => vec!["*/*"],
    };
    o.insert("consumes".into(), json!(consumes));
    o.insert("produces".into(), json!(op.produces));
    o.insert("schemes".into(), json!(["https"]));
    o.insert("tags".into(), json!([op.tag]));
    o.insert("operationId".into(), op.id.clone().into());
    let mut params: Vec<Value> = Vec::new();
    match &op.body {
        Some(Body::Any(name)) => {
            params.push(json!({"name": "body", "in": "body", "required": op.method != "delete", "schema": schema_ref(name)}));
        }
        Some(Body::Patch) => {
            params.push(json!({"name": "body", "in": "body", "required": true, "schema": schema_ref(spec::PATCH)}));
        }
        None => {}
    }
    params.extend(op.params.iter().map(param));
    if !params.is_empty() {
        o.insert("parameters".into(), Value::Array(params));
    }
    let mut responses = Map::new();
    for r in &op.responses {
        let mut resp = Map::new();
        resp.insert("description".into(), r.description.into());
        if let Some(name) = &r.schema {
            resp.insert("schema".into(), schema_ref(name));
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

fn paths_json(items: &[PathItem]) -> Map<String, Value> {
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

/// An OpenAPI 3 schema in Swagger 2.0 form: `#/definitions/` refs, a lone `allOf` ref folded back
/// into a `$ref` with siblings, and the int-or-string scalars as strings.
fn schema_v2(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(all)) = o.get("allOf") {
                if all.len() == 1 && all[0].get("$ref").is_some() && o.get("properties").is_none() {
                    let mut out = Map::new();
                    out.insert("$ref".into(), schema_v2(&all[0])["$ref"].clone());
                    for (k, v) in o {
                        if k != "allOf" {
                            out.insert(k.clone(), schema_v2(v));
                        }
                    }
                    return Value::Object(out);
                }
            }
            let mut out = Map::new();
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        let name = r.strip_prefix(V3_REF).unwrap_or(r);
                        out.insert(k.clone(), format!("{V2_REF}{name}").into());
                    }
                    ("nullable", _) => {}
                    _ => {
                        out.insert(k.clone(), schema_v2(v));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(schema_v2).collect()),
        other => other.clone(),
    }
}

fn definition_v2(name: &str, v: &Value) -> Value {
    let description = v.get("description").cloned().unwrap_or(Value::Null);
    match name {
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => json!({"description": description, "type": "string"}),
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            json!({"description": description, "type": "string", "format": "int-or-string"})
        }
        _ => schema_v2(v),
    }
}

pub(crate) fn document() -> Value {
    let gvs = spec::served_gvs();
    let defs = spec::definitions(&gvs);
    let items = spec::paths(&gvs, &defs);
    let definitions: Map<String, Value> = defs.schemas.iter().map(|(k, v)| (k.clone(), definition_v2(k, v))).collect();
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths_json(&items),
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {"description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header"},
        },
        "security": [{"BearerToken": []}],
    })
}
