//! Rough cost of recording a create's and an update's managedFields for a pod (run with
//! --release).
use corekube_fieldmanager::{ignore_managed_fields_timestamps, reset_fields, FieldManager};

fn main() {
    let pod: serde_json::Value = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "x", "group": "g1"}, "annotations": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"], "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30,
            "securityContext": {}, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": "Pending", "qosClass": "Burstable"}
    });
    let fm = FieldManager::new("", "v1", "Pod", "", reset_fields("", "Pod", "", true));
    let _ = fm.update_no_errors(None, pod.clone(), "warm", "2026-01-01T00:00:00Z");
    let n = 2000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(fm.update_no_errors(None, pod.clone(), "kubectl-create", "2026-01-01T00:00:00Z"));
    }
    println!("create bookkeeping: {:.1} us per pod", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    // An update as a PATCH of one annotation records it, by another manager than the creator.
    let mut live = fm.update_no_errors(None, pod.clone(), "kubectl-create", "2026-01-01T00:00:00Z");
    live["metadata"]["uid"] = "6f1c2a4e-0000-4000-8000-000000000001".into();
    let mut patched = live.clone();
    patched["metadata"]["annotations"]["sent"] = "1700000000".into();
    let t = std::time::Instant::now();
    for _ in 0..n {
        let updated = fm.update_no_errors(Some(&live), patched.clone(), "kubectl-annotate", "2026-01-01T00:00:01Z");
        std::hint::black_box(ignore_managed_fields_timestamps(&live, updated));
    }
    println!("update bookkeeping: {:.1} us per pod", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(fm.fields_of(&pod).unwrap());
    }
    println!("one typed walk (fields_of): {:.1} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(FieldManager::new("", "v1", "Pod", "", reset_fields("", "Pod", "", true)));
    }
    println!("FieldManager::new: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(serde_json::to_vec(&pod).unwrap());
    }
    println!("(for scale) serializing the pod: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}
