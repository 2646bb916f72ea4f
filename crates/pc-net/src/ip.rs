//! IPv4, IPv6 (with extension headers), TCP and UDP headers. Zero-copy: every payload is a view
//! into the captured frame, cut at the length the headers announce.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::NetError;
use crate::link::{Net, be16, be32};

pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;

pub(crate) const TCP_FIN: u8 = 0x01;
pub(crate) const TCP_SYN: u8 = 0x02;
pub(crate) const TCP_RST: u8 = 0x04;
pub(crate) const TCP_ACK: u8 = 0x10;

/// More IPv6 extension headers than this is an attack, not a packet.
const MAX_IPV6_EXT_HEADERS: usize = 16;

/// Position of one fragment in its datagram.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frag {
    pub id: u32,
    /// Byte offset in the reassembled payload.
    pub offset: u32,
    pub more: bool,
}

/// One IP packet: addresses and the (possibly truncated) payload.
pub(crate) struct Ip<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub v6: bool,
    /// Upper-layer protocol (IPv6: after extension headers; fragments: of the fragmentable part).
    pub proto: u8,
    /// Captured payload bytes, never more than `claimed`.
    pub payload: &'a [u8],
    /// Payload length per the headers (larger than `payload.len()` when the capture was cut).
    pub claimed: usize,
    /// Offset of `payload` in the frame, for error positions.
    pub at: usize,
    pub frag: Option<Frag>,
}

fn truncated(at: usize, what: &'static str) -> NetError {
    NetError::Truncated {
        at: at as u64,
        what,
    }
}

fn malformed(at: usize, what: &'static str) -> NetError {
    NetError::Malformed {
        at: at as u64,
        what,
    }
}

/// Parse the IP header at `off`.
pub(crate) fn parse(net: Net, d: &[u8], off: usize) -> Result<Ip<'_>, NetError> {
    let first = *d.get(off).ok_or(truncated(off, "IP header"))?;
    match (net, first >> 4) {
        (Net::V4 | Net::Guess, 4) => parse_v4(d, off),
        (Net::V6 | Net::Guess, 6) => parse_v6(d, off),
        (Net::V4, _) => Err(malformed(off, "IPv4 version")),
        (Net::V6, _) => Err(malformed(off, "IPv6 version")),
        (Net::Guess, _) => Err(malformed(off, "IP version")),
    }
}

fn parse_v4(d: &[u8], off: usize) -> Result<Ip<'_>, NetError> {
    let h = d.get(off..).unwrap_or_default();
    if h.len() < 20 {
        return Err(truncated(off, "IPv4 header"));
    }
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 {
        return Err(malformed(off, "IPv4 header length"));
    }
    if h.len() < ihl {
        return Err(truncated(off + 20, "IPv4 options"));
    }
    let total = usize::from(be16(h, 2).unwrap_or(0));
    // A zero total length is what TSO/GSO-offloaded packets look like when captured on the
    // sending host: the payload is everything captured.
    let total = if total == 0 { h.len() } else { total };
    if total < ihl {
        return Err(malformed(off + 2, "IPv4 total length"));
    }
    let end = total.min(h.len());
    let ff = be16(h, 6).unwrap_or(0);
    let more = ff & 0x2000 != 0;
    let frag_off = u32::from(ff & 0x1fff) * 8;
    let frag = (more || frag_off != 0).then(|| Frag {
        id: u32::from(be16(h, 4).unwrap_or(0)),
        offset: frag_off,
        more,
    });
    Ok(Ip {
        src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        v6: false,
        proto: h[9],
        payload: h.get(ihl..end).unwrap_or_default(),
        claimed: total - ihl,
        at: off + ihl,
        frag,
    })
}

fn v6_addr(b: &[u8]) -> IpAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    IpAddr::V6(Ipv6Addr::from(a))
}

fn parse_v6(d: &[u8], off: usize) -> Result<Ip<'_>, NetError> {
    let h = d.get(off..).unwrap_or_default();
    if h.len() < 40 {
        return Err(truncated(off, "IPv6 header"));
    }
    let plen = usize::from(be16(h, 4).unwrap_or(0));
    // Zero: a jumbogram or an offloaded packet; either way the payload is what was captured.
    let claimed_total = if plen == 0 { h.len() - 40 } else { plen };
    let end = (40 + claimed_total).min(h.len());
    let body = h.get(..end).unwrap_or_default();
    let (proto, pos, frag) = ext_chain(h[6], body, 40, off, true)?;
    if pos > 40 + claimed_total {
        return Err(malformed(
            off + 4,
            "IPv6 payload length shorter than its extension headers",
        ));
    }
    Ok(Ip {
        src: v6_addr(&h[8..24]),
        dst: v6_addr(&h[24..40]),
        v6: true,
        proto,
        payload: body.get(pos..).unwrap_or_default(),
        claimed: 40 + claimed_total - pos,
        at: off + pos,
        frag,
    })
}

/// Walk IPv6 extension headers from `pos`; returns the upper-layer protocol, where it starts,
/// and the fragment header if one was found (the walk stops there: what follows is fragmented).
fn ext_chain(
    mut next: u8,
    d: &[u8],
    mut pos: usize,
    base: usize,
    allow_frag: bool,
) -> Result<(u8, usize, Option<Frag>), NetError> {
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        match next {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6: length in 8-byte
            // units, not counting the first 8.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let hl = d
                    .get(pos..pos + 2)
                    .ok_or(truncated(base + pos, "IPv6 extension header"))?;
                let len = (usize::from(hl[1]) + 1) * 8;
                if d.len() < pos + len {
                    return Err(truncated(base + pos, "IPv6 extension header"));
                }
                next = hl[0];
                pos += len;
            }
            // Authentication header: length in 4-byte units, not counting the first 2.
            51 => {
                let hl = d
                    .get(pos..pos + 2)
                    .ok_or(truncated(base + pos, "IPv6 AH header"))?;
                let len = (usize::from(hl[1]) + 2) * 4;
                if d.len() < pos + len {
                    return Err(truncated(base + pos, "IPv6 AH header"));
                }
                next = hl[0];
                pos += len;
            }
            44 => {
                let fh = d
                    .get(pos..pos + 8)
                    .ok_or(truncated(base + pos, "IPv6 fragment header"))?;
                let ff = u16::from_be_bytes([fh[2], fh[3]]);
                let frag = Frag {
                    id: be32(fh, 4).unwrap_or(0),
                    offset: u32::from(ff & 0xfff8),
                    more: ff & 1 != 0,
                };
                next = fh[0];
                pos += 8;
                // An atomic fragment (RFC 6946) is a whole datagram.
                if frag.offset == 0 && !frag.more {
                    continue;
                }
                if !allow_frag {
                    return Err(malformed(base + pos - 8, "nested IPv6 fragment header"));
                }
                return Ok((next, pos, Some(frag)));
            }
            _ => return Ok((next, pos, None)),
        }
    }
    Err(malformed(base + pos, "too many IPv6 extension headers"))
}

/// After IPv6 reassembly: skip the extension headers at the start of the fragmentable part.
pub(crate) fn v6_reassembled(next: u8, d: &[u8]) -> Result<(u8, usize), NetError> {
    let (proto, pos, _) = ext_chain(next, d, 0, 0, false)?;
    Ok((proto, pos))
}

/// A TCP segment.
pub(crate) struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: &'a [u8],
    /// Payload length per the IP header (more than `payload.len()` when truncated).
    pub claimed: usize,
}

/// Parse a TCP header from an IP payload of `claimed` announced bytes starting at frame offset `at`.
pub(crate) fn parse_tcp(d: &[u8], claimed: usize, at: usize) -> Result<Tcp<'_>, NetError> {
    if d.len() < 20 {
        return Err(truncated(at, "TCP header"));
    }
    let hl = usize::from(d[12] >> 4) * 4;
    if hl < 20 {
        return Err(malformed(at + 12, "TCP header length"));
    }
    if hl > claimed {
        return Err(malformed(at + 12, "TCP header longer than its IP payload"));
    }
    if hl > d.len() {
        return Err(truncated(at + 20, "TCP options"));
    }
    Ok(Tcp {
        sport: be16(d, 0).unwrap_or(0),
        dport: be16(d, 2).unwrap_or(0),
        seq: be32(d, 4).unwrap_or(0),
        ack: be32(d, 8).unwrap_or(0),
        flags: d[13],
        payload: d.get(hl..).unwrap_or_default(),
        claimed: claimed - hl,
    })
}

/// A UDP datagram.
pub(crate) struct Udp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
    pub claimed: usize,
}

pub(crate) fn parse_udp(d: &[u8], claimed: usize, at: usize) -> Result<Udp<'_>, NetError> {
    if d.len() < 8 {
        return Err(truncated(at, "UDP header"));
    }
    let ulen = usize::from(be16(d, 4).unwrap_or(0));
    // Zero is used by jumbograms and offloaded packets: take the IP payload length.
    let ulen = match ulen {
        0 => claimed,
        1..=7 => return Err(malformed(at + 4, "UDP length")),
        // Longer than the IP payload: trust IP, which is what the receiver would do.
        n => n.min(claimed),
    };
    if ulen < 8 {
        return Err(malformed(at + 4, "UDP length"));
    }
    let end = ulen.min(d.len());
    Ok(Udp {
        sport: be16(d, 0).unwrap_or(0),
        dport: be16(d, 2).unwrap_or(0),
        payload: d.get(8..end).unwrap_or_default(),
        claimed: ulen - 8,
    })
}
