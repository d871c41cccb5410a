//! kubectl's streaming protocols on the kubelet side: WebSocket `v4`/`v5.channel.k8s.io`
//! exec/attach sessions translated to SPDY/3.1 toward the container runtime's streaming
//! server, and the WebSocket tunnel that carries port-forward's SPDY bytes.
//!
//! `spdy` is the SPDY/3.1 client; `remotecommand` serves one exec/attach session over it;
//! `tunnel` turns a WebSocket into a plain byte stream.

pub mod remotecommand;
pub mod spdy;
pub mod tunnel;
