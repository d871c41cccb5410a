//! The ReplicaSet and Deployment controllers end to end, through the real kubectl: rollouts
//! within maxSurge/maxUnavailable at every observed step, `kubectl rollout
//! status|history|undo|restart|pause|resume`, scaling in the middle of a rollout, Recreate
//! ordering, progress deadlines, ReplicaSet adoption, release, ranking and failures, and two
//! controller managers with one leader. No kubelet: a test double marks pods ready, as
//! upstream's controller integration tests do.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::fake_kubelet::FakeKubelet;
use common::{namespace, shared, wait_until, Cluster};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn json(c: &Cluster, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&c.ok(&a)).expect("kubectl -o json")
}

fn deployment(ns: &str, name: &str, replicas: i32, image: &str, strategy: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  strategy:\n{strategy}\n{extra_spec}  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        image: {image}\n"
    )
}

fn rolling(surge: &str, unavailable: &str) -> String {
    format!("    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: {surge}\n      maxUnavailable: {unavailable}")
}

/// The ReplicaSets of a namespace as (name, spec.replicas), by name.
fn replicasets(c: &Cluster, ns: &str) -> BTreeMap<String, i64> {
    json(c, &["get", "rs", "-n", ns])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| (rs["metadata"]["name"].as_str().unwrap().to_string(), rs["spec"]["replicas"].as_i64().unwrap()))
        .collect()
}

/// Watches a namespace's ReplicaSets on its own thread and checks `check` against the whole
/// set after every event; what it returns as errors is kept for the test to assert on.
struct StepRecorder {
    stop: Arc<AtomicBool>,
    violations: Arc<Mutex<Vec<String>>>,
    steps: Arc<Mutex<usize>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StepRecorder {
    /// Watches one kind in `ns` and runs `check` on the whole set after every event.
    fn start<K>(c: &Cluster, ns: &str, check: fn(&[K]) -> Option<String>) -> StepRecorder
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + k8s_openapi::serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
    {
        let (stop, violations, steps) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(0)));
        let kubeconfig = c.kubeconfig();
        let (ns, s, v, n) = (ns.to_string(), stop.clone(), violations.clone(), steps.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
                let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
                let api: kube::Api<K> = kube::Api::namespaced(kube::Client::try_from(cfg).unwrap(), &ns);
                let mut stream = Box::pin(watcher(api, watcher::Config::default()));
                let mut all: BTreeMap<String, K> = BTreeMap::new();
                let mut ready = Some(ready_tx);
                while !s.load(Ordering::SeqCst) {
                    let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(100), stream.next()).await else { continue };
                    match event {
                        Ok(watcher::Event::InitApply(o)) => {
                            // The initial list arrives one object at a time; check it whole.
                            all.insert(o.meta().name.clone().unwrap(), o);
                            continue;
                        }
                        Ok(watcher::Event::Apply(o)) => {
                            all.insert(o.meta().name.clone().unwrap(), o);
                        }
                        Ok(watcher::Event::Delete(o)) => {
                            all.remove(o.meta().name.as_deref().unwrap());
                        }
                        Ok(watcher::Event::InitDone) => {
                            if let Some(tx) = ready.take() {
                                let _ = tx.send(());
                            }
                        }
                        _ => continue,
                    }
                    let set: Vec<K> = all.values().cloned().collect();
                    *n.lock().unwrap() += 1;
                    if let Some(problem) = check(&set) {
                        v.lock().unwrap().push(problem);
                    }
                }
            });
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("the step recorder's watch started");
        StepRecorder { stop, violations, steps, thread: Some(thread) }
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        let steps = *self.steps.lock().unwrap();
        (steps, self.violations.lock().unwrap().clone())
    }
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn pod_ready(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

#[test]
fn rolling_update_stays_within_surge_and_unavailable_at_every_step() {
    let c = shared();
    let ns = namespace(c, "roll");
    let _kubelet = FakeKubelet::start(c.kubeconfig(), &ns, None);
    c.ok_stdin(&["apply", "-f", "-"], &deployment(&ns, "web", 6, "nginx:1.22", &rolling("2", "1"), ""));
    let out = c.ok(&["rollout", "status", "-n", &ns, "deployment/web", "--timeout=60s"]);
    assert!(out.contains("deployment \"web\" successfully rolled out"), "{out}");

    // 6 replicas, maxSurge 2, maxUnavailable 1: never more than 8 pods asked for at any step
    // the controllers take, and never fewer than 5 pods serving. Availability is counted from
    // the pods themselves (Ready and not terminating), the truth a user's traffic sees; the
    // ReplicaSets' status counts lag behind it in either direction.
    let recorder = StepRecorder::start(c, &ns, |set: &[ReplicaSet]| {
        let total: i32 = set.iter().map(spec_replicas).sum();
        (total > 8).then(|| format!("{total} replicas asked for: {:?}", set.iter().map(|r| (spec_replicas(r), available(r))).collect::<Vec<_>>()))
    });
    let serving = StepRecorder::start(c, &ns, |pods: &[Pod]| {
        let ready = pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none() && pod_ready(p)).count();
        (ready < 5).then(|| format!("{ready} pods serving of {}", pods.len()))
    });
    c.ok(&["set", "image", "-n", &ns, "deployment/web", "app=nginx:1.23"]);
    let out = c.ok(&["rollout", "status", "-n", &ns, "deployment/web", "--timeout=60s"]);
    assert!(out.contains("Waiting for deployment \"web\" rollout to finish"), "kubectl saw the rollout in progress: {out}");
    assert!(out.trim_end().ends_with("deployment \"web\" successfully rolled out"), "{out}");
    let (steps, violations) = recorder.finish();
    assert!(steps >= 6, "the rollout took several observed steps ({steps})");
    assert!(violations.is_empty(), "maxSurge broken at {} steps: {:?}", violations.len(), violations);
    let (pod_steps, too_few) = serving.finish();
    assert!(pod_steps >= 12, "pods came and went ({pod_steps} events)");
    assert!(too_few.is_empty(), "maxUnavailable broken at {} steps: {:?}", too_few.len(), too_few);

    // Two ReplicaSets: the new one has every pod, the old one none; revisions 1 and 2.
    let sets = replicasets(c, &ns);
    assert_eq!(sets.len(), 2, "{sets:?}");
    assert_eq!(sets.values().copied().collect::<Vec<_>>().iter().sum::<i64>(), 6);
    let d = json(c, &["get", "deployment", "web", "-n", &ns]);
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    assert_eq!(d["status"]["updatedReplicas"], 6);
    assert_eq!(d["status"]["availableReplicas"], 6);
    let conditions = d["status"]["conditions"].as_array().unwrap();
    let reason = |t: &str| conditions.iter().find(|c| c["type"] == t).map(|c| c["reason"].as_str().unwrap().to_string());
    assert_eq!(reason("Progressing").as_deref(), Some("NewReplicaSetAvailable"));
    assert_eq!(reason("Available").as_deref(), Some("MinimumReplicasAvailable"));
    // Every ReplicaSet is named NAME-HASH and its pods carry the hash label.
    for rs in json(c, &["get", "rs", "-n", &ns])["items"].as_array().unwrap() {
        let hash = rs["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
        assert_eq!(rs["metadata"]["name"].as_str().unwrap(), format!("web-{hash}"));
        assert_eq!(rs["spec"]["selector"]["matchLabels"]["pod-template-hash"].as_str(), Some(hash));
    }
    let events = c.ok(&["get", "events", "-n", &ns, "--field-selector", "reason=ScalingReplicaSet", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}"]);
    assert!(events.lines().any(|l| l.starts_with("Scaled up replica set web-") && l.ends_with("from 0 to 6")), "{events}");
    assert!(events.lines().any(|l| l.starts_with("Scaled down replica set web-")), "{events}");
}

#[test]
fn history_undo_and_restart_as_kubectl_expects() {
    let c = shared();
    let ns = namespace(c, "undo");
    let _kubelet = FakeKubelet::start(c.kubeconfig(), &ns, None);
    c.ok_stdin(&["apply", "-f", "-"], &deployment(&ns, "app", 2, "busybox:1.35", &rolling("1", "0"), ""));
    c.ok(&["rollout", "status", "-n", &ns, "deployment/app", "--timeout=60s"]);
    c.ok(&["annotate", "-n", &ns, "deployment/app", "kubernetes.io/change-cause=first"]);
    for (i, image) in ["nginx:1.22", "nginx:1.23"].iter().enumerate() {
        c.ok(&["set", "image", "-n", &ns, "deployment/app", &format!("app={image}")]);
        c.ok(&["annotate", "--overwrite", "-n", &ns, "deployment/app", &format!("kubernetes.io/change-cause=step {}", i + 2)]);
        c.ok(&["rollout", "status", "-n", &ns, "deployment/app", "--timeout=60s"]);
    }
    let history = c.ok(&["rollout", "history", "-n", &ns, "deployment/app"]);
    let rows: Vec<Vec<&str>> = history.lines().skip(2).filter(|l| !l.trim().is_empty()).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), vec!["1", "2", "3"], "{history}");
    assert_eq!(rows[2][1..].join(" "), "step 3", "{history}");
    let rev1 = c.ok(&["rollout", "history", "-n", &ns, "deployment/app", "--revision=1"]);
    assert!(rev1.contains("busybox:1.35"), "{rev1}");

    // Undo to revision 1: its template comes back and becomes revision 4.
    let out = c.ok(&["rollout", "undo", "-n", &ns, "deployment/app", "--to-revision=1"]);
    assert!(out.contains("rolled back"), "{out}");
    c.ok(&["rollout", "status", "-n", &ns, "deployment/app", "--timeout=60s"]);
    let image = c.ok(&["get", "deployment", "app", "-n", &ns, "-o", "jsonpath={.spec.template.spec.containers[0].image}"]);
    assert_eq!(image, "busybox:1.35");
    let history = c.ok(&["rollout", "history", "-n", &ns, "deployment/app"]);
    let revisions: Vec<&str> = history.lines().skip(2).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(revisions, vec!["2", "3", "4"], "{history}");
    assert_eq!(replicasets(c, &ns).len(), 3, "the undone ReplicaSet is reused, not copied");

    // Restart: a new ReplicaSet with the restartedAt annotation in its template.
    c.ok(&["rollout", "restart", "-n", &ns, "deployment/app"]);
    c.ok(&["rollout", "status", "-n", &ns, "deployment/app", "--timeout=60s"]);
    let sets = json(c, &["get", "rs", "-n", &ns]);
    let restarted = sets["items"].as_array().unwrap().iter().find(|rs| rs["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    assert!(restarted.is_some_and(|rs| rs["spec"]["replicas"] == 2), "{sets}");
}

#[test]
fn progress_deadline_exceeded_fails_rollout_status() {
    let c = shared();
    let ns = namespace(c, "deadline");
    let _kubelet = FakeKubelet::start(c.kubeconfig(), &ns, Some("never-ready"));
    c.ok_stdin(&["apply", "-f", "-"], &deployment(&ns, "stuck", 2, "busybox:1.35", &rolling("1", "0"), "  progressDeadlineSeconds: 3\n"));
    c.ok(&["rollout", "status", "-n", &ns, "deployment/stuck", "--timeout=60s"]);
    c.ok(&["set", "image", "-n", &ns, "deployment/stuck", "app=never-ready:1"]);
    let t = Instant::now();
    let out = c.kubectl(&["rollout", "status", "-n", &ns, "deployment/stuck", "--timeout=60s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: deployment \"stuck\" exceeded its progress deadline"), "{stderr}");
    assert!(t.elapsed() < Duration::from_secs(30), "the deadline is noticed without a pod event ({:?})", t.elapsed());
    let d = json(c, &["get", "deployment", "stuck", "-n", &ns]);
    let progressing = d["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Progressing").unwrap().clone();
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    assert!(progressing["message"].as_str().unwrap().ends_with("has timed out progressing."), "{progressing}");
    // The old pods stay: maxUnavailable 0 keeps both available.
    assert_eq!(d["status"]["availableReplicas"], 2);
}

#[test]
fn scaling_in_the_middle_of_a_rollout_is_proportional() {
    let c = shared();
    let ns = namespace(c, "propscale");
    let _kubelet = FakeKubelet::start(c.kubeconfig(), &ns, Some("never-ready"));
    c.ok_stdin(&["apply", "-f", "-"], &deployment(&ns, "big", 10, "busybox:1.35", &rolling("3", "2"), ""));
    c.ok(&["rollout", "status", "-n", &ns, "deployment/big", "--timeout=60s"]);
    c.ok(&["set", "image", "-n", &ns, "deployment/big", "app=never-ready:1"]);
    // Stuck: the old ReplicaSet down to minAvailable (8), the new one up to the surge (13 - 8).
    wait_until(WAIT, "the rollout to stall at 8 old + 5 new", || {
        let mut sizes: Vec<i64> = replicasets(c, &ns).into_values().collect();
        sizes.sort();
        sizes == vec![5, 8]
    });
    c.ok(&["scale", "-n", &ns, "deployment/big", "--replicas=20"]);
    // 10 more (20 + 3 allowed, 13 there) shared in proportion: 8 -> 14, 5 -> 9.
    wait_until(WAIT, "proportional scaling to 14 old + 9 new", || {
        let mut sizes: Vec<i64> = replicasets(c, &ns).into_values().collect();
        sizes.sort();
        sizes == vec![9, 14]
    });
    let rs = json(c, &["get", "rs", "-n", &ns]);
    for r in rs["items"].as_array().unwrap() {
        assert_eq!(r["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"], "20");
        assert_eq!(r["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"], "23");
    }
}

#[test]
fn pause_holds_the_rollout_and_resume_continues_it() {
    let c = shared();
    let ns = namespace(c, "pause");
    let _kubelet = FakeKubelet::start(c.kubeconfig(), &ns, None);
    c.ok_stdin(&["apply", "-f", "-"], &deployment(&ns, "p", 2, "busybox:1.35", &rolling("1", "0"), ""));
    c.ok(&["rollout", "status", "-n", &ns, "deployment/p", "--timeout=60s"]);
    c.ok(&["rollout", "pause", "-n", &ns, "deployment/p"]);
    c.ok(&["set", "image", "-n", &ns, "deployment/p", "app=nginx:1.22"]);
    wait_until(WAIT, "the paused deployment's new generation to be observed", || {
        let d = json(c, &["get", "deployment", "p", "-n", &ns]);
        d["status"]["observedGeneration"] == d["metadata"]["generation"]
    });
    let d = json(c, &["get", "deployment", "p", "-n", &ns]);
    let progressing = d["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Progressing").unwrap().clone();
    assert_eq!(progressing["reason"], "DeploymentPaused", "{progressing}");
    assert_eq!(progressing["status"], "Unknown");
    assert_eq!(replicasets(c, &ns).len(), 1, "no new ReplicaSet while paused");
    c.ok(&["rollout", "resume", "-n", &ns, "deployment/p"]);
    c.ok(&["rollout", "status", "-n", &ns, "deployment/p", "--timeout=60s"]);
    let sets = replicasets(c, &ns);
    assert_eq!(sets.len(), 2, "{sets:?}");
    assert!(sets.values().any(|&r| r == 2) && sets.values().any(|&r| r == 0), "{sets:?}");
}

#[test]
fn recreate_scales_the_old_down_before_the_new_up() {
    let c = shared();
    let ns = namespace(c, "recreate");
    let _kubelet = FakeKubelet::start(c.kubeconfig(), &ns, None);
    c.ok_stdin(&["apply", "-f", "-"], &deployment(&ns, "r", 3, "busybox:1.35", "    type: Recreate", ""));
    c.ok(&["rollout", "status", "-n", &ns, "deployment/r", "--timeout=60s"]);
    // At no step does a ReplicaSet ask for pods while another still has some.
    let recorder = StepRecorder::start(c, &ns, |set: &[ReplicaSet]| {
        let asking: Vec<&ReplicaSet> = set.iter().filter(|r| spec_replicas(r) > 0).collect();
        let with_pods: Vec<&ReplicaSet> = set.iter().filter(|r| r.status.as_ref().is_some_and(|s| s.replicas > 0)).collect();
        asking
            .iter()
            .any(|a| with_pods.iter().any(|w| w.metadata.uid != a.metadata.uid))
            .then(|| format!("two ReplicaSets live at once: {:?}", set.iter().map(|r| (spec_replicas(r), r.status.as_ref().map(|s| s.replicas))).collect::<Vec<_>>()))
    });
    c.ok(&["set", "image", "-n", &ns, "deployment/r", "app=nginx:1.22"]);
    c.ok(&["rollout", "status", "-n", &ns, "deployment/r", "--timeout=60s"]);
    let (steps, violations) = recorder.finish();
    assert!(steps >= 3, "{steps} steps observed");
    assert!(violations.is_empty(), "{violations:?}");
}

fn rs_manifest(ns: &str, name: &str, replicas: i32, label: &str, extra_pod_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {label}\n  template:\n    metadata:\n      labels:\n        app: {label}\n    spec:\n{extra_pod_spec}      containers:\n      - name: c\n        image: busybox:1.35\n"
    )
}

fn pod_manifest(ns: &str, name: &str, label: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: {label}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.35\n")
}

fn pods(c: &Cluster, ns: &str) -> Vec<Value> {
    json(c, &["get", "pods", "-n", ns])["items"].as_array().unwrap().clone()
}

fn controller_uid(pod: &Value) -> Option<String> {
    pod["metadata"]["ownerReferences"].as_array()?.iter().find(|r| r["controller"] == true).map(|r| r["uid"].as_str().unwrap().to_string())
}

#[test]
fn replicaset_adopts_orphans_and_releases_pods_that_stop_matching() {
    let c = shared();
    let ns = namespace(c, "adopt");
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "orphan-a", "adopt"));
    c.ok_stdin(&["apply", "-f", "-"], &pod_manifest(&ns, "orphan-b", "adopt"));
    c.ok_stdin(&["apply", "-f", "-"], &rs_manifest(&ns, "keeper", 3, "adopt", ""));
    let uid = c.ok(&["get", "rs", "keeper", "-n", &ns, "-o", "jsonpath={.metadata.uid}"]);
    wait_until(WAIT, "both orphans adopted and one pod created", || {
        let ps = pods(c, &ns);
        ps.len() == 3 && ps.iter().all(|p| controller_uid(p).as_deref() == Some(uid.as_str()))
    });
    let names: Vec<String> = pods(c, &ns).iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert!(names.contains(&"orphan-a".to_string()) && names.contains(&"orphan-b".to_string()), "{names:?}");
    let owner = &pods(c, &ns).into_iter().find(|p| p["metadata"]["name"] == "orphan-a").unwrap()["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ReplicaSet");
    assert_eq!(owner["blockOwnerDeletion"], true);

    // A pod relabelled out of the selector is released and replaced.
    c.ok(&["label", "--overwrite", "-n", &ns, "pod/orphan-a", "app=elsewhere"]);
    wait_until(WAIT, "orphan-a released and replaced", || {
        let ps = pods(c, &ns);
        let released = ps.iter().find(|p| p["metadata"]["name"] == "orphan-a").is_some_and(|p| controller_uid(p).is_none());
        released && ps.iter().filter(|p| controller_uid(p).as_deref() == Some(uid.as_str())).count() == 3
    });
    let rs = json(c, &["get", "rs", "keeper", "-n", &ns]);
    assert_eq!(rs["status"]["replicas"], 3);
    assert_eq!(rs["status"]["fullyLabeledReplicas"], 3);
    assert_eq!(rs["status"]["observedGeneration"], rs["metadata"]["generation"]);
}

#[test]
fn replicaset_scales_down_the_least_useful_pods_first() {
    let c = shared();
    let ns = namespace(c, "rank");
    c.ok_stdin(&["apply", "-f", "-"], &rs_manifest(&ns, "ranked", 3, "rank", ""));
    wait_until(WAIT, "three pods", || pods(c, &ns).len() == 3);
    // One pod Running and Ready, one Running but not ready, one left Pending.
    let names: Vec<String> = pods(c, &ns).iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    let status = |ready: bool| {
        format!(
            "{{\"status\":{{\"phase\":\"Running\",\"conditions\":[{{\"type\":\"Ready\",\"status\":\"{}\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}}]}}}}",
            if ready { "True" } else { "False" }
        )
    };
    c.ok(&["patch", "pod", &names[0], "-n", &ns, "--subresource=status", "--type=merge", "-p", &status(true)]);
    c.ok(&["patch", "pod", &names[1], "-n", &ns, "--subresource=status", "--type=merge", "-p", &status(false)]);
    c.ok(&["scale", "-n", &ns, "rs/ranked", "--replicas=1"]);
    wait_until(WAIT, "one pod left", || pods(c, &ns).len() == 1);
    assert_eq!(pods(c, &ns)[0]["metadata"]["name"].as_str().unwrap(), names[0], "the ready pod is kept");
    let events = c.ok(&["get", "events", "-n", &ns, "--field-selector", "reason=SuccessfulDelete", "-o", "jsonpath={.items[*].message}"]);
    assert!(events.contains(&format!("Deleted pod: {}", names[2])) && events.contains(&format!("Deleted pod: {}", names[1])), "{events}");
}

#[test]
fn a_refused_pod_create_shows_as_replica_failure() {
    let c = shared();
    let ns = namespace(c, "failure");
    c.ok_stdin(&["apply", "-f", "-"], &rs_manifest(&ns, "refused", 2, "refused", "      priorityClassName: no-such-class\n"));
    wait_until(WAIT, "the ReplicaFailure condition", || {
        let rs = json(c, &["get", "rs", "refused", "-n", &ns]);
        rs["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "ReplicaFailure" && c["status"] == "True" && c["reason"] == "FailedCreate"))
    });
    let events = c.ok(&["get", "events", "-n", &ns, "--field-selector", "reason=FailedCreate", "-o", "jsonpath={.items[*].message}"]);
    assert!(events.contains("Error creating: ") && events.contains("no-such-class"), "{events}");
    // The controller backs off rather than looping hot: few create attempts in a few seconds.
    std::thread::sleep(Duration::from_secs(3));
    let count = c.ok(&["get", "events", "-n", &ns, "--field-selector", "reason=FailedCreate", "-o", "jsonpath={.items[*].count}"]);
    let total: i64 = count.split_whitespace().map(|n| n.parse::<i64>().unwrap()).sum();
    assert!((1..=20).contains(&total), "{total} failed creates recorded in about 3 s");
    assert!(pods(c, &ns).is_empty());
}

/// A `corekube controller-manager` process against `c`.
fn controller_manager(c: &Cluster, log: &str) -> std::process::Child {
    let out = std::fs::File::create(c.dir.path().join(log)).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_corekube"));
    cmd.args(["controller-manager", "--kubeconfig"]).arg(c.dir.path().join("data/controller-manager.kubeconfig")).stdout(out.try_clone().unwrap()).stderr(out);
    corekube_testsupport::spawn_owned(cmd).expect("corekube controller-manager starts")
}

fn lease_holder(c: &Cluster) -> String {
    c.kubectl(&["get", "lease", "-n", "kube-system", "kube-controller-manager", "-o", "jsonpath={.spec.holderIdentity}"]).stdout.iter().map(|&b| b as char).collect()
}

#[test]
fn two_controller_managers_one_leader_and_failover() {
    let c = Cluster::start_with_external_etcd(&["--disable", "controller-manager"]);
    let mut first = controller_manager(&c, "cm1.log");
    wait_until(WAIT, "the first controller manager to lead", || !lease_holder(&c).is_empty());
    let leader = lease_holder(&c);
    let mut second = controller_manager(&c, "cm2.log");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lease_holder(&c), leader, "the standby does not take a held lease");

    let ns = namespace(&c, "leader");
    c.ok_stdin(&["apply", "-f", "-"], &rs_manifest(&ns, "once", 5, "once", ""));
    wait_until(WAIT, "five pods", || pods(&c, &ns).len() == 5);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(pods(&c, &ns).len(), 5, "one leader acts: no pod is created twice");

    // The leader stops (releasing its lease): the standby takes over at once.
    let t = Instant::now();
    unsafe {
        libc::kill(first.id() as i32, libc::SIGTERM);
    }
    let _ = first.wait();
    wait_until(WAIT, "the standby to lead", || {
        let h = lease_holder(&c);
        !h.is_empty() && h != leader
    });
    let failover = t.elapsed();
    c.ok(&["scale", "-n", &ns, "rs/once", "--replicas=2"]);
    wait_until(WAIT, "the new leader to scale down", || pods(&c, &ns).len() == 2);
    assert!(failover < Duration::from_secs(10), "failover after a clean stop took {failover:?}");
    let transitions = c.ok(&["get", "lease", "-n", "kube-system", "kube-controller-manager", "-o", "jsonpath={.spec.leaseTransitions}"]);
    assert!(transitions.parse::<i32>().unwrap() >= 1, "{transitions}");
    let _ = second.kill();
    let _ = second.wait();
}
