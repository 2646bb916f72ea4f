//! TCP stream reassembly, one [`Half`] per direction.
//!
//! In-order data is handed to the sink straight from the captured packet; only segments that
//! arrive ahead of a hole are copied into a bounded buffer. Overlaps keep the bytes seen first.

use std::collections::VecDeque;

use crate::ip::{TCP_FIN, TCP_RST, TCP_SYN};
use crate::{Core, Direction, FlowId, FlowSink, FlowStats, PacketMeta};

/// A TCP sequence number. Arithmetic wraps modulo 2^32; comparisons are only meaningful between
/// numbers less than 2^31 apart (RFC 1982 serial number arithmetic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// `self + n`, wrapping.
    #[must_use]
    pub const fn add(self, n: u32) -> Self {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// Signed distance `self - other`.
    #[must_use]
    pub const fn diff(self, other: Self) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Whether `self` comes strictly before `other`.
    #[must_use]
    pub const fn is_before(self, other: Self) -> bool {
        self.diff(other) < 0
    }
}

/// Segments further ahead than this of the next expected byte are not from this connection
/// (the largest possible TCP window is 2^30).
const MAX_SEQ_AHEAD: i64 = 1 << 30;

/// Where reassembly results go, plus the counters they update.
pub(crate) struct Out<'a> {
    pub id: FlowId,
    pub meta: &'a PacketMeta,
    pub sink: &'a mut dyn FlowSink,
    pub fstats: &'a mut FlowStats,
    pub core: &'a mut Core,
}

impl Out<'_> {
    fn data(&mut self, dir: Direction, d: &[u8]) {
        if !d.is_empty() {
            self.core.stats.tcp_delivered_bytes += d.len() as u64;
            self.sink.stream_data(self.id, dir, d, self.meta);
        }
    }

    fn gap(&mut self, dir: Direction, n: u64) {
        if n == 0 {
            return;
        }
        self.fstats.gaps += 1;
        self.fstats.gap_bytes += n;
        self.core.stats.tcp_gaps += 1;
        self.core.stats.tcp_gap_bytes += n;
        self.sink.stream_gap(self.id, dir, n, self.meta);
    }
}

/// A buffered out-of-order piece of the stream.
struct Seg {
    seq: SeqNumber,
    data: Vec<u8>,
}

/// One direction of a connection.
#[derive(Default)]
pub(crate) struct Half {
    /// Next byte to deliver; unknown until the first SYN or data segment of this direction.
    next: Option<SeqNumber>,
    /// Sequence number of the FIN.
    fin: Option<SeqNumber>,
    /// Everything up to the FIN was delivered.
    done: bool,
    /// Out-of-order data after `next`: sorted, non-overlapping.
    segs: VecDeque<Seg>,
    bytes: usize,
}

/// A segment as the reassembler needs it.
pub(crate) struct Segment<'a> {
    pub seq: u32,
    pub flags: u8,
    pub payload: &'a [u8],
    /// Payload length on the wire (more than `payload.len()` if the capture was cut short).
    pub claimed: usize,
}

/// Whether a connection is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Open,
    Close,
}

/// Both directions of a connection.
#[derive(Default)]
pub(crate) struct Conn {
    half: [Half; 2],
}

impl Conn {
    /// Feed one segment travelling in `dir`.
    pub fn segment(&mut self, dir: Direction, s: &Segment<'_>, out: &mut Out<'_>) -> Verdict {
        let syn = s.flags & TCP_SYN != 0;
        let seq = SeqNumber(s.seq);
        // The SYN occupies one sequence number; SYN data (TFO) follows it.
        let data_seq = if syn { seq.add(1) } else { seq };
        let claimed = u32::try_from(s.claimed).unwrap_or(u32::MAX);
        self.half[dir.index()].accept(dir, data_seq, s, claimed, out);
        if s.flags & TCP_RST != 0 {
            return Verdict::Close;
        }
        let [a, b] = &self.half;
        // Both FINs seen: whatever is still missing now will not come any more.
        if (a.done && b.done) || (a.fin.is_some() && b.fin.is_some()) {
            Verdict::Close
        } else {
            Verdict::Open
        }
    }

    /// Deliver everything still buffered, noting the holes as gaps.
    pub fn flush(&mut self, out: &mut Out<'_>) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            self.half[dir.index()].flush(dir, out);
        }
    }
}

impl Half {
    fn accept(
        &mut self,
        dir: Direction,
        data_seq: SeqNumber,
        s: &Segment<'_>,
        claimed: u32,
        out: &mut Out<'_>,
    ) {
        let fin = s.flags & TCP_FIN != 0;
        let syn = s.flags & TCP_SYN != 0;
        if self.done {
            if !s.payload.is_empty() {
                out.core.stats.tcp_after_fin_segments += 1;
            }
            return;
        }
        let next = match self.next {
            Some(n) => n,
            // Mid-stream pickup: the stream starts at the first segment seen. Pure ACKs (and
            // keep-alives, whose sequence number is one early) do not start it.
            None if syn || fin || !s.payload.is_empty() => {
                self.next = Some(data_seq);
                data_seq
            }
            None => return,
        };
        if fin && self.fin.is_none() {
            let f = data_seq.add(claimed);
            // A FIN before data already delivered, or absurdly far ahead, is bogus.
            if !f.is_before(next) && i64::from(f.diff(next)) <= MAX_SEQ_AHEAD {
                self.fin = Some(f);
            }
        }
        if !s.payload.is_empty() {
            self.data(dir, next, data_seq, s.payload, claimed, out);
        }
        self.check_fin();
    }

    fn data(
        &mut self,
        dir: Direction,
        next: SeqNumber,
        seq: SeqNumber,
        payload: &[u8],
        claimed: u32,
        out: &mut Out<'_>,
    ) {
        let off = i64::from(seq.diff(next));
        let len = payload.len() as i64;
        if off + len <= 0 {
            out.core.stats.tcp_retransmitted_segments += 1;
            return;
        }
        if off > 0 {
            if off > MAX_SEQ_AHEAD {
                out.core.stats.tcp_out_of_window_segments += 1;
                return;
            }
            out.core.stats.tcp_out_of_order_segments += 1;
            self.insert(next, seq, payload, out);
            self.enforce_limits(dir, out);
            return;
        }
        // In order (possibly overlapping what was already delivered: skip that part).
        let rest = payload.get((-off) as usize..).unwrap_or_default();
        // Up to the first buffered segment only: its bytes were seen first and win.
        let now = match self.segs.front() {
            Some(f) => rest.len().min(f.seq.diff(next).max(0) as usize),
            None => rest.len(),
        };
        let (now, later) = rest.split_at(now);
        out.data(dir, now);
        let next = next.add(now.len() as u32);
        self.next = Some(next);
        if !later.is_empty() {
            self.insert(next, next, later, out);
        }
        self.drain(dir, out);
        // A segment cut short by the capture: its missing tail is a gap, known right away.
        let cap_end = seq.add(payload.len() as u32);
        let claimed_end = seq.add(claimed);
        if claimed as usize > payload.len() && self.next == Some(cap_end) {
            let to = match self.segs.front() {
                Some(f) if f.seq.is_before(claimed_end) => f.seq,
                _ => claimed_end,
            };
            out.gap(dir, to.diff(cap_end).max(0) as u64);
            self.next = Some(to);
            self.drain(dir, out);
        }
    }

    /// Buffer the parts of `[seq, seq + data.len())` not already buffered.
    fn insert(&mut self, next: SeqNumber, seq: SeqNumber, data: &[u8], out: &mut Out<'_>) {
        // Offsets relative to `next`: everything buffered is ahead of it, within MAX_SEQ_AHEAD.
        let rel = |s: SeqNumber| u64::from(s.0.wrapping_sub(next.0));
        let start = rel(seq);
        let end = start + data.len() as u64;
        let mut pos = start;
        let mut i = self
            .segs
            .partition_point(|g| rel(g.seq) + g.data.len() as u64 <= pos);
        while pos < end {
            let piece_end = match self.segs.get(i) {
                Some(g) => {
                    let gs = rel(g.seq);
                    if gs <= pos {
                        pos = pos.max(gs + g.data.len() as u64);
                        i += 1;
                        continue;
                    }
                    end.min(gs)
                }
                None => end,
            };
            let piece = data
                .get((pos - start) as usize..(piece_end - start) as usize)
                .unwrap_or_default();
            self.bytes += piece.len();
            out.core.ooo_bytes += piece.len();
            self.segs.insert(
                i,
                Seg {
                    seq: next.add(pos as u32),
                    data: piece.to_vec(),
                },
            );
            i += 1;
            pos = piece_end;
        }
    }

    /// Deliver buffered segments that now continue the stream.
    fn drain(&mut self, dir: Direction, out: &mut Out<'_>) {
        let Some(mut next) = self.next else { return };
        while let Some(f) = self.segs.front() {
            let d = f.seq.diff(next);
            if d > 0 {
                break;
            }
            let Some(f) = self.segs.pop_front() else {
                break;
            };
            self.bytes -= f.data.len();
            out.core.ooo_bytes -= f.data.len();
            if let Some(rest) = f.data.get(d.unsigned_abs() as usize..) {
                out.data(dir, rest);
                next = next.add(rest.len() as u32);
            }
        }
        self.next = Some(next);
        self.check_fin();
    }

    /// Give up on the first hole: report it as a gap and continue after it.
    fn skip_hole(&mut self, dir: Direction, out: &mut Out<'_>) {
        let Some(f) = self.segs.front() else { return };
        let to = f.seq;
        let next = self.next.unwrap_or(to);
        out.gap(dir, to.diff(next).max(0) as u64);
        self.next = Some(to);
        self.drain(dir, out);
    }

    fn enforce_limits(&mut self, dir: Direction, out: &mut Out<'_>) {
        loop {
            let l = &out.core.limits;
            let over = self.segs.len() > l.max_ooo_segments_per_direction
                || self.bytes > l.max_ooo_bytes_per_direction
                || out.core.ooo_bytes > l.max_ooo_bytes_total;
            if !over || self.segs.is_empty() {
                return;
            }
            out.core.stats.tcp_buffer_overflows += 1;
            self.skip_hole(dir, out);
        }
    }

    fn flush(&mut self, dir: Direction, out: &mut Out<'_>) {
        while !self.segs.is_empty() {
            self.skip_hole(dir, out);
        }
        // Data announced by a FIN we never saw.
        if let (Some(next), Some(fin), false) = (self.next, self.fin, self.done) {
            out.gap(dir, fin.diff(next).max(0) as u64);
            self.next = Some(fin);
        }
        self.done = true;
    }

    fn check_fin(&mut self) {
        if let (Some(next), Some(fin)) = (self.next, self.fin)
            && !next.is_before(fin)
        {
            self.done = true;
        }
    }
}
