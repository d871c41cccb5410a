//! `Framework`: a profile's plugins wired to the extension points, and one scheduling cycle.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;

use super::cycle_state::CycleState;
use super::fit_error::{Diagnosis, FitError};
use super::interface::{FilterPlugin, Plugin, PostFilterResult, ScorePlugin};
use super::node_info::{NodeInfo, PodInfo};
use super::profile::Profile;
use super::snapshot::Snapshot;
use super::status::{Code, Status};

/// Upstream's `minFeasibleNodesToFind`.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Upstream's `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum FrameworkError {
    #[error("plugin {0:?} is not registered")]
    UnknownPlugin(String),
}

/// Where the pod should go, and how much of the cluster was looked at to decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleResult {
    pub node: String,
    pub evaluated_nodes: usize,
    pub feasible_nodes: usize,
}

pub struct Framework {
    profile: Profile,
    plugins: Vec<Arc<dyn Plugin>>,
    pre_filter: Vec<usize>,
    filter: Vec<usize>,
    post_filter: Vec<usize>,
    pre_score: Vec<usize>,
    /// (plugin index, weight)
    score: Vec<(usize, i64)>,
    reserve: Vec<usize>,
    queue_sort: Option<usize>,
    /// Where the next cycle starts filtering (upstream's `nextStartNodeIndex`), so that
    /// partial evaluation of a large cluster rotates over all nodes.
    next_start: AtomicUsize,
}

/// How many feasible nodes to find before scoring (upstream `numFeasibleNodesToFind`):
/// all nodes below 100; otherwise `percentage` (0 = adaptive `50 - nodes/125`, at least 5%)
/// of them, but at least 100.
pub fn num_feasible_nodes_to_find(percentage: u32, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100 {
        return num_all_nodes;
    }
    let mut pct = percentage as usize;
    if pct == 0 {
        pct = 50usize.saturating_sub(num_all_nodes / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    (num_all_nodes * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

impl Framework {
    /// Builds the profile's plugins from the in-tree registry.
    pub fn new(profile: Profile) -> Result<Framework, FrameworkError> {
        let mut plugins = Vec::with_capacity(profile.plugins.len());
        for e in &profile.plugins {
            let p = crate::plugins::new_plugin(e.name, &profile).ok_or_else(|| FrameworkError::UnknownPlugin(e.name.into()))?;
            plugins.push(p);
        }
        Ok(Framework::with_plugins(profile, plugins))
    }

    /// Wires already-built plugins (out-of-tree or fakes); weights come from the profile's
    /// entry of the same name, default 1.
    pub fn with_plugins(profile: Profile, plugins: Vec<Arc<dyn Plugin>>) -> Framework {
        let mut fw = Framework {
            profile,
            plugins,
            pre_filter: vec![],
            filter: vec![],
            post_filter: vec![],
            pre_score: vec![],
            score: vec![],
            reserve: vec![],
            queue_sort: None,
            next_start: AtomicUsize::new(0),
        };
        for (i, p) in fw.plugins.iter().enumerate() {
            if p.as_queue_sort().is_some() && fw.queue_sort.is_none() {
                fw.queue_sort = Some(i);
            }
            if p.as_pre_filter().is_some() {
                fw.pre_filter.push(i);
            }
            if p.as_filter().is_some() {
                fw.filter.push(i);
            }
            if p.as_post_filter().is_some() {
                fw.post_filter.push(i);
            }
            if p.as_pre_score().is_some() {
                fw.pre_score.push(i);
            }
            if p.as_score().is_some() {
                let w = fw.profile.plugins.iter().find(|e| e.name == p.name()).map_or(1, |e| e.weight);
                fw.score.push((i, w));
            }
            if p.as_reserve().is_some() {
                fw.reserve.push(i);
            }
        }
        fw
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn scheduler_name(&self) -> &str {
        &self.profile.scheduler_name
    }

    /// The queue order: whether `a` goes before `b`. Without a QueueSort plugin, FIFO.
    pub fn queue_sort_less(&self, a: &Pod, a_ts: Instant, b: &Pod, b_ts: Instant) -> bool {
        match self.queue_sort.and_then(|i| self.plugins[i].as_queue_sort()) {
            Some(qs) => qs.less(a, a_ts, b, b_ts),
            None => a_ts < b_ts,
        }
    }

    /// Runs every PreFilter. Err is the first rejection (or error), tagged with its plugin.
    pub fn run_pre_filter(&self, pod: &Pod, snapshot: &Snapshot) -> Result<CycleState, Status> {
        let mut state = CycleState::new();
        for &i in &self.pre_filter {
            let p = &self.plugins[i];
            let st = p.as_pre_filter().expect("registered as pre-filter").pre_filter(&mut state, pod, snapshot);
            match st.code {
                Code::Success => {}
                Code::Skip => state.skip_filter.push(p.name()),
                _ => return Err(st.with_plugin(p.name())),
            }
        }
        Ok(state)
    }

    /// Tells the PreFilter state that `added` now runs on `node` (preemption's what-if).
    pub fn run_pre_filter_add_pod(&self, state: &mut CycleState, pod: &Pod, added: &PodInfo, node: &NodeInfo, snapshot: &Snapshot) {
        for &i in &self.pre_filter {
            let p = &self.plugins[i];
            if !state.skip_filter.contains(&p.name()) {
                p.as_pre_filter().expect("pre-filter").add_pod(state, pod, added, node, snapshot);
            }
        }
    }

    /// Tells the PreFilter state that `removed` no longer runs on `node`.
    pub fn run_pre_filter_remove_pod(&self, state: &mut CycleState, pod: &Pod, removed: &PodInfo, node: &NodeInfo, snapshot: &Snapshot) {
        for &i in &self.pre_filter {
            let p = &self.plugins[i];
            if !state.skip_filter.contains(&p.name()) {
                p.as_pre_filter().expect("pre-filter").remove_pod(state, pod, removed, node, snapshot);
            }
        }
    }

    fn active_filters<'a>(&'a self, state: &CycleState) -> Vec<&'a dyn FilterPlugin> {
        self.filter
            .iter()
            .map(|&i| &self.plugins[i])
            .filter(|p| !state.skip_filter.contains(&p.name()))
            .filter_map(|p| p.as_filter())
            .collect()
    }

    /// Runs the Filters on one node, stopping at the first that fails (as upstream).
    pub fn run_filters(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Status {
        run_filter_list(&self.active_filters(state), state, pod, node, snapshot)
    }

    /// One scheduling cycle: PreFilter, Filter (over a rotating window of nodes, see
    /// `num_feasible_nodes_to_find`), PreScore, Score, NormalizeScore, weights; the highest total
    /// wins and ties go to the first node in evaluation order. A pod whose
    /// `status.nominatedNodeName` still fits goes there without scoring, as upstream.
    // A failed cycle is rare next to the filter work; the FitError is not worth boxing.
    #[allow(clippy::result_large_err)]
    pub fn schedule(&self, pod: &Pod, snapshot: &Snapshot) -> Result<ScheduleResult, FitError> {
        let n = snapshot.num_nodes();
        if n == 0 {
            return Err(FitError::default());
        }
        let mut state = match self.run_pre_filter(pod, snapshot) {
            Ok(s) => s,
            Err(st) => {
                return Err(FitError {
                    num_all_nodes: n,
                    pre_filter_msg: st.message(),
                    diagnosis: Diagnosis {
                        unschedulable_plugins: vec![st.plugin],
                        absent_nodes_status: Some(st),
                        ..Default::default()
                    },
                    ..Default::default()
                });
            }
        };
        let filters = self.active_filters(&state);
        let nodes = snapshot.nodes();

        if let Some(nominated) = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()) {
            if let Some(ni) = snapshot.node_info(nominated) {
                if run_filter_list(&filters, &state, pod, ni, snapshot).is_success() {
                    return Ok(ScheduleResult { node: nominated.to_string(), evaluated_nodes: 1, feasible_nodes: 1 });
                }
            }
        }

        let to_find = num_feasible_nodes_to_find(self.profile.percentage_of_nodes_to_score, n);
        let start = self.next_start.load(Ordering::Relaxed) % n;
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(to_find.min(n));
        let mut failed: Vec<(usize, Status)> = Vec::new();
        let mut processed = 0;
        for k in 0..n {
            let i = if start + k >= n { start + k - n } else { start + k };
            processed += 1;
            let st = run_filter_list(&filters, &state, pod, &nodes[i], snapshot);
            if st.is_success() {
                feasible.push(&nodes[i]);
                if feasible.len() >= to_find {
                    break;
                }
            } else {
                failed.push((i, st));
            }
        }
        self.next_start.store((start + processed) % n, Ordering::Relaxed);

        if feasible.is_empty() {
            let mut d = Diagnosis::default();
            for (i, st) in failed {
                if !st.plugin.is_empty() && !d.unschedulable_plugins.contains(&st.plugin) {
                    d.unschedulable_plugins.push(st.plugin);
                }
                d.node_to_status.insert(nodes[i].name().to_string(), st);
            }
            return Err(FitError { num_all_nodes: n, diagnosis: d, ..Default::default() });
        }
        let result = |ni: &NodeInfo| ScheduleResult {
            node: ni.name().to_string(),
            evaluated_nodes: processed,
            feasible_nodes: feasible.len(),
        };
        if feasible.len() == 1 {
            return Ok(result(feasible[0]));
        }

        let totals = self.run_score(&mut state, pod, snapshot, &feasible);
        let mut best = 0;
        for (i, &t) in totals.iter().enumerate() {
            if t > totals[best] {
                best = i;
            }
        }
        Ok(result(feasible[best]))
    }

    /// PreScore, Score, NormalizeScore and weights over `nodes`; the weighted totals.
    pub fn run_score(&self, state: &mut CycleState, pod: &Pod, snapshot: &Snapshot, nodes: &[&NodeInfo]) -> Vec<i64> {
        for &i in &self.pre_score {
            let p = &self.plugins[i];
            let st = p.as_pre_score().expect("pre-score").pre_score(state, pod, snapshot, nodes);
            if st.code == Code::Skip {
                state.skip_score.push(p.name());
            }
        }
        let mut totals = vec![0i64; nodes.len()];
        let mut scores = vec![0i64; nodes.len()];
        for &(i, weight) in &self.score {
            let p = &self.plugins[i];
            if state.skip_score.contains(&p.name()) {
                continue;
            }
            let sp: &dyn ScorePlugin = p.as_score().expect("score");
            for (s, ni) in scores.iter_mut().zip(nodes) {
                *s = sp.score(state, pod, ni, snapshot);
            }
            sp.normalize_score(state, pod, nodes, &mut scores);
            for (t, s) in totals.iter_mut().zip(&scores) {
                *t += s * weight;
            }
        }
        totals
    }

    /// Runs PostFilter (preemption) after `schedule` failed; records its message in `fit`.
    pub fn run_post_filter(&self, pod: &Pod, snapshot: &Snapshot, fit: &mut FitError) -> PostFilterResult {
        let mut last = PostFilterResult::default();
        for &i in &self.post_filter {
            let r = self.plugins[i].as_post_filter().expect("post-filter").post_filter(self, pod, snapshot, fit);
            if r.nominated_node.is_some() {
                fit.post_filter_msg = r.message.clone();
                return r;
            }
            last = r;
        }
        fit.post_filter_msg = last.message.clone();
        last
    }

    /// Runs Reserve; on failure the ones already run are unreserved (reverse order).
    pub fn run_reserve(&self, state: &mut CycleState, pod: &Pod, node: &str) -> Status {
        for (k, &i) in self.reserve.iter().enumerate() {
            let p = &self.plugins[i];
            let st = p.as_reserve().expect("reserve").reserve(state, pod, node);
            if !st.is_success() {
                for &j in self.reserve[..k].iter().rev() {
                    self.plugins[j].as_reserve().expect("reserve").unreserve(state, pod, node);
                }
                return st.with_plugin(p.name());
            }
        }
        Status::success()
    }

    pub fn run_unreserve(&self, state: &mut CycleState, pod: &Pod, node: &str) {
        for &i in self.reserve.iter().rev() {
            self.plugins[i].as_reserve().expect("reserve").unreserve(state, pod, node);
        }
    }
}

fn run_filter_list(filters: &[&dyn FilterPlugin], state: &CycleState, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Status {
    for f in filters {
        let st = f.filter(state, pod, node, snapshot);
        if !st.is_success() {
            return st.with_plugin(f.name());
        }
    }
    Status::success()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    fn fw() -> Framework {
        Framework::new(Profile::default()).unwrap()
    }

    #[test]
    fn feasible_nodes_to_find() {
        for (pct, nodes, want) in [
            (0, 50, 50),
            (0, 99, 99),
            (0, 100, 100),
            (0, 1000, 420),
            (0, 5000, 500),
            (0, 6000, 300),
            (0, 20000, 1000),
            (100, 5000, 5000),
            (1, 5000, 100),
            (30, 1000, 300),
        ] {
            assert_eq!(num_feasible_nodes_to_find(pct, nodes), want, "{pct}% of {nodes}");
        }
    }

    #[test]
    fn picks_least_allocated_node() {
        let snap = snapshot(
            vec![node("a").build(), node("b").build(), node("c").build()],
            vec![pod("x").node("a").container("3", "6Gi").build(), pod("y").node("c").container("1", "1Gi").build()],
        );
        let r = fw().schedule(&pod("p").container("500m", "512Mi").build(), &snap).unwrap();
        assert_eq!(r, ScheduleResult { node: "b".into(), evaluated_nodes: 3, feasible_nodes: 3 });
    }

    #[test]
    fn filters_combine() {
        let snap = snapshot(
            vec![
                node("cp").taint("node-role.kubernetes.io/control-plane", "", "NoSchedule").build(),
                node("small").alloc("cpu", "1").build(),
                node("ssd").label("disk", "ssd").build(),
                node("hdd").label("disk", "hdd").build(),
            ],
            vec![],
        );
        let p = pod("p").container("2", "").node_selector(&[("disk", "ssd")]).build();
        assert_eq!(fw().schedule(&p, &snap).unwrap().node, "ssd");
        let p = pod("p").container("2", "").node_selector(&[("disk", "nvme")]).build();
        let fe = fw().schedule(&p, &snap).unwrap_err();
        // The first failing filter per node is reported, in MultiPoint order.
        assert_eq!(
            fe.message(),
            "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
             3 node(s) didn't match Pod's node affinity/selector."
        );
        assert_eq!(fe.diagnosis.unschedulable_plugins, vec!["TaintToleration", "NodeAffinity"]);
        let p = pod("p").container("6", "").build();
        assert_eq!(
            fw().schedule(&p, &snap).unwrap_err().message(),
            "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient cpu."
        );
    }

    #[test]
    fn prefers_weighted_scores() {
        // TaintToleration (weight 3) outweighs NodeResourcesFit (weight 1).
        let snap = snapshot(
            vec![node("empty-but-tainted").taint("k", "v", "PreferNoSchedule").build(), node("busy").build()],
            vec![pod("x").node("busy").container("2", "4Gi").build()],
        );
        assert_eq!(fw().schedule(&pod("p").container("100m", "").build(), &snap).unwrap().node, "busy");
    }

    #[test]
    fn nominated_node_first() {
        let snap = snapshot(vec![node("a").build(), node("b").build()], vec![pod("x").node("b").container("3", "").build()]);
        let r = fw().schedule(&pod("p").nominated("b").build(), &snap).unwrap();
        assert_eq!((r.node.as_str(), r.evaluated_nodes), ("b", 1));
        // A nominated node that no longer fits is ignored.
        let r = fw().schedule(&pod("p").container("2", "").nominated("b").build(), &snap).unwrap();
        assert_eq!(r.node, "a");
    }

    #[test]
    fn no_nodes_and_prefilter_failure() {
        assert_eq!(fw().schedule(&pod("p").build(), &snapshot(vec![], vec![])).unwrap_err().message(), "no nodes available to schedule pods");
        let p = pod("p").pvc("missing").build();
        let fe = fw().schedule(&p, &snapshot(vec![node("a").build()], vec![])).unwrap_err();
        assert_eq!(fe.message(), "0/1 nodes are available: persistentvolumeclaim \"missing\" not found.");
    }

    #[test]
    fn large_cluster_evaluates_a_rotating_window() {
        let nodes: Vec<_> = (0..5000).map(|i| node(&format!("n{i:04}")).label("zone", &format!("z{}", i % 3)).build()).collect();
        let pods: Vec<_> = (0..5000).map(|i| pod(&format!("x{i}")).node(&format!("n{i:04}")).container("100m", "100Mi").build()).collect();
        let snap = snapshot(nodes, pods);
        let fw = fw();
        let p = pod("p").container("200m", "200Mi").build();
        let r1 = fw.schedule(&p, &snap).unwrap();
        assert_eq!((r1.evaluated_nodes, r1.feasible_nodes), (500, 500));
        let r2 = fw.schedule(&p, &snap).unwrap();
        assert_eq!(r2.evaluated_nodes, 500);
        // The second cycle starts where the first stopped.
        assert!(r2.node.as_str() >= "n0500" && r2.node.as_str() < "n1000", "{}", r2.node);
        // Heavier pods (spread constraint, anti-affinity of nobody) still work at this size.
        let p = pod("p")
            .labels(&[("app", "w")])
            .spread(1, "zone", "DoNotSchedule", selector(&[("app", "w")]))
            .spread(1, "kubernetes.io/hostname", "ScheduleAnyway", selector(&[("app", "w")]))
            .container("200m", "")
            .build();
        assert!(fw.schedule(&p, &snap).is_ok());
    }

    #[test]
    fn snapshot_incremental_updates() {
        let mut snap = snapshot(vec![node("b").image(&["img:1"], 100).build()], vec![pod("early").node("a").container("1", "").build()]);
        assert!(snap.node_info("a").is_none());
        snap.upsert_node(Arc::new(node("a").image(&["img:1"], 100).build()));
        assert_eq!(snap.nodes().iter().map(|n| n.name()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(snap.node_info("a").unwrap().requested.milli_cpu, 1000, "orphan pod adopted");
        assert_eq!(snap.image_num_nodes("img:1"), 2);
        let p = pod("p").node("b").container("2", "1Gi").build();
        snap.add_pod(Arc::new(p.clone()));
        assert_eq!(snap.node_info("b").unwrap().requested.milli_cpu, 2000);
        assert!(snap.remove_pod(&p));
        assert_eq!(snap.node_info("b").unwrap().requested, crate::resources::Resource::default());
        snap.remove_node("b");
        assert_eq!(snap.image_num_nodes("img:1"), 1);
        assert_eq!(snap.node_index("a"), Some(0));
        // Updating a node keeps its pods.
        snap.upsert_node(Arc::new(node("a").alloc("cpu", "8").build()));
        let a = snap.node_info("a").unwrap();
        assert_eq!((a.allocatable.milli_cpu, a.pods.len()), (8000, 1));
        assert_eq!(snap.image_num_nodes("img:1"), 0);
    }

    #[test]
    fn queue_sort_and_unknown_plugin() {
        let t = Instant::now();
        assert!(fw().queue_sort_less(&pod("a").priority(5).build(), t + std::time::Duration::from_secs(1), &pod("b").build(), t));
        let mut profile = Profile::default();
        profile.plugins.push(crate::framework::PluginEntry { name: "Nope", weight: 1 });
        assert!(matches!(Framework::new(profile), Err(FrameworkError::UnknownPlugin(_))));
    }
}
