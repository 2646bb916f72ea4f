//! QUIC version facts shared by the analyzers: which versions have known Initial keys (their
//! salts, RFC 9001 §5.2, RFC 9369 §3.3.1 and the drafts), and recognising a client Initial
//! packet on any UDP port. Decrypting QUIC is pc-h3's job.

use crate::Reader;

/// Longest connection id (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// Draft-29, still common in older captures (h3-29).
pub const VERSION_DRAFT29: u32 = 0xff00_001d;

const SALT_V1: &[u8; 20] =
    b"\x38\x76\x2c\xf7\xf5\x59\x34\xb3\x4d\x17\x9a\xe6\xa4\xc8\x0c\xad\xcc\xbb\x7f\x0a";
const SALT_V2: &[u8; 20] =
    b"\x0d\xed\xe3\xde\xf7\x00\xa6\xdb\x81\x93\x81\xbe\x6e\x26\x9d\xcb\xf9\xbd\x2e\xd9";
const SALT_DRAFT29: &[u8; 20] =
    b"\xaf\xbf\xec\x28\x99\x93\xd2\x4c\x9e\x97\x86\xf1\x9c\x61\x11\xe0\x43\x90\xa8\x99";
const SALT_DRAFT23: &[u8; 20] =
    b"\xc3\xee\xf7\x12\xc7\x2e\xbb\x5a\x11\xa7\xd2\x43\x2b\xb4\x63\x65\xbe\xf9\xf5\x02";

/// The Initial salt of a version (RFC 9001 §5.2, RFC 9369 §3.3.1, the drafts), and whether it
/// uses the v2 labels and packet type numbers; `None` for versions without known Initial keys.
pub fn initial_salt(version: u32) -> Option<(&'static [u8; 20], bool)> {
    match version {
        VERSION_1 => Some((SALT_V1, false)),
        VERSION_2 => Some((SALT_V2, true)),
        // Drafts 33 and 34 already used the final salt.
        0xff00_0021 | 0xff00_0022 => Some((SALT_V1, false)),
        VERSION_DRAFT29..=0xff00_0020 => Some((SALT_DRAFT29, false)),
        0xff00_0017..=0xff00_001c => Some((SALT_DRAFT23, false)),
        _ => None,
    }
}

/// Name of a QUIC version ("v1", "v2", "draft-29", …, "unknown").
pub fn version_name(version: u32) -> &'static str {
    match version {
        VERSION_1 => "v1",
        VERSION_2 => "v2",
        VERSION_DRAFT29 => "draft-29",
        0xff00_0017..=0xff00_0022 => "draft",
        0 => "version-negotiation",
        _ => "unknown",
    }
}

/// Is `datagram` a long-header Initial packet of a QUIC version whose Initial keys are known?
/// (Used to recognise QUIC on any UDP port.)
pub fn is_quic_long_header(datagram: &[u8]) -> bool {
    let mut r = Reader::new(datagram);
    let Ok(first) = r.u8("") else { return false };
    if first & 0x80 == 0 {
        return false;
    }
    let Ok(version) = r.u32("") else { return false };
    let Some((_, v2)) = initial_salt(version) else {
        return false;
    };
    // Initial is long-header type 0 in v1 and the drafts, 1 in v2 (RFC 9369 §3.2).
    if (first >> 4) & 3 != u8::from(v2) {
        return false;
    }
    let Ok(dl) = r.u8("") else { return false };
    if dl as usize > MAX_CID_LEN || r.bytes(dl as usize, "").is_err() {
        return false;
    }
    let Ok(sl) = r.u8("") else { return false };
    sl as usize <= MAX_CID_LEN && r.bytes(sl as usize, "").is_ok()
}
