//! HTTP/1.x message heads (RFC 9112 §2–5): request and status lines, header fields (obsolete
//! line folding joined), and the codings and Content-Length that decide the body framing.
//!
//! Kept over httparse 1.10.1 (same scratch comparison): httparse is faster (131 vs 596 ns per
//! real head, but ours also builds the owned message) and stricter (it refuses a space before
//! the colon, a line without colon, NUL in values, obs-fold, HTTP/9.9), but it stops at a fixed
//! header array and gives no offsets; an observer must still report what a lax server would
//! accept, so heads are read leniently here, with byte offsets in errors.

use crate::ProtoError;

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// A request line.
    Request {
        /// Method token, as sent.
        method: String,
        /// Request target (origin form, absolute form, authority form or "*").
        target: String,
        /// "HTTP/1.1", …
        version: String,
    },
    /// A status line.
    Response {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// "HTTP/1.1", …
        version: String,
    },
}

/// A message head: its start line and header fields, as the body begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Request or status line.
    pub start: StartLine,
    /// Header fields in order, values trimmed, as bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Content-Encoding codings in the order applied by the sender.
    pub content_encoding: Vec<String>,
    /// Transfer codings other than chunked, in the order applied.
    pub transfer_codings: Vec<String>,
    /// Stream offset of the message's first byte.
    pub offset: u64,
}

impl Head {
    /// The first value of a header field, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every coding of the body in the order the sender applied them: content codings, then
    /// transfer codings (chunked excluded, it is undone by the parser).
    pub fn codings(&self) -> impl Iterator<Item = &str> {
        self.content_encoding
            .iter()
            .chain(&self.transfer_codings)
            .map(String::as_str)
    }
}

/// Parse a message head (start line and fields, without the blank line) found at stream offset
/// `at`: a request head if `request`, else a response head.
pub(super) fn parse_head(
    head: &[u8],
    at: u64,
    request: bool,
    max_headers: usize,
) -> Result<Head, ProtoError> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or(&[]);
    let start = if request {
        parse_request_line(first, at)?
    } else {
        parse_status_line(first, at)?
    };
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for line in lines {
        add_field(&mut headers, line, max_headers, at)?;
    }
    let list = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(|&b| b == b','))
            .map(|c| String::from_utf8_lossy(c).trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect()
    };
    let content_encoding = list("content-encoding");
    let transfer_codings = list("transfer-encoding");
    Ok(Head {
        start,
        headers,
        content_encoding,
        transfer_codings,
        offset: at,
    })
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_request_line(line: &[u8], at: u64) -> Result<StartLine, ProtoError> {
    let bad = ProtoError::Malformed {
        at,
        what: "HTTP request line",
    };
    let mut it = line.splitn(2, |&b| b == b' ');
    let method = it.next().unwrap_or(&[]);
    let rest = it.next().ok_or(bad.clone())?;
    if method.is_empty() || method.len() > 32 || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad);
    }
    let rest = trim(rest);
    let (target, version) = match rest.iter().rposition(|&b| b == b' ') {
        Some(i) => (trim(&rest[..i]), trim(&rest[i + 1..])),
        None => return Err(bad),
    };
    if !version.starts_with(b"HTTP/") || target.is_empty() {
        return Err(bad);
    }
    Ok(StartLine::Request {
        method: String::from_utf8_lossy(method).into_owned(),
        target: String::from_utf8_lossy(target).into_owned(),
        version: String::from_utf8_lossy(version).into_owned(),
    })
}

fn parse_status_line(line: &[u8], at: u64) -> Result<StartLine, ProtoError> {
    let bad = ProtoError::Malformed {
        at,
        what: "HTTP status line",
    };
    if !line.starts_with(b"HTTP/") {
        return Err(bad);
    }
    let mut it = line.splitn(3, |&b| b == b' ');
    let version = it.next().unwrap_or(&[]);
    let code = it.next().ok_or(bad.clone())?;
    let reason = it.next().unwrap_or(&[]);
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let status = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    Ok(StartLine::Response {
        status,
        reason: String::from_utf8_lossy(trim(reason)).into_owned(),
        version: String::from_utf8_lossy(version).into_owned(),
    })
}

pub(super) fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(s, |i| i + 1);
    b.get(s..e).unwrap_or(&[])
}

/// Add one header or trailer line; obsolete line folding continues the previous value.
pub(super) fn add_field(
    headers: &mut Vec<(String, Vec<u8>)>,
    line: &[u8],
    max: usize,
    at: u64,
) -> Result<(), ProtoError> {
    if line.is_empty() {
        return Ok(());
    }
    if matches!(line[0], b' ' | b'\t') {
        if let Some((_, v)) = headers.last_mut() {
            v.push(b' ');
            v.extend_from_slice(trim(line));
        }
        return Ok(());
    }
    // Lines without a colon are ignored, as browsers do.
    let Some(colon) = memchr::memchr(b':', line) else {
        return Ok(());
    };
    let name = trim(&line[..colon]);
    if name.is_empty() {
        return Ok(());
    }
    if headers.len() >= max {
        return Err(ProtoError::TooLarge {
            at,
            what: "HTTP header field count",
            len: headers.len() as u64 + 1,
            max: max as u64,
        });
    }
    headers.push((
        String::from_utf8_lossy(name).into_owned(),
        trim(&line[colon + 1..]).to_vec(),
    ));
    Ok(())
}

/// Content-Length, if present and valid ("5" or a list of equal values "5, 5").
pub(super) fn content_length(headers: &[(String, Vec<u8>)]) -> Option<u64> {
    let mut found: Option<u64> = None;
    for (n, v) in headers {
        if !n.eq_ignore_ascii_case("content-length") {
            continue;
        }
        for part in v.split(|&b| b == b',') {
            let p = trim(part);
            if p.is_empty() || p.len() > 19 || !p.iter().all(u8::is_ascii_digit) {
                continue;
            }
            let x = p.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0'));
            if found.is_none() {
                found = Some(x);
            }
        }
    }
    found
}
