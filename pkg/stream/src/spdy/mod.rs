//! SPDY/3.1 in the client role, as spoken by the CRI streaming server (moby/spdystream).
//!
//! `frame` and `header_block` are the pure wire format; `session` is the task that owns
//! the socket; `connection` and `stream` are the handles callers hold; `dial` performs the
//! HTTP/1.1 upgrade.

mod connection;
mod dial;
pub mod dictionary;
pub mod frame;
pub mod header_block;
mod session;
mod stream;

pub use connection::{Connection, REPLY_TIMEOUT};
pub use dial::{dial, DialError};
pub use stream::{Stream, MAX_DATA_FRAME};
