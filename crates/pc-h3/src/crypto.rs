//! QUIC packet protection (RFC 9001 §5, RFC 9369 §3.3) on pc-tlsdec's TLS 1.3 key schedule and
//! AEAD ciphers: the Initial secrets, each version's labels, header protection (QUIC's own: an
//! AES or ChaCha20 mask over a ciphertext sample), packet number recovery and key updates.

use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher, StreamCipherSeek};
use pc_tlsdec::crypto::{Bulk, PrfHash, Suite, TrafficKey, hkdf_expand_label, hkdf_extract};

pub use pc_proto::quic::{VERSION_1, VERSION_2, VERSION_DRAFT29};

/// Initial packets are protected with TLS_AES_128_GCM_SHA256 (RFC 9001 §5.2).
pub(crate) const INITIAL_SUITE: u16 = 0x1301;

/// Long-header packet types, as numbered by the version in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// How one QUIC version protects packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flavor {
    salt: &'static [u8; 20],
    v2: bool,
}

impl Flavor {
    /// The flavor of a version this crate can decrypt.
    pub(crate) fn of(version: u32) -> Option<Flavor> {
        // One table of salts for the project: pc-proto's, which also decrypts client Initials.
        pc_proto::quic::initial_salt(version).map(|(salt, v2)| Flavor { salt, v2 })
    }

    /// The packet type of long-header type bits (RFC 9000 §17.2, RFC 9369 §3.2).
    pub(crate) fn long_type(self, bits: u8) -> LongType {
        match (self.v2, bits & 3) {
            (false, 0) | (true, 1) => LongType::Initial,
            (false, 1) | (true, 2) => LongType::ZeroRtt,
            (false, 2) | (true, 3) => LongType::Handshake,
            _ => LongType::Retry,
        }
    }

    fn labels(self) -> Labels {
        if self.v2 {
            Labels {
                key: b"quicv2 key",
                iv: b"quicv2 iv",
                hp: b"quicv2 hp",
                ku: b"quicv2 ku",
            }
        } else {
            Labels {
                key: b"quic key",
                iv: b"quic iv",
                hp: b"quic hp",
                ku: b"quic ku",
            }
        }
    }
}

struct Labels {
    key: &'static [u8],
    iv: &'static [u8],
    hp: &'static [u8],
    ku: &'static [u8],
}

/// HKDF-Expand-Label of `len` bytes (RFC 8446 §7.1, empty context).
fn expand(hash: PrfHash, secret: &[u8], label: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    hkdf_expand_label(hash, secret, label, &mut out)?;
    Some(out)
}

/// Client and server Initial secrets for `version` and the client's chosen Destination
/// Connection ID (RFC 9001 §5.2).
pub(crate) fn initial_secrets(fl: Flavor, dcid: &[u8]) -> Option<[Vec<u8>; 2]> {
    let prk = hkdf_extract(PrfHash::Sha256, fl.salt, dcid);
    let c = expand(PrfHash::Sha256, &prk, b"client in", 32)?;
    let s = expand(PrfHash::Sha256, &prk, b"server in", 32)?;
    Some([c, s])
}

/// AEAD key and IV of one key phase.
struct Keys(TrafficKey);

impl Keys {
    fn derive(suite: Suite, fl: Flavor, secret: &[u8]) -> Option<Keys> {
        let l = fl.labels();
        TrafficKey::derive(&suite, secret, l.key, l.iv).map(Keys)
    }

    /// Open a payload (ciphertext followed by the 16-byte tag) in place; `header` is the
    /// unprotected header, the associated data. Returns the plaintext length.
    fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Option<usize> {
        let ct_len = payload.len().checked_sub(16)?;
        let (ct, tag) = payload.split_at_mut(ct_len);
        self.0.open(pn, header, ct, tag).then_some(ct_len)
    }
}

/// Header protection key.
enum Hp {
    A128(Box<aes::Aes128>),
    A256(Box<aes::Aes256>),
    ChaCha([u8; 32]),
}

impl Hp {
    fn derive(suite: Suite, fl: Flavor, secret: &[u8]) -> Option<Hp> {
        let k = expand(suite.hash, secret, fl.labels().hp, suite.key_len())?;
        Some(match suite.bulk {
            Bulk::AesGcm(16) => Hp::A128(Box::new(aes::Aes128::new_from_slice(&k).ok()?)),
            Bulk::AesGcm(32) => Hp::A256(Box::new(aes::Aes256::new_from_slice(&k).ok()?)),
            Bulk::ChaCha20Poly1305 => Hp::ChaCha(k.try_into().ok()?),
            _ => return None,
        })
    }

    /// The 5-byte mask for a 16-byte ciphertext sample (RFC 9001 §5.4.3, §5.4.4).
    fn mask(&self, sample: &[u8; 16]) -> Option<[u8; 5]> {
        let mut out = [0u8; 5];
        match self {
            Hp::A128(c) => {
                let mut b = aes::Block::from(*sample);
                c.encrypt_block(&mut b);
                out.copy_from_slice(b.get(..5)?);
            }
            Hp::A256(c) => {
                let mut b = aes::Block::from(*sample);
                c.encrypt_block(&mut b);
                out.copy_from_slice(b.get(..5)?);
            }
            Hp::ChaCha(k) => {
                let counter = u32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]);
                let nonce: [u8; 12] = sample[4..].try_into().ok()?;
                let mut c = chacha20::ChaCha20::new(k.into(), (&nonce).into());
                c.try_seek(u64::from(counter) * 64).ok()?;
                c.try_apply_keystream(&mut out).ok()?;
            }
        }
        Some(out)
    }
}

/// Keys of one direction and packet number space: header protection plus the current AEAD
/// keys, and for 1-RTT the key-update chain (RFC 9001 §6).
pub(crate) struct DirKeys {
    suite: Suite,
    flavor: Flavor,
    hp: Hp,
    current: Keys,
    /// Key phase bit of `current`.
    phase: bool,
    /// Secret of `current`, to derive the next generation.
    secret: Vec<u8>,
    next: Option<(Keys, Vec<u8>)>,
    previous: Option<Keys>,
    /// Key updates followed.
    pub(crate) updates: u32,
}

/// A packet with header protection removed.
pub(crate) struct Unprotected {
    /// Full packet number.
    pub pn: u64,
    /// Length of the unprotected header (through the packet number).
    pub header_len: usize,
    /// Key phase bit (short headers).
    pub key_phase: bool,
}

impl DirKeys {
    /// Keys from a traffic secret.
    pub(crate) fn new(suite: Suite, fl: Flavor, secret: &[u8]) -> Option<DirKeys> {
        // QUIC uses TLS 1.3 suites only (RFC 9001 §5.3).
        if !suite.tls13 || secret.len() != suite.hash.output_len() {
            return None;
        }
        Some(DirKeys {
            suite,
            flavor: fl,
            hp: Hp::derive(suite, fl, secret)?,
            current: Keys::derive(suite, fl, secret)?,
            phase: false,
            secret: secret.to_vec(),
            next: None,
            previous: None,
            updates: 0,
        })
    }

    pub(crate) fn suite(&self) -> Suite {
        self.suite
    }

    /// Remove header protection of the packet in `pkt` whose packet number starts at
    /// `pn_offset`, in place; `largest` is the largest packet number opened so far in this space.
    pub(crate) fn unprotect(
        &self,
        pkt: &mut [u8],
        pn_offset: usize,
        largest: Option<u64>,
    ) -> Option<Unprotected> {
        let sample: [u8; 16] = pkt
            .get(pn_offset.checked_add(4)?..pn_offset.checked_add(20)?)?
            .try_into()
            .ok()?;
        let mask = self.hp.mask(&sample)?;
        let first = pkt.first_mut()?;
        let long = *first & 0x80 != 0;
        *first ^= mask[0] & if long { 0x0f } else { 0x1f };
        let first = *first;
        let pn_len = usize::from(first & 3) + 1;
        let pn_bytes = pkt.get_mut(pn_offset..pn_offset + pn_len)?;
        let mut truncated = 0u64;
        for (b, m) in pn_bytes.iter_mut().zip(&mask[1..]) {
            *b ^= m;
            truncated = (truncated << 8) | u64::from(*b);
        }
        Some(Unprotected {
            pn: decode_pn(largest, truncated, pn_len),
            header_len: pn_offset + pn_len,
            key_phase: !long && first & 0x04 != 0,
        })
    }

    /// Open a long-header (or key-phase-less) payload with the current keys.
    pub(crate) fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Option<usize> {
        self.current.open(pn, header, payload)
    }

    /// Open a 1-RTT payload, following key updates: a flipped key phase bit selects the next
    /// generation (adopted once a packet opens with it) or, for late packets, the previous one.
    pub(crate) fn open_1rtt(
        &mut self,
        phase: bool,
        pn: u64,
        header: &[u8],
        payload: &mut [u8],
    ) -> Option<usize> {
        if phase == self.phase {
            return self.current.open(pn, header, payload);
        }
        // A failed attempt leaves `payload` untouched (AEAD verifies before decrypting), so
        // trying two generations in turn is safe.
        if self.next.is_none() {
            let h = self.suite.hash;
            let s = expand(h, &self.secret, self.flavor.labels().ku, h.output_len())?;
            let k = Keys::derive(self.suite, self.flavor, &s)?;
            self.next = Some((k, s));
        }
        if let Some((k, _)) = &self.next
            && let Some(n) = k.open(pn, header, payload)
        {
            if let Some((k, s)) = self.next.take() {
                self.previous = Some(std::mem::replace(&mut self.current, k));
                self.secret = s;
                self.phase = phase;
                self.updates = self.updates.saturating_add(1);
            }
            return Some(n);
        }
        self.previous.as_ref()?.open(pn, header, payload)
    }
}

/// Reconstruct a full packet number from its truncated form (RFC 9000 §A.3).
pub(crate) fn decode_pn(largest: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << (pn_len.clamp(1, 4) * 8);
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::AeadInPlace;
    use pc_tlsdec::crypto::suite;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn aes128() -> Suite {
        suite(INITIAL_SUITE).unwrap()
    }

    #[test]
    fn pn_decoding_rfc9000_a3() {
        assert_eq!(decode_pn(Some(0xa82f30ea), 0x9b32, 2), 0xa82f9b32);
        assert_eq!(decode_pn(None, 0, 1), 0);
        // Out-of-range input must not overflow.
        let _ = decode_pn(Some(u64::MAX), 0xff, 4);
    }

    /// RFC 9001 §A.1/A.2: client Initial keys for DCID 8394c8f03e515708.
    #[test]
    fn initial_keys_rfc9001_a1() {
        let fl = Flavor::of(VERSION_1).unwrap();
        let [c, s] = initial_secrets(fl, &h("8394c8f03e515708")).unwrap();
        assert_eq!(
            c,
            h("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        assert_eq!(
            s,
            h("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
        );
        assert_eq!(
            expand(PrfHash::Sha256, &c, b"quic key", 16).unwrap(),
            h("1f369613dd76d5467730efcbe3b1a22d")
        );
        assert_eq!(
            expand(PrfHash::Sha256, &c, b"quic hp", 16).unwrap(),
            h("9f50449e04a0e810283a1e9933adedd2")
        );
    }

    /// RFC 9369 §A.1: the v2 salt and labels give the client Initial key, IV and hp key.
    #[test]
    fn initial_keys_rfc9369_a1() {
        let fl = Flavor::of(VERSION_2).unwrap();
        let [c, _] = initial_secrets(fl, &h("8394c8f03e515708")).unwrap();
        let l = fl.labels();
        let sha = PrfHash::Sha256;
        assert_eq!(
            expand(sha, &c, l.key, 16).unwrap(),
            h("8b1a0bc121284290a29e0971b5cd045d")
        );
        assert_eq!(
            expand(sha, &c, l.iv, 12).unwrap(),
            h("91f73e2351d8fa91660e909f")
        );
        assert_eq!(
            expand(sha, &c, l.hp, 16).unwrap(),
            h("45b95e15235d6f45a6b19cbcb0294ba9")
        );
    }

    /// RFC 9001 §A.5: ChaCha20-Poly1305 short header packet, and the key update secret.
    #[test]
    fn chacha20_short_header_rfc9001_a5() {
        let secret = h("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
        let fl = Flavor::of(VERSION_1).unwrap();
        let s = suite(0x1303).unwrap();
        assert_eq!(
            expand(s.hash, &secret, b"quic ku", 32).unwrap(),
            h("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
        );
        let mut k = DirKeys::new(s, fl, &secret).unwrap();
        let mut pkt = h("4cfe4189655e5cd55c41f69080575d7999c25a5bfb");
        let u = k.unprotect(&mut pkt, 1, Some(654360563)).unwrap();
        assert_eq!(u.pn, 654360564);
        assert_eq!(&pkt[..4], &h("4200bff4")[..]);
        let (hdr, payload) = pkt.split_at_mut(u.header_len);
        let n = k.open_1rtt(u.key_phase, u.pn, hdr, payload).unwrap();
        assert_eq!(&payload[..n], &[0x01]);
    }

    /// Protect a short-header packet the way a sender would (test-only). Header protection
    /// always uses the first generation's key (RFC 9001 §6.6: `hp` is not updated).
    fn seal(
        fl: Flavor,
        secret: &[u8],
        phase: bool,
        pn: u64,
        dcid: &[u8],
        payload: &[u8],
    ) -> Vec<u8> {
        let hp_secret = [0x11u8; 32];
        let l = fl.labels();
        let s = aes128();
        let key = expand(s.hash, secret, l.key, 16).unwrap();
        let iv = expand(s.hash, secret, l.iv, 12).unwrap();
        let mut pkt = vec![0x40 | (u8::from(phase) << 2) | 0x01];
        pkt.extend_from_slice(dcid);
        let pn_offset = pkt.len();
        pkt.extend_from_slice(&(pn as u16).to_be_bytes());
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&iv);
        for (n, b) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= b;
        }
        let aead = aes_gcm::Aes128Gcm::new_from_slice(&key).unwrap();
        let mut body = payload.to_vec();
        let tag = aead
            .encrypt_in_place_detached((&nonce).into(), &pkt, &mut body)
            .unwrap();
        pkt.extend_from_slice(&body);
        pkt.extend_from_slice(&tag);
        let hp = Hp::derive(s, fl, &hp_secret).unwrap();
        let sample: [u8; 16] = pkt[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mask = hp.mask(&sample).unwrap();
        pkt[0] ^= mask[0] & 0x1f;
        pkt[pn_offset] ^= mask[1];
        pkt[pn_offset + 1] ^= mask[2];
        pkt
    }

    fn open_short(
        k: &mut DirKeys,
        mut pkt: Vec<u8>,
        dcid_len: usize,
        largest: Option<u64>,
    ) -> Option<Vec<u8>> {
        let u = k.unprotect(&mut pkt, 1 + dcid_len, largest)?;
        let (hdr, payload) = pkt.split_at_mut(u.header_len);
        let n = k.open_1rtt(u.key_phase, u.pn, hdr, payload)?;
        Some(payload[..n].to_vec())
    }

    /// Key updates (RFC 9001 §6) for v1 and v2 labels: the next generation is adopted when a
    /// flipped key phase opens, late packets of the previous phase still open, and a second
    /// flip derives the generation after.
    #[test]
    fn key_updates() {
        for version in [VERSION_1, VERSION_2] {
            let fl = Flavor::of(version).unwrap();
            let s0 = vec![0x11u8; 32];
            let s1 = expand(PrfHash::Sha256, &s0, fl.labels().ku, 32).unwrap();
            let s2 = expand(PrfHash::Sha256, &s1, fl.labels().ku, 32).unwrap();
            let dcid = [9u8; 8];
            let mut k = DirKeys::new(aes128(), fl, &s0).unwrap();
            let p = b"frame bytes here";
            assert_eq!(
                open_short(&mut k, seal(fl, &s0, false, 0, &dcid, p), 8, None).unwrap(),
                p
            );
            assert_eq!(
                open_short(&mut k, seal(fl, &s1, true, 2, &dcid, p), 8, Some(0)).unwrap(),
                p
            );
            assert_eq!(k.updates, 1);
            // A late packet of the previous phase.
            assert_eq!(
                open_short(&mut k, seal(fl, &s0, false, 1, &dcid, p), 8, Some(2)).unwrap(),
                p
            );
            assert_eq!(k.updates, 1);
            assert_eq!(
                open_short(&mut k, seal(fl, &s2, false, 3, &dcid, p), 8, Some(2)).unwrap(),
                p
            );
            assert_eq!(k.updates, 2);
            // Tampering fails authentication, without panicking or changing keys.
            let mut bad = seal(fl, &s2, false, 4, &dcid, p);
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(open_short(&mut k, bad, 8, Some(3)).is_none());
            assert_eq!(k.updates, 2);
            // The wrong labels (v1 vs v2) do not open.
            let other = Flavor::of(if version == VERSION_1 {
                VERSION_2
            } else {
                VERSION_1
            })
            .unwrap();
            let mut k2 = DirKeys::new(aes128(), other, &s0).unwrap();
            assert!(open_short(&mut k2, seal(fl, &s0, false, 0, &dcid, p), 8, None).is_none());
            // Truncated packets at every length.
            let full = seal(fl, &s0, false, 5, &dcid, p);
            for n in 0..full.len() {
                assert!(open_short(&mut k, full[..n].to_vec(), 8, Some(4)).is_none());
            }
        }
    }

    #[test]
    fn secrets_of_the_wrong_length_are_refused() {
        let fl = Flavor::of(VERSION_1).unwrap();
        let [a128, a256, chacha] = [0x1301, 0x1302, 0x1303].map(|id| suite(id).unwrap());
        assert!(DirKeys::new(a256, fl, &[0u8; 32]).is_none());
        assert!(DirKeys::new(a128, fl, &[0u8; 48]).is_none());
        assert!(DirKeys::new(a256, fl, &[0u8; 48]).is_some());
        assert!(DirKeys::new(chacha, fl, &[]).is_none());
        // A TLS 1.2 suite has no QUIC protection.
        assert!(DirKeys::new(suite(0xc02f).unwrap(), fl, &[0u8; 32]).is_none());
    }
}
