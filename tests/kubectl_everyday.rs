//! An everyday kubectl session, run with the kubectl on PATH and with every bundled minor
//! (1.27 to 1.33): each command family must behave as against upstream.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bundled_kubectl, example, shared, Cluster};

/// One kubectl binary pointed at the shared cluster, with its own discovery cache.
struct Kubectl<'a> {
    bin: PathBuf,
    cluster: &'a Cluster,
    cache: PathBuf,
}

impl Kubectl<'_> {
    fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig").arg(self.cluster.kubeconfig()).arg("--cache-dir").arg(&self.cache).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        match stdin {
            Some(input) => {
                use std::io::Write;
                cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
                let mut child = cmd.spawn().unwrap();
                child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
                child.wait_with_output().unwrap()
            }
            None => cmd.output().unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_env(args, &[])
    }

    fn ok_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run(args, env, None);
        assert!(out.status.success(), "{} {args:?}: {}", self.bin.display(), String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, &[], None);
        assert!(!out.status.success(), "{} {args:?} succeeded", self.bin.display());
        String::from_utf8(out.stderr).unwrap()
    }
}

fn session(bin: &Path, label: &str) {
    let c = shared();
    let k = Kubectl { bin: bin.to_path_buf(), cluster: c, cache: c.dir.path().join(format!("cache-{label}")) };
    let ns = format!("everyday-{label}");
    let n = ["-n", ns.as_str()];
    // The namespace goes first: anything after `--` belongs to the container.
    let with_ns = |args: &[&str]| -> Vec<String> { n.iter().chain(args.iter()).map(|s| s.to_string()).collect() };
    let run = |args: &[&str]| k.ok(&with_ns(args).iter().map(String::as_str).collect::<Vec<_>>());

    assert!(k.ok(&["create", "namespace", &ns]).contains("created"));
    assert!(k.ok(&["version"]).contains("Server Version"));
    assert!(k.ok(&["api-versions"]).contains("apps/v1\n"));
    assert!(k.ok(&["api-resources"]).contains("deployments"));

    // Declarative, validated against OpenAPI.
    let out = run(&["apply", "-f", &example("deployment.yaml")]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let out = run(&["apply", "-f", &example("deployment.yaml")]);
    assert!(out.contains("unchanged"), "{out}");
    // Server-side apply over the client-side applied object: no conflicts, as upstream.
    let out = run(&["apply", "--server-side", "-f", &example("deployment.yaml")]);
    assert!(out.contains("deployment.apps/web serverside-applied"), "{out}");
    let out = run(&["create", "-f", &example("configmap.yaml")]);
    assert!(out.contains("configmap/settings created"), "{out}");
    let out = run(&["create", "-f", &example("pod.yaml")]);
    assert!(out.contains("pod/web created"), "{out}");
    let out = run(&["run", "busy", "--image=busybox", "--restart=Never", "--", "sleep", "60"]);
    assert!(out.contains("pod/busy created"), "{out}");
    let out = run(&["create", "deployment", "nginx", "--image=nginx:1.25"]);
    assert!(out.contains("created"), "{out}");

    // Reads.
    let pods = run(&["get", "pods"]);
    assert!(pods.starts_with("NAME") && pods.contains("STATUS") && pods.contains("web"), "{pods}");
    let out = run(&["get", "deploy", "-o", "wide"]);
    assert!(out.contains("SELECTOR"), "{out}");
    let out = run(&["get", "pods", "-l", "app=web", "-o", "name"]);
    assert!(out.contains("pod/web"), "{out}");
    let out = run(&["get", "all"]);
    assert!(out.contains("deployment.apps/web"), "{out}");
    assert!(k.ok(&["get", "--raw", "/healthz"]) == "ok");
    assert!(k.ok(&["explain", "deployment.spec.strategy"]).contains("rollingUpdate"));

    // Changes.
    let out = run(&["label", "deploy/web", "tier=frontend"]);
    assert!(out.contains("labeled"), "{out}");
    let out = run(&["annotate", "deploy/web", "owner=me"]);
    assert!(out.contains("annotate"), "{out}");
    let out = run(&["patch", "deploy/web", "-p", r#"{"spec":{"revisionHistoryLimit":5}}"#]);
    assert!(out.contains("patched"), "{out}");
    let out = run(&["patch", "deploy/web", "--type=merge", "-p", r#"{"spec":{"paused":true}}"#]);
    assert!(out.contains("patched"), "{out}");
    let out = run(&["patch", "deploy/web", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/paused","value":false}]"#]);
    assert!(out.contains("patched"), "{out}");
    let out = run(&["scale", "deploy/web", "--replicas=3"]);
    assert!(out.contains("scaled"), "{out}");
    assert_eq!(run(&["get", "deploy/web", "-o", "jsonpath={.spec.replicas} {.spec.revisionHistoryLimit}"]), "3 5");
    let editor = [("KUBE_EDITOR", "sed -i s/color:\\ blue/color:\\ green/"), ("EDITOR", "false")];
    let edited = k.ok_env(&with_ns(&["edit", "configmap/settings"]).iter().map(String::as_str).collect::<Vec<_>>(), &editor);
    assert!(edited.contains("configmap/settings edited"), "{edited}");
    assert_eq!(run(&["get", "cm/settings", "-o", "jsonpath={.data.color}"]), "green");
    let diff = k.run(&with_ns(&["diff", "-f", &example("deployment.yaml")]).iter().map(String::as_str).collect::<Vec<_>>(), &[], None);
    assert_eq!(diff.status.code(), Some(1), "{}", String::from_utf8_lossy(&diff.stderr));

    // describe finds events through field selectors.
    let uid = run(&["get", "pod/web", "-o", "jsonpath={.metadata.uid}"]);
    let event = format!(
        "apiVersion: v1\nkind: Event\nmetadata:\n  name: web.seen\ninvolvedObject:\n  kind: Pod\n  name: web\n  namespace: {ns}\n  uid: {uid}\n  apiVersion: v1\nreason: Seen\nmessage: looked at it\ntype: Normal\nsource:\n  component: tester\n"
    );
    let out = k.run(&with_ns(&["create", "-f", "-"]).iter().map(String::as_str).collect::<Vec<_>>(), &[], Some(&event));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let described = run(&["describe", "pod", "web"]);
    assert!(described.contains("Name:") && described.contains("looked at it"), "{described}");
    let out = run(&["describe", "deployment", "web"]);
    assert!(out.contains("Replicas:"), "{out}");
    assert!(k.ok(&["describe", "namespace", &ns]).contains("Active"));
    // A node, tainted so that no session's pods are scheduled onto it.
    let node = format!("everyday-{label}");
    let manifest = format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n  labels:\n    kubernetes.io/hostname: {node}\nspec:\n  taints:\n  - {{key: example.com/test, effect: NoSchedule}}\nstatus:\n  capacity: {{cpu: \"2\", memory: 4Gi, pods: \"110\"}}\n"
    );
    let out = k.run(&["create", "-f", "-"], &[], Some(&manifest));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let described = k.ok(&["describe", "node", &node]);
    assert!(described.contains("Taints:") && described.contains("example.com/test:NoSchedule") && described.contains("Capacity:"), "{described}");
    k.ok(&["delete", "node", &node]);

    // wait.
    let out = run(&["wait", "--for=jsonpath={.status.phase}=Pending", "pod/web", "--timeout=10s"]);
    assert!(out.contains("condition met"), "{out}");
    let bind = r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"busy"},"target":{"kind":"Node","name":"node-x"}}"#;
    std::fs::write(c.dir.path().join(format!("bind-{label}.json")), bind).unwrap();
    k.ok(&["create", "--raw", &format!("/api/v1/namespaces/{ns}/pods/busy/binding"), "-f", c.dir.path().join(format!("bind-{label}.json")).to_str().unwrap()]);
    let out = run(&["wait", "--for=condition=PodScheduled", "pod/busy", "--timeout=10s"]);
    assert!(out.contains("condition met"), "{out}");

    // Deletes.
    let out = run(&["delete", "pod", "busy", "--grace-period=0", "--force"]);
    assert!(out.contains("deleted"), "{out}");
    let out = run(&["delete", "pods", "-l", "app=web"]);
    assert!(out.contains("pod \"web\" deleted"), "{out}");
    let out = run(&["delete", "configmaps", "--all"]);
    assert!(out.contains("deleted"), "{out}");
    run(&["delete", "deploy", "nginx", "--wait=false"]);
    run(&["wait", "--for=delete", "deploy/nginx", "--timeout=10s"]);
    assert!(k.fails(&with_ns(&["get", "deploy/nginx"]).iter().map(String::as_str).collect::<Vec<_>>()).contains("NotFound"));
}

#[test]
fn everyday_session_with_the_kubectl_on_path() {
    let real = std::fs::canonicalize(String::from_utf8(Command::new("sh").arg("-c").arg("command -v kubectl").output().unwrap().stdout).unwrap().trim()).unwrap();
    session(&real, "path");
}

#[test]
fn everyday_session_with_every_bundled_minor() {
    for minor in 27..=33 {
        session(&bundled_kubectl(minor), &format!("1-{minor}"));
    }
}
