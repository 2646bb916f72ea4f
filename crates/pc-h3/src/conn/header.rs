//! Long and short QUIC packet headers (RFC 9000 §17) and opening one packet with a
//! direction's keys.

use crate::crypto::{DirKeys, Flavor, LongType};
use crate::h3;

/// A QUIC variable-length integer at `*pos`, advancing it.
pub(super) fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let (v, n) = h3::varint(b.get(*pos..)?)?;
    *pos += n;
    Some(v)
}

pub(super) fn take<'a>(b: &'a [u8], pos: &mut usize, n: u64) -> Option<&'a [u8]> {
    let n = usize::try_from(n).ok()?;
    let end = pos.checked_add(n)?;
    let s = b.get(*pos..end)?;
    *pos = end;
    Some(s)
}

/// The parsed fields of a long header.
pub(super) struct Long<'a> {
    pub(super) version: u32,
    pub(super) ty: LongType,
    pub(super) dcid: &'a [u8],
    pub(super) scid: &'a [u8],
    pub(super) pn_offset: usize,
    /// Length of the whole packet within the datagram.
    pub(super) len: usize,
}

/// Parse a long header at the start of `d`; `None` if malformed. Retry packets report their
/// remaining length as the whole rest of the datagram.
pub(super) fn parse_long(d: &[u8], fl: Flavor, version: u32) -> Option<Long<'_>> {
    let first = *d.first()?;
    let mut pos = 5;
    let dl = *d.get(pos)?;
    pos += 1;
    // 20 is the limit for v1; longer ids are only legal in version negotiation.
    if dl > 20 {
        return None;
    }
    let dcid = take(d, &mut pos, u64::from(dl))?;
    let sl = *d.get(pos)?;
    pos += 1;
    if sl > 20 {
        return None;
    }
    let scid = take(d, &mut pos, u64::from(sl))?;
    let ty = fl.long_type(first >> 4);
    if ty == LongType::Retry {
        return Some(Long {
            version,
            ty,
            dcid,
            scid,
            pn_offset: pos,
            len: d.len(),
        });
    }
    if ty == LongType::Initial {
        let tl = varint(d, &mut pos)?;
        take(d, &mut pos, tl)?;
    }
    let len = varint(d, &mut pos)?;
    let end = u64::try_from(pos).ok()?.checked_add(len)?;
    let end = usize::try_from(end).ok().filter(|e| *e <= d.len())?;
    Some(Long {
        version,
        ty,
        dcid,
        scid,
        pn_offset: pos,
        len: end,
    })
}

/// Remove protection from a copy of `pkt`: returns the packet number and plaintext.
pub(super) fn try_open(
    k: &mut DirKeys,
    pkt: &[u8],
    pn_offset: usize,
    largest: Option<u64>,
    one_rtt: bool,
) -> Option<(u64, Vec<u8>)> {
    let mut b = pkt.to_vec();
    let u = k.unprotect(&mut b, pn_offset, largest)?;
    let (hdr, payload) = b.split_at_mut(u.header_len);
    let n = if one_rtt {
        k.open_1rtt(u.key_phase, u.pn, hdr, payload)?
    } else {
        k.open(u.pn, hdr, payload)?
    };
    let mut plain = payload.get(..n)?.to_vec();
    plain.shrink_to_fit();
    Some((u.pn, plain))
}
