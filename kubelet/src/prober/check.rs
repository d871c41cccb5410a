//! One probe attempt: exec (CRI ExecSync), httpGet (HTTP/1.1 to the pod IP, 200-399 is
//! success) or tcpSocket (a connection opens), each bounded by the probe's timeout. Failure
//! messages read like upstream's.

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
    if probe.grpc.is_some() {
        return Err("gRPC probes are not supported by this kubelet yet".into());
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
    if scheme != "http" {
        return Err(format!("Get \"{url}\": HTTPS probes are not supported by this kubelet yet"));
    }
    let addr = format!("{host}:{port}");
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.map_err(|e| format!("Get \"{url}\": {}", dial_error(&addr, &e)))?;
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n");
        for h in http.http_headers.iter().flatten() {
            req.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
        req.push_str("\r\n");
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
        let line = String::from_utf8_lossy(&head[..n]).lines().next().unwrap_or_default().to_string();
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
