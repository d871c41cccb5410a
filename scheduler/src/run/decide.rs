//! One scheduling decision: the framework's filter/score over the cache's snapshot, and when
//! no node fits, its PostFilter (preemption).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::cache::Cache;
use crate::framework::{Framework, FrameworkError, Profile};

pub enum Decision {
    Bind { node: String },
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
            Ok(result) => Decision::Bind { node: result.node },
            Err(mut fit) => {
                let post = self.framework.run_post_filter(pod, &cache.snapshot, &mut fit);
                Decision::Unschedulable { message: fit.message(), nominated_node: post.nominated_node, victims: post.victims }
            }
        }
    }
}
