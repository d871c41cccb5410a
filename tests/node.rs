//! The node, end to end: corekube's own containerd, runc and CNI bridge run the pods the real
//! kubectl creates, and the kubelet reports them as upstream's does (phases, restarts,
//! back-off, images, volumes, environment, graceful deletion, adoption after a restart). One
//! cluster with a node serves most tests here, namespaces keeping them apart; the restart test
//! has its own, on another pod range.

mod common;

use std::time::Duration;

use common::{http_get, namespace, node_cluster, wait_until, Cluster};

fn jsonpath(c: &Cluster, ns: &str, obj: &str, path: &str) -> String {
    c.ok(&["get", "-n", ns, obj, "-o", &format!("jsonpath={path}")])
}

fn wait_phase(c: &Cluster, ns: &str, pod: &str, phase: &str, within: Duration) {
    wait_until(within, &format!("pod {pod} to be {phase}"), || jsonpath(c, ns, &format!("pod/{pod}"), "{.status.phase}") == phase);
}

#[test]
fn the_node_registers_ready_with_its_capacity_and_images() {
    let c = node_cluster();
    let node = c.node_name();
    wait_until(Duration::from_secs(30), "the node to be Ready", || {
        jsonpath(c, "default", &format!("node/{node}"), "{.status.conditions[?(@.type==\"Ready\")].status}") == "True"
    });
    let info = jsonpath(c, "default", &format!("node/{node}"), "{.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion}");
    assert!(info.starts_with("v1.33.") && info.contains("containerd://"), "{info}");
    let capacity = jsonpath(c, "default", &format!("node/{node}"), "{.status.capacity.pods} {.status.allocatable.cpu}");
    assert!(capacity.starts_with("110 "), "{capacity}");
    let images = jsonpath(c, "default", &format!("node/{node}"), "{.status.images[*].names}");
    assert!(images.contains("docker.io/library/nginx:1.22") && images.contains("registry.k8s.io/pause:3.10"), "{images}");
    assert_eq!(jsonpath(c, "kube-node-lease", &format!("lease/{node}"), "{.spec.holderIdentity}"), node);
}

#[test]
fn an_nginx_pod_runs_and_answers_on_its_pod_ip_then_deletes_gracefully() {
    let c = node_cluster();
    let ns = namespace(c, "web");
    c.ok(&["run", "web", "-n", &ns, "--image=nginx:1.22", "--port=80"]);
    wait_until(Duration::from_secs(60), "web to be Ready", || jsonpath(c, &ns, "pod/web", "{.status.conditions[?(@.type==\"Ready\")].status}") == "True");
    let ip = jsonpath(c, &ns, "pod/web", "{.status.podIP}");
    assert!(ip.starts_with("10.42."), "{ip}");
    let page = http_get(&ip, 80).expect("nginx answers on the pod IP");
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("Welcome to nginx!"), "{page}");
    let status = jsonpath(c, &ns, "pod/web", "{.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount} {.status.qosClass}");
    assert_eq!(status, "true 0 BestEffort");
    let events = c.ok(&["get", "events", "-n", &ns, "--field-selector", "involvedObject.name=web", "-o", "jsonpath={.items[*].reason}"]);
    for reason in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(events.contains(reason), "{reason} missing from {events}");
    }
    // `kubectl delete` waits for the kubelet to stop the container and finish the deletion.
    let started = std::time::Instant::now();
    c.ok(&["delete", "pod", "web", "-n", &ns, "--timeout=60s"]);
    assert!(started.elapsed() < Duration::from_secs(30), "deletion took {:?}", started.elapsed());
    assert!(http_get(&ip, 80).is_err(), "nothing answers on the pod IP once it is deleted");
}

#[test]
fn a_grace_period_is_honoured_before_the_container_is_killed() {
    let c = node_cluster();
    let ns = namespace(c, "grace");
    c.ok(&["run", "stubborn", "-n", &ns, "--image=busybox:1.35", "--command", "--", "sh", "-c", "trap '' TERM; while true; do sleep 1; done"]);
    wait_phase(c, &ns, "stubborn", "Running", Duration::from_secs(60));
    let started = std::time::Instant::now();
    c.ok(&["delete", "pod", "stubborn", "-n", &ns, "--grace-period=4", "--timeout=60s"]);
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(20), "a 4 s grace period took {took:?}");
}

#[test]
fn restart_policies_and_crash_loop_back_off() {
    let c = node_cluster();
    let ns = namespace(c, "restarts");
    c.ok(&["run", "crash", "-n", &ns, "--image=busybox:1.35", "--command", "--", "sh", "-c", "exit 3"]);
    c.ok(&["run", "once", "-n", &ns, "--image=busybox:1.35", "--restart=Never", "--command", "--", "sh", "-c", "exit 0"]);
    c.ok(&["run", "fails", "-n", &ns, "--image=busybox:1.35", "--restart=Never", "--command", "--", "sh", "-c", "exit 7"]);
    wait_phase(c, &ns, "once", "Succeeded", Duration::from_secs(60));
    wait_phase(c, &ns, "fails", "Failed", Duration::from_secs(60));
    assert_eq!(jsonpath(c, &ns, "pod/fails", "{.status.containerStatuses[0].state.terminated.exitCode}"), "7");
    // Restarted at once, then after 10 s: two restarts within about 15 s, and waiting in
    // CrashLoopBackOff in between, with the last exit code kept.
    wait_until(Duration::from_secs(40), "two restarts", || jsonpath(c, &ns, "pod/crash", "{.status.containerStatuses[0].restartCount}").parse::<i32>().unwrap_or(0) >= 2);
    wait_until(Duration::from_secs(30), "CrashLoopBackOff", || {
        jsonpath(c, &ns, "pod/crash", "{.status.containerStatuses[0].state.waiting.reason}") == "CrashLoopBackOff"
    });
    assert_eq!(jsonpath(c, &ns, "pod/crash", "{.status.containerStatuses[0].lastState.terminated.exitCode}"), "3");
    assert_eq!(jsonpath(c, &ns, "pod/crash", "{.status.phase}"), "Running");
    let table = c.ok(&["get", "pod", "crash", "-n", &ns, "--no-headers"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
}

#[test]
fn init_containers_volumes_and_environment_reach_the_containers() {
    let c = node_cluster();
    let ns = namespace(c, "wiring");
    let out = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg}}
data: {{greeting: hello, color: blue}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds}}
stringData: {{password: s3cret}}
---
apiVersion: v1
kind: Pod
metadata: {{name: wired, labels: {{app: wired}}}}
spec:
  restartPolicy: Never
  initContainers:
  - name: first
    image: busybox:1.35
    command: ["sh", "-c", "echo first > /shared/order"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  - name: second
    image: busybox:1.35
    command: ["sh", "-c", "echo second >> /shared/order"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  containers:
  - name: main
    image: busybox:1.35
    command: ["sh", "-c", "cat /shared/order > /out/order; cat /cfg/greeting > /out/volume; echo \"$GREETING $PASSWORD $POD $APP $COLOR_X\" > /out/env"]
    env:
    - {{name: GREETING, valueFrom: {{configMapKeyRef: {{name: cfg, key: greeting}}}}}}
    - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
    - {{name: POD, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: APP, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['app']"}}}}}}
    - {{name: COLOR_X, value: "$(color)-x"}}
    envFrom: [{{configMapRef: {{name: cfg}}}}]
    volumeMounts:
    - {{name: shared, mountPath: /shared}}
    - {{name: cfg, mountPath: /cfg}}
    - {{name: out, mountPath: /out}}
  volumes:
  - {{name: shared, emptyDir: {{}}}}
  - {{name: cfg, configMap: {{name: cfg}}}}
  - {{name: out, hostPath: {{path: {out}, type: Directory}}}}
"#,
        out = out.path().display()
    );
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], &manifest);
    wait_phase(c, &ns, "wired", "Succeeded", Duration::from_secs(90));
    let read = |f: &str| std::fs::read_to_string(out.path().join(f)).unwrap_or_default();
    assert_eq!(read("order"), "first\nsecond\n", "init containers ran in order, sharing an emptyDir");
    assert_eq!(read("volume"), "hello");
    assert_eq!(read("env"), "hello s3cret wired wired blue-x\n");
    let init = jsonpath(c, &ns, "pod/wired", "{.status.initContainerStatuses[*].state.terminated.reason}");
    assert_eq!(init, "Completed Completed");
}

#[test]
fn a_missing_image_or_config_map_says_why_the_pod_waits() {
    let c = node_cluster();
    let ns = namespace(c, "waiting");
    c.ok(&["run", "nope", "-n", &ns, "--image=registry.invalid/nothing:1.0"]);
    c.ok(&["run", "never", "-n", &ns, "--image=registry.invalid/nothing:1.0", "--image-pull-policy=Never"]);
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: needs-config}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.35\n    command: [sleep, '1000']\n    env: [{name: X, valueFrom: {configMapKeyRef: {name: absent, key: k}}}]\n";
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], manifest);
    let reason = |pod: &str| jsonpath(c, &ns, &format!("pod/{pod}"), "{.status.containerStatuses[0].state.waiting.reason}");
    wait_until(Duration::from_secs(60), "an image pull failure", || matches!(reason("nope").as_str(), "ErrImagePull" | "ImagePullBackOff"));
    wait_until(Duration::from_secs(30), "ErrImageNeverPull", || reason("never") == "ErrImageNeverPull");
    wait_until(Duration::from_secs(30), "CreateContainerConfigError", || reason("needs-config") == "CreateContainerConfigError");
    let message = jsonpath(c, &ns, "pod/needs-config", "{.status.containerStatuses[0].state.waiting.message}");
    assert_eq!(message, "configmap \"absent\" not found");
    // Once the ConfigMap exists, the container starts.
    c.ok(&["create", "configmap", "absent", "-n", &ns, "--from-literal=k=v"]);
    wait_phase(c, &ns, "needs-config", "Running", Duration::from_secs(60));
}

#[test]
fn a_restarted_node_adopts_its_running_containers_without_restarting_them() {
    // Its own cluster (it restarts), on its own pod range and bridge.
    let mut c = Cluster::start_node_on("10.42.251.0/24", &["--keep-pods-on-exit"]);
    let ns = namespace(&c, "adopt");
    c.ok(&["run", "steady", "-n", &ns, "--image=busybox:1.35", "--command", "--", "sleep", "3600"]);
    wait_phase(&c, &ns, "steady", "Running", Duration::from_secs(60));
    let before = jsonpath(&c, &ns, "pod/steady", "{.status.containerStatuses[0].containerID}");
    assert!(before.starts_with("containerd://"), "{before}");
    c.restart();
    // The node comes back, finds the container running and reports it as it was.
    let node = c.node_name();
    wait_until(Duration::from_secs(30), "the node's status to be posted again", || {
        jsonpath(&c, "default", &format!("node/{node}"), "{.status.conditions[?(@.type==\"Ready\")].status}") == "True"
    });
    std::thread::sleep(Duration::from_secs(3));
    let after = jsonpath(&c, &ns, "pod/steady", "{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.phase}");
    assert_eq!(after, format!("{before} 0 Running"));
    // This cluster keeps its pods on exit: delete the pod so nothing is left running.
    c.ok(&["delete", "pod", "steady", "-n", &ns, "--grace-period=1", "--timeout=60s"]);
}

#[test]
fn failing_liveness_probes_restart_containers_with_upstreams_events() {
    let c = node_cluster();
    let ns = namespace(c, "liveness");
    let manifest = r#"apiVersion: v1
kind: Pod
metadata: {name: exec-live}
spec:
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "touch /tmp/healthy; sleep 4; rm /tmp/healthy; sleep 600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 2
      terminationGracePeriodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: tcp-live}
spec:
  containers:
  - name: c
    image: busybox:1.35
    command: ["httpd", "-f", "-p", "8080"]
    livenessProbe:
      tcpSocket: {port: 8081}
      periodSeconds: 1
      failureThreshold: 1
      terminationGracePeriodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: http-live}
spec:
  containers:
  - name: web
    image: nginx:1.22
    ports: [{name: http, containerPort: 80}]
    livenessProbe:
      httpGet: {path: /missing, port: http}
      periodSeconds: 1
      failureThreshold: 1
      terminationGracePeriodSeconds: 1
"#;
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], manifest);
    for pod in ["exec-live", "tcp-live", "http-live"] {
        wait_until(Duration::from_secs(60), &format!("{pod} to be restarted by its liveness probe"), || {
            jsonpath(c, &ns, &format!("pod/{pod}"), "{.status.containerStatuses[0].restartCount}").parse::<i32>().unwrap_or(0) >= 1
        });
    }
    let events = c.ok(&["get", "events", "-n", &ns, "-o", "jsonpath={range .items[*]}{.involvedObject.name} {.reason} {.message}{\"\\n\"}{end}"]);
    assert!(events.contains("exec-live Unhealthy Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory"), "{events}");
    assert!(events.contains("exec-live Killing Container c failed liveness probe, will be restarted"), "{events}");
    assert!(events.contains("tcp-live Unhealthy Liveness probe failed: dial tcp 10.42.250."), "{events}");
    assert!(events.contains("http-live Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 404"), "{events}");
}

#[test]
fn readiness_follows_the_probe_both_ways() {
    let c = node_cluster();
    let ns = namespace(c, "readiness");
    let manifest = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data: {index.html: "<h1>hello</h1>"}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: web
    image: nginx:1.22
    readinessProbe:
      httpGet: {path: /ready.html, port: 80}
      periodSeconds: 1
    volumeMounts: [{name: site, mountPath: /usr/share/nginx/html}]
  volumes: [{name: site, configMap: {name: site}}]
"#;
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], manifest);
    let ready = || jsonpath(c, &ns, "pod/web", "{.status.containerStatuses[0].ready}/{.status.conditions[?(@.type==\"Ready\")].status}");
    wait_phase(c, &ns, "web", "Running", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ready(), "false/False", "no /ready.html yet");
    // The ConfigMap gains the page; the volume is rewritten in place and the probe passes.
    c.ok(&["patch", "configmap", "site", "-n", &ns, "--type=merge", "-p", r#"{"data":{"ready.html":"ok"}}"#]);
    wait_until(Duration::from_secs(40), "web to become ready", || ready() == "true/True");
    c.ok(&["patch", "configmap", "site", "-n", &ns, "--type=json", "-p", r#"[{"op":"remove","path":"/data/ready.html"}]"#]);
    wait_until(Duration::from_secs(40), "web to become unready", || ready() == "false/False");
    assert_eq!(jsonpath(c, &ns, "pod/web", "{.status.containerStatuses[0].restartCount}"), "0", "readiness never restarts");
}

#[test]
fn a_startup_probe_holds_off_liveness_for_a_slow_starter() {
    let c = node_cluster();
    let ns = namespace(c, "startup");
    let manifest = r#"apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "sleep 6; touch /tmp/up; sleep 600"]
    startupProbe:
      exec: {command: ["cat", "/tmp/up"]}
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      exec: {command: ["cat", "/tmp/up"]}
      periodSeconds: 1
      failureThreshold: 1
"#;
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], manifest);
    wait_phase(c, &ns, "slow", "Running", Duration::from_secs(60));
    assert_eq!(jsonpath(c, &ns, "pod/slow", "{.status.containerStatuses[0].started}"), "false");
    wait_until(Duration::from_secs(40), "slow to be started and ready", || {
        jsonpath(c, &ns, "pod/slow", "{.status.containerStatuses[0].started}/{.status.containerStatuses[0].ready}") == "true/true"
    });
    assert_eq!(jsonpath(c, &ns, "pod/slow", "{.status.containerStatuses[0].restartCount}"), "0", "liveness waited for the startup probe");
}

#[test]
fn hooks_termination_messages_claims_and_memory_limits() {
    let c = node_cluster();
    let ns = namespace(c, "lifecycle");
    let out = tempfile::tempdir().unwrap();
    let disk = tempfile::tempdir().unwrap();
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: hooked}}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    lifecycle:
      postStart: {{exec: {{command: ["sh", "-c", "echo started > /out/post-start"]}}}}
      preStop: {{exec: {{command: ["sh", "-c", "sleep 2; echo stopping > /out/pre-stop"]}}}}
    volumeMounts: [{{name: out, mountPath: /out}}]
  volumes: [{{name: out, hostPath: {{path: {out}}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: says-bye}}
spec:
  restartPolicy: Never
  containers:
  - {{name: c, image: "busybox:1.35", command: ["sh", "-c", "echo bye > /dev/termination-log; exit 1"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: falls-back}}
spec:
  restartPolicy: Never
  containers:
  - {{name: c, image: "busybox:1.35", command: ["sh", "-c", "echo oops; exit 2"], terminationMessagePolicy: FallbackToLogsOnError}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {{name: {ns}-disk}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  hostPath: {{path: {disk}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
  volumeName: {ns}-disk
  storageClassName: ""
---
apiVersion: v1
kind: Pod
metadata: {{name: writer}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "echo kept > /data/file"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: data}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: hungry}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "head -c 300m /dev/zero | tail"]
    resources: {{limits: {{memory: 32Mi}}}}
"#,
        out = out.path().display(),
        disk = disk.path().display()
    );
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], &manifest);
    let term = |pod: &str, field: &str| jsonpath(c, &ns, &format!("pod/{pod}"), &format!("{{.status.containerStatuses[0].state.terminated.{field}}}"));
    wait_phase(c, &ns, "says-bye", "Failed", Duration::from_secs(60));
    assert_eq!(term("says-bye", "message"), "bye\n");
    wait_phase(c, &ns, "falls-back", "Failed", Duration::from_secs(60));
    assert_eq!(term("falls-back", "message"), "oops");
    wait_phase(c, &ns, "writer", "Succeeded", Duration::from_secs(60));
    assert_eq!(std::fs::read_to_string(disk.path().join("file")).unwrap(), "kept\n", "the claim's volume holds what the pod wrote");
    wait_phase(c, &ns, "hungry", "Failed", Duration::from_secs(60));
    assert_eq!(term("hungry", "reason"), "OOMKilled");
    // postStart ran once the container started; preStop runs before it is stopped.
    wait_phase(c, &ns, "hooked", "Running", Duration::from_secs(60));
    wait_until(Duration::from_secs(20), "the postStart hook", || out.path().join("post-start").exists());
    let started = std::time::Instant::now();
    c.ok(&["delete", "pod", "hooked", "-n", &ns, "--timeout=60s"]);
    assert_eq!(std::fs::read_to_string(out.path().join("pre-stop")).unwrap_or_default(), "stopping\n");
    assert!(started.elapsed() >= Duration::from_secs(2), "the preStop hook ran before the container stopped");
    c.ok(&["delete", "pv", &format!("{ns}-disk"), "--wait=false"]);
}

#[test]
fn a_second_kubelet_is_a_second_node_and_pods_reach_each_other_across_bridges() {
    let c = node_cluster();
    let ns = namespace(c, "twonodes");
    // `corekube kubelet` as its own process, with its own containerd, pod range and bridge.
    let root = tempfile::tempdir().unwrap();
    let kubeconfig = c.dir.path().join("data/kubelet.kubeconfig");
    let log = std::fs::File::create(root.path().join("kubelet.log")).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_corekube"));
    cmd.arg("kubelet").arg("--kubeconfig").arg(&kubeconfig).arg("--root-dir").arg(root.path().join("node"));
    cmd.args(["--node-name", "second-node", "--pod-cidr", "10.42.252.0/24", "--image-dir"]).arg(common::test_images());
    // Other tests' pods, which the scheduler places, stay off it: it goes away at the end, and
    // its pods with it. This test's own pods name their node and pass the scheduler by.
    cmd.args(["--register-with-taints", "corekube.test/second-node=only:NoSchedule"]);
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
    let mut second = corekube_testsupport::spawn_owned(cmd).expect("corekube kubelet starts");
    wait_until(Duration::from_secs(60), "the second node to be Ready", || {
        let out = c.kubectl(&["get", "node/second-node", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"]);
        out.status.success() && out.stdout == b"True"
    });
    assert_eq!(c.ok(&["get", "node/second-node", "-o", "jsonpath={.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}"]), "corekube.test/second-node=only:NoSchedule");
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: server}}
spec:
  nodeName: second-node
  containers: [{{name: web, image: "nginx:1.22"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  nodeName: {first}
  restartPolicy: Never
  containers: [{{name: c, image: "busybox:1.35", command: ["sleep", "600"]}}]
"#,
        first = c.node_name()
    );
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], &manifest);
    wait_phase(c, &ns, "server", "Running", Duration::from_secs(60));
    let server_ip = jsonpath(c, &ns, "pod/server", "{.status.podIP}");
    assert!(server_ip.starts_with("10.42.252."), "{server_ip}");
    // A pod on the first node's bridge reaches the second's, through this machine only.
    let probe = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: fetch}}\nspec:\n  nodeName: {}\n  restartPolicy: Never\n  containers: [{{name: c, image: \"busybox:1.35\", command: [\"sh\", \"-c\", \"printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc -w 5 {server_ip} 80 > /dev/termination-log\"]}}]\n",
        c.node_name()
    );
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], &probe);
    wait_phase(c, &ns, "fetch", "Succeeded", Duration::from_secs(60));
    let page = jsonpath(c, &ns, "pod/fetch", "{.status.containerStatuses[0].state.terminated.message}");
    assert!(page.contains("Welcome to nginx!"), "{page}");
    // The second node stops its pods when it stops.
    c.ok(&["delete", "pod", "server", "-n", &ns, "--timeout=60s"]);
    unsafe {
        libc::kill(second.id() as i32, libc::SIGTERM);
    }
    let stopped = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        second.try_wait().ok().flatten().is_some()
    });
    assert!(stopped, "the second kubelet did not stop within 20 s");
    c.ok(&["delete", "node", "second-node"]);
}

#[test]
fn a_deployment_runs_on_the_node_and_rolls_out_and_deletes_with_its_pods() {
    let c = node_cluster();
    let ns = namespace(c, "deploy");
    c.ok(&["create", "deployment", "web", "-n", &ns, "--image=nginx:1.22", "--replicas=2", "--port=80"]);
    let out = c.ok(&["rollout", "status", "-n", &ns, "deployment/web", "--timeout=120s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    let ips = c.ok(&["get", "pods", "-n", &ns, "-o", "jsonpath={.items[*].status.podIP}"]);
    let ips: Vec<&str> = ips.split_whitespace().collect();
    assert_eq!(ips.len(), 2, "{ips:?}");
    for ip in &ips {
        let page = http_get(ip, 80).expect("nginx answers on each replica's IP");
        assert!(page.contains("Welcome to nginx!"), "{page}");
    }
    // A rollout to another image replaces the pods through the kubelet, readiness included.
    let to_busybox = r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"busybox:1.35"},{"op":"add","path":"/spec/template/spec/containers/0/command","value":["sleep","3600"]}]"#;
    c.ok(&["patch", "-n", &ns, "deployment/web", "--type=json", "-p", to_busybox]);
    let out = c.ok(&["rollout", "status", "-n", &ns, "deployment/web", "--timeout=120s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    wait_until(Duration::from_secs(60), "only busybox pods left", || {
        let images = c.ok(&["get", "pods", "-n", &ns, "-o", "jsonpath={.items[*].spec.containers[0].image}"]);
        images.split_whitespace().collect::<Vec<_>>() == vec!["busybox:1.35", "busybox:1.35"]
    });
    // Deleting the Deployment removes its ReplicaSets and, through the kubelet, its pods.
    c.ok(&["delete", "deployment", "web", "-n", &ns]);
    wait_until(Duration::from_secs(90), "the pods and ReplicaSets to be gone", || {
        c.ok(&["get", "pods,rs", "-n", &ns, "-o", "name"]).trim().is_empty()
    });
}

#[test]
fn a_memory_emptydir_is_a_tmpfs_of_its_size_limit_and_goes_with_the_pod() {
    let c = node_cluster();
    let ns = namespace(c, "memvol");
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: ram}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox:1.35\n    command: [sleep, '3600']\n    volumeMounts: [{name: cache, mountPath: /cache}]\n  volumes:\n  - {name: cache, emptyDir: {medium: Memory, sizeLimit: 1Mi}}\n";
    c.ok_stdin(&["apply", "-n", &ns, "-f", "-"], manifest);
    wait_phase(c, &ns, "ram", "Running", Duration::from_secs(60));
    let mounts = c.ok(&["exec", "-n", &ns, "ram", "--", "grep", " /cache ", "/proc/mounts"]);
    assert!(mounts.starts_with("tmpfs /cache tmpfs") && mounts.contains("size=1024k"), "{mounts}");
    // The size limit holds: 2 MiB do not fit.
    let out = c.kubectl(&["exec", "-n", &ns, "ram", "--", "dd", "if=/dev/zero", "of=/cache/big", "bs=1048576", "count=2"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("No space left"), "{}", String::from_utf8_lossy(&out.stderr));
    let uid = jsonpath(c, &ns, "pod/ram", "{.metadata.uid}");
    c.ok(&["delete", "pod", "ram", "-n", &ns, "--timeout=60s"]);
    // Unmounted when the pod goes.
    wait_until(Duration::from_secs(20), "the tmpfs to be unmounted", || !std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(&uid));
}
