//! One `log.entries` element read from the lexer into an [`Entry`], leniently: every field is
//! optional, a leaf of the wrong type is absent, a list element that is not an object is dropped,
//! the last of duplicate keys wins, and unknown fields are skipped without being kept.
//!
//! What an entry keeps (strings, numbers as text, name/value pairs) is charged to a [`Budget`];
//! once it is spent nothing more is kept and the reader drops the entry, so one entry never holds
//! more than the budget whatever the file says.

use std::io::Read;

use base64::Engine as _;

use super::lex::{LexResult, Lexer, Literal};
use super::{Entry, Request, Response};

/// Invalid text repaired in one entry: how many times, and where first.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Repair {
    pub count: u64,
    pub first: u64,
}

impl Repair {
    fn add(&mut self, n: u64, at: u64) {
        if n == 0 {
            return;
        }
        if self.count == 0 {
            self.first = at;
        }
        self.count = self.count.saturating_add(n);
    }
}

/// Bytes an entry may still keep, and the repairs made while reading it.
#[derive(Debug)]
pub(crate) struct Budget {
    left: usize,
    /// The entry wanted to keep more than it may.
    pub over: bool,
    pub invalid_utf8: Repair,
    pub lone_surrogates: Repair,
}

/// What one name/value pair costs besides its text.
const PAIR_COST: usize = std::mem::size_of::<(String, String)>();

impl Budget {
    pub(crate) fn new(max: usize) -> Self {
        Budget {
            left: max,
            over: false,
            invalid_utf8: Repair::default(),
            lone_surrogates: Repair::default(),
        }
    }

    /// Takes `n` bytes from the budget; false (and nothing taken) when they are not there.
    fn charge(&mut self, n: usize) -> bool {
        if self.over || n > self.left {
            self.over = true;
            self.left = 0;
            return false;
        }
        self.left -= n;
        true
    }

    /// Cap for the next string: what is left, nothing once the entry is over.
    fn cap(&self) -> usize {
        if self.over { 0 } else { self.left }
    }
}

/// `bytes` as UTF-8, invalid sequences replaced with U+FFFD (counted in `budget`). None when the
/// repaired text would not fit in the budget.
fn lossy(bytes: Vec<u8>, budget: &mut Budget, at: u64) -> Option<String> {
    match String::from_utf8(bytes) {
        Ok(s) => budget.charge(s.len()).then_some(s),
        Err(e) => {
            let bytes = e.into_bytes();
            let mut len = 0usize;
            let mut bad = 0u64;
            for c in bytes.utf8_chunks() {
                len = len.saturating_add(c.valid().len());
                if !c.invalid().is_empty() {
                    len = len.saturating_add(char::REPLACEMENT_CHARACTER.len_utf8());
                    bad = bad.saturating_add(1);
                }
            }
            budget.invalid_utf8.add(bad, at);
            // Sized before it is built: invalid bytes triple in size when replaced.
            if !budget.charge(len) {
                return None;
            }
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

/// A body text: a string's bytes as they are in the file, invalid UTF-8 counted but kept (so a
/// search sees what the phone sent); any other scalar as [`text`] reads it.
fn body_text(lex: &mut Lexer, budget: &mut Budget) -> LexResult<Option<Vec<u8>>> {
    let first = lex.peek_ws()?;
    // Where the string starts (after any whitespace), to say where a repair was made.
    let at = lex.pos();
    if first != b'"' {
        return Ok(text(lex, budget)?.map(String::into_bytes));
    }
    let mut out = Vec::new();
    let info = lex.string(&mut out, budget.cap())?;
    budget.lone_surrogates.add(info.lone_surrogates, at);
    if info.truncated || !budget.charge(out.len()) {
        budget.over = true;
        return Ok(None);
    }
    let bad = out
        .utf8_chunks()
        .filter(|c| !c.invalid().is_empty())
        .count();
    budget.invalid_utf8.add(bad as u64, at);
    Ok(Some(out))
}

/// Any JSON scalar as a string (numbers as written); objects, arrays and null are None.
fn text(lex: &mut Lexer, budget: &mut Budget) -> LexResult<Option<String>> {
    let first = lex.peek_ws()?;
    let at = lex.pos();
    match first {
        b'"' => {
            let mut out = Vec::new();
            let info = lex.string(&mut out, budget.cap())?;
            budget.lone_surrogates.add(info.lone_surrogates, at);
            if info.truncated {
                budget.over = true;
                return Ok(None);
            }
            Ok(lossy(out, budget, at))
        }
        b'-' | b'0'..=b'9' => {
            let mut out = Vec::new();
            if lex.number(&mut out, budget.cap())? {
                budget.over = true;
                return Ok(None);
            }
            // Digits, signs, '.', 'e': ASCII.
            Ok(lossy(out, budget, at))
        }
        b't' | b'f' | b'n' => Ok(match lex.literal()? {
            Literal::True => budget.charge(4).then(|| "true".to_owned()),
            Literal::False => budget.charge(5).then(|| "false".to_owned()),
            Literal::Null => None,
        }),
        _ => {
            lex.skip_value()?;
            Ok(None)
        }
    }
}

/// True when the value at the lexer is an object (not consumed).
fn is_object(lex: &mut Lexer) -> LexResult<bool> {
    Ok(lex.peek_ws()? == b'{')
}

/// A list of `{"name": .., "value": ..}` objects; anything else reads as empty, and elements
/// that are not objects are dropped.
fn pairs(lex: &mut Lexer, budget: &mut Budget) -> LexResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    if lex.peek_ws()? != b'[' {
        lex.skip_value()?;
        return Ok(out);
    }
    lex.array(|lex| {
        if !is_object(lex)? {
            return lex.skip_value();
        }
        let (mut name, mut value) = (None, None);
        lex.object(|lex, key| match key {
            Some(b"name") => {
                name = text(lex, budget)?;
                Ok(())
            }
            Some(b"value") => {
                value = text(lex, budget)?;
                Ok(())
            }
            _ => lex.skip_value(),
        })?;
        if budget.charge(PAIR_COST) {
            out.push((name.unwrap_or_default(), value.unwrap_or_default()));
        }
        Ok(())
    })?;
    Ok(out)
}

/// `status`: a number or a numeric string; anything else is 0, as browsers write for failed
/// requests.
fn status(lex: &mut Lexer, budget: &mut Budget) -> LexResult<u16> {
    let t = text(lex, budget)?.unwrap_or_default();
    Ok(t.trim().parse().unwrap_or(0))
}

/// `postData` or `content`: text, its encoding, its MIME type and (postData only) form params.
#[derive(Default)]
struct Body {
    mime_type: Option<String>,
    text: Option<Vec<u8>>,
    encoding: Option<String>,
    params: Vec<(String, String)>,
}

fn body_object(lex: &mut Lexer, budget: &mut Budget, params: bool) -> LexResult<Option<Body>> {
    if !is_object(lex)? {
        lex.skip_value()?;
        return Ok(None);
    }
    let mut b = Body::default();
    lex.object(|lex, key| {
        match key {
            Some(b"mimeType") => b.mime_type = text(lex, budget)?,
            Some(b"text") => b.text = body_text(lex, budget)?,
            Some(b"encoding") => b.encoding = text(lex, budget)?,
            Some(b"params") if params => b.params = pairs(lex, budget)?,
            _ => lex.skip_value()?,
        }
        Ok(())
    })?;
    Ok(Some(b))
}

fn request(lex: &mut Lexer, budget: &mut Budget) -> LexResult<Request> {
    let mut r = Request::default();
    if !is_object(lex)? {
        lex.skip_value()?;
        return Ok(r);
    }
    let mut post = None;
    lex.object(|lex, key| {
        match key {
            Some(b"method") => r.method = text(lex, budget)?.unwrap_or_default(),
            Some(b"url") => r.url = text(lex, budget)?.unwrap_or_default(),
            Some(b"httpVersion") => r.http_version = text(lex, budget)?.unwrap_or_default(),
            Some(b"headers") => r.headers = pairs(lex, budget)?,
            Some(b"cookies") => r.cookies = pairs(lex, budget)?,
            Some(b"postData") => post = body_object(lex, budget, true)?,
            _ => lex.skip_value()?,
        }
        Ok(())
    })?;
    if let Some(p) = post {
        let text = p.text.unwrap_or_default();
        r.body = Some(if text.is_empty() && !p.params.is_empty() {
            form_encode(&p.params)
        } else {
            decode_body(text, p.encoding.as_deref())
        });
        r.mime_type = p.mime_type;
    }
    Ok(r)
}

fn response(lex: &mut Lexer, budget: &mut Budget) -> LexResult<Option<Response>> {
    if !is_object(lex)? {
        lex.skip_value()?;
        return Ok(None);
    }
    let mut r = Response::default();
    let mut content = None;
    lex.object(|lex, key| {
        match key {
            Some(b"status") => r.status = status(lex, budget)?,
            Some(b"headers") => r.headers = pairs(lex, budget)?,
            Some(b"content") => content = body_object(lex, budget, false)?,
            _ => lex.skip_value()?,
        }
        Ok(())
    })?;
    if let Some(c) = content {
        r.body = c.text.map(|t| decode_body(t, c.encoding.as_deref()));
        r.mime_type = c.mime_type;
    }
    Ok(Some(r))
}

/// Reads the entry at the lexer. An element that is not an object reads as an empty entry
/// (false in the second place, so the reader can say so).
pub(crate) fn read(lex: &mut Lexer, index: usize, budget: &mut Budget) -> LexResult<(Entry, bool)> {
    let mut e = Entry {
        index,
        ..Entry::default()
    };
    if !is_object(lex)? {
        lex.skip_value()?;
        return Ok((e, false));
    }
    let mut server_ip = None;
    lex.object(|lex, key| {
        match key {
            Some(b"startedDateTime") => e.started = text(lex, budget)?,
            Some(b"serverIPAddress") => server_ip = text(lex, budget)?,
            Some(b"request") => e.request = request(lex, budget)?,
            Some(b"response") => e.response = response(lex, budget)?,
            _ => lex.skip_value()?,
        }
        Ok(())
    })?;
    e.ts = e.started.as_deref().and_then(super::parse_timestamp);
    e.server_ip = server_ip.as_deref().and_then(parse_ip);
    Ok((e, true))
}

/// Reads `creator.name` from the `creator` value at the lexer.
pub(crate) fn creator(lex: &mut Lexer, budget: &mut Budget) -> LexResult<Option<String>> {
    if !is_object(lex)? {
        lex.skip_value()?;
        return Ok(None);
    }
    let mut name = None;
    lex.object(|lex, key| {
        match key {
            Some(b"name") => name = text(lex, budget)?,
            _ => lex.skip_value()?,
        }
        Ok(())
    })?;
    Ok(name)
}

fn parse_ip(s: &str) -> Option<std::net::IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

/// Skips ASCII whitespace of a base64 text as it is read, so that it is decoded without a copy.
struct NoWhitespace<'a>(&'a [u8]);

impl Read for NoWhitespace<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while let (Some(slot), Some((&b, rest))) = (buf.get_mut(n), self.0.split_first()) {
            self.0 = rest;
            if !b.is_ascii_whitespace() {
                *slot = b;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Decodes `text` as base64 when `encoding` says so; falls back to the raw text when the
/// base64 is invalid, so that no captured content is lost.
fn decode_body(text: Vec<u8>, encoding: Option<&str>) -> Vec<u8> {
    if encoding.is_some_and(|e| e.trim().eq_ignore_ascii_case("base64")) {
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let decoded = if text.iter().any(u8::is_ascii_whitespace) {
            let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
            base64::read::DecoderReader::new(NoWhitespace(&text), &engine)
                .read_to_end(&mut out)
                .ok()
                .map(|_| out)
        } else {
            engine.decode(&text).ok()
        };
        if let Some(b) = decoded {
            return b;
        }
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_with_and_without_whitespace_agree() {
        let plain: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&plain);
        let wrapped: String = b64
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n");
        assert_eq!(decode_body(b64.clone().into_bytes(), Some("base64")), plain);
        assert_eq!(decode_body(wrapped.into_bytes(), Some(" Base64 ")), plain);
        let unpadded = b64.trim_end_matches('=').to_owned();
        assert_eq!(decode_body(unpadded.into_bytes(), Some("base64")), plain);
        // Invalid base64 keeps the text as written, whitespace included.
        assert_eq!(
            decode_body(b"not base64!".to_vec(), Some("base64")),
            b"not base64!"
        );
        assert_eq!(decode_body(b"a b !".to_vec(), Some("base64")), b"a b !");
        assert_eq!(decode_body(b"aGk=".to_vec(), None), b"aGk=");
    }
}
