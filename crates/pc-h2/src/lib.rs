//! HTTP/2 analyzer for cleartext h2c (prior knowledge or HTTP/1.1 Upgrade) and decrypted TLS
//! streams: frame parsing, HPACK, per-stream message reassembly with content decoding, gRPC
//! message splitting with schema-less protobuf decoding, and WebSocket framing (RFC 6455, also
//! carried over h2 by RFC 8441 extended CONNECT).
//!
//! The caller (the traffic engine) feeds each direction's in-order bytes to a [`Connection`] and
//! gets complete [`Message`]s back. Every buffer is capped by [`Limits`]; hostile input costs
//! bounded memory and time and never panics.

#![forbid(unsafe_code)]

mod conn;
pub mod grpc;
pub mod hpack;
pub mod huffman;
pub mod protobuf;
pub mod websocket;

pub use conn::{Connection, Event, Message, PREFACE};
pub use grpc::GrpcMessage;
pub use websocket::WsFrame;

/// Errors of every parser in this crate; `at` is the byte offset in the input (the direction's
/// stream for [`Connection`], the block or buffer otherwise) where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H2Error {
    /// The input ended before a complete structure.
    #[error("truncated at byte {at}: {what}")]
    Truncated { at: u64, what: &'static str },
    /// The input does not follow the protocol.
    #[error("malformed at byte {at}: {what}")]
    Malformed { at: u64, what: &'static str },
    /// A length, count or value exceeds a limit.
    #[error("too large at byte {at}: {what} is {len}, limit {max}")]
    TooLarge {
        at: u64,
        what: &'static str,
        len: u64,
        max: u64,
    },
    /// The stream was abandoned after an earlier error or a gap; further data is ignored.
    #[error("stream abandoned at byte {at}: {what}")]
    Abandoned { at: u64, what: &'static str },
}

impl H2Error {
    /// The byte offset of the problem.
    #[must_use]
    pub fn at(&self) -> u64 {
        match self {
            H2Error::Truncated { at, .. }
            | H2Error::Malformed { at, .. }
            | H2Error::TooLarge { at, .. }
            | H2Error::Abandoned { at, .. } => *at,
        }
    }

    /// A [`H2Error::TooLarge`] from in-memory sizes.
    pub(crate) fn too_large(at: u64, what: &'static str, len: usize, max: usize) -> Self {
        H2Error::TooLarge {
            at,
            what,
            len: len as u64,
            max: max as u64,
        }
    }

    /// The same error with its offset moved by `base` (for errors found inside a sub-buffer).
    #[must_use]
    pub(crate) fn shifted(self, base: u64) -> Self {
        match self {
            H2Error::Truncated { at, what } => H2Error::Truncated {
                at: at.saturating_add(base),
                what,
            },
            H2Error::Malformed { at, what } => H2Error::Malformed {
                at: at.saturating_add(base),
                what,
            },
            H2Error::TooLarge { at, what, len, max } => H2Error::TooLarge {
                at: at.saturating_add(base),
                what,
                len,
                max,
            },
            H2Error::Abandoned { at, what } => H2Error::Abandoned {
                at: at.saturating_add(base),
                what,
            },
        }
    }
}

/// Resource bounds of a [`Connection`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame payload accepted (the protocol maximum is 2^24-1, so the default honours
    /// any SETTINGS_MAX_FRAME_SIZE a peer can announce).
    pub max_frame_size: usize,
    /// Largest header block (compressed, across CONTINUATION frames) and decoded header list
    /// (RFC 7541 size: name + value + 32 per field).
    pub max_header_list: usize,
    /// Largest body kept per message, before and after content decoding.
    pub max_body: usize,
    /// Body bytes buffered across all open streams of the connection.
    pub max_buffered: usize,
    /// Open streams tracked; beyond, the oldest is flushed and dropped.
    pub max_streams: usize,
    /// Largest HPACK dynamic table a peer may make us keep, whatever SETTINGS say.
    pub max_header_table_size: usize,
    /// gRPC messages split out of one body.
    pub max_grpc_messages: usize,
    /// Nesting levels tried when decoding protobuf sub-messages.
    pub protobuf_depth: usize,
    /// WebSocket frames kept per message.
    pub max_ws_frames: usize,
    /// Events kept until [`Connection::take_events`]; later ones are only counted.
    pub max_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: 16 * 1024 * 1024,
            max_header_list: 256 * 1024,
            max_body: 16 * 1024 * 1024,
            max_buffered: 64 * 1024 * 1024,
            max_streams: 1000,
            max_header_table_size: 1024 * 1024,
            max_grpc_messages: 10_000,
            protobuf_depth: 16,
            max_ws_frames: 10_000,
            max_events: 1000,
        }
    }
}
