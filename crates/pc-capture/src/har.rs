//! HAR 1.2 (HTTP Archive) reader.
//!
//! Real-world HAR writers (browsers, mitmproxy, Charles, Insomnia, ...) disagree on details, so
//! every field is optional and type mismatches in leaf values degrade to "absent" instead of
//! failing the whole file. Entries keep their position in the `entries` array as `index`.

use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::Value;

use super::{CaptureError, ErrorKind, Timestamp};

/// Largest HAR file accepted (after decompression).
pub const MAX_HAR_SIZE: u64 = 4 * 1024 * 1024 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A parsed HAR archive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Har {
    /// `log.creator.name`.
    pub creator: Option<String>,
    /// `log.entries`, in file order.
    pub entries: Vec<Entry>,
}

/// One HTTP exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// Position in `log.entries` (0-based).
    pub index: usize,
    /// `startedDateTime` as written.
    pub started: Option<String>,
    /// `startedDateTime` parsed (ISO 8601 / RFC 3339), nanoseconds since the epoch.
    pub ts: Option<Timestamp>,
    /// `serverIPAddress`, when present and valid (brackets around IPv6 are accepted).
    pub server_ip: Option<IpAddr>,
    /// The request.
    pub request: Request,
    /// The response, when the entry has one.
    pub response: Option<Response>,
}

/// An HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Method, e.g. "GET".
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// e.g. "HTTP/1.1", "h3", or empty.
    pub http_version: String,
    /// Header (name, value) pairs in file order.
    pub headers: Vec<(String, String)>,
    /// Cookie (name, value) pairs in file order.
    pub cookies: Vec<(String, String)>,
    /// Body from `postData.text` (base64-decoded when `postData.encoding` is "base64"), or
    /// rebuilt as `application/x-www-form-urlencoded` from `postData.params` when the text is
    /// empty. None when the request has no `postData`.
    pub body: Option<Vec<u8>>,
    /// `postData.mimeType`.
    pub mime_type: Option<String>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// Status code (0 when absent or invalid, as browsers write for failed requests).
    pub status: u16,
    /// Header (name, value) pairs in file order.
    pub headers: Vec<(String, String)>,
    /// `content.text`, base64-decoded when `content.encoding` is "base64".
    pub body: Option<Vec<u8>>,
    /// `content.mimeType`.
    pub mime_type: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Raw (lenient) serde model
// ---------------------------------------------------------------------------------------------

/// Any JSON scalar as a string; objects, arrays and null become None.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// A list of objects; anything else (or a malformed element) yields what could be read.
fn lenient_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// An object; anything else becomes None.
fn lenient_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        v @ Value::Object(_) => serde_json::from_value(v).ok(),
        _ => None,
    })
}

fn lenient_status<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().and_then(|x| u16::try_from(x).ok()).unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

#[derive(Deserialize)]
struct RawHar {
    #[serde(default, deserialize_with = "lenient_object")]
    log: Option<RawLog>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawLog {
    #[serde(deserialize_with = "lenient_object")]
    creator: Option<RawCreator>,
    // Kept as raw values so that one odd entry cannot hide the others (and indices stay aligned).
    entries: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCreator {
    #[serde(deserialize_with = "lenient_string")]
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEntry {
    #[serde(rename = "startedDateTime", deserialize_with = "lenient_string")]
    started: Option<String>,
    #[serde(rename = "serverIPAddress", deserialize_with = "lenient_string")]
    server_ip: Option<String>,
    #[serde(deserialize_with = "lenient_object")]
    request: Option<RawRequest>,
    #[serde(deserialize_with = "lenient_object")]
    response: Option<RawResponse>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawNameValue {
    #[serde(deserialize_with = "lenient_string")]
    name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    value: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRequest {
    #[serde(deserialize_with = "lenient_string")]
    method: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    url: Option<String>,
    #[serde(rename = "httpVersion", deserialize_with = "lenient_string")]
    http_version: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    headers: Vec<RawNameValue>,
    #[serde(deserialize_with = "lenient_list")]
    cookies: Vec<RawNameValue>,
    #[serde(rename = "postData", deserialize_with = "lenient_object")]
    post_data: Option<RawPostData>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPostData {
    #[serde(rename = "mimeType", deserialize_with = "lenient_string")]
    mime_type: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    text: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    encoding: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    params: Vec<RawNameValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawResponse {
    #[serde(deserialize_with = "lenient_status")]
    status: u16,
    #[serde(deserialize_with = "lenient_list")]
    headers: Vec<RawNameValue>,
    #[serde(deserialize_with = "lenient_object")]
    content: Option<RawContent>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawContent {
    #[serde(rename = "mimeType", deserialize_with = "lenient_string")]
    mime_type: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    text: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    encoding: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Conversion
// ---------------------------------------------------------------------------------------------

fn pairs(v: Vec<RawNameValue>) -> Vec<(String, String)> {
    v.into_iter()
        .map(|nv| (nv.name.unwrap_or_default(), nv.value.unwrap_or_default()))
        .collect()
}

/// Decodes `text` as base64 when `encoding` says so; falls back to the raw text when the
/// base64 is invalid, so that no captured content is lost.
fn body(text: String, encoding: Option<&str>) -> Vec<u8> {
    if encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("base64")) {
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if let Ok(b) = engine.decode(compact.as_bytes()) {
            return b;
        }
    }
    text.into_bytes()
}

/// `application/x-www-form-urlencoded` serialisation of (name, value) pairs.
fn form_encode(params: &[(String, String)]) -> Vec<u8> {
    fn enc(out: &mut Vec<u8>, s: &str) {
        for &b in s.as_bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b),
                b' ' => out.push(b'+'),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789ABCDEF";
                    out.push(b'%');
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (i, (n, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        enc(&mut out, n);
        out.push(b'=');
        enc(&mut out, v);
    }
    out
}

fn convert_request(r: RawRequest) -> Request {
    let (body_bytes, mime_type) = match r.post_data {
        Some(p) => {
            let text = p.text.unwrap_or_default();
            let b = if text.is_empty() && !p.params.is_empty() {
                form_encode(&pairs(p.params))
            } else {
                body(text, p.encoding.as_deref())
            };
            (Some(b), p.mime_type)
        }
        None => (None, None),
    };
    Request {
        method: r.method.unwrap_or_default(),
        url: r.url.unwrap_or_default(),
        http_version: r.http_version.unwrap_or_default(),
        headers: pairs(r.headers),
        cookies: pairs(r.cookies),
        body: body_bytes,
        mime_type,
    }
}

fn convert_response(r: RawResponse) -> Response {
    let (body_bytes, mime_type) = match r.content {
        Some(c) => (c.text.map(|t| body(t, c.encoding.as_deref())), c.mime_type),
        None => (None, None),
    };
    Response {
        status: r.status,
        headers: pairs(r.headers),
        body: body_bytes,
        mime_type,
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 / ISO 8601 date-time (`2023-04-07T13:04:57.078662+00:00`, `...Z`,
/// offsets with or without a colon; no offset means UTC) into nanoseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let d = b.get(from..from.checked_add(len)?)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        d.iter().try_fold(0i64, |acc, &c| {
            acc.checked_mul(10)?.checked_add(i64::from(c - b'0'))
        })
    };
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let hour = num(11, 2)?;
    let minute = num(14, 2)?;
    let second = if b.get(16) == Some(&b':') {
        num(17, 2)?
    } else {
        0
    };
    let mut at = if b.get(16) == Some(&b':') { 19 } else { 16 };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut nanos = 0i64;
    if matches!(b.get(at), Some(b'.' | b',')) {
        at += 1;
        let mut digits = 0;
        while let Some(c) = b.get(at).filter(|c| c.is_ascii_digit()) {
            if digits < 9 {
                nanos = nanos * 10 + i64::from(c - b'0');
                digits += 1;
            }
            at += 1;
        }
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset_s = match b.get(at) {
        None => 0,
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = num(at + 1, 2)?;
            let om = match b.get(at + 3) {
                Some(b':') if at + 6 == b.len() => num(at + 4, 2)?,
                Some(_) if at + 5 == b.len() => num(at + 3, 2)?,
                None => 0,
                _ => return None,
            };
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Byte offset of a serde_json error (which reports 1-based line and column).
fn json_error_offset(bytes: &[u8], e: &serde_json::Error) -> u64 {
    if e.line() == 0 {
        return 0;
    }
    let line_start = if e.line() == 1 {
        0
    } else {
        memchr::memchr_iter(b'\n', bytes)
            .nth(e.line() - 2)
            .map_or(bytes.len(), |i| i + 1)
    };
    (line_start + e.column().saturating_sub(1)).min(bytes.len()) as u64
}

/// Parses a HAR document (UTF-8, optionally with a BOM).
pub fn parse(bytes: &[u8], path: &str) -> Result<Har, CaptureError> {
    let (skip, json) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (UTF8_BOM.len() as u64, rest),
        None => (0, bytes),
    };
    let raw: RawHar = serde_json::from_slice(json).map_err(|e| {
        let offset = skip + json_error_offset(json, &e);
        CaptureError::new(path, offset, ErrorKind::Json(e))
    })?;
    let log = raw.log.ok_or_else(|| {
        CaptureError::new(path, 0, ErrorKind::Malformed("HAR has no \"log\" object"))
    })?;
    let Some(raw_entries) = log.entries else {
        return Err(CaptureError::new(
            path,
            0,
            ErrorKind::Malformed("HAR log has no \"entries\" array"),
        ));
    };
    let entries = raw_entries
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let e: RawEntry = serde_json::from_value(v).unwrap_or_default();
            Entry {
                index,
                ts: e.started.as_deref().and_then(parse_timestamp),
                started: e.started,
                server_ip: e.server_ip.as_deref().and_then(parse_ip),
                request: e.request.map(convert_request).unwrap_or_default(),
                response: e.response.map(convert_response),
            }
        })
        .collect();
    Ok(Har {
        creator: log.creator.and_then(|c| c.name),
        entries,
    })
}

/// Reads and parses a HAR file (optionally gzip-compressed), refusing files over
/// [`MAX_HAR_SIZE`].
pub fn read(path: &Path) -> Result<Har, CaptureError> {
    read_limited(path, MAX_HAR_SIZE)
}

/// Like [`read`] with an explicit size limit (applied to the decompressed size).
pub fn read_limited(path: &Path, max: u64) -> Result<Har, CaptureError> {
    let name = path.display().to_string();
    let io_err = |e: std::io::Error| CaptureError::new(&name, 0, ErrorKind::Io(e));
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    let mut head = [0u8; 2];
    let n = super::read_full(&mut file, &mut head).map_err(io_err)?;
    let rejoined = std::io::Cursor::new(head.get(..n).unwrap_or_default().to_vec()).chain(file);
    let reader: Box<dyn Read> = if head.get(..n) == Some(&super::GZIP_MAGIC[..]) {
        Box::new(flate2::read::MultiGzDecoder::new(rejoined))
    } else {
        // Uncompressed: the file size is known, refuse before reading anything.
        if size > max {
            return Err(CaptureError::new(
                &name,
                0,
                ErrorKind::Oversized { len: size, max },
            ));
        }
        Box::new(rejoined)
    };
    let mut bytes = Vec::new();
    reader
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| CaptureError::new(&name, bytes.len() as u64, ErrorKind::Io(e)))?;
    if bytes.len() as u64 > max {
        return Err(CaptureError::new(
            &name,
            max,
            ErrorKind::Oversized {
                len: bytes.len() as u64,
                max,
            },
        ));
    }
    parse(&bytes, &name)
}
