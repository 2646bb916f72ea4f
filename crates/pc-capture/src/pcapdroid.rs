//! PCAPdroid (github.com/emanuele-f/PCAPdroid) app attribution.
//!
//! * pcap "with trailer" mode: link type Ethernet; each frame is a bogus Ethernet header (zero
//!   MACs), the IP packet, 0-3 zero bytes of alignment padding so that the frame length is a
//!   multiple of 4, then a 32-byte trailer: magic 0x01072021 (big-endian), uid (i32 big-endian),
//!   app name (20 bytes, NUL-padded), FCS (CRC-32 of the frame).
//! * pcapng mode: a Custom Block (type 0x00000BAD, PEN 62652) maps each UID to a package and app
//!   name (after the PEN: version u16 = 1, block type u8 = 1, one reserved byte, uid u32,
//!   package-name length u8, app-name length u8, package name, app name; section byte order),
//!   and every Enhanced Packet Block carries the comment `u-<uid>`.

/// PCAPdroid's IANA Private Enterprise Number, used in its pcapng custom blocks.
pub(crate) const PEN: u32 = 62652;
const TRAILER_MAGIC: u32 = 0x0107_2021;
const TRAILER_LEN: usize = 32;
pub(crate) const APPNAME_LEN: usize = 20;
const ETH_HEADER: usize = 14;
const LINKTYPE_ETHERNET: u32 = 1;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const CUSTOM_VERSION: u16 = 1;
const CUSTOM_UID_MAP: u8 = 1;

/// A trailer found at the end of a frame.
pub(crate) struct Trailer {
    /// Bytes of the frame to keep (Ethernet header + IP packet).
    pub keep: usize,
    pub uid: i32,
    /// Raw app name, None when empty.
    pub name: Option<[u8; APPNAME_LEN]>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(s.try_into().ok()?))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(s.try_into().ok()?))
}

/// Detects and decodes a PCAPdroid trailer on an Ethernet frame.
pub(crate) fn parse_trailer(linktype: u32, data: &[u8]) -> Option<Trailer> {
    if linktype != LINKTYPE_ETHERNET || data.len() < ETH_HEADER + TRAILER_LEN {
        return None;
    }
    let t_at = data.len() - TRAILER_LEN;
    if be32(data, t_at)? != TRAILER_MAGIC {
        return None;
    }
    let uid = be32(data, t_at + 4)? as i32;
    let raw: [u8; APPNAME_LEN] = data
        .get(t_at + 8..t_at + 8 + APPNAME_LEN)?
        .try_into()
        .ok()?;
    let name = (raw[0] != 0).then_some(raw);
    // Drop the alignment padding too when the IP length says exactly where the packet ends.
    let ip_len = match be16(data, 12)? {
        ETHERTYPE_IPV4 => be16(data, ETH_HEADER + 2).map(usize::from),
        ETHERTYPE_IPV6 => be16(data, ETH_HEADER + 4).map(|l| usize::from(l) + 40),
        _ => None,
    };
    let keep = match ip_len.map(|l| l + ETH_HEADER) {
        Some(end) if end <= t_at && t_at - end < 4 => end,
        _ => t_at,
    };
    Some(Trailer { keep, uid, name })
}

/// App name from a trailer: up to the first NUL, lossy UTF-8.
pub(crate) fn name_str(raw: &[u8; APPNAME_LEN]) -> String {
    let end = raw.iter().position(|&c| c == 0).unwrap_or(APPNAME_LEN);
    String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned()
}

/// UID from a PCAPdroid packet comment `u-<uid>` (the uid may be negative, e.g. `u--1`).
pub(crate) fn comment_uid(comment: &str) -> Option<i32> {
    comment
        .lines()
        .find_map(|l| l.trim().strip_prefix("u-")?.parse::<i32>().ok())
}

/// Decoded UID-mapping custom block.
pub(crate) struct UidMap {
    pub uid: i32,
    pub package: String,
    pub app: String,
}

/// Parses the custom data of a PCAPdroid custom block (everything after the PEN).
pub(crate) fn parse_uid_map(b: &[u8], be: bool) -> Option<UidMap> {
    let u16v = |at: usize| -> Option<u16> {
        let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if be {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        })
    };
    if u16v(0)? != CUSTOM_VERSION || *b.get(2)? != CUSTOM_UID_MAP {
        return None;
    }
    let s: [u8; 4] = b.get(4..8)?.try_into().ok()?;
    let uid = if be {
        i32::from_be_bytes(s)
    } else {
        i32::from_le_bytes(s)
    };
    let plen = usize::from(*b.get(8)?);
    let alen = usize::from(*b.get(9)?);
    let package = b.get(10..10 + plen)?;
    let app = b.get(10 + plen..10 + plen + alen)?;
    Some(UidMap {
        uid,
        package: String::from_utf8_lossy(package).into_owned(),
        app: String::from_utf8_lossy(app).into_owned(),
    })
}
