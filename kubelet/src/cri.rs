//! The CRI client: containerd's runtime and image services over its unix socket (CRI v1).
//! Every call is bounded by a timeout, so a stuck runtime cannot hang a pod worker forever.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

// The CRI v1 messages, as `cri::ContainerConfig` and so on beside the client.
pub use k8s_cri::v1::*;

/// How long an ordinary CRI call may take (upstream's runtime request timeout is 2 minutes;
/// pulls and stops with a grace period get their own bounds).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("cannot connect to the CRI runtime at {path}: {detail}")]
    Connect { path: String, detail: String },
    #[error("CRI {call}: {status}")]
    Call { call: &'static str, status: Box<tonic::Status> },
    #[error("CRI {call} timed out")]
    Timeout { call: &'static str },
}

impl CriError {
    /// Whether the runtime said the thing asked about does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CriError::Call { status, .. } if status.code() == tonic::Code::NotFound)
    }
}

/// A connection to one CRI runtime; cheap to clone (one HTTP/2 channel underneath).
#[derive(Clone)]
pub struct Cri {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    pub socket: PathBuf,
}

async fn bounded<T>(call: &'static str, limit: Duration, fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>) -> Result<T, CriError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(resp)) => Ok(resp.into_inner()),
        Ok(Err(status)) => Err(CriError::Call { call, status: Box::new(status) }),
        Err(_) => Err(CriError::Timeout { call }),
    }
}

impl Cri {
    /// Connects to the runtime's socket (lazily: the first call finds out whether it answers).
    pub fn connect(socket: &Path) -> Result<Cri, CriError> {
        let path = socket.to_path_buf();
        let connect_to = path.clone();
        let channel = Endpoint::try_from("http://[::]:0")
            .map_err(|e| CriError::Connect { path: path.display().to_string(), detail: e.to_string() })?
            .connect_timeout(Duration::from_secs(5))
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let path = connect_to.clone();
                async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
            }));
        let runtime = RuntimeServiceClient::new(channel.clone()).max_decoding_message_size(64 << 20);
        let images = ImageServiceClient::new(channel).max_decoding_message_size(64 << 20);
        Ok(Cri { runtime, images, socket: path })
    }

    /// The runtime's name and version (`containerd`, `v1.6.20`), once it answers.
    pub async fn version(&self) -> Result<cri::VersionResponse, CriError> {
        bounded("Version", Duration::from_secs(5), self.runtime.clone().version(cri::VersionRequest { version: "v1".into() })).await
    }

    pub async fn run_pod_sandbox(&self, config: PodSandboxConfig) -> Result<String, CriError> {
        let req = cri::RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() };
        Ok(bounded("RunPodSandbox", CALL_TIMEOUT, self.runtime.clone().run_pod_sandbox(req)).await?.pod_sandbox_id)
    }

    pub async fn stop_pod_sandbox(&self, id: &str) -> Result<(), CriError> {
        bounded("StopPodSandbox", CALL_TIMEOUT, self.runtime.clone().stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: id.into() })).await?;
        Ok(())
    }

    pub async fn remove_pod_sandbox(&self, id: &str) -> Result<(), CriError> {
        bounded("RemovePodSandbox", CALL_TIMEOUT, self.runtime.clone().remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: id.into() })).await?;
        Ok(())
    }

    pub async fn pod_sandbox_status(&self, id: &str) -> Result<PodSandboxStatus, CriError> {
        let req = cri::PodSandboxStatusRequest { pod_sandbox_id: id.into(), verbose: false };
        let resp = bounded("PodSandboxStatus", CALL_TIMEOUT, self.runtime.clone().pod_sandbox_status(req)).await?;
        resp.status.ok_or(CriError::Timeout { call: "PodSandboxStatus (empty answer)" })
    }

    /// Every sandbox, in any state.
    pub async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandbox>, CriError> {
        Ok(bounded("ListPodSandbox", CALL_TIMEOUT, self.runtime.clone().list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })).await?.items)
    }

    /// Every container, in any state.
    pub async fn list_containers(&self) -> Result<Vec<Container>, CriError> {
        Ok(bounded("ListContainers", CALL_TIMEOUT, self.runtime.clone().list_containers(cri::ListContainersRequest { filter: None })).await?.containers)
    }

    pub async fn create_container(&self, sandbox_id: &str, config: ContainerConfig, sandbox: PodSandboxConfig) -> Result<String, CriError> {
        let req = cri::CreateContainerRequest { pod_sandbox_id: sandbox_id.into(), config: Some(config), sandbox_config: Some(sandbox) };
        Ok(bounded("CreateContainer", CALL_TIMEOUT, self.runtime.clone().create_container(req)).await?.container_id)
    }

    pub async fn start_container(&self, id: &str) -> Result<(), CriError> {
        bounded("StartContainer", CALL_TIMEOUT, self.runtime.clone().start_container(cri::StartContainerRequest { container_id: id.into() })).await?;
        Ok(())
    }

    /// Stops a container: SIGTERM (or its image's stop signal), SIGKILL after `grace_seconds`.
    pub async fn stop_container(&self, id: &str, grace_seconds: i64) -> Result<(), CriError> {
        let limit = CALL_TIMEOUT + Duration::from_secs(grace_seconds.max(0) as u64);
        bounded("StopContainer", limit, self.runtime.clone().stop_container(cri::StopContainerRequest { container_id: id.into(), timeout: grace_seconds })).await?;
        Ok(())
    }

    pub async fn remove_container(&self, id: &str) -> Result<(), CriError> {
        bounded("RemoveContainer", CALL_TIMEOUT, self.runtime.clone().remove_container(cri::RemoveContainerRequest { container_id: id.into() })).await?;
        Ok(())
    }

    pub async fn container_status(&self, id: &str) -> Result<ContainerStatus, CriError> {
        let req = cri::ContainerStatusRequest { container_id: id.into(), verbose: false };
        let resp = bounded("ContainerStatus", CALL_TIMEOUT, self.runtime.clone().container_status(req)).await?;
        resp.status.ok_or(CriError::Timeout { call: "ContainerStatus (empty answer)" })
    }

    /// Runs a command in a container and waits for it (exec probes and exec hooks).
    pub async fn exec_sync(&self, id: &str, cmd: Vec<String>, timeout: Duration) -> Result<cri::ExecSyncResponse, CriError> {
        let req = cri::ExecSyncRequest { container_id: id.into(), cmd, timeout: timeout.as_secs().max(1) as i64 };
        bounded("ExecSync", timeout + Duration::from_secs(5), self.runtime.clone().exec_sync(req)).await
    }

    /// The containers whose labels include all of `labels`, in any state.
    pub async fn containers_labelled(&self, labels: std::collections::HashMap<String, String>) -> Result<Vec<Container>, CriError> {
        let filter = cri::ContainerFilter { label_selector: labels, ..Default::default() };
        Ok(bounded("ListContainers", CALL_TIMEOUT, self.runtime.clone().list_containers(cri::ListContainersRequest { filter: Some(filter) })).await?.containers)
    }

    /// The sandboxes whose labels include all of `labels`, in any state.
    pub async fn sandboxes_labelled(&self, labels: std::collections::HashMap<String, String>) -> Result<Vec<PodSandbox>, CriError> {
        let filter = cri::PodSandboxFilter { label_selector: labels, ..Default::default() };
        Ok(bounded("ListPodSandbox", CALL_TIMEOUT, self.runtime.clone().list_pod_sandbox(cri::ListPodSandboxRequest { filter: Some(filter) })).await?.items)
    }

    /// A URL on the runtime's streaming server that runs `cmd` in the container once dialled.
    pub async fn exec_url(&self, req: cri::ExecRequest) -> Result<String, CriError> {
        Ok(bounded("Exec", CALL_TIMEOUT, self.runtime.clone().exec(req)).await?.url)
    }

    /// A URL on the runtime's streaming server attached to the container's own stdio.
    pub async fn attach_url(&self, req: cri::AttachRequest) -> Result<String, CriError> {
        Ok(bounded("Attach", CALL_TIMEOUT, self.runtime.clone().attach(req)).await?.url)
    }

    /// A URL on the runtime's streaming server that forwards to ports in the sandbox's network.
    pub async fn port_forward_url(&self, sandbox_id: &str) -> Result<String, CriError> {
        let req = cri::PortForwardRequest { pod_sandbox_id: sandbox_id.into(), port: vec![] };
        Ok(bounded("PortForward", CALL_TIMEOUT, self.runtime.clone().port_forward(req)).await?.url)
    }

    /// Asks the runtime to reopen a container's log file (after the kubelet rotated it).
    pub async fn reopen_container_log(&self, id: &str) -> Result<(), CriError> {
        bounded("ReopenContainerLog", CALL_TIMEOUT, self.runtime.clone().reopen_container_log(cri::ReopenContainerLogRequest { container_id: id.into() })).await?;
        Ok(())
    }

    /// The image's id if the runtime has it.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, CriError> {
        let req = cri::ImageStatusRequest { image: Some(cri::ImageSpec { image: image.into(), ..Default::default() }), verbose: false };
        let resp = bounded("ImageStatus", CALL_TIMEOUT, self.images.clone().image_status(req)).await?;
        Ok(resp.image.map(|i| i.id))
    }

    /// Every image the runtime has, with its tags and size (the node's status lists them).
    pub async fn list_images(&self) -> Result<Vec<cri::Image>, CriError> {
        Ok(bounded("ListImages", CALL_TIMEOUT, self.images.clone().list_images(cri::ListImagesRequest { filter: None })).await?.images)
    }

    /// Pulls an image (through the registry it names); returns the image reference.
    pub async fn pull_image(&self, image: &str, auth: Option<cri::AuthConfig>) -> Result<String, CriError> {
        let req = cri::PullImageRequest { image: Some(cri::ImageSpec { image: image.into(), ..Default::default() }), auth, sandbox_config: None };
        Ok(bounded("PullImage", Duration::from_secs(600), self.images.clone().pull_image(req)).await?.image_ref)
    }
}
