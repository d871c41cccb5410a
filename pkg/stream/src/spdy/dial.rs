//! Dials a CRI streaming URL (`http://host:port/path`) and upgrades it to SPDY/3.1.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::connection::Connection;

/// Bound on connecting and on the whole upgrade exchange.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response head (and error body) read from the server.
const MAX_RESPONSE: usize = 64 * 1024;

/// Why the upgrade to SPDY did not happen; carried inside the `io::Error` that `dial`
/// returns (`io::Error::get_ref` + `downcast_ref::<DialError>()`).
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("streaming URL {0:?} is not an http://host:port/path URL")]
    UnsupportedUrl(String),
    #[error("streaming server refused the upgrade with HTTP {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("streaming server sent a malformed HTTP response: {0}")]
    BadResponse(String),
    #[error("streaming server did not complete the upgrade within {0:?}")]
    TimedOut(Duration),
}

impl From<DialError> for io::Error {
    fn from(error: DialError) -> io::Error {
        let kind = match &error {
            DialError::UnsupportedUrl(_) => io::ErrorKind::InvalidInput,
            DialError::Refused { .. } => io::ErrorKind::ConnectionRefused,
            DialError::BadResponse(_) => io::ErrorKind::InvalidData,
            DialError::TimedOut(_) => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, error)
    }
}

/// Dials `url` (what CRI Exec/Attach/PortForward return), sends `POST` with
/// `Upgrade: SPDY/3.1` and one `X-Stream-Protocol-Version` per offered protocol, and on
/// `101` returns the session and the protocol the server chose (empty if it named none).
pub async fn dial(url: &str, protocols: &[&str]) -> io::Result<(Connection, String)> {
    let (authority, target) = split_url(url)?;
    let handshake = async {
        let mut socket = TcpStream::connect(authority).await?;
        socket.set_nodelay(true)?;
        socket
            .write_all(upgrade_request(authority, target, protocols).as_bytes())
            .await?;
        let (protocol, leftover) = read_upgrade_response(&mut socket).await?;
        io::Result::Ok((socket, protocol, leftover))
    };
    let (socket, protocol, leftover) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .map_err(|_| DialError::TimedOut(HANDSHAKE_TIMEOUT))??;
    Ok((
        Connection::client(Rewound {
            leftover,
            io: socket,
        }),
        protocol,
    ))
}

/// `http://host:port/path?query` -> (`host:port`, `/path?query`).
fn split_url(url: &str) -> Result<(&str, &str), DialError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| DialError::UnsupportedUrl(url.to_owned()))?;
    let (authority, target) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(DialError::UnsupportedUrl(url.to_owned()));
    }
    Ok((authority, target))
}

fn upgrade_request(authority: &str, target: &str, protocols: &[&str]) -> String {
    let mut request = format!(
        "POST {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    );
    for protocol in protocols {
        request.push_str(&format!("X-Stream-Protocol-Version: {protocol}\r\n"));
    }
    request.push_str("Content-Length: 0\r\n\r\n");
    request
}

/// Reads the response head; on 101 returns the chosen protocol and any bytes read past the
/// head (the server may start speaking SPDY at once), otherwise the status and body text.
async fn read_upgrade_response(socket: &mut TcpStream) -> io::Result<(String, BytesMut)> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if socket.read_buf(&mut buf).await? == 0 {
            return Err(DialError::BadResponse(
                "connection closed before the response head ended".into(),
            )
            .into());
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let head_len = match response.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() < MAX_RESPONSE => continue,
            Ok(httparse::Status::Partial) => {
                return Err(DialError::BadResponse("response head too large".into()).into())
            }
            Err(error) => return Err(DialError::BadResponse(error.to_string()).into()),
        };
        let status = response.code.unwrap_or_default();
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
        };
        if status == 101 {
            let protocol = header("x-stream-protocol-version").unwrap_or_default();
            buf.advance(head_len);
            return Ok((protocol, buf));
        }
        let content_length = header("content-length").and_then(|v| v.parse::<usize>().ok());
        buf.advance(head_len);
        let body = read_error_body(socket, buf, content_length).await;
        return Err(DialError::Refused { status, body }.into());
    }
}

/// The text of a refusal, as much as arrives (bounded); its errors only shorten it.
async fn read_error_body(
    socket: &mut TcpStream,
    mut body: BytesMut,
    content_length: Option<usize>,
) -> String {
    let wanted = content_length.unwrap_or(MAX_RESPONSE).min(MAX_RESPONSE);
    while body.len() < wanted {
        match socket.read_buf(&mut body).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    body.truncate(wanted);
    String::from_utf8_lossy(&body).trim().to_owned()
}

/// The upgraded socket with the bytes already read past the HTTP head put back in front.
struct Rewound<T> {
    leftover: BytesMut,
    io: T,
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewound<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.leftover.is_empty() {
            let n = self.leftover.len().min(buf.remaining());
            buf.put_slice(&self.leftover[..n]);
            self.leftover.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewound<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn urls_split_into_authority_and_target() {
        assert_eq!(
            split_url("http://127.0.0.1:10010/exec/AbC").unwrap(),
            ("127.0.0.1:10010", "/exec/AbC")
        );
        assert_eq!(split_url("http://[::1]:80").unwrap(), ("[::1]:80", "/"));
        assert!(split_url("https://127.0.0.1:1/x").is_err());
        assert!(split_url("http:///x").is_err());
    }

    #[test]
    fn request_offers_each_protocol_on_its_own_line() {
        let request = upgrade_request(
            "h:1",
            "/exec/t",
            &["v4.channel.k8s.io", "v3.channel.k8s.io"],
        );
        assert!(request.starts_with("POST /exec/t HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(request.contains("Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"));
        assert!(request.contains("X-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io\r\n"));
        assert!(request.ends_with("\r\n\r\n"));
    }

    /// A one-shot HTTP server that reads a request head and answers `response`.
    async fn answer_once(
        response: &'static [u8],
    ) -> (String, tokio::task::JoinHandle<(String, TcpStream)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/exec/token", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8];
                socket.read_exact(&mut byte).await.unwrap();
                head.push(byte[0]);
            }
            socket.write_all(response).await.unwrap();
            (String::from_utf8(head).unwrap(), socket)
        });
        (url, server)
    }

    #[tokio::test]
    async fn upgrade_returns_the_chosen_protocol_and_keeps_early_bytes() {
        // The 101 head is followed at once by a SPDY PING the session must see and echo.
        let (url, server) = answer_once(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x02",
        )
        .await;
        let (connection, protocol) = dial(&url, &["v4.channel.k8s.io"]).await.unwrap();
        assert_eq!(protocol, "v4.channel.k8s.io");
        let (head, mut socket) = server.await.unwrap();
        assert!(head.starts_with("POST /exec/token HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"));
        let mut echo = [0u8; 12];
        socket.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x02");
        connection.close().await;
    }

    #[tokio::test]
    async fn refusal_carries_status_and_body() {
        let (url, _server) =
            answer_once(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\nunknown token\r\n").await;
        let error = match dial(&url, &["v4.channel.k8s.io"]).await {
            Err(error) => error,
            Ok(_) => panic!("a 404 must not upgrade"),
        };
        match error.get_ref().and_then(|e| e.downcast_ref::<DialError>()) {
            Some(DialError::Refused { status: 404, body }) => assert_eq!(body, "unknown token"),
            other => panic!("unexpected error {other:?}"),
        }
    }
}
