//! Wire-level behaviour checked with raw requests through a kube-rs client: status codes and
//! Status bodies for bad input, preconditions, field validation, dry run and authentication.
//! After every rejected request, what was stored is unchanged.

mod common;

use common::{namespace, shared};
use serde_json::json;

fn cm(name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test]
async fn bad_input_gets_the_right_status_and_changes_nothing() {
    let c = shared();
    let ns = namespace(c, "badinput");
    let coll = format!("/api/v1/namespaces/{ns}/configmaps");
    let (s, _) = c.raw("POST", &coll, Some("application/json"), cm("keep")).await;
    assert_eq!(s, 201);
    let before = c.raw("GET", &format!("{coll}/keep"), None, vec![]).await.1;

    let (s, body) = c.raw("POST", &coll, Some("application/json"), b"{not json".to_vec()).await;
    assert_eq!((s, body["reason"].as_str()), (400, Some("BadRequest")), "{body}");
    assert_eq!(body["kind"], "Status");

    let (s, body) = c.raw("POST", &coll, Some("text/plain"), cm("x")).await;
    assert_eq!((s, body["reason"].as_str()), (415, Some("UnsupportedMediaType")), "{body}");

    let big = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"k": "x".repeat(3 * 1024 * 1024 + 10)}})).unwrap();
    let (s, body) = c.raw("POST", &coll, Some("application/json"), big).await;
    assert_eq!(s, 413, "{body}");

    let deployment = serde_json::to_vec(&json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}})).unwrap();
    let (s, body) = c.raw("POST", &coll, Some("application/json"), deployment).await;
    assert_eq!(s, 400, "{body}");

    let other_ns = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n", "namespace": "elsewhere"}})).unwrap();
    let (s, body) = c.raw("POST", &coll, Some("application/json"), other_ns).await;
    assert_eq!(s, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("does not match the namespace"), "{body}");

    let (s, body) = c.raw("PUT", &format!("{coll}/keep"), Some("application/json"), b"[]".to_vec()).await;
    assert_eq!(s, 400, "{body}");

    let (s, body) = c.raw("PATCH", &format!("{coll}/keep"), Some("application/strategic-merge-patch+xml"), b"{}".to_vec()).await;
    assert_eq!(s, 415, "{body}");

    let (s, body) = c.raw("GET", "/api/v1/namespaces/x/bogus", None, vec![]).await;
    assert_eq!((s, body["reason"].as_str()), (404, Some("NotFound")), "{body}");

    let (s, body) = c.raw("GET", &format!("{coll}/nope"), None, vec![]).await;
    assert_eq!((s, body["message"].as_str()), (404, Some("configmaps \"nope\" not found")), "{body}");
    assert_eq!(body["details"]["kind"], "configmaps");

    let after = c.raw("GET", &format!("{coll}/keep"), None, vec![]).await.1;
    assert_eq!(before, after, "a rejected request changed a stored object");
    let list = c.raw("GET", &coll, None, vec![]).await.1;
    assert_eq!(user_items(&list).len(), 1, "{list}");
}

/// A list's items without the root CA ConfigMap every namespace gets.
fn user_items(list: &serde_json::Value) -> Vec<&serde_json::Value> {
    list["items"].as_array().unwrap().iter().filter(|i| i["metadata"]["name"] != common::ROOT_CA_CONFIGMAP).collect()
}

#[tokio::test]
async fn stale_resource_version_is_a_conflict() {
    let c = shared();
    let ns = namespace(c, "conflict");
    let coll = format!("/api/v1/namespaces/{ns}/configmaps");
    let (_, created) = c.raw("POST", &coll, Some("application/json"), cm("c")).await;
    let mut first = created.clone();
    first["data"]["k"] = json!("one");
    let (s, updated) = c.raw("PUT", &format!("{coll}/c"), Some("application/json"), serde_json::to_vec(&first).unwrap()).await;
    assert_eq!(s, 200, "{updated}");
    assert_ne!(updated["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    let mut stale = created.clone();
    stale["data"]["k"] = json!("two");
    let (s, body) = c.raw("PUT", &format!("{coll}/c"), Some("application/json"), serde_json::to_vec(&stale).unwrap()).await;
    assert_eq!((s, body["reason"].as_str()), (409, Some("Conflict")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("the object has been modified"), "{body}");
    let now = c.raw("GET", &format!("{coll}/c"), None, vec![]).await.1;
    assert_eq!(now["data"]["k"], "one");
    let with_rv = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "r", "resourceVersion": "5"}})).unwrap();
    let (s, _) = c.raw("POST", &coll, Some("application/json"), with_rv).await;
    assert_eq!(s, 500);
}

/// Updates start from the watch cache's copy, which can lag the write just made: a PUT with the
/// resourceVersion the previous write returned must still succeed, and concurrent patches
/// must never be written over one another.
#[tokio::test]
async fn updates_right_after_writes_neither_fail_nor_lose_changes() {
    let c = shared();
    let ns = namespace(c, "rapid");
    let coll = format!("/api/v1/namespaces/{ns}/configmaps");
    let (s, mut obj) = c.raw("POST", &coll, Some("application/json"), cm("c")).await;
    assert_eq!(s, 201, "{obj}");
    for i in 0..50 {
        obj["data"]["k"] = json!(i.to_string());
        let (s, body) = c.raw("PUT", &format!("{coll}/c"), Some("application/json"), serde_json::to_vec(&obj).unwrap()).await;
        assert_eq!(s, 200, "PUT {i} with the resourceVersion just returned: {body}");
        obj = body;
    }
    // Two writers patch different keys at once, without preconditions: every key arrives.
    let writer = |prefix: &'static str| {
        let path = format!("{coll}/c");
        async move {
            for i in 0..25 {
                let patch = serde_json::to_vec(&json!({"data": {format!("{prefix}{i}"): "x"}})).unwrap();
                let (s, body) = c.raw("PATCH", &path, Some("application/merge-patch+json"), patch).await;
                assert_eq!(s, 200, "{body}");
            }
        }
    };
    tokio::join!(writer("a"), writer("b"));
    let (_, now) = c.raw("GET", &format!("{coll}/c"), None, vec![]).await;
    let data = now["data"].as_object().unwrap();
    assert_eq!(data["k"], "49");
    let missing: Vec<String> = (0..25).flat_map(|i| [format!("a{i}"), format!("b{i}")]).filter(|k| !data.contains_key(k)).collect();
    assert!(missing.is_empty(), "lost updates: {missing:?}");
}

#[tokio::test]
async fn field_validation_strict_warn_and_ignore() {
    let c = shared();
    let ns = namespace(c, "fieldval");
    let coll = format!("/api/v1/namespaces/{ns}/configmaps");
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s","name":"s"},"data":{"k":"v"},"spec":{"foo":1}}"#.to_vec();
    let (s, resp) = c.raw("POST", &format!("{coll}?fieldValidation=Strict"), Some("application/json"), body.clone()).await;
    assert_eq!(s, 400, "{resp}");
    let msg = resp["message"].as_str().unwrap();
    assert!(msg.contains("duplicate field \"metadata.name\"") && msg.contains("unknown field \"spec\""), "{msg}");
    let (s, resp) = c.raw("POST", &format!("{coll}?fieldValidation=Ignore"), Some("application/json"), body.clone()).await;
    assert_eq!(s, 201, "{resp}");
    assert!(resp.get("spec").is_none());
    let warned = body.iter().map(|b| *b as char).collect::<String>().replace("\"name\":\"s\",\"name\":\"s\"", "\"name\":\"w\"");
    let (s, headers, resp) = c.raw_with_headers("POST", &coll, Some("application/json"), warned.into_bytes()).await;
    assert_eq!(s, 201, "{resp}");
    let warnings: Vec<&str> = headers.get_all("warning").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(warnings, vec!["299 - \"unknown field \\\"spec\\\"\""], "Warn is the default policy");
}

#[tokio::test]
async fn strict_field_validation_reports_fields_in_body_order_as_upstream_conformance() {
    let c = shared();
    let ns = namespace(c, "fieldorder");
    // The body of upstream's "should detect unknown and duplicate fields of a typed object".
    let body = format!(
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"deployment","namespace":"{ns}"}},"spec":{{"unknownField":"foo","replicas":2,"replicas":3,"selector":{{"matchLabels":{{"app":"nginx"}}}},"template":{{"metadata":{{"labels":{{"app":"nginx"}}}},"spec":{{"containers":[{{"name":"nginx","image":"nginx:latest"}}]}}}}}}}}"#
    );
    let (s, resp) = c.raw("POST", &format!("/apis/apps/v1/namespaces/{ns}/deployments?fieldValidation=Strict"), Some("application/json"), body.into_bytes()).await;
    assert_eq!(s, 400, "{resp}");
    let msg = resp["message"].as_str().unwrap();
    assert!(msg.contains(r#"strict decoding error: unknown field "spec.unknownField", duplicate field "spec.replicas""#), "{msg}");
    assert!(msg.starts_with(r#"Deployment in version "v1" cannot be handled as a Deployment: "#), "{msg}");
}

/// A GET with an Accept header, answered as (status, body).
async fn get_as(c: &common::Cluster, path: &str, accept: &str) -> (u16, serde_json::Value) {
    let client = c.client().await;
    let req = http::Request::builder().uri(path).header("Accept", accept).body(Vec::new()).unwrap();
    let resp = client.send(req.map(kube::client::Body::from)).await.expect("request sent");
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn metadata_only_reads_serve_partial_object_metadata() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, ListParams, WatchEvent, WatchParams};

    let c = shared();
    let ns = namespace(c, "partial");
    let coll = format!("/api/v1/namespaces/{ns}/configmaps");
    let labelled = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "labels": {"team": "a"}}, "data": {"secretish": "v"}});
    let (s, _) = c.raw("POST", &coll, Some("application/json"), serde_json::to_vec(&labelled).unwrap()).await;
    assert_eq!(s, 201);

    // kube-rs's metadata API, as its metadata_watcher and garbage collectors use it.
    let api: Api<ConfigMap> = Api::namespaced(c.client().await, &ns);
    let one = api.get_metadata("m").await.unwrap();
    assert_eq!(one.metadata.labels.unwrap()["team"], "a");
    assert_eq!(one.types.as_ref().map(|t| (t.api_version.as_str(), t.kind.as_str())), Some(("meta.k8s.io/v1", "PartialObjectMetadata")));
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.iter().filter(|i| i.metadata.name.as_deref() != Some(common::ROOT_CA_CONFIGMAP)).count(), 1);
    assert!(!list.metadata.resource_version.unwrap_or_default().is_empty());
    // The initial events: the namespace's kube-root-ca.crt and the test's object.
    let mut events = api.watch_metadata(&WatchParams::default().timeout(5), "0").await.unwrap().boxed();
    let mut added = Vec::new();
    for _ in 0..2 {
        match events.next().await.expect("an event").unwrap() {
            WatchEvent::Added(m) => added.push(m.metadata.name.unwrap_or_default()),
            other => panic!("{other:?}"),
        }
    }
    added.sort();
    assert_eq!(added, vec![common::ROOT_CA_CONFIGMAP.to_string(), "m".to_string()]);

    // Only the metadata crosses the wire, in either meta.k8s.io version.
    let (s, body) = get_as(c, &format!("{coll}/m"), "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1").await;
    assert_eq!((s, body["apiVersion"].as_str()), (200, Some("meta.k8s.io/v1beta1")), "{body}");
    assert!(body.get("data").is_none(), "{body}");
    let (s, body) = get_as(c, &coll, "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").await;
    assert_eq!((s, body["kind"].as_str()), (200, Some("PartialObjectMetadataList")), "{body}");
    assert_eq!(body["items"][0]["kind"], "PartialObjectMetadata");
    assert!(body["items"][0].get("data").is_none(), "{body}");
    // The single form for a list and the list form for one object are upstream's 406.
    let (s, body) = get_as(c, &coll, "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1").await;
    assert_eq!((s, body["reason"].as_str()), (406, Some("NotAcceptable")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("but the requested object is a list"), "{body}");
    let (s, _) = get_as(c, &format!("{coll}/m"), "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").await;
    assert_eq!(s, 406);
}

#[tokio::test]
async fn the_scale_subresource_answers_a_table_with_upstreams_columns() {
    let c = shared();
    let ns = namespace(c, "scaletable");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.22"}]}}}});
    let (s, _) = c.raw("POST", &format!("/apis/apps/v1/namespaces/{ns}/deployments"), Some("application/json"), serde_json::to_vec(&d).unwrap()).await;
    assert_eq!(s, 201);
    let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let (s, table) = get_as(c, &format!("/apis/apps/v1/namespaces/{ns}/deployments/web/scale"), kubectl_get).await;
    assert_eq!((s, table["kind"].as_str()), (200, Some("Table")), "{table}");
    let columns: Vec<&str> = table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["Name", "Desired", "Available", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "web");
    assert_eq!(table["rows"][0]["cells"][1], 2);
}

#[tokio::test]
async fn dry_run_validates_without_storing() {
    let c = shared();
    let ns = namespace(c, "dryrun");
    let coll = format!("/api/v1/namespaces/{ns}/configmaps");
    let (s, body) = c.raw("POST", &format!("{coll}?dryRun=All"), Some("application/json"), cm("ghost")).await;
    assert_eq!(s, 201, "{body}");
    let (s, _) = c.raw("GET", &format!("{coll}/ghost"), None, vec![]).await;
    assert_eq!(s, 404);
    c.raw("POST", &coll, Some("application/json"), cm("real")).await;
    let (s, _) = c.raw("DELETE", &format!("{coll}/real?dryRun=All"), None, vec![]).await;
    assert_eq!(s, 200);
    let (s, _) = c.raw("GET", &format!("{coll}/real"), None, vec![]).await;
    assert_eq!(s, 200);
    let (s, _) = c.raw("POST", &format!("{coll}?dryRun=Bogus"), Some("application/json"), cm("x")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn delete_preconditions_are_checked() {
    let c = shared();
    let ns = namespace(c, "precond");
    let coll = format!("/api/v1/namespaces/{ns}/configmaps");
    c.raw("POST", &coll, Some("application/json"), cm("p")).await;
    let opts = serde_json::to_vec(&json!({"preconditions": {"uid": "not-the-uid"}})).unwrap();
    let (s, body) = c.raw("DELETE", &format!("{coll}/p"), Some("application/json"), opts).await;
    assert_eq!(s, 409, "{body}");
    let (s, _) = c.raw("GET", &format!("{coll}/p"), None, vec![]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn list_resource_version_rules() {
    let c = shared();
    let ns = namespace(c, "rvrules");
    let coll = format!("/api/v1/namespaces/{ns}/configmaps");
    let (s, body) = c.raw("GET", &format!("{coll}?resourceVersionMatch=Exact"), None, vec![]).await;
    assert_eq!(s, 422, "{body}");
    let (s, body) = c.raw("GET", &format!("{coll}?resourceVersion=0&resourceVersionMatch=Exact"), None, vec![]).await;
    assert_eq!(s, 422, "{body}");
    let (_, first) = c.raw("POST", &coll, Some("application/json"), cm("a")).await;
    let rv = first["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    c.raw("POST", &coll, Some("application/json"), cm("b")).await;
    let (s, exact) = c.raw("GET", &format!("{coll}?resourceVersion={rv}&resourceVersionMatch=Exact"), None, vec![]).await;
    assert_eq!(s, 200, "{exact}");
    assert_eq!(user_items(&exact).len(), 1, "the list at the first create's revision has one item of the test's");
    assert_eq!(exact["metadata"]["resourceVersion"], rv.as_str());
    let (s, latest) = c.raw("GET", &format!("{coll}?resourceVersion=0"), None, vec![]).await;
    assert_eq!(s, 200);
    assert!(user_items(&latest).len() <= 2);
    // A revision etcd has not reached yet is a 504 Timeout (kube-rs would retry it, so ask kubectl).
    let err = c.fails(&["get", "--raw", &format!("{coll}?resourceVersion=999999999")]);
    assert!(err.contains("Timeout") && err.contains("Too large resource version"), "{err}");
}

#[tokio::test]
async fn requests_without_a_client_certificate_are_unauthorized() {
    let c = shared();
    // A client that trusts the server but presents no certificate.
    let kc = kube::config::Kubeconfig::read_from(c.kubeconfig()).unwrap();
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    cfg.auth_info = Default::default();
    let client = kube::Client::try_from(cfg).unwrap();
    let req = http::Request::get("/api/v1/namespaces").body(Vec::<u8>::new()).unwrap();
    let resp = client.send(req.map(kube::client::Body::from)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let req = http::Request::get("/healthz").body(Vec::<u8>::new()).unwrap();
    let resp = client.send(req.map(kube::client::Body::from)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // A certificate from a CA the cluster does not trust is refused at the TLS layer.
    let stranger = rcgen::generate_simple_self_signed(vec!["intruder".to_string()]).unwrap();
    let kc = kube::config::Kubeconfig::read_from(c.kubeconfig()).unwrap();
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    cfg.auth_info.client_certificate_data = Some(base64_encode(stranger.cert.pem().as_bytes()));
    cfg.auth_info.client_key_data = Some(base64_encode(stranger.signing_key.serialize_pem().as_bytes()).into());
    let client = kube::Client::try_from(cfg).unwrap();
    let req = http::Request::get("/api/v1/namespaces").body(Vec::<u8>::new()).unwrap();
    let refused = client.send(req.map(kube::client::Body::from)).await;
    assert!(refused.map(|r| r.status().as_u16() == 401).unwrap_or(true), "an untrusted certificate must not authenticate");
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn watch_with_label_selector_reports_transitions() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, WatchEvent, WatchParams};
    let c = shared();
    let ns = namespace(c, "transitions");
    let client = c.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let created: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "t", "labels": {"sel": "no"}}})).unwrap();
    let created = api.create(&Default::default(), &created).await.unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let mut stream = api.watch(&WatchParams::default().labels("sel=yes"), &rv).await.unwrap().boxed();
    let patch = |v: &str| kube::api::Patch::Merge(json!({"metadata": {"labels": {"sel": v}}}));
    api.patch("t", &Default::default(), &patch("yes")).await.unwrap();
    api.patch("t", &Default::default(), &patch("no")).await.unwrap();
    api.patch("t", &Default::default(), &patch("yes")).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await.expect("event in time").unwrap().unwrap();
        kinds.push(match ev {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("{e:?}"),
        });
    }
    assert_eq!(kinds, vec!["ADDED", "DELETED", "ADDED"]);
}

#[tokio::test]
async fn binding_assigns_a_pod_once() {
    let c = shared();
    let ns = namespace(c, "binding");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    let (s, _) = c.raw("POST", &format!("/api/v1/namespaces/{ns}/pods"), Some("application/json"), serde_json::to_vec(&pod).unwrap()).await;
    assert_eq!(s, 201);
    let bind = |node: &str| serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": node}})).unwrap();
    let url = format!("/api/v1/namespaces/{ns}/pods/p/binding");
    let (s, body) = c.raw("POST", &url, Some("application/json"), bind("node-1")).await;
    assert_eq!((s, body["status"].as_str()), (201, Some("Success")), "{body}");
    let (_, got) = c.raw("GET", &format!("/api/v1/namespaces/{ns}/pods/p"), None, vec![]).await;
    assert_eq!(got["spec"]["nodeName"], "node-1");
    assert_eq!(got["metadata"]["generation"], 1, "a binding leaves the generation alone, as upstream's");
    let scheduled = got["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "PodScheduled").unwrap().clone();
    assert_eq!(scheduled["status"], "True");
    let (s, body) = c.raw("POST", &url, Some("application/json"), bind("node-2")).await;
    assert_eq!(s, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("already assigned to node \"node-1\""), "{body}");
    // Nothing but a binding may move a pod.
    let (s, _) = c.raw("PATCH", &format!("/api/v1/namespaces/{ns}/pods/p"), Some("application/merge-patch+json"), br#"{"spec":{"nodeName":"node-2"}}"#.to_vec()).await;
    assert_eq!(s, 422);
}

#[test]
fn every_request_is_answered_over_http2_even_when_its_body_goes_unread() {
    common::require("curl", "curl");
    let c = shared();
    let pki = c.dir.path().join("data/pki");
    let body = c.dir.path().join("unread-body.json");
    // Larger than HTTP/2's initial flow-control window: the client is still sending when the
    // server answers.
    std::fs::write(&body, format!("{{\"pad\":\"{}\"}}", "a".repeat(1 << 20))).unwrap();
    for path in ["/api/v1/namespaces/default/nothings", "/no/such/path", "/apis/apps/v1/nothings"] {
        for _ in 0..3 {
            let out = std::process::Command::new("curl")
                .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "--http2", "--max-time", "20", "-X", "POST"])
                .args(["-H", "Content-Type: application/json", "--data-binary"])
                .arg(format!("@{}", body.display()))
                .arg("--cacert").arg(pki.join("ca.crt"))
                .arg("--cert").arg(pki.join("admin.crt"))
                .arg("--key").arg(pki.join("admin.key"))
                .arg(format!("{}{path}", c.https_url()))
                .output()
                .unwrap();
            let answer = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{path}: curl failed ({answer}): {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(answer, "404 2", "{path}");
        }
    }
}

#[tokio::test]
async fn a_delete_racing_status_writes_is_decided_again_not_refused() {
    let c = shared();
    let ns = namespace(c, "deleterace");
    let pods = format!("/api/v1/namespaces/{ns}/pods");
    for round in 0..10 {
        let name = format!("p{round}");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "busybox"}]}});
        let (s, _) = c.raw("POST", &pods, Some("application/json"), serde_json::to_vec(&pod).unwrap()).await;
        assert_eq!(s, 201);
        // A kubelet's status writes, as fast as they go, while the pod is deleted.
        let writes = async {
            for i in 0..20 {
                let patch = json!({"status": {"message": format!("write {i}")}});
                c.raw("PATCH", &format!("{pods}/{name}/status"), Some("application/merge-patch+json"), serde_json::to_vec(&patch).unwrap()).await;
            }
        };
        let delete = async {
            tokio::time::sleep(std::time::Duration::from_millis(round * 3)).await;
            c.raw("DELETE", &format!("{pods}/{name}?gracePeriodSeconds=30"), None, vec![]).await
        };
        let (_, (s, body)) = tokio::join!(writes, delete);
        assert_eq!(s, 200, "round {round}: {body}");
    }
}
