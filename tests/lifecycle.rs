//! Restart, shutdown, compaction and etcd failure, each on a cluster of its own.

mod common;

use std::time::{Duration, Instant};

use common::{example, wait_until, Cluster};

/// Waits for the root CA publisher's ConfigMap, so later lists and watches of the namespace
/// do not depend on when it came.
fn wait_for_root_ca(c: &Cluster, ns: &str) {
    wait_until(Duration::from_secs(30), "kube-root-ca.crt", || c.kubectl(&["get", "-n", ns, "configmap", common::ROOT_CA_CONFIGMAP]).status.success());
}

fn rv_of(c: &Cluster, ns: &str, obj: &str) -> String {
    c.ok(&["get", "-n", ns, obj, "-o", "jsonpath={.metadata.resourceVersion}"])
}

#[test]
fn restart_keeps_objects_and_resumes_watches_from_older_versions() {
    let mut c = Cluster::start();
    c.ok(&["create", "--validate=false", "-f", &example("namespace.yaml")]);
    wait_for_root_ca(&c, "team-a");
    c.ok(&["create", "--validate=false", "-n", "team-a", "-f", &example("configmap.yaml")]);
    let rv = rv_of(&c, "team-a", "configmap/settings");
    c.ok(&["create", "--validate=false", "-n", "team-a", "-f", &example("secret.yaml")]);
    c.ok(&["label", "-n", "team-a", "configmap/settings", "after=restart-test"]);
    let uid_before = c.ok(&["get", "-n", "team-a", "configmap/settings", "-o", "jsonpath={.metadata.uid}"]);

    // An open watch must not hold up a graceful stop; it ends cleanly with the server.
    let mut watcher = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .args(["get", "configmaps", "-n", "team-a", "--field-selector", "metadata.name=settings", "-w", "-o", "name"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The first line is the initial list; kubectl opens its watch right after printing it.
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(watcher.stdout.as_mut().unwrap()), &mut first).unwrap();
    assert_eq!(first.trim(), "configmap/settings");
    let (took, status) = c.stop();
    assert!(status.success(), "corekube exited with {status}");
    assert!(took < Duration::from_secs(8), "graceful stop took {took:?}");
    wait_until(Duration::from_secs(5), "the watching kubectl to see the stream end", || watcher.try_wait().unwrap().is_some());
    c.restart();

    assert_eq!(c.ok(&["get", "-n", "team-a", "configmap/settings", "-o", "jsonpath={.metadata.uid}"]), uid_before);
    assert_eq!(c.ok(&["get", "-n", "team-a", "secret/credentials", "-o", "name"]).trim(), "secret/credentials");
    // A watch from before the restart gets every change since, in order.
    let events = c.ok(&["get", "--raw", &format!("/api/v1/namespaces/team-a/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=2")]);
    let lines: Vec<serde_json::Value> = events.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{events}");
    assert_eq!(lines[0]["type"], "MODIFIED");
    assert_eq!(lines[0]["object"]["metadata"]["labels"]["after"], "restart-test");
}

#[test]
fn compacted_history_answers_410() {
    // corekube's own compactor, every second, compacts to the revision seen a second before.
    let c = Cluster::start_with_external_etcd(&["--etcd-compaction-interval", "1s"]);
    wait_for_root_ca(&c, "default");
    c.ok(&["create", "--validate=false", "-n", "default", "-f", &example("configmap.yaml")]);
    let old = rv_of(&c, "default", "configmap/settings");
    for i in 0..3 {
        c.ok_stdin(&["create", "--validate=false", "-n", "default", "-f", "-"], &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-{i}\n"));
    }
    let page = c.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps?limit=1"]);
    let token = serde_json::from_str::<serde_json::Value>(&page).unwrap()["metadata"]["continue"].as_str().unwrap().to_string();
    // Move past the token's revision, so that compaction discards it.
    c.ok(&["label", "-n", "default", "configmap/settings", "moved=on"]);
    let exact = format!("/api/v1/namespaces/default/configmaps?resourceVersion={old}&resourceVersionMatch=Exact");
    wait_until(Duration::from_secs(15), "history to be compacted", || !c.kubectl(&["get", "--raw", &exact]).status.success());
    let err = c.fails(&["get", "--raw", &exact]);
    assert!(err.contains("Expired") && err.contains("too old"), "{err}");
    let enc: String = token.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
    let cont = format!("/api/v1/namespaces/default/configmaps?limit=1&continue={enc}");
    wait_until(Duration::from_secs(15), "the token's revision to be compacted", || !c.kubectl(&["get", "--raw", &cont]).status.success());
    let err = c.fails(&["get", "--raw", &cont]);
    assert!(err.contains("continue parameter is too old"), "{err}");
    // The 410 carries a token that goes on from the same key at the latest revision.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (code, status) = runtime.block_on(c.raw("GET", &cont, None, vec![]));
    assert_eq!(code, 410, "{status}");
    let next = status["metadata"]["continue"].as_str().expect("an inconsistent continuation in the Status").to_string();
    let next: String = next.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
    let (code, rest) = runtime.block_on(c.raw("GET", &format!("/api/v1/namespaces/default/configmaps?continue={next}"), None, vec![]));
    assert_eq!(code, 200, "{rest}");
    let names: Vec<&str> = rest["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["extra-1", "extra-2", common::ROOT_CA_CONFIGMAP, "settings"], "the rest after the first page");
    // A watch from before the compaction ends with an in-stream 410, from the shared watch's
    // memory and, after a restart, from etcd's history alike.
    let watch = format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={}&timeoutSeconds=5", old.parse::<i64>().unwrap() - 1);
    let out = c.ok(&["get", "--raw", &watch]);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().expect("an event")).unwrap();
    assert_eq!(last["type"], "ERROR", "{out}");
    assert_eq!(last["object"]["code"], 410);
    assert_eq!(last["object"]["reason"], "Expired");
    let mut c = c;
    c.restart();
    let out = c.ok(&["get", "--raw", &watch]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let only: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!((only["type"].as_str(), only["object"]["code"].as_i64()), (Some("ERROR"), Some(410)), "{out}");
}

#[test]
fn readiness_follows_etcd_and_recovers() {
    let mut c = Cluster::start_with_external_etcd(&[]);
    c.ok(&["create", "--validate=false", "-n", "default", "-f", &example("configmap.yaml")]);
    c.etcd.as_mut().unwrap().stop();
    wait_until(Duration::from_secs(10), "readyz to fail", || !c.kubectl(&["get", "--raw", "/readyz"]).status.success());
    let out = c.kubectl(&["get", "--raw", "/readyz?verbose"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("[-]etcd failed"), "{text}");
    assert!(!c.kubectl(&["get", "--raw", "/livez/etcd"]).status.success());
    c.etcd.as_mut().unwrap().restart().unwrap_or_else(|e| panic!("{e}"));
    wait_until(Duration::from_secs(20), "readyz to recover", || c.kubectl(&["get", "--raw", "/readyz"]).status.success());
    assert_eq!(c.ok(&["get", "-n", "default", "configmap/settings", "-o", "name"]).trim(), "configmap/settings");
    // Watches keep working through the shared etcd watch after it reconnects.
    c.ok(&["label", "-n", "default", "configmap/settings", "back=yes"]);
}

fn managed_etcd_pid(c: &Cluster) -> String {
    let ports = std::fs::read_to_string(c.dir.path().join("data/etcd/ports")).expect("managed etcd ports file");
    let client_port: u16 = ports.split_whitespace().next().unwrap().parse().unwrap();
    let pids = std::process::Command::new("sh").arg("-c").arg(format!("pgrep -f 'listen-client-urls http://127.0.0.1:{client_port}'")).output().unwrap();
    String::from_utf8_lossy(&pids.stdout).lines().next().expect("managed etcd pid").trim().to_string()
}

/// The `THP_enabled` line of a process's /proc status: 0 when transparent huge pages are off for it.
fn thp_enabled(pid: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("THP_enabled:")).expect("THP_enabled in /proc/PID/status").trim().to_string()
}

#[test]
fn transparent_huge_pages_are_off_for_corekube_and_left_to_the_machine_for_its_etcd() {
    let c = Cluster::start();
    assert_eq!(thp_enabled(&c.pid().to_string()), "0", "corekube keeps its allocator's arenas in small pages");
    // The managed etcd gets back what this test process has: the machine's policy.
    assert_eq!(thp_enabled(&managed_etcd_pid(&c)), thp_enabled("self"));
}

#[test]
fn managed_etcd_dying_stops_corekube_with_an_error() {
    let mut c = Cluster::start();
    let pid = managed_etcd_pid(&c);
    std::process::Command::new("kill").args(["-9", &pid]).status().unwrap();
    wait_until(Duration::from_secs(15), "corekube to exit", || c.try_wait().is_some());
    let status = c.try_wait().unwrap();
    assert!(!status.success(), "corekube must fail when its etcd dies");
    assert!(c.log().contains("managed etcd exited unexpectedly"), "{}", c.log());
}

#[test]
fn start_up_steps_wait_for_etcd_however_long_it_takes() {
    let mut c = Cluster::start_with_etcd_down();
    let readyz = |c: &Cluster| {
        let out = c.kubectl(&["get", "--raw", "/readyz?verbose"]);
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    // Longer than any step used to wait before reporting itself done (60 s for the caches,
    // about 30 s for the system namespaces): the steps keep failing, and keep trying.
    let etcd_back = Instant::now() + Duration::from_secs(65);
    let mut answered = 0;
    while Instant::now() < etcd_back {
        let text = readyz(&c);
        if text.contains("[+]ping ok") {
            answered += 1;
            assert!(text.contains("[-]poststarthook/start-watch-cache failed"), "{text}");
            assert!(text.contains("[-]poststarthook/bootstrap-namespaces failed"), "{text}");
        }
        std::thread::sleep(Duration::from_secs(3));
    }
    assert!(answered > 5, "the API server did not answer /readyz while etcd was down:\n{}", c.log());
    c.etcd.as_mut().unwrap().restart().unwrap_or_else(|e| panic!("{e}"));
    c.wait_ready();
    let text = readyz(&c);
    assert!(text.contains("[+]poststarthook/bootstrap-namespaces ok"), "{text}");
    let out = c.ok(&["get", "namespaces", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(out.contains(&format!("namespace/{ns}\n")), "{out}");
    }
}
