//! The task that owns a SPDY connection's socket: reads and dispatches the peer's frames,
//! writes ours in order, and keeps the one pair of header compression contexts.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::frame::{rst_status, Frame, FrameError, GOAWAY_OK};
use super::header_block::{HeaderBlockError, HeaderCompressor, HeaderDecompressor, Headers};

/// How often the session pings the peer. Like client-go's SPDY round tripper (5 s), this
/// keeps idle exec sessions alive through the runtime's stream idle timeout and proxies.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);

/// While this many encoded bytes wait for the socket, no further commands are taken, so a
/// peer that stops reading pushes back on `Stream` writers through the command channel.
const OUTBOUND_HIGH_WATER: usize = 256 * 1024;

/// What the `Connection` and `Stream` handles ask of the session task, in wire order.
pub(crate) enum Command {
    /// Send SYN_STREAM with the next odd stream id; `replied` learns the id on SYN_REPLY.
    Open {
        headers: Vec<(String, String)>,
        replied: oneshot::Sender<io::Result<u32>>,
    },
    Data {
        stream_id: u32,
        payload: Bytes,
        fin: bool,
    },
    /// Send GOAWAY, write out what is queued, shut the socket's write side and stop.
    Close,
}

/// State shared by the session task and the handles: the streams' receive side.
pub(crate) struct Shared {
    state: Mutex<SharedState>,
}

pub(crate) struct SharedState {
    pub(crate) streams: HashMap<u32, StreamSlot>,
    /// Set once the session task has stopped; every stream then reads EOF.
    pub(crate) ended: bool,
}

/// The receive side of one stream we opened.
#[derive(Default)]
pub(crate) struct StreamSlot {
    /// DATA payloads not yet read by the `Stream`. Unbounded: SPDY/3 flow control is not
    /// enforced by spdystream either, and the runtime's output rate is what fills it.
    pub(crate) inbound: VecDeque<Bytes>,
    /// The peer sent FIN or RST_STREAM, or the session ended: EOF once `inbound` drains.
    pub(crate) remote_closed: bool,
    /// The peer reset the stream: writes fail.
    pub(crate) reset: bool,
    /// The task waiting in `poll_read`, woken when data or EOF arrives.
    pub(crate) reader: Option<Waker>,
    /// The `open_stream` call waiting for SYN_REPLY; taken when it arrives.
    replied: Option<oneshot::Sender<io::Result<u32>>>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(SharedState {
                streams: HashMap::new(),
                ended: false,
            }),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SharedState> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters more than losing the session, so a poisoned lock is used as is.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the session over: readers see EOF after their buffered data, openers an error.
    pub(crate) fn end(&self) {
        let mut state = self.lock();
        state.ended = true;
        for slot in state.streams.values_mut() {
            slot.remote_closed = true;
            if let Some(replied) = slot.replied.take() {
                let _ = replied.send(Err(session_ended()));
            }
            if let Some(reader) = slot.reader.take() {
                reader.wake();
            }
        }
    }
}

pub(crate) fn session_ended() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "SPDY session has ended")
}

/// Why the session task stopped.
#[derive(Debug, thiserror::Error)]
enum Ending {
    #[error("closed by us")]
    Closed,
    #[error("peer closed the connection")]
    PeerClosed,
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("peer sent a malformed frame: {0}")]
    Frame(#[from] FrameError),
    #[error("peer sent an unreadable header block: {0}")]
    HeaderBlock(#[from] HeaderBlockError),
}

/// Runs the session until it is closed, the peer goes away, or every handle is dropped;
/// then ends all streams.
pub(crate) async fn run<T>(io: T, shared: Arc<Shared>, commands: mpsc::Receiver<Command>)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let (reader, writer) = tokio::io::split(io);
    let mut session = Session {
        reader,
        writer,
        inbound: BytesMut::with_capacity(64 * 1024),
        outbound: BytesMut::new(),
        compressor: HeaderCompressor::new(),
        decompressor: HeaderDecompressor::new(),
        next_stream_id: 1,
        next_ping_id: 1,
        goaway_received: false,
        closing: false,
        commands,
        shared: shared.clone(),
    };
    let ending = session.serve().await;
    match &ending {
        Ending::Closed | Ending::PeerClosed => tracing::debug!("SPDY session ended: {ending}"),
        _ => tracing::warn!("SPDY session ended: {ending}"),
    }
    shared.end();
}

struct Session<T> {
    reader: tokio::io::ReadHalf<T>,
    writer: tokio::io::WriteHalf<T>,
    /// Bytes read from the peer that do not yet make a whole frame.
    inbound: BytesMut,
    /// Encoded frames not yet written to the socket, in the order they must go out.
    outbound: BytesMut,
    compressor: HeaderCompressor,
    decompressor: HeaderDecompressor,
    next_stream_id: u32,
    next_ping_id: u32,
    /// The peer will accept no new streams.
    goaway_received: bool,
    /// GOAWAY is queued: take no more commands, stop once `outbound` is written.
    closing: bool,
    /// From the handles; `None` from `recv` means every handle is gone.
    commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Session<T> {
    async fn serve(&mut self) -> Ending {
        let mut keepalive = tokio::time::interval(KEEPALIVE_INTERVAL);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.tick().await;
        loop {
            if self.closing && self.outbound.is_empty() {
                let _ = self.writer.flush().await;
                let _ = self.writer.shutdown().await;
                return Ending::Closed;
            }
            let take_commands = !self.closing && self.outbound.len() < OUTBOUND_HIGH_WATER;
            tokio::select! {
                read = self.reader.read_buf(&mut self.inbound) => match read {
                    Ok(0) => return Ending::PeerClosed,
                    Ok(_) => {
                        if let Err(ending) = self.dispatch_inbound() {
                            return ending;
                        }
                    }
                    Err(error) => return Ending::Io(error),
                },
                written = self.writer.write(&self.outbound), if !self.outbound.is_empty() => match written {
                    Ok(0) => return Ending::Io(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.outbound.advance(n);
                        if self.outbound.is_empty() {
                            if let Err(error) = self.writer.flush().await {
                                return Ending::Io(error);
                            }
                        }
                    }
                    Err(error) => return Ending::Io(error),
                },
                command = self.commands.recv(), if take_commands => match command {
                    Some(command) => self.handle_command(command),
                    None => self.begin_close(),
                },
                _ = keepalive.tick() => self.queue_ping(),
            }
        }
    }

    fn queue(&mut self, frame: Frame) {
        frame.encode(&mut self.outbound);
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Open { headers, replied } => self.open(headers, replied),
            Command::Data {
                stream_id,
                payload,
                fin,
            } => self.queue(Frame::Data {
                stream_id,
                fin,
                payload,
            }),
            Command::Close => self.begin_close(),
        }
    }

    fn open(&mut self, headers: Vec<(String, String)>, replied: oneshot::Sender<io::Result<u32>>) {
        if self.goaway_received || self.next_stream_id > 0x7fff_ffff {
            let _ = replied.send(Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "SPDY peer accepts no new streams (GOAWAY received or stream ids exhausted)",
            )));
            return;
        }
        let stream_id = self.next_stream_id;
        self.next_stream_id += 2;
        self.shared.lock().streams.insert(
            stream_id,
            StreamSlot {
                replied: Some(replied),
                ..Default::default()
            },
        );
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let header_block = self.compressor.compress(&pairs);
        self.queue(Frame::SynStream {
            stream_id,
            associated_id: 0,
            priority: 0,
            fin: false,
            header_block,
        });
    }

    fn begin_close(&mut self) {
        if !self.closing {
            self.closing = true;
            // We accept no streams from the peer, so the last good one is always 0.
            self.queue(Frame::GoAway {
                last_good_stream_id: 0,
                status: GOAWAY_OK,
            });
        }
    }

    fn queue_ping(&mut self) {
        if self.closing {
            return;
        }
        // Ours are odd (the client's); the peer echoes them and we ignore the echo.
        let id = self.next_ping_id;
        self.next_ping_id = if id >= 0x7fff_fffd { 1 } else { id + 2 };
        self.queue(Frame::Ping { id });
    }

    fn dispatch_inbound(&mut self) -> Result<(), Ending> {
        while let Some(frame) = Frame::decode(&mut self.inbound)? {
            self.handle_frame(frame)?;
        }
        Ok(())
    }

    fn handle_frame(&mut self, frame: Frame) -> Result<(), Ending> {
        match frame {
            Frame::Data {
                stream_id,
                fin,
                payload,
            } => {
                self.with_stream(stream_id, |slot| {
                    if !payload.is_empty() && !slot.remote_closed {
                        slot.inbound.push_back(payload);
                    }
                    if fin {
                        slot.remote_closed = true;
                    }
                });
            }
            Frame::SynReply {
                stream_id,
                fin,
                header_block,
            } => {
                // Inflate even when unused: the decompression context must see every block.
                let _headers: Headers = self.decompressor.decompress(&header_block)?;
                let mut abandoned = false;
                self.with_stream(stream_id, |slot| {
                    if let Some(replied) = slot.replied.take() {
                        abandoned = replied.send(Ok(stream_id)).is_err();
                    }
                    if fin {
                        slot.remote_closed = true;
                    }
                });
                if abandoned {
                    // `open_stream` gave up waiting (timeout or cancelled): nobody owns it.
                    self.shared.lock().streams.remove(&stream_id);
                    self.queue(Frame::RstStream {
                        stream_id,
                        status: rst_status::CANCEL,
                    });
                }
            }
            Frame::Headers {
                stream_id,
                fin,
                header_block,
            } => {
                let _headers: Headers = self.decompressor.decompress(&header_block)?;
                if fin {
                    self.with_stream(stream_id, |slot| slot.remote_closed = true);
                }
            }
            Frame::SynStream {
                stream_id,
                header_block,
                ..
            } => {
                let _headers: Headers = self.decompressor.decompress(&header_block)?;
                // The runtime's streaming server never opens streams toward its client.
                tracing::debug!(stream_id, "refusing SPDY stream opened by the peer");
                self.queue(Frame::RstStream {
                    stream_id,
                    status: rst_status::REFUSED_STREAM,
                });
            }
            Frame::RstStream { stream_id, status } => {
                tracing::debug!(stream_id, status, "SPDY stream reset by the peer");
                self.with_stream(stream_id, |slot| {
                    slot.remote_closed = true;
                    slot.reset = true;
                    if let Some(replied) = slot.replied.take() {
                        let _ = replied.send(Err(io::Error::new(
                            io::ErrorKind::ConnectionRefused,
                            format!("SPDY stream {stream_id} refused by the peer (RST_STREAM status {status})"),
                        )));
                    }
                });
            }
            Frame::Ping { id } => {
                // Even ids are the server's own pings: echo them. Odd ones answer ours.
                if id % 2 == 0 {
                    self.queue(Frame::Ping { id });
                }
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                tracing::debug!(last_good_stream_id, status, "SPDY peer sent GOAWAY");
                self.goaway_received = true;
            }
            // Flow control is not enforced by spdystream, and settings change nothing here.
            Frame::Settings { .. } | Frame::WindowUpdate { .. } | Frame::UnknownControl { .. } => {}
        }
        Ok(())
    }

    /// Applies `update` to a stream we know and wakes its reader; frames for streams we do
    /// not know (never opened, or already dropped) are ignored.
    fn with_stream(&self, stream_id: u32, update: impl FnOnce(&mut StreamSlot)) {
        let mut state = self.shared.lock();
        if let Some(slot) = state.streams.get_mut(&stream_id) {
            update(slot);
            if let Some(reader) = slot.reader.take() {
                reader.wake();
            }
        }
    }
}
