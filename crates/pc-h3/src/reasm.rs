//! Offset-based reassembly of one CRYPTO or STREAM byte stream, with bounded buffering.

use std::collections::BTreeMap;

/// Largest offset a QUIC stream can reach (RFC 9000 §19.8: 2^62 - 1).
const MAX_OFFSET: u64 = (1 << 62) - 1;

/// What a reassembler hands on, in stream order.
pub(crate) enum Piece<'a> {
    /// Contiguous bytes.
    Data(&'a [u8]),
    /// Bytes that will never arrive (buffer limit reached or end of capture).
    Gap(u64),
}

/// Bounds applied by [`Reasm::push`].
#[derive(Clone, Copy)]
pub(crate) struct ReasmLimits {
    /// Out-of-order bytes held for this stream.
    pub per_stream: usize,
    /// Data starting further than this beyond the delivered offset is dropped.
    pub max_ahead: u64,
}

/// One direction of one stream.
#[derive(Default)]
pub(crate) struct Reasm {
    /// Offset of the next byte to deliver.
    next: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
    fin_at: Option<u64>,
    /// Bytes declared missing.
    pub gap_bytes: u64,
    /// Frames dropped because their offset was out of reach.
    pub dropped: u64,
}

impl Reasm {
    /// Out-of-order bytes held.
    pub(crate) fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// Every byte up to the final size has been delivered.
    pub(crate) fn complete(&self) -> bool {
        self.fin_at.is_some_and(|f| self.next >= f)
    }

    /// Add a frame's data at `off`; `budget` is the connection-wide allowance for out-of-order
    /// bytes, debited and credited here. Contiguous data and gaps go to `emit` in order.
    pub(crate) fn push(
        &mut self,
        off: u64,
        data: &[u8],
        fin: bool,
        lim: ReasmLimits,
        budget: &mut usize,
        emit: &mut dyn FnMut(Piece<'_>),
    ) {
        let Some(end) = off
            .checked_add(data.len() as u64)
            .filter(|e| *e <= MAX_OFFSET)
        else {
            self.dropped += 1;
            return;
        };
        if fin && self.fin_at.is_none() {
            self.fin_at = Some(end);
        }
        if end <= self.next {
            return;
        }
        if off <= self.next {
            let skip = usize::try_from(self.next - off).unwrap_or(usize::MAX);
            emit(Piece::Data(data.get(skip..).unwrap_or_default()));
            self.next = end;
            self.drain(budget, emit);
            return;
        }
        if off - self.next > lim.max_ahead {
            self.dropped += 1;
            return;
        }
        // Make room by giving up on the oldest holes.
        while (self.pending_bytes.saturating_add(data.len()) > lim.per_stream
            || data.len() > *budget)
            && !self.pending.is_empty()
        {
            self.skip_to_first(budget, emit);
        }
        if off <= self.next {
            // The skipping reached this frame.
            return self.push(off, data, false, lim, budget, emit);
        }
        if self.pending_bytes.saturating_add(data.len()) > lim.per_stream || data.len() > *budget {
            // Nothing buffered and still no room: deliver it right away after a gap.
            let missing = off - self.next;
            self.gap_bytes = self.gap_bytes.saturating_add(missing);
            emit(Piece::Gap(missing));
            self.next = off;
            return self.push(off, data, false, lim, budget, emit);
        }
        match self.pending.get(&off) {
            Some(old) if old.len() >= data.len() => {}
            old => {
                let old_len = old.map_or(0, Vec::len);
                self.pending_bytes = self.pending_bytes - old_len + data.len();
                *budget = *budget + old_len - data.len();
                self.pending.insert(off, data.to_vec());
            }
        }
    }

    /// Deliver buffered data that has become contiguous.
    fn drain(&mut self, budget: &mut usize, emit: &mut dyn FnMut(Piece<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let off = *entry.key();
            if off > self.next {
                break;
            }
            let d = entry.remove();
            self.pending_bytes -= d.len();
            *budget += d.len();
            let end = off + d.len() as u64;
            if end > self.next {
                let skip = usize::try_from(self.next - off).unwrap_or(usize::MAX);
                emit(Piece::Data(d.get(skip..).unwrap_or_default()));
                self.next = end;
            }
        }
    }

    /// Declare the hole before the first buffered frame lost, and deliver what follows it.
    fn skip_to_first(&mut self, budget: &mut usize, emit: &mut dyn FnMut(Piece<'_>)) {
        if let Some((&off, _)) = self.pending.first_key_value() {
            if off > self.next {
                let missing = off - self.next;
                self.gap_bytes = self.gap_bytes.saturating_add(missing);
                emit(Piece::Gap(missing));
                self.next = off;
            }
            self.drain(budget, emit);
        }
    }

    /// End of capture: deliver everything still buffered, noting the holes.
    pub(crate) fn flush(&mut self, budget: &mut usize, emit: &mut dyn FnMut(Piece<'_>)) {
        while !self.pending.is_empty() {
            self.skip_to_first(budget, emit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(r: &mut Reasm, budget: &mut usize, off: u64, d: &[u8], out: &mut Vec<u8>) {
        let lim = ReasmLimits {
            per_stream: 8,
            max_ahead: 100,
        };
        r.push(off, d, false, lim, budget, &mut |p| match p {
            Piece::Data(d) => out.extend_from_slice(d),
            Piece::Gap(n) => out.extend(std::iter::repeat_n(b'?', n as usize)),
        });
    }

    #[test]
    fn reorders_overlaps_and_gaps() {
        let mut r = Reasm::default();
        let mut budget = 1000;
        let mut out = Vec::new();
        run(&mut r, &mut budget, 3, b"def", &mut out);
        run(&mut r, &mut budget, 1, b"bcd", &mut out);
        assert!(out.is_empty());
        run(&mut r, &mut budget, 0, b"ab", &mut out);
        assert_eq!(out, b"abcdef");
        assert_eq!(budget, 1000);
        // Huge offset: dropped.
        run(&mut r, &mut budget, 1 << 61, b"x", &mut out);
        run(&mut r, &mut budget, u64::MAX - 1, b"xyz", &mut out);
        assert_eq!(r.dropped, 2);
        // Per-stream limit (8) forces a gap.
        run(&mut r, &mut budget, 10, b"12345", &mut out);
        run(&mut r, &mut budget, 20, b"67890", &mut out);
        assert_eq!(out, b"abcdef????12345");
        r.flush(&mut budget, &mut |_| {});
        assert_eq!(budget, 1000);
        assert_eq!(r.pending_bytes(), 0);
    }
}
