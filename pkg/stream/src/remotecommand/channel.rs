//! The channel framing of `v4`/`v5.channel.k8s.io`: every binary message starts with a
//! channel byte, the rest is that channel's payload.

use bytes::Bytes;

use super::WsProtocol;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// Server to client: the final `metav1.Status` JSON.
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
/// v5, client to server: the payload names the channel the client half-closes.
pub const CLOSE: u8 = 255;

/// Largest message we send, channel byte included: client-go's WebSocket buffers are
/// 32 KiB + 1 KiB, so staying at 32 KiB keeps every message within one buffer.
pub const MAX_MESSAGE: usize = 32 * 1024;

/// What one message from the client asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    Stdin(Bytes),
    /// A terminal size as JSON, passed on to the runtime as received.
    Resize(Bytes),
    /// v5: no more stdin.
    CloseStdin,
    /// Anything else (other channels, closes of channels the client does not write,
    /// empty messages): logged and dropped.
    Ignored(String),
}

pub fn parse(protocol: WsProtocol, message: Bytes) -> Inbound {
    let Some(&channel) = message.first() else {
        return Inbound::Ignored("empty message".into());
    };
    let payload = message.slice(1..);
    match channel {
        STDIN => Inbound::Stdin(payload),
        RESIZE => Inbound::Resize(payload),
        CLOSE if protocol == WsProtocol::V5 => match payload.as_ref() {
            [STDIN] => Inbound::CloseStdin,
            other => Inbound::Ignored(format!("close of channel(s) {other:?}")),
        },
        other => Inbound::Ignored(format!("message on channel {other}")),
    }
}

/// `data` as messages on `channel`, each at most [`MAX_MESSAGE`] bytes with its channel byte.
pub fn messages(channel: u8, data: &[u8]) -> impl Iterator<Item = Bytes> + '_ {
    data.chunks(MAX_MESSAGE - 1).map(move |chunk| {
        let mut message = Vec::with_capacity(chunk.len() + 1);
        message.push(channel);
        message.extend_from_slice(chunk);
        Bytes::from(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_messages_by_channel_and_protocol() {
        let m = |bytes: &'static [u8]| Bytes::from_static(bytes);
        for (protocol, message, expected) in [
            (WsProtocol::V5, m(b"\x00ls\r"), Inbound::Stdin(m(b"ls\r"))),
            (WsProtocol::V4, m(b"\x00"), Inbound::Stdin(m(b""))),
            (
                WsProtocol::V5,
                m(b"\x04{\"Width\":100,\"Height\":30}\n"),
                Inbound::Resize(m(b"{\"Width\":100,\"Height\":30}\n")),
            ),
            (WsProtocol::V5, m(b"\xff\x00"), Inbound::CloseStdin),
        ] {
            assert_eq!(parse(protocol, message), expected);
        }
        // v4 has no close channel; nor are other channels or empty messages acted on.
        for (protocol, message) in [
            (WsProtocol::V4, m(b"\xff\x00")),
            (WsProtocol::V5, m(b"\xff\x01")),
            (WsProtocol::V5, m(b"\x01out")),
            (WsProtocol::V5, m(b"")),
        ] {
            assert!(matches!(parse(protocol, message), Inbound::Ignored(_)));
        }
    }

    #[test]
    fn outbound_data_is_split_at_32_kib_per_message() {
        let data = vec![7u8; 2 * MAX_MESSAGE];
        let out: Vec<Bytes> = messages(STDOUT, &data).collect();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|m| m.len() <= MAX_MESSAGE && m[0] == STDOUT));
        assert_eq!(out.iter().map(|m| m.len() - 1).sum::<usize>(), data.len());
        assert_eq!(messages(ERROR, b"").count(), 0);
    }
}
