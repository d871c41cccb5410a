//! ImageLocality: prefers nodes that already have the pod's images, weighted by image size and
//! by how many nodes have the image (so one node hoarding a popular image is not favoured).

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{CycleState, NodeInfo, Plugin, PreScorePlugin, ScorePlugin, Snapshot, Status, MAX_NODE_SCORE};
use crate::plugins::names::IMAGE_LOCALITY;

const MB: i64 = 1024 * 1024;
/// Below this total the score is 0.
pub const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container: at or above this total the score is 100.
pub const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

/// upstream `normalizedImageName`: an untagged name gets ":latest".
pub fn normalized_image_name(name: &str) -> std::borrow::Cow<'_, str> {
    let colon = name.rfind(':').map_or(-1, |i| i as isize);
    let slash = name.rfind('/').map_or(-1, |i| i as isize);
    if colon <= slash {
        format!("{name}:latest").into()
    } else {
        name.into()
    }
}

/// Maps the summed image score to 0..=100 between the thresholds.
pub fn calculate_priority(sum: i64, num_containers: usize) -> i64 {
    let max = MAX_CONTAINER_THRESHOLD * num_containers.max(1) as i64;
    let sum = sum.clamp(MIN_THRESHOLD, max);
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        IMAGE_LOCALITY
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
}

/// The pod's normalized image names (init containers and containers) and container count.
#[derive(Clone)]
struct PreScoreState {
    images: Vec<String>,
    containers: usize,
}

fn pod_images(pod: &Pod) -> PreScoreState {
    let Some(spec) = pod.spec.as_ref() else { return PreScoreState { images: vec![], containers: 0 } };
    let all: Vec<_> = spec.init_containers.iter().flatten().chain(&spec.containers).collect();
    PreScoreState {
        images: all.iter().filter_map(|c| c.image.as_deref()).map(|i| normalized_image_name(i).into_owned()).collect(),
        containers: all.len(),
    }
}

impl PreScorePlugin for ImageLocality {
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, _: &Snapshot, _: &[&NodeInfo]) -> Status {
        state.write(IMAGE_LOCALITY, pod_images(pod));
        Status::success()
    }
}

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> i64 {
        if node.images.is_empty() {
            return 0;
        }
        let computed;
        let st = match state.read::<PreScoreState>(IMAGE_LOCALITY) {
            Some(s) => s,
            None => {
                computed = pod_images(pod);
                &computed
            }
        };
        let total = snapshot.num_nodes().max(1) as f64;
        let mut sum = 0i64;
        for name in &st.images {
            if let Some(&size) = node.images.get(name) {
                let spread = snapshot.image_num_nodes(name) as f64 / total;
                sum += (size as f64 * spread) as i64;
            }
        }
        calculate_priority(sum, st.containers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn names() {
        for (i, o) in [
            ("nginx", "nginx:latest"),
            ("nginx:1.25", "nginx:1.25"),
            ("reg:5000/nginx", "reg:5000/nginx:latest"),
            ("reg:5000/nginx:1", "reg:5000/nginx:1"),
        ] {
            assert_eq!(normalized_image_name(i), o);
        }
    }

    #[test]
    fn score() {
        let big = 600 * MB;
        let snap = snapshot(
            vec![
                node("a").image(&["big:1"], big).build(),
                node("b").image(&["big:1"], big).image(&["small:1"], 10 * MB).build(),
                node("c").build(),
            ],
            vec![],
        );
        let p = pod("p").image("big:1").build();
        // spread 2/3 -> 400MB -> 100 * (400-23)/(1000-23) = 38
        assert_eq!(run_score(&ImageLocality, &p, &snap), vec![38, 38, 0]);
        let small = pod("p").image("small:1").build();
        assert_eq!(run_score(&ImageLocality, &small, &snap), vec![0, 0, 0]);
    }
}
