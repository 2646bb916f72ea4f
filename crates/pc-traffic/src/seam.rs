//! Searching a stream that arrives in pieces (TCP segments, decoded body chunks) as if it were
//! one buffer, without copying the pieces together.
//!
//! Each piece is searched where it lies. The seam between two pieces is searched apart: the
//! last `overlap` bytes of the previous piece joined with the first `overlap` bytes of the new
//! one, keeping only the hits that straddle the join. `overlap` is longer than any form of a
//! value (a SHA-256 as hex is 64 bytes, as base64 44), so a value split across pieces is found
//! once, and a value inside one piece is found by that piece's search only.

use crate::agg::LocalHits;
use crate::ctx::{Ctx, HitField, scan_field};

/// Seam width for raw stream bytes.
pub const RAW_OVERLAP: usize = 160;
/// Seam width for decoded bodies: wider, since URL-encoded or base64 layers inside a body
/// must be whole on one side of the seam to be decoded.
pub const BODY_OVERLAP: usize = 1024;

/// The end of what was searched so far, for the next seam.
#[derive(Debug, Default)]
pub struct Seam {
    tail: Vec<u8>,
    scratch: Vec<u8>,
}

impl Seam {
    /// Forget the previous bytes (after a gap, or between datagrams).
    pub fn reset(&mut self) {
        self.tail.clear();
    }

    /// Search the next piece, and the seam before it. Returns whether a search stopped short.
    #[allow(clippy::too_many_arguments)]
    pub fn scan(
        &mut self,
        ctx: &Ctx,
        hits: &mut LocalHits,
        data: &[u8],
        overlap: usize,
        field: &HitField<'_>,
        ts: Option<i64>,
        frame: Option<u64>,
        entry: Option<u64>,
    ) -> bool {
        let mut incomplete = false;
        let tl = self.tail.len();
        if tl > 0 && !data.is_empty() {
            let head = data.len().min(overlap);
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.tail);
            self.scratch.extend_from_slice(&data[..head]);
            let len = self.scratch.len();
            // A hit ending at the end of the seam may continue past it: the piece's own search
            // judges it, unless the piece ends there too.
            let whole = head == data.len();
            let keep = |s: usize, e: usize| s < tl && e > tl && (e < len || whole);
            incomplete |=
                scan_field(ctx, hits, &self.scratch, &keep, field, ts, frame, entry).incomplete;
        }
        incomplete |=
            scan_field(ctx, hits, data, &crate::ctx::all, field, ts, frame, entry).incomplete;
        if data.len() >= overlap {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - overlap..]);
        } else {
            self.tail.extend_from_slice(data);
            let extra = self.tail.len().saturating_sub(overlap);
            self.tail.drain(..extra);
        }
        incomplete
    }
}
