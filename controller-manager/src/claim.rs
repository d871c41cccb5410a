//! Upstream's ControllerRefManager: a controller owns the objects whose controller reference
//! names it; it adopts orphans its selector matches and releases objects that stopped
//! matching. Adoption and release are strategic merge patches keyed by the owner's uid, with
//! the object's uid as a precondition, so they never touch another owner's reference.

use std::sync::Arc;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::json;

use crate::util::{controller_of, controller_ref};

/// What a controller does with one candidate object.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Already ours and still matching.
    Keep,
    Adopt,
    Release,
    /// Another controller's, or nothing to do while the owner is being deleted.
    Ignore,
}

fn decide<O: Resource, C: Resource>(owner: &O, child: &C, matches: bool) -> Decision {
    let owner_deleting = owner.meta().deletion_timestamp.is_some();
    match controller_of(child.meta()) {
        Some(r) if Some(&r.uid) != owner.meta().uid.as_ref() => Decision::Ignore,
        Some(_) if matches => Decision::Keep,
        // A controller being deleted keeps what it has: the garbage collector decides.
        Some(_) if owner_deleting => Decision::Ignore,
        Some(_) => Decision::Release,
        None if owner_deleting || !matches || child.meta().deletion_timestamp.is_some() => Decision::Ignore,
        None => Decision::Adopt,
    }
}

/// The objects `owner` controls after adopting and releasing: `candidates` are the objects of
/// the owner's namespace, `matches` its selector. `still_owner` is asked once, before the first
/// adoption, whether the owner (read fresh from the API server) still exists and is not being
/// deleted, as upstream's canAdopt.
pub async fn claim<O, C, F>(api: &Api<C>, owner: &O, candidates: Vec<Arc<C>>, matches: impl Fn(&C) -> bool, still_owner: F) -> Result<Vec<Arc<C>>, kube::Error>
where
    O: Resource<DynamicType = ()>,
    C: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    F: AsyncFnOnce() -> Result<bool, kube::Error>,
{
    let mut owned = Vec::new();
    let mut can_adopt = Some(still_owner);
    let mut adoption_allowed = false;
    for child in candidates {
        match decide(owner, child.as_ref(), matches(&child)) {
            Decision::Keep => owned.push(child),
            Decision::Ignore => {}
            Decision::Adopt => {
                if let Some(check) = can_adopt.take() {
                    adoption_allowed = check().await?;
                }
                if !adoption_allowed {
                    continue;
                }
                let patch = json!({"metadata": {"ownerReferences": [controller_ref(owner)], "uid": child.meta().uid}});
                match api.patch(child.meta().name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                    Ok(adopted) => owned.push(Arc::new(adopted)),
                    // Gone meanwhile: nothing to adopt.
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Decision::Release => {
                let uid = owner.meta().uid.clone().unwrap_or_default();
                let patch = json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid}], "uid": child.meta().uid}});
                match api.patch(child.meta().name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Strategic(patch)).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};

    fn rs(uid: &str, deleting: bool) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("rs".into()),
                uid: Some(uid.into()),
                deletion_timestamp: deleting.then(|| Time(jiff::Timestamp::now())),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn pod(controller_uid: Option<&str>) -> Pod {
        let refs = controller_uid.map(|u| {
            vec![OwnerReference { uid: u.into(), controller: Some(true), kind: "ReplicaSet".into(), ..Default::default() }]
        });
        Pod { metadata: ObjectMeta { name: Some("p".into()), owner_references: refs, ..Default::default() }, ..Default::default() }
    }

    #[test]
    fn decisions_follow_controller_ref_manager() {
        let owner = rs("a", false);
        assert_eq!(decide(&owner, &pod(Some("a")), true), Decision::Keep);
        assert_eq!(decide(&owner, &pod(Some("a")), false), Decision::Release);
        assert_eq!(decide(&owner, &pod(Some("b")), true), Decision::Ignore);
        assert_eq!(decide(&owner, &pod(None), true), Decision::Adopt);
        assert_eq!(decide(&owner, &pod(None), false), Decision::Ignore);
        let deleting = rs("a", true);
        assert_eq!(decide(&deleting, &pod(None), true), Decision::Ignore);
        assert_eq!(decide(&deleting, &pod(Some("a")), false), Decision::Ignore);
    }
}
