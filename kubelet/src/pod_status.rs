//! A pod's status as upstream's kubelet reports it, computed from what the runtime shows:
//! phase, conditions, container statuses (state, last state, restarts, readiness), IPs and
//! QoS class. Pure: the pod worker gathers the observations and writes the result.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, HostIP, Pod,
    PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::cri;

/// What the pod worker knows of one container of the spec.
#[derive(Clone, Debug, Default)]
pub struct ObservedContainer {
    /// The newest instance the runtime has.
    pub latest: Option<cri::ContainerStatus>,
    /// The instance before it, for `lastState`.
    pub previous: Option<cri::ContainerStatus>,
    pub restart_count: i32,
    /// Why it is not running now, when the kubelet knows better than the runtime
    /// (ErrImagePull, CrashLoopBackOff, ...): (reason, message).
    pub waiting: Option<(String, String)>,
    /// The readiness probe's verdict (true when it has none and the container runs).
    pub ready: bool,
    /// Whether its startup probe succeeded (true when it has none and the container runs).
    pub started: bool,
}

/// Everything a status is computed from.
pub struct Observed<'a> {
    pub pod: &'a Pod,
    /// The status last written (upstream's status manager keeps its own): transition times and
    /// the start time carry over from it. The pod's copy from the watch can be older than
    /// what was written, and comparing with it made conditions flip and be written again.
    pub previous: Option<&'a PodStatus>,
    pub pod_ip: Option<String>,
    pub host_ip: String,
    /// Whether the sandbox is running with its network set up.
    pub sandbox_ready: bool,
    pub init: BTreeMap<String, ObservedContainer>,
    pub containers: BTreeMap<String, ObservedContainer>,
    pub now: Time,
}

/// A runtime timestamp as the API keeps times: to the second.
fn time_from_nanos(nanos: i64) -> Option<Time> {
    (nanos > 0).then(|| jiff::Timestamp::from_second(nanos / 1_000_000_000).ok()).flatten().map(Time)
}

/// Now, to the second as the API keeps times, so that a status computed again compares equal
/// to the one written.
pub fn now() -> Time {
    Time(jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
}

/// The API form of one runtime container's state.
fn state_of(c: &cri::ContainerStatus) -> ContainerState {
    match cri::ContainerState::try_from(c.state).unwrap_or(cri::ContainerState::ContainerUnknown) {
        cri::ContainerState::ContainerRunning => ContainerState { running: Some(ContainerStateRunning { started_at: time_from_nanos(c.started_at) }), ..Default::default() },
        cri::ContainerState::ContainerExited => ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: c.exit_code,
                reason: Some(if c.reason.is_empty() { if c.exit_code == 0 { "Completed".into() } else { "Error".into() } } else { c.reason.clone() }),
                message: (!c.message.is_empty()).then(|| c.message.clone()),
                started_at: time_from_nanos(c.started_at),
                finished_at: time_from_nanos(c.finished_at),
                container_id: Some(format!("containerd://{}", c.id)),
                signal: None,
            }),
            ..Default::default()
        },
        _ => ContainerState { waiting: Some(ContainerStateWaiting { reason: Some("ContainerCreating".into()), message: None }), ..Default::default() },
    }
}

pub fn is_running(c: &cri::ContainerStatus) -> bool {
    c.state == cri::ContainerState::ContainerRunning as i32
}

pub fn is_exited(c: &cri::ContainerStatus) -> bool {
    c.state == cri::ContainerState::ContainerExited as i32
}

fn container_status(name: &str, image: &str, observed: Option<&ObservedContainer>, init_pending: bool) -> ContainerStatus {
    let waiting = |reason: &str, message: Option<String>| ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message }),
        ..Default::default()
    };
    let default_reason = if init_pending { "PodInitializing" } else { "ContainerCreating" };
    let Some(o) = observed else {
        return ContainerStatus { name: name.into(), image: image.into(), state: Some(waiting(default_reason, None)), ..Default::default() };
    };
    let (state, last) = match (&o.waiting, &o.latest) {
        (Some((reason, message)), latest) => {
            (waiting(reason, Some(message.clone()).filter(|m| !m.is_empty())), latest.as_ref().filter(|l| is_exited(l)).map(state_of))
        }
        (None, Some(latest)) => (state_of(latest), o.previous.as_ref().map(state_of)),
        (None, None) => (waiting(default_reason, None), None),
    };
    let running = state.running.is_some();
    let latest = o.latest.as_ref();
    ContainerStatus {
        name: name.into(),
        image: image.into(),
        image_id: latest.map(|l| l.image_ref.clone()).unwrap_or_default(),
        container_id: latest.map(|l| format!("containerd://{}", l.id)),
        ready: running && o.ready,
        started: Some(running && o.started),
        restart_count: o.restart_count,
        state: Some(state),
        last_state: Some(last.unwrap_or_default()),
        ..Default::default()
    }
}

/// The phase upstream's kubelet would report (its getPhase).
fn phase(pod: &Pod, init_done: bool, init_failed: bool, statuses: &[ContainerStatus]) -> &'static str {
    let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    if init_failed {
        return "Failed";
    }
    if !init_done {
        return "Pending";
    }
    let (mut running, mut waiting, mut succeeded, mut failed, mut unstarted) = (0, 0, 0, 0, 0);
    for s in statuses {
        let state = s.state.as_ref();
        if state.is_some_and(|st| st.running.is_some()) {
            running += 1;
        } else if let Some(t) = state.and_then(|st| st.terminated.as_ref()) {
            if t.exit_code == 0 { succeeded += 1 } else { failed += 1 }
        } else if s.last_state.as_ref().is_some_and(|l| l.terminated.is_some()) {
            // Waiting to be restarted.
            waiting += 1;
        } else {
            unstarted += 1;
        }
    }
    if unstarted > 0 {
        return "Pending";
    }
    if running > 0 || waiting > 0 {
        return "Running";
    }
    match policy {
        "Always" => "Running",
        "OnFailure" if failed > 0 => "Running",
        _ if failed > 0 => "Failed",
        _ if succeeded > 0 => "Succeeded",
        _ => "Pending",
    }
}

/// A condition, keeping the previous transition time when its status did not change.
fn condition(previous: &[PodCondition], kind: &str, ok: bool, reason: Option<&str>, now: &Time) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let since = previous.iter().find(|c| c.type_ == kind && c.status == status).and_then(|c| c.last_transition_time.clone()).unwrap_or_else(|| now.clone());
    PodCondition {
        type_: kind.into(),
        status: status.into(),
        reason: reason.filter(|_| !ok).map(String::from),
        last_transition_time: Some(since),
        ..Default::default()
    }
}

/// The pod's QoS class: the one the API server recorded at creation (upstream's GetPodQOS),
/// else computed by the API's own rule.
pub fn qos_class(pod: &Pod) -> String {
    match pod.status.as_ref().and_then(|s| s.qos_class.clone()) {
        Some(qos) if !qos.is_empty() => qos,
        _ => corekube_api::qos::qos_class(&serde_json::to_value(pod).unwrap_or_default()).to_string(),
    }
}

/// The status to write for the pod.
pub fn compute(o: &Observed) -> PodStatus {
    let spec = o.pod.spec.clone().unwrap_or_default();
    let previous = o.previous.or(o.pod.status.as_ref()).cloned().unwrap_or_default();
    let old_conditions = previous.conditions.clone().unwrap_or_default();
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("Always");

    // Init containers run one after the other; the pod is initialized once each exited 0.
    let mut init_statuses = Vec::new();
    let mut init_done = true;
    let mut init_failed = false;
    for c in spec.init_containers.iter().flatten() {
        let observed = o.init.get(&c.name);
        let status = container_status(&c.name, c.image.as_deref().unwrap_or_default(), observed, false);
        let term = status.state.as_ref().and_then(|s| s.terminated.as_ref());
        match term {
            Some(t) if t.exit_code == 0 => {}
            Some(_) if restart_policy == "Never" => {
                init_done = false;
                init_failed = true;
            }
            _ => init_done = false,
        }
        init_statuses.push(status);
    }
    let statuses: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(&c.name, c.image.as_deref().unwrap_or_default(), o.containers.get(&c.name), !init_done))
        .collect();
    let phase = phase(o.pod, init_done, init_failed, &statuses);
    let all_ready = !statuses.is_empty() && statuses.iter().all(|s| s.ready);
    let not_ready_reason = if phase == "Succeeded" || phase == "Failed" { "PodCompleted" } else { "ContainersNotReady" };
    let mut conditions = vec![
        condition(&old_conditions, "PodReadyToStartContainers", o.sandbox_ready, None, &o.now),
        condition(&old_conditions, "Initialized", init_done || phase == "Succeeded", Some(if phase == "Succeeded" || phase == "Failed" { "PodCompleted" } else { "ContainersNotInitialized" }), &o.now),
        condition(&old_conditions, "Ready", all_ready, Some(not_ready_reason), &o.now),
        condition(&old_conditions, "ContainersReady", all_ready, Some(not_ready_reason), &o.now),
    ];
    if let Some(scheduled) = old_conditions.iter().find(|c| c.type_ == "PodScheduled") {
        conditions.push(scheduled.clone());
    }
    // Upstream names the containers a condition waits for.
    let unready: Vec<&str> = statuses.iter().filter(|s| !s.ready).map(|s| s.name.as_str()).collect();
    for c in conditions.iter_mut().filter(|c| (c.type_ == "Ready" || c.type_ == "ContainersReady") && c.status == "False" && not_ready_reason == "ContainersNotReady") {
        c.message = Some(format!("containers with unready status: [{}]", unready.join(" ")));
    }
    let pod_ips = o.pod_ip.iter().map(|ip| PodIP { ip: ip.clone() }).collect::<Vec<_>>();
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        host_ip: Some(o.host_ip.clone()),
        host_ips: Some(vec![HostIP { ip: o.host_ip.clone() }]),
        pod_ip: o.pod_ip.clone(),
        pod_ips: (!pod_ips.is_empty()).then_some(pod_ips),
        start_time: previous.start_time.clone().or_else(|| Some(o.now.clone())),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        qos_class: Some(qos_class(o.pod)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(policy: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "a", "image": "busybox:1.35"}]},
            "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}
        }))
        .unwrap()
    }

    fn cri_status(state: cri::ContainerState, exit_code: i32) -> cri::ContainerStatus {
        cri::ContainerStatus { id: "c1".into(), state: state as i32, exit_code, started_at: 1_700_000_000_000_000_000, image_ref: "sha256:x".into(), ..Default::default() }
    }

    fn observe(pod: &Pod, a: Option<ObservedContainer>) -> PodStatus {
        let containers = a.into_iter().map(|o| ("a".to_string(), o)).collect();
        let now = Time(jiff::Timestamp::UNIX_EPOCH);
        compute(&Observed { pod, previous: None, pod_ip: Some("10.42.0.5".into()), host_ip: "192.0.2.1".into(), sandbox_ready: true, init: BTreeMap::new(), containers, now })
    }

    #[test]
    fn a_running_ready_container_makes_a_running_ready_pod() {
        let p = pod("Always");
        let s = observe(&p, Some(ObservedContainer { latest: Some(cri_status(cri::ContainerState::ContainerRunning, 0)), ready: true, started: true, ..Default::default() }));
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let ready = s.conditions.as_ref().unwrap().iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
        let cs = &s.container_statuses.unwrap()[0];
        assert!(cs.ready && cs.state.as_ref().unwrap().running.is_some());
        assert_eq!(cs.container_id.as_deref(), Some("containerd://c1"));
        assert_eq!(s.pod_ip.as_deref(), Some("10.42.0.5"));
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    }

    #[test]
    fn phases_follow_the_restart_policy() {
        let exited = |code| Some(ObservedContainer { latest: Some(cri_status(cri::ContainerState::ContainerExited, code)), ..Default::default() });
        assert_eq!(observe(&pod("Never"), exited(0)).phase.as_deref(), Some("Succeeded"));
        assert_eq!(observe(&pod("Never"), exited(1)).phase.as_deref(), Some("Failed"));
        assert_eq!(observe(&pod("OnFailure"), exited(1)).phase.as_deref(), Some("Running"));
        assert_eq!(observe(&pod("Always"), exited(0)).phase.as_deref(), Some("Running"));
        assert_eq!(observe(&pod("Always"), None).phase.as_deref(), Some("Pending"));
        let s = observe(&pod("Never"), exited(1));
        let t = s.container_statuses.unwrap()[0].state.clone().unwrap().terminated.unwrap();
        assert_eq!((t.exit_code, t.reason.as_deref()), (1, Some("Error")));
    }

    #[test]
    fn a_crash_looping_container_waits_with_its_last_termination() {
        let o = ObservedContainer {
            latest: Some(cri_status(cri::ContainerState::ContainerExited, 2)),
            restart_count: 3,
            waiting: Some(("CrashLoopBackOff".into(), "back-off 40s restarting failed container=a pod=p_ns(u)".into())),
            ..Default::default()
        };
        let s = observe(&pod("Always"), Some(o));
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let cs = &s.container_statuses.unwrap()[0];
        assert_eq!(cs.state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap().exit_code, 2);
        assert_eq!(cs.restart_count, 3);
    }

    #[test]
    fn qos_classes_as_upstream() {
        let with = |resources: serde_json::Value| -> Pod { serde_json::from_value(json!({"spec": {"containers": [{"name": "a", "resources": resources}]}})).unwrap() };
        assert_eq!(qos_class(&with(json!({}))), "BestEffort");
        assert_eq!(qos_class(&with(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))), "Guaranteed");
        assert_eq!(qos_class(&with(json!({"requests": {"cpu": "1"}}))), "Burstable");
    }
}
