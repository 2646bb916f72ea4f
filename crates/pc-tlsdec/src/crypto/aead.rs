//! The AEAD ciphers of TLS 1.2/1.3 and QUIC (AES-128/256-GCM, ChaCha20-Poly1305), opened in
//! place, and the TLS 1.3 traffic key: key and IV expanded from a secret, nonces IV XOR
//! sequence number (RFC 8446 §5.3; QUIC uses the packet number, RFC 9001 §5.3).

use super::{Bulk, Suite, hkdf_expand_label};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;

/// An AEAD key.
pub enum Aead {
    /// AES-128-GCM.
    Aes128(Box<Aes128Gcm>),
    /// AES-256-GCM.
    Aes256(Box<Aes256Gcm>),
    /// ChaCha20-Poly1305.
    ChaCha(Box<ChaCha20Poly1305>),
}

impl Aead {
    /// The key of an AEAD bulk cipher; `None` for CBC suites or a key of the wrong length.
    pub fn new(bulk: Bulk, key: &[u8]) -> Option<Aead> {
        Some(match bulk {
            Bulk::AesGcm(16) => Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Bulk::AesGcm(32) => Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            Bulk::ChaCha20Poly1305 => {
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
            _ => return None,
        })
    }

    /// Decrypt `buf` (ciphertext without tag) in place. On failure `buf` is unchanged (the
    /// tag is checked before decrypting), so several keys can be tried in turn.
    pub fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        if tag.len() != 16 {
            return false;
        }
        let n = aes_gcm::Nonce::from_slice(nonce);
        match self {
            Aead::Aes128(c) => c.decrypt_in_place_detached(n, aad, buf, tag.into()).is_ok(),
            Aead::Aes256(c) => c.decrypt_in_place_detached(n, aad, buf, tag.into()).is_ok(),
            Aead::ChaCha(c) => c.decrypt_in_place_detached(n, aad, buf, tag.into()).is_ok(),
        }
    }
}

/// An AEAD key with its static IV, as TLS 1.3 and QUIC derive them from a traffic secret.
pub struct TrafficKey {
    aead: Aead,
    iv: [u8; 12],
}

impl TrafficKey {
    /// Expand key and IV from `secret` with the labels of the protocol ("key"/"iv" for TLS
    /// 1.3, "quic key"/"quic iv" or the v2 labels for QUIC); `None` for non-AEAD suites or a
    /// secret unusable with the suite's hash.
    pub fn derive(
        suite: &Suite,
        secret: &[u8],
        key_label: &[u8],
        iv_label: &[u8],
    ) -> Option<TrafficKey> {
        let mut key = [0u8; 32];
        let key = key.get_mut(..suite.key_len())?;
        hkdf_expand_label(suite.hash, secret, key_label, key)?;
        let mut iv = [0u8; 12];
        hkdf_expand_label(suite.hash, secret, iv_label, &mut iv)?;
        Some(TrafficKey {
            aead: Aead::new(suite.bulk, key)?,
            iv,
        })
    }

    /// Key and IV given directly (TLS 1.2 ChaCha20-Poly1305 takes both from the key block).
    pub fn new(aead: Aead, iv: [u8; 12]) -> TrafficKey {
        TrafficKey { aead, iv }
    }

    /// Open ciphertext `buf` in place with the nonce of sequence (or packet) number `seq`.
    pub fn open(&self, seq: u64, aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        self.aead.open(&nonce, aad, buf, tag)
    }

    /// Open with the nonce of TLS 1.2 AES-GCM (RFC 5288 §3): the IV's first 4 bytes (the
    /// implicit salt) and the 8 explicit bytes sent in the record.
    pub fn open_explicit(
        &self,
        explicit: &[u8; 8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> bool {
        let mut nonce = self.iv;
        nonce[4..].copy_from_slice(explicit);
        self.aead.open(&nonce, aad, buf, tag)
    }
}
