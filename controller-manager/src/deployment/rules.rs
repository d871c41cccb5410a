//! The Deployment rules that need no API: fenceposts of a rolling update, revisions and
//! their annotations, the template hash, conditions and the status arithmetic, as upstream's
//! pkg/controller/deployment/util. Kept free of IO so each rule is tested on its own.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// Upstream keeps the revision-history annotation under this many characters.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

// Condition types and reasons, as upstream's (kubectl rollout status reads them).
pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_status(rs: &ReplicaSet) -> (i32, i32, i32) {
    let s = rs.status.clone().unwrap_or_default();
    (s.replicas, s.ready_replicas.unwrap_or(0), s.available_replicas.unwrap_or(0))
}

pub fn is_rolling(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.type_.as_deref()).unwrap_or("RollingUpdate") == "RollingUpdate"
}

/// An int or a percent of `total`, rounded up or down (upstream's GetScaledValueFromIntOrPercent).
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let p: i64 = s.strip_suffix('%').and_then(|n| n.parse().ok()).ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let scaled = p * i64::from(total);
            let v = if round_up { (scaled + 99).div_euclid(100) } else { scaled.div_euclid(100) };
            Ok(v as i32)
        }
    }
}

/// (maxSurge, maxUnavailable) in pods; both zero becomes one unavailable (upstream's
/// ResolveFenceposts).
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let desired = replicas(d);
    let ru = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.clone()).unwrap_or_default();
    let surge = scaled_value(&ru.max_surge.unwrap_or(IntOrString::String("25%".into())), desired, true).unwrap_or(0);
    let unavailable = scaled_value(&ru.max_unavailable.unwrap_or(IntOrString::String("25%".into())), desired, false).unwrap_or(0);
    if surge == 0 && unavailable == 0 {
        return (0, 1);
    }
    (surge, unavailable)
}

pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling(d) {
        return 0;
    }
    fenceposts(d).0
}

pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling(d) || replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas(d))
}

pub fn annotation<'a>(meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(&rs.metadata, REVISION).and_then(|r| r.parse().ok()).unwrap_or(0)
}

pub fn max_revision(rss: &[ReplicaSet]) -> i64 {
    rss.iter().map(revision).max().unwrap_or(0)
}

/// The ReplicaSet's template minus the hash label equals the Deployment's (upstream's
/// EqualIgnoreHash; an empty label map equals none).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    fn strip(t: &PodTemplateSpec) -> PodTemplateSpec {
        let mut t = t.clone();
        let meta = t.metadata.get_or_insert_with(Default::default);
        if let Some(labels) = meta.labels.as_mut() {
            labels.remove(POD_TEMPLATE_HASH);
            if labels.is_empty() {
                meta.labels = None;
            }
        }
        t
    }
    strip(a) == strip(b)
}

/// The newest of the ReplicaSets whose template is the Deployment's, oldest first as upstream
/// (several can match after a hash collision; the oldest wins).
pub fn find_new<'a>(d: &Deployment, rss: &'a [ReplicaSet]) -> Option<&'a ReplicaSet> {
    let template = d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let mut sorted: Vec<&ReplicaSet> = rss.iter().collect();
    sorted.sort_by(|a, b| by_creation(a, b));
    sorted.into_iter().find(|rs| rs.spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| equal_ignore_hash(t, &template)))
}

/// Older first; equal times by name (upstream's ReplicaSetsByCreationTimestamp).
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> std::cmp::Ordering {
    let (ta, tb) = (a.metadata.creation_timestamp.as_ref().map(|t| t.0), b.metadata.creation_timestamp.as_ref().map(|t| t.0));
    ta.cmp(&tb).then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// The hash that names a Deployment's ReplicaSet for one template: FNV-1a over the template's
/// JSON and the collision count, spelled in upstream's safe alphabet (no vowels, so no words).
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hash: u32 = 0x811c9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x01000193);
        }
    };
    feed(&serde_json::to_vec(template).unwrap_or_default());
    if let Some(c) = collision_count {
        feed(&(c as u32).to_le_bytes());
    }
    hash.to_string().bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// Copies the Deployment's own annotations onto its ReplicaSet (upstream's
/// copyDeploymentAnnotationsToReplicaSet); true if anything changed.
fn copy_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let skip = [LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO];
    let mut changed = false;
    let target = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip.contains(&k.as_str()) || target.get(k) == Some(v) {
            continue;
        }
        target.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// Sets desired-replicas and max-replicas; true if they changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        if a.get(k).map(String::as_str) != Some(v.to_string().as_str()) {
            a.insert(k.to_string(), v.to_string());
            changed = true;
        }
    }
    changed
}

pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata, DESIRED_REPLICAS) != Some(desired.to_string().as_str()) || annotation(&rs.metadata, MAX_REPLICAS) != Some(max.to_string().as_str())
}

/// Upstream's SetNewReplicaSetAnnotations: the Deployment's annotations, the new revision
/// (the old one moves to revision-history), and for a new ReplicaSet the replica annotations.
pub fn set_new_rs_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: i64, exists: bool) -> bool {
    let mut changed = copy_annotations(d, rs);
    let old = annotation(&rs.metadata, REVISION).map(String::from);
    let old_n: i64 = old.as_deref().and_then(|o| o.parse().ok()).unwrap_or(0);
    let a = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if old_n < new_revision {
        a.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let mut history: Vec<String> = a.get(REVISION_HISTORY).map(|h| h.split(',').map(String::from).collect()).unwrap_or_default();
            history.retain(|h| !h.is_empty());
            history.push(old);
            while history.len() > 1 && history.join(",").len() > MAX_REVISION_HISTORY_CHARS {
                history.remove(0);
            }
            a.insert(REVISION_HISTORY.into(), history.join(","));
        }
    }
    if !exists && set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

/// The replica count a rolling update gives the new ReplicaSet now (upstream's NewRSNewReplicas).
pub fn new_rs_new_replicas(d: &Deployment, all: &[ReplicaSet], new_rs_replicas: i32) -> i32 {
    if !is_rolling(d) {
        return replicas(d);
    }
    let current: i32 = all.iter().map(rs_replicas).sum();
    let max_total = replicas(d) + max_surge(d);
    if current >= max_total {
        return new_rs_replicas;
    }
    let scale_up = (max_total - current).min(replicas(d) - new_rs_replicas);
    new_rs_replicas + scale_up
}

pub fn active(rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    rss.iter().filter(|rs| rs_replicas(rs) > 0).cloned().collect()
}

pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).is_some_and(|p| p != i32::MAX)
}

pub fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_)
}

pub fn new_condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = Time(jiff::Timestamp::now());
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// Upstream's SetDeploymentCondition: the same status and reason is no change; the same
/// status keeps its transition time.
pub fn set_condition(status: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(current) = condition(status, &c.type_) {
        if current.status == c.status && current.reason == c.reason {
            return;
        }
        if current.status == c.status {
            c.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &c.type_);
    status.conditions.get_or_insert_with(Vec::new).push(c);
}

pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = status.conditions.as_mut() {
        cs.retain(|c| c.type_ != type_);
    }
}

/// The status the ReplicaSets add up to (upstream's calculateStatus).
pub fn calculate_status(all: &[ReplicaSet], new_rs: Option<&ReplicaSet>, d: &Deployment) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let sum = |f: &dyn Fn(&ReplicaSet) -> i32| all.iter().map(f).sum::<i32>();
    let available = sum(&|rs| rs_status(rs).2);
    let total = sum(&|rs| rs_status(rs).0);
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(total),
        updated_replicas: Some(new_rs.map(|rs| rs_status(rs).0).unwrap_or(0)),
        ready_replicas: Some(sum(&|rs| rs_status(rs).1)),
        available_replicas: Some(available),
        unavailable_replicas: Some((total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: old.terminating_replicas,
    };
    let (cond_status, reason, message) = if available >= replicas(d) - max_unavailable(d) {
        ("True", MIN_AVAILABLE, "Deployment has minimum availability.")
    } else {
        ("False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.")
    };
    set_condition(&mut status, new_condition(AVAILABLE, cond_status, reason, message.into()));
    status
}

/// Everything updated, available and observed (upstream's DeploymentComplete).
pub fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = replicas(d);
    s.updated_replicas == Some(want) && s.replicas == Some(want) && s.available_replicas == Some(want) && s.observed_generation >= d.metadata.generation
}

/// The new status shows progress over the old (upstream's DeploymentProgressing).
pub fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let o = |v: Option<i32>| v.unwrap_or(0);
    let old_old = o(old.replicas) - o(old.updated_replicas);
    let new_old = o(new.replicas) - o(new.updated_replicas);
    o(new.updated_replicas) > o(old.updated_replicas)
        || new_old < old_old
        || o(new.ready_replicas) > o(old.ready_replicas)
        || o(new.available_replicas) > o(old.available_replicas)
}

/// The rollout made no progress for progressDeadlineSeconds (upstream's DeploymentTimedOut).
pub fn timed_out(d: &Deployment, new: &DeploymentStatus, now: jiff::Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = condition(new, PROGRESSING) else { return false };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => {
            let deadline = i64::from(d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600));
            c.last_update_time.as_ref().is_some_and(|t| t.0 + jiff::SignedDuration::from_secs(deadline) < now)
        }
    }
}

/// How a ReplicaSet grows or shrinks in a proportional scale (upstream's getReplicaSetFraction).
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if replicas(d) == 0 {
        return -rs_replicas(rs);
    }
    let deployment_replicas = replicas(d) + max_surge(d);
    let annotated = annotation(&rs.metadata, MAX_REPLICAS)
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if annotated == 0 {
        return 0;
    }
    let size = f64::from(rs_replicas(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
    size.round() as i32 - rs_replicas(rs)
}

/// This ReplicaSet's share of `to_add` (upstream's GetProportion).
pub fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let f = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        f.min(allowed)
    } else {
        f.max(allowed)
    }
}

/// The pods of a ReplicaSet that can be counted on as available: its status's count, but never
/// more than it asks for. A ReplicaSet just scaled down still reports the pods it is about to
/// delete until its controller's next status write; a second Deployment sync in that window
/// (this controller's own scale write wakes it) would count them again and scale another old
/// pod away, leaving fewer than minAvailable serving. Upstream counts the status alone.
pub fn available_now(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0).min(rs_replicas(rs))
}

/// How far each old ReplicaSet (oldest first, as given) may shrink in one rolling step, as
/// upstream's reconcileOldReplicaSets: first pods that are not available anyway, within what
/// maxUnavailable leaves after the new ReplicaSet's own unavailable pods; then available ones,
/// down to minAvailable. Returns the new size of each old ReplicaSet, in the same order.
pub fn old_sizes_after_scale_down(d: &Deployment, old: &[ReplicaSet], new_rs: &ReplicaSet) -> Vec<i32> {
    let mut sizes: Vec<i32> = old.iter().map(rs_replicas).collect();
    let old_pods: i32 = sizes.iter().sum();
    if old_pods == 0 {
        return sizes;
    }
    let all_pods = old_pods + rs_replicas(new_rs);
    let min_available = replicas(d) - max_unavailable(d);
    let new_unavailable = rs_replicas(new_rs) - available_now(new_rs);
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return sizes;
    }
    // Unhealthy first: they do not count toward availability.
    let available: Vec<i32> = old.iter().map(available_now).collect();
    let mut cleaned = 0;
    for (size, avail) in sizes.iter_mut().zip(&available) {
        let unhealthy = *size - avail;
        if cleaned >= max_scaled_down || *size == 0 || unhealthy <= 0 {
            continue;
        }
        let count = (max_scaled_down - cleaned).min(unhealthy);
        *size -= count;
        cleaned += count;
    }
    // Then available ones, keeping minAvailable.
    let total_available: i32 = available.iter().sum::<i32>() + available_now(new_rs);
    let mut to_scale_down = total_available - min_available;
    for size in sizes.iter_mut() {
        if to_scale_down <= 0 {
            break;
        }
        let count = (*size).min(to_scale_down);
        *size -= count;
        to_scale_down -= count;
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};

    fn deployment(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment { max_surge: Some(surge), max_unavailable: Some(unavailable) }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn fenceposts_round_as_upstream() {
        let pct = |s: &str| IntOrString::String(s.into());
        // 25% of 10: surge rounds up (3), unavailable rounds down (2).
        assert_eq!(fenceposts(&deployment(10, pct("25%"), pct("25%"))), (3, 2));
        // Both zero: one may be unavailable.
        assert_eq!(fenceposts(&deployment(3, IntOrString::Int(0), pct("10%"))), (0, 1));
        assert_eq!(max_unavailable(&deployment(2, IntOrString::Int(0), IntOrString::Int(5))), 2);
        assert!(scaled_value(&pct("x%"), 10, true).is_err());
    }

    #[test]
    fn hash_is_stable_and_collision_count_changes_it() {
        let t = PodTemplateSpec::default();
        assert_eq!(template_hash(&t, None), template_hash(&t, None));
        assert_ne!(template_hash(&t, None), template_hash(&t, Some(1)));
        assert!(template_hash(&t, None).bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)));
    }

    #[test]
    fn revisions_move_to_history() {
        let d = deployment(3, IntOrString::Int(1), IntOrString::Int(0));
        let mut rs = ReplicaSet::default();
        assert!(set_new_rs_annotations(&d, &mut rs, 1, false));
        assert_eq!(annotation(&rs.metadata, REVISION), Some("1"));
        assert_eq!(annotation(&rs.metadata, MAX_REPLICAS), Some("4"));
        assert!(set_new_rs_annotations(&d, &mut rs, 3, true));
        assert_eq!(annotation(&rs.metadata, REVISION_HISTORY), Some("1"));
        assert!(!set_new_rs_annotations(&d, &mut rs, 3, true), "same revision: no change");
    }

    fn rs(spec: i32, available: i32) -> ReplicaSet {
        use k8s_openapi::api::apps::v1::{ReplicaSetSpec, ReplicaSetStatus};
        ReplicaSet {
            spec: Some(ReplicaSetSpec { replicas: Some(spec), ..Default::default() }),
            status: Some(ReplicaSetStatus { available_replicas: Some(available), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn old_replicasets_shrink_within_max_unavailable() {
        let d = deployment(6, IntOrString::Int(2), IntOrString::Int(1));
        // 6 old available, the new one at 2 with none ready yet: 8 pods, minAvailable 5, two
        // new unavailable: one old pod may go.
        assert_eq!(old_sizes_after_scale_down(&d, &[rs(6, 6)], &rs(2, 0)), vec![5]);
        // Unavailable old pods go first (two of the oldest's three), then one available pod,
        // the oldest's, leaving 3 + 2 = 5 serving.
        assert_eq!(old_sizes_after_scale_down(&d, &[rs(3, 1), rs(3, 3)], &rs(2, 2)), vec![0, 3]);
        // The new one's unavailable pods use up the budget: none of the old may go.
        assert_eq!(old_sizes_after_scale_down(&d, &[rs(5, 5)], &rs(3, 0)), vec![5]);
        // The new one fully available: the old ones go to zero, oldest first.
        assert_eq!(old_sizes_after_scale_down(&d, &[rs(1, 1), rs(1, 1)], &rs(6, 6)), vec![0, 0]);
    }

    #[test]
    fn a_stale_status_after_a_scale_down_is_not_counted_twice() {
        let d = deployment(6, IntOrString::Int(2), IntOrString::Int(1));
        // The old ReplicaSet was just scaled from 3 to 2 and its status still counts 3; the new
        // one has 4 available. Serving: 2 + 4 = 6, minAvailable 5: one may go, not two (the
        // status alone would say 7 serving and take both, leaving 4).
        assert_eq!(old_sizes_after_scale_down(&d, &[rs(2, 3)], &rs(6, 4)), vec![1]);
    }

    #[test]
    fn same_status_and_reason_is_no_change() {
        let mut s = DeploymentStatus::default();
        set_condition(&mut s, new_condition(PROGRESSING, "True", RS_UPDATED, "a".into()));
        set_condition(&mut s, new_condition(PROGRESSING, "True", RS_UPDATED, "b".into()));
        assert_eq!(condition(&s, PROGRESSING).unwrap().message.as_deref(), Some("a"));
        set_condition(&mut s, new_condition(PROGRESSING, "False", TIMED_OUT, "c".into()));
        assert_eq!(s.conditions.as_ref().unwrap().len(), 1);
    }
}
