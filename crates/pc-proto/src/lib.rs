//! Application-protocol analyzers over byte streams and datagrams: DNS, the TLS record and
//! handshake layer, HTTP/1.x with body decoding, QUIC version facts (decryption is pc-h3's) and
//! Google QUIC hellos.
//!
//! The analyzers know nothing of packets or files: the caller feeds in-order stream bytes per
//! direction of a TCP connection, or UDP payloads. Every buffer is capped and every
//! decompression is bounded, so hostile input costs bounded memory and time.

#![forbid(unsafe_code)]

pub mod body;
pub mod decode;
pub mod dns;
pub mod gquic;
pub mod http1;
pub mod quic;
pub mod tls;

mod sniff;
pub use sniff::{AppProto, sniff_stream};

/// Errors of every analyzer; `at` is the byte offset in the input (or stream) where the
/// problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The input ended before a complete structure.
    #[error("truncated at byte {at}: {what}")]
    Truncated { at: u64, what: &'static str },
    /// The input does not follow the protocol.
    #[error("malformed at byte {at}: {what}")]
    Malformed { at: u64, what: &'static str },
    /// A length or count exceeds a limit.
    #[error("too large at byte {at}: {what} is {len}, limit {max}")]
    TooLarge {
        at: u64,
        what: &'static str,
        len: u64,
        max: u64,
    },
    /// A content or transfer coding could not be decoded.
    #[error("cannot decode {encoding} body: {what}")]
    Decompress {
        encoding: &'static str,
        what: &'static str,
    },
    /// The stream was abandoned after an earlier error; further data is ignored.
    #[error("stream abandoned at byte {at}: {what}")]
    Abandoned { at: u64, what: &'static str },
}

impl ProtoError {
    /// A [`ProtoError::TooLarge`] from in-memory sizes.
    pub(crate) fn too_large(at: u64, what: &'static str, len: usize, max: usize) -> Self {
        ProtoError::TooLarge {
            at,
            what,
            len: len as u64,
            max: max as u64,
        }
    }
}

/// A bounds-checked big-endian reader over a byte slice, tracking the offset for errors: the
/// one byte reader of the protocol parsers (pc-tlsdec reads handshake messages with it too).
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the caller's coordinates, for error positions.
    base: u64,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }
    pub fn with_base(buf: &'a [u8], base: u64) -> Self {
        Reader { buf, pos: 0, base }
    }
    pub fn at(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtoError> {
        let end = self.pos.checked_add(n).ok_or(ProtoError::Truncated {
            at: self.at(),
            what,
        })?;
        let s = self.buf.get(self.pos..end).ok_or(ProtoError::Truncated {
            at: self.at(),
            what,
        })?;
        self.pos = end;
        Ok(s)
    }
    pub fn u8(&mut self, what: &'static str) -> Result<u8, ProtoError> {
        Ok(self.bytes(1, what)?[0])
    }
    pub fn u16(&mut self, what: &'static str) -> Result<u16, ProtoError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u24(&mut self, what: &'static str) -> Result<u32, ProtoError> {
        let b = self.bytes(3, what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
    pub fn u32(&mut self, what: &'static str) -> Result<u32, ProtoError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A sub-reader over the next `n` bytes (a length-prefixed vector).
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, ProtoError> {
        let base = self.at();
        let b = self.bytes(n, what)?;
        Ok(Reader::with_base(b, base))
    }
}
