//! One probe attempt: exec (CRI ExecSync), httpGet (HTTP/1.1, or HTTPS without verifying the
//! certificate as upstream's prober, to the pod IP: 200-399 is success), tcpSocket (a
//! connection opens) or grpc (the standard health service answers SERVING), each bounded by
//! the probe's timeout. Failure messages read like upstream's.

use std::time::Duration;

use k8s_openapi::api::core::v1::{HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Target;

/// The port a probe names, by number or by the container's port name.
fn port(target: &Target, p: &IntOrString) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port number: {n}")),
        IntOrString::String(name) => target
            .container
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .and_then(|cp| u16::try_from(cp.container_port).ok())
            .ok_or_else(|| format!("couldn't find port: {name} in {}", target.container.name)),
    }
}

fn dial_error(addr: &str, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        std::io::ErrorKind::TimedOut => "i/o timeout".to_string(),
        _ => e.to_string(),
    };
    format!("dial tcp {addr}: {reason}")
}

/// Runs the probe once: Ok on success, Err with the message for the `Unhealthy` event.
pub async fn run(probe: &Probe, target: &Target, timeout: Duration) -> Result<(), String> {
    if let Some(exec) = &probe.exec {
        return exec_command(exec.command.clone().unwrap_or_default(), target, timeout).await;
    }
    if let Some(tcp) = &probe.tcp_socket {
        return tcp_connect(tcp, target, timeout).await;
    }
    if let Some(http) = &probe.http_get {
        return http_get(http, target, timeout).await;
    }
    if let Some(grpc) = &probe.grpc {
        return grpc_check(&target.pod_ip, grpc, timeout).await;
    }
    Ok(())
}

/// A command in the container (CRI ExecSync): exit code 0 is success.
pub async fn exec_command(cmd: Vec<String>, target: &Target, timeout: Duration) -> Result<(), String> {
    match target.cri.exec_sync(&target.container_id, cmd.clone(), timeout).await {
        Ok(r) if r.exit_code == 0 => Ok(()),
        Ok(r) => {
            let output = String::from_utf8_lossy(&[r.stdout, r.stderr].concat()).trim_end().to_string();
            Err(if output.is_empty() { format!("command {cmd:?} exited with {}", r.exit_code) } else { output })
        }
        Err(crate::cri::CriError::Timeout { .. }) => Err(format!("command {cmd:?} timed out")),
        Err(e) => Err(e.to_string()),
    }
}

/// A TCP connection to the pod (or the given host): opening is success.
pub async fn tcp_connect(tcp: &TCPSocketAction, target: &Target, timeout: Duration) -> Result<(), String> {
    let host = tcp.host.clone().unwrap_or_else(|| target.pod_ip.clone());
    let addr = format!("{host}:{}", port(target, &tcp.port)?);
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(dial_error(&addr, &e)),
        Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
    }
}

/// An HTTP/1.1 GET to the pod (or the given host): a status from 200 to 399 is success.
pub async fn http_get(http: &HTTPGetAction, target: &Target, timeout: Duration) -> Result<(), String> {
    let host = http.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| target.pod_ip.clone());
    let port = port(target, &http.port)?;
    let path = http.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
    let scheme = http.scheme.as_deref().unwrap_or("HTTP").to_lowercase();
    let url = format!("{scheme}://{host}:{port}{path}");
    if scheme != "http" && scheme != "https" {
        return Err(format!("Get \"{url}\": unsupported protocol scheme \"{scheme}\""));
    }
    let addr = format!("{host}:{port}");
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect(&addr).await.map_err(|e| format!("Get \"{url}\": {}", dial_error(&addr, &e)))?;
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n");
        for h in http.http_headers.iter().flatten() {
            req.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
        req.push_str("\r\n");
        let line = if scheme == "https" {
            let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| format!("Get \"{url}\": {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(insecure_tls()).connect(name, tcp).await.map_err(|e| format!("Get \"{url}\": {e}"))?;
            status_line(tls, &req, &url).await?
        } else {
            status_line(tcp, &req, &url).await?
        };
        let code: u16 = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("Get \"{url}\": malformed HTTP response {line:?}"))?;
        if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")),
    }
}

/// Sends `req` and reads the response's status line.
async fn status_line<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, req: &str, url: &str) -> Result<String, String> {
    s.write_all(req.as_bytes()).await.map_err(|e| format!("Get \"{url}\": {e}"))?;
    let mut head = vec![0u8; 1024];
    let mut n = 0;
    while n < head.len() && !head[..n].contains(&b'\n') {
        match s.read(&mut head[n..]).await {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("Get \"{url}\": {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&head[..n]).lines().next().unwrap_or_default().to_string())
}

/// TLS that accepts any server certificate: upstream's HTTPS probes skip verification (the
/// pod's certificate is the application's own, rarely for its IP).
fn insecure_tls() -> std::sync::Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<std::sync::Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let verifier = std::sync::Arc::new(AnyCertificate(provider.clone()));
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default versions")
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            std::sync::Arc::new(config)
        })
        .clone()
}

#[derive(Debug)]
struct AnyCertificate(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    // The handshake's signatures are still checked: only the certificate's chain is not.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The standard gRPC health check (`grpc.health.v1.Health/Check`) on the pod's port, for the
/// probe's service name: SERVING is success (upstream's grpc prober and its messages).
pub async fn grpc_check(pod_ip: &str, grpc: &k8s_openapi::api::core::v1::GRPCAction, timeout: Duration) -> Result<(), String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let addr = format!("{pod_ip}:{}", grpc.port);
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).map_err(|e| e.to_string())?.connect_timeout(timeout).timeout(timeout);
    let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
        Ok(Ok(c)) => c,
        _ => return Err(format!("timeout: failed to connect service \"{addr}\" within {}s: context deadline exceeded", timeout.as_secs().max(1))),
    };
    let request = HealthCheckRequest { service: grpc.service.clone().unwrap_or_default() };
    match tokio::time::timeout(timeout, HealthClient::new(channel).check(request)).await {
        Ok(Ok(resp)) => match ServingStatus::try_from(resp.into_inner().status) {
            Ok(ServingStatus::Serving) => Ok(()),
            Ok(other) => Err(format!("service unhealthy (responded with \"{}\")", other.as_str_name())),
            Err(_) => Err("service unhealthy (responded with an unknown status)".into()),
        },
        Ok(Err(status)) => Err(format!("error: health rpc probe failed: {status}")),
        Err(_) => Err(format!("timeout: health rpc did not complete within {}s", timeout.as_secs().max(1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            cri: crate::cri::Cri::connect(std::path::Path::new("/nonexistent.sock")).unwrap(),
            pod_ip: "127.0.0.1".into(),
            container: Default::default(),
            container_id: String::new(),
        }
    }

    #[tokio::test]
    async fn https_probes_accept_a_self_signed_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["example.test".to_string()]).unwrap().self_signed(&key).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for answer in ["HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 503 Service Unavailable\r\n\r\n"] {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut tls = acceptor.accept(tcp).await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = tls.read(&mut buf).await;
                tls.write_all(answer.as_bytes()).await.unwrap();
                let _ = tls.shutdown().await;
            }
        });
        let action = HTTPGetAction { scheme: Some("HTTPS".into()), port: IntOrString::Int(port.into()), path: Some("/healthz".into()), ..Default::default() };
        assert_eq!(http_get(&action, &target(), Duration::from_secs(5)).await, Ok(()));
        assert_eq!(http_get(&action, &target(), Duration::from_secs(5)).await, Err("HTTP probe failed with statuscode: 503".into()));
    }

    #[tokio::test]
    async fn grpc_probes_ask_the_health_service() {
        let (reporter, service) = tonic_health::server::health_reporter();
        reporter.set_service_status("ready", tonic_health::ServingStatus::Serving).await;
        reporter.set_service_status("sick", tonic_health::ServingStatus::NotServing).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tokio::spawn(tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming));
        let action = |service: &str| k8s_openapi::api::core::v1::GRPCAction { port: port.into(), service: Some(service.into()) };
        assert_eq!(grpc_check("127.0.0.1", &action("ready"), Duration::from_secs(5)).await, Ok(()));
        assert_eq!(grpc_check("127.0.0.1", &action("sick"), Duration::from_secs(5)).await, Err("service unhealthy (responded with \"NOT_SERVING\")".into()));
        let closed = k8s_openapi::api::core::v1::GRPCAction { port: 1, service: None };
        assert!(grpc_check("127.0.0.1", &closed, Duration::from_secs(1)).await.unwrap_err().starts_with("timeout: failed to connect service"));
    }
}
