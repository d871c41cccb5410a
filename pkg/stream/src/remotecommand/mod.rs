//! kubectl exec/attach over WebSocket (`v4`/`v5.channel.k8s.io`), served by translating
//! each channel to a SPDY stream of the runtime's streaming server.
//!
//! `channel` is the pure WebSocket framing, `status` the final Status messages, and
//! `translate` the session itself.

mod channel;
mod status;
mod translate;

pub use channel::MAX_MESSAGE;
pub use translate::serve_websocket;

/// Which standard streams the session carries: the same values the kubelet passed to the
/// runtime's Exec/Attach (the runtime waits for exactly the streams these imply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub stdin: bool,
    pub stdout: bool,
    /// Ignored with `tty`: a terminal merges stderr into stdout (as client-go does).
    pub stderr: bool,
    pub tty: bool,
}

/// The WebSocket subprotocols served. They frame data the same way; v5 adds the client's
/// stdin half-close on channel 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsProtocol {
    V4,
    V5,
}

impl WsProtocol {
    /// The `Sec-WebSocket-Protocol` value, to echo in the 101 response.
    pub fn name(self) -> &'static str {
        match self {
            WsProtocol::V4 => "v4.channel.k8s.io",
            WsProtocol::V5 => "v5.channel.k8s.io",
        }
    }
}

/// Chooses from a client's `Sec-WebSocket-Protocol` list (comma-separated; pass several
/// header values joined with commas): v5 preferred, then v4; `None` if neither is offered.
pub fn choose_protocol(offered: &str) -> Option<WsProtocol> {
    let offered: Vec<&str> = offered.split(',').map(str::trim).collect();
    [WsProtocol::V5, WsProtocol::V4]
        .into_iter()
        .find(|protocol| offered.contains(&protocol.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_is_preferred_then_v4() {
        for (offered, chosen) in [
            ("v5.channel.k8s.io", Some(WsProtocol::V5)),
            ("v4.channel.k8s.io, v5.channel.k8s.io", Some(WsProtocol::V5)),
            (
                "base64.channel.k8s.io,v4.channel.k8s.io",
                Some(WsProtocol::V4),
            ),
            ("channel.k8s.io, v3.channel.k8s.io", None),
            ("SPDY/3.1+portforward.k8s.io", None),
            ("", None),
        ] {
            assert_eq!(choose_protocol(offered), chosen, "{offered}");
        }
    }
}
