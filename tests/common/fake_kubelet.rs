//! Plays the kubelet's part for controller tests, as upstream's controller integration tests
//! do: every pod of one namespace is marked Running and Ready through `/status` shortly after
//! it appears, unless its image is one the test wants never to become ready.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use kube::Api;

pub struct FakeKubelet {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeKubelet {
    /// Starts marking the pods of `namespace` ready (pods whose image contains `never_ready`
    /// stay Pending).
    pub fn start(kubeconfig: std::path::PathBuf, namespace: &str, never_ready: Option<&str>) -> FakeKubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let (ns, never_ready, stopping) = (namespace.to_string(), never_ready.map(String::from), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
                let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
                let client = kube::Client::try_from(cfg).unwrap();
                let pods: Api<Pod> = Api::namespaced(client, &ns);
                while !stopping.load(Ordering::SeqCst) {
                    if let Ok(list) = pods.list(&Default::default()).await {
                        for p in list.items {
                            if p.metadata.deletion_timestamp.is_some() || is_ready(&p) {
                                continue;
                            }
                            let image =
                                p.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default();
                            if never_ready.as_deref().is_some_and(|n| image.contains(n)) {
                                continue;
                            }
                            let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now());
                            let status = serde_json::json!({"status": {
                                "phase": "Running",
                                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
                            }});
                            let name = p.metadata.name.clone().unwrap_or_default();
                            let _ = pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status)).await;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        });
        FakeKubelet { stop, thread: Some(thread) }
    }
}

fn is_ready(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
