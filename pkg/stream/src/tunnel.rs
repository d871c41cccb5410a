//! A WebSocket whose binary messages carry a byte stream with arbitrary boundaries
//! (kubectl's `SPDY/3.1+portforward.k8s.io` tunnel), turned into one plain byte stream.

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Largest binary message sent toward the client (its buffers are 32 KiB + 1 KiB).
pub const MAX_MESSAGE: usize = 32 * 1024;

/// Buffer between the pump task and the returned byte stream, in each direction.
const PIPE_CAPACITY: usize = 64 * 1024;

/// How long, after we closed the WebSocket, the pump still delivers the client's last bytes
/// and waits for its close answer.
const CLOSE_HANDSHAKE_GRACE: Duration = Duration::from_secs(5);

/// The bytes inside `ws` as one `AsyncRead + AsyncWrite`: reads yield the payloads of the
/// client's binary (or text) messages in order, writes go out as binary messages of at most
/// [`MAX_MESSAGE`] bytes. Pings are answered. The client's close (or a broken connection)
/// is EOF for reads and makes writes fail; shutting down the write side sends close 1000.
///
/// A spawned pump task does the copying; it ends when either side is done, including when
/// the returned stream is dropped.
pub fn websocket_bytes<S>(
    ws: WebSocketStream<S>,
) -> impl AsyncRead + AsyncWrite + Unpin + Send + 'static
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (ours, theirs) = tokio::io::duplex(PIPE_CAPACITY);
    tokio::spawn(pump(ws, ours));
    theirs
}

/// Copies between the WebSocket and our end of the pipe until one side is done.
async fn pump<S>(ws: WebSocketStream<S>, pipe: DuplexStream)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut source) = ws.split();
    let (mut pipe_reader, mut pipe_writer) = tokio::io::split(pipe);
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        tokio::select! {
            message = source.next() => {
                let payload: Bytes = match message {
                    Some(Ok(Message::Binary(data))) => data,
                    Some(Ok(Message::Text(text))) => Bytes::copy_from_slice(text.as_bytes()),
                    // tungstenite answers pings itself on the next read or write.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(error)) => {
                        tracing::debug!("port-forward tunnel client connection failed: {error}");
                        break;
                    }
                };
                if pipe_writer.write_all(&payload).await.is_err() {
                    // The consumer dropped its end: nobody wants the stream any more.
                    let _ = sink.send(Message::Close(Some(normal_close()))).await;
                    break;
                }
            }
            read = pipe_reader.read(&mut buf) => match read {
                Ok(n) if n > 0 => {
                    if let Err(error) = sink.send(Message::Binary(Bytes::copy_from_slice(&buf[..n]))).await {
                        tracing::debug!("port-forward tunnel client connection failed: {error}");
                        break;
                    }
                }
                // The consumer shut down its write side (or dropped its end): close the
                // WebSocket, then hand over what the client still sends until it answers.
                _ => {
                    if sink.send(Message::Close(Some(normal_close()))).await.is_ok() {
                        let drain = async {
                            while let Some(Ok(message)) = source.next().await {
                                if let Message::Binary(data) = message {
                                    if pipe_writer.write_all(&data).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        };
                        let _ = tokio::time::timeout(CLOSE_HANDSHAKE_GRACE, drain).await;
                    }
                    break;
                }
            },
        }
    }
    // Dropping our end makes the consumer read EOF and fail writes.
    let _ = pipe_writer.shutdown().await;
    // Flushes tungstenite's answer to the client's close, or our own close frame.
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE_GRACE, sink.close()).await;
}

fn normal_close() -> CloseFrame {
    CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }
}
