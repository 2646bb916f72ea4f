//! QUIC client Initial packets: header protection removal and AEAD opening with the keys
//! derived from the client's Destination Connection ID (RFC 9001 §5, RFC 9369 for v2, draft-29
//! and earlier salts), CRYPTO frame reassembly, and the ClientHello inside.

use crate::tls::{self, ClientHello};
use crate::{ProtoError, Reader};
use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aead::AeadInPlace;
use hkdf::Hkdf;
use sha2::Sha256;

/// CRYPTO stream bytes reassembled (a ClientHello, even with post-quantum key shares, is a few KiB).
pub const MAX_CRYPTO: usize = 64 * 1024;
/// Separate CRYPTO byte ranges tracked while reassembling.
pub const MAX_RANGES: usize = 256;
/// Initial packets examined before giving up on finding a complete ClientHello.
pub const MAX_INITIAL_PACKETS: u32 = 64;
/// Longest connection id (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
const SALT_DRAFT29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
const SALT_DRAFT23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];

/// How one version protects its Initial packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flavor {
    salt: &'static [u8; 20],
    v2_labels: bool,
    /// Long-header packet type bits of Initial packets.
    initial_type: u8,
    retry_type: u8,
}

fn flavor(version: u32) -> Option<Flavor> {
    let v1 = |salt| Flavor {
        salt,
        v2_labels: false,
        initial_type: 0,
        retry_type: 3,
    };
    match version {
        VERSION_1 => Some(v1(&SALT_V1)),
        VERSION_2 => Some(Flavor {
            salt: &SALT_V2,
            v2_labels: true,
            initial_type: 1,
            retry_type: 0,
        }),
        // Drafts 33 and 34 already used the final salt.
        0xff00_0021 | 0xff00_0022 => Some(v1(&SALT_V1)),
        0xff00_001d..=0xff00_0020 => Some(v1(&SALT_DRAFT29)),
        0xff00_0017..=0xff00_001c => Some(v1(&SALT_DRAFT23)),
        _ => None,
    }
}

/// The Initial salt of a version (RFC 9001 §5.2, RFC 9369 §3.3.1, the drafts), and whether it
/// uses the v2 labels and packet type numbers; `None` for versions without known Initial keys.
pub fn initial_salt(version: u32) -> Option<(&'static [u8; 20], bool)> {
    flavor(version).map(|f| (f.salt, f.v2_labels))
}

/// Name of a QUIC version ("v1", "v2", "draft-29", …, "unknown").
pub fn version_name(version: u32) -> &'static str {
    match version {
        VERSION_1 => "v1",
        VERSION_2 => "v2",
        0xff00_001d => "draft-29",
        0xff00_0017..=0xff00_0022 => "draft",
        0 => "version-negotiation",
        _ => "unknown",
    }
}

/// Client Initial packet protection keys.
#[derive(Clone, PartialEq, Eq)]
pub struct InitialKeys {
    /// AEAD (AES-128-GCM) key.
    pub key: [u8; 16],
    /// AEAD IV.
    pub iv: [u8; 12],
    /// Header protection (AES-128-ECB) key.
    pub hp: [u8; 16],
}

impl std::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialKeys(..)")
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(hk: &Hkdf<Sha256>, label: &str, out: &mut [u8]) -> bool {
    let full = [b"tls13 ", label.as_bytes()].concat();
    let mut info = Vec::with_capacity(4 + full.len());
    info.extend_from_slice(&(out.len() as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(&full);
    info.push(0);
    hk.expand(&info, out).is_ok()
}

/// The client's Initial keys for `version` and the client's original Destination Connection ID;
/// `None` for versions this module does not know.
pub fn client_initial_keys(version: u32, dcid: &[u8]) -> Option<InitialKeys> {
    let fl = flavor(version)?;
    let (_, initial) = Hkdf::<Sha256>::extract(Some(fl.salt), dcid);
    let mut secret = [0u8; 32];
    if !expand_label(&initial, "client in", &mut secret) {
        return None;
    }
    let hk = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    let (lk, li, lh) = if fl.v2_labels {
        ("quicv2 key", "quicv2 iv", "quicv2 hp")
    } else {
        ("quic key", "quic iv", "quic hp")
    };
    let mut k = InitialKeys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    if expand_label(&hk, lk, &mut k.key)
        && expand_label(&hk, li, &mut k.iv)
        && expand_label(&hk, lh, &mut k.hp)
    {
        Some(k)
    } else {
        None
    }
}

/// A variable-length integer (RFC 9000 §16).
fn varint(r: &mut Reader<'_>, what: &'static str) -> Result<u64, ProtoError> {
    let first = r.u8(what)?;
    let extra = (1usize << (first >> 6)) - 1;
    let mut v = u64::from(first & 0x3f);
    for &b in r.bytes(extra, what)? {
        v = (v << 8) | u64::from(b);
    }
    Ok(v)
}

/// Is `datagram` a long-header Initial packet of a QUIC version whose Initial packets this
/// module can decrypt? (Used to recognise QUIC on any UDP port.)
pub fn is_quic_long_header(datagram: &[u8]) -> bool {
    let mut r = Reader::new(datagram);
    let Ok(first) = r.u8("") else { return false };
    if first & 0x80 == 0 {
        return false;
    }
    let Ok(version) = r.u32("") else { return false };
    let Some(fl) = flavor(version) else {
        return false;
    };
    if (first >> 4) & 3 != fl.initial_type {
        return false;
    }
    let Ok(dl) = r.u8("") else { return false };
    if dl as usize > MAX_CID_LEN || r.bytes(dl as usize, "").is_err() {
        return false;
    }
    let Ok(sl) = r.u8("") else { return false };
    sl as usize <= MAX_CID_LEN && r.bytes(sl as usize, "").is_ok()
}

/// What the client's Initial packets revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initial {
    /// QUIC version.
    pub version: u32,
    /// The Destination Connection ID the Initial keys were derived from (the client's original
    /// one, or the one chosen by a Retry).
    pub dcid: Vec<u8>,
    /// The client's Source Connection ID.
    pub scid: Vec<u8>,
    /// The ClientHello, when the reassembled CRYPTO data parsed as one.
    pub client_hello: Option<ClientHello>,
}

/// Client-side Initial state of one QUIC connection: keys, CRYPTO reassembly.
#[derive(Debug, Default)]
pub struct InitialState {
    /// Keys in use, with the version and DCID they were derived from.
    keys: Option<(u32, Vec<u8>, InitialKeys)>,
    scid: Vec<u8>,
    crypto: Vec<u8>,
    /// Received CRYPTO ranges, sorted, merged, half-open.
    ranges: Vec<(usize, usize)>,
    largest_pn: Option<u64>,
    packets: u32,
    done: bool,
}

/// One long-header packet's fields needed for decryption.
struct LongPacket<'a> {
    version: u32,
    dcid: &'a [u8],
    scid: &'a [u8],
    /// The whole packet.
    bytes: &'a [u8],
    pn_offset: usize,
}

/// Split the long-header packets of a datagram; stops at a short header, version negotiation,
/// Retry or anything unparseable. Returns the Initial packets.
fn initial_packets(d: &[u8]) -> Vec<LongPacket<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < d.len() && out.len() < 8 {
        let pkt = &d[pos..];
        let mut r = Reader::new(pkt);
        let Ok(first) = r.u8("") else { break };
        if first & 0x80 == 0 {
            break;
        }
        let Ok(version) = r.u32("") else { break };
        let Some(fl) = flavor(version) else { break };
        let Ok(dl) = r.u8("") else { break };
        if dl as usize > MAX_CID_LEN {
            break;
        }
        let Ok(dcid) = r.bytes(dl as usize, "") else {
            break;
        };
        let Ok(sl) = r.u8("") else { break };
        if sl as usize > MAX_CID_LEN {
            break;
        }
        let Ok(scid) = r.bytes(sl as usize, "") else {
            break;
        };
        let ptype = (first >> 4) & 3;
        if ptype == fl.retry_type {
            break;
        }
        let initial = ptype == fl.initial_type;
        if initial {
            let Ok(tl) = varint(&mut r, "") else { break };
            if tl > pkt.len() as u64 || r.bytes(tl as usize, "").is_err() {
                break;
            }
        }
        let Ok(len) = varint(&mut r, "") else { break };
        let pn_offset = r.pos();
        let Some(end) = (pn_offset as u64)
            .checked_add(len)
            .filter(|e| *e <= pkt.len() as u64)
        else {
            break;
        };
        let end = end as usize;
        if initial {
            out.push(LongPacket {
                version,
                dcid,
                scid,
                bytes: &pkt[..end],
                pn_offset,
            });
        }
        pos += end;
    }
    out
}

/// Reconstruct a full packet number from its truncated form (RFC 9000 §A.3).
fn decode_pn(largest: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let win = 1u64 << (pn_len * 8);
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate + hwin <= expected && candidate < (1 << 62) - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// Remove header protection and open the payload; `None` if the keys do not fit.
fn open(p: &LongPacket<'_>, k: &InitialKeys, largest: Option<u64>) -> Option<(u64, Vec<u8>)> {
    let sample = p.bytes.get(p.pn_offset + 4..p.pn_offset + 20)?;
    let hp = aes::Aes128::new_from_slice(&k.hp).ok()?;
    let mut mask = aes::Block::clone_from_slice(sample);
    hp.encrypt_block(&mut mask);
    let first = p.bytes.first()? ^ (mask[0] & 0x0f);
    let pn_len = (first & 3) as usize + 1;
    let hdr_len = p.pn_offset + pn_len;
    let mut header = p.bytes.get(..hdr_len)?.to_vec();
    header[0] = first;
    let mut truncated = 0u64;
    for i in 0..pn_len {
        header[p.pn_offset + i] ^= mask[1 + i];
        truncated = (truncated << 8) | u64::from(header[p.pn_offset + i]);
    }
    let pn = decode_pn(largest, truncated, pn_len);
    let body = p.bytes.get(hdr_len..)?;
    if body.len() < 16 {
        return None;
    }
    let (ct, tag) = body.split_at(body.len() - 16);
    let mut nonce = k.iv;
    for (n, b) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= b;
    }
    let aead = aes_gcm::Aes128Gcm::new_from_slice(&k.key).ok()?;
    let mut buf = ct.to_vec();
    aead.decrypt_in_place_detached(
        aes_gcm::Nonce::from_slice(&nonce),
        &header,
        &mut buf,
        aes_gcm::Tag::from_slice(tag),
    )
    .ok()?;
    Some((pn, buf))
}

impl InitialState {
    /// A fresh state for one QUIC connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one client-to-server datagram. Returns the Initial summary once, when the complete
    /// ClientHello has been reassembled (or when reassembly is abandoned, with
    /// `client_hello: None`); `None` before and after.
    pub fn push_client_datagram(&mut self, datagram: &[u8]) -> Option<Initial> {
        if self.done {
            return None;
        }
        for p in initial_packets(datagram) {
            self.packets += 1;
            if self.packets > MAX_INITIAL_PACKETS {
                return self.give_up(p.version);
            }
            let Some(plain) = self.decrypt(&p) else {
                continue;
            };
            if self.scid.is_empty() {
                self.scid = p.scid.to_vec();
            }
            self.frames(&plain);
            if let Some(r) = self.check_complete(p.version) {
                return Some(r);
            }
        }
        None
    }

    fn give_up(&mut self, version: u32) -> Option<Initial> {
        self.done = true;
        let dcid = self
            .keys
            .as_ref()
            .map(|(_, d, _)| d.clone())
            .unwrap_or_default();
        Some(Initial {
            version,
            dcid,
            scid: std::mem::take(&mut self.scid),
            client_hello: None,
        })
    }

    /// Open a packet with the keys in use, or with keys from its own DCID (the first packet,
    /// or after a Retry changed the DCID).
    fn decrypt(&mut self, p: &LongPacket<'_>) -> Option<Vec<u8>> {
        if let Some((v, _, k)) = &self.keys
            && *v == p.version
            && let Some((pn, plain)) = open(p, k, self.largest_pn)
        {
            self.largest_pn = Some(self.largest_pn.map_or(pn, |l| l.max(pn)));
            return Some(plain);
        }
        let same = self
            .keys
            .as_ref()
            .is_some_and(|(v, d, _)| *v == p.version && d == p.dcid);
        if same {
            return None;
        }
        let k = client_initial_keys(p.version, p.dcid)?;
        let (pn, plain) = open(p, &k, None)?;
        if self.keys.is_some() {
            // New keys (Retry): the CRYPTO stream starts over.
            self.crypto.clear();
            self.ranges.clear();
        }
        self.keys = Some((p.version, p.dcid.to_vec(), k));
        self.largest_pn = Some(pn);
        Some(plain)
    }

    /// Walk the frames of a decrypted Initial payload, keeping CRYPTO data.
    fn frames(&mut self, plain: &[u8]) {
        let mut r = Reader::new(plain);
        while !r.is_empty() {
            let Ok(t) = varint(&mut r, "") else { return };
            let ok = match t {
                0x00 => {
                    // Runs of PADDING: skip them at once.
                    let n = r.rest().iter().take_while(|b| **b == 0).count();
                    r.bytes(n, "").is_ok()
                }
                0x01 => true,
                0x02 | 0x03 => skip_ack(&mut r, t == 0x03).is_ok(),
                0x06 => match crypto_frame(&mut r) {
                    Ok((off, data)) => {
                        self.add_crypto(off, data);
                        true
                    }
                    Err(_) => false,
                },
                0x1c | 0x1d => skip_close(&mut r, t == 0x1c).is_ok(),
                // Other frames are not allowed in Initial packets; their length is unknown.
                _ => false,
            };
            if !ok {
                return;
            }
        }
    }

    fn add_crypto(&mut self, off: u64, data: &[u8]) {
        if off >= MAX_CRYPTO as u64 || data.is_empty() {
            return;
        }
        let start = off as usize;
        let end = (start + data.len()).min(MAX_CRYPTO);
        if self.crypto.len() < end {
            self.crypto.resize(end, 0);
        }
        self.crypto[start..end].copy_from_slice(&data[..end - start]);
        if self.ranges.len() >= MAX_RANGES {
            return;
        }
        self.ranges.push((start, end));
        self.ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.ranges.len());
        for &(s, e) in &self.ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.ranges = merged;
    }

    fn check_complete(&mut self, version: u32) -> Option<Initial> {
        let prefix = match self.ranges.first() {
            Some(&(0, e)) => e,
            _ => return None,
        };
        let hdr = self.crypto.get(..4)?;
        if prefix < 4 {
            return None;
        }
        let total = u32::from_be_bytes([0, hdr[1], hdr[2], hdr[3]]) as usize + 4;
        if hdr[0] != 1 || total > MAX_CRYPTO {
            return self.give_up(version);
        }
        if prefix < total {
            return None;
        }
        let ch = tls::parse_client_hello(self.crypto.get(..total)?).ok();
        self.done = true;
        let dcid = self
            .keys
            .as_ref()
            .map(|(_, d, _)| d.clone())
            .unwrap_or_default();
        self.crypto = Vec::new();
        self.ranges = Vec::new();
        Some(Initial {
            version,
            dcid,
            scid: std::mem::take(&mut self.scid),
            client_hello: ch,
        })
    }
}

fn skip_ack(r: &mut Reader<'_>, ecn: bool) -> Result<(), ProtoError> {
    varint(r, "ACK largest")?;
    varint(r, "ACK delay")?;
    let count = varint(r, "ACK range count")?;
    varint(r, "ACK first range")?;
    // Each range is at least two bytes: a count beyond that is garbage.
    if count > r.remaining() as u64 {
        return Err(ProtoError::Malformed {
            at: r.at(),
            what: "ACK range count",
        });
    }
    for _ in 0..count {
        varint(r, "ACK gap")?;
        varint(r, "ACK range")?;
    }
    if ecn {
        for _ in 0..3 {
            varint(r, "ACK ECN count")?;
        }
    }
    Ok(())
}

fn skip_close(r: &mut Reader<'_>, transport: bool) -> Result<(), ProtoError> {
    varint(r, "CONNECTION_CLOSE error")?;
    if transport {
        varint(r, "CONNECTION_CLOSE frame type")?;
    }
    let n = varint(r, "CONNECTION_CLOSE reason length")?;
    let n = usize::try_from(n).map_err(|_| ProtoError::Malformed {
        at: r.at(),
        what: "reason length",
    })?;
    r.bytes(n, "CONNECTION_CLOSE reason")?;
    Ok(())
}

fn crypto_frame<'a>(r: &mut Reader<'a>) -> Result<(u64, &'a [u8]), ProtoError> {
    let off = varint(r, "CRYPTO offset")?;
    let len = varint(r, "CRYPTO length")?;
    let len = usize::try_from(len).map_err(|_| ProtoError::Malformed {
        at: r.at(),
        what: "CRYPTO length",
    })?;
    Ok((off, r.bytes(len, "CRYPTO data")?))
}
