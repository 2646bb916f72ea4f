//! gRPC length-prefixed message framing (also gRPC-Web binary, whose trailer frames have the
//! 0x80 flag), with per-message decompression and schema-less protobuf decoding.

use crate::H2Error;
use crate::protobuf::{self, ProtoField};

/// One gRPC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcMessage {
    /// The compressed flag was set.
    pub compressed: bool,
    /// gRPC-Web trailer frame (flag 0x80): `data` holds HTTP/1-style trailer lines.
    pub trailer: bool,
    /// Message bytes, decompressed when the flag was set and the grpc-encoding is supported.
    pub data: Vec<u8>,
    /// The message decompressed (false: `data` is still compressed, or was never compressed).
    pub decompressed: bool,
    /// Protobuf fields of `data` (empty if it is not protobuf).
    pub fields: Vec<ProtoField>,
}

/// Is this content-type gRPC (binary framing)?
#[must_use]
pub fn is_grpc(content_type: &[u8]) -> bool {
    let ct = content_type.trim_ascii();
    let prefix = b"application/grpc";
    ct.len() >= prefix.len()
        && ct[..prefix.len()].eq_ignore_ascii_case(prefix)
        // gRPC-Web text mode is base64 and framed differently.
        && !ct[prefix.len()..].to_ascii_lowercase().starts_with(b"-web-text")
}

/// Split a body into messages. `encoding` is the grpc-encoding header; `max_len` caps each
/// message (compressed and decompressed), `max_messages` their number, `depth` the protobuf
/// nesting expanded. Returns the complete messages and the error that stopped splitting, if
/// any (a cut body keeps the messages before the cut).
#[must_use]
pub fn split(
    body: &[u8],
    encoding: Option<&str>,
    max_len: usize,
    max_messages: usize,
    depth: usize,
) -> (Vec<GrpcMessage>, Option<H2Error>) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < body.len() {
        let at = pos as u64;
        if out.len() >= max_messages {
            let e = H2Error::TooLarge {
                at,
                what: "gRPC messages in one body",
                len: max_messages as u64 + 1,
                max: max_messages as u64,
            };
            return (out, Some(e));
        }
        let Some(hdr) = body.get(pos..pos + 5) else {
            return (
                out,
                Some(H2Error::Truncated {
                    at,
                    what: "gRPC message prefix",
                }),
            );
        };
        let flags = hdr[0];
        let len = u32::from_be_bytes([hdr[1], hdr[2], hdr[3], hdr[4]]) as usize;
        if flags & !0x81 != 0 {
            return (
                out,
                Some(H2Error::Malformed {
                    at,
                    what: "gRPC message flags",
                }),
            );
        }
        if len > max_len {
            let e = H2Error::TooLarge {
                at,
                what: "gRPC message",
                len: len as u64,
                max: max_len as u64,
            };
            return (out, Some(e));
        }
        let start = pos + 5;
        let Some(raw) = start.checked_add(len).and_then(|end| body.get(start..end)) else {
            return (
                out,
                Some(H2Error::Truncated {
                    at,
                    what: "gRPC message",
                }),
            );
        };
        pos = start + len;
        out.push(message(flags, raw, encoding, max_len, depth));
    }
    (out, None)
}

fn message(
    flags: u8,
    raw: &[u8],
    encoding: Option<&str>,
    max_len: usize,
    depth: usize,
) -> GrpcMessage {
    let compressed = flags & 1 != 0;
    let trailer = flags & 0x80 != 0;
    let mut decompressed = false;
    let mut data = None;
    if compressed && let Some(enc) = encoding {
        let d = pc_proto::body::decompress_partial(enc, raw, max_len);
        if !d.data.is_empty() || d.error.is_none() {
            data = Some(d.data);
            decompressed = true;
        }
    }
    let data = data.unwrap_or_else(|| raw.to_vec());
    let fields = if trailer || (compressed && !decompressed) {
        Vec::new()
    } else {
        protobuf::decode(&data, depth).unwrap_or_default()
    };
    GrpcMessage {
        compressed,
        trailer,
        data,
        decompressed,
        fields,
    }
}
