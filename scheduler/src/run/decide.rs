//! One scheduling decision: the framework's filter/score over the cache's snapshot, and when
//! no node fits, its PostFilter (preemption).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::cache::Cache;
use crate::framework::{Framework, FrameworkError, Profile};
use crate::plugins::volume_binding::{self, PodVolumes};

pub enum Decision {
    /// Bind to `node`, after binding the pod's unbound claims as `volumes` says.
    Bind { node: String, volumes: PodVolumes },
    /// No node fits. `message` is upstream's ("0/3 nodes are available: ... preemption: ...");
    /// preemption may have chosen victims on the node the pod is nominated to.
    Unschedulable { message: String, nominated_node: Option<String>, victims: Vec<Arc<Pod>> },
}

pub struct Decider {
    framework: Framework,
}

impl Decider {
    pub fn new(scheduler_name: &str) -> Result<Decider, FrameworkError> {
        let profile = Profile { scheduler_name: scheduler_name.to_string(), ..Profile::default() };
        Ok(Decider { framework: Framework::new(profile)? })
    }

    pub fn decide(&self, pod: &Pod, cache: &Cache) -> Decision {
        match self.framework.schedule(pod, &cache.snapshot) {
            Ok(result) => {
                let volumes = pod_volumes(pod, &result.node, cache);
                Decision::Bind { node: result.node, volumes }
            }
            Err(mut fit) => {
                let post = self.framework.run_post_filter(pod, &cache.snapshot, &mut fit);
                Decision::Unschedulable { message: fit.message(), nominated_node: post.nominated_node, victims: post.victims }
            }
        }
    }
}

/// Which volumes the pod's unbound claims get on the chosen node (none for most pods).
fn pod_volumes(pod: &Pod, node: &str, cache: &Cache) -> PodVolumes {
    let has_claims =
        pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()).any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some());
    let Some(info) = cache.snapshot.node_info(node).filter(|_| has_claims) else { return PodVolumes::default() };
    // The filter just passed on this node with this snapshot, so this finds what it found.
    volume_binding::find_pod_volumes(pod, info, &cache.snapshot).unwrap_or_default()
}
