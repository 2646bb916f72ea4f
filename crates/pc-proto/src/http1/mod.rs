//! HTTP/1.x message streams (RFC 9112): one parser per connection direction, with persistent
//! connections, pipelining, Content-Length / chunked / read-until-close bodies, and body
//! decoding (de-chunking, then content and transfer codings, bounded).

mod chunked;
mod head;

pub use head::{Head, StartLine};

use crate::ProtoError;
use crate::body::{self, Decoded, find_blank_line};
use crate::sniff::starts_with_method;
use head::{content_length, parse_head};
use std::collections::VecDeque;

/// Bounds of one parser. Every buffer and decode is capped by one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Start line plus header fields (and, separately, trailer fields).
    pub max_header_bytes: usize,
    /// Header fields per message (trailers included).
    pub max_headers: usize,
    /// Body bytes kept per message (after de-chunking, before decoding); more is counted only.
    pub max_body_bytes: usize,
    /// Decoded body bytes kept per message.
    pub max_decompressed_bytes: usize,
    /// Largest decoded/encoded ratio allowed beyond `ratio_free_bytes` of output ("zip bombs").
    pub max_ratio: u64,
    /// Decoded output always allowed whatever the ratio (small, highly compressible bodies).
    pub ratio_free_bytes: usize,
    /// Request methods remembered for the response parser (pipelining depth).
    pub max_pending_requests: usize,
    /// A chunk-size line.
    pub max_chunk_line: usize,
    /// Parse errors tolerated (each followed by a resync) before the stream is abandoned.
    pub max_errors: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_headers: 256,
            max_body_bytes: 16 * 1024 * 1024,
            max_decompressed_bytes: 32 * 1024 * 1024,
            max_ratio: 200,
            ratio_free_bytes: 1024 * 1024,
            max_pending_requests: 1024,
            max_chunk_line: 4096,
            max_errors: 16,
        }
    }
}

/// One HTTP message with its decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request or status line.
    pub start: StartLine,
    /// Header fields in order (trailer fields appended), values trimmed, as bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body, de-chunked and decoded (gzip, deflate, br, zstd, stacked). When decoding fails
    /// without output, the encoded bytes.
    pub body: Vec<u8>,
    /// Body length on the wire after de-chunking, before decoding (counted even beyond the
    /// kept limit; includes bytes lost in gaps).
    pub body_wire_len: u64,
    /// Content-Encoding codings in the order applied by the sender.
    pub content_encoding: Vec<String>,
    /// The body is incomplete: cut by a limit, a gap or the end of the stream.
    pub body_truncated: bool,
    /// Why decoding failed or stopped, if it did.
    pub decode_error: Option<&'static str>,
    /// Stream offset of the message's first byte.
    pub offset: u64,
}

impl Message {
    /// The first value of a header field, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Requests,
    Responses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line (into `line`).
    Size,
    /// Inside chunk data.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Reading trailer lines (into `line`).
    Trailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a start line and header fields (into `buf`).
    Head,
    /// A body of known remaining length.
    Length(u64),
    /// A chunked body.
    Chunked(Chunk),
    /// A body delimited by the end of the connection.
    UntilClose,
    /// Looking for the start of the next message after an error or a gap.
    Resync,
    /// The connection switched protocols (CONNECT, 101): data is not HTTP/1.
    Tunnel,
    /// Abandoned after too many errors.
    Dead,
}

/// How a message ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct End {
    /// Body length on the wire after de-chunking (includes bytes lost in gaps).
    pub wire_len: u64,
    /// Body bytes lost in gaps of the stream.
    pub lost: u64,
    /// The body is incomplete: cut by a gap, an error or the end of the stream.
    pub truncated: bool,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<(String, Vec<u8>)>,
}

/// Receives the messages of one direction as they are parsed: the head, then the body in the
/// pieces it arrived in (de-chunked, still content-coded), then the end.
pub trait Sink {
    /// A message head; its body, if any, follows.
    fn head(&mut self, head: Head);
    /// Body bytes of the current message.
    fn body(&mut self, data: &[u8]);
    /// The current message is over.
    fn end(&mut self, end: End);
}

/// A message whose head is parsed and whose body is being read.
#[derive(Debug)]
struct Pending {
    wire_len: u64,
    lost: u64,
    truncated: bool,
    /// Header fields of the head: trailers count against the same limit.
    head_fields: usize,
    trailers: Vec<(String, Vec<u8>)>,
    /// After this message, the connection is a tunnel.
    then_tunnel: bool,
}

impl Pending {
    fn end(self) -> End {
        End {
            wire_len: self.wire_len,
            lost: self.lost,
            truncated: self.truncated,
            trailers: self.trailers,
        }
    }
}

/// Builds whole [`Message`]s for the `Vec<Message>` interface: keeps bodies up to
/// `max_body_bytes` and decodes them when they end.
#[derive(Debug, Default)]
struct Collector {
    current: Option<(Head, Vec<u8>)>,
    max_body: usize,
    max_ratio: u64,
    ratio_free: usize,
    max_decompressed: usize,
    ready: Vec<Message>,
}

impl Sink for Collector {
    fn head(&mut self, head: Head) {
        self.current = Some((head, Vec::new()));
    }
    fn body(&mut self, data: &[u8]) {
        if let Some((_, body)) = &mut self.current {
            let room = self.max_body.saturating_sub(body.len());
            body.extend_from_slice(&data[..room.min(data.len())]);
        }
    }
    fn end(&mut self, end: End) {
        if let Some((head, body)) = self.current.take() {
            let m = self.message(head, body, end);
            self.ready.push(m);
        }
    }
}

impl Collector {
    fn for_limits(l: &Limits) -> Self {
        Collector {
            max_body: l.max_body_bytes,
            max_ratio: l.max_ratio,
            ratio_free: l.ratio_free_bytes,
            max_decompressed: l.max_decompressed_bytes,
            ..Collector::default()
        }
    }

    /// Decode the body and build the message.
    fn message(&self, head: Head, body: Vec<u8>, end: End) -> Message {
        let kept_all = body.len() as u64 + end.lost >= end.wire_len;
        let mut headers = head.headers;
        headers.extend(end.trailers);
        let mut m = Message {
            start: head.start,
            headers,
            body: Vec::new(),
            body_wire_len: end.wire_len,
            content_encoding: head.content_encoding,
            body_truncated: end.truncated || !kept_all,
            decode_error: None,
            offset: head.offset,
        };
        // Decoding undoes the transfer codings, then the content codings, each last-applied first.
        let codings: Vec<&str> = m
            .content_encoding
            .iter()
            .chain(head.transfer_codings.iter())
            .map(String::as_str)
            .filter(|c| *c != "identity")
            .collect();
        let mut data = body;
        for c in codings.iter().rev() {
            if data.is_empty() {
                break;
            }
            let by_ratio = (data.len() as u64).saturating_mul(self.max_ratio);
            let limit =
                (self.max_decompressed as u64).min(by_ratio.max(self.ratio_free as u64)) as usize;
            let d: Decoded = body::decompress_partial(c, &data, limit);
            if d.truncated {
                m.body_truncated = true;
                m.decode_error = Some("decoded size limit reached");
            }
            if let Some(e) = d.error {
                m.decode_error = Some(match e {
                    ProtoError::Decompress { what, .. } => what,
                    _ => "decode failed",
                });
                if d.data.is_empty() {
                    // Nothing decoded: keep the encoded bytes, which may still be readable.
                    break;
                }
                data = d.data;
                break;
            }
            data = d.data;
        }
        m.body = data;
        m
    }
}

/// One direction of an HTTP/1.x connection.
#[derive(Debug)]
pub struct Parser {
    kind: Kind,
    limits: Limits,
    state: State,
    /// Head bytes being accumulated.
    buf: Vec<u8>,
    /// Chunk-size or trailer line being accumulated.
    line: Vec<u8>,
    /// Bytes of trailer section so far.
    trailer_bytes: usize,
    pending: Option<Pending>,
    /// Methods of the requests whose responses are still to come (responses parser only).
    methods: VecDeque<String>,
    /// Stream offset of the next byte.
    offset: u64,
    errors: u32,
    /// While resyncing: the start of a line seen so far, too short to judge.
    resync_tail: Option<Vec<u8>>,
    /// Whole messages for [`Parser::push`] and friends (unused by the [`Sink`] interface).
    collect: Collector,
}

/// Bytes kept while judging whether a line starts a message.
const RESYNC_PROBE: usize = 16;

impl Parser {
    /// A parser for the client-to-server direction.
    pub fn requests() -> Self {
        Self::new(Kind::Requests, Limits::default())
    }
    /// A parser for the server-to-client direction.
    pub fn responses() -> Self {
        Self::new(Kind::Responses, Limits::default())
    }
    /// A request parser with custom limits.
    pub fn requests_with_limits(limits: Limits) -> Self {
        Self::new(Kind::Requests, limits)
    }
    /// A response parser with custom limits.
    pub fn responses_with_limits(limits: Limits) -> Self {
        Self::new(Kind::Responses, limits)
    }
    /// `self` with other limits (use before the first push).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.collect = Collector::for_limits(&limits);
        self.limits = limits;
        self
    }

    fn new(kind: Kind, limits: Limits) -> Self {
        Parser {
            kind,
            collect: Collector::for_limits(&limits),
            limits,
            state: State::Head,
            buf: Vec::new(),
            line: Vec::new(),
            trailer_bytes: 0,
            pending: None,
            methods: VecDeque::new(),
            offset: 0,
            errors: 0,
            resync_tail: None,
        }
    }

    /// Tell a response parser the method of the next request on the connection (in order), so
    /// that responses to HEAD (and CONNECT) are framed right. Ignored by request parsers.
    pub fn expect_response_to(&mut self, method: &str) {
        if self.kind == Kind::Responses && self.methods.len() < self.limits.max_pending_requests {
            self.methods.push_back(method.to_string());
        }
    }

    /// The connection switched to another protocol (CONNECT tunnel, 101 Switching Protocols).
    pub fn is_tunnel(&self) -> bool {
        self.state == State::Tunnel
    }

    /// Feed in-order stream bytes; complete messages are appended to `out`. A parse error is
    /// returned after the rest of `data` was processed (the parser resyncs on the next message
    /// start); after too many errors the stream is abandoned and later data ignored.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Message>) -> Result<(), ProtoError> {
        let mut c = std::mem::take(&mut self.collect);
        out.append(&mut c.ready);
        let r = self.push_to(data, &mut c);
        out.append(&mut c.ready);
        self.collect = c;
        r
    }

    /// [`Parser::push`] for a [`Sink`]: heads, body pieces and ends as they are parsed, with no
    /// body kept.
    pub fn push_to(&mut self, mut data: &[u8], sink: &mut dyn Sink) -> Result<(), ProtoError> {
        let mut first_err = None;
        while !data.is_empty() {
            let r = match self.state {
                State::Dead | State::Tunnel => {
                    self.offset += data.len() as u64;
                    break;
                }
                State::Head => self.head(data, sink),
                State::Length(rem) => Ok(self.length_body(data, rem, sink)),
                State::Chunked(c) => self.chunked(data, c, sink),
                State::UntilClose => {
                    self.body_bytes(data, sink);
                    Ok(data.len())
                }
                State::Resync => Ok(self.resync(data)),
            };
            match r {
                Ok(n) => {
                    self.offset += n as u64;
                    data = &data[n..];
                }
                Err((n, e)) => {
                    self.offset += n as u64;
                    data = &data[n..];
                    let e = self.fail(e, sink);
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Record an error: deliver what was parsed of the current message, then resync, or
    /// abandon the stream after too many errors.
    fn fail(&mut self, e: ProtoError, sink: &mut dyn Sink) -> ProtoError {
        if let Some(mut p) = self.pending.take() {
            p.truncated = true;
            sink.end(p.end());
        }
        self.buf.clear();
        self.line.clear();
        self.errors += 1;
        if self.errors > self.limits.max_errors {
            self.state = State::Dead;
            return ProtoError::Abandoned {
                at: self.offset,
                what: "too many HTTP parse errors",
            };
        }
        self.state = State::Resync;
        self.resync_tail = None;
        e
    }

    /// Bytes of this direction were lost (`missing` of them). A gap inside a body of known
    /// length keeps the framing; otherwise the parser resyncs on the next message start.
    /// Messages it completes are delivered by the next call.
    pub fn gap(&mut self, missing: u64) {
        let mut c = std::mem::take(&mut self.collect);
        self.gap_to(missing, &mut c);
        self.collect = c;
    }

    /// [`Parser::gap`] for a [`Sink`].
    pub fn gap_to(&mut self, missing: u64, sink: &mut dyn Sink) {
        match self.state {
            State::Length(rem) if missing < rem => {
                if let Some(p) = &mut self.pending {
                    p.wire_len = p.wire_len.saturating_add(missing);
                    p.lost = p.lost.saturating_add(missing);
                    p.truncated = true;
                }
                self.state = State::Length(rem - missing);
            }
            State::Length(rem) => {
                if let Some(mut p) = self.pending.take() {
                    p.wire_len = p.wire_len.saturating_add(rem);
                    p.lost = p.lost.saturating_add(rem);
                    p.truncated = true;
                    sink.end(p.end());
                }
                self.after_message();
                if missing > rem {
                    self.enter_resync();
                }
            }
            State::UntilClose => {
                if let Some(p) = &mut self.pending {
                    p.wire_len = p.wire_len.saturating_add(missing);
                    p.lost = p.lost.saturating_add(missing);
                    p.truncated = true;
                }
            }
            State::Chunked(_) => {
                if let Some(mut p) = self.pending.take() {
                    p.truncated = true;
                    // How much of the body was lost is not known: at least the gap.
                    p.lost = p.lost.saturating_add(missing);
                    sink.end(p.end());
                }
                self.enter_resync();
            }
            State::Head | State::Resync => self.enter_resync(),
            State::Tunnel | State::Dead => {}
        }
        self.offset = self.offset.saturating_add(missing);
    }

    fn enter_resync(&mut self) {
        self.buf.clear();
        self.line.clear();
        self.state = State::Resync;
        // The first byte after a gap may well start a message.
        self.resync_tail = Some(Vec::new());
    }

    /// The connection ended: deliver a read-until-close body, and partial bodies as truncated.
    pub fn finish(&mut self, out: &mut Vec<Message>) {
        let mut c = std::mem::take(&mut self.collect);
        out.append(&mut c.ready);
        self.finish_to(&mut c);
        out.append(&mut c.ready);
        self.collect = c;
    }

    /// [`Parser::finish`] for a [`Sink`].
    pub fn finish_to(&mut self, sink: &mut dyn Sink) {
        if let Some(mut p) = self.pending.take() {
            if self.state != State::UntilClose {
                p.truncated = true;
            }
            sink.end(p.end());
        }
        self.buf.clear();
        self.line.clear();
        self.state = State::Head;
    }

    /// Does `p` start a message of this direction? `None`: too short to tell.
    fn starts_message(&self, p: &[u8]) -> Option<bool> {
        match self.kind {
            Kind::Requests => starts_with_method(p),
            Kind::Responses => {
                const V: &[u8] = b"HTTP/1.";
                if p.len() >= V.len() {
                    Some(&p[..V.len()] == V)
                } else if V.starts_with(p) {
                    None
                } else {
                    Some(false)
                }
            }
        }
    }

    /// Skip to the next line that starts a message; returns bytes consumed.
    fn resync(&mut self, data: &[u8]) -> usize {
        if let Some(mut tail) = self.resync_tail.take() {
            let take = (RESYNC_PROBE - tail.len().min(RESYNC_PROBE)).min(data.len());
            tail.extend_from_slice(&data[..take]);
            match self.starts_message(&tail) {
                Some(true) => {
                    // The probe bytes before `data` start the head.
                    let before = tail.len() - take;
                    self.buf.clear();
                    self.buf.extend_from_slice(&tail[..before]);
                    self.state = State::Head;
                    return 0;
                }
                None if take == data.len() => {
                    self.resync_tail = Some(tail);
                    return data.len();
                }
                _ => {}
            }
        }
        let mut pos = 0;
        while let Some(i) = memchr::memchr(b'\n', &data[pos..]) {
            let s = pos + i + 1;
            match self.starts_message(&data[s..]) {
                Some(true) => {
                    self.state = State::Head;
                    self.buf.clear();
                    return s;
                }
                None => {
                    self.resync_tail = Some(data[s..].to_vec());
                    return data.len();
                }
                Some(false) => pos = s,
            }
        }
        data.len()
    }

    /// Find the end of the head in the buffered bytes plus `data`, copying only head bytes;
    /// parse the head once complete. Returns bytes of `data` consumed.
    fn head(&mut self, data: &[u8], sink: &mut dyn Sink) -> Result<usize, (usize, ProtoError)> {
        let mut skipped = 0;
        if self.buf.is_empty() {
            // Empty lines before a message are tolerated (RFC 9112 §2.2).
            skipped = data
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            if skipped == data.len() {
                return Ok(skipped);
            }
        }
        let data = &data[skipped..];
        let prev = self.buf.len();
        let max = self.limits.max_header_bytes;
        let too_large = |len: usize, at: u64| ProtoError::TooLarge {
            at,
            what: "HTTP header section",
            len: len as u64,
            max: max as u64,
        };
        let msg_offset = (self.offset + skipped as u64).saturating_sub(prev as u64);
        // (end of the head, bytes of `data` consumed through the blank line, head in `buf`)
        let mut found = None;
        if prev > 0 {
            // A terminator straddling the buffered bytes and `data` (at most 2 bytes each side).
            let n = data.len().min(2);
            self.buf.extend_from_slice(&data[..n]);
            if let Some((he, bs)) = find_blank_line(&self.buf, prev.saturating_sub(2))
                && bs > prev
            {
                // The head is the buffered bytes (plus at most one from `data`) before `he`.
                found = Some((he, bs - prev, true));
                self.buf.truncate(he);
            } else {
                self.buf.truncate(prev);
            }
        }
        if found.is_none()
            && let Some((he, bs)) = find_blank_line(data, 0)
        {
            found = Some((he, bs, false));
        }
        let Some((he, consumed, straddled)) = found else {
            let room = (max + 4).saturating_sub(prev);
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            if self.buf.len() > max {
                return Err((skipped + take, too_large(self.buf.len(), self.offset)));
            }
            return Ok(skipped + take);
        };
        let consumed = skipped + consumed;
        let parsed = if prev == 0 {
            if he > max {
                return Err((consumed, too_large(he, msg_offset)));
            }
            parse_head(
                &data[..he],
                msg_offset,
                self.kind == Kind::Requests,
                self.limits.max_headers,
            )
        } else {
            if !straddled {
                if prev + he > max {
                    self.buf.clear();
                    return Err((consumed, too_large(prev + he, msg_offset)));
                }
                self.buf.extend_from_slice(&data[..he]);
            }
            let head = std::mem::take(&mut self.buf);
            let r = parse_head(
                &head,
                msg_offset,
                self.kind == Kind::Requests,
                self.limits.max_headers,
            );
            self.buf = head;
            r
        };
        self.buf.clear();
        match parsed {
            Ok(h) => {
                self.start_body(h, sink);
                Ok(consumed)
            }
            Err(e) => Err((consumed, e)),
        }
    }

    /// Decide the body framing of a parsed head (RFC 9112 §6.3).
    fn start_body(&mut self, mut h: Head, sink: &mut dyn Sink) {
        let chunked = h.transfer_codings.iter().any(|c| c == "chunked");
        h.transfer_codings
            .retain(|c| c != "chunked" && c != "identity");
        let length = content_length(&h.headers);
        let mut no_body = false;
        let mut then_tunnel = false;
        match &h.start {
            StartLine::Request { method, .. } => {
                if method.eq_ignore_ascii_case("CONNECT") {
                    then_tunnel = true;
                }
                no_body = !chunked && length.is_none();
            }
            StartLine::Response { status, .. } => {
                let status = *status;
                if (100..200).contains(&status) && status != 101 {
                    // Interim response: the final one is still to come for the same request.
                    sink.head(h);
                    sink.end(End::default());
                    return;
                }
                let method = self.methods.pop_front().unwrap_or_default();
                if status == 101
                    || (method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status))
                {
                    then_tunnel = true;
                    no_body = true;
                }
                if method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
                    no_body = true;
                }
            }
        }
        let p = Pending {
            wire_len: 0,
            lost: 0,
            truncated: false,
            head_fields: h.headers.len(),
            trailers: Vec::new(),
            then_tunnel,
        };
        sink.head(h);
        self.state = if no_body {
            State::Length(0)
        } else if chunked {
            self.line.clear();
            State::Chunked(Chunk::Size)
        } else if let Some(n) = length {
            State::Length(n)
        } else {
            State::UntilClose
        };
        if self.state == State::Length(0) {
            sink.end(p.end());
            self.state = if then_tunnel {
                State::Tunnel
            } else {
                State::Head
            };
            return;
        }
        self.pending = Some(p);
    }

    /// Hand body bytes to the sink; count them.
    fn body_bytes(&mut self, b: &[u8], sink: &mut dyn Sink) {
        if let Some(p) = &mut self.pending {
            p.wire_len = p.wire_len.saturating_add(b.len() as u64);
            sink.body(b);
        }
    }

    fn length_body(&mut self, data: &[u8], rem: u64, sink: &mut dyn Sink) -> usize {
        let take = rem.min(data.len() as u64) as usize;
        self.body_bytes(&data[..take], sink);
        let rem = rem - take as u64;
        if rem == 0 {
            self.complete(sink);
        } else {
            self.state = State::Length(rem);
        }
        take
    }

    fn complete(&mut self, sink: &mut dyn Sink) {
        if let Some(p) = self.pending.take() {
            let tunnel = p.then_tunnel;
            sink.end(p.end());
            self.after_message();
            if tunnel {
                self.state = State::Tunnel;
            }
        } else {
            self.after_message();
        }
    }

    fn after_message(&mut self) {
        self.state = State::Head;
        self.buf.clear();
        self.line.clear();
    }
}
