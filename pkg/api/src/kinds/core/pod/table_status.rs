//! The READY, STATUS and RESTARTS cells of a pod: upstream's reason logic over init
//! containers, sidecars, containers and deletion.

use jiff::Timestamp;
use serde_json::Value;

use crate::table::format::{elapsed, has_deletion_timestamp, int, list, or, parse_time, text};

/// The three summary cells of a pod row.
#[derive(Debug, PartialEq)]
pub(super) struct PodSummary {
    /// `ready/total` containers, sidecars included.
    pub ready: String,
    /// The reason shown as STATUS: a phase, a container state reason, `Init:..`, `Terminating`.
    pub status: String,
    /// The restart count, with `(<age> ago)` of the latest restart when known.
    pub restarts: String,
}

/// The reason upstream's node controller gives pods on an unreachable node.
const NODE_UNREACHABLE_POD_REASON: &str = "NodeLost";

/// Restart count and latest restart time, summed over a set of container statuses.
#[derive(Default, Clone, Copy)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count += int(status, "/restartCount");
        if let Some(finished) = parse_time(status.pointer("/lastState/terminated/finishedAt")) {
            self.last = self.last.max(Some(finished));
        }
    }
}

fn condition_is_true(pod: &Value, condition_type: &str) -> bool {
    list(pod, "/status/conditions")
        .iter()
        .any(|c| text(c, "/type") == condition_type && text(c, "/status") == "True")
}

/// A sidecar: an init container with `restartPolicy: Always`, which keeps running and counts
/// toward READY like a regular container.
fn is_restartable_init_container(pod: &Value, container_name: &str) -> bool {
    list(pod, "/spec/initContainers")
        .iter()
        .any(|c| text(c, "/name") == container_name && text(c, "/restartPolicy") == "Always")
}

/// A terminated state without a reason, as upstream names it: `Signal:N` or `ExitCode:N`.
fn exit_description(terminated: &Value) -> String {
    let signal = int(terminated, "/signal");
    if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!("ExitCode:{}", int(terminated, "/exitCode"))
    }
}

/// READY, STATUS and RESTARTS as upstream's pod printer computes them: the first unfinished init
/// container decides while initialising, then the containers from last to first.
pub(super) fn summarize(pod: &Value, now: Timestamp) -> PodSummary {
    let init_specs = list(pod, "/spec/initContainers");
    let total = list(pod, "/spec/containers").len()
        + init_specs
            .iter()
            .filter(|c| text(c, "/restartPolicy") == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();

    let phase = text(pod, "/status/phase");
    let mut reason = or(text(pod, "/status/reason"), phase).to_string();
    if list(pod, "/status/conditions")
        .iter()
        .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }

    let mut initializing = false;
    for (i, status) in list(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        restarts.add(status);
        let sidecar = is_restartable_init_container(pod, text(status, "/name"));
        if sidecar {
            sidecar_restarts.add(status);
        }
        let terminated = status.pointer("/state/terminated").filter(|t| !t.is_null());
        let waiting_reason = text(status, "/state/waiting/reason");
        match terminated {
            Some(t) if int(t, "/exitCode") == 0 => continue,
            _ if sidecar && status.pointer("/started") == Some(&Value::Bool(true)) => {
                if status.pointer("/ready") == Some(&Value::Bool(true)) {
                    ready += 1;
                }
                continue;
            }
            Some(t) => {
                reason = match text(t, "/reason") {
                    "" => format!("Init:{}", exit_description(t)),
                    r => format!("Init:{r}"),
                };
            }
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                reason = format!("Init:{waiting_reason}");
            }
            None => reason = format!("Init:{i}/{}", init_specs.len()),
        }
        initializing = true;
        break;
    }

    if !initializing || condition_is_true(pod, "Initialized") {
        // Once initialised, only sidecar restarts are still relevant among init containers.
        restarts = sidecar_restarts;
        let mut has_running = false;
        for status in list(pod, "/status/containerStatuses").iter().rev() {
            restarts.add(status);
            let waiting_reason = text(status, "/state/waiting/reason");
            let terminated = status.pointer("/state/terminated").filter(|t| !t.is_null());
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                reason = match text(t, "/reason") {
                    "" => exit_description(t),
                    r => r.to_string(),
                };
            } else if status.pointer("/ready") == Some(&Value::Bool(true))
                && status
                    .pointer("/state/running")
                    .is_some_and(|r| !r.is_null())
            {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose last container completed but another still runs is still Running.
        if reason == "Completed" && has_running {
            reason = if condition_is_true(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }

    if has_deletion_timestamp(pod) {
        if text(pod, "/status/reason") == NODE_UNREACHABLE_POD_REASON {
            reason = "Unknown".to_string();
        } else if phase != "Failed" && phase != "Succeeded" {
            reason = "Terminating".to_string();
        }
    }

    let restarts_cell = match restarts.last {
        Some(last) if restarts.count != 0 => {
            format!("{} ({} ago)", restarts.count, elapsed(last, now))
        }
        _ => restarts.count.to_string(),
    };
    PodSummary {
        ready: format!("{ready}/{total}"),
        status: reason,
        restarts: restarts_cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    /// A pod created 10 minutes before `now()` with the given spec and status.
    fn pod(spec: Value, status: Value) -> Value {
        json!({"kind": "Pod", "apiVersion": "v1",
               "metadata": {"name": "p", "creationTimestamp": "2024-05-01T11:50:00Z"},
               "spec": spec, "status": status})
    }

    fn one_container() -> Value {
        json!({"containers": [{"name": "app", "image": "busybox"}]})
    }

    /// (case, pod, READY, STATUS, RESTARTS)
    fn status_cases() -> Vec<(
        &'static str,
        Value,
        &'static str,
        &'static str,
        &'static str,
    )> {
        let two_inits = json!({"initContainers": [{"name": "i1"}, {"name": "i2"}],
                               "containers": [{"name": "app"}]});
        vec![
            (
                "pending, no statuses",
                pod(one_container(), json!({"phase": "Pending"})),
                "0/1",
                "Pending",
                "0",
            ),
            (
                "no phase at all",
                pod(one_container(), json!({})),
                "0/1",
                "",
                "0",
            ),
            (
                "running and ready",
                pod(
                    one_container(),
                    json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T11:51:00Z"}}}]}),
                ),
                "1/1",
                "Running",
                "0",
            ),
            (
                "container creating",
                pod(
                    one_container(),
                    json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                ),
                "0/1",
                "ContainerCreating",
                "0",
            ),
            (
                "crash loop with last restart",
                pod(
                    one_container(),
                    json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 4,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T11:58:00Z"}}}]}),
                ),
                "0/1",
                "CrashLoopBackOff",
                "4 (2m ago)",
            ),
            (
                "restarts without a last state",
                pod(
                    one_container(),
                    json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}}}]}),
                ),
                "1/1",
                "Running",
                "2",
            ),
            (
                "completed",
                pod(
                    one_container(),
                    json!({"phase": "Succeeded", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                "0/1",
                "Completed",
                "0",
            ),
            (
                "terminated without reason, by signal",
                pod(
                    one_container(),
                    json!({"phase": "Failed", "containerStatuses": [
                {"name": "app", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                ),
                "0/1",
                "Signal:9",
                "0",
            ),
            (
                "terminated without reason, exit code",
                pod(
                    one_container(),
                    json!({"phase": "Failed", "containerStatuses": [
                {"name": "app", "state": {"terminated": {"exitCode": 3}}}]}),
                ),
                "0/1",
                "ExitCode:3",
                "0",
            ),
            (
                "one completed, one running and pod ready",
                pod(
                    json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                    json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [
                    {"name": "a", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "b", "ready": true, "state": {"running": {}}}]}),
                ),
                "1/2",
                "Running",
                "0",
            ),
            (
                "one completed, one running, pod not ready",
                pod(
                    json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                    json!({"phase": "Running", "containerStatuses": [
                    {"name": "a", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "b", "ready": true, "state": {"running": {}}}]}),
                ),
                "1/2",
                "NotReady",
                "0",
            ),
            (
                "first init container running",
                pod(
                    two_inits.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "ready": false, "state": {"running": {}}},
                {"name": "i2", "ready": false, "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                "0/1",
                "Init:0/2",
                "0",
            ),
            (
                "second init container pending",
                pod(
                    two_inits.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                "0/1",
                "Init:1/2",
                "0",
            ),
            (
                "init container crash looping",
                pod(
                    two_inits.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:59:00Z"}}}],
                "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                "0/1",
                "Init:CrashLoopBackOff",
                "3 (60s ago)",
            ),
            (
                "init container failed with reason",
                pod(
                    two_inits.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}),
                ),
                "0/1",
                "Init:Error",
                "0",
            ),
            (
                "init container killed by signal",
                pod(
                    two_inits.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                ),
                "0/1",
                "Init:Signal:9",
                "0",
            ),
            (
                "init container exit code",
                pod(
                    two_inits,
                    json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 5}}}]}),
                ),
                "0/1",
                "Init:ExitCode:5",
                "0",
            ),
            (
                "started sidecar counts toward ready",
                pod(
                    json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}),
                    json!({"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
                       "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1,
                           "state": {"running": {}},
                           "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:00:00Z"}}}],
                       "containerStatuses": [{"name": "app", "ready": true, "restartCount": 1, "state": {"running": {}},
                           "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:30:00Z"}}}]}),
                ),
                "2/2",
                "Running",
                "2 (30m ago)",
            ),
            (
                "scheduling gated",
                pod(
                    one_container(),
                    json!({"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                "0/1",
                "SchedulingGated",
                "0",
            ),
            (
                "status reason wins over phase",
                pod(
                    one_container(),
                    json!({"phase": "Failed", "reason": "Evicted"}),
                ),
                "0/1",
                "Evicted",
                "0",
            ),
        ]
    }

    #[test]
    fn status_ready_and_restarts() {
        for (case, obj, ready, status, restarts) in status_cases() {
            let got = summarize(&obj, now());
            assert_eq!(
                got,
                PodSummary {
                    ready: ready.into(),
                    status: status.into(),
                    restarts: restarts.into()
                },
                "{case}"
            );
        }
    }

    #[test]
    fn deletion_marks_terminating_unless_finished_or_node_lost() {
        let running = json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "state": {"running": {}}}]});
        let cases = [
            (running.clone(), "Terminating"),
            (json!({"phase": "Running", "reason": "NodeLost"}), "Unknown"),
            (json!({"phase": "Succeeded"}), "Succeeded"),
            (json!({"phase": "Failed"}), "Failed"),
        ];
        for (status, want) in cases {
            let mut obj = pod(one_container(), status);
            obj["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
            assert_eq!(summarize(&obj, now()).status, want);
        }
    }
}
