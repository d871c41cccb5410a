//! Node lifecycle (upstream's node_lifecycle_controller): every `--node-monitor-period` each
//! node's heartbeats are checked. A node whose kubelet neither renewed its Lease
//! (kube-node-lease) nor posted status for `--node-monitor-grace-period` gets its conditions set
//! to Unknown, its pods marked not ready and a NodeNotReady event. Taints follow the conditions,
//! as upstream's TaintNodesByCondition and taint-based evictions: Ready=False gives
//! `not-ready`, Ready=Unknown gives `unreachable` (NoExecute and NoSchedule), pressure
//! conditions and spec.unschedulable give their NoSchedule taints, and they go when the
//! condition clears.
//!
//! Silence is measured on this controller's own clock, from when it last saw a heartbeat
//! change, so the kubelet's clock does not matter.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::taints;
use crate::informers::Informers;
use crate::util::Ctx;

/// The namespace of the kubelets' heartbeat Leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// The conditions a silent node's kubelet can no longer vouch for.
const KUBELET_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

struct State {
    base: Arc<Ctx<Node>>,
    nodes: Store<Node>,
    leases: Store<Lease>,
    pods: Store<Pod>,
    grace: Duration,
}

/// The last heartbeat seen of a node, and when it was seen to change.
struct Heard {
    status_heartbeat: Option<Time>,
    lease_renewal: Option<MicroTime>,
    changed_at: Instant,
}

pub(crate) fn start(informers: &mut Informers, client: kube::Client, options: &super::Options, shutdown: CancellationToken) -> crate::Running {
    let state = State {
        base: Ctx::new(client, "node-lifecycle-controller"),
        nodes: informers.store::<Node>(),
        leases: informers.store::<Lease>(),
        pods: informers.store::<Pod>(),
        grace: options.node_monitor_grace_period,
    };
    let period = options.node_monitor_period;
    Box::pin(async move {
        let mut heard: HashMap<String, Heard> = HashMap::new();
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            monitor(&state, &mut heard).await;
        }
    })
}

/// One pass over every node.
async fn monitor(state: &State, heard: &mut HashMap<String, Heard>) {
    let nodes = state.nodes.state();
    heard.retain(|name, _| nodes.iter().any(|n| &n.name_any() == name));
    for node in nodes {
        let name = node.name_any();
        let lease = state.leases.get(&ObjectRef::new(&name).within(NODE_LEASE_NAMESPACE));
        let status_heartbeat = condition(&node, "Ready").and_then(|c| c.last_heartbeat_time.clone());
        let lease_renewal = lease.and_then(|l| l.spec.as_ref().and_then(|s| s.renew_time.clone()));
        let h = heard.entry(name.clone()).or_insert_with(|| Heard { status_heartbeat: None, lease_renewal: None, changed_at: Instant::now() });
        if h.status_heartbeat != status_heartbeat || h.lease_renewal != lease_renewal {
            *h = Heard { status_heartbeat, lease_renewal, changed_at: Instant::now() };
        }
        let silent = h.changed_at.elapsed() > state.grace;
        let mut current = node.as_ref().clone();
        if silent {
            match mark_unknown(state, &current).await {
                Ok(Some(updated)) => current = updated,
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(node = %name, error = %e, "cannot mark the node Unknown; next pass");
                    continue;
                }
            }
        }
        if let Err(e) = sync_taints(state, &current).await {
            tracing::debug!(node = %name, error = %e, "cannot update the node's taints; next pass");
        }
    }
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// Sets the kubelet's conditions to Unknown (upstream's tryUpdateNodeHealth); the written node
/// if anything changed.
async fn mark_unknown(state: &State, node: &Node) -> Result<Option<Node>, kube::Error> {
    let now = Time(jiff::Timestamp::now());
    let mut updated = node.clone();
    let status = updated.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    let mut became_unknown = false;
    for type_ in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == *type_) {
            None => {
                conditions.push(NodeCondition {
                    type_: type_.to_string(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
                became_unknown |= *type_ == "Ready";
            }
            Some(c) if c.status != "Unknown" => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(now.clone());
                changed = true;
                became_unknown |= *type_ == "Ready";
            }
            Some(_) => {}
        }
    }
    if !changed {
        return Ok(None);
    }
    let api: Api<Node> = Api::all(state.base.client.clone());
    let written = api.replace_status(&node.name_any(), &PostParams::default(), &updated).await?;
    if became_unknown {
        let name = node.name_any();
        tracing::info!(node = %name, "node stopped posting status: Ready=Unknown");
        state.base.event(&node.object_ref(&()), EventType::Normal, "NodeNotReady", format!("Node {name} status is now: NodeNotReady")).await;
        mark_pods_not_ready(state, &name).await;
    }
    Ok(Some(written))
}

/// Upstream's MarkPodsNotReady: the pods of a silent node are not ready any more.
async fn mark_pods_not_ready(state: &State, node: &str) {
    let now = Time(jiff::Timestamp::now());
    for pod in state.pods.state() {
        let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
        let ready = pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if !on_node || !ready {
            continue;
        }
        let api: Api<Pod> = Api::namespaced(state.base.client.clone(), &pod.namespace().unwrap_or_default());
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}]}});
        if let Err(e) = api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(patch)).await {
            tracing::debug!(pod = %pod.name_any(), error = %e, "cannot mark the pod not ready");
        }
    }
}

/// The taints the node's conditions call for, keyed by (key, effect).
fn wanted_taints(node: &Node) -> Vec<(&'static str, &'static str)> {
    let status_of = |t: &str| condition(node, t).map(|c| c.status.as_str());
    let mut wanted = Vec::new();
    match status_of("Ready") {
        Some("False") => wanted.extend([(taints::NOT_READY, "NoExecute"), (taints::NOT_READY, "NoSchedule")]),
        Some("Unknown") => wanted.extend([(taints::UNREACHABLE, "NoExecute"), (taints::UNREACHABLE, "NoSchedule")]),
        _ => {}
    }
    for (cond, key) in [("MemoryPressure", taints::MEMORY_PRESSURE), ("DiskPressure", taints::DISK_PRESSURE), ("PIDPressure", taints::PID_PRESSURE), ("NetworkUnavailable", taints::NETWORK_UNAVAILABLE)] {
        if status_of(cond) == Some("True") {
            wanted.push((key, "NoSchedule"));
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        wanted.push((taints::UNSCHEDULABLE, "NoSchedule"));
    }
    wanted
}

fn managed(t: &Taint) -> bool {
    [taints::NOT_READY, taints::UNREACHABLE, taints::MEMORY_PRESSURE, taints::DISK_PRESSURE, taints::PID_PRESSURE, taints::NETWORK_UNAVAILABLE, taints::UNSCHEDULABLE]
        .contains(&t.key.as_str())
}

/// Brings the managed taints in line with the conditions, keeping every other taint and the
/// time a kept NoExecute taint was added.
async fn sync_taints(state: &State, node: &Node) -> Result<(), kube::Error> {
    let current: Vec<Taint> = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let wanted = wanted_taints(node);
    let have: BTreeMap<(String, String), &Taint> = current.iter().filter(|t| managed(t)).map(|t| ((t.key.clone(), t.effect.clone()), t)).collect();
    let want_keys: Vec<(String, String)> = wanted.iter().map(|(k, e)| (k.to_string(), e.to_string())).collect();
    if have.keys().cloned().collect::<Vec<_>>() == { let mut w = want_keys.clone(); w.sort(); w } {
        return Ok(());
    }
    let now = Time(jiff::Timestamp::now());
    let mut taints: Vec<Taint> = current.iter().filter(|t| !managed(t)).cloned().collect();
    for (key, effect) in want_keys {
        let kept = have.get(&(key.clone(), effect.clone())).map(|t| (*t).clone());
        taints.push(kept.unwrap_or(Taint { key, effect: effect.clone(), value: None, time_added: (effect == "NoExecute").then(|| now.clone()) }));
    }
    let api: Api<Node> = Api::all(state.base.client.clone());
    let patch = json!({"metadata": {"resourceVersion": node.metadata.resource_version}, "spec": {"taints": taints}});
    api.patch(&node.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus};

    fn node(ready: &str, unschedulable: bool) -> Node {
        Node {
            spec: Some(NodeSpec { unschedulable: Some(unschedulable), ..Default::default() }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition { type_: "Ready".into(), status: ready.into(), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn taints_follow_conditions() {
        assert_eq!(wanted_taints(&node("True", false)), vec![]);
        assert_eq!(wanted_taints(&node("False", false)), vec![(taints::NOT_READY, "NoExecute"), (taints::NOT_READY, "NoSchedule")]);
        assert_eq!(
            wanted_taints(&node("Unknown", true)),
            vec![(taints::UNREACHABLE, "NoExecute"), (taints::UNREACHABLE, "NoSchedule"), (taints::UNSCHEDULABLE, "NoSchedule")]
        );
    }
}
