//! Link layers: find where the IP header starts in a captured frame.

use crate::NetError;

/// Which IP version the link layer announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Net {
    V4,
    V6,
    /// The link layer does not say (raw IP, MPLS): use the version nibble.
    Guess,
}

/// Ethernet, Linux "cooked" v1/v2, raw IP, BSD null/loopback and OpenBSD loop.
pub(crate) const LINKTYPE_NULL: u32 = 0;
pub(crate) const LINKTYPE_ETHERNET: u32 = 1;
pub(crate) const LINKTYPE_RAW_12: u32 = 12;
pub(crate) const LINKTYPE_RAW_14: u32 = 14;
pub(crate) const LINKTYPE_RAW: u32 = 101;
pub(crate) const LINKTYPE_LOOP: u32 = 108;
pub(crate) const LINKTYPE_LINUX_SLL: u32 = 113;
pub(crate) const LINKTYPE_IPV4: u32 = 228;
pub(crate) const LINKTYPE_IPV6: u32 = 229;
pub(crate) const LINKTYPE_LINUX_SLL2: u32 = 276;

/// More stacked VLAN tags / MPLS labels than this is not a real frame.
const MAX_ENCAPSULATIONS: usize = 16;

pub(crate) fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

pub(crate) fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn truncated(at: usize, what: &'static str) -> NetError {
    NetError::Truncated {
        at: at as u64,
        what,
    }
}

/// Where the network layer starts: `Ok(None)` for well-formed frames that carry no IP.
pub(crate) fn locate_ip(linktype: u32, d: &[u8]) -> Result<Option<(Net, usize)>, NetError> {
    match linktype {
        LINKTYPE_ETHERNET => {
            let et = be16(d, 12).ok_or(truncated(0, "Ethernet header"))?;
            ethertype(d, et, 14)
        }
        LINKTYPE_LINUX_SLL => {
            if d.len() < 16 {
                return Err(truncated(0, "Linux cooked (SLL) header"));
            }
            let et = be16(d, 14).ok_or(truncated(14, "SLL protocol"))?;
            ethertype(d, et, 16)
        }
        LINKTYPE_LINUX_SLL2 => {
            if d.len() < 20 {
                return Err(truncated(0, "Linux cooked v2 (SLL2) header"));
            }
            let et = be16(d, 0).ok_or(truncated(0, "SLL2 protocol"))?;
            ethertype(d, et, 20)
        }
        LINKTYPE_RAW | LINKTYPE_RAW_12 | LINKTYPE_RAW_14 => Ok(Some((Net::Guess, 0))),
        LINKTYPE_IPV4 => Ok(Some((Net::V4, 0))),
        LINKTYPE_IPV6 => Ok(Some((Net::V6, 0))),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            let b = d.get(..4).ok_or(truncated(0, "loopback header"))?;
            // Host byte order of the capturing machine for NULL, network order for LOOP; real
            // files get this wrong often enough that both orders are accepted for both.
            let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            match (af_family(le), af_family(be)) {
                (Some(n), _) | (None, Some(n)) => Ok(Some((n, 4))),
                (None, None) => Ok(None),
            }
        }
        _ => Err(NetError::UnsupportedLinkType { linktype }),
    }
}

/// BSD address families: AF_INET is 2 everywhere, AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD)
/// or 30 (macOS).
fn af_family(af: u32) -> Option<Net> {
    match af {
        2 => Some(Net::V4),
        24 | 28 | 30 => Some(Net::V6),
        _ => None,
    }
}

/// Follow an EtherType through VLAN tags, 802.2 SNAP, PPPoE and MPLS to IPv4/IPv6.
fn ethertype(d: &[u8], mut et: u16, mut off: usize) -> Result<Option<(Net, usize)>, NetError> {
    for _ in 0..MAX_ENCAPSULATIONS {
        match et {
            0x0800 => return Ok(Some((Net::V4, off))),
            0x86DD => return Ok(Some((Net::V6, off))),
            // 802.1Q, 802.1ad and the pre-standard QinQ types.
            0x8100 | 0x88A8 | 0x9100 | 0x9200 => {
                et = be16(d, off + 2).ok_or(truncated(off, "VLAN tag"))?;
                off += 4;
            }
            // PPPoE session: 6 bytes of PPPoE, then the 2-byte PPP protocol.
            0x8864 => {
                let proto = be16(d, off + 6).ok_or(truncated(off, "PPPoE header"))?;
                off += 8;
                return Ok(match proto {
                    0x0021 => Some((Net::V4, off)),
                    0x0057 => Some((Net::V6, off)),
                    _ => None,
                });
            }
            0x8847 | 0x8848 => {
                for _ in 0..MAX_ENCAPSULATIONS {
                    let label = be32(d, off).ok_or(truncated(off, "MPLS label"))?;
                    off += 4;
                    if label & 0x100 != 0 {
                        return Ok(Some((Net::Guess, off)));
                    }
                }
                return Err(NetError::Malformed {
                    at: off as u64,
                    what: "too many MPLS labels",
                });
            }
            // An 802.3 length field: only LLC/SNAP can carry IP.
            0..=1500 => {
                let llc = d
                    .get(off..off + 3)
                    .ok_or(truncated(off, "802.2 LLC header"))?;
                if llc != [0xAA, 0xAA, 0x03] {
                    return Ok(None);
                }
                et = be16(d, off + 6).ok_or(truncated(off, "SNAP header"))?;
                off += 8;
            }
            _ => return Ok(None),
        }
    }
    Err(NetError::Malformed {
        at: off as u64,
        what: "too many VLAN tags",
    })
}
