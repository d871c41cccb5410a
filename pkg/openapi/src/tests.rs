use std::collections::BTreeSet;

use corekube_api::kinds::{groups, resources_of, snapshot, versions};
use serde_json::{json, Value};

use super::*;

fn doc(key: &str) -> Value {
    v3_document(key).unwrap_or_else(|| panic!("no document for {key}"))
}

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn prefix(group: &str, version: &str) -> String {
    format!("/{}", gv_key(group, version))
}

fn schema<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["components"]["schemas"].get(name).unwrap_or_else(|| panic!("no schema {name}"))
}

/// Follows a `$ref` or a lone `allOf` ref to the named schema.
fn resolve<'a>(d: &'a Value, s: &'a Value) -> &'a Value {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return schema(d, r.strip_prefix("#/components/schemas/").unwrap());
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        if all.len() == 1 {
            return resolve(d, &all[0]);
        }
    }
    if let Some(items) = s.get("items") {
        return resolve(d, items);
    }
    s
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                if k == "$ref" {
                    out.push(v.as_str().expect("$ref is a string").to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn index_lists_every_served_group_version() {
    let index = v3_index();
    let paths = index["paths"].as_object().unwrap();
    let mut want = BTreeSet::new();
    for g in groups() {
        for v in versions(g) {
            want.insert(gv_key(g, v));
        }
    }
    let got: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(got, want);
    for (key, entry) in paths {
        let url = entry["serverRelativeURL"].as_str().unwrap();
        let (path, hash) = url.split_once("?hash=").unwrap();
        assert_eq!(path, format!("/openapi/v3/{key}"));
        assert_eq!(hash.len(), 32);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        let bytes = serde_json::to_vec(&doc(key)).unwrap();
        assert_eq!(hash, hash_hex(&bytes), "hash of {key} is of its serialized document");
    }
    assert_eq!(v3_index(), index, "index is stable");
    assert!(v3_document("apis/nope/v1").is_none());
    assert!(v3_document("/api/v1").is_some(), "a leading slash is tolerated");
}

#[test]
fn documents_are_openapi_3_and_refs_resolve() {
    for key in v3_paths() {
        let d = doc(&key);
        assert_eq!(d["openapi"], "3.0.0");
        let text = serde_json::to_string(&d).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
        let mut refs = Vec::new();
        collect_refs(&d, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{key}: foreign ref {r}"));
            assert!(d["components"]["schemas"].get(name).is_some(), "{key}: dangling ref {r}");
        }
    }
}

#[test]
fn swagger_2_refs_resolve() {
    let d = v2_document();
    assert_eq!(d["swagger"], "2.0");
    let mut refs = Vec::new();
    collect_refs(&d, &mut refs);
    for r in refs {
        let name = r.strip_prefix("#/definitions/").unwrap_or_else(|| panic!("foreign ref {r}"));
        assert!(d["definitions"].get(name).is_some(), "dangling ref {r}");
    }
    let text = serde_json::to_string(&d).unwrap();
    assert!(!text.contains("allOf"), "v2 folds lone allOf refs back into $ref");
    let patch = &d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
    assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
    assert!(patch["consumes"].as_array().unwrap().contains(&json!("application/strategic-merge-patch+json")));
    assert_eq!(d["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"], "int-or-string");
    let pod_spec = &d["definitions"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"];
    assert_eq!(pod_spec["$ref"], "#/definitions/io.k8s.api.core.v1.PodSpec");
    assert!(pod_spec["description"].is_string());
}

#[test]
fn pod_schema_carries_its_group_version_kind() {
    let d = doc("api/v1");
    let pod = schema(&d, "io.k8s.api.core.v1.Pod");
    assert_eq!(pod["x-kubernetes-group-version-kind"], json!([{"group": "", "version": "v1", "kind": "Pod"}]));
    assert!(pod["description"].as_str().unwrap().starts_with("Pod is a collection of containers"));
    let list = schema(&d, "io.k8s.api.core.v1.PodList");
    assert_eq!(list["x-kubernetes-group-version-kind"], json!([{"group": "", "version": "v1", "kind": "PodList"}]));
    let opts = schema(&d, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions");
    assert!(opts["x-kubernetes-group-version-kind"].as_array().unwrap().contains(&json!({"group": "apps", "version": "v1", "kind": "DeleteOptions"})));
    let d = doc("apis/apps/v1");
    let dep = schema(&d, "io.k8s.api.apps.v1.Deployment");
    assert_eq!(dep["x-kubernetes-group-version-kind"], json!([{"group": "apps", "version": "v1", "kind": "Deployment"}]));
    let scale = schema(&d, "io.k8s.api.autoscaling.v1.Scale");
    assert_eq!(scale["x-kubernetes-group-version-kind"], json!([{"group": "autoscaling", "version": "v1", "kind": "Scale"}]));
}

#[test]
fn pod_patch_operation_supports_field_validation() {
    let d = doc("api/v1");
    let patch = &d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
    assert_eq!(patch["x-kubernetes-action"], "patch");
    let params = patch["parameters"].as_array().unwrap();
    for name in ["dryRun", "fieldManager", "fieldValidation", "force"] {
        assert!(params.iter().any(|p| p["name"] == name && p["in"] == "query"), "{name}");
    }
    let content = patch["requestBody"]["content"].as_object().unwrap();
    for t in [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ] {
        assert!(content.contains_key(t), "{t}");
    }
}

/// kubectl takes the first PATCH operation carrying a kind's GVK (in map order) and checks it for
/// `fieldValidation`, so every one of them must have it.
#[test]
fn every_patch_operation_has_field_validation_and_a_gvk() {
    for key in v3_paths() {
        let d = doc(&key);
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                assert!(op["x-kubernetes-action"].is_string() || path.ends_with('/'), "{path} {method}");
                if method != "patch" {
                    continue;
                }
                assert!(op["x-kubernetes-group-version-kind"].is_object(), "{path}");
                let params = op["parameters"].as_array().unwrap();
                assert!(params.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"), "{path}");
            }
        }
    }
}

#[test]
fn every_registry_verb_has_an_operation() {
    for d in snapshot().iter().copied() {
        let doc = doc(&gv_key(d.group, d.version));
        let paths = &doc["paths"];
        let p = prefix(d.group, d.version);
        let collection = if d.namespaced {
            format!("{p}/namespaces/{{namespace}}/{}", d.plural)
        } else {
            format!("{p}/{}", d.plural)
        };
        let item = format!("{collection}/{{name}}");
        let gvk = json!({"group": d.group, "version": d.version, "kind": d.kind});
        for verb in d.verbs {
            let (path, method, action) = match *verb {
                "get" => (&item, "get", "get"),
                "list" | "watch" => (&collection, "get", "list"),
                "create" => (&collection, "post", "post"),
                "update" => (&item, "put", "put"),
                "patch" => (&item, "patch", "patch"),
                "delete" => (&item, "delete", "delete"),
                "deletecollection" => (&collection, "delete", "deletecollection"),
                _ => continue,
            };
            let op = &paths[path.as_str()][method];
            assert_eq!(op["x-kubernetes-action"], action, "{path} {method}");
            assert_eq!(op["x-kubernetes-group-version-kind"], gvk, "{path} {method}");
            if *verb == "watch" {
                assert!(op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "watch"));
            }
        }
        if d.namespaced && d.supports("list") {
            let all = &paths[format!("{p}/{}", d.plural).as_str()]["get"];
            assert_eq!(all["x-kubernetes-group-version-kind"], gvk);
        }
        for s in d.subresources {
            let path = format!("{item}/{}", s.name);
            let sgvk = json!({"group": s.group, "version": s.version, "kind": s.kind});
            for verb in s.verbs {
                let method = match *verb {
                    "get" => "get",
                    "create" => "post",
                    "update" => "put",
                    "patch" => "patch",
                    _ => continue,
                };
                let op = &paths[path.as_str()][method];
                assert_eq!(op["x-kubernetes-group-version-kind"], sgvk, "{path} {method}");
            }
        }
    }
}

/// Served kinds need their real schema (explain, apply); a subresource kind without one (exec
/// options and the like) gets a permissive placeholder.
#[test]
fn every_registry_kind_has_a_real_schema() {
    for d in snapshot().iter().copied() {
        assert!(kinds::schema_fn(d.group, d.version, d.kind).is_some(), "no k8s-openapi type for {}/{} {}", d.group, d.version, d.kind);
        for s in d.subresources.iter().filter(|s| matches!(s.name, "status" | "scale" | "binding" | "finalize")) {
            assert!(kinds::schema_fn(s.group, s.version, s.kind).is_some(), "no k8s-openapi type for {}/{} {}", s.group, s.version, s.kind);
        }
    }
}

#[test]
fn operation_ids_are_unique() {
    let d = v2_document();
    let mut seen = BTreeSet::new();
    for (path, item) in d["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "duplicate operationId {id} at {path} {method}");
        }
    }
    assert!(seen.contains("readCoreV1NamespacedPod"));
    assert!(seen.contains("listCoreV1PodForAllNamespaces"));
    assert!(seen.contains("patchAppsV1NamespacedDeploymentScale"));
}

/// What `kubectl explain pods.spec.containers.livenessProbe` walks.
#[test]
fn explain_walk_reaches_liveness_probe() {
    let d = doc("api/v1");
    let gvk = &d["paths"]["/api/v1/pods"]["get"]["x-kubernetes-group-version-kind"];
    let pod = d["components"]["schemas"]
        .as_object()
        .unwrap()
        .values()
        .find(|s| s["x-kubernetes-group-version-kind"].as_array().is_some_and(|a| a.contains(gvk)))
        .expect("a schema carries the Pod GVK");
    let spec = resolve(&d, &pod["properties"]["spec"]);
    let containers = &spec["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    let container = resolve(&d, containers);
    let probe_field = &container["properties"]["livenessProbe"];
    assert!(probe_field["description"].as_str().unwrap().contains("Periodic probe of container liveness"));
    let probe = resolve(&d, probe_field);
    assert!(probe["description"].as_str().unwrap().starts_with("Probe describes a health check"));
    assert!(probe["properties"]["httpGet"].is_object());
    assert_eq!(container["required"], json!(["name"]));
    let volumes = &spec["properties"]["volumes"];
    assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    let owner = schema(&d, "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference");
    assert_eq!(owner["x-kubernetes-map-type"], "atomic");
    let meta = schema(&d, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    assert_eq!(meta["properties"]["ownerReferences"]["x-kubernetes-patch-merge-key"], "uid");
    let q = schema(&d, "io.k8s.apimachinery.pkg.api.resource.Quantity");
    assert!(q["oneOf"].is_array());
}

#[test]
fn deployment_fields_have_descriptions() {
    let d = doc("apis/apps/v1");
    let dep = schema(&d, "io.k8s.api.apps.v1.Deployment");
    let spec = resolve(&d, &dep["properties"]["spec"]);
    for f in ["replicas", "selector", "template", "strategy"] {
        assert!(spec["properties"][f]["description"].is_string(), "{f}");
    }
    assert_eq!(spec["properties"]["strategy"]["x-kubernetes-patch-strategy"], "retainKeys");
    let template = resolve(&d, &spec["properties"]["template"]);
    let pod_spec = resolve(&d, &template["properties"]["spec"]);
    assert!(pod_spec["properties"]["containers"]["description"].is_string());
    let status = resolve(&d, &dep["properties"]["status"]);
    assert_eq!(status["properties"]["conditions"]["x-kubernetes-patch-merge-key"], "type");
}

#[test]
fn every_served_group_version_only_lists_its_own_resources() {
    for key in v3_paths() {
        let d = doc(&key);
        for path in d["paths"].as_object().unwrap().keys() {
            assert!(path.starts_with(&format!("/{key}/")), "{key}: {path}");
        }
    }
    let core: Vec<_> = resources_of("", "v1").map(|d| d.plural).collect();
    let d = doc("api/v1");
    for plural in core {
        assert!(d["paths"].as_object().unwrap().keys().any(|p| p.ends_with(&format!("/{plural}"))), "{plural}");
    }
}

#[test]
fn required_lists_follow_upstream() {
    let d = doc("api/v1");
    assert!(schema(&d, "io.k8s.api.core.v1.Pod").get("required").is_none(), "metadata is not required");
    assert!(schema(&d, "io.k8s.api.core.v1.LocalObjectReference").get("required").is_none());
    assert_eq!(schema(&d, "io.k8s.api.core.v1.SecretKeySelector")["required"], json!(["key"]));
    assert_eq!(schema(&d, "io.k8s.api.core.v1.Binding")["required"], json!(["target"]));
}

/// A minimal protobuf reader for checking the encoding: (field, wire type, payload) triples.
fn fields(mut b: &[u8]) -> Vec<(u32, u8, Vec<u8>)> {
    fn varint(b: &mut &[u8]) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[0];
            *b = &b[1..];
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let (field, wire) = ((key >> 3) as u32, (key & 7) as u8);
        let payload = match wire {
            0 => varint(&mut b).to_le_bytes().to_vec(),
            1 => {
                let p = b[..8].to_vec();
                b = &b[8..];
                p
            }
            2 => {
                let n = varint(&mut b) as usize;
                let p = b[..n].to_vec();
                b = &b[n..];
                p
            }
            w => panic!("unexpected wire type {w}"),
        };
        out.push((field, wire, payload));
    }
    out
}

fn field(b: &[u8], n: u32) -> Vec<Vec<u8>> {
    fields(b).into_iter().filter(|f| f.0 == n).map(|f| f.2).collect()
}

fn named(entries: &[Vec<u8>], name: &str) -> Vec<u8> {
    entries.iter().find(|e| field(e, 1).first().map(|n| n.as_slice()) == Some(name.as_bytes())).map(|e| field(e, 2).remove(0)).unwrap_or_else(|| panic!("no entry {name}"))
}

#[test]
fn swagger_protobuf_encodes_definitions_paths_and_extensions() {
    let json = v2_document();
    let pb = v2_document_protobuf();
    assert_eq!(field(&pb, 1), vec![b"2.0".to_vec()]);
    let defs = field(&field(&pb, 9)[0], 1);
    assert_eq!(defs.len(), json["definitions"].as_object().unwrap().len());
    // Pod: GVK extension, properties, spec as a $ref with a description.
    let pod = named(&defs, "io.k8s.api.core.v1.Pod");
    let ext = field(&pod, 31);
    let gvk = named(&ext, "x-kubernetes-group-version-kind");
    let yaml: Value = serde_json::from_slice(&field(&gvk, 2)[0]).unwrap();
    assert_eq!(yaml, json!([{"group": "", "version": "v1", "kind": "Pod"}]));
    let props = field(&field(&pod, 25)[0], 1);
    let spec = named(&props, "spec");
    assert_eq!(field(&spec, 1), vec![b"#/definitions/io.k8s.api.core.v1.PodSpec".to_vec()]);
    assert!(!field(&spec, 4).is_empty());
    // PodSpec.containers: array of Container refs with the merge key.
    let pod_spec = named(&defs, "io.k8s.api.core.v1.PodSpec");
    let containers = named(&field(&field(&pod_spec, 25)[0], 1), "containers");
    assert_eq!(field(&field(&containers, 22)[0], 1), vec![b"array".to_vec()]);
    let item = field(&field(&containers, 23)[0], 1).remove(0);
    assert_eq!(field(&item, 1), vec![b"#/definitions/io.k8s.api.core.v1.Container".to_vec()]);
    let merge_key = named(&field(&containers, 31), "x-kubernetes-patch-merge-key");
    assert_eq!(field(&merge_key, 2), vec![b"\"name\"".to_vec()]);
    // The pod PATCH operation: GVK and a fieldValidation query parameter.
    let paths = field(&field(&pb, 8)[0], 2);
    let item = named(&paths, "/api/v1/namespaces/{namespace}/pods/{name}");
    let patch = field(&item, 8).remove(0);
    assert_eq!(field(&patch, 5), vec![b"patchCoreV1NamespacedPod".to_vec()]);
    let params: Vec<Vec<u8>> = field(&patch, 8).iter().map(|p| field(p, 1).remove(0)).collect();
    let has_fv = params.iter().any(|p| {
        field(p, 2).iter().any(|nb| field(nb, 3).iter().any(|q| field(q, 4) == vec![b"fieldValidation".to_vec()] && field(q, 2) == vec![b"query".to_vec()]))
    });
    assert!(has_fv);
    let op_gvk = named(&field(&patch, 13), "x-kubernetes-group-version-kind");
    let yaml: Value = serde_json::from_slice(&field(&op_gvk, 2)[0]).unwrap();
    assert_eq!(yaml, json!({"group": "", "version": "v1", "kind": "Pod"}));
}
