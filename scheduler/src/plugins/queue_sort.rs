//! PrioritySort: higher `spec.priority` first, then earlier queue time.

use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{Plugin, QueueSortPlugin};
use crate::plugins::names::PRIORITY_SORT;

pub struct PrioritySort;

/// The pod's priority (`spec.priority`, 0 when unset), as upstream's `corev1helpers.PodPriority`.
pub fn pod_priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// Whether the pod with (`a_priority`, `a_ts`) goes before (`b_priority`, `b_ts`).
pub fn less<T: PartialOrd>(a_priority: i32, a_ts: T, b_priority: i32, b_ts: T) -> bool {
    a_priority > b_priority || (a_priority == b_priority && a_ts < b_ts)
}

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        PRIORITY_SORT
    }
    fn as_queue_sort(&self) -> Option<&dyn QueueSortPlugin> {
        Some(self)
    }
}

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &Pod, a_ts: Instant, b: &Pod, b_ts: Instant) -> bool {
        less(pod_priority(a), a_ts, pod_priority(b), b_ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order() {
        let cases = [
            ((10, 5), (0, 1), true),
            ((0, 1), (10, 5), false),
            ((5, 1), (5, 2), true),
            ((5, 2), (5, 1), false),
            ((5, 1), (5, 1), false),
            ((-1, 0), (0, 9), false),
        ];
        for ((ap, at), (bp, bt), want) in cases {
            assert_eq!(less(ap, at, bp, bt), want, "{ap}@{at} vs {bp}@{bt}");
        }
        let t = Instant::now();
        let hi = crate::testing::pod("a").priority(100).build();
        let lo = crate::testing::pod("b").build();
        assert!(PrioritySort.less(&hi, t + std::time::Duration::from_secs(1), &lo, t));
    }
}
