//! VolumeBinding: the pod's PersistentVolumeClaims must be usable on the node. Bound claims'
//! volumes must allow the node; WaitForFirstConsumer claims need an available matching volume
//! reachable from the node, or a class that provisions. This plugin only filters: the chosen
//! volumes are exposed through `find_pod_volumes` for the runtime to bind (or to leave to the
//! PV controller).

use std::sync::Arc;

use corekube_api::selector::LabelSelector;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};

use crate::framework::{Code, CycleState, FilterPlugin, NodeInfo, Plugin, PreFilterPlugin, Snapshot, Status};
use crate::plugins::names::VOLUME_BINDING;
use crate::plugins::node_affinity::node_selector_matches;
use crate::resources::parse_value;

pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
pub const VOLUME_NODE_AFFINITY_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const NO_MATCHING_VOLUME: &str = "node(s) didn't find available persistent volumes to bind";
pub const BOUND_TO_MISSING_PV: &str = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

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
            out.bound.push(snapshot.pvs.get(vol).cloned());
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

    fn pvc(name: &str, class: &str, size: &str, volume: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some("default".into()), ..Default::default() },
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
}
