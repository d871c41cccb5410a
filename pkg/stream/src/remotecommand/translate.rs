//! One exec/attach session: the client's WebSocket channels copied to and from the SPDY
//! streams of the runtime's streaming server, ending with the Status on channel 3.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::channel::{self, Inbound, MAX_MESSAGE};
use super::{status, Options, WsProtocol};
use crate::spdy;

/// How long to wait for the client's answer to our close frame before dropping it.
const CLOSE_HANDSHAKE_GRACE: Duration = Duration::from_secs(5);

/// Serves one exec/attach session. `ws` is the client's upgraded WebSocket speaking
/// `protocol`; `spdy` a session with the runtime's streaming server that negotiated
/// `v4.channel.k8s.io`; `opts` the streams the kubelet asked the runtime for.
///
/// Opens the runtime's streams as client-go's v4 protocol does (error, stdin, stdout,
/// stderr unless tty, resize if tty), copies channels 0 and 4 to them and stdout/stderr to
/// channels 1 and 2; once the error, stdout and stderr streams have all ended, sends the
/// error stream's Status (or Success if it was empty) on channel 3 and closes with 1000.
/// Returns when the session is over, the SPDY session closed. A client that goes away is a
/// normal end (`Ok`); failing to open the runtime's streams is reported to the client as a
/// Failure status and returned as the error.
pub async fn serve_websocket<S>(
    ws: WebSocketStream<S>,
    protocol: WsProtocol,
    spdy: spdy::Connection,
    opts: Options,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, source) = ws.split();
    let mut client = Client { sink, source };
    let result = match RuntimeStreams::open(&spdy, opts).await {
        Ok(streams) => {
            let mut session = Session {
                protocol,
                client: &mut client,
                streams,
                status: Vec::new(),
            };
            match session.copy_until_done().await {
                End::RuntimeDone => {
                    let status = std::mem::take(&mut session.status);
                    client.finish(&status).await
                }
                End::ClientGone => {
                    // Flushes tungstenite's answer to the client's close, if it sent one.
                    let _ = tokio::time::timeout(CLOSE_HANDSHAKE_GRACE, client.sink.close()).await;
                    Ok(())
                }
            }
        }
        Err(error) => {
            let _ = client
                .finish(status::internal_error(&error.to_string()).as_bytes())
                .await;
            Err(error)
        }
    };
    spdy.close().await;
    result
}

/// The runtime's side of the session: one SPDY stream per channel the options ask for.
struct RuntimeStreams {
    error: spdy::Stream,
    /// `None` once the client half-closed stdin (v5) or the stream broke.
    stdin: Option<spdy::Stream>,
    /// `None` once the runtime ended it (or it was not asked for).
    stdout: Option<spdy::Stream>,
    stderr: Option<spdy::Stream>,
    resize: Option<spdy::Stream>,
}

impl RuntimeStreams {
    /// Opens the streams one by one, each after the previous one's SYN_REPLY, in the order
    /// client-go's v4 protocol does; the runtime waits until it has all it expects.
    async fn open(spdy: &spdy::Connection, opts: Options) -> io::Result<RuntimeStreams> {
        let open = |stream_type: &'static str| async move {
            spdy.open_stream(&[("streamtype", stream_type)]).await
        };
        let error = open("error").await?;
        let stdin = if opts.stdin {
            Some(open("stdin").await?)
        } else {
            None
        };
        let stdout = if opts.stdout {
            Some(open("stdout").await?)
        } else {
            None
        };
        let stderr = if opts.stderr && !opts.tty {
            Some(open("stderr").await?)
        } else {
            None
        };
        let resize = if opts.tty {
            Some(open("resize").await?)
        } else {
            None
        };
        Ok(RuntimeStreams {
            error,
            stdin,
            stdout,
            stderr,
            resize,
        })
    }
}

/// The client's WebSocket, split so reading and sending can interleave.
struct Client<S> {
    sink: futures::stream::SplitSink<WebSocketStream<S>, Message>,
    source: futures::stream::SplitStream<WebSocketStream<S>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn send(&mut self, channel: u8, data: &[u8]) -> Result<(), WsError> {
        for message in channel::messages(channel, data) {
            self.sink.feed(Message::Binary(message)).await?;
        }
        self.sink.flush().await
    }

    /// Sends the Status on channel 3 (Success if `status` is empty), closes with 1000 and
    /// waits briefly for the client's close answer.
    async fn finish(&mut self, status: &[u8]) -> io::Result<()> {
        let status = if status.is_empty() {
            status::SUCCESS.as_bytes()
        } else {
            status
        };
        self.send(channel::ERROR, status).await.map_err(ws_to_io)?;
        let close = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        self.sink
            .send(Message::Close(Some(close)))
            .await
            .map_err(ws_to_io)?;
        let drain = async { while let Some(Ok(_)) = self.source.next().await {} };
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE_GRACE, drain).await;
        Ok(())
    }
}

/// What became of one read from a runtime output stream.
enum Forwarded {
    More,
    StreamEnded,
    ClientGone,
}

/// How the copying ended.
enum End {
    /// The error, stdout and stderr streams have all ended: time to send the Status.
    RuntimeDone,
    /// The client closed or dropped the WebSocket.
    ClientGone,
}

struct Session<'a, S> {
    protocol: WsProtocol,
    client: &'a mut Client<S>,
    streams: RuntimeStreams,
    /// The error stream's content so far: the runtime's Status JSON.
    status: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    async fn copy_until_done(&mut self) -> End {
        let mut stdout_buf = vec![0u8; MAX_MESSAGE - 1];
        let mut stderr_buf = vec![0u8; MAX_MESSAGE - 1];
        let mut error_done = false;
        loop {
            if error_done && self.streams.stdout.is_none() && self.streams.stderr.is_none() {
                return End::RuntimeDone;
            }
            tokio::select! {
                message = self.client.source.next() => match message {
                    Some(Ok(Message::Binary(data))) => self.handle_client_message(data).await,
                    // Pings are answered by tungstenite itself on the next read or write.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    Some(Ok(Message::Text(_))) => tracing::debug!("exec client sent a text message; ignored"),
                    Some(Ok(Message::Close(_))) | None => return End::ClientGone,
                    Some(Err(error)) => {
                        tracing::debug!("exec client connection failed: {error}");
                        return End::ClientGone;
                    }
                },
                read = read_or_pend(self.streams.stdout.as_mut(), &mut stdout_buf) => {
                    match self.forward_output(channel::STDOUT, read, &stdout_buf).await {
                        Forwarded::More => {}
                        Forwarded::StreamEnded => self.streams.stdout = None,
                        Forwarded::ClientGone => return End::ClientGone,
                    }
                }
                read = read_or_pend(self.streams.stderr.as_mut(), &mut stderr_buf) => {
                    match self.forward_output(channel::STDERR, read, &stderr_buf).await {
                        Forwarded::More => {}
                        Forwarded::StreamEnded => self.streams.stderr = None,
                        Forwarded::ClientGone => return End::ClientGone,
                    }
                }
                read = self.streams.error.read_buf(&mut self.status), if !error_done => {
                    match read {
                        Ok(0) => error_done = true,
                        Ok(_) => {}
                        Err(error) => {
                            tracing::debug!("runtime error stream failed: {error}");
                            error_done = true;
                        }
                    }
                }
            }
        }
    }

    /// Forwards one read of a runtime output stream to the client.
    async fn forward_output(
        &mut self,
        channel: u8,
        read: io::Result<usize>,
        buf: &[u8],
    ) -> Forwarded {
        match read {
            Ok(0) => Forwarded::StreamEnded,
            Ok(n) => match self.client.send(channel, &buf[..n]).await {
                Ok(()) => Forwarded::More,
                Err(error) => {
                    tracing::debug!("exec client connection failed: {error}");
                    Forwarded::ClientGone
                }
            },
            Err(error) => {
                tracing::debug!(channel, "runtime output stream failed: {error}");
                Forwarded::StreamEnded
            }
        }
    }

    async fn handle_client_message(&mut self, message: Bytes) {
        match channel::parse(self.protocol, message) {
            Inbound::Stdin(data) => {
                if let Some(stdin) = self.streams.stdin.as_mut() {
                    if let Err(error) = stdin.write_all(&data).await {
                        tracing::debug!("runtime stdin stream failed: {error}");
                        self.streams.stdin = None;
                    }
                }
            }
            Inbound::Resize(size) => {
                if let Some(resize) = self.streams.resize.as_mut() {
                    if let Err(error) = resize.write_all(&size).await {
                        tracing::debug!("runtime resize stream failed: {error}");
                        self.streams.resize = None;
                    }
                }
            }
            Inbound::CloseStdin => {
                if let Some(mut stdin) = self.streams.stdin.take() {
                    if let Err(error) = stdin.shutdown().await {
                        tracing::debug!("closing runtime stdin stream failed: {error}");
                    }
                }
            }
            Inbound::Ignored(what) => tracing::debug!("exec client {what}; ignored"),
        }
    }
}

/// Reads from `stream`, or never completes when there is none (a `select!` branch that
/// stays quiet once its stream has ended).
async fn read_or_pend(stream: Option<&mut spdy::Stream>, buf: &mut [u8]) -> io::Result<usize> {
    match stream {
        Some(stream) => stream.read(buf).await,
        None => std::future::pending().await,
    }
}

fn ws_to_io(error: WsError) -> io::Error {
    match error {
        WsError::Io(error) => error,
        other => io::Error::other(other),
    }
}
