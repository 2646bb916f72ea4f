//! Streaming JSON lexer under the HAR reader: one 64 KiB window over the (decompressed) file,
//! strings decoded into caller buffers only up to a cap, everything else scanned and dropped.
//!
//! It accepts exactly the JSON grammar (RFC 8259) with three repairs, each counted so that the
//! reader can report it: invalid UTF-8 inside strings becomes U+FFFD (done by the caller, which
//! knows whether a string is kept), an unpaired UTF-16 surrogate escape (`"\ud800"`) becomes
//! U+FFFD, and raw control characters inside strings are taken as they are (they decode to the
//! same bytes, so nothing is lost or altered). Nesting is tracked with an explicit stack capped at
//! [`MAX_DEPTH`], never with recursion, so hostile depth cannot overflow the call stack.

use std::io::{self, Read};

/// Size of the read window.
const WINDOW: usize = 64 * 1024;
/// Deepest nesting accepted anywhere in the file (HAR writers nest a few tens of levels at most,
/// in Chrome's `_initiator` stacks).
pub(crate) const MAX_DEPTH: usize = 10_000;
/// Longest object key that is decoded and compared; longer keys are unknown to the reader.
pub(crate) const KEY_MAX: usize = 64;
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Why lexing stopped.
#[derive(Debug)]
pub(crate) enum LexError {
    /// Reading or decompressing failed.
    Io(io::Error),
    /// The stream ended inside the document.
    Eof,
    /// The bytes are not JSON.
    Syntax(&'static str),
    /// The stream goes on past the configured maximum size.
    TooLarge,
}

pub(crate) type LexResult<T> = Result<T, LexError>;

/// What a string read gave besides its bytes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StrInfo {
    /// The decoded string did not fit under the cap; the bytes kept are incomplete.
    pub truncated: bool,
    /// Unpaired surrogate escapes replaced with U+FFFD.
    pub lone_surrogates: u64,
}

/// The literal names JSON has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Literal {
    True,
    False,
    Null,
}

/// An object key, decoded when it is at most [`KEY_MAX`] bytes long.
pub(crate) struct Key {
    bytes: [u8; KEY_MAX],
    len: usize,
    truncated: bool,
}

impl Key {
    /// The key, or None when it was too long to be one the reader knows.
    pub(crate) fn get(&self) -> Option<&[u8]> {
        if self.truncated {
            None
        } else {
            self.bytes.get(..self.len)
        }
    }
}

/// The lexer over one byte stream.
pub(crate) struct Lexer {
    src: Box<dyn Read + Send>,
    buf: Box<[u8]>,
    /// Next unread byte in `buf`.
    at: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Most bytes of the stream read; more is [`LexError::TooLarge`].
    max_size: u64,
    eof: bool,
    /// The stream had bytes past `max_size`.
    over: bool,
    /// Container kinds (`{` or `[`) of the value being skipped, reused between skips.
    stack: Vec<u8>,
    /// Decoding buffer for keys, reused.
    key_buf: Vec<u8>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Appends `bytes` to `out` unless that would pass `cap`, in which case nothing more is kept.
fn keep(out: &mut Vec<u8>, cap: usize, info: &mut StrInfo, bytes: &[u8]) {
    if info.truncated {
        return;
    }
    if out.len().saturating_add(bytes.len()) <= cap {
        out.extend_from_slice(bytes);
    } else {
        info.truncated = true;
    }
}

impl Lexer {
    pub(crate) fn new(src: Box<dyn Read + Send>, max_size: u64) -> Self {
        Lexer {
            src,
            buf: vec![0; WINDOW].into_boxed_slice(),
            at: 0,
            end: 0,
            base: 0,
            max_size,
            eof: false,
            over: false,
            stack: Vec::new(),
            key_buf: Vec::with_capacity(KEY_MAX),
        }
    }

    /// Stream offset of the next unread byte.
    pub(crate) fn pos(&self) -> u64 {
        self.base.saturating_add(self.at as u64)
    }

    /// Makes at least one unread byte available; false at the end of the stream.
    fn fill(&mut self) -> LexResult<bool> {
        if self.at < self.end {
            return Ok(true);
        }
        if self.eof {
            return if self.over {
                Err(LexError::TooLarge)
            } else {
                Ok(false)
            };
        }
        self.base = self.base.saturating_add(self.end as u64);
        self.at = 0;
        self.end = 0;
        let n = loop {
            match self.src.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LexError::Io(e)),
            }
        };
        let room = self.max_size.saturating_sub(self.base);
        if n as u64 > room {
            // Keep the bytes up to the limit so that everything before it is still read.
            self.end = usize::try_from(room).unwrap_or(0);
            self.eof = true;
            self.over = true;
        } else {
            self.end = n;
            self.eof = n == 0;
        }
        if self.at < self.end {
            Ok(true)
        } else if self.over {
            Err(LexError::TooLarge)
        } else {
            Ok(false)
        }
    }

    fn avail(&self) -> &[u8] {
        self.buf.get(self.at..self.end).unwrap_or_default()
    }

    /// The next byte, not consumed; None at the end of the stream.
    pub(crate) fn peek(&mut self) -> LexResult<Option<u8>> {
        if self.fill()? {
            Ok(self.buf.get(self.at).copied())
        } else {
            Ok(None)
        }
    }

    /// Consumes the byte returned by the last `peek`/`peek_ws`.
    pub(crate) fn bump(&mut self) {
        if self.at < self.end {
            self.at += 1;
        }
    }

    fn next_byte(&mut self) -> LexResult<u8> {
        match self.peek()? {
            Some(b) => {
                self.bump();
                Ok(b)
            }
            None => Err(LexError::Eof),
        }
    }

    /// Skips whitespace; the next byte (not consumed), or None at the end of the stream.
    pub(crate) fn peek_ws_or_end(&mut self) -> LexResult<Option<u8>> {
        loop {
            if !self.fill()? {
                return Ok(None);
            }
            let avail = self.avail();
            match avail.iter().position(|&b| !is_ws(b)) {
                Some(i) => {
                    let b = avail.get(i).copied();
                    self.at = self.at.saturating_add(i);
                    return Ok(b);
                }
                None => self.at = self.end,
            }
        }
    }

    /// Skips whitespace; the next byte (not consumed). The end of the stream is an error here.
    pub(crate) fn peek_ws(&mut self) -> LexResult<u8> {
        self.peek_ws_or_end()?.ok_or(LexError::Eof)
    }

    /// Skips whitespace and consumes `b`, or fails with `msg`.
    pub(crate) fn expect(&mut self, b: u8, msg: &'static str) -> LexResult<()> {
        if self.peek_ws()? == b {
            self.bump();
            Ok(())
        } else {
            Err(LexError::Syntax(msg))
        }
    }

    fn hex4(&mut self) -> LexResult<u16> {
        let mut v: u16 = 0;
        for _ in 0..4 {
            let d = match self.next_byte()? {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                c @ b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(LexError::Syntax("invalid \\u escape in a string")),
            };
            v = (v << 4) | u16::from(d);
        }
        Ok(v)
    }

    /// Reads the string at the lexer (its opening quote next) into `out`, decoding escapes and
    /// keeping at most `cap` bytes. Bytes are kept as they are in the file: the caller checks
    /// UTF-8, since only it knows whether the string is kept.
    pub(crate) fn string(&mut self, out: &mut Vec<u8>, cap: usize) -> LexResult<StrInfo> {
        if self.peek_ws()? != b'"' {
            return Err(LexError::Syntax("expected a string"));
        }
        self.bump();
        let mut info = StrInfo::default();
        // A high surrogate waiting for its low half.
        let mut high: Option<u16> = None;
        loop {
            if !self.fill()? {
                return Err(LexError::Eof);
            }
            let avail = self.avail();
            let stop = memchr::memchr2(b'"', b'\\', avail);
            let seg = stop.unwrap_or(avail.len());
            if seg > 0 {
                if high.take().is_some() {
                    info.lone_surrogates = info.lone_surrogates.saturating_add(1);
                    keep(out, cap, &mut info, REPLACEMENT);
                }
                if !info.truncated {
                    let bytes = self.buf.get(self.at..self.at.saturating_add(seg));
                    keep(out, cap, &mut info, bytes.unwrap_or_default());
                }
                self.at = self.at.saturating_add(seg);
            }
            if stop.is_none() {
                continue;
            }
            let quote_or_escape = self.next_byte()?;
            if quote_or_escape == b'"' {
                if high.take().is_some() {
                    info.lone_surrogates = info.lone_surrogates.saturating_add(1);
                    keep(out, cap, &mut info, REPLACEMENT);
                }
                return Ok(info);
            }
            let simple = match self.next_byte()? {
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                b'/' => Some(b'/'),
                b'b' => Some(0x08),
                b'f' => Some(0x0c),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'u' => None,
                _ => return Err(LexError::Syntax("invalid escape in a string")),
            };
            let unit = match simple {
                Some(_) => None,
                None => Some(self.hex4()?),
            };
            if let (Some(u @ 0xDC00..=0xDFFF), Some(h)) = (unit, high) {
                high = None;
                let c = 0x1_0000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                let mut tmp = [0u8; 4];
                let s = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                keep(out, cap, &mut info, s.encode_utf8(&mut tmp).as_bytes());
                continue;
            }
            if high.take().is_some() {
                info.lone_surrogates = info.lone_surrogates.saturating_add(1);
                keep(out, cap, &mut info, REPLACEMENT);
            }
            match (simple, unit) {
                (Some(b), _) => keep(out, cap, &mut info, &[b]),
                (None, Some(u @ 0xD800..=0xDBFF)) => high = Some(u),
                (None, Some(u)) => {
                    // Low surrogates alone have no char: from_u32 refuses them.
                    let c = char::from_u32(u32::from(u));
                    if c.is_none() {
                        info.lone_surrogates = info.lone_surrogates.saturating_add(1);
                    }
                    let mut tmp = [0u8; 4];
                    let s = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                    keep(out, cap, &mut info, s.encode_utf8(&mut tmp).as_bytes());
                }
                (None, None) => {}
            }
        }
    }

    /// Reads an object key (its opening quote next).
    pub(crate) fn key(&mut self) -> LexResult<Key> {
        // One buffer for every key: keys are most of the strings of a HAR.
        let mut out = std::mem::take(&mut self.key_buf);
        out.clear();
        let info = self.string(&mut out, KEY_MAX);
        let info = match info {
            Ok(i) => i,
            Err(e) => {
                self.key_buf = out;
                return Err(e);
            }
        };
        let mut bytes = [0u8; KEY_MAX];
        let len = out.len().min(KEY_MAX);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), out.get(..len)) {
            dst.copy_from_slice(src);
        }
        self.key_buf = out;
        Ok(Key {
            bytes,
            len,
            truncated: info.truncated,
        })
    }

    /// Reads the number at the lexer into `out` (its text, as in the file), keeping at most `cap`
    /// bytes; true when it did not fit.
    pub(crate) fn number(&mut self, out: &mut Vec<u8>, cap: usize) -> LexResult<bool> {
        let mut info = StrInfo::default();
        let digits = |lex: &mut Lexer, out: &mut Vec<u8>, info: &mut StrInfo| {
            let mut n = 0u64;
            while let Some(b @ b'0'..=b'9') = lex.peek()? {
                keep(out, cap, info, &[b]);
                lex.bump();
                n = n.saturating_add(1);
            }
            Ok::<u64, LexError>(n)
        };
        if self.peek_ws()? == b'-' {
            keep(out, cap, &mut info, b"-");
            self.bump();
        }
        match self.peek()? {
            Some(b'0') => {
                keep(out, cap, &mut info, b"0");
                self.bump();
            }
            Some(b'1'..=b'9') => {
                digits(self, out, &mut info)?;
            }
            Some(_) => return Err(LexError::Syntax("invalid number")),
            None => return Err(LexError::Eof),
        }
        if self.peek()? == Some(b'.') {
            keep(out, cap, &mut info, b".");
            self.bump();
            if digits(self, out, &mut info)? == 0 {
                return Err(self.number_end_error());
            }
        }
        if let Some(e @ (b'e' | b'E')) = self.peek()? {
            keep(out, cap, &mut info, &[e]);
            self.bump();
            if let Some(s @ (b'+' | b'-')) = self.peek()? {
                keep(out, cap, &mut info, &[s]);
                self.bump();
            }
            if digits(self, out, &mut info)? == 0 {
                return Err(self.number_end_error());
            }
        }
        Ok(info.truncated)
    }

    /// A number missing its digits: cut by the end of the stream, or not JSON.
    fn number_end_error(&mut self) -> LexError {
        match self.peek() {
            Ok(None) => LexError::Eof,
            Ok(Some(_)) => LexError::Syntax("invalid number"),
            Err(e) => e,
        }
    }

    /// Reads `true`, `false` or `null`.
    pub(crate) fn literal(&mut self) -> LexResult<Literal> {
        let (text, lit): (&[u8], Literal) = match self.peek_ws()? {
            b't' => (b"true", Literal::True),
            b'f' => (b"false", Literal::False),
            b'n' => (b"null", Literal::Null),
            _ => return Err(LexError::Syntax("expected a value")),
        };
        for &want in text {
            if self.next_byte()? != want {
                return Err(LexError::Syntax("invalid literal"));
            }
        }
        Ok(lit)
    }

    /// Skips one complete value, checking its grammar, keeping nothing.
    pub(crate) fn skip_value(&mut self) -> LexResult<()> {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        let r = self.skip_with(&mut stack);
        self.stack = stack;
        r
    }

    fn skip_with(&mut self, stack: &mut Vec<u8>) -> LexResult<()> {
        let mut none = Vec::new();
        loop {
            // A value is expected here.
            let mut opened = false;
            match self.peek_ws()? {
                c @ (b'{' | b'[') => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(LexError::Syntax("nested too deep"));
                    }
                    self.bump();
                    stack.push(c);
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek_ws()? == close {
                        self.bump();
                        stack.pop();
                    } else {
                        if c == b'{' {
                            self.string(&mut none, 0)?;
                            self.expect(b':', "expected ':' after a key")?;
                        }
                        opened = true;
                    }
                }
                b'"' => {
                    self.string(&mut none, 0)?;
                }
                b'-' | b'0'..=b'9' => {
                    self.number(&mut none, 0)?;
                }
                _ => {
                    self.literal()?;
                }
            }
            if opened {
                continue;
            }
            // After a value: close containers until one goes on with a comma.
            loop {
                let Some(&top) = stack.last() else {
                    return Ok(());
                };
                match (top, self.peek_ws()?) {
                    (b'{', b',') => {
                        self.bump();
                        self.string(&mut none, 0)?;
                        self.expect(b':', "expected ':' after a key")?;
                        break;
                    }
                    (b'[', b',') => {
                        self.bump();
                        break;
                    }
                    (b'{', b'}') | (b'[', b']') => {
                        self.bump();
                        stack.pop();
                    }
                    (b'{', _) => return Err(LexError::Syntax("expected ',' or '}'")),
                    _ => return Err(LexError::Syntax("expected ',' or ']'")),
                }
            }
        }
    }

    /// Calls `field` with each key of the object at the lexer (`{` next); `field` must read or
    /// skip exactly one value. Keys too long to be known are given as None.
    pub(crate) fn object(
        &mut self,
        mut field: impl FnMut(&mut Lexer, Option<&[u8]>) -> LexResult<()>,
    ) -> LexResult<()> {
        self.expect(b'{', "expected an object")?;
        if self.peek_ws()? == b'}' {
            self.bump();
            return Ok(());
        }
        loop {
            let key = self.key()?;
            self.expect(b':', "expected ':' after a key")?;
            field(self, key.get())?;
            match self.peek_ws()? {
                b',' => self.bump(),
                b'}' => {
                    self.bump();
                    return Ok(());
                }
                _ => return Err(LexError::Syntax("expected ',' or '}'")),
            }
        }
    }

    /// Calls `item` for each element of the array at the lexer (`[` next); `item` must read or
    /// skip exactly one value.
    pub(crate) fn array(
        &mut self,
        mut item: impl FnMut(&mut Lexer) -> LexResult<()>,
    ) -> LexResult<()> {
        self.expect(b'[', "expected an array")?;
        if self.peek_ws()? == b']' {
            self.bump();
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek_ws()? {
                b',' => self.bump(),
                b']' => {
                    self.bump();
                    return Ok(());
                }
                _ => return Err(LexError::Syntax("expected ',' or ']'")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(s: &[u8]) -> Lexer {
        Lexer::new(Box::new(std::io::Cursor::new(s.to_vec())), u64::MAX)
    }

    fn string(s: &[u8], cap: usize) -> (Vec<u8>, StrInfo) {
        let mut out = Vec::new();
        let info = lex(s).string(&mut out, cap).expect("string");
        (out, info)
    }

    #[test]
    fn strings_decode_escapes_and_repair_surrogates() {
        let (out, info) = string(br#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00z""#, 100);
        assert_eq!(out, "a\"\\/\u{8}\u{c}\n\r\té😀z".as_bytes());
        assert_eq!(info.lone_surrogates, 0);
        for (src, want, lone) in [
            (&br#""\ud800""#[..], "\u{FFFD}", 1),
            (br#""\udc00x""#, "\u{FFFD}x", 1),
            (br#""\ud800\ud800\udc00""#, "\u{FFFD}𐀀", 1),
            (br#""\ud800x""#, "\u{FFFD}x", 1),
            (br#""\ud800\n""#, "\u{FFFD}\n", 1),
            (br#""\ud800\u0041""#, "\u{FFFD}A", 1),
        ] {
            let (out, info) = string(src, 100);
            assert_eq!(String::from_utf8(out).expect("utf8"), want);
            assert_eq!(info.lone_surrogates, lone);
        }
        // Raw bytes are kept as they are; the caller checks UTF-8.
        assert_eq!(string(b"\"\xff\x01\"", 10).0, b"\xff\x01");
        let (out, info) = string(br#""abcdef""#, 3);
        assert!(info.truncated && out.len() <= 3);
    }

    #[test]
    fn strings_across_window_edges() {
        // Escapes and surrogate pairs split at every position of a window edge.
        let body = "\\ud83d\\ude00\\n".repeat(WINDOW / 7);
        let doc = format!("\"{body}\"");
        let (out, info) = string(doc.as_bytes(), usize::MAX);
        assert_eq!(out, "😀\n".repeat(WINDOW / 7).as_bytes());
        assert_eq!(info.lone_surrogates, 0);
    }

    #[test]
    fn skip_checks_grammar() {
        for ok in [
            &b"{}"[..],
            b"[]",
            b"{\"a\": [1, -2.5e+3, true, false, null, {\"b\": \"c\"}], \"d\": {}}",
            b"0",
            b"\"x\"",
        ] {
            let mut l = lex(ok);
            l.skip_value().expect("valid");
            assert!(l.peek_ws_or_end().expect("end").is_none());
        }
        for bad in [
            &b"{\"a\" 1}"[..],
            b"[1,]",
            b"{,}",
            b"[1 2]",
            b"01",
            b"1.",
            b"1e",
            b"-",
            b"tru",
            b"[}",
            b"{\"a\":1]",
            b"\"\\x\"",
            b"\"\\u12g4\"",
        ] {
            let mut l = lex(bad);
            let r = l.skip_value();
            // Either the value fails, or it ends early and leaves bytes behind.
            assert!(
                r.is_err() || l.peek_ws_or_end().expect("peek").is_some(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            lex(deep.as_bytes()).skip_value(),
            Err(LexError::Syntax(_))
        ));
        let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        lex(deep_ok.as_bytes()).skip_value().expect("at the limit");
    }

    #[test]
    fn size_limit_keeps_what_came_before() {
        let mut l = Lexer::new(Box::new(std::io::Cursor::new(b"[1, 2]".to_vec())), 4);
        assert_eq!(l.peek_ws().expect("["), b'[');
        assert!(matches!(l.skip_value(), Err(LexError::TooLarge)));
        let mut l = Lexer::new(Box::new(std::io::Cursor::new(b"[1, 2]".to_vec())), 6);
        l.skip_value().expect("exactly at the limit");
    }
}
