//! QUIC (v1 RFC 9000/9001, v2 RFC 9369, drafts 23–34) decryption with logged TLS 1.3 secrets,
//! CRYPTO and STREAM reassembly, and HTTP/3 (RFC 9114) with QPACK (RFC 9204), so that the
//! requests and responses inside a captured connection can be searched for phone identifiers.
//!
//! Feed every UDP datagram of one flow, in capture order, to a [`Connection`]; decrypted
//! HTTP/3 messages (or raw stream bytes for other ALPNs) come out as [`Event`]s.
//!
//! One file per job: `crypto` (packet protection on pc-tlsdec's key schedule and AEAD),
//! `conn` (datagrams, packets, keys) with its `header` and `frames` parts, `reasm` (stream
//! reassembly), `h3` (HTTP/3 framing), [`qpack`] and `huffman`.

#![forbid(unsafe_code)]

mod conn;
mod crypto;
mod h3;
mod huffman;
pub mod qpack;
mod reasm;

pub use conn::{Connection, exercise};
pub use crypto::{VERSION_1, VERSION_2, VERSION_DRAFT29};
/// The cipher suite type of the workspace (pc-tlsdec's), as [`Connection::suite`] reports it.
pub use pc_tlsdec::Suite;

/// Errors of the HTTP/3 and QPACK decoders; `at` is the byte offset in the input concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H3Error {
    /// The input ended before a complete structure.
    #[error("truncated at byte {at}: {what}")]
    Truncated { at: u64, what: &'static str },
    /// The input does not follow the protocol.
    #[error("malformed at byte {at}: {what}")]
    Malformed { at: u64, what: &'static str },
    /// A length or count exceeds a limit.
    #[error("too large at byte {at}: {what}")]
    TooLarge { at: u64, what: &'static str },
    /// A field section needs dynamic table entries that have not arrived (yet).
    #[error("blocked at byte {at}: {what}")]
    Blocked { at: u64, what: &'static str },
}

/// Provides the TLS 1.3 secrets logged for a connection, keyed by the ClientHello random.
pub trait SecretSource: Sync {
    /// Secrets of the connection whose ClientHello carried `client_random`.
    fn secrets(&self, client_random: &[u8; 32]) -> Option<QuicSecrets>;
}

/// TLS 1.3 traffic secrets of one connection (NSS key log labels in the field docs).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct QuicSecrets {
    /// CLIENT_HANDSHAKE_TRAFFIC_SECRET.
    pub client_handshake: Option<Vec<u8>>,
    /// SERVER_HANDSHAKE_TRAFFIC_SECRET.
    pub server_handshake: Option<Vec<u8>>,
    /// CLIENT_TRAFFIC_SECRET_0.
    pub client_app: Option<Vec<u8>>,
    /// SERVER_TRAFFIC_SECRET_0.
    pub server_app: Option<Vec<u8>>,
    /// CLIENT_EARLY_TRAFFIC_SECRET (0-RTT), when logged.
    pub client_early: Option<Vec<u8>>,
}

impl std::fmt::Debug for QuicSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("QuicSecrets")
            .field("client_handshake", &self.client_handshake.is_some())
            .field("server_handshake", &self.server_handshake.is_some())
            .field("client_app", &self.client_app.is_some())
            .field("server_app", &self.server_app.is_some())
            .field("client_early", &self.client_early.is_some())
            .finish()
    }
}

/// How far decryption of a connection got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handshake, 0-RTT or 1-RTT packets were decrypted.
    Decrypted,
    /// The ClientHello was seen but no secrets were logged for it.
    NoKey,
    /// A QUIC version this crate cannot decrypt (e.g. Google QUIC).
    UnsupportedVersion(u32),
    /// Nothing beyond Initial packets could be decrypted, for the reason given.
    Failed(&'static str),
}

/// An HTTP/3 request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H3Message {
    /// The request stream (or, for server push, the push stream).
    pub stream_id: u64,
    /// Header (and trailer) fields in order, including pseudo-headers such as `:method`,
    /// `:authority`, `:path`, `:status`.
    pub headers: Vec<(String, Vec<u8>)>,
    /// DATA frame payloads, at most [`Limits::max_body`] bytes.
    pub body: Vec<u8>,
    /// The body was longer than kept, or part of it was not captured.
    pub body_truncated: bool,
    /// The stream ended normally, with every byte and field section decoded.
    pub complete: bool,
}

impl H3Message {
    /// The first value of header `name` (lowercase), as text.
    pub fn header(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v))
    }
}

/// What a connection yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An HTTP/3 request (client to server).
    Request(H3Message),
    /// An HTTP/3 response (server to client, or pushed).
    Response(H3Message),
    /// Stream bytes of a connection whose ALPN is not HTTP/3, in order, in chunks.
    StreamData {
        /// QUIC stream id.
        stream_id: u64,
        /// Direction of the bytes.
        to_server: bool,
        /// The bytes.
        data: Vec<u8>,
    },
}

/// Bounds on memory per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Out-of-order bytes buffered per stream direction before the oldest hole is given up.
    pub max_stream_pending: usize,
    /// Out-of-order bytes buffered per connection.
    pub max_total_pending: usize,
    /// STREAM data starting further than this beyond what was delivered is dropped.
    pub max_stream_ahead: u64,
    /// Stream directions tracked at once.
    pub max_streams: usize,
    /// Finished stream directions remembered (to ignore retransmissions).
    pub max_closed_streams: usize,
    /// Body bytes kept per HTTP/3 message.
    pub max_body: usize,
    /// Largest non-DATA HTTP/3 frame (HEADERS, SETTINGS, …) buffered.
    pub max_frame: usize,
    /// Bytes held by all unfinished HTTP/3 messages of a connection together (bodies,
    /// headers, partial frames); beyond it bodies are truncated and fields dropped.
    pub max_h3_buffered: usize,
    /// Raw stream bytes handed on per stream direction (non-HTTP/3 ALPNs).
    pub max_raw_stream: u64,
    /// Raw stream bytes gathered before a [`Event::StreamData`] is emitted.
    pub raw_chunk: usize,
    /// CRYPTO bytes reassembled per direction and packet number space.
    pub max_crypto: usize,
    /// Connection ids remembered per direction.
    pub max_cids: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stream_pending: 256 * 1024,
            max_total_pending: 4 << 20,
            max_stream_ahead: 16 << 20,
            max_streams: 4096,
            max_closed_streams: 16384,
            max_body: 1 << 20,
            max_frame: 64 * 1024,
            max_h3_buffered: 32 << 20,
            max_raw_stream: 16 << 20,
            raw_chunk: 64 * 1024,
            max_crypto: 64 * 1024,
            max_cids: 8,
        }
    }
}

/// Counters of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// QUIC packets seen (coalesced packets counted one by one).
    pub packets: u64,
    /// Packets decrypted.
    pub packets_decrypted: u64,
    /// Packets that could not be decrypted (no keys, or authentication failed).
    pub packets_undecrypted: u64,
    /// Datagrams or packets whose header could not be parsed.
    pub malformed: u64,
    /// Key updates followed `[to_server, to_client]`.
    pub key_updates: [u32; 2],
    /// Stream bytes declared lost (holes) in reassembly.
    pub gap_bytes: u64,
    /// STREAM frames ignored (offset out of reach, too many streams).
    pub frames_dropped: u64,
    /// HTTP/3 field sections that failed to decode.
    pub qpack_errors: u64,
}
