//! VolumeBinding: the pod's PersistentVolumeClaims must be usable on the node. Bound claims'
//! volumes must allow the node; WaitForFirstConsumer claims need an available matching volume
//! reachable from the node, or a class that provisions. The filter is pure; once a node is
//! chosen, `find_pod_volumes` says which volume each unbound claim gets there, `assume` gives
//! the objects the scheduler's cache holds meanwhile (upstream's Reserve), and the runtime
//! writes them and waits until `binding_done` (upstream's PreBind) before binding the pod.

use std::sync::Arc;

use corekube_api::selector::LabelSelector;
use k8s_openapi::api::core::v1::{Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};

use crate::framework::{Code, CycleState, FilterPlugin, NodeInfo, Plugin, PreFilterPlugin, Snapshot, Status};
use crate::plugins::names::VOLUME_BINDING;
use crate::plugins::node_affinity::node_selector_matches;
use crate::resources::parse_value;

pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
pub const VOLUME_NODE_AFFINITY_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const NO_MATCHING_VOLUME: &str = "node(s) didn't find available persistent volumes to bind";
pub const BOUND_TO_MISSING_PV: &str = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";
/// The binding protocol's annotations (upstream's AnnBindCompleted, AnnBoundByController,
/// AnnSelectedNode).
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

pub struct VolumeBinding;

/// A WaitForFirstConsumer claim still to bind, with the volumes that could serve it
/// (smallest first) and whether its class can provision one instead.
#[derive(Clone)]
struct ClaimToBind {
    claim: Arc<PersistentVolumeClaim>,
    candidates: Vec<Arc<PersistentVolume>>,
    provisionable: bool,
}

#[derive(Clone, Default)]
struct PodClaims {
    /// Bound claims' volume names (None: the volume does not exist).
    bound: Vec<Option<Arc<PersistentVolume>>>,
    to_bind: Vec<ClaimToBind>,
}

/// What using the node means for the pod's unbound claims.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodVolumes {
    /// (claim namespace, claim name, PV name) to bind statically.
    pub static_bindings: Vec<(String, String, String)>,
    /// (claim namespace, claim name) to provision dynamically (set the selected-node annotation).
    pub dynamic_provisions: Vec<(String, String)>,
}

fn claim_names(pod: &Pod) -> Vec<String> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or("");
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(pvc) = &v.persistent_volume_claim {
                Some(pvc.claim_name.clone())
            } else {
                v.ephemeral.as_ref().map(|_| format!("{pod_name}-{}", v.name))
            }
        })
        .collect()
}

fn storage_request(claim: &PersistentVolumeClaim) -> i64 {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| parse_value(&q.0))
        .unwrap_or(0)
}

fn pv_capacity(pv: &PersistentVolume) -> i64 {
    pv.spec.as_ref().and_then(|s| s.capacity.as_ref()).and_then(|c| c.get("storage")).and_then(|q| parse_value(&q.0)).unwrap_or(0)
}

fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    claim.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
}

/// Whether `pv` could be bound to `claim` ignoring node affinity (upstream `FindMatchingVolume`'s
/// checks): free or pre-bound to this claim, same class and mode, enough capacity, the access
/// modes, and the claim's selector.
fn volume_matches(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(spec) = pv.spec.as_ref() else { return false };
    if pv.metadata.deletion_timestamp.is_some() {
        return false;
    }
    if let Some(cr) = &spec.claim_ref {
        let same = cr.name.as_deref() == claim.metadata.name.as_deref()
            && cr.namespace.as_deref() == claim.metadata.namespace.as_deref()
            && (cr.uid.as_deref().is_none_or(|u| u.is_empty()) || cr.uid == claim.metadata.uid);
        if !same {
            return false;
        }
    }
    let cspec = claim.spec.as_ref();
    if spec.storage_class_name.as_deref().unwrap_or("") != claim_class(claim) {
        return false;
    }
    let mode = |m: Option<&String>| m.map_or("Filesystem", |s| s.as_str()).to_string();
    if mode(spec.volume_mode.as_ref()) != mode(cspec.and_then(|s| s.volume_mode.as_ref())) {
        return false;
    }
    if pv_capacity(pv) < storage_request(claim) {
        return false;
    }
    let pv_modes = spec.access_modes.as_deref().unwrap_or(&[]);
    if !cspec.and_then(|s| s.access_modes.as_deref()).unwrap_or(&[]).iter().all(|m| pv_modes.contains(m)) {
        return false;
    }
    if let Some(sel) = cspec.and_then(|s| s.selector.as_ref()) {
        let labels = pv.metadata.labels.clone().unwrap_or_default();
        if !LabelSelector::from_metav1(sel).is_ok_and(|s| s.matches(&labels)) {
            return false;
        }
    }
    true
}

fn pv_fits_node(pv: &PersistentVolume, node: &NodeInfo) -> bool {
    match pv.spec.as_ref().and_then(|s| s.node_affinity.as_ref()).and_then(|a| a.required.as_ref()) {
        Some(req) => node_selector_matches(req, &node.node),
        None => true,
    }
}

fn collect_claims(pod: &Pod, snapshot: &Snapshot) -> Result<PodClaims, Status> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut out = PodClaims::default();
    let mut immediate = false;
    for name in claim_names(pod) {
        let Some(claim) = snapshot.pvc(ns, &name) else {
            return Err(Status::unresolvable(format!("persistentvolumeclaim \"{name}\" not found")));
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(Status::unresolvable(format!("persistentvolumeclaim \"{name}\" is being deleted")));
        }
        if let Some(vol) = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).filter(|v| !v.is_empty()) {
            if fully_bound(claim) {
                out.bound.push(snapshot.pvs.get(vol).cloned());
            } else {
                // Pre-bound by its creator: the PV controller binds it first.
                immediate = true;
            }
            continue;
        }
        let class_name = claim_class(claim);
        let class = (!class_name.is_empty()).then(|| snapshot.storage_classes.get(class_name)).flatten();
        if !class_name.is_empty() && class.is_none() {
            return Err(Status::unresolvable(format!("storageclass.storage.k8s.io \"{class_name}\" not found")));
        }
        let delayed = class.is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
        if !delayed {
            immediate = true;
            continue;
        }
        let mut candidates: Vec<Arc<PersistentVolume>> =
            snapshot.pvs.values().filter(|pv| volume_matches(pv, claim)).cloned().collect();
        // Pre-bound first, then smallest, then name for determinism.
        candidates.sort_by_key(|pv| {
            (pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_none(), pv_capacity(pv), pv.metadata.name.clone())
        });
        let has_selector = claim.spec.as_ref().is_some_and(|s| s.selector.is_some());
        let provisionable = !has_selector && class.is_some_and(|c| !c.provisioner.is_empty() && c.provisioner != NO_PROVISIONER);
        out.to_bind.push(ClaimToBind { claim: claim.clone(), candidates, provisionable });
    }
    if immediate {
        return Err(Status::unresolvable(UNBOUND_IMMEDIATE));
    }
    Ok(out)
}

/// Upstream's isPVCFullyBound: the PV controller finished binding the claim.
fn fully_bound(claim: &PersistentVolumeClaim) -> bool {
    claim.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(ANN_BIND_COMPLETED))
}

fn class_allows_node(snapshot: &Snapshot, claim: &PersistentVolumeClaim, node: &NodeInfo) -> bool {
    let Some(class) = snapshot.storage_classes.get(claim_class(claim)) else { return true };
    let Some(topologies) = class.allowed_topologies.as_ref().filter(|t| !t.is_empty()) else { return true };
    topologies.iter().any(|t| {
        t.match_label_expressions
            .iter()
            .flatten()
            .all(|e| node.labels().get(&e.key).is_some_and(|v| e.values.contains(v)))
    })
}

/// Checks one node; Ok gives the volumes the pod would use there.
fn match_on_node(claims: &PodClaims, node: &NodeInfo, snapshot: &Snapshot) -> Result<PodVolumes, Status> {
    let mut reasons = Vec::new();
    for pv in &claims.bound {
        match pv {
            None => return Err(Status::unresolvable(BOUND_TO_MISSING_PV)),
            Some(pv) if !pv_fits_node(pv, node) => {
                reasons.push(VOLUME_NODE_AFFINITY_CONFLICT.into());
                break;
            }
            Some(_) => {}
        }
    }
    let mut out = PodVolumes::default();
    let mut unmatched = false;
    for c in &claims.to_bind {
        let ns = c.claim.metadata.namespace.clone().unwrap_or_default();
        let name = c.claim.metadata.name.clone().unwrap_or_default();
        let chosen = c.candidates.iter().find(|pv| {
            let pv_name = pv.metadata.name.as_deref().unwrap_or("");
            pv_fits_node(pv, node) && !out.static_bindings.iter().any(|(_, _, n)| n == pv_name)
        });
        match chosen {
            Some(pv) => out.static_bindings.push((ns, name, pv.metadata.name.clone().unwrap_or_default())),
            None if c.provisionable && class_allows_node(snapshot, &c.claim, node) => out.dynamic_provisions.push((ns, name)),
            None => unmatched = true,
        }
    }
    if unmatched {
        reasons.push(NO_MATCHING_VOLUME.into());
    }
    if reasons.is_empty() {
        Ok(out)
    } else {
        Err(Status { code: Code::UnschedulableAndUnresolvable, reasons, plugin: "" })
    }
}

/// For the runtime after a node is chosen: which volume each unbound claim gets on `node`.
pub fn find_pod_volumes(pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<PodVolumes, Status> {
    match_on_node(&collect_claims(pod, snapshot)?, node, snapshot)
}

impl PodVolumes {
    pub fn is_empty(&self) -> bool {
        self.static_bindings.is_empty() && self.dynamic_provisions.is_empty()
    }
}

/// Reserve: the volumes and claims as the bindings will write them (upstream's
/// AssumePodVolumes): a statically bound volume gets the claim in its claimRef (marked bound by
/// the controller), a claim to provision gets the selected node.
pub fn assume(volumes: &PodVolumes, node: &str, snapshot: &Snapshot) -> (Vec<PersistentVolume>, Vec<PersistentVolumeClaim>) {
    let mut pvs = Vec::new();
    for (ns, claim, pv) in &volumes.static_bindings {
        let (Some(claim), Some(pv)) = (snapshot.pvc(ns, claim), snapshot.pvs.get(pv)) else { continue };
        let mut bound = (**pv).clone();
        bound.spec.get_or_insert_default().claim_ref = Some(ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("PersistentVolumeClaim".into()),
            namespace: claim.metadata.namespace.clone(),
            name: claim.metadata.name.clone(),
            uid: claim.metadata.uid.clone(),
            resource_version: claim.metadata.resource_version.clone(),
            field_path: None,
        });
        bound.metadata.annotations.get_or_insert_default().insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
        pvs.push(bound);
    }
    let mut pvcs = Vec::new();
    for (ns, claim) in &volumes.dynamic_provisions {
        let Some(claim) = snapshot.pvc(ns, claim) else { continue };
        let mut selected = (**claim).clone();
        selected.metadata.annotations.get_or_insert_default().insert(ANN_SELECTED_NODE.into(), node.into());
        pvcs.push(selected);
    }
    (pvs, pvcs)
}

/// PreBind's check of one claim the scheduler bound or asked to provision (upstream's
/// checkBindings): Ok(true) once the PV controller finished, Ok(false) while it has not, Err
/// when it never will (the pod is then scheduled again). `static_pv` names the volume the
/// scheduler bound, None for a claim to provision; `volume` is the claim's volume as it is now.
pub fn binding_done(
    claim: Option<&PersistentVolumeClaim>,
    static_pv: Option<&str>,
    volume: Option<&PersistentVolume>,
    node: &Node,
) -> Result<bool, String> {
    let Some(claim) = claim.filter(|c| c.metadata.deletion_timestamp.is_none()) else {
        return Err("PVC was deleted".into());
    };
    let name = claim.metadata.name.as_deref().unwrap_or_default();
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    if let Some(pv) = static_pv {
        let Some(volume) = volume else { return Err(format!("pv {pv:?} was deleted")) };
        let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        if claim_ref.is_none_or(|r| r.uid.as_deref().unwrap_or("").is_empty()) {
            return Err(format!("ClaimRef got reset for pv {pv:?}"));
        }
    } else {
        let selected = claim.metadata.annotations.as_ref().and_then(|a| a.get(ANN_SELECTED_NODE));
        match selected {
            None => return Err(format!("selectedNode annotation reset for PVC {name:?}")),
            Some(n) if n != node_name => {
                return Err(format!("selectedNode annotation value {n:?} not set to scheduled node {node_name:?}"));
            }
            Some(_) => {}
        }
    }
    let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("");
    if !volume_name.is_empty() {
        // Not there yet: seen on a later look.
        let Some(volume) = volume.filter(|v| v.metadata.name.as_deref() == Some(volume_name)) else { return Ok(false) };
        if let Some(req) = volume.spec.as_ref().and_then(|s| s.node_affinity.as_ref()).and_then(|a| a.required.as_ref()) {
            if !node_selector_matches(req, node) {
                return Err(format!("pv {volume_name:?} node affinity doesn't match node {node_name:?}"));
            }
        }
    }
    Ok(!volume_name.is_empty() && fully_bound(claim))
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        VOLUME_BINDING
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, snapshot: &Snapshot) -> Status {
        if claim_names(pod).is_empty() {
            return Status::skip();
        }
        match collect_claims(pod, snapshot) {
            Ok(c) => {
                state.write(VOLUME_BINDING, c);
                Status::success()
            }
            Err(st) => st,
        }
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Status {
        let Some(claims) = state.read::<PodClaims>(VOLUME_BINDING) else { return Status::success() };
        match match_on_node(claims, node, snapshot) {
            Ok(_) => Status::success(),
            Err(st) => st,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use k8s_openapi::api::core::v1::*;
    use k8s_openapi::api::storage::v1::StorageClass;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    /// A claim; one naming a volume is fully bound.
    fn pvc(name: &str, class: &str, size: &str, volume: &str) -> PersistentVolumeClaim {
        let mut c = prebound_pvc(name, class, size, volume);
        if !volume.is_empty() {
            c.metadata.annotations = Some(BTreeMap::from([(ANN_BIND_COMPLETED.to_string(), "yes".to_string())]));
        }
        c
    }

    fn prebound_pvc(name: &str, class: &str, size: &str, volume: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                storage_class_name: Some(class.into()),
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                volume_name: (!volume.is_empty()).then(|| volume.to_string()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.into()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pv(name: &str, class: &str, size: &str, host: &str) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(PersistentVolumeSpec {
                storage_class_name: Some(class.into()),
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                capacity: Some(BTreeMap::from([("storage".to_string(), Quantity(size.into()))])),
                node_affinity: (!host.is_empty()).then(|| VolumeNodeAffinity {
                    required: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "kubernetes.io/hostname".into(),
                                operator: "In".into(),
                                values: Some(vec![host.into()]),
                            }]),
                            ..Default::default()
                        }],
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn class(name: &str, provisioner: &str, wffc: bool) -> StorageClass {
        StorageClass {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            provisioner: provisioner.into(),
            volume_binding_mode: Some(if wffc { "WaitForFirstConsumer" } else { "Immediate" }.into()),
            ..Default::default()
        }
    }

    fn snap(pvs: Vec<PersistentVolume>, pvcs: Vec<PersistentVolumeClaim>) -> Snapshot {
        Snapshot::new(
            vec![node("a").build(), node("b").build()],
            Vec::<Pod>::new(),
            pvs,
            pvcs,
            vec![class("local", NO_PROVISIONER, true), class("fast", "csi.example.com", true), class("std", "csi.example.com", false)],
        )
    }

    #[test]
    fn filter() {
        let ok = (Code::Success, String::new());
        let unres = |r: &str| (Code::UnschedulableAndUnresolvable, r.to_string());
        type Case = (&'static str, Vec<PersistentVolume>, Vec<PersistentVolumeClaim>, Vec<(Code, String)>);
        let cases: Vec<Case> = vec![
            ("unbound immediate", vec![], vec![pvc("c", "std", "1Gi", "")], vec![unres(UNBOUND_IMMEDIATE), unres(UNBOUND_IMMEDIATE)]),
            ("bound, affinity to a", vec![pv("v", "local", "1Gi", "a")], vec![pvc("c", "local", "1Gi", "v")], vec![ok.clone(), unres(VOLUME_NODE_AFFINITY_CONFLICT)]),
            ("pre-bound by its creator, not yet bound", vec![pv("v", "local", "1Gi", "")], vec![prebound_pvc("c", "local", "1Gi", "v")], vec![unres(UNBOUND_IMMEDIATE), unres(UNBOUND_IMMEDIATE)]),
            ("bound to missing pv", vec![], vec![pvc("c", "local", "1Gi", "v")], vec![unres(BOUND_TO_MISSING_PV), unres(BOUND_TO_MISSING_PV)]),
            ("wffc local pv on b", vec![pv("v", "local", "2Gi", "b")], vec![pvc("c", "local", "1Gi", "")], vec![unres(NO_MATCHING_VOLUME), ok.clone()]),
            ("wffc pv too small", vec![pv("v", "local", "512Mi", "b")], vec![pvc("c", "local", "1Gi", "")], vec![unres(NO_MATCHING_VOLUME), unres(NO_MATCHING_VOLUME)]),
            ("wffc provisioner", vec![], vec![pvc("c", "fast", "1Gi", "")], vec![ok.clone(), ok.clone()]),
            ("missing claim", vec![], vec![], vec![unres("persistentvolumeclaim \"c\" not found"), unres("persistentvolumeclaim \"c\" not found")]),
        ];
        let p = pod("p").pvc("c").build();
        for (name, pvs, pvcs, want) in cases {
            let got: Vec<(Code, String)> = run_filter(&VolumeBinding, &p, &snap(pvs, pvcs)).into_iter().map(|r| (r.1, r.2)).collect();
            assert_eq!(got, want, "{name}");
        }
        assert!(run_filter(&VolumeBinding, &pod("p").build(), &snap(vec![], vec![])).iter().all(|r| r.1 == Code::Success));
    }

    #[test]
    fn chosen_volumes() {
        let s = snap(
            vec![pv("big", "local", "10Gi", "b"), pv("small", "local", "2Gi", "b"), pv("other", "local", "2Gi", "a")],
            vec![pvc("c", "local", "1Gi", ""), pvc("d", "fast", "1Gi", "")],
        );
        let p = pod("p").pvc("c").pvc("d").build();
        let got = find_pod_volumes(&p, s.node_info("b").unwrap(), &s).unwrap();
        assert_eq!(got.static_bindings, vec![("default".into(), "c".into(), "small".into())]);
        assert_eq!(got.dynamic_provisions, vec![("default".into(), "d".into())]);
    }

    #[test]
    fn reserve_assumes_the_writes() {
        let s = snap(vec![pv("small", "local", "2Gi", "b")], vec![pvc("c", "local", "1Gi", ""), pvc("d", "fast", "1Gi", "")]);
        let p = pod("p").pvc("c").pvc("d").build();
        let volumes = find_pod_volumes(&p, s.node_info("b").unwrap(), &s).unwrap();
        let (pvs, pvcs) = assume(&volumes, "b", &s);
        let claim_ref = pvs[0].spec.as_ref().unwrap().claim_ref.as_ref().unwrap();
        assert_eq!((claim_ref.name.as_deref(), claim_ref.uid.as_deref()), (Some("c"), Some("uid-c")));
        assert_eq!(pvs[0].metadata.annotations.as_ref().unwrap()[ANN_BOUND_BY_CONTROLLER], "yes");
        assert_eq!(pvcs[0].metadata.name.as_deref(), Some("d"));
        assert_eq!(pvcs[0].metadata.annotations.as_ref().unwrap()[ANN_SELECTED_NODE], "b");
        // Once assumed, the volume is no longer free for another claim.
        let mut s = s;
        s.upsert_pv(Arc::new(pvs[0].clone()));
        s.upsert_pvc(Arc::new(pvc("e", "local", "1Gi", "")));
        let other = pod("q").pvc("e").build();
        assert!(find_pod_volumes(&other, s.node_info("b").unwrap(), &s).is_err());
    }

    #[test]
    fn prebind_waits_for_the_pv_controller() {
        let n = node("b").label("kubernetes.io/hostname", "b").build();
        let annotated = |mut c: PersistentVolumeClaim, pairs: &[(&str, &str)]| {
            c.metadata.annotations = Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
            c
        };
        let mut bound_pv = pv("v", "local", "1Gi", "b");
        bound_pv.spec.as_mut().unwrap().claim_ref =
            Some(ObjectReference { name: Some("c".into()), uid: Some("uid-c".into()), ..Default::default() });
        let waiting = prebound_pvc("c", "local", "1Gi", "");
        // Static binding: the claimRef written, the claim not yet bound; then bound.
        assert_eq!(binding_done(Some(&waiting), Some("v"), Some(&bound_pv), &n), Ok(false));
        assert_eq!(binding_done(Some(&pvc("c", "local", "1Gi", "v")), Some("v"), Some(&bound_pv), &n), Ok(true));
        assert_eq!(
            binding_done(Some(&waiting), Some("v"), Some(&pv("v", "local", "1Gi", "b")), &n),
            Err("ClaimRef got reset for pv \"v\"".into())
        );
        assert_eq!(binding_done(None, Some("v"), Some(&bound_pv), &n), Err("PVC was deleted".into()));
        // Provisioning: selected node kept until the provisioned volume is bound.
        let selected = annotated(prebound_pvc("c", "fast", "1Gi", ""), &[(ANN_SELECTED_NODE, "b")]);
        assert_eq!(binding_done(Some(&selected), None, None, &n), Ok(false));
        let done = annotated(prebound_pvc("c", "fast", "1Gi", "v"), &[(ANN_SELECTED_NODE, "b"), (ANN_BIND_COMPLETED, "yes")]);
        assert_eq!(binding_done(Some(&done), None, None, &n), Ok(false), "the volume is not seen yet");
        assert_eq!(binding_done(Some(&done), None, Some(&bound_pv), &n), Ok(true));
        let elsewhere = pv("v", "local", "1Gi", "a");
        assert_eq!(binding_done(Some(&done), None, Some(&elsewhere), &n), Err("pv \"v\" node affinity doesn't match node \"b\"".into()));
        let reset = prebound_pvc("c", "fast", "1Gi", "");
        assert_eq!(binding_done(Some(&reset), None, None, &n), Err("selectedNode annotation reset for PVC \"c\"".into()));
    }
}
