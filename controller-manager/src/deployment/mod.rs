use tokio_util::sync::CancellationToken;
pub(crate) fn start(_informers: &mut crate::Informers, _client: kube::Client, shutdown: CancellationToken) -> crate::Running {
    Box::pin(async move { shutdown.cancelled().await })
}
