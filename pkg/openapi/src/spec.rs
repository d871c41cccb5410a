//! The shared model behind both documents: definitions (in OpenAPI 3 form, with
//! `#/components/schemas/` refs) and the paths with their operations, both derived from the
//! registry. `v3` and `v2` render them.

use std::collections::BTreeMap;

use corekube_api::kinds::{snapshot as served_kinds, ResourceDef, SubresourceDef};
use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::extensions::{ATOMIC_TYPES, PROPS};
use crate::kinds;

pub(crate) const V3_REF: &str = "#/components/schemas/";

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(crate) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(crate) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(crate) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";

pub(crate) const API_VERSION_DOC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
pub(crate) const KIND_DOC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
pub(crate) const METADATA_DOC: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DOC: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// The Kubernetes version whose API the documents describe.
pub(crate) const INFO_VERSION: &str = "v1.33.0";

/// A served group-version, in registry order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gv {
    pub group: &'static str,
    pub version: &'static str,
}

impl Gv {
    /// The /openapi/v3 key: `api/v1`, `apis/apps/v1`.
    pub fn path_key(&self) -> String {
        if self.group.is_empty() {
            format!("api/{}", self.version)
        } else {
            format!("apis/{}/{}", self.group, self.version)
        }
    }

    /// `/api/v1`, `/apis/apps/v1`.
    fn prefix(&self) -> String {
        format!("/{}", self.path_key())
    }

    /// `CoreV1`, `AppsV1`, `RbacAuthorizationV1` as upstream's operation ids spell it.
    fn op_base(&self) -> String {
        format!("{}{}", group_camel(self.group), upper_first(self.version))
    }

    /// `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
    fn tag(&self) -> String {
        let g = group_camel(self.group);
        let mut c = g.chars();
        let lower = match c.next() {
            Some(f) => f.to_lowercase().chain(c).collect::<String>(),
            None => String::new(),
        };
        format!("{lower}_{}", self.version)
    }
}

fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_string();
    }
    let g = group.strip_suffix(".k8s.io").unwrap_or(group);
    g.split(['.', '-']).map(upper_first).collect()
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Every served group-version, in registry order.
pub(crate) fn served_gvs() -> Vec<Gv> {
    let mut out: Vec<Gv> = Vec::new();
    for d in served_kinds().iter().copied() {
        let gv = Gv { group: d.group, version: d.version };
        if !out.contains(&gv) {
            out.push(gv);
        }
    }
    out
}

pub(crate) fn find_gv(path_key: &str) -> Option<Gv> {
    served_gvs().into_iter().find(|gv| gv.path_key() == path_key)
}

fn resources_in(gvs: &[Gv]) -> Vec<&'static ResourceDef> {
    served_kinds().iter().copied().filter(|d| gvs.iter().any(|gv| gv.group == d.group && gv.version == d.version)).collect()
}

fn gvk_json(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

// ---------------------------------------------------------------------------------------------
// Definitions

/// Definitions (OpenAPI 3 form) and the definition name of each kind they describe.
pub(crate) struct Definitions {
    pub schemas: Map<String, Value>,
    /// (group, version, kind) -> definition name.
    names: BTreeMap<(String, String, String), String>,
}

impl Definitions {
    pub fn name_of(&self, group: &str, version: &str, kind: &str) -> &str {
        self.names
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
            .map(String::as_str)
            .expect("every kind referenced by an operation has a definition")
    }
}

fn ref_name(schema: &Schema) -> String {
    let r = schema.get("$ref").and_then(Value::as_str).expect("k8s-openapi types are referenced, not inlined");
    r.strip_prefix(V3_REF).expect("definitions live under /components/schemas").to_string()
}

/// Builds the definitions for the kinds served in `gvs` (and their subresources' kinds), with
/// everything they reference, list kinds, the meta kinds operations use, the `x-kubernetes-*`
/// extensions and the group-version-kind tags.
pub(crate) fn definitions(gvs: &[Gv]) -> Definitions {
    let resources = resources_in(gvs);
    let mut g: SchemaGenerator = SchemaSettings::openapi3().into_generator();
    for f in [
        kinds::delete_options,
        kinds::status,
        kinds::patch,
        kinds::watch_event,
        kinds::list_meta,
        kinds::object_meta,
        kinds::api_resource_list,
    ] {
        f(&mut g);
    }

    let mut names: BTreeMap<(String, String, String), String> = BTreeMap::new();
    let mut placeholders: Vec<String> = Vec::new();
    let mut kind_of = |g: &mut SchemaGenerator, group: &str, version: &str, kind: &str| {
        let key = (group.to_string(), version.to_string(), kind.to_string());
        if names.contains_key(&key) {
            return;
        }
        let name = match kinds::schema_fn(group, version, kind) {
            Some(f) => ref_name(&f(g)),
            None => {
                let n = kinds::placeholder_name(group, version, kind);
                placeholders.push(n.clone());
                n
            }
        };
        names.insert(key, name);
    };
    // Listed kinds first so their names are known for list schemas.
    let mut listed: Vec<(String, String, String)> = Vec::new();
    for d in &resources {
        kind_of(&mut g, d.group, d.version, d.kind);
        if d.supports("list") || d.supports("deletecollection") {
            let key = (d.group.to_string(), d.version.to_string(), d.kind.to_string());
            if !listed.contains(&key) {
                listed.push(key);
            }
        }
        for s in d.subresources {
            kind_of(&mut g, s.group, s.version, s.kind);
        }
    }
    let mut schemas = g.take_definitions(true);

    for name in placeholders {
        let kind = name.rsplit('.').next().unwrap_or_default().to_string();
        schemas.insert(name, kinds::placeholder(&kind, &format!("{V3_REF}{OBJECT_META}")));
    }

    // List kinds.
    for (group, version, kind) in &listed {
        let item = names[&(group.clone(), version.clone(), kind.clone())].clone();
        let list_name = format!("{item}List");
        let list_kind = format!("{kind}List");
        schemas.insert(
            list_name.clone(),
            json!({
                "description": format!("{list_kind} is a list of {kind} objects."),
                "type": "object",
                "required": ["items"],
                "properties": {
                    "apiVersion": {"description": API_VERSION_DOC, "type": "string"},
                    "items": {
                        "description": format!("Items is the list of {kind} objects."),
                        "type": "array",
                        "items": {"$ref": format!("{V3_REF}{item}")},
                    },
                    "kind": {"description": KIND_DOC, "type": "string"},
                    "metadata": {"description": LIST_METADATA_DOC, "allOf": [{"$ref": format!("{V3_REF}{LIST_META}")}]},
                },
            }),
        );
        names.insert((group.clone(), version.clone(), list_kind), list_name);
    }

    // Group-version-kind tags: each kind its own; the meta kinds every served group-version's.
    let mut tags: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ((group, version, kind), name) in &names {
        tags.entry(name.clone()).or_default().push(gvk_json(group, version, kind));
    }
    let mut all: Vec<Gv> = served_gvs();
    all.sort_by(|a, b| (a.group, a.version).cmp(&(b.group, b.version)));
    for (name, kind) in [(DELETE_OPTIONS, "DeleteOptions"), (WATCH_EVENT, "WatchEvent")] {
        tags.insert(name.to_string(), all.iter().map(|gv| gvk_json(gv.group, gv.version, kind)).collect());
    }
    tags.insert(STATUS.to_string(), vec![gvk_json("", "v1", "Status")]);
    for (name, mut gvks) in tags {
        gvks.sort_by_key(|v| v.to_string());
        gvks.dedup();
        if let Some(Value::Object(s)) = schemas.get_mut(&name) {
            s.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
        }
    }

    apply_extensions(&mut schemas);
    upstream_scalars(&mut schemas);
    upstream_required(&mut schemas);

    Definitions { schemas, names }
}

/// Lays the table of merge keys, strategies and list/map types onto the generated schemas.
fn apply_extensions(schemas: &mut Map<String, Value>) {
    for e in PROPS {
        let Some(prop) = schemas
            .get_mut(e.schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(e.prop))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if !e.list_type.is_empty() {
            prop.insert("x-kubernetes-list-type".into(), e.list_type.into());
        }
        if !e.list_map_keys.is_empty() {
            prop.insert("x-kubernetes-list-map-keys".into(), e.list_map_keys.iter().map(|k| Value::from(*k)).collect());
        }
        if !e.map_type.is_empty() {
            prop.insert("x-kubernetes-map-type".into(), e.map_type.into());
        }
        if !e.patch_strategy.is_empty() {
            prop.insert("x-kubernetes-patch-strategy".into(), e.patch_strategy.into());
        }
        if !e.patch_merge_key.is_empty() {
            prop.insert("x-kubernetes-patch-merge-key".into(), e.patch_merge_key.into());
        }
    }
    for name in ATOMIC_TYPES {
        if let Some(Value::Object(s)) = schemas.get_mut(*name) {
            s.insert("x-kubernetes-map-type".into(), "atomic".into());
        }
    }
}

/// Quantity and IntOrString as upstream's OpenAPI 3 documents spell them (k8s-openapi only marks
/// them `x-kubernetes-int-or-string`).
fn upstream_scalars(schemas: &mut Map<String, Value>) {
    if let Some(Value::Object(q)) = schemas.get_mut(QUANTITY) {
        let description = q.get("description").cloned().unwrap_or(Value::Null);
        *q = Map::new();
        q.insert("description".into(), description);
        q.insert("oneOf".into(), json!([{"type": "string"}, {"type": "number"}]));
    }
    if let Some(Value::Object(q)) = schemas.get_mut(INT_OR_STRING) {
        let description = q.get("description").cloned().unwrap_or(Value::Null);
        *q = Map::new();
        q.insert("description".into(), description);
        q.insert("format".into(), "int-or-string".into());
        q.insert("oneOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
    }
}

/// Fields k8s-openapi lists as required although upstream does not: it makes every `metadata`
/// non-optional, and fields that have a default (`name` of the local object references).
const DEFAULTED_NAME: &[&str] = &[
    "io.k8s.api.core.v1.ConfigMapEnvSource",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.ConfigMapProjection",
    "io.k8s.api.core.v1.ConfigMapVolumeSource",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.SecretEnvSource",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.SecretProjection",
];

fn upstream_required(schemas: &mut Map<String, Value>) {
    for (name, s) in schemas.iter_mut() {
        let Some(s) = s.as_object_mut() else { continue };
        let Some(Value::Array(required)) = s.get_mut("required") else { continue };
        required.retain(|f| f != "metadata" && !(f == "name" && DEFAULTED_NAME.contains(&name.as_str())));
        if required.is_empty() {
            s.remove("required");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Paths

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamType {
    String,
    Integer,
    Boolean,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
        }
    }
}

#[derive(Clone)]
pub(crate) struct Param {
    pub name: &'static str,
    /// "query" or "path".
    pub location: &'static str,
    pub ty: ParamType,
    pub description: String,
}

fn query(name: &'static str, ty: ParamType, description: &str) -> Param {
    Param { name, location: "query", ty, description: description.to_string() }
}

fn path_param(name: &'static str, description: String) -> Param {
    Param { name, location: "path", ty: ParamType::String, description }
}

const DRY_RUN: &str = "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed";
const FIELD_MANAGER: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.";
const FIELD_MANAGER_PATCH: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).";
const FIELD_VALIDATION: &str = "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.";
const FORCE: &str = "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.";
const GRACE: &str = "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.";
const ORPHAN: &str = "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.";
const PROPAGATION: &str = "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.";
const PRETTY: &str = "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).";
const NAMESPACE: &str = "object name and auth scope, such as for teams and projects";

fn list_params() -> Vec<Param> {
    use ParamType::*;
    vec![
        query("allowWatchBookmarks", Boolean, "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored."),
        query("continue", String, "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize."),
        query("fieldSelector", String, "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
        query("labelSelector", String, "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
        query("limit", Integer, "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results."),
        query("resourceVersion", String, "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
        query("resourceVersionMatch", String, "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset"),
        query("sendInitialEvents", Boolean, "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent."),
        query("timeoutSeconds", Integer, "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity."),
        query("watch", Boolean, "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion."),
    ]
}

fn write_params(patch: bool) -> Vec<Param> {
    use ParamType::*;
    let mut v = vec![
        query("dryRun", String, DRY_RUN),
        query("fieldManager", String, if patch { FIELD_MANAGER_PATCH } else { FIELD_MANAGER }),
        query("fieldValidation", String, FIELD_VALIDATION),
    ];
    if patch {
        v.push(query("force", Boolean, FORCE));
    }
    v
}

fn delete_params() -> Vec<Param> {
    use ParamType::*;
    vec![
        query("dryRun", String, DRY_RUN),
        query("gracePeriodSeconds", Integer, GRACE),
        query("orphanDependents", Boolean, ORPHAN),
        query("propagationPolicy", String, PROPAGATION),
    ]
}

fn delete_collection_params() -> Vec<Param> {
    let mut v = delete_params();
    for p in list_params() {
        if !matches!(p.name, "allowWatchBookmarks" | "watch") {
            v.push(p);
        }
    }
    v.sort_by_key(|p| p.name);
    v
}

/// What a request body is.
#[derive(Clone)]
pub(crate) enum Body {
    /// Any content type, this definition.
    Any(String),
    /// The four patch content types.
    Patch,
}

pub(crate) const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

#[derive(Clone)]
pub(crate) struct Response {
    pub code: &'static str,
    pub description: &'static str,
    /// Definition name of the body.
    pub schema: Option<String>,
}

fn ok(code: &'static str, schema: &str) -> Response {
    let description = match code {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        _ => "",
    };
    Response { code, description, schema: Some(schema.to_string()) }
}

fn unauthorized() -> Response {
    Response { code: "401", description: "Unauthorized", schema: None }
}

#[derive(Clone)]
pub(crate) struct Operation {
    /// get, post, put, patch, delete.
    pub method: &'static str,
    /// x-kubernetes-action: get, list, post, put, patch, delete, deletecollection.
    pub action: &'static str,
    pub gvk: Option<(String, String, String)>,
    pub id: String,
    pub description: String,
    pub tag: String,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub responses: Vec<Response>,
    /// Response content types.
    pub produces: Vec<&'static str>,
}

pub(crate) struct PathItem {
    pub path: String,
    pub params: Vec<Param>,
    pub operations: Vec<Operation>,
}

const JSON_ONLY: &[&str] = &["application/json", "application/yaml"];
const LIST_TYPES: &[&str] = &["application/json", "application/yaml", "application/json;stream=watch"];

/// Every path of the given group-versions, sorted by path.
pub(crate) fn paths(gvs: &[Gv], defs: &Definitions) -> Vec<PathItem> {
    let mut out: Vec<PathItem> = Vec::new();
    for gv in gvs {
        out.push(PathItem {
            path: format!("{}/", gv.prefix()),
            params: vec![],
            operations: vec![Operation {
                method: "get",
                action: "",
                gvk: None,
                id: format!("get{}APIResources", gv.op_base()),
                description: "get available resources".into(),
                tag: gv.tag(),
                params: vec![],
                body: None,
                responses: vec![ok("200", API_RESOURCE_LIST), unauthorized()],
                produces: JSON_ONLY.to_vec(),
            }],
        });
        for d in resources_in(std::slice::from_ref(gv)) {
            resource_paths(*gv, d, defs, &mut out);
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn resource_paths(gv: Gv, d: &'static ResourceDef, defs: &Definitions, out: &mut Vec<PathItem>) {
    let kind = d.kind;
    let gvk = Some((d.group.to_string(), d.version.to_string(), kind.to_string()));
    let item = defs.name_of(d.group, d.version, kind).to_string();
    let base = gv.op_base();
    let tag = gv.tag();
    let scope = if d.namespaced { "Namespaced" } else { "" };
    let prefix = gv.prefix();
    let collection = if d.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", d.plural)
    } else {
        format!("{prefix}/{}", d.plural)
    };
    let pretty = query("pretty", ParamType::String, PRETTY);
    let ns_param = path_param("namespace", NAMESPACE.to_string());
    let scope_params = |name_of: Option<&str>| {
        let mut v = Vec::new();
        if let Some(k) = name_of {
            v.push(path_param("name", format!("name of the {k}")));
        }
        if d.namespaced {
            v.push(ns_param.clone());
        }
        v.push(pretty.clone());
        v
    };
    let op = |method: &'static str, action: &'static str, id: String, description: String| Operation {
        method,
        action,
        gvk: gvk.clone(),
        id,
        description,
        tag: tag.clone(),
        params: vec![],
        body: None,
        responses: vec![],
        produces: JSON_ONLY.to_vec(),
    };
    let list_name = (d.supports("list") || d.supports("deletecollection"))
        .then(|| defs.name_of(d.group, d.version, &format!("{kind}List")).to_string());

    // The collection.
    let mut ops = Vec::new();
    if let (true, Some(list)) = (d.supports("list"), &list_name) {
        let mut o = op("get", "list", format!("list{base}{scope}{kind}"), format!("list or watch objects of kind {kind}"));
        o.params = list_params();
        o.responses = vec![ok("200", list), unauthorized()];
        o.produces = LIST_TYPES.to_vec();
        ops.push(o);
    }
    if d.supports("create") {
        let mut o = op("post", "post", format!("create{base}{scope}{kind}"), format!("create a {kind}"));
        o.params = write_params(false);
        o.body = Some(Body::Any(item.clone()));
        o.responses = vec![ok("200", &item), ok("201", &item), ok("202", &item), unauthorized()];
        ops.push(o);
    }
    if d.supports("deletecollection") {
        let mut o = op("delete", "deletecollection", format!("delete{base}Collection{scope}{kind}"), format!("delete collection of {kind}"));
        o.params = delete_collection_params();
        o.body = Some(Body::Any(DELETE_OPTIONS.to_string()));
        o.responses = vec![ok("200", STATUS), unauthorized()];
        ops.push(o);
    }
    if !ops.is_empty() {
        out.push(PathItem { path: collection.clone(), params: scope_params(None), operations: ops });
    }

    // Every namespace at once.
    if let (true, true, Some(list)) = (d.namespaced, d.supports("list"), &list_name) {
        let mut o = op("get", "list", format!("list{base}{kind}ForAllNamespaces"), format!("list or watch objects of kind {kind}"));
        o.responses = vec![ok("200", list), unauthorized()];
        o.produces = LIST_TYPES.to_vec();
        let mut params = list_params();
        params.push(pretty.clone());
        params.sort_by_key(|p| p.name);
        out.push(PathItem { path: format!("{prefix}/{}", d.plural), params, operations: vec![o] });
    }

    // One object.
    let mut ops = Vec::new();
    if d.supports("get") {
        let mut o = op("get", "get", format!("read{base}{scope}{kind}"), format!("read the specified {kind}"));
        o.responses = vec![ok("200", &item), unauthorized()];
        ops.push(o);
    }
    if d.supports("update") {
        let mut o = op("put", "put", format!("replace{base}{scope}{kind}"), format!("replace the specified {kind}"));
        o.params = write_params(false);
        o.body = Some(Body::Any(item.clone()));
        o.responses = vec![ok("200", &item), ok("201", &item), unauthorized()];
        ops.push(o);
    }
    if d.supports("patch") {
        let mut o = op("patch", "patch", format!("patch{base}{scope}{kind}"), format!("partially update the specified {kind}"));
        o.params = write_params(true);
        o.body = Some(Body::Patch);
        o.responses = vec![ok("200", &item), ok("201", &item), unauthorized()];
        ops.push(o);
    }
    if d.supports("delete") {
        let mut o = op("delete", "delete", format!("delete{base}{scope}{kind}"), format!("delete a {kind}"));
        o.params = delete_params();
        o.body = Some(Body::Any(DELETE_OPTIONS.to_string()));
        o.responses = vec![ok("200", &item), ok("202", &item), unauthorized()];
        ops.push(o);
    }
    if !ops.is_empty() {
        out.push(PathItem { path: format!("{collection}/{{name}}"), params: scope_params(Some(kind)), operations: ops });
    }

    for s in d.subresources {
        subresource_path(gv, d, s, defs, &collection, &scope_params(Some(kind)), out);
    }
}

fn subresource_path(
    gv: Gv,
    d: &ResourceDef,
    s: &SubresourceDef,
    defs: &Definitions,
    collection: &str,
    params: &[Param],
    out: &mut Vec<PathItem>,
) {
    let kind = d.kind;
    let body = defs.name_of(s.group, s.version, s.kind).to_string();
    let base = gv.op_base();
    let scope = if d.namespaced { "Namespaced" } else { "" };
    let sub = upper_first(s.name);
    let op = |method: &'static str, action: &'static str, id: String, description: String| Operation {
        method,
        action,
        gvk: Some((s.group.to_string(), s.version.to_string(), s.kind.to_string())),
        id,
        description,
        tag: gv.tag(),
        params: vec![],
        body: None,
        responses: vec![],
        produces: JSON_ONLY.to_vec(),
    };
    let mut ops = Vec::new();
    if s.verbs.contains(&"get") {
        let mut o = op("get", "get", format!("read{base}{scope}{kind}{sub}"), format!("read {} of the specified {kind}", s.name));
        o.responses = vec![ok("200", &body), unauthorized()];
        ops.push(o);
    }
    if s.verbs.contains(&"create") {
        let mut o = op("post", "post", format!("create{base}{scope}{kind}{sub}"), format!("create {} of a {kind}", s.name));
        o.params = write_params(false);
        o.body = Some(Body::Any(body.clone()));
        o.responses = vec![ok("200", &body), ok("201", &body), ok("202", &body), unauthorized()];
        ops.push(o);
    }
    if s.verbs.contains(&"update") {
        let mut o = op("put", "put", format!("replace{base}{scope}{kind}{sub}"), format!("replace {} of the specified {kind}", s.name));
        o.params = write_params(false);
        o.body = Some(Body::Any(body.clone()));
        o.responses = vec![ok("200", &body), ok("201", &body), unauthorized()];
        ops.push(o);
    }
    if s.verbs.contains(&"patch") {
        let mut o = op(
            "patch",
            "patch",
            format!("patch{base}{scope}{kind}{sub}"),
            format!("partially update {} of the specified {kind}", s.name),
        );
        o.params = write_params(true);
        o.body = Some(Body::Patch);
        o.responses = vec![ok("200", &body), ok("201", &body), unauthorized()];
        ops.push(o);
    }
    if !ops.is_empty() {
        let mut params = params.to_vec();
        if let Some(p) = params.iter_mut().find(|p| p.name == "name") {
            p.description = format!("name of the {}", s.kind);
        }
        out.push(PathItem { path: format!("{collection}/{{name}}/{}", s.name), params, operations: ops });
    }
}
