//! SPDY/3 frames and their byte layout: no IO, and header blocks stay compressed bytes here
//! (`header_block` turns them into name/value pairs).

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The only protocol version spoken; a control frame of any other version ends the session.
pub const VERSION: u16 = 3;
/// FIN: the sender will send nothing more on this stream (DATA, SYN_STREAM, SYN_REPLY, HEADERS).
pub const FLAG_FIN: u8 = 0x01;
/// Largest payload the 24-bit length field can describe.
pub const MAX_PAYLOAD: usize = 0x00ff_ffff;

const HEADER_LEN: usize = 8;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// RST_STREAM status codes this crate sends or names (SPDY/3 section 2.6.3).
pub mod rst_status {
    pub const PROTOCOL_ERROR: u32 = 1;
    pub const REFUSED_STREAM: u32 = 3;
    pub const CANCEL: u32 = 5;
}

/// GOAWAY status OK: a normal session end.
pub const GOAWAY_OK: u32 = 0;

/// One SPDY/3 frame. Stream ids are 31-bit; `header_block` fields hold the compressed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Data {
        stream_id: u32,
        fin: bool,
        payload: Bytes,
    },
    SynStream {
        stream_id: u32,
        associated_id: u32,
        priority: u8,
        fin: bool,
        header_block: Bytes,
    },
    SynReply {
        stream_id: u32,
        fin: bool,
        header_block: Bytes,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    /// Settings are accepted and ignored, so their entries are kept as raw bytes.
    Settings {
        flags: u8,
        entries: Bytes,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        fin: bool,
        header_block: Bytes,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    /// A control frame type SPDY/3 does not define (e.g. CREDENTIAL); its body is skipped.
    UnknownControl {
        frame_type: u16,
        flags: u8,
        payload: Bytes,
    },
}

/// Why bytes from the peer are not a SPDY/3 frame; any of these ends the session.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("SPDY control frame of version {0}, only version 3 is spoken")]
    UnsupportedVersion(u16),
    #[error("SPDY control frame type {frame_type} with a {len}-byte body is too short")]
    TooShort { frame_type: u16, len: usize },
}

impl Frame {
    /// Takes one whole frame off the front of `buf`; `Ok(None)` when more bytes are needed.
    pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let flags = buf[4];
        let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
        if buf.len() < HEADER_LEN + len {
            buf.reserve(HEADER_LEN + len - buf.len());
            return Ok(None);
        }
        buf.advance(HEADER_LEN);
        let mut body = buf.split_to(len).freeze();
        let fin = flags & FLAG_FIN != 0;

        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data {
                stream_id: first,
                fin,
                payload: body,
            }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return Err(FrameError::UnsupportedVersion(version));
        }
        let frame_type = (first & 0xffff) as u16;
        let need = |min: usize| {
            if len < min {
                Err(FrameError::TooShort { frame_type, len })
            } else {
                Ok(())
            }
        };
        let frame = match frame_type {
            TYPE_SYN_STREAM => {
                need(10)?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                let associated_id = body.get_u32() & 0x7fff_ffff;
                let priority = body.get_u8() >> 5;
                let _slot = body.get_u8();
                Frame::SynStream {
                    stream_id,
                    associated_id,
                    priority,
                    fin,
                    header_block: body,
                }
            }
            TYPE_SYN_REPLY => {
                need(4)?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                Frame::SynReply {
                    stream_id,
                    fin,
                    header_block: body,
                }
            }
            TYPE_HEADERS => {
                need(4)?;
                let stream_id = body.get_u32() & 0x7fff_ffff;
                Frame::Headers {
                    stream_id,
                    fin,
                    header_block: body,
                }
            }
            TYPE_RST_STREAM => {
                need(8)?;
                Frame::RstStream {
                    stream_id: body.get_u32() & 0x7fff_ffff,
                    status: body.get_u32(),
                }
            }
            TYPE_SETTINGS => Frame::Settings {
                flags,
                entries: body,
            },
            TYPE_PING => {
                need(4)?;
                Frame::Ping { id: body.get_u32() }
            }
            TYPE_GOAWAY => {
                need(4)?;
                let last_good_stream_id = body.get_u32() & 0x7fff_ffff;
                // SPDY/2 peers omit the status; treat a missing one as OK.
                let status = if body.remaining() >= 4 {
                    body.get_u32()
                } else {
                    GOAWAY_OK
                };
                Frame::GoAway {
                    last_good_stream_id,
                    status,
                }
            }
            TYPE_WINDOW_UPDATE => {
                need(8)?;
                Frame::WindowUpdate {
                    stream_id: body.get_u32() & 0x7fff_ffff,
                    delta: body.get_u32() & 0x7fff_ffff,
                }
            }
            _ => Frame::UnknownControl {
                frame_type,
                flags,
                payload: body,
            },
        };
        Ok(Some(frame))
    }

    /// Appends the frame's bytes to `out`. Payloads and header blocks must fit in 24 bits
    /// (callers chunk DATA well below that).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Frame::Data {
                stream_id,
                fin,
                payload,
            } => {
                debug_assert!(payload.len() <= MAX_PAYLOAD);
                out.put_u32(stream_id & 0x7fff_ffff);
                put_flags_and_len(out, fin_flag(*fin), payload.len());
                out.put_slice(payload);
            }
            Frame::SynStream {
                stream_id,
                associated_id,
                priority,
                fin,
                header_block,
            } => {
                put_control_header(
                    out,
                    TYPE_SYN_STREAM,
                    fin_flag(*fin),
                    10 + header_block.len(),
                );
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(associated_id & 0x7fff_ffff);
                out.put_u8((priority & 0x07) << 5);
                out.put_u8(0); // credential slot: unused
                out.put_slice(header_block);
            }
            Frame::SynReply {
                stream_id,
                fin,
                header_block,
            } => {
                put_control_header(out, TYPE_SYN_REPLY, fin_flag(*fin), 4 + header_block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_slice(header_block);
            }
            Frame::Headers {
                stream_id,
                fin,
                header_block,
            } => {
                put_control_header(out, TYPE_HEADERS, fin_flag(*fin), 4 + header_block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_slice(header_block);
            }
            Frame::RstStream { stream_id, status } => {
                put_control_header(out, TYPE_RST_STREAM, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::Settings { flags, entries } => {
                put_control_header(out, TYPE_SETTINGS, *flags, entries.len());
                out.put_slice(entries);
            }
            Frame::Ping { id } => {
                put_control_header(out, TYPE_PING, 0, 4);
                out.put_u32(*id);
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                put_control_header(out, TYPE_GOAWAY, 0, 8);
                out.put_u32(last_good_stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                put_control_header(out, TYPE_WINDOW_UPDATE, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(delta & 0x7fff_ffff);
            }
            Frame::UnknownControl {
                frame_type,
                flags,
                payload,
            } => {
                put_control_header(out, *frame_type, *flags, payload.len());
                out.put_slice(payload);
            }
        }
    }
}

fn fin_flag(fin: bool) -> u8 {
    if fin {
        FLAG_FIN
    } else {
        0
    }
}

fn put_control_header(out: &mut BytesMut, frame_type: u16, flags: u8, len: usize) {
    out.put_u16(0x8000 | VERSION);
    out.put_u16(frame_type);
    put_flags_and_len(out, flags, len);
}

fn put_flags_and_len(out: &mut BytesMut, flags: u8, len: usize) {
    debug_assert!(len <= MAX_PAYLOAD);
    out.put_u32(((flags as u32) << 24) | (len as u32 & 0x00ff_ffff));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: Frame) {
        let mut buf = BytesMut::new();
        frame.encode(&mut buf);
        // A frame split anywhere must wait for its remaining bytes.
        let mut partial = BytesMut::from(&buf[..buf.len() - 1]);
        assert_eq!(Frame::decode(&mut partial), Ok(None));
        assert_eq!(Frame::decode(&mut buf), Ok(Some(frame)));
        assert!(buf.is_empty());
    }

    #[test]
    fn frames_round_trip() {
        let block = Bytes::from_static(b"\x78\xf9compressed");
        for frame in [
            Frame::Data {
                stream_id: 7,
                fin: false,
                payload: Bytes::from_static(b"hello"),
            },
            Frame::Data {
                stream_id: 0x7fff_fffd,
                fin: true,
                payload: Bytes::new(),
            },
            Frame::SynStream {
                stream_id: 1,
                associated_id: 0,
                priority: 0,
                fin: false,
                header_block: block.clone(),
            },
            Frame::SynStream {
                stream_id: 3,
                associated_id: 1,
                priority: 7,
                fin: true,
                header_block: block.clone(),
            },
            Frame::SynReply {
                stream_id: 5,
                fin: false,
                header_block: block.clone(),
            },
            Frame::Headers {
                stream_id: 5,
                fin: true,
                header_block: block,
            },
            Frame::RstStream {
                stream_id: 9,
                status: rst_status::CANCEL,
            },
            Frame::Settings {
                flags: 1,
                entries: Bytes::from_static(&[0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 100]),
            },
            Frame::Ping { id: 2 },
            Frame::GoAway {
                last_good_stream_id: 0,
                status: GOAWAY_OK,
            },
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 65536,
            },
            Frame::UnknownControl {
                frame_type: 10,
                flags: 0,
                payload: Bytes::from_static(b"cred"),
            },
        ] {
            round_trip(frame);
        }
    }

    #[test]
    fn wire_layout_matches_spdy3() {
        let mut buf = BytesMut::new();
        Frame::SynStream {
            stream_id: 1,
            associated_id: 0,
            priority: 0,
            fin: false,
            header_block: Bytes::from_static(b"\xaa"),
        }
        .encode(&mut buf);
        // The captured kubectl SYN_STREAM starts `8003 0001 <flags+len> 00000001 00000000 00 00`.
        assert_eq!(
            &buf[..],
            b"\x80\x03\x00\x01\x00\x00\x00\x0b\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xaa"
        );

        let mut buf = BytesMut::new();
        Frame::Data {
            stream_id: 3,
            fin: true,
            payload: Bytes::from_static(b"x"),
        }
        .encode(&mut buf);
        assert_eq!(&buf[..], b"\x00\x00\x00\x03\x01\x00\x00\x01x");
    }

    #[test]
    fn several_frames_in_one_buffer_decode_in_order() {
        let mut buf = BytesMut::new();
        Frame::Ping { id: 2 }.encode(&mut buf);
        Frame::Data {
            stream_id: 1,
            fin: false,
            payload: Bytes::from_static(b"ab"),
        }
        .encode(&mut buf);
        assert_eq!(Frame::decode(&mut buf), Ok(Some(Frame::Ping { id: 2 })));
        assert!(matches!(
            Frame::decode(&mut buf),
            Ok(Some(Frame::Data { stream_id: 1, .. }))
        ));
        assert_eq!(Frame::decode(&mut buf), Ok(None));
    }

    #[test]
    fn other_versions_and_short_bodies_are_errors() {
        let mut buf = BytesMut::from(&b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"[..]);
        assert_eq!(
            Frame::decode(&mut buf),
            Err(FrameError::UnsupportedVersion(2))
        );
        let mut buf = BytesMut::from(&b"\x80\x03\x00\x03\x00\x00\x00\x04\x00\x00\x00\x01"[..]);
        assert_eq!(
            Frame::decode(&mut buf),
            Err(FrameError::TooShort {
                frame_type: 3,
                len: 4
            })
        );
    }
}
