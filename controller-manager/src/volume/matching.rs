//! Which volume a claim gets, as upstream's volume index and `FindMatchingVolume`: a volume
//! pre-bound to the claim wins; otherwise the smallest Available volume that satisfies the
//! claim's size, volume mode, selector and class, searched first among volumes with the fewest
//! access modes that still include the claim's. Pure: no IO.

use std::collections::BTreeMap;

use corekube_api::validation::quantity::{self, Quantity};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::core::{Selector, SelectorExt};

use super::ann;

/// The class a claim asks for: the beta annotation wins over `spec.storageClassName`.
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    if let Some(class) = annotation(&claim.metadata, ann::BETA_STORAGE_CLASS) {
        return class;
    }
    claim.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
}

/// Whether the claim asked for a class at all (an empty name is a request for no class).
pub fn claim_has_class(claim: &PersistentVolumeClaim) -> bool {
    annotation(&claim.metadata, ann::BETA_STORAGE_CLASS).is_some() || claim.spec.as_ref().is_some_and(|s| s.storage_class_name.is_some())
}

/// The class of a volume, beta annotation first.
pub fn volume_class(pv: &PersistentVolume) -> &str {
    if let Some(class) = annotation(&pv.metadata, ann::BETA_STORAGE_CLASS) {
        return class;
    }
    pv.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
}

pub fn annotation<'a>(meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

fn storage_of(resources: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>) -> Quantity {
    resources.and_then(|r| r.get("storage")).and_then(|q| quantity::parse(&q.0).ok()).unwrap_or_else(Quantity::zero)
}

pub fn requested(claim: &PersistentVolumeClaim) -> Quantity {
    storage_of(claim.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()))
}

pub fn capacity(pv: &PersistentVolume) -> Quantity {
    storage_of(pv.spec.as_ref().and_then(|s| s.capacity.as_ref()))
}

/// Upstream's CheckVolumeModeMismatches: an unset mode means Filesystem on both sides.
pub fn volume_mode_mismatch(claim: &PersistentVolumeClaim, pv: &PersistentVolume) -> bool {
    let claim_mode = claim.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    let pv_mode = pv.spec.as_ref().and_then(|s| s.volume_mode.as_deref()).unwrap_or("Filesystem");
    claim_mode != pv_mode
}

fn modes(pv: &PersistentVolume) -> &[String] {
    pv.spec.as_ref().and_then(|s| s.access_modes.as_deref()).unwrap_or(&[])
}

fn claim_modes(claim: &PersistentVolumeClaim) -> &[String] {
    claim.spec.as_ref().and_then(|s| s.access_modes.as_deref()).unwrap_or(&[])
}

/// Every access mode the claim asks for is one the volume offers.
pub fn access_modes_ok(claim: &PersistentVolumeClaim, pv: &PersistentVolume) -> bool {
    claim_modes(claim).iter().all(|m| modes(pv).contains(m))
}

/// Upstream's IsVolumeBoundToClaim: the claimRef names the claim, and its UID (if set) is the
/// claim's.
pub fn is_bound_to_claim(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else { return false };
    r.name.as_deref() == claim.metadata.name.as_deref()
        && r.namespace.as_deref() == claim.metadata.namespace.as_deref()
        && r.uid.as_deref().is_none_or(|u| u.is_empty() || Some(u) == claim.metadata.uid.as_deref())
}

fn phase(pv: &PersistentVolume) -> &str {
    pv.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn selector(claim: &PersistentVolumeClaim) -> Option<Option<Selector>> {
    let sel = claim.spec.as_ref()?.selector.clone()?;
    Some(Selector::try_from(sel).ok())
}

/// Upstream's FindMatchingVolume over one group of volumes (no node: the binder's path).
fn find_in_group<'a>(claim: &PersistentVolumeClaim, volumes: &[&'a PersistentVolume], delay_binding: bool) -> Option<&'a PersistentVolume> {
    let wanted = requested(claim);
    let class = claim_class(claim);
    let selector = selector(claim);
    let mut smallest: Option<(&PersistentVolume, Quantity)> = None;
    for &pv in volumes {
        let claimed = pv.spec.as_ref().is_some_and(|s| s.claim_ref.is_some());
        if claimed && !is_bound_to_claim(pv, claim) {
            continue;
        }
        let size = capacity(pv);
        if size < wanted || volume_mode_mismatch(claim, pv) || pv.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if is_bound_to_claim(pv, claim) {
            return Some(pv);
        }
        // Waiting for the first consumer: the scheduler binds such claims.
        if delay_binding {
            continue;
        }
        if phase(pv) != "Available" {
            continue;
        }
        let empty = BTreeMap::new();
        match &selector {
            // An invalid selector matches nothing (the API server refuses those anyway).
            Some(None) => continue,
            Some(Some(s)) if !s.matches(pv.metadata.labels.as_ref().unwrap_or(&empty)) => continue,
            _ => {}
        }
        if volume_class(pv) != class {
            continue;
        }
        if smallest.as_ref().is_none_or(|(_, q)| size < *q) {
            smallest = Some((pv, size));
        }
    }
    smallest.map(|(pv, _)| pv)
}

/// Upstream's canonical order of access modes, which names an index group.
const MODE_ORDER: [&str; 4] = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];

fn mode_key(pv: &PersistentVolume) -> Vec<usize> {
    let mut key: Vec<usize> = modes(pv).iter().filter_map(|m| MODE_ORDER.iter().position(|o| o == m)).collect();
    key.sort_unstable();
    key.dedup();
    key
}

/// The volume the binder gives `claim` (upstream's findBestMatchForClaim): volumes are grouped
/// by their set of access modes; the groups that include every mode the claim asks for are
/// searched fewest modes first, and the first group with a match decides.
pub fn find_best_match<'a>(
    claim: &PersistentVolumeClaim,
    volumes: &[&'a PersistentVolume],
    delay_binding: bool,
) -> Option<&'a PersistentVolume> {
    let wanted: Vec<usize> = claim_modes(claim).iter().filter_map(|m| MODE_ORDER.iter().position(|o| o == m)).collect();
    let mut groups: BTreeMap<Vec<usize>, Vec<&PersistentVolume>> = BTreeMap::new();
    for &pv in volumes {
        groups.entry(mode_key(pv)).or_default().push(pv);
    }
    let mut keys: Vec<&Vec<usize>> = groups.keys().filter(|k| wanted.iter().all(|m| k.contains(m))).collect();
    keys.sort_by_key(|k| k.len());
    keys.into_iter().find_map(|k| find_in_group(claim, &groups[k], delay_binding))
}

/// Upstream's checkVolumeSatisfyClaim, for a claim that names its volume.
pub fn check_satisfies(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> Result<(), String> {
    if pv.metadata.deletion_timestamp.is_some() {
        return Err(format!("the volume is marked for deletion {:?}", pv.metadata.name.as_deref().unwrap_or_default()));
    }
    if capacity(pv).value() < requested(claim).value() {
        return Err("requested PV is too small".into());
    }
    if volume_class(pv) != claim_class(claim) {
        return Err("storageClassName does not match".into());
    }
    if volume_mode_mismatch(claim, pv) {
        return Err("incompatible volumeMode".into());
    }
    if !access_modes_ok(claim, pv) {
        return Err("incompatible accessMode".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn pv(name: &str, size: &str, modes: &[&str], class: &str, phase: &str) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(PersistentVolumeSpec {
                capacity: Some(BTreeMap::from([("storage".to_string(), Q(size.into()))])),
                access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
                storage_class_name: (!class.is_empty()).then(|| class.to_string()),
                ..Default::default()
            }),
            status: Some(PersistentVolumeStatus { phase: Some(phase.into()), ..Default::default() }),
        }
    }

    fn claim(size: &str, modes: &[&str], class: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta { name: Some("c".into()), namespace: Some("ns".into()), uid: Some("u1".into()), ..Default::default() },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
                storage_class_name: Some(class.into()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), Q(size.into()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn with_labels(mut v: PersistentVolume, labels: &[(&str, &str)]) -> PersistentVolume {
        v.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        v
    }

    fn with_claim_ref(mut v: PersistentVolume, name: &str, uid: &str) -> PersistentVolume {
        v.spec.as_mut().unwrap().claim_ref = Some(ObjectReference {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: (!uid.is_empty()).then(|| uid.to_string()),
            ..Default::default()
        });
        v
    }

    #[test]
    fn best_match() {
        let rwo = ["ReadWriteOnce"];
        let both = ["ReadWriteOnce", "ReadWriteMany"];
        let c = claim("1Gi", &rwo, "");
        let selecting = {
            let mut c = claim("1Gi", &rwo, "");
            c.spec.as_mut().unwrap().selector =
                Some(LabelSelector { match_labels: Some(BTreeMap::from([("tier".into(), "gold".into())])), ..Default::default() });
            c
        };
        type Case = (&'static str, PersistentVolumeClaim, Vec<PersistentVolume>, bool, Option<&'static str>);
        let cases: Vec<Case> = vec![
            (
                "smallest that fits",
                c.clone(),
                vec![
                    pv("big", "10Gi", &rwo, "", "Available"),
                    pv("small", "2Gi", &rwo, "", "Available"),
                    pv("tiny", "512Mi", &rwo, "", "Available"),
                ],
                false,
                Some("small"),
            ),
            ("exact size fits", c.clone(), vec![pv("exact", "1024Mi", &rwo, "", "Available")], false, Some("exact")),
            ("nothing large enough", claim("20Gi", &rwo, ""), vec![pv("big", "10Gi", &rwo, "", "Available")], false, None),
            (
                "fewer access modes first",
                c.clone(),
                vec![pv("multi", "1Gi", &both, "", "Available"), pv("single", "5Gi", &rwo, "", "Available")],
                false,
                Some("single"),
            ),
            (
                "more modes when needed",
                claim("1Gi", &both, ""),
                vec![pv("single", "1Gi", &rwo, "", "Available"), pv("multi", "5Gi", &both, "", "Available")],
                false,
                Some("multi"),
            ),
            (
                "class must match",
                claim("1Gi", &rwo, "fast"),
                vec![pv("none", "1Gi", &rwo, "", "Available"), pv("fast", "5Gi", &rwo, "fast", "Available")],
                false,
                Some("fast"),
            ),
            (
                "only Available",
                c.clone(),
                vec![pv("released", "1Gi", &rwo, "", "Released"), pv("pending", "1Gi", &rwo, "", "Pending")],
                false,
                None,
            ),
            (
                "selector",
                selecting.clone(),
                vec![pv("plain", "1Gi", &rwo, "", "Available"), with_labels(pv("gold", "9Gi", &rwo, "", "Available"), &[("tier", "gold")])],
                false,
                Some("gold"),
            ),
            (
                "pre-bound by name wins",
                c.clone(),
                vec![pv("small", "1Gi", &rwo, "", "Available"), with_claim_ref(pv("mine", "9Gi", &rwo, "other", "Available"), "c", "")],
                false,
                Some("mine"),
            ),
            (
                "pre-bound to another claim",
                c.clone(),
                vec![with_claim_ref(pv("theirs", "9Gi", &rwo, "", "Available"), "d", "")],
                false,
                None,
            ),
            (
                "bound to an older claim of that name",
                c.clone(),
                vec![with_claim_ref(pv("old", "9Gi", &rwo, "", "Bound"), "c", "u0")],
                false,
                None,
            ),
            ("delayed binding leaves it to the scheduler", c.clone(), vec![pv("small", "2Gi", &rwo, "", "Available")], true, None),
            (
                "delayed binding still takes a pre-bound one",
                c.clone(),
                vec![with_claim_ref(pv("mine", "2Gi", &rwo, "", "Bound"), "c", "u1")],
                true,
                Some("mine"),
            ),
        ];
        for (name, claim, volumes, delay, want) in cases {
            let refs: Vec<&PersistentVolume> = volumes.iter().collect();
            let got = find_best_match(&claim, &refs, delay).and_then(|v| v.metadata.name.as_deref());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn requested_volume_must_satisfy_the_claim() {
        let rwo = ["ReadWriteOnce"];
        let c = claim("1Gi", &rwo, "");
        assert_eq!(check_satisfies(&pv("v", "1Gi", &rwo, "", "Available"), &c), Ok(()));
        assert_eq!(check_satisfies(&pv("v", "1G", &rwo, "", "Available"), &c).unwrap_err(), "requested PV is too small");
        assert_eq!(check_satisfies(&pv("v", "1Gi", &rwo, "x", "Available"), &c).unwrap_err(), "storageClassName does not match");
        assert_eq!(check_satisfies(&pv("v", "1Gi", &["ReadOnlyMany"], "", "Available"), &c).unwrap_err(), "incompatible accessMode");
        let mut block = pv("v", "1Gi", &rwo, "", "Available");
        block.spec.as_mut().unwrap().volume_mode = Some("Block".into());
        assert_eq!(check_satisfies(&block, &c).unwrap_err(), "incompatible volumeMode");
    }

    #[test]
    fn classes_from_beta_annotation() {
        let mut c = claim("1Gi", &[], "spec");
        assert_eq!(claim_class(&c), "spec");
        c.metadata.annotations = Some(BTreeMap::from([(ann::BETA_STORAGE_CLASS.to_string(), "beta".to_string())]));
        assert_eq!(claim_class(&c), "beta");
        c.spec.as_mut().unwrap().storage_class_name = None;
        assert!(claim_has_class(&c));
        c.metadata.annotations = None;
        assert!(!claim_has_class(&c));
    }
}
