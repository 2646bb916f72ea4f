//! The handshake as a decryptor needs it: messages reassembled from (possibly decrypted)
//! records, the hellos (read with pc-proto's parser), the TLS ≤ 1.2 master secret and key
//! block, resumption, and the TLS 1.3 key changes that handshake messages announce.

use super::{Session, Stage, Switch};
use crate::crypto::{Bulk, MacAlg, PrfHash, key_expansion, prf, suite, tls13_suites_for_secret};
use crate::record::RecordCipher;
use crate::resumption::lock;
use md5::Md5;
use pc_proto::Reader;
use pc_proto::tls::{handshake_type as hs, version};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

/// Running hashes of the TLS ≤ 1.2 handshake, for the extended master secret's session hash
/// (needed only when the pre-master secret, not the master secret, is logged).
#[derive(Clone, Default)]
pub(super) struct Transcript {
    sha256: Sha256,
    sha384: Sha384,
    md5: Md5,
    sha1: Sha1,
}

impl Session {
    /// Reassemble handshake messages from record payloads.
    pub(super) fn handshake_bytes(&mut self, di: usize, mut piece: &[u8], decrypted: bool) {
        let max = self.limits.max_handshake_len;
        while !piece.is_empty() {
            let d = &mut self.dirs[di];
            if d.hs_skip > 0 {
                let n = d.hs_skip.min(piece.len());
                d.hs_skip -= n;
                piece = &piece[n..];
                continue;
            }
            if d.hs.len() < 4 {
                let n = (4 - d.hs.len()).min(piece.len());
                d.hs.extend_from_slice(&piece[..n]);
                piece = &piece[n..];
                if d.hs.len() < 4 {
                    return;
                }
            }
            let body = u32::from_be_bytes([0, d.hs[1], d.hs[2], d.hs[3]]) as usize;
            let total = body + 4;
            if total > max {
                // Too large to keep (a certificate chain): hash it if needed, then skip.
                d.hs.clear();
                d.hs_skip = body;
                if !decrypted {
                    // The extended master secret's session hash would need these bytes.
                    self.transcript = None;
                }
                continue;
            }
            let n = (total - d.hs.len()).min(piece.len());
            d.hs.extend_from_slice(&piece[..n]);
            piece = &piece[n..];
            if d.hs.len() == total {
                let msg = std::mem::take(&mut self.dirs[di].hs);
                self.handshake_message(di, &msg, decrypted);
                let mut msg = msg;
                msg.clear();
                self.dirs[di].hs = msg;
            }
        }
    }

    fn handshake_message(&mut self, di: usize, msg: &[u8], decrypted: bool) {
        let Some((&ty, _)) = msg.split_first() else {
            return;
        };
        let body = msg.get(4..).unwrap_or_default();
        let tls13 = self.version == version::TLS1_3;
        if !decrypted && !tls13 {
            self.hash_transcript(msg);
        }
        match (di, ty) {
            (0, hs::CLIENT_HELLO) if !decrypted => self.client_hello(msg),
            (1, hs::SERVER_HELLO) if !decrypted => self.server_hello(msg),
            (1, hs::NEW_SESSION_TICKET) if !tls13 => {
                // lifetime (4), ticket<0..2^16-1>
                let mut r = Reader::new(body);
                let ticket = r.u32("ticket lifetime").and_then(|_| {
                    let n = r.u16("ticket length")?;
                    r.bytes(n.into(), "ticket")
                });
                if let Ok(ticket) = ticket
                    && !ticket.is_empty()
                {
                    match (self.master, &self.cache) {
                        (Some(m), Some(c)) => lock(c).insert_ticket(ticket, m),
                        (None, Some(_)) if self.tickets.len() < 4 => {
                            self.tickets.push(ticket.to_vec())
                        }
                        _ => {}
                    }
                }
            }
            (0, hs::CLIENT_KEY_EXCHANGE) if !decrypted && !tls13 => {
                self.client_key_exchange(body);
                self.transcript = None;
            }
            (0, hs::END_OF_EARLY_DATA) if tls13 => self.dirs[0].switch = Switch::ToHandshake,
            (1, hs::ENCRYPTED_EXTENSIONS) if tls13 => {
                let (ee, _) = pc_proto::tls::parse_encrypted_extensions(msg);
                if ee.alpn.is_some() {
                    self.alpn = ee.alpn;
                }
                self.early_accepted = Some(ee.early_data && self.client_offered_early);
            }
            (_, hs::FINISHED) if decrypted => {
                self.stats.finished_decrypted += 1;
                if tls13 {
                    self.dirs[di].switch = Switch::ToApplication;
                }
            }
            (_, hs::KEY_UPDATE) if tls13 && decrypted => self.dirs[di].switch = Switch::KeyUpdate,
            _ => {}
        }
    }

    fn hash_transcript(&mut self, msg: &[u8]) {
        if let Some(t) = self.transcript.as_mut() {
            t.sha256.update(msg);
            t.sha384.update(msg);
            t.md5.update(msg);
            t.sha1.update(msg);
        }
    }

    fn client_hello(&mut self, msg: &[u8]) {
        // A malformed extension (an SNI, say) does not stop decryption.
        let Ok((h, _)) = pc_proto::tls::parse_client_hello_lenient(msg) else {
            return;
        };
        if self.client_random.is_some() && !self.hello_retry {
            // A second ClientHello without HelloRetryRequest (renegotiation): ignore.
            return;
        }
        self.client_random = Some(h.random);
        self.client_session_id = h.session_id;
        self.client_ticket = h.session_ticket.unwrap_or_default();
        // Early data is not allowed after a HelloRetryRequest.
        self.client_offered_early = h.early_data && !self.hello_retry;
        self.early.clear();
        if self.client_offered_early
            && let Some(secret) = self
                .keys
                .lookup(&h.random)
                .and_then(|s| s.client_early.clone())
        {
            // The PSK's suite is unknown until the ServerHello: try those matching the hash.
            for id in tls13_suites_for_secret(secret.len()) {
                if let Some(c) = suite(*id).and_then(|s| RecordCipher::tls13(&s, &secret)) {
                    self.early.push((*id, c));
                }
            }
        }
        // Client records before the ServerHello can only be 0-RTT data.
        self.dirs[0].stage = if self.client_offered_early {
            Stage::Early
        } else {
            Stage::None
        };
    }

    fn server_hello(&mut self, msg: &[u8]) {
        let Ok((h, _)) = pc_proto::tls::parse_server_hello_lenient(msg) else {
            return;
        };
        if self.server_random.is_some() && !self.hello_retry {
            return;
        }
        let selected = h.version;
        if h.hello_retry && selected == version::TLS1_3 {
            self.hello_retry = true;
            self.suite_id = Some(h.cipher_suite);
            return;
        }
        self.hello_retry = false;
        self.server_random = Some(h.random);
        self.version = selected;
        self.suite_id = Some(h.cipher_suite);
        self.server_session_id = h.session_id.clone();
        self.ems = h.extended_master_secret;
        if h.alpn.is_some() {
            self.alpn = h.alpn;
        }
        let Some(s) = suite(h.cipher_suite) else {
            self.unsupported = Some(h.cipher_suite);
            return;
        };
        if selected == version::TLS1_3 {
            if !s.tls13 {
                self.unsupported = Some(h.cipher_suite);
                return;
            }
            self.suite = Some(s);
            self.transcript = None;
            // Server: handshake keys now. Client: handshake keys after its 0-RTT data (if
            // any), which the records themselves reveal.
            self.dirs[1].switch = Switch::ToHandshake;
            self.apply_switch(1);
            let secret = self
                .client_random
                .and_then(|r| self.keys.lookup(&r))
                .and_then(|s| s.client_handshake.clone());
            let d = &mut self.dirs[0];
            d.cipher = secret.as_deref().and_then(|x| RecordCipher::tls13(&s, x));
            d.secret = secret.unwrap_or_default();
            // 0-RTT data may still come (or be in flight); its records reveal where it ends.
            d.stage = if self.client_offered_early {
                Stage::Early
            } else {
                Stage::Handshake
            };
            // Early data uses the PSK's suite, which the server has to select to accept it.
            self.early.retain(|(id, _)| *id == s.id);
            return;
        }
        if s.tls13 || !(version::TLS1_0..=version::TLS1_2).contains(&selected) {
            self.unsupported = Some(h.cipher_suite);
            return;
        }
        // Encrypt-then-MAC applies to CBC suites when the server echoes the extension.
        self.etm = h.encrypt_then_mac && matches!(s.bulk, Bulk::AesCbc(..));
        self.suite = Some(s);
        // The master secret: logged by client random, by session id, or remembered from the
        // session being resumed (by ticket or id).
        let cr = self.client_random;
        let mut master = cr
            .and_then(|r| self.keys.lookup(&r))
            .and_then(|x| x.master_secret);
        if master.is_none() && !h.session_id.is_empty() {
            master = self.keys.by_session_id(&h.session_id).copied();
        }
        if master.is_none()
            && let Some(c) = &self.cache
        {
            let c = lock(c);
            if !self.client_ticket.is_empty() {
                master = c.by_ticket(&self.client_ticket);
            }
            if master.is_none()
                && !h.session_id.is_empty()
                && h.session_id == self.client_session_id
            {
                master = c.by_session_id(&h.session_id);
            }
        }
        if let Some(m) = master {
            self.set_master(m);
        }
    }

    /// RSA key exchange: the pre-master secret may be logged by its encrypted prefix.
    fn client_key_exchange(&mut self, body: &[u8]) {
        if self.master.is_some() {
            return;
        }
        let (Some(s), Some(cr), Some(sr)) = (self.suite, self.client_random, self.server_random)
        else {
            return;
        };
        if !s.rsa_kx {
            return;
        }
        // TLS 1.0+: encrypted pre-master secret with a u16 length.
        let mut r = Reader::new(body);
        let Ok(enc) = r
            .u16("encrypted pre-master secret length")
            .and_then(|n| r.bytes(n.into(), "encrypted pre-master secret"))
        else {
            return;
        };
        let Some(prefix) = enc.get(..8).and_then(|p| <[u8; 8]>::try_from(p).ok()) else {
            return;
        };
        let Some(pms) = self.keys.rsa_premaster(&prefix) else {
            return;
        };
        let tls12 = self.version >= version::TLS1_2;
        let mut m = [0u8; 48];
        if self.ems {
            let Some(t) = self.transcript.as_ref() else {
                return;
            };
            // The session hash includes the ClientKeyExchange (hashed before this call).
            let t = (**t).clone();
            let hash: Vec<u8> = if tls12 {
                match s.hash {
                    PrfHash::Sha256 => t.sha256.finalize().to_vec(),
                    PrfHash::Sha384 => t.sha384.finalize().to_vec(),
                }
            } else {
                let mut v = t.md5.finalize().to_vec();
                v.extend_from_slice(&t.sha1.finalize());
                v
            };
            prf(
                tls12,
                s.hash,
                pms,
                b"extended master secret",
                &[&hash],
                &mut m,
            );
        } else {
            prf(tls12, s.hash, pms, b"master secret", &[&cr, &sr], &mut m);
        }
        self.set_master(m);
    }

    /// Derive the TLS ≤ 1.2 record keys from the master secret; they take effect at each
    /// direction's change_cipher_spec.
    fn set_master(&mut self, master: [u8; 48]) {
        let (Some(s), Some(cr), Some(sr)) = (self.suite, self.client_random, self.server_random)
        else {
            return;
        };
        self.master = Some(master);
        if let Some(c) = &self.cache {
            let mut c = lock(c);
            c.insert_session_id(&self.server_session_id, master);
            for t in self.tickets.drain(..) {
                c.insert_ticket(&t, master);
            }
        }
        let (mac_len, key_len, iv_len) = match s.bulk {
            Bulk::AesGcm(k) => (0, k, 4),
            Bulk::ChaCha20Poly1305 => (0, 32, 12),
            Bulk::AesCbc(k, m) => (
                match m {
                    MacAlg::Sha1 => 20,
                    MacAlg::Sha256 => 32,
                    MacAlg::Sha384 => 48,
                },
                k,
                16,
            ),
        };
        let tls12 = self.version >= version::TLS1_2;
        let mut kb = [0u8; 2 * (48 + 32 + 16)];
        let total = 2 * (mac_len + key_len + iv_len);
        let Some(kb) = kb.get_mut(..total) else {
            return;
        };
        key_expansion(tls12, s.hash, &master, &cr, &sr, kb);
        let (cmac, rest) = kb.split_at(mac_len);
        let (smac, rest) = rest.split_at(mac_len);
        let (ckey, rest) = rest.split_at(key_len);
        let (skey, rest) = rest.split_at(key_len);
        let (civ, siv) = rest.split_at(iv_len);
        self.dirs[0].pending = RecordCipher::tls12(&s, self.version, cmac, ckey, civ, self.etm);
        self.dirs[1].pending = RecordCipher::tls12(&s, self.version, smac, skey, siv, self.etm);
        self.no_key = false;
    }
}
