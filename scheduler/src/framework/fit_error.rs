//! Why a pod fits nowhere, in upstream's message form.

use std::collections::BTreeMap;

use super::status::Status;

/// Per-node verdicts of a failed cycle.
#[derive(Clone, Debug, Default)]
pub struct Diagnosis {
    /// Node name -> the first failing filter's status.
    pub node_to_status: BTreeMap<String, Status>,
    /// Status of every node not in `node_to_status` (used when PreFilter or preemption
    /// rejects nodes wholesale).
    pub absent_nodes_status: Option<Status>,
    /// Plugins that rejected at least one node (for the runtime's queueing hints).
    pub unschedulable_plugins: Vec<&'static str>,
}

#[derive(Clone, Debug, Default, thiserror::Error)]
#[error("{}", self.message())]
pub struct FitError {
    pub num_all_nodes: usize,
    pub diagnosis: Diagnosis,
    /// Set when PreFilter rejected the pod; replaces the per-node histogram in the message.
    pub pre_filter_msg: String,
    /// Set by PostFilter (preemption): "preemption: ...".
    pub post_filter_msg: String,
}

impl FitError {
    /// Upstream's `FitError.Error()`: "0/N nodes are available: <count> <reason>, ... ." with the
    /// reason counts sorted as strings, then the PostFilter message.
    pub fn message(&self) -> String {
        if self.num_all_nodes == 0 && self.pre_filter_msg.is_empty() {
            return "no nodes available to schedule pods".to_string();
        }
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if !self.pre_filter_msg.is_empty() {
            msg.push(' ');
            msg.push_str(&self.pre_filter_msg);
            msg.push('.');
        } else {
            let h = reason_histogram(self.num_all_nodes, &self.diagnosis);
            if !h.is_empty() {
                msg.push(' ');
                msg.push_str(&h);
                msg.push('.');
            }
        }
        if !self.post_filter_msg.is_empty() {
            msg.push(' ');
            msg.push_str(&self.post_filter_msg);
        }
        msg
    }
}

/// "2 Insufficient cpu, 1 node(s) were unschedulable": counts per reason, sorted as strings.
pub(crate) fn reason_histogram(num_all_nodes: usize, d: &Diagnosis) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for st in d.node_to_status.values() {
        for r in &st.reasons {
            *counts.entry(r).or_insert(0) += 1;
        }
    }
    if let Some(absent) = &d.absent_nodes_status {
        let n = num_all_nodes.saturating_sub(d.node_to_status.len());
        if n > 0 {
            for r in &absent.reasons {
                *counts.entry(r).or_insert(0) += n;
            }
        }
    }
    let mut parts: Vec<String> = counts.into_iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_forms() {
        let st = |r: &'static str| Status::unschedulable(r);
        let mut d = Diagnosis::default();
        d.node_to_status.insert("a".into(), st("Insufficient cpu"));
        d.node_to_status.insert("b".into(), st("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"));
        d.node_to_status.insert("c".into(), st("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"));
        let mut fe = FitError { num_all_nodes: 3, diagnosis: d, ..Default::default() };
        assert_eq!(
            fe.message(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
        );
        fe.post_filter_msg = "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.".into();
        assert!(fe.message().ends_with(". preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."));

        // String sort, as upstream: "10 ..." sorts before "2 ...".
        let mut d = Diagnosis::default();
        for i in 0..10 {
            d.node_to_status.insert(format!("x{i}"), st("b"));
        }
        d.absent_nodes_status = Some(st("a"));
        let fe = FitError { num_all_nodes: 12, diagnosis: d, ..Default::default() };
        assert_eq!(fe.message(), "0/12 nodes are available: 10 b, 2 a.");

        let fe = FitError { num_all_nodes: 2, pre_filter_msg: "pod has unbound immediate PersistentVolumeClaims".into(), ..Default::default() };
        assert_eq!(fe.message(), "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.");
        assert_eq!(FitError::default().message(), "no nodes available to schedule pods");
    }
}
