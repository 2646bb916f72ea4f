//! HTTP body decoding: bounded decompression (gzip, deflate, br, zstd), form fields and
//! multipart parts.

use crate::ProtoError;
// The coding table belongs to the decoders; re-exported here, where callers look for it.
use crate::decode::{Stop, StreamDecoder};
pub use crate::decode::{ZSTD_WINDOW_LOG_MAX, coding_name};

/// The outcome of a bounded decode that keeps what was produced before a problem.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded {
    /// Output produced (at most the limit).
    pub data: Vec<u8>,
    /// The output reached the limit; the rest was not decoded.
    pub truncated: bool,
    /// The decoder failed after producing `data` (corrupt or cut input).
    pub error: Option<ProtoError>,
}

/// Decode one content coding of a whole body, keeping at most `limit` output bytes and
/// whatever was produced before an error (the push decoder of [`crate::decode`], run once).
pub fn decompress_partial(encoding: &str, data: &[u8], limit: usize) -> Decoded {
    let unsupported = || Decoded {
        error: Some(ProtoError::Decompress {
            encoding: "unknown",
            what: "unsupported coding",
        }),
        ..Decoded::default()
    };
    if coding_name(encoding).is_none() {
        return unsupported();
    }
    let mut d = StreamDecoder::strict([encoding], limit as u64);
    let mut out = Vec::new();
    d.push(data, &mut |b| out.extend_from_slice(b));
    let outcome = d.finish(true);
    let error = match outcome.stop {
        None | Some(Stop::Budget) => None,
        Some(Stop::Corrupt(encoding, _)) => Some(ProtoError::Decompress {
            encoding,
            what: "corrupt data",
        }),
        Some(Stop::EndsEarly(encoding)) => Some(ProtoError::Decompress {
            encoding,
            what: "input ends early",
        }),
        Some(Stop::Unsupported) => return unsupported(),
    };
    Decoded {
        data: out,
        truncated: outcome.stop == Some(Stop::Budget),
        error,
    }
}

/// Decode one content coding ("gzip", "x-gzip", "deflate" (zlib or raw), "br", "zstd",
/// "identity"); output beyond `limit` bytes is an error, as is any corrupt input.
pub fn decompress(encoding: &str, data: &[u8], limit: usize) -> Result<Vec<u8>, ProtoError> {
    let d = decompress_partial(encoding, data, limit);
    if let Some(e) = d.error {
        return Err(e);
    }
    if d.truncated {
        return Err(ProtoError::TooLarge {
            at: 0,
            what: "decompressed body",
            len: limit as u64 + 1,
            max: limit as u64,
        });
    }
    Ok(d.data)
}

/// Fields of an application/x-www-form-urlencoded body, raw (not %-decoded, '+' kept).
pub fn form_fields(body: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match memchr::memchr(b'=', p) {
            Some(i) => (p[..i].to_vec(), p[i + 1..].to_vec()),
            None => (p.to_vec(), Vec::new()),
        })
        .collect()
}

/// Parts kept per multipart body.
pub const MAX_PARTS: usize = 1024;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// `name` of the Content-Disposition.
    pub name: Option<String>,
    /// `filename` of the Content-Disposition.
    pub filename: Option<String>,
    /// Content-Type of the part.
    pub content_type: Option<String>,
    /// The part's content (borrowed from the body).
    pub data: &'a [u8],
}

/// A parameter of a header value like `form-data; name="a"; filename=b`, case-insensitive.
pub fn header_param(value: &str, param: &str) -> Option<String> {
    let mut rest = value;
    // Skip the leading token (e.g. "form-data" or "multipart/form-data").
    rest = rest.split_once(';').map(|(_, r)| r)?;
    loop {
        let r = rest.trim_start();
        let (k, after) = r.split_once('=')?;
        let k = k.trim();
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            // Quoted string with backslash escapes.
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, c2)) = chars.next() {
                            out.push(c2);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            let tail = q.get(end..).unwrap_or("");
            (out, tail.split_once(';').map(|(_, n)| n))
        } else {
            match after.split_once(';') {
                Some((v, n)) => (v.trim().to_string(), Some(n)),
                None => (after.trim().to_string(), None),
            }
        };
        if k.eq_ignore_ascii_case(param) {
            return Some(v);
        }
        rest = next?;
    }
}

/// The parts of a multipart body (RFC 2046 / RFC 7578), given the Content-Type header value
/// carrying the boundary. Data is borrowed from `body`; a missing closing delimiter keeps the
/// last part up to the end of the body.
pub fn multipart_parts<'a>(content_type: &str, body: &'a [u8]) -> Vec<Part<'a>> {
    let mut parts = Vec::new();
    let Some(boundary) = header_param(content_type, "boundary") else {
        return parts;
    };
    if boundary.is_empty() || boundary.len() > 200 {
        return parts;
    }
    let mut delim = Vec::with_capacity(boundary.len() + 4);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary.as_bytes());
    let finder = memchr::memmem::Finder::new(&delim);
    // Delimiters are at the body start or after CRLF/LF.
    let mut starts = Vec::new();
    let mut pos = 0;
    while let Some(i) = finder.find(&body[pos..]) {
        let at = pos + i;
        if at == 0 || body[at - 1] == b'\n' {
            starts.push(at);
        }
        pos = at + delim.len();
        if starts.len() > MAX_PARTS {
            break;
        }
    }
    for (k, &s) in starts.iter().enumerate() {
        let after = s + delim.len();
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        // Skip transport padding and the line end after the delimiter.
        let Some(nl) = memchr::memchr(b'\n', &body[after..]) else {
            break;
        };
        let head_start = after + nl + 1;
        let end = match starts.get(k + 1) {
            Some(&next) => {
                let mut e = next;
                if e > 0 && body[e - 1] == b'\n' {
                    e -= 1;
                    if e > 0 && body[e - 1] == b'\r' {
                        e -= 1;
                    }
                }
                e
            }
            None => body.len(),
        };
        if end < head_start {
            continue;
        }
        let part = &body[head_start..end];
        // Part headers end at the first empty line.
        let (headers, data) = match find_header_end(part) {
            Some((h, d)) => (&part[..h], &part[d..]),
            None => (part, &part[part.len()..]),
        };
        let mut p = Part {
            name: None,
            filename: None,
            content_type: None,
            data,
        };
        for line in headers.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                p.name = header_param(v, "name");
                p.filename = header_param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                p.content_type = Some(v.to_string());
            }
        }
        parts.push(p);
        if parts.len() >= MAX_PARTS {
            break;
        }
    }
    parts
}

/// The end of a header block: (end of the last header line, start of the content), accepting
/// CRLF or bare LF line ends.
pub(crate) fn find_header_end(b: &[u8]) -> Option<(usize, usize)> {
    if b.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if b.starts_with(b"\n") {
        return Some((0, 1));
    }
    find_blank_line(b, 0)
}

/// The first empty line in `b` after a line end found at or after `from`: (end of the line
/// before it, start of what follows). Header blocks of HTTP/1 heads and multipart parts end so.
pub(crate) fn find_blank_line(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut pos = from;
    while let Some(i) = memchr::memchr(b'\n', b.get(pos..)?) {
        let nl = pos + i;
        match b.get(nl + 1) {
            Some(b'\n') => return Some((nl, nl + 2)),
            Some(b'\r') if b.get(nl + 2) == Some(&b'\n') => return Some((nl, nl + 3)),
            _ => {}
        }
        pos = nl + 1;
    }
    None
}
