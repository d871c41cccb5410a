//! A fake container runtime streaming server: the SPDY/3 server end of an exec session,
//! built from the crate's own frame and header-block codecs, scripted for the tests.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use corekube_stream::spdy::frame::{rst_status, Frame, GOAWAY_OK};
use corekube_stream::spdy::header_block::{HeaderCompressor, HeaderDecompressor};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

/// What the fake runtime saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A SYN_STREAM: its id and headers as decoded.
    Opened(u32, Vec<(String, String)>),
    Stdin(Vec<u8>),
    StdinClosed,
    Resize(Vec<u8>),
    /// The echo of the PING the runtime sent (even id).
    PingEchoed(u32),
    GoAway,
    ConnectionClosed,
}

/// How the fake runtime behaves.
#[derive(Clone, Default)]
pub struct Script {
    /// Written on stdout as soon as the stdout stream is opened.
    pub stdout_greeting: Vec<u8>,
    /// Written on stderr as soon as the stderr stream is opened.
    pub stderr_greeting: Vec<u8>,
    /// Written on the error stream when the command ends; `None` leaves it empty.
    pub status: Option<String>,
    /// The command ends when stdin contains this (as well as on stdin FIN).
    pub exit_on: Option<Vec<u8>>,
}

/// Serves one SPDY session on `io` until it ends; reports what it saw on `seen`.
pub async fn run(mut io: DuplexStream, script: Script, seen: mpsc::UnboundedSender<Seen>) {
    let mut inbound = BytesMut::new();
    let mut compressor = HeaderCompressor::new();
    let mut decompressor = HeaderDecompressor::new();
    let mut types: HashMap<String, u32> = HashMap::new();
    let mut pinged = false;
    loop {
        let frame = loop {
            if let Some(frame) = Frame::decode(&mut inbound).expect("client frames decode") {
                break Some(frame);
            }
            match io.read_buf(&mut inbound).await {
                Ok(0) | Err(_) => break None,
                Ok(_) => {}
            }
        };
        let Some(frame) = frame else {
            let _ = seen.send(Seen::ConnectionClosed);
            return;
        };
        let mut out = BytesMut::new();
        let mut finish = false;
        match frame {
            Frame::SynStream {
                stream_id,
                header_block,
                ..
            } => {
                let headers = decompressor
                    .decompress(&header_block)
                    .expect("client header block inflates");
                let stream_type = headers
                    .iter()
                    .find(|(n, _)| n == "streamtype")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let _ = seen.send(Seen::Opened(stream_id, headers));
                types.insert(stream_type.clone(), stream_id);
                // spdystream replies with an (empty) header block of its own.
                let header_block = compressor.compress(&[]);
                Frame::SynReply {
                    stream_id,
                    fin: false,
                    header_block,
                }
                .encode(&mut out);
                let greeting = match stream_type.as_str() {
                    "stdout" => &script.stdout_greeting,
                    "stderr" => &script.stderr_greeting,
                    _ => &Vec::new(),
                };
                for chunk in greeting.chunks(60_000) {
                    Frame::Data {
                        stream_id,
                        fin: false,
                        payload: Bytes::copy_from_slice(chunk),
                    }
                    .encode(&mut out);
                }
                if !pinged {
                    pinged = true;
                    Frame::Ping { id: 2 }.encode(&mut out);
                }
            }
            Frame::Data {
                stream_id,
                fin,
                payload,
            } => {
                if Some(&stream_id) == types.get("stdin") {
                    if !payload.is_empty() {
                        let _ = seen.send(Seen::Stdin(payload.to_vec()));
                        // Echo stdin on stdout, as `cat` would.
                        if let Some(&stdout) = types.get("stdout") {
                            Frame::Data {
                                stream_id: stdout,
                                fin: false,
                                payload: payload.clone(),
                            }
                            .encode(&mut out);
                        }
                        if let Some(exit_on) = &script.exit_on {
                            finish |= payload
                                .windows(exit_on.len())
                                .any(|w| w == exit_on.as_slice());
                        }
                    }
                    if fin {
                        let _ = seen.send(Seen::StdinClosed);
                        finish = true;
                    }
                } else if Some(&stream_id) == types.get("resize") {
                    let _ = seen.send(Seen::Resize(payload.to_vec()));
                }
            }
            Frame::Ping { id } => {
                if id % 2 == 0 {
                    let _ = seen.send(Seen::PingEchoed(id));
                } else {
                    // The client's keepalive: echo like spdystream.
                    Frame::Ping { id }.encode(&mut out);
                }
            }
            Frame::GoAway { .. } => {
                let _ = seen.send(Seen::GoAway);
            }
            _ => {}
        }
        if finish {
            // As the kubelet streaming server does: status on the error stream, then every
            // stream reset, GOAWAY, and the connection closed.
            if let (Some(status), Some(&error)) = (&script.status, types.get("error")) {
                Frame::Data {
                    stream_id: error,
                    fin: false,
                    payload: Bytes::from(status.clone()),
                }
                .encode(&mut out);
            }
            for &stream_id in types.values() {
                Frame::RstStream {
                    stream_id,
                    status: rst_status::CANCEL,
                }
                .encode(&mut out);
            }
            Frame::GoAway {
                last_good_stream_id: types.values().copied().max().unwrap_or(0),
                status: GOAWAY_OK,
            }
            .encode(&mut out);
        }
        if io.write_all(&out).await.is_err() {
            let _ = seen.send(Seen::ConnectionClosed);
            return;
        }
        if finish {
            let _ = io.shutdown().await;
            // Keep reading until the client lets go, so its last frames are seen.
            let mut rest = Vec::new();
            let _ = io.read_to_end(&mut rest).await;
            let _ = seen.send(Seen::ConnectionClosed);
            return;
        }
    }
}
