//! TLS record protection of one direction: the nonce, associated data and padding of TLS 1.0–1.2
//! (AEAD; CBC with HMAC, MAC-then-encrypt or encrypt-then-MAC, chained or explicit IVs) and TLS
//! 1.3 records (inner content type), on top of [`crate::crypto`].

use crate::crypto::{Aead, Bulk, MacAlg, Suite, TrafficKey};
use aes::cipher::{BlockDecryptMut, InnerIvInit, KeyInit, block_padding::NoPadding};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};

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

#[allow(clippy::large_enum_variant)] // always boxed in `Kind`
enum Block {
    Aes128(aes::Aes128),
    Aes256(aes::Aes256),
}

enum MacKey {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
}

impl MacKey {
    fn new(alg: MacAlg, key: &[u8]) -> Option<MacKey> {
        Some(match alg {
            MacAlg::Sha1 => MacKey::Sha1(<Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?),
            MacAlg::Sha256 => MacKey::Sha256(<Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?),
            MacAlg::Sha384 => MacKey::Sha384(<Hmac<Sha384> as KeyInit>::new_from_slice(key).ok()?),
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
    /// Nonces per [`Framing::Gcm12`] or [`Framing::XorSeq`]; the key's IV is the salt or IV.
    Aead(TrafficKey),
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
        Some(RecordCipher {
            kind: Kind::Aead(TrafficKey::derive(suite, secret, b"key", b"iv")?),
            framing: Framing::XorSeq,
            iv: [0; 16],
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
        let aead_iv = <[u8; 12]>::try_from(&ivb[..12]).ok()?;
        let (kind, framing) = match suite.bulk {
            Bulk::AesGcm(_) => (
                Kind::Aead(TrafficKey::new(Aead::new(suite.bulk, key)?, aead_iv)),
                Framing::Gcm12,
            ),
            Bulk::ChaCha20Poly1305 => (
                Kind::Aead(TrafficKey::new(Aead::new(suite.bulk, key)?, aead_iv)),
                Framing::XorSeq,
            ),
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
            Kind::Aead(key) => {
                // TLS 1.2 AES-GCM carries the nonce's last 8 bytes in the record.
                let (explicit, rest) = match self.framing {
                    Framing::Gcm12 => {
                        let (e, rest) = payload.split_at_checked(8).ok_or(RecordError::Short)?;
                        (<[u8; 8]>::try_from(e).ok(), rest)
                    }
                    _ => (None, payload),
                };
                let ct_len = rest.len().checked_sub(16).ok_or(RecordError::Short)?;
                let (ct, tag) = rest.split_at(ct_len);
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
                let opened = match explicit {
                    Some(e) => key.open_explicit(&e, aad, buf, tag),
                    None => key.open(self.seq, aad, buf, tag),
                };
                if !opened {
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
