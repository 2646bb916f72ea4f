//! HTTP/2 connection state: per-direction framing and HPACK, per-stream message reassembly.

use crate::grpc::{self, GrpcMessage};
use crate::hpack;
use crate::websocket::{WsFrame, WsStream};
use crate::{H2Error, Limits};
use std::collections::BTreeMap;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const FRAME_HEADER: usize = 9;

// Frame types (RFC 9113 §6).
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;

// Flags.
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

const SETTINGS_HEADER_TABLE_SIZE: u16 = 1;

/// One HTTP/2 request or response (or a pushed request), complete or flushed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Stream identifier.
    pub stream_id: u32,
    /// A request (client to server, or a server-pushed request) rather than a response.
    pub to_server: bool,
    /// Header fields in order, pseudo-headers (:method :authority :path :scheme :status …)
    /// included. Names are lower-case on the wire; non-UTF-8 names are converted lossily.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Trailer fields (a HEADERS block after the body).
    pub trailers: Vec<(String, Vec<u8>)>,
    /// DATA payload reassembled, padding removed, content-encoding decoded when possible,
    /// at most [`Limits::max_body`] bytes.
    pub body: Vec<u8>,
    /// Body bytes were dropped (message, connection or decompression cap).
    pub body_truncated: bool,
    /// `body` was content-decoded (false: as sent, either no coding or decoding failed).
    pub body_decoded: bool,
    /// gRPC messages, when the content-type is application/grpc*.
    pub grpc: Vec<GrpcMessage>,
    /// WebSocket frames of an RFC 8441 extended CONNECT stream.
    pub websocket: Vec<WsFrame>,
    /// For a server-pushed request: the stream whose PUSH_PROMISE carried it.
    pub promised_by: Option<u32>,
    /// The message ended with END_STREAM (false: flushed by a reset, eviction, gap, error or
    /// [`Connection::finish`]).
    pub complete: bool,
}

impl Message {
    /// Value of the first header field with this (lower-case) name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        header(&self.headers, name)
    }

    /// `:method`.
    #[must_use]
    pub fn method(&self) -> Option<&[u8]> {
        self.header(":method")
    }

    /// `:authority`, or the `host` header when it is absent.
    #[must_use]
    pub fn authority(&self) -> Option<&[u8]> {
        self.header(":authority").or_else(|| self.header("host"))
    }

    /// `:path`.
    #[must_use]
    pub fn path(&self) -> Option<&[u8]> {
        self.header(":path")
    }

    /// `:status` as a number.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        std::str::from_utf8(self.header(":status")?)
            .ok()?
            .parse()
            .ok()
    }
}

fn header<'a>(h: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Something worth reporting that did not stop parsing (or that stopped one direction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A protocol violation; the frame was skipped.
    Violation {
        to_server: bool,
        at: u64,
        what: &'static str,
    },
    /// Too many open streams: this one (the oldest) was flushed and forgotten.
    StreamDropped { stream_id: u32 },
    /// A gap in the bytes: that direction is no longer parsed.
    Gap { to_server: bool },
    /// RST_STREAM.
    Reset {
        to_server: bool,
        stream_id: u32,
        error_code: u32,
    },
    /// GOAWAY.
    GoAway {
        to_server: bool,
        last_stream_id: u32,
        error_code: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The client preface must come first.
    Preface,
    /// The preface may come first (client side after an HTTP/1.1 upgrade).
    OptionalPreface,
    Frames,
    /// Stopped after an error or a gap.
    Dead,
}

/// A header block waiting for CONTINUATION frames.
#[derive(Debug)]
struct PendingBlock {
    stream_id: u32,
    /// PUSH_PROMISE: the promised stream.
    promised: Option<u32>,
    end_stream: bool,
    block: Vec<u8>,
    /// Stream offset of the first frame.
    at: u64,
}

/// One direction's parsing state.
#[derive(Debug)]
struct Dir {
    mode: Mode,
    /// A partial frame (or preface).
    buf: Vec<u8>,
    /// Stream offset of the first byte not yet consumed (`buf[0]` when `buf` is not empty).
    offset: u64,
    /// Decodes the header blocks this direction sends.
    hpack: hpack::Decoder,
    pending: Option<PendingBlock>,
}

impl Dir {
    fn new(mode: Mode, limits: &Limits) -> Self {
        let mut hpack = hpack::Decoder::new(hpack::DEFAULT_TABLE_SIZE);
        hpack.set_max_header_list_size(limits.max_header_list);
        Dir {
            mode,
            buf: Vec::new(),
            offset: 0,
            hpack,
            pending: None,
        }
    }
}

/// One direction of one stream.
#[derive(Debug, Default)]
struct Half {
    headers: Option<Vec<(String, Vec<u8>)>>,
    trailers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    truncated: bool,
    promised_by: Option<u32>,
    /// Emitted (or never to be emitted).
    done: bool,
    /// Bytes counted in [`Connection::buffered`] for this half (body and header lists).
    held: usize,
}

impl Half {
    fn started(&self) -> bool {
        self.headers.is_some() || !self.body.is_empty() || self.truncated
    }
}

#[derive(Debug)]
struct Stream {
    /// Creation order, for evicting the oldest.
    order: u64,
    /// [to_server, to_client].
    half: [Half; 2],
    /// RFC 8441 extended CONNECT for WebSocket.
    websocket: bool,
}

/// A parsed frame header.
#[derive(Clone, Copy)]
struct FrameHeader {
    len: usize,
    kind: u8,
    flags: u8,
    stream_id: u32,
}

fn frame_header(b: &[u8]) -> Option<FrameHeader> {
    let h = b.get(..FRAME_HEADER)?;
    Some(FrameHeader {
        len: usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]),
        kind: h[3],
        flags: h[4],
        stream_id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
    })
}

fn idx(to_server: bool) -> usize {
    if to_server { 0 } else { 1 }
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

/// An HTTP/2 connection seen from the side: both directions' framing and HPACK state and the
/// open streams.
#[derive(Debug)]
pub struct Connection {
    limits: Limits,
    dirs: [Dir; 2],
    streams: BTreeMap<u32, Stream>,
    /// Creation order → stream id, to find the oldest stream quickly.
    by_order: BTreeMap<u64, u32>,
    next_order: u64,
    /// Body and header bytes held by open streams.
    buffered: usize,
    events: Vec<Event>,
    events_dropped: u64,
}

impl Default for Connection {
    fn default() -> Self {
        Connection::new()
    }
}

impl Connection {
    /// A connection whose client side starts with the preface (prior knowledge, or TLS with
    /// ALPN h2).
    #[must_use]
    pub fn new() -> Self {
        Connection::with_limits(Limits::default())
    }

    /// After an HTTP/1.1 `Upgrade: h2c` exchange: the bytes fed are those after the request
    /// and after the 101 response. The client preface is accepted but not required, and the
    /// upgraded request is stream 1 (its request side was HTTP/1.1, so only the response is
    /// reported).
    #[must_use]
    pub fn after_upgrade() -> Self {
        Connection::after_upgrade_with_limits(Limits::default())
    }

    /// [`Connection::new`] with explicit limits.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        Connection {
            dirs: [
                Dir::new(Mode::Preface, &limits),
                Dir::new(Mode::Frames, &limits),
            ],
            limits,
            streams: BTreeMap::new(),
            by_order: BTreeMap::new(),
            next_order: 0,
            buffered: 0,
            events: Vec::new(),
            events_dropped: 0,
        }
    }

    /// [`Connection::after_upgrade`] with explicit limits.
    #[must_use]
    pub fn after_upgrade_with_limits(limits: Limits) -> Self {
        let mut c = Connection::with_limits(limits);
        c.dirs[0].mode = Mode::OptionalPreface;
        let mut s = Stream {
            order: 0,
            half: [Half::default(), Half::default()],
            websocket: false,
        };
        s.half[0].done = true;
        c.next_order = 1;
        c.streams.insert(1, s);
        c.by_order.insert(0, 1);
        c
    }

    /// Apply a SETTINGS payload the client sent in the `HTTP2-Settings` upgrade header
    /// (base64url-decoded by the caller).
    pub fn client_settings(&mut self, payload: &[u8]) -> Result<(), H2Error> {
        if !payload.len().is_multiple_of(6) {
            return Err(H2Error::Malformed {
                at: 0,
                what: "SETTINGS payload length not a multiple of 6",
            });
        }
        self.apply_settings(0, payload);
        Ok(())
    }

    /// Events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Events not kept because [`Limits::max_events`] was reached.
    #[must_use]
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// Streams currently tracked.
    #[must_use]
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Is this direction still parsed?
    #[must_use]
    pub fn is_active(&self, to_server: bool) -> bool {
        self.dirs[idx(to_server)].mode != Mode::Dead
    }

    /// Feed one direction's in-order bytes; completed messages (END_STREAM seen, or
    /// RST_STREAM) are pushed to `out`. An error stops that direction (its partial messages are
    /// flushed to `out`) and is returned once; later bytes for it are ignored.
    pub fn push(
        &mut self,
        to_server: bool,
        data: &[u8],
        out: &mut Vec<Message>,
    ) -> Result<(), H2Error> {
        let d = idx(to_server);
        let r = self.push_inner(d, data, out);
        if r.is_err() {
            self.kill(d, out);
        }
        r
    }

    /// Flush partial streams (both directions) to `out`, in stream order.
    pub fn finish(&mut self, out: &mut Vec<Message>) {
        for d in &mut self.dirs {
            d.pending = None;
            d.buf = Vec::new();
        }
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            for d in 0..2 {
                self.emit(id, d, false, out);
            }
        }
        self.streams.clear();
        self.by_order.clear();
        self.buffered = 0;
    }

    /// Bytes of this direction were lost: framing and HPACK state cannot be recovered, so the
    /// direction is no longer parsed. Its partial messages are flushed by [`Connection::finish`]
    /// (or a reset from the other side).
    pub fn gap(&mut self, to_server: bool) {
        let d = idx(to_server);
        if self.dirs[d].mode != Mode::Dead {
            self.event(Event::Gap { to_server });
            let dir = &mut self.dirs[d];
            dir.mode = Mode::Dead;
            dir.buf = Vec::new();
            dir.pending = None;
        }
    }

    fn kill(&mut self, d: usize, out: &mut Vec<Message>) {
        let dir = &mut self.dirs[d];
        dir.mode = Mode::Dead;
        dir.buf = Vec::new();
        dir.pending = None;
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            self.emit(id, d, false, out);
        }
    }

    fn event(&mut self, e: Event) {
        if self.events.len() < self.limits.max_events {
            self.events.push(e);
        } else {
            self.events_dropped += 1;
        }
    }

    fn violation(&mut self, d: usize, at: u64, what: &'static str) {
        self.event(Event::Violation {
            to_server: d == 0,
            at,
            what,
        });
    }

    fn push_inner(
        &mut self,
        d: usize,
        mut data: &[u8],
        out: &mut Vec<Message>,
    ) -> Result<(), H2Error> {
        match self.dirs[d].mode {
            Mode::Dead => return Ok(()),
            Mode::Preface | Mode::OptionalPreface => {
                let dir = &mut self.dirs[d];
                let take = (PREFACE.len() - dir.buf.len()).min(data.len());
                dir.buf.extend_from_slice(&data[..take]);
                let have = dir.buf.len();
                if dir.buf[..] == PREFACE[..have] {
                    data = &data[take..];
                    if have < PREFACE.len() {
                        return Ok(());
                    }
                    dir.buf.clear();
                    dir.offset += PREFACE.len() as u64;
                    dir.mode = Mode::Frames;
                } else if dir.mode == Mode::Preface {
                    return Err(H2Error::Malformed {
                        at: dir.offset,
                        what: "missing HTTP/2 connection preface",
                    });
                } else {
                    // No preface: those bytes are frames; replay them with the rest.
                    dir.mode = Mode::Frames;
                    let mut all = std::mem::take(&mut dir.buf);
                    all.extend_from_slice(&data[take..]);
                    return self.frames(d, &all, out);
                }
            }
            Mode::Frames => {}
        }
        self.frames(d, data, out)
    }

    /// Parse frames, completing a buffered partial frame first and buffering the tail.
    fn frames(&mut self, d: usize, mut data: &[u8], out: &mut Vec<Message>) -> Result<(), H2Error> {
        if !self.dirs[d].buf.is_empty() {
            // Append only what the pending frame needs, so a large frame arriving in many
            // segments is copied once.
            loop {
                let dir = &mut self.dirs[d];
                let need = match frame_header(&dir.buf) {
                    None => FRAME_HEADER,
                    Some(h) => {
                        self.check_len(d, h)?;
                        FRAME_HEADER + h.len
                    }
                };
                let dir = &mut self.dirs[d];
                let take = need.saturating_sub(dir.buf.len()).min(data.len());
                dir.buf.extend_from_slice(&data[..take]);
                data = &data[take..];
                if dir.buf.len() < need {
                    return Ok(());
                }
                if need > FRAME_HEADER || frame_header(&dir.buf).is_some_and(|h| h.len == 0) {
                    break;
                }
            }
            let buf = std::mem::take(&mut self.dirs[d].buf);
            let used = self.parse(d, &buf, out)?;
            debug_assert_eq!(used, buf.len());
            // Keep the allocation for the next partial frame.
            let mut buf = buf;
            buf.clear();
            self.dirs[d].buf = buf;
        }
        let used = self.parse(d, data, out)?;
        self.dirs[d].buf.extend_from_slice(&data[used..]);
        Ok(())
    }

    fn check_len(&self, d: usize, h: FrameHeader) -> Result<(), H2Error> {
        if h.len > self.limits.max_frame_size {
            return Err(H2Error::TooLarge {
                at: self.dirs[d].offset,
                what: "frame length",
                len: h.len as u64,
                max: self.limits.max_frame_size as u64,
            });
        }
        Ok(())
    }

    /// Handle every complete frame in `input`; returns the bytes consumed.
    fn parse(&mut self, d: usize, input: &[u8], out: &mut Vec<Message>) -> Result<usize, H2Error> {
        let mut pos = 0usize;
        while let Some(h) = frame_header(&input[pos..]) {
            self.check_len(d, h)?;
            let start = pos + FRAME_HEADER;
            let Some(payload) = input.get(start..start + h.len) else {
                break;
            };
            let at = self.dirs[d].offset;
            self.frame(d, h, payload, at, out)?;
            pos = start + h.len;
            self.dirs[d].offset += (FRAME_HEADER + h.len) as u64;
        }
        Ok(pos)
    }

    /// Handle one frame that starts at stream offset `at`.
    fn frame(
        &mut self,
        d: usize,
        h: FrameHeader,
        p: &[u8],
        at: u64,
        out: &mut Vec<Message>,
    ) -> Result<(), H2Error> {
        if self.dirs[d].pending.is_some() && h.kind != CONTINUATION {
            // Dropping the unfinished block would desynchronise HPACK.
            return Err(H2Error::Malformed {
                at,
                what: "header block not continued by CONTINUATION",
            });
        }
        match h.kind {
            DATA => self.data(d, h, p, at, out),
            HEADERS => {
                let (frag, _) = unpad(h, p, at)?;
                let frag = if h.flags & PRIORITY != 0 {
                    frag.get(5..).ok_or(H2Error::Malformed {
                        at,
                        what: "HEADERS priority fields beyond payload",
                    })?
                } else {
                    frag
                };
                if h.stream_id == 0 {
                    return Err(H2Error::Malformed {
                        at,
                        what: "HEADERS on stream 0",
                    });
                }
                self.block(d, h, None, frag, at, out)
            }
            PUSH_PROMISE => {
                let (frag, _) = unpad(h, p, at)?;
                let promised = be32(frag).ok_or(H2Error::Malformed {
                    at,
                    what: "PUSH_PROMISE without promised stream id",
                })? & 0x7fff_ffff;
                if h.stream_id == 0 || promised == 0 {
                    return Err(H2Error::Malformed {
                        at,
                        what: "PUSH_PROMISE on or for stream 0",
                    });
                }
                self.block(d, h, Some(promised), &frag[4..], at, out)
            }
            CONTINUATION => {
                let dir = &mut self.dirs[d];
                let Some(pending) = dir.pending.as_mut() else {
                    return Err(H2Error::Malformed {
                        at,
                        what: "CONTINUATION without a header block",
                    });
                };
                if pending.stream_id != h.stream_id {
                    return Err(H2Error::Malformed {
                        at,
                        what: "CONTINUATION on another stream",
                    });
                }
                let total = pending.block.len().saturating_add(p.len());
                if total > self.limits.max_header_list {
                    return Err(H2Error::TooLarge {
                        at,
                        what: "header block",
                        len: total as u64,
                        max: self.limits.max_header_list as u64,
                    });
                }
                pending.block.extend_from_slice(p);
                if h.flags & END_HEADERS != 0
                    && let Some(pb) = dir.pending.take()
                {
                    self.decode_block(d, pb, out)?;
                }
                Ok(())
            }
            RST_STREAM => {
                match be32(p) {
                    Some(code) if p.len() == 4 && h.stream_id != 0 => {
                        self.event(Event::Reset {
                            to_server: d == 0,
                            stream_id: h.stream_id,
                            error_code: code,
                        });
                        if self.streams.contains_key(&h.stream_id) {
                            for half in 0..2 {
                                self.emit(h.stream_id, half, false, out);
                            }
                            self.remove_if_done(h.stream_id);
                        }
                    }
                    _ => self.violation(d, at, "bad RST_STREAM"),
                }
                Ok(())
            }
            SETTINGS => {
                if h.stream_id != 0
                    || !p.len().is_multiple_of(6)
                    || (h.flags & ACK != 0 && !p.is_empty())
                {
                    self.violation(d, at, "bad SETTINGS");
                } else {
                    self.apply_settings(d, p);
                }
                Ok(())
            }
            GOAWAY => {
                match (be32(p), p.get(4..).and_then(be32)) {
                    (Some(last), Some(code)) if h.stream_id == 0 => self.event(Event::GoAway {
                        to_server: d == 0,
                        last_stream_id: last & 0x7fff_ffff,
                        error_code: code,
                    }),
                    _ => self.violation(d, at, "bad GOAWAY"),
                }
                Ok(())
            }
            // PRIORITY, PING, WINDOW_UPDATE carry nothing to search; unknown types (ALTSVC,
            // ORIGIN, extensions) must be ignored (§5.5).
            _ => Ok(()),
        }
    }

    /// SETTINGS sent by direction `d` bound the other direction's encoder.
    fn apply_settings(&mut self, d: usize, p: &[u8]) {
        for s in p.chunks_exact(6) {
            let id = u16::from_be_bytes([s[0], s[1]]);
            let value = u32::from_be_bytes([s[2], s[3], s[4], s[5]]) as usize;
            if id == SETTINGS_HEADER_TABLE_SIZE {
                let peer = &mut self.dirs[1 - d].hpack;
                // A new value applies once acknowledged, and we cannot order that against the
                // peer's header blocks, so the ceiling only grows (up to our cap).
                let v = value.min(self.limits.max_header_table_size);
                if v > peer.max_table_size() {
                    peer.set_max_table_size(v);
                }
            }
        }
    }

    /// Start (or complete) a header block from HEADERS or PUSH_PROMISE.
    fn block(
        &mut self,
        d: usize,
        h: FrameHeader,
        promised: Option<u32>,
        frag: &[u8],
        at: u64,
        out: &mut Vec<Message>,
    ) -> Result<(), H2Error> {
        if frag.len() > self.limits.max_header_list {
            return Err(H2Error::TooLarge {
                at,
                what: "header block",
                len: frag.len() as u64,
                max: self.limits.max_header_list as u64,
            });
        }
        let pb = PendingBlock {
            stream_id: h.stream_id,
            promised,
            end_stream: promised.is_none() && h.flags & END_STREAM != 0,
            block: frag.to_vec(),
            at,
        };
        if h.flags & END_HEADERS != 0 {
            self.decode_block(d, pb, out)
        } else {
            self.dirs[d].pending = Some(pb);
            Ok(())
        }
    }

    fn decode_block(
        &mut self,
        d: usize,
        pb: PendingBlock,
        out: &mut Vec<Message>,
    ) -> Result<(), H2Error> {
        let fields = self.dirs[d]
            .hpack
            .decode(&pb.block)
            .map_err(|e| e.shifted(pb.at))?;
        let fields: Vec<(String, Vec<u8>)> = fields
            .into_iter()
            .map(|(n, v)| (String::from_utf8_lossy(&n).into_owned(), v))
            .collect();
        if let Some(promised) = pb.promised {
            // The promised request is complete as it stands; the response follows on the
            // promised stream.
            let s = self.stream(promised, out);
            let half = &mut s.half[0];
            if half.done || half.started() {
                self.violation(d, pb.at, "PUSH_PROMISE for a used stream");
                return Ok(());
            }
            half.headers = Some(fields);
            half.promised_by = Some(pb.stream_id);
            self.emit(promised, 0, true, out);
            return Ok(());
        }
        let max_list = self.limits.max_header_list;
        let s = self.stream(pb.stream_id, out);
        if d == 0
            && header(&fields, ":method").is_some_and(|m| m == b"CONNECT")
            && header(&fields, ":protocol").is_some_and(|p| p.eq_ignore_ascii_case(b"websocket"))
        {
            s.websocket = true;
        }
        let half = &mut s.half[d];
        if half.done {
            self.violation(d, pb.at, "HEADERS after the end of the stream");
            return Ok(());
        }
        let size = list_size(&fields);
        half.held += size;
        match &half.headers {
            None => half.headers = Some(fields),
            // An interim (1xx) response is replaced by the final one.
            Some(prev)
                if header(prev, ":status").is_some_and(|s| s.first() == Some(&b'1'))
                    && half.body.is_empty() =>
            {
                half.headers = Some(fields);
            }
            Some(_) => {
                let room = max_list.saturating_sub(list_size(&half.trailers));
                if list_size(&fields) <= room {
                    half.trailers.extend(fields);
                }
            }
        }
        self.buffered += size;
        if pb.end_stream {
            self.emit(pb.stream_id, d, true, out);
        } else {
            self.enforce_budget(pb.stream_id, out);
        }
        Ok(())
    }

    /// Flush the oldest streams (but `keep`) while the connection holds more than
    /// [`Limits::max_buffered`] bytes.
    fn enforce_budget(&mut self, keep: u32, out: &mut Vec<Message>) {
        while self.buffered > self.limits.max_buffered {
            let Some(old) = self.by_order.values().copied().find(|&id| id != keep) else {
                return;
            };
            for half in 0..2 {
                self.emit(old, half, false, out);
            }
            self.remove_stream(old);
            self.event(Event::StreamDropped { stream_id: old });
        }
    }

    fn data(
        &mut self,
        d: usize,
        h: FrameHeader,
        p: &[u8],
        at: u64,
        out: &mut Vec<Message>,
    ) -> Result<(), H2Error> {
        if h.stream_id == 0 {
            self.violation(d, at, "DATA on stream 0");
            return Ok(());
        }
        let body = match unpad(h, p, at) {
            Ok((b, _)) => b,
            Err(_) => {
                self.violation(d, at, "DATA padding exceeds payload");
                return Ok(());
            }
        };
        let max_body = self.limits.max_body;
        let room_conn = self.limits.max_buffered.saturating_sub(self.buffered);
        let s = self.stream(h.stream_id, out);
        let half = &mut s.half[d];
        if half.done {
            self.violation(d, at, "DATA after the end of the stream");
            return Ok(());
        }
        let room = max_body.saturating_sub(half.body.len()).min(room_conn);
        let n = room.min(body.len());
        half.body.extend_from_slice(&body[..n]);
        half.truncated |= n < body.len();
        half.held += n;
        self.buffered += n;
        if h.flags & END_STREAM != 0 {
            self.emit(h.stream_id, d, true, out);
        }
        Ok(())
    }

    /// The stream, created if new; beyond [`Limits::max_streams`] the oldest is flushed.
    fn stream(&mut self, id: u32, out: &mut Vec<Message>) -> &mut Stream {
        if !self.streams.contains_key(&id)
            && self.streams.len() >= self.limits.max_streams.max(1)
            && let Some((_, &old)) = self.by_order.first_key_value()
        {
            for half in 0..2 {
                self.emit(old, half, false, out);
            }
            self.remove_stream(old);
            self.event(Event::StreamDropped { stream_id: old });
        }
        let next = &mut self.next_order;
        let by_order = &mut self.by_order;
        self.streams.entry(id).or_insert_with(|| {
            *next += 1;
            by_order.insert(*next, id);
            Stream {
                order: *next,
                half: [Half::default(), Half::default()],
                websocket: false,
            }
        })
    }

    fn remove_if_done(&mut self, id: u32) {
        if self
            .streams
            .get(&id)
            .is_some_and(|s| s.half.iter().all(|h| h.done))
        {
            self.remove_stream(id);
        }
    }

    fn remove_stream(&mut self, id: u32) {
        if let Some(s) = self.streams.remove(&id) {
            self.by_order.remove(&s.order);
        }
    }

    /// Emit one half of a stream (if it has content and was not emitted yet).
    fn emit(&mut self, id: u32, d: usize, complete: bool, out: &mut Vec<Message>) {
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        let websocket = s.websocket;
        let half = &mut s.half[d];
        if half.done {
            return;
        }
        half.done = true;
        let half = std::mem::take(half);
        // `take` reset the flag; keep the half marked as emitted.
        s.half[d].done = true;
        self.buffered = self.buffered.saturating_sub(half.held);
        if half.started() {
            out.push(self.build(id, d, half, complete, websocket));
        }
        if complete {
            self.remove_if_done(id);
        }
    }

    fn build(&self, id: u32, d: usize, half: Half, complete: bool, websocket: bool) -> Message {
        let headers = half.headers.unwrap_or_default();
        let mut m = Message {
            stream_id: id,
            to_server: d == 0,
            body_truncated: half.truncated,
            promised_by: half.promised_by,
            complete,
            ..Message::default()
        };
        let mut body = half.body;
        let lim = &self.limits;
        if websocket {
            let mut ws = WsStream::with_max_payload(lim.max_body);
            let mut frames = Vec::new();
            // A cut or broken stream keeps the frames before the problem.
            let _ = ws.push(&body, &mut frames);
            frames.truncate(lim.max_ws_frames);
            m.websocket = frames;
        } else if let Some(enc) = header(&headers, "content-encoding")
            && let Some((decoded, truncated)) = decode_codings(enc, &body, lim.max_body)
        {
            body = decoded;
            m.body_decoded = true;
            m.body_truncated |= truncated;
        }
        if header(&headers, "content-type").is_some_and(grpc::is_grpc) {
            let enc = header(&headers, "grpc-encoding").and_then(|e| std::str::from_utf8(e).ok());
            let (msgs, _) = grpc::split(
                &body,
                enc,
                lim.max_body,
                lim.max_grpc_messages,
                lim.protobuf_depth,
            );
            m.grpc = msgs;
        }
        m.headers = headers;
        m.trailers = half.trailers;
        m.body = body;
        m
    }
}

/// RFC 7541 size of a header list.
fn list_size(h: &[(String, Vec<u8>)]) -> usize {
    h.iter()
        .fold(0usize, |a, (n, v)| a.saturating_add(n.len() + v.len() + 32))
}

/// Undo content codings listed in `enc` (applied in order, so undone in reverse). `None` if
/// nothing could be decoded; otherwise the output and whether it was cut at `limit`.
fn decode_codings(enc: &[u8], body: &[u8], limit: usize) -> Option<(Vec<u8>, bool)> {
    let enc = std::str::from_utf8(enc).ok()?;
    let mut cur: Option<Vec<u8>> = None;
    let mut truncated = false;
    // Bounded: a header value has few commas worth honouring.
    for coding in enc.split(',').rev().take(4) {
        let name = pc_proto::body::coding_name(coding)?;
        if name == "identity" {
            continue;
        }
        let input = cur.as_deref().unwrap_or(body);
        let d = pc_proto::body::decompress_partial(name, input, limit);
        if d.data.is_empty() && d.error.is_some() {
            return None;
        }
        truncated |= d.truncated || d.error.is_some();
        cur = Some(d.data);
    }
    cur.map(|c| (c, truncated))
}

/// Strip PADDED framing: the payload without the pad length byte and the padding.
fn unpad(h: FrameHeader, p: &[u8], at: u64) -> Result<(&[u8], usize), H2Error> {
    if h.flags & PADDED == 0 {
        return Ok((p, 0));
    }
    let bad = H2Error::Malformed {
        at,
        what: "padding exceeds frame payload",
    };
    let (&pad, rest) = p.split_first().ok_or(bad.clone())?;
    let keep = rest.len().checked_sub(usize::from(pad)).ok_or(bad)?;
    Ok((&rest[..keep], usize::from(pad)))
}
