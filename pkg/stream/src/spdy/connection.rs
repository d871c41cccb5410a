//! The handle to a SPDY/3.1 session in the client role: opens streams, closes the session.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::PollSender;

use super::session::{self, session_ended, Command, Shared};
use super::stream::Stream;

/// How long `open_stream` waits for SYN_REPLY (client-go waits 30 s too).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `close` lets the session write GOAWAY and what was queued before it stops the
/// task regardless (a peer that stopped reading must not hold the caller).
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Commands the session task may have waiting; each is at most one 32 KiB DATA frame.
const COMMAND_QUEUE: usize = 64;

/// A SPDY/3.1 session in the client role (odd stream ids) over any byte stream. Cheap to
/// clone; the session task runs until `close`, until the peer goes away, or until every
/// `Connection` and `Stream` of it is dropped.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    /// The session task, joined (or aborted after `CLOSE_GRACE`) by the first `close`.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Connection {
    /// Starts the session over `io` (already upgraded to SPDY/3.1); spawns its task on tokio.
    pub fn client<T>(io: T) -> Connection
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let shared = Shared::new();
        let task = tokio::spawn(session::run(io, shared.clone(), receiver));
        Connection {
            inner: Arc::new(Inner {
                commands,
                shared,
                task: Mutex::new(Some(task)),
            }),
        }
    }

    /// Sends SYN_STREAM with these headers (names lower-cased on the wire) and waits up to
    /// [`REPLY_TIMEOUT`] for the peer's SYN_REPLY. A RST_STREAM instead of a reply is
    /// `ConnectionRefused`, no answer in time is `TimedOut`.
    pub async fn open_stream(&self, headers: &[(&str, &str)]) -> io::Result<Stream> {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
            .collect();
        let (replied, reply) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Open { headers, replied })
            .await
            .map_err(|_| session_ended())?;
        let stream_id = match tokio::time::timeout(REPLY_TIMEOUT, reply).await {
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "SPDY peer did not reply to SYN_STREAM in time",
                ))
            }
            Ok(Err(_)) => return Err(session_ended()),
            Ok(Ok(result)) => result?,
        };
        Ok(Stream::new(
            stream_id,
            self.inner.shared.clone(),
            PollSender::new(self.inner.commands.clone()),
        ))
    }

    /// Sends GOAWAY after what is already queued, shuts the socket down and waits for the
    /// session task to stop (aborting it after a short grace). Streams then read EOF and
    /// fail writes. Later calls return at once.
    pub async fn close(&self) {
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let Some(task) = task else { return };
        let abort = task.abort_handle();
        let graceful = async {
            let _ = self.inner.commands.send(Command::Close).await;
            let _ = task.await;
        };
        if tokio::time::timeout(CLOSE_GRACE, graceful).await.is_err() {
            tracing::debug!("SPDY session did not close within {CLOSE_GRACE:?}; stopping it");
            abort.abort();
            self.inner.shared.end();
        }
    }

    /// Whether the session task has stopped (closed, peer gone, or failed).
    pub fn is_closed(&self) -> bool {
        self.inner.shared.lock().ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spdy::frame::{rst_status, Frame};
    use crate::spdy::header_block::{HeaderCompressor, HeaderDecompressor};
    use bytes::{Bytes, BytesMut};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// The server end of a session, driven frame by frame by the test.
    struct Peer {
        io: DuplexStream,
        inbound: BytesMut,
        compressor: HeaderCompressor,
        decompressor: HeaderDecompressor,
    }

    impl Peer {
        fn start() -> (Connection, Peer) {
            let (client, server) = tokio::io::duplex(256 * 1024);
            let peer = Peer {
                io: server,
                inbound: BytesMut::new(),
                compressor: HeaderCompressor::new(),
                decompressor: HeaderDecompressor::new(),
            };
            (Connection::client(client), peer)
        }

        /// The next frame from the client other than its keepalive pings.
        async fn next(&mut self) -> Option<Frame> {
            loop {
                if let Some(frame) = Frame::decode(&mut self.inbound).unwrap() {
                    if matches!(frame, Frame::Ping { id } if id % 2 == 1) {
                        continue;
                    }
                    return Some(frame);
                }
                if self.io.read_buf(&mut self.inbound).await.unwrap() == 0 {
                    return None;
                }
            }
        }

        async fn send(&mut self, frames: &[Frame]) {
            let mut out = BytesMut::new();
            for frame in frames {
                frame.encode(&mut out);
            }
            self.io.write_all(&out).await.unwrap();
        }

        /// Accepts the next SYN_STREAM; returns its id and decoded headers.
        async fn accept(&mut self) -> (u32, Vec<(String, String)>) {
            let Some(Frame::SynStream {
                stream_id,
                header_block,
                ..
            }) = self.next().await
            else {
                panic!("expected SYN_STREAM");
            };
            let headers = self.decompressor.decompress(&header_block).unwrap();
            let header_block = self.compressor.compress(&[]);
            self.send(&[Frame::SynReply {
                stream_id,
                fin: false,
                header_block,
            }])
            .await;
            (stream_id, headers)
        }
    }

    fn data(stream_id: u32, payload: &'static [u8]) -> Frame {
        Frame::Data {
            stream_id,
            fin: false,
            payload: Bytes::from_static(payload),
        }
    }

    #[tokio::test]
    async fn data_is_buffered_until_read_and_reset_reads_as_eof() {
        let (connection, mut peer) = Peer::start();
        let (stream, accepted) = tokio::join!(
            connection.open_stream(&[("StreamType", "data"), ("port", "80")]),
            peer.accept()
        );
        let mut stream = stream.unwrap();
        assert_eq!(accepted.0, 1);
        assert_eq!(
            accepted.1,
            [
                ("streamtype".to_string(), "data".to_string()),
                ("port".into(), "80".into())
            ]
        );

        // Everything arrives before the first read; frames the client does not act on
        // (settings, window updates, other streams, the peer's ping) are taken in stride.
        peer.send(&[
            data(1, b"one "),
            Frame::Settings {
                flags: 0,
                entries: Bytes::from_static(&[0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 100]),
            },
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 1024,
            },
            data(99, b"nobody's"),
            Frame::Ping { id: 4 },
            data(1, b"two "),
            data(1, b"three"),
            Frame::RstStream {
                stream_id: 1,
                status: rst_status::CANCEL,
            },
        ])
        .await;
        assert_eq!(peer.next().await, Some(Frame::Ping { id: 4 }));
        let mut all = String::new();
        stream.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "one two three");
        assert!(stream.write_all(b"after reset").await.is_err());
        connection.close().await;
        assert_eq!(
            peer.next().await,
            Some(Frame::GoAway {
                last_good_stream_id: 0,
                status: 0
            })
        );
        assert_eq!(peer.next().await, None);
    }

    #[tokio::test]
    async fn writes_are_chunked_and_shutdown_sends_fin() {
        let (connection, mut peer) = Peer::start();
        let (stream, _) = tokio::join!(
            connection.open_stream(&[("streamtype", "stdin")]),
            peer.accept()
        );
        let mut stream = stream.unwrap();
        let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let writer = async {
            stream.write_all(&payload).await.unwrap();
            stream.shutdown().await.unwrap();
        };
        let reader = async {
            let mut received = Vec::new();
            loop {
                match peer.next().await {
                    Some(Frame::Data {
                        stream_id: 1,
                        fin,
                        payload,
                    }) => {
                        assert!(payload.len() <= crate::spdy::MAX_DATA_FRAME);
                        received.extend_from_slice(&payload);
                        if fin {
                            return received;
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
        let ((), received) = tokio::join!(writer, reader);
        assert_eq!(received, payload);
    }

    #[tokio::test]
    async fn peer_fin_on_reply_and_second_stream_ids() {
        let (connection, mut peer) = Peer::start();
        let (first, _) = tokio::join!(
            connection.open_stream(&[("streamtype", "error")]),
            peer.accept()
        );
        let (second, second_id) =
            tokio::join!(connection.open_stream(&[("streamtype", "stdout")]), async {
                let Some(Frame::SynStream {
                    stream_id,
                    header_block,
                    ..
                }) = peer.next().await
                else {
                    panic!()
                };
                peer.decompressor.decompress(&header_block).unwrap();
                let header_block = peer.compressor.compress(&[("x", "y")]);
                peer.send(&[Frame::SynReply {
                    stream_id,
                    fin: true,
                    header_block,
                }])
                .await;
                stream_id
            });
        assert_eq!(second_id, 3);
        let mut rest = Vec::new();
        second.unwrap().read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        drop(first);
        // The peer going away ends the session: later opens fail rather than hang.
        drop(peer);
        let error = connection
            .open_stream(&[("streamtype", "stdin")])
            .await
            .err()
            .unwrap();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        assert!(connection.is_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn open_times_out_without_a_reply() {
        let (connection, mut peer) = Peer::start();
        let silent_peer = async { while peer.next().await.is_some() {} };
        tokio::select! {
            opened = connection.open_stream(&[("streamtype", "error")]) => {
                assert_eq!(opened.err().unwrap().kind(), io::ErrorKind::TimedOut);
            }
            _ = silent_peer => panic!("peer ended"),
        }
    }

    #[tokio::test]
    async fn refused_stream_is_an_error() {
        let (connection, mut peer) = Peer::start();
        let refuse = async {
            let Some(Frame::SynStream { stream_id, .. }) = peer.next().await else {
                panic!()
            };
            peer.send(&[Frame::RstStream {
                stream_id,
                status: rst_status::REFUSED_STREAM,
            }])
            .await;
        };
        let (opened, ()) = tokio::join!(connection.open_stream(&[("streamtype", "error")]), refuse);
        assert_eq!(
            opened.err().unwrap().kind(),
            io::ErrorKind::ConnectionRefused
        );
    }
}
