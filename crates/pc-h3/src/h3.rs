//! HTTP/3 over reassembled QUIC streams (RFC 9114): stream types, frames, messages; plus the
//! raw mode used for other ALPNs.

use crate::qpack::{self, Field};
use crate::reasm::Piece;
use crate::{Event, H3Error, H3Message, Limits};
use std::collections::BTreeMap;

const FRAME_DATA: u64 = 0x00;
const FRAME_HEADERS: u64 = 0x01;
const FRAME_SETTINGS: u64 = 0x04;
const SETTINGS_QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;

const STREAM_CONTROL: u64 = 0x00;
const STREAM_PUSH: u64 = 0x01;
const STREAM_ENCODER: u64 = 0x02;

/// Incrementally read QUIC variable-length integer.
#[derive(Default)]
struct VarintBuf {
    b: [u8; 8],
    n: usize,
}

impl VarintBuf {
    /// Consume bytes from `data` until the integer is complete.
    fn feed(&mut self, data: &mut &[u8]) -> Option<u64> {
        loop {
            let need = 1usize << (self.b[0] >> 6);
            if self.n > 0 && self.n >= need {
                let mut v = u64::from(self.b[0] & 0x3f);
                for &x in self.b.get(1..need).unwrap_or_default() {
                    v = (v << 8) | u64::from(x);
                }
                *self = VarintBuf::default();
                return Some(v);
            }
            let (&first, rest) = data.split_first()?;
            *self.b.get_mut(self.n)? = first;
            self.n += 1;
            *data = rest;
        }
    }
}

/// A varint at the start of `b`: value and length.
pub(crate) fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let mut v = u64::from(first & 0x3f);
    for &x in b.get(1..len)? {
        v = (v << 8) | u64::from(x);
    }
    Some((v, len))
}

/// What a frame parser hands on.
enum FrameEv<'a> {
    /// A chunk of a DATA frame's payload.
    Data(&'a [u8]),
    /// A complete non-DATA frame.
    Frame { ty: u64, payload: &'a [u8] },
    /// A non-DATA frame too large to buffer; skipped.
    Oversized,
}

/// The frame in progress.
struct InFrame {
    ty: u64,
    remaining: u64,
    /// Buffered payload; `None` for DATA (streamed) and skipped frames.
    buf: Option<Vec<u8>>,
}

/// Incremental HTTP/3 frame parser for one stream direction.
#[derive(Default)]
struct Frames {
    ty: Option<u64>,
    vi: VarintBuf,
    cur: Option<InFrame>,
    /// Lost sync (gap in the middle of a frame header or non-DATA frame).
    broken: bool,
}

impl Frames {
    fn push(&mut self, mut data: &[u8], max_frame: usize, f: &mut dyn FnMut(FrameEv<'_>)) {
        while !data.is_empty() && !self.broken {
            let Some(cur) = &mut self.cur else {
                let Some(v) = self.vi.feed(&mut data) else {
                    return;
                };
                match self.ty {
                    None => self.ty = Some(v),
                    Some(ty) => {
                        self.ty = None;
                        let buf = if ty == FRAME_DATA {
                            None
                        } else if v > max_frame as u64 {
                            f(FrameEv::Oversized);
                            None
                        } else {
                            // Grown as bytes arrive: a declared length costs nothing.
                            Some(Vec::new())
                        };
                        self.cur = Some(InFrame {
                            ty,
                            remaining: v,
                            buf,
                        });
                        self.complete_empty(f);
                    }
                }
                continue;
            };
            let take = usize::try_from(cur.remaining)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let (chunk, rest) = data.split_at(take);
            data = rest;
            cur.remaining -= take as u64;
            if cur.ty == FRAME_DATA {
                f(FrameEv::Data(chunk));
            } else if let Some(b) = &mut cur.buf {
                if b.len().saturating_add(chunk.len()) > max_frame {
                    // Over the budget: skip the rest of this frame.
                    cur.buf = None;
                    f(FrameEv::Oversized);
                } else {
                    b.extend_from_slice(chunk);
                }
            }
            self.complete_empty(f);
        }
    }

    /// Bytes held for the frame in progress.
    fn buffered(&self) -> usize {
        self.cur
            .as_ref()
            .and_then(|c| c.buf.as_ref())
            .map_or(0, Vec::len)
    }

    /// Hand on the current frame once all its payload is in.
    fn complete_empty(&mut self, f: &mut dyn FnMut(FrameEv<'_>)) {
        if self.cur.as_ref().is_some_and(|c| c.remaining == 0)
            && let Some(c) = self.cur.take()
            && let Some(b) = c.buf
        {
            f(FrameEv::Frame {
                ty: c.ty,
                payload: &b,
            });
        }
    }

    /// `n` bytes were lost. Returns true if only DATA payload was lost (parsing continues).
    fn gap(&mut self, n: u64) -> bool {
        match &mut self.cur {
            Some(c) if c.buf.is_none() && c.remaining >= n && self.ty.is_none() => {
                c.remaining -= n;
                if c.remaining == 0 {
                    self.cur = None;
                }
                true
            }
            _ => {
                self.broken = true;
                false
            }
        }
    }
}

/// One HTTP message being collected.
struct Msg {
    frames: Frames,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    body_truncated: bool,
    /// Field sections waiting in the QPACK decoder.
    blocked: u32,
    fin: bool,
    /// Some bytes were lost or a field section failed to decode.
    damaged: bool,
    /// Bytes of `headers` (names + values).
    header_bytes: usize,
}

impl Msg {
    fn new() -> Self {
        Msg {
            frames: Frames::default(),
            headers: Vec::new(),
            body: Vec::new(),
            body_truncated: false,
            blocked: 0,
            fin: false,
            damaged: false,
            header_bytes: 0,
        }
    }

    /// Bytes this message holds.
    fn held(&self) -> usize {
        self.body.len() + self.header_bytes + self.frames.buffered()
    }

    fn into_event(self, stream_id: u64, request: bool) -> Event {
        let m = H3Message {
            stream_id,
            headers: self.headers,
            body: self.body,
            body_truncated: self.body_truncated,
            complete: self.fin && !self.damaged,
        };
        if request {
            Event::Request(m)
        } else {
            Event::Response(m)
        }
    }
}

/// Append decoded fields unless they exceed `room` bytes (then the message is damaged).
fn add_fields(
    headers: &mut Vec<(String, Vec<u8>)>,
    header_bytes: &mut usize,
    damaged: &mut bool,
    room: usize,
    fields: Vec<Field>,
) {
    let size: usize = fields.iter().map(|(n, v)| n.len() + v.len()).sum();
    if size > room {
        *damaged = true;
        return;
    }
    *header_bytes += size;
    for (n, v) in fields {
        headers.push((String::from_utf8_lossy(&n).into_owned(), v));
    }
}

impl Kind {
    /// Bytes held by this stream's state.
    fn held(&self) -> usize {
        match self {
            Kind::Msg(m) => m.held(),
            Kind::Control(f) => f.buffered(),
            _ => 0,
        }
    }
}

/// What a stream direction carries.
enum Kind {
    /// Request (client bidi, to server), response (client bidi, to client) or push.
    Msg(Box<Msg>),
    /// Unidirectional stream whose type is not read yet.
    UniType(VarintBuf),
    /// Push stream: the push id comes next.
    PushId(VarintBuf),
    Control(Frames),
    Encoder,
    /// QPACK decoder streams, server-initiated bidi streams, unknown types.
    Skip,
}

/// HTTP/3 state of one connection.
pub(crate) struct H3 {
    /// `dec[d]` decodes field sections sent in direction `d` (0: client to server), and is fed
    /// by the encoder stream sent in that direction.
    dec: [qpack::Decoder; 2],
    streams: BTreeMap<(u64, usize), Kind>,
    max_body: usize,
    max_frame: usize,
    /// Bytes held by all streams' states (bodies, headers, partial frames).
    held: usize,
    max_held: usize,
    /// Field sections that failed to decode.
    pub(crate) qpack_errors: u64,
}

impl H3 {
    pub(crate) fn new(lim: &Limits) -> Self {
        H3 {
            dec: [qpack::Decoder::new(0), qpack::Decoder::new(0)],
            streams: BTreeMap::new(),
            max_body: lim.max_body,
            max_frame: lim.max_frame,
            held: 0,
            max_held: lim.max_h3_buffered,
            qpack_errors: 0,
        }
    }

    fn kind_for(stream_id: u64, dir: usize) -> Kind {
        match (stream_id & 3, dir) {
            (0, _) => Kind::Msg(Box::new(Msg::new())),
            (2, 0) | (3, 1) => Kind::UniType(VarintBuf::default()),
            _ => Kind::Skip,
        }
    }

    /// Reassembled bytes (or a gap) of one stream direction.
    pub(crate) fn piece(&mut self, stream_id: u64, dir: usize, p: Piece<'_>, out: &mut Vec<Event>) {
        let dir = dir & 1;
        let key = (stream_id, dir);
        // Taken out of the map while it is worked on, so that the rest of `self` is free.
        let mut kind = self
            .streams
            .remove(&key)
            .unwrap_or_else(|| Self::kind_for(stream_id, dir));
        let old = kind.held();
        self.held = self.held.saturating_sub(old);
        let unblock = self.piece_in(&mut kind, stream_id, dir, p);
        self.held = self.held.saturating_add(kind.held());
        self.streams.insert(key, kind);
        if unblock {
            self.unblocked(dir, out);
        }
    }

    /// Work on one stream's state; true if the QPACK decoder of `dir` may have unblocked
    /// field sections.
    fn piece_in(&mut self, kind: &mut Kind, stream_id: u64, dir: usize, p: Piece<'_>) -> bool {
        let mut data = match p {
            Piece::Data(d) => d,
            Piece::Gap(n) => {
                match kind {
                    Kind::Msg(m) => {
                        m.damaged = true;
                        if m.frames.gap(n) {
                            m.body_truncated = true;
                        }
                    }
                    Kind::Control(f) => f.broken = true,
                    Kind::Encoder => {
                        // The dynamic table is lost for good.
                        self.dec[dir].abandon();
                        *kind = Kind::Skip;
                        return true;
                    }
                    _ => *kind = Kind::Skip,
                }
                return false;
            }
        };
        // Unidirectional stream preamble.
        loop {
            match kind {
                Kind::UniType(vb) => {
                    let Some(t) = vb.feed(&mut data) else {
                        return false;
                    };
                    *kind = match t {
                        STREAM_CONTROL => Kind::Control(Frames::default()),
                        STREAM_PUSH => Kind::PushId(VarintBuf::default()),
                        STREAM_ENCODER => Kind::Encoder,
                        _ => Kind::Skip,
                    };
                }
                Kind::PushId(vb) => {
                    if vb.feed(&mut data).is_none() {
                        return false;
                    }
                    *kind = Kind::Msg(Box::new(Msg::new()));
                }
                _ => break,
            }
        }
        // What this stream may still hold: its share of the connection budget.
        let avail = self.max_held.saturating_sub(self.held);
        match kind {
            Kind::Msg(m) => {
                let max_body = self.max_body;
                let dec = &mut self.dec[dir];
                let errors = &mut self.qpack_errors;
                let Msg {
                    frames,
                    headers,
                    body,
                    body_truncated,
                    blocked,
                    damaged,
                    header_bytes,
                    ..
                } = &mut **m;
                let max_frame = self
                    .max_frame
                    .min(avail.saturating_sub(body.len() + *header_bytes));
                frames.push(data, max_frame, &mut |ev| match ev {
                    FrameEv::Data(d) => {
                        let room = max_body
                            .saturating_sub(body.len())
                            .min(avail.saturating_sub(body.len() + *header_bytes));
                        if d.len() > room {
                            *body_truncated = true;
                        }
                        body.extend_from_slice(d.get(..room.min(d.len())).unwrap_or_default());
                    }
                    FrameEv::Frame {
                        ty: FRAME_HEADERS,
                        payload,
                    } => match dec.decode_field_section(stream_id, payload) {
                        Ok(f) => {
                            let room = avail.saturating_sub(body.len() + *header_bytes);
                            add_fields(headers, header_bytes, damaged, room, f);
                        }
                        Err(H3Error::Blocked { .. }) => *blocked += 1,
                        Err(_) => {
                            *errors += 1;
                            *damaged = true;
                        }
                    },
                    // PUSH_PROMISE and others carry nothing we keep.
                    FrameEv::Frame { .. } => {}
                    FrameEv::Oversized => *damaged = true,
                });
                false
            }
            Kind::Control(f) => {
                let other = &mut self.dec[1 - dir];
                f.push(data, self.max_frame.min(avail), &mut |ev| {
                    if let FrameEv::Frame {
                        ty: FRAME_SETTINGS,
                        payload,
                    } = ev
                    {
                        settings(payload, other);
                    }
                });
                false
            }
            Kind::Encoder => {
                if self.dec[dir].encoder_stream(data).is_err() {
                    *kind = Kind::Skip;
                }
                true
            }
            _ => false,
        }
    }

    /// Attach field sections the QPACK decoder of `dir` could finally decode.
    fn unblocked(&mut self, dir: usize, out: &mut Vec<Event>) {
        for (sid, r) in self.dec[dir].take_unblocked() {
            let done = match self.streams.get_mut(&(sid, dir)) {
                Some(Kind::Msg(m)) => {
                    m.blocked = m.blocked.saturating_sub(1);
                    match r {
                        Ok(f) => {
                            let room = self.max_held.saturating_sub(self.held);
                            let before = m.header_bytes;
                            add_fields(
                                &mut m.headers,
                                &mut m.header_bytes,
                                &mut m.damaged,
                                room,
                                f,
                            );
                            self.held += m.header_bytes - before;
                        }
                        Err(_) => {
                            self.qpack_errors += 1;
                            m.damaged = true;
                        }
                    }
                    m.fin && m.blocked == 0
                }
                _ => false,
            };
            if done {
                self.emit(sid, dir, out);
            }
        }
    }

    fn emit(&mut self, sid: u64, dir: usize, out: &mut Vec<Event>) {
        let Some(kind) = self.streams.remove(&(sid, dir)) else {
            return;
        };
        self.held = self.held.saturating_sub(kind.held());
        if let Kind::Msg(m) = kind
            && (!m.headers.is_empty() || !m.body.is_empty())
        {
            out.push(m.into_event(sid, dir == 0));
        }
    }

    /// The stream direction ended (FIN reached or reset).
    pub(crate) fn fin(&mut self, stream_id: u64, dir: usize, reset: bool, out: &mut Vec<Event>) {
        let dir = dir & 1;
        let ready = match self.streams.get_mut(&(stream_id, dir)) {
            Some(Kind::Msg(m)) => {
                m.fin = true;
                m.damaged |= reset;
                m.blocked == 0
            }
            Some(_) => {
                // Critical streams should not end; nothing to report either way.
                if let Some(k) = self.streams.remove(&(stream_id, dir)) {
                    self.held = self.held.saturating_sub(k.held());
                }
                false
            }
            None => false,
        };
        if ready {
            self.emit(stream_id, dir, out);
        }
    }

    /// End of capture: report every message collected so far.
    pub(crate) fn finish(&mut self, out: &mut Vec<Event>) {
        for dir in 0..2 {
            self.dec[dir].abandon_blocked();
            self.unblocked(dir, out);
        }
        let keys: Vec<(u64, usize)> = self.streams.keys().copied().collect();
        for (sid, dir) in keys {
            self.emit(sid, dir, out);
        }
        self.streams.clear();
        self.held = 0;
    }
}

/// Apply a SETTINGS frame's QPACK table capacity to the decoder it governs.
fn settings(mut p: &[u8], dec: &mut qpack::Decoder) {
    while let Some((id, n)) = varint(p) {
        p = p.get(n..).unwrap_or_default();
        let Some((v, n)) = varint(p) else { return };
        p = p.get(n..).unwrap_or_default();
        if id == SETTINGS_QPACK_MAX_TABLE_CAPACITY {
            dec.set_max_table_capacity(v);
        }
    }
}

/// Stream bytes for non-HTTP/3 ALPNs, handed on in chunks.
pub(crate) struct Raw {
    bufs: BTreeMap<(u64, usize), (Vec<u8>, u64)>,
    chunk: usize,
    max_stream: u64,
}

impl Raw {
    pub(crate) fn new(lim: &Limits) -> Self {
        Raw {
            bufs: BTreeMap::new(),
            chunk: lim.raw_chunk.max(1),
            max_stream: lim.max_raw_stream,
        }
    }

    pub(crate) fn piece(&mut self, stream_id: u64, dir: usize, p: Piece<'_>, out: &mut Vec<Event>) {
        let Piece::Data(d) = p else { return };
        let (buf, total) = self.bufs.entry((stream_id, dir)).or_default();
        let room = usize::try_from(self.max_stream.saturating_sub(*total)).unwrap_or(usize::MAX);
        let d = d.get(..room.min(d.len())).unwrap_or_default();
        *total += d.len() as u64;
        buf.extend_from_slice(d);
        if buf.len() >= self.chunk {
            out.push(Event::StreamData {
                stream_id,
                to_server: dir == 0,
                data: std::mem::take(buf),
            });
        }
    }

    pub(crate) fn fin(&mut self, stream_id: u64, dir: usize, out: &mut Vec<Event>) {
        if let Some((buf, _)) = self.bufs.remove(&(stream_id, dir))
            && !buf.is_empty()
        {
            out.push(Event::StreamData {
                stream_id,
                to_server: dir == 0,
                data: buf,
            });
        }
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<Event>) {
        let keys: Vec<(u64, usize)> = self.bufs.keys().copied().collect();
        for (sid, dir) in keys {
            self.fin(sid, dir, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_buf_across_chunks() {
        let mut vb = VarintBuf::default();
        let all = [0x80u8, 0x01, 0x02, 0x03, 0x25];
        let mut a: &[u8] = &all[..2];
        assert_eq!(vb.feed(&mut a), None);
        let mut b: &[u8] = &all[2..];
        assert_eq!(vb.feed(&mut b), Some(0x0001_0203));
        assert_eq!(b, &[0x25]);
        assert_eq!(vb.feed(&mut b), Some(0x25));
    }

    #[test]
    fn frames_split_anywhere() {
        // HEADERS(len 3) then DATA(len 4) then an unknown reserved frame.
        let bytes = [
            0x01, 0x03, 1, 2, 3, 0x00, 0x04, b'a', b'b', b'c', b'd', 0x21, 0x01, 9,
        ];
        for split in 0..bytes.len() {
            let mut fr = Frames::default();
            let mut seen = Vec::new();
            for part in [&bytes[..split], &bytes[split..]] {
                fr.push(part, 100, &mut |ev| match ev {
                    FrameEv::Data(d) => seen.push(format!("D{d:?}")),
                    FrameEv::Frame { ty, payload } => seen.push(format!("F{ty}{payload:?}")),
                    FrameEv::Oversized => seen.push("O".into()),
                });
            }
            let joined: String = seen.concat();
            assert!(joined.starts_with("F1[1, 2, 3]D"), "{split}: {joined}");
            assert!(joined.ends_with("F33[9]"), "{split}: {joined}");
        }
    }
}
