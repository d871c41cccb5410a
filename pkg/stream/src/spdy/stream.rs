//! One SPDY stream we opened, as a byte stream: reads the peer's DATA, writes ours.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::PollSender;

use super::session::{session_ended, Command, Shared};

/// Largest DATA payload we send: small frames keep one busy stream from delaying the
/// others' frames (and a stdout chunk maps onto one WebSocket message downstream).
pub const MAX_DATA_FRAME: usize = 32 * 1024;

/// A SPDY stream: `AsyncRead` yields the peer's DATA and EOF on its FIN or RST_STREAM (or
/// when the session ends); `AsyncWrite` sends DATA frames and `poll_shutdown` sends FIN.
///
/// `poll_flush` returns once the frames are queued to the session task, not once they are
/// on the socket: ordering across streams is kept, durability is not promised.
pub struct Stream {
    id: u32,
    shared: Arc<Shared>,
    /// To the session task; reserving a slot is what pushes back on a fast writer.
    commands: PollSender<Command>,
    fin_sent: bool,
}

impl Stream {
    pub(crate) fn new(id: u32, shared: Arc<Shared>, commands: PollSender<Command>) -> Stream {
        Stream {
            id,
            shared,
            commands,
            fin_sent: false,
        }
    }

    /// The SPDY stream id (odd: we are the client).
    pub fn id(&self) -> u32 {
        self.id
    }

    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        payload: Bytes,
        fin: bool,
    ) -> Poll<io::Result<()>> {
        ready!(self.commands.poll_reserve(cx)).map_err(|_| session_ended())?;
        self.commands
            .send_item(Command::Data {
                stream_id: self.id,
                payload,
                fin,
            })
            .map_err(|_| session_ended())?;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut state = self.shared.lock();
        let Some(slot) = state.streams.get_mut(&self.id) else {
            return Poll::Ready(Ok(()));
        };
        if let Some(front) = slot.inbound.front_mut() {
            let n = front.len().min(buf.remaining());
            buf.put_slice(&front[..n]);
            front.advance(n);
            if front.is_empty() {
                slot.inbound.pop_front();
            }
            return Poll::Ready(Ok(()));
        }
        if slot.remote_closed {
            return Poll::Ready(Ok(()));
        }
        slot.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.fin_sent {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "SPDY stream already half-closed",
            )));
        }
        {
            let state = self.shared.lock();
            let reset = state.streams.get(&self.id).is_none_or(|slot| slot.reset);
            if state.ended || reset {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "SPDY stream reset or ended",
                )));
            }
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = data.len().min(MAX_DATA_FRAME);
        ready!(self.poll_send(cx, Bytes::copy_from_slice(&data[..n]), false))?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.fin_sent || self.shared.lock().ended {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_send(cx, Bytes::new(), true))?;
        self.fin_sent = true;
        Poll::Ready(Ok(()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Forget the receive side so later DATA for it is dropped rather than buffered.
        self.shared.lock().streams.remove(&self.id);
    }
}
