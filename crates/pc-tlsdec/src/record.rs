//! Cipher suites, key derivation (TLS 1.0/1.1 and 1.2 PRFs, TLS 1.3 HKDF-Expand-Label) and
//! record decryption (AEAD and CBC with HMAC).

use aes::cipher::{BlockDecryptMut, InnerIvInit, KeyInit, block_padding::NoPadding};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha256, Sha384};

/// Hash function of a suite's PRF / HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrfHash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl PrfHash {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            PrfHash::Sha256 => 32,
            PrfHash::Sha384 => 48,
        }
    }
}

/// Record MAC of a CBC suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlg {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA384.
    Sha384,
}

impl MacAlg {
    fn len(self) -> usize {
        match self {
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// Bulk cipher of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bulk {
    /// AES-GCM with a 16- or 32-byte key.
    AesGcm(usize),
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
    /// AES-CBC with a 16- or 32-byte key and an HMAC.
    AesCbc(usize, MacAlg),
}

/// What decrypting a cipher suite needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    /// IANA code.
    pub id: u16,
    /// Bulk cipher (and MAC).
    pub bulk: Bulk,
    /// PRF hash (TLS 1.2) or HKDF hash (TLS 1.3).
    pub hash: PrfHash,
    /// Key exchange is RSA (the pre-master secret can be logged as `RSA …`).
    pub rsa_kx: bool,
    /// A TLS 1.3 suite.
    pub tls13: bool,
}

/// The cipher suites this crate decrypts.
pub fn suite(id: u16) -> Option<Suite> {
    use Bulk::*;
    use MacAlg as M;
    use PrfHash::*;
    let (bulk, hash, rsa_kx, tls13) = match id {
        // TLS 1.3.
        0x1301 => (AesGcm(16), Sha256, false, true),
        0x1302 => (AesGcm(32), Sha384, false, true),
        0x1303 => (ChaCha20Poly1305, Sha256, false, true),
        // AES-GCM.
        0x009c => (AesGcm(16), Sha256, true, false),
        0x009d => (AesGcm(32), Sha384, true, false),
        0x009e | 0x00a2 | 0x00a8 | 0x00aa | 0x00ac | 0xc02b | 0xc02d | 0xc02f | 0xc031 | 0xd001 => {
            (AesGcm(16), Sha256, false, false)
        }
        0x009f | 0x00a3 | 0x00a9 | 0x00ab | 0x00ad | 0xc02c | 0xc02e | 0xc030 | 0xc032 | 0xd002 => {
            (AesGcm(32), Sha384, false, false)
        }
        // ChaCha20-Poly1305 (RFC 7905).
        0xcca8..=0xccae => (ChaCha20Poly1305, Sha256, false, false),
        // AES-CBC with HMAC-SHA1.
        0x002f => (AesCbc(16, M::Sha1), Sha256, true, false),
        0x0035 => (AesCbc(32, M::Sha1), Sha256, true, false),
        0x0030 | 0x0031 | 0x0032 | 0x0033 | 0x0034 | 0x008c | 0x0090 | 0x0094 | 0xc004 | 0xc009
        | 0xc00e | 0xc013 | 0xc018 | 0xc01d | 0xc01e | 0xc01f | 0xc035 => {
            (AesCbc(16, M::Sha1), Sha256, false, false)
        }
        0x0036 | 0x0037 | 0x0038 | 0x0039 | 0x003a | 0x008d | 0x0091 | 0x0095 | 0xc005 | 0xc00a
        | 0xc00f | 0xc014 | 0xc019 | 0xc020 | 0xc021 | 0xc022 | 0xc036 => {
            (AesCbc(32, M::Sha1), Sha256, false, false)
        }
        // AES-CBC with HMAC-SHA256 / SHA384.
        0x003c => (AesCbc(16, M::Sha256), Sha256, true, false),
        0x003d => (AesCbc(32, M::Sha256), Sha256, true, false),
        0x003e | 0x003f | 0x0040 | 0x0067 | 0x006c | 0x00ae | 0x00b2 | 0x00b6 | 0xc023 | 0xc025
        | 0xc027 | 0xc029 | 0xc037 => (AesCbc(16, M::Sha256), Sha256, false, false),
        0x0068 | 0x0069 | 0x006a | 0x006b | 0x006d => (AesCbc(32, M::Sha256), Sha256, false, false),
        0x00af | 0x00b3 | 0x00b7 | 0xc024 | 0xc026 | 0xc028 | 0xc02a | 0xc038 => {
            (AesCbc(32, M::Sha384), Sha384, false, false)
        }
        _ => return None,
    };
    Some(Suite {
        id,
        bulk,
        hash,
        rsa_kx,
        tls13,
    })
}

type HmacSha256 = Hmac<Sha256>;
type HmacSha384 = Hmac<Sha384>;

/// P_hash (RFC 5246 §5), XORed into `out`.
fn p_hash_xor<M: Mac + KeyInit + Clone>(
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) {
    let Ok(base) = <M as KeyInit>::new_from_slice(secret) else {
        return;
    };
    // A(1) = HMAC(secret, label + seed)
    let mut m = base.clone();
    m.update(label);
    for s in seed {
        m.update(s);
    }
    let mut a = m.finalize().into_bytes();
    let mut pos = 0;
    while pos < out.len() {
        let mut m = base.clone();
        m.update(&a);
        m.update(label);
        for s in seed {
            m.update(s);
        }
        let block = m.finalize().into_bytes();
        for (o, b) in out[pos..].iter_mut().zip(block.iter()) {
            *o ^= b;
        }
        pos += block.len();
        let mut m = base.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// The PRF of a protocol version: TLS 1.2 uses P_SHA256 or P_SHA384; TLS 1.0/1.1 use
/// P_MD5 XOR P_SHA1 over the two halves of the secret.
pub fn prf(
    tls12: bool,
    hash: PrfHash,
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) {
    out.fill(0);
    if tls12 {
        match hash {
            PrfHash::Sha256 => p_hash_xor::<HmacSha256>(secret, label, seed, out),
            PrfHash::Sha384 => p_hash_xor::<HmacSha384>(secret, label, seed, out),
        }
    } else {
        let half = secret.len().div_ceil(2);
        let s1 = secret.get(..half).unwrap_or(secret);
        let s2 = secret.get(secret.len() - half..).unwrap_or(secret);
        p_hash_xor::<Hmac<Md5>>(s1, label, seed, out);
        p_hash_xor::<Hmac<Sha1>>(s2, label, seed, out);
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context. `None` if `secret` is not a
/// usable PRK or `out` is too long.
pub fn hkdf_expand_label(hash: PrfHash, secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    let len = u16::try_from(out.len()).ok()?;
    let full_len = u8::try_from(label.len() + 6).ok()?;
    let mut info = Vec::with_capacity(4 + full_len as usize);
    info.extend_from_slice(&len.to_be_bytes());
    info.push(full_len);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    match hash {
        PrfHash::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, out)
            .ok(),
        PrfHash::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, out)
            .ok(),
    }
}

/// Why a record did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// AEAD authentication failed (wrong key, corrupt record or not ours).
    #[error("AEAD tag")]
    AeadTag,
    /// CBC record MAC (or padding) wrong.
    #[error("bad record MAC")]
    BadMac,
    /// Record too short for its cipher.
    #[error("record too short")]
    Short,
}

impl RecordError {
    /// Static description.
    pub fn describe(self) -> &'static str {
        match self {
            RecordError::AeadTag => "AEAD tag",
            RecordError::BadMac => "bad record MAC",
            RecordError::Short => "record too short",
        }
    }
}

enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

impl Aead {
    fn new(bulk: Bulk, key: &[u8]) -> Option<Aead> {
        Some(match bulk {
            Bulk::AesGcm(16) => Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Bulk::AesGcm(32) => Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            Bulk::ChaCha20Poly1305 => {
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
            _ => return None,
        })
    }

    /// Decrypt `buf` (ciphertext without tag) in place.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        let n = aes_gcm::Nonce::from_slice(nonce);
        match self {
            Aead::Aes128(c) => c.decrypt_in_place_detached(n, aad, buf, tag.into()).is_ok(),
            Aead::Aes256(c) => c.decrypt_in_place_detached(n, aad, buf, tag.into()).is_ok(),
            Aead::ChaCha(c) => c.decrypt_in_place_detached(n, aad, buf, tag.into()).is_ok(),
        }
    }
}

#[allow(clippy::large_enum_variant)] // always boxed in `Kind`
enum Block {
    Aes128(aes::Aes128),
    Aes256(aes::Aes256),
}

enum MacKey {
    Sha1(Hmac<Sha1>),
    Sha256(HmacSha256),
    Sha384(HmacSha384),
}

impl MacKey {
    fn new(alg: MacAlg, key: &[u8]) -> Option<MacKey> {
        Some(match alg {
            MacAlg::Sha1 => MacKey::Sha1(<Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?),
            MacAlg::Sha256 => MacKey::Sha256(<HmacSha256 as KeyInit>::new_from_slice(key).ok()?),
            MacAlg::Sha384 => MacKey::Sha384(<HmacSha384 as KeyInit>::new_from_slice(key).ok()?),
        })
    }

    /// Compare the MAC over `parts` with `expected`.
    fn check(&self, parts: &[&[u8]], expected: &[u8]) -> bool {
        fn run<M: Mac + Clone>(m: &M, parts: &[&[u8]], expected: &[u8]) -> bool {
            let mut m = m.clone();
            for p in parts {
                m.update(p);
            }
            m.verify_slice(expected).is_ok()
        }
        match self {
            MacKey::Sha1(m) => run(m, parts, expected),
            MacKey::Sha256(m) => run(m, parts, expected),
            MacKey::Sha384(m) => run(m, parts, expected),
        }
    }
}

/// How the record nonce / IV is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// TLS 1.2 AES-GCM: 4-byte implicit salt + 8-byte explicit nonce in the record.
    Gcm12,
    /// TLS 1.2 ChaCha20-Poly1305 and all of TLS 1.3: 12-byte IV XOR sequence number.
    XorSeq,
    /// CBC with an explicit per-record IV (TLS 1.1+).
    CbcExplicit,
    /// CBC with the IV chained from the previous record (TLS 1.0).
    CbcChained,
}

/// One direction's record protection.
pub struct RecordCipher {
    kind: Kind,
    framing: Framing,
    iv: [u8; 16],
    /// Sequence number of the next record.
    pub seq: u64,
    /// TLS 1.3 record (inner content type, AAD = record header).
    tls13: bool,
    /// Encrypt-then-MAC (RFC 7366) for CBC.
    etm: bool,
}

enum Kind {
    Aead(Aead),
    Cbc {
        block: Box<Block>,
        mac: Box<MacKey>,
        mac_len: usize,
    },
}

/// A decrypted record: inner content type and plaintext (in the caller's buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// Content type (the inner one for TLS 1.3).
    pub content_type: u8,
    /// Plaintext length at the start of the buffer.
    pub len: usize,
}

impl RecordCipher {
    /// AEAD protection for a TLS 1.3 traffic secret.
    pub fn tls13(suite: &Suite, secret: &[u8]) -> Option<RecordCipher> {
        let key_len = match suite.bulk {
            Bulk::AesGcm(n) => n,
            Bulk::ChaCha20Poly1305 => 32,
            Bulk::AesCbc(..) => return None,
        };
        let mut key = [0u8; 32];
        let key = key.get_mut(..key_len)?;
        hkdf_expand_label(suite.hash, secret, b"key", key)?;
        let mut iv = [0u8; 16];
        hkdf_expand_label(suite.hash, secret, b"iv", iv.get_mut(..12)?)?;
        Some(RecordCipher {
            kind: Kind::Aead(Aead::new(suite.bulk, key)?),
            framing: Framing::XorSeq,
            iv,
            seq: 0,
            tls13: true,
            etm: false,
        })
    }

    /// TLS ≤ 1.2 protection from the key block slices for one direction.
    pub fn tls12(
        suite: &Suite,
        version: u16,
        mac_key: &[u8],
        key: &[u8],
        iv: &[u8],
        etm: bool,
    ) -> Option<RecordCipher> {
        let mut ivb = [0u8; 16];
        ivb.get_mut(..iv.len())?.copy_from_slice(iv);
        let (kind, framing) = match suite.bulk {
            Bulk::AesGcm(_) => (Kind::Aead(Aead::new(suite.bulk, key)?), Framing::Gcm12),
            Bulk::ChaCha20Poly1305 => (Kind::Aead(Aead::new(suite.bulk, key)?), Framing::XorSeq),
            Bulk::AesCbc(n, alg) => {
                let block = match n {
                    16 => Block::Aes128(aes::Aes128::new_from_slice(key).ok()?),
                    _ => Block::Aes256(aes::Aes256::new_from_slice(key).ok()?),
                };
                let framing = if version <= 0x0301 {
                    Framing::CbcChained
                } else {
                    Framing::CbcExplicit
                };
                (
                    Kind::Cbc {
                        block: Box::new(block),
                        mac: Box::new(MacKey::new(alg, mac_key)?),
                        mac_len: alg.len(),
                    },
                    framing,
                )
            }
        };
        Some(RecordCipher {
            kind,
            framing,
            iv: ivb,
            seq: 0,
            tls13: false,
            etm,
        })
    }

    /// Decrypt one record. `buf` receives the plaintext (it is cleared first); on success the
    /// sequence number advances. `version` is the record header's version field.
    pub fn open(
        &mut self,
        content_type: u8,
        version: u16,
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<Opened, RecordError> {
        buf.clear();
        let seq = self.seq.to_be_bytes();
        let r = match &self.kind {
            Kind::Aead(aead) => {
                let (explicit, rest) = match self.framing {
                    Framing::Gcm12 => payload.split_at_checked(8).ok_or(RecordError::Short)?,
                    _ => (&payload[..0], payload),
                };
                let ct_len = rest.len().checked_sub(16).ok_or(RecordError::Short)?;
                let (ct, tag) = rest.split_at(ct_len);
                let mut nonce = [0u8; 12];
                if self.framing == Framing::Gcm12 {
                    nonce[..4].copy_from_slice(&self.iv[..4]);
                    nonce[4..].copy_from_slice(explicit);
                } else {
                    nonce.copy_from_slice(&self.iv[..12]);
                    for (n, s) in nonce[4..].iter_mut().zip(seq) {
                        *n ^= s;
                    }
                }
                let mut aad = [0u8; 13];
                let aad: &[u8] = if self.tls13 {
                    aad[0] = content_type;
                    aad[1..3].copy_from_slice(&version.to_be_bytes());
                    aad[3..5].copy_from_slice(&(payload.len() as u16).to_be_bytes());
                    &aad[..5]
                } else {
                    aad[..8].copy_from_slice(&seq);
                    aad[8] = content_type;
                    aad[9..11].copy_from_slice(&version.to_be_bytes());
                    aad[11..13].copy_from_slice(&(ct_len as u16).to_be_bytes());
                    &aad
                };
                buf.extend_from_slice(ct);
                if !aead.open(&nonce, aad, buf, tag) {
                    buf.clear();
                    return Err(RecordError::AeadTag);
                }
                if self.tls13 {
                    // Inner plaintext: content, type, zero padding.
                    let Some(end) = buf.iter().rposition(|&b| b != 0) else {
                        buf.clear();
                        return Err(RecordError::AeadTag);
                    };
                    let ty = buf[end];
                    buf.truncate(end);
                    Ok(Opened {
                        content_type: ty,
                        len: end,
                    })
                } else {
                    Ok(Opened {
                        content_type,
                        len: buf.len(),
                    })
                }
            }
            Kind::Cbc {
                block,
                mac,
                mac_len,
            } => self.open_cbc(block, mac, *mac_len, content_type, version, payload, buf),
        };
        if r.is_ok() {
            self.seq = self.seq.wrapping_add(1);
        }
        r
    }

    /// Records decrypted with this cipher are real: a later corrupt one still used up its
    /// sequence number at the sender.
    pub fn skip_record(&mut self) {
        self.seq = self.seq.wrapping_add(1);
    }

    #[allow(clippy::too_many_arguments)]
    fn open_cbc(
        &self,
        block: &Block,
        mac: &MacKey,
        mac_len: usize,
        content_type: u8,
        version: u16,
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<Opened, RecordError> {
        let seq = self.seq.to_be_bytes();
        let explicit = self.framing == Framing::CbcExplicit;
        let mut hdr = [0u8; 13];
        hdr[..8].copy_from_slice(&seq);
        hdr[8] = content_type;
        hdr[9..11].copy_from_slice(&version.to_be_bytes());
        // Encrypt-then-MAC: the MAC covers IV + ciphertext and is checked before decrypting.
        let body = if self.etm {
            let n = payload
                .len()
                .checked_sub(mac_len)
                .ok_or(RecordError::Short)?;
            let (body, tag) = payload.split_at(n);
            hdr[11..13].copy_from_slice(&(n as u16).to_be_bytes());
            if !mac.check(&[&hdr, body], tag) {
                return Err(RecordError::BadMac);
            }
            body
        } else {
            payload
        };
        let (iv, ct): (&[u8], &[u8]) = if explicit {
            body.split_at_checked(16).ok_or(RecordError::Short)?
        } else {
            (&self.iv[..], body)
        };
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(RecordError::Short);
        }
        buf.extend_from_slice(ct);
        let ok = match block {
            Block::Aes128(b) => cbc::Decryptor::<aes::Aes128>::inner_iv_slice_init(b.clone(), iv)
                .ok()
                .and_then(|d| d.decrypt_padded_mut::<NoPadding>(buf).ok().map(|_| ())),
            Block::Aes256(b) => cbc::Decryptor::<aes::Aes256>::inner_iv_slice_init(b.clone(), iv)
                .ok()
                .and_then(|d| d.decrypt_padded_mut::<NoPadding>(buf).ok().map(|_| ())),
        };
        if ok.is_none() {
            buf.clear();
            return Err(RecordError::Short);
        }
        // Padding: the last byte p, preceded by p bytes equal to p.
        let p = *buf.last().ok_or(RecordError::Short)? as usize;
        let pad_ok = buf.len() > p && buf[buf.len() - 1 - p..].iter().all(|&b| b as usize == p);
        if !pad_ok {
            buf.clear();
            return Err(RecordError::BadMac);
        }
        let mut len = buf.len() - 1 - p;
        if !self.etm {
            let Some(l) = len.checked_sub(mac_len) else {
                buf.clear();
                return Err(RecordError::BadMac);
            };
            len = l;
            hdr[11..13].copy_from_slice(&(len as u16).to_be_bytes());
            let (pt, rest) = buf.split_at(len);
            if !mac.check(&[&hdr, pt], &rest[..mac_len]) {
                buf.clear();
                return Err(RecordError::BadMac);
            }
        }
        buf.truncate(len);
        Ok(Opened { content_type, len })
    }

    /// TLS 1.0 CBC: the next record's IV is this record's last ciphertext block (whether or not
    /// it decrypted: the sender chained it).
    pub fn chain_iv(&mut self, payload: &[u8]) {
        if self.framing == Framing::CbcChained {
            let body = if self.etm {
                let mac_len = match &self.kind {
                    Kind::Cbc { mac_len, .. } => *mac_len,
                    Kind::Aead(_) => 0,
                };
                payload.get(..payload.len().saturating_sub(mac_len))
            } else {
                Some(payload)
            };
            if let Some(last) = body.and_then(|b| b.len().checked_sub(16).and_then(|s| b.get(s..)))
            {
                self.iv.copy_from_slice(last);
            }
        }
    }
}
