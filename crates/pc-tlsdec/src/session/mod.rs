//! TLS decryption with logged session keys.
//!
//! Given an NSS key log ([`keylog::KeyLog`], from an `SSLKEYLOGFILE` or a pcapng Decryption
//! Secrets Block), a [`Session`] follows one TLS connection's records in capture order (both
//! directions), learns what it needs from the handshake (randoms, session id, cipher suite,
//! version, extensions, tickets, HelloRetryRequest, 0-RTT) and returns the application data
//! that was sent inside TLS.
//!
//! Supported: TLS 1.0–1.2 with AES-GCM, ChaCha20-Poly1305, AES-CBC + HMAC-SHA1/256/384
//! (MAC-then-encrypt and encrypt-then-MAC); TLS 1.3 with TLS_AES_128_GCM_SHA256,
//! TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, including KeyUpdate and 0-RTT.

#![forbid(unsafe_code)]

pub mod crypto;
pub mod keylog;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

pub use crypto::RecordError;
pub use crypto::{Bulk, MacAlg, PrfHash, Suite, suite};
use crypto::{RecordCipher, hkdf_expand_label, prf};
use keylog::KeyLog;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

/// Record content types.
mod ct {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
}

/// Handshake message types used here.
mod hs {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const END_OF_EARLY_DATA: u8 = 5;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const KEY_UPDATE: u8 = 24;
}

/// SHA-256 of "HelloRetryRequest": the ServerHello.random of a HelloRetryRequest.
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Bounds on the work and memory of one [`Session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest record payload accepted (2^14 + 2048 as in the TLS specs).
    pub max_record_len: usize,
    /// Largest handshake message reassembled; longer ones (certificate chains) are skipped.
    pub max_handshake_len: usize,
    /// Failed records in a direction, with none decrypted there, before giving up on it.
    pub max_failures_before_success: u32,
    /// Undecryptable TLS 1.3 client records tolerated while 0-RTT data may be in flight.
    pub max_early_records_skipped: u32,
    /// Sequence numbers tried ahead after a reported gap (lost records).
    pub max_seq_skip: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_len: 16_384 + 2_048,
            max_handshake_len: 64 * 1024,
            max_failures_before_success: 4,
            max_early_records_skipped: 4096,
            max_seq_skip: 16,
        }
    }
}

/// Master secrets of TLS ≤ 1.2 sessions, by session id and by session ticket, shared between
/// the [`Session`]s of one capture so that resumed handshakes (which log nothing new in some
/// key logs) can be decrypted. Bounded: the oldest entries are evicted.
#[derive(Debug, Default)]
pub struct ResumptionCache {
    by_id: BTreeMap<Vec<u8>, [u8; 48]>,
    /// Keyed by SHA-256 of the ticket, so that huge tickets cost 32 bytes.
    by_ticket: BTreeMap<[u8; 32], [u8; 48]>,
    order: VecDeque<CacheKey>,
    max_entries: usize,
}

#[derive(Debug, Clone)]
enum CacheKey {
    Id(Vec<u8>),
    Ticket([u8; 32]),
}

impl ResumptionCache {
    /// Default capacity.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// An empty cache holding at most `max_entries` secrets.
    pub fn new(max_entries: usize) -> Self {
        ResumptionCache {
            max_entries,
            ..Default::default()
        }
    }

    /// A cache to share between the sessions of a capture.
    pub fn shared() -> Arc<Mutex<ResumptionCache>> {
        Arc::new(Mutex::new(Self::new(Self::DEFAULT_MAX_ENTRIES)))
    }

    fn evict(&mut self) {
        let max = if self.max_entries == 0 {
            Self::DEFAULT_MAX_ENTRIES
        } else {
            self.max_entries
        };
        while self.by_id.len() + self.by_ticket.len() > max {
            match self.order.pop_front() {
                Some(CacheKey::Id(k)) => {
                    self.by_id.remove(&k);
                }
                Some(CacheKey::Ticket(k)) => {
                    self.by_ticket.remove(&k);
                }
                None => break,
            }
        }
    }

    /// Remember the master secret of a session id (ids are 1..=32 bytes).
    pub fn insert_session_id(&mut self, id: &[u8], master: [u8; 48]) {
        if id.is_empty() || id.len() > 32 {
            return;
        }
        if self.by_id.insert(id.to_vec(), master).is_none() {
            self.order.push_back(CacheKey::Id(id.to_vec()));
            self.evict();
        }
    }

    /// Remember the master secret of a session ticket.
    pub fn insert_ticket(&mut self, ticket: &[u8], master: [u8; 48]) {
        if ticket.is_empty() {
            return;
        }
        let k: [u8; 32] = Sha256::digest(ticket).into();
        if self.by_ticket.insert(k, master).is_none() {
            self.order.push_back(CacheKey::Ticket(k));
            self.evict();
        }
    }

    /// Master secret of a session id.
    pub fn by_session_id(&self, id: &[u8]) -> Option<[u8; 48]> {
        self.by_id.get(id).copied()
    }

    /// Master secret of a session ticket.
    pub fn by_ticket(&self, ticket: &[u8]) -> Option<[u8; 48]> {
        let k: [u8; 32] = Sha256::digest(ticket).into();
        self.by_ticket.get(&k).copied()
    }

    /// Number of secrets held.
    pub fn len(&self) -> usize {
        self.by_id.len() + self.by_ticket.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a connection was (not) decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// At least one record decrypted.
    Decrypted,
    /// The key log has no secret for this connection.
    NoKey,
    /// The negotiated cipher suite is not supported.
    UnsupportedSuite(u16),
    /// Something else went wrong ("AEAD tag", "bad record MAC", "no ClientHello seen", …).
    Failed(&'static str),
}

/// Decrypted application data of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    /// Sent by the client.
    pub to_server: bool,
    /// Plaintext application data.
    pub data: Vec<u8>,
    /// TLS 1.3 0-RTT early data.
    pub early: bool,
}

/// Counters of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records seen, per direction (0 = to server, 1 = to client).
    pub records: [u64; 2],
    /// Records decrypted (any content type).
    pub records_decrypted: [u64; 2],
    /// Encrypted records that did not decrypt.
    pub records_failed: [u64; 2],
    /// TLS 1.3 client records skipped as undecryptable 0-RTT data.
    pub early_records_skipped: u64,
    /// Finished messages decrypted.
    pub finished_decrypted: u32,
    /// TLS 1.3 KeyUpdates applied.
    pub key_updates: u32,
    /// Plaintext application-data bytes returned, per direction.
    pub plaintext_bytes: [u64; 2],
}

/// TLS 1.3 key schedule stage of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// No keys yet.
    None,
    /// Client: 0-RTT data may come (early and/or handshake keys tried).
    Early,
    /// Handshake traffic keys.
    Handshake,
    /// Application traffic keys.
    Application,
}

/// Key change to apply when the current record ends (TLS 1.3 changes keys at record
/// boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    None,
    ToHandshake,
    ToApplication,
    KeyUpdate,
}

/// Running hashes of the TLS ≤ 1.2 handshake, for the extended master secret's session hash
/// (needed only when the pre-master secret, not the master secret, is logged).
#[derive(Clone, Default)]
struct Transcript {
    sha256: Sha256,
    sha384: Sha384,
    md5: Md5,
    sha1: Sha1,
}

struct Dir {
    cipher: Option<RecordCipher>,
    /// TLS ≤ 1.2: keys for after this direction's change_cipher_spec.
    pending: Option<RecordCipher>,
    /// TLS ≤ 1.2: change_cipher_spec seen, later records are encrypted.
    ccs: bool,
    stage: Stage,
    /// TLS 1.3 current traffic secret (for KeyUpdate).
    secret: Vec<u8>,
    switch: Switch,
    /// Handshake message reassembly.
    hs: Vec<u8>,
    hs_skip: usize,
    /// Partial record from [`Session::fragment`].
    partial: Vec<u8>,
    ok: u64,
    failed: u32,
    gave_up: bool,
    /// After a gap: try sequence numbers ahead.
    resync: bool,
}

impl Dir {
    fn new() -> Self {
        Dir {
            cipher: None,
            pending: None,
            ccs: false,
            stage: Stage::None,
            secret: Vec::new(),
            switch: Switch::None,
            hs: Vec::new(),
            hs_skip: 0,
            partial: Vec::new(),
            ok: 0,
            failed: 0,
            gave_up: false,
            resync: false,
        }
    }
}

/// One TLS connection's decryption state, fed with both directions' records in capture order.
pub struct Session {
    keys: Arc<KeyLog>,
    cache: Option<Arc<Mutex<ResumptionCache>>>,
    limits: Limits,
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    client_session_id: Vec<u8>,
    client_ticket: Vec<u8>,
    client_offered_early: bool,
    /// Selected version from ServerHello (0 until seen).
    version: u16,
    suite_id: Option<u16>,
    suite: Option<Suite>,
    server_session_id: Vec<u8>,
    ems: bool,
    etm: bool,
    hello_retry: bool,
    early_accepted: Option<bool>,
    alpn: Option<String>,
    master: Option<[u8; 48]>,
    /// Tickets seen before the master secret was known.
    tickets: Vec<Vec<u8>>,
    transcript: Option<Box<Transcript>>,
    /// 0-RTT ciphers to try (the PSK's suite is not known before the ServerHello).
    early: Vec<(u16, RecordCipher)>,
    dirs: [Dir; 2],
    no_key: bool,
    unsupported: Option<u16>,
    first_error: Option<&'static str>,
    stats: Stats,
    encrypted: [u64; 2],
    decrypted: [u64; 2],
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("version", &self.version)
            .field("suite", &self.suite_id)
            .field("outcome", &self.outcome())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session using `keys`, without resumption across connections.
    pub fn new(keys: Arc<KeyLog>) -> Self {
        Self::with_limits(keys, None, Limits::default())
    }

    /// A session sharing a [`ResumptionCache`] with the other sessions of the capture.
    pub fn new_with(keys: Arc<KeyLog>, cache: Arc<Mutex<ResumptionCache>>) -> Self {
        Self::with_limits(keys, Some(cache), Limits::default())
    }

    /// Full control.
    pub fn with_limits(
        keys: Arc<KeyLog>,
        cache: Option<Arc<Mutex<ResumptionCache>>>,
        limits: Limits,
    ) -> Self {
        Session {
            cache,
            limits,
            client_random: None,
            server_random: None,
            client_session_id: Vec::new(),
            client_ticket: Vec::new(),
            client_offered_early: false,
            version: 0,
            suite_id: None,
            suite: None,
            server_session_id: Vec::new(),
            ems: false,
            etm: false,
            hello_retry: false,
            early_accepted: None,
            alpn: None,
            master: None,
            tickets: Vec::new(),
            // The handshake transcript is needed only to turn a logged RSA pre-master secret
            // into an extended master secret.
            transcript: (!keys.rsa_premaster_is_empty()).then(Box::default),
            early: Vec::new(),
            dirs: [Dir::new(), Dir::new()],
            no_key: false,
            unsupported: None,
            first_error: None,
            stats: Stats::default(),
            encrypted: [0; 2],
            decrypted: [0; 2],
            scratch: Vec::new(),
            keys,
        }
    }

    /// Why the connection was (not) decrypted, so far.
    pub fn outcome(&self) -> Outcome {
        if self.stats.records_decrypted.iter().any(|&n| n > 0) {
            return Outcome::Decrypted;
        }
        if let Some(s) = self.unsupported {
            return Outcome::UnsupportedSuite(s);
        }
        if self.no_key {
            return Outcome::NoKey;
        }
        if let Some(e) = self.first_error {
            return Outcome::Failed(e);
        }
        if self.client_random.is_none() {
            return Outcome::Failed("no ClientHello seen");
        }
        if self.server_random.is_none() {
            return Outcome::Failed("no ServerHello seen");
        }
        Outcome::Failed("no encrypted records seen")
    }

    /// Record payload bytes of application-data records decrypted, per direction
    /// (0 = to server, 1 = to client). Compare with [`Session::encrypted_bytes`] for coverage.
    pub fn decrypted_bytes(&self) -> [u64; 2] {
        self.decrypted
    }

    /// Record payload bytes of encrypted records that carry (or may carry) application data,
    /// per direction: TLS ≤ 1.2 application_data records, TLS 1.3 records that did not
    /// decrypt or decrypted to application data.
    pub fn encrypted_bytes(&self) -> [u64; 2] {
        self.encrypted
    }

    /// ALPN protocol selected by the server (ServerHello or TLS 1.3 EncryptedExtensions).
    pub fn alpn(&self) -> Option<&str> {
        self.alpn.as_deref()
    }

    /// Negotiated protocol version (0 before the ServerHello).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Negotiated cipher suite.
    pub fn cipher_suite(&self) -> Option<u16> {
        self.suite_id
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The server accepted 0-RTT data (TLS 1.3), if known.
    pub fn early_data_accepted(&self) -> Option<bool> {
        self.early_accepted
    }

    /// Bytes of one direction were lost: handshake reassembly restarts, and the next records
    /// try sequence numbers ahead (records may have been lost).
    pub fn gap(&mut self, to_server: bool) {
        let d = &mut self.dirs[usize::from(!to_server)];
        d.hs.clear();
        d.hs_skip = 0;
        d.partial.clear();
        d.resync = true;
    }

    /// Feed one piece of a record as handed out by
    /// [`pc_proto::tls::RecordStream::push_with`]; complete records go to [`Session::record`]
    /// (without copying when the record arrived in one piece).
    pub fn fragment(
        &mut self,
        to_server: bool,
        frag: &pc_proto::tls::RecordFragment<'_>,
        out: &mut Vec<Plain>,
    ) {
        let di = usize::from(!to_server);
        let h = frag.header;
        if frag.offset == 0 && frag.last {
            self.dirs[di].partial.clear();
            self.record(to_server, h.content_type, h.version, frag.data, out);
            return;
        }
        let p = &mut self.dirs[di].partial;
        if frag.offset == 0 {
            p.clear();
        }
        if frag.offset != p.len()
            || p.len().saturating_add(frag.data.len()) > self.limits.max_record_len
        {
            // Inconsistent pieces (should not happen): drop the record.
            p.clear();
            return;
        }
        p.extend_from_slice(frag.data);
        if frag.last {
            let rec = std::mem::take(&mut self.dirs[di].partial);
            self.record(to_server, h.content_type, h.version, &rec, out);
            let mut rec = rec;
            rec.clear();
            self.dirs[di].partial = rec;
        }
    }

    /// Called for every record (content type, record version, payload) in capture order;
    /// `to_server` gives the direction. Decrypted application data is appended to `out`.
    pub fn record(
        &mut self,
        to_server: bool,
        content_type: u8,
        version: u16,
        payload: &[u8],
        out: &mut Vec<Plain>,
    ) {
        let di = usize::from(!to_server);
        self.stats.records[di] += 1;
        if payload.len() > self.limits.max_record_len {
            self.fail(di, "record too long");
            return;
        }
        let tls13 = self.version == 0x0304;
        let ccs = self.dirs[di].ccs;
        match content_type {
            // TLS 1.3 sends change_cipher_spec only for middlebox compatibility.
            ct::CHANGE_CIPHER_SPEC if !tls13 && self.version != 0 => {
                let d = &mut self.dirs[di];
                d.ccs = true;
                d.cipher = d.pending.take();
                d.hs.clear();
                d.hs_skip = 0;
                if d.cipher.is_none() && self.unsupported.is_none() {
                    self.no_key = true;
                }
            }
            ct::APPLICATION_DATA if tls13 || (self.version == 0 && self.client_offered_early) => {
                self.record13(di, version, payload, out);
            }
            ct::HANDSHAKE if tls13 || !ccs => {
                self.handshake_bytes(di, payload, false);
            }
            ct::ALERT | ct::HANDSHAKE | ct::APPLICATION_DATA | 24
                if !tls13 && (ccs || content_type == ct::APPLICATION_DATA) =>
            {
                self.record12(di, content_type, version, payload, out);
            }
            _ => {}
        }
    }

    fn fail(&mut self, di: usize, why: &'static str) {
        self.stats.records_failed[di] += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why);
        }
    }

    /// A TLS ≤ 1.2 record after change_cipher_spec (or application data).
    fn record12(
        &mut self,
        di: usize,
        content_type: u8,
        version: u16,
        payload: &[u8],
        out: &mut Vec<Plain>,
    ) {
        let app = content_type == ct::APPLICATION_DATA;
        if app {
            self.encrypted[di] += payload.len() as u64;
        }
        let limits = self.limits;
        let d = &mut self.dirs[di];
        if d.gave_up {
            return;
        }
        let Some(cipher) = d.cipher.as_mut() else {
            return;
        };
        let mut buf = if app {
            Vec::with_capacity(payload.len())
        } else {
            std::mem::take(&mut self.scratch)
        };
        let mut r = cipher.open(content_type, version, payload, &mut buf);
        if r.is_err() && d.resync && d.ok > 0 {
            let base = cipher.seq;
            for k in 1..=limits.max_seq_skip {
                cipher.seq = base.wrapping_add(k);
                r = cipher.open(content_type, version, payload, &mut buf);
                if r.is_ok() {
                    break;
                }
            }
            if r.is_err() {
                cipher.seq = base;
            }
        }
        d.resync = false;
        cipher.chain_iv(payload);
        match r {
            Ok(_) => {
                d.ok += 1;
                self.stats.records_decrypted[di] += 1;
                match content_type {
                    ct::APPLICATION_DATA => {
                        self.decrypted[di] += payload.len() as u64;
                        self.stats.plaintext_bytes[di] += buf.len() as u64;
                        if !buf.is_empty() {
                            out.push(Plain {
                                to_server: di == 0,
                                data: buf,
                                early: false,
                            });
                        }
                        return;
                    }
                    ct::HANDSHAKE => {
                        let b = std::mem::take(&mut buf);
                        self.handshake_bytes(di, &b, true);
                        buf = b;
                    }
                    _ => {}
                }
            }
            Err(e) => {
                if d.ok > 0 {
                    // A corrupt record from a sender whose keys we have: it used a number.
                    cipher.skip_record();
                } else {
                    d.failed += 1;
                    if d.failed >= limits.max_failures_before_success {
                        d.gave_up = true;
                    }
                }
                self.fail(di, e.describe());
            }
        }
        if !app {
            buf.clear();
            self.scratch = buf;
        }
    }

    /// A TLS 1.3 protected record (outer type application_data).
    fn record13(&mut self, di: usize, version: u16, payload: &[u8], out: &mut Vec<Plain>) {
        let limits = self.limits;
        let mut buf = Vec::with_capacity(payload.len());
        let d = &mut self.dirs[di];
        let mut early = false;
        let opened = if di == 0 && matches!(d.stage, Stage::None | Stage::Early) {
            // Client records before its handshake keys: 0-RTT data (early keys) or, once the
            // server has answered, the client's encrypted handshake (handshake keys).
            let mut got = None;
            if let Some(c) = d.cipher.as_mut()
                && let Ok(o) = c.open(ct::APPLICATION_DATA, version, payload, &mut buf)
            {
                d.stage = Stage::Handshake;
                self.early.clear();
                got = Some(o);
            }
            if got.is_none() {
                for i in 0..self.early.len() {
                    if let Ok(o) =
                        self.early[i]
                            .1
                            .open(ct::APPLICATION_DATA, version, payload, &mut buf)
                    {
                        got = Some(o);
                        early = true;
                        // Keep only the early cipher that works.
                        if self.early.len() > 1 {
                            let keep = self.early.swap_remove(i);
                            self.early.clear();
                            self.early.push(keep);
                        }
                        break;
                    }
                }
            }
            match got {
                Some(o) => Ok(o),
                None => {
                    self.stats.early_records_skipped += 1;
                    self.encrypted[di] += payload.len() as u64;
                    if self.stats.early_records_skipped
                        >= u64::from(limits.max_early_records_skipped)
                    {
                        // Not 0-RTT data after all: treat further records as handshake.
                        self.dirs[di].stage = Stage::Handshake;
                        self.fail(di, "AEAD tag");
                    }
                    return;
                }
            }
        } else {
            if d.gave_up {
                self.encrypted[di] += payload.len() as u64;
                return;
            }
            let Some(cipher) = d.cipher.as_mut() else {
                self.encrypted[di] += payload.len() as u64;
                return;
            };
            let mut r = cipher.open(ct::APPLICATION_DATA, version, payload, &mut buf);
            if r.is_err() && d.resync && d.ok > 0 {
                let base = cipher.seq;
                for k in 1..=limits.max_seq_skip {
                    cipher.seq = base.wrapping_add(k);
                    r = cipher.open(ct::APPLICATION_DATA, version, payload, &mut buf);
                    if r.is_ok() {
                        break;
                    }
                }
                if r.is_err() {
                    cipher.seq = base;
                }
            }
            d.resync = false;
            if r.is_err() {
                if d.ok > 0 {
                    cipher.skip_record();
                } else {
                    d.failed += 1;
                    if d.failed >= limits.max_failures_before_success {
                        d.gave_up = true;
                    }
                }
            }
            r
        };
        let o = match opened {
            Ok(o) => o,
            Err(e) => {
                self.encrypted[di] += payload.len() as u64;
                self.fail(di, e.describe());
                return;
            }
        };
        self.dirs[di].ok += 1;
        self.stats.records_decrypted[di] += 1;
        match o.content_type {
            ct::APPLICATION_DATA => {
                self.encrypted[di] += payload.len() as u64;
                self.decrypted[di] += payload.len() as u64;
                self.stats.plaintext_bytes[di] += buf.len() as u64;
                if !buf.is_empty() {
                    out.push(Plain {
                        to_server: di == 0,
                        data: buf,
                        early,
                    });
                }
            }
            ct::HANDSHAKE => {
                self.handshake_bytes(di, &buf, true);
                self.apply_switch(di);
            }
            _ => {}
        }
    }

    /// Apply a TLS 1.3 key change requested by the record just processed.
    fn apply_switch(&mut self, di: usize) {
        let sw = std::mem::replace(&mut self.dirs[di].switch, Switch::None);
        let Some(suite) = self.suite else {
            return;
        };
        let secrets = self
            .client_random
            .and_then(|r| self.keys.lookup(&r))
            .cloned();
        let secret = match sw {
            Switch::None => return,
            Switch::ToHandshake => {
                if di == 0 {
                    self.early.clear();
                }
                secrets.and_then(|s| {
                    if di == 0 {
                        s.client_handshake
                    } else {
                        s.server_handshake
                    }
                })
            }
            Switch::ToApplication => {
                if di == 0 {
                    self.early.clear();
                }
                secrets.and_then(|s| {
                    if di == 0 {
                        s.client_traffic_0
                    } else {
                        s.server_traffic_0
                    }
                })
            }
            Switch::KeyUpdate => {
                let cur = &self.dirs[di].secret;
                let mut next = vec![0u8; suite.hash.output_len()];
                if cur.is_empty()
                    || hkdf_expand_label(suite.hash, cur, b"traffic upd", &mut next).is_none()
                {
                    None
                } else {
                    self.stats.key_updates += 1;
                    Some(next)
                }
            }
        };
        let d = &mut self.dirs[di];
        d.stage = match sw {
            Switch::ToHandshake => Stage::Handshake,
            _ => Stage::Application,
        };
        d.cipher = secret
            .as_deref()
            .and_then(|s| RecordCipher::tls13(&suite, s));
        d.secret = secret.unwrap_or_default();
        d.failed = 0;
        d.gave_up = false;
        if d.cipher.is_none() && !matches!(sw, Switch::KeyUpdate) {
            self.no_key = true;
        }
    }

    /// Reassemble handshake messages from record payloads.
    fn handshake_bytes(&mut self, di: usize, mut piece: &[u8], decrypted: bool) {
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
        let tls13 = self.version == 0x0304;
        if !decrypted && !tls13 {
            self.hash_transcript(msg);
        }
        match (di, ty) {
            (0, hs::CLIENT_HELLO) if !decrypted => self.client_hello(body),
            (1, hs::SERVER_HELLO) if !decrypted => self.server_hello(body),
            (1, hs::NEW_SESSION_TICKET) if !tls13 => {
                // lifetime (4), ticket<0..2^16-1>
                let t = body
                    .get(4..6)
                    .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize);
                if let Some(ticket) = t.and_then(|l| body.get(6..6 + l))
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
                let mut accepted = false;
                let mut r = Reader(body);
                if let Some(mut exts) = r.vec16() {
                    while let (Some(t), Some(mut e)) = (exts.u16(), exts.vec16()) {
                        match t {
                            16 => self.alpn = parse_alpn(&mut e),
                            42 => accepted = true,
                            _ => {}
                        }
                    }
                }
                self.early_accepted = Some(accepted && self.client_offered_early);
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

    fn client_hello(&mut self, body: &[u8]) {
        let Some(h) = parse_hello(body, true) else {
            return;
        };
        if self.client_random.is_some() && !self.hello_retry {
            // A second ClientHello without HelloRetryRequest (renegotiation): ignore.
            return;
        }
        self.client_random = Some(h.random);
        self.client_session_id = h.session_id.to_vec();
        self.client_ticket = h.ticket.map(<[u8]>::to_vec).unwrap_or_default();
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
            let ids: &[u16] = if secret.len() == 48 {
                &[0x1302]
            } else {
                &[0x1301, 0x1303]
            };
            for id in ids {
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

    fn server_hello(&mut self, body: &[u8]) {
        let Some(h) = parse_hello(body, false) else {
            return;
        };
        if self.server_random.is_some() && !self.hello_retry {
            return;
        }
        let version = h.selected_version.unwrap_or(h.legacy_version);
        if h.random == HRR_RANDOM && version == 0x0304 {
            self.hello_retry = true;
            self.suite_id = Some(h.cipher_suite);
            return;
        }
        self.hello_retry = false;
        self.server_random = Some(h.random);
        self.version = version;
        self.suite_id = Some(h.cipher_suite);
        self.server_session_id = h.session_id.to_vec();
        self.ems = h.ems;
        if h.alpn.is_some() {
            self.alpn = h.alpn;
        }
        let Some(s) = suite(h.cipher_suite) else {
            self.unsupported = Some(h.cipher_suite);
            return;
        };
        if version == 0x0304 {
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
        if s.tls13 || !(0x0301..=0x0303).contains(&version) {
            self.unsupported = Some(h.cipher_suite);
            return;
        }
        // Encrypt-then-MAC applies to CBC suites when the server echoes the extension.
        self.etm = h.etm && matches!(s.bulk, Bulk::AesCbc(..));
        self.suite = Some(s);
        // The master secret: logged by client random, by session id, or remembered from the
        // session being resumed (by ticket or id).
        let cr = self.client_random;
        let mut master = cr
            .and_then(|r| self.keys.lookup(&r))
            .and_then(|x| x.master_secret);
        if master.is_none() && !h.session_id.is_empty() {
            master = self.keys.by_session_id(h.session_id).copied();
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
                && h.session_id == self.client_session_id.as_slice()
            {
                master = c.by_session_id(h.session_id);
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
        let Some(enc) = Reader(body).vec16() else {
            return;
        };
        let Some(prefix) = enc.0.get(..8).and_then(|p| <[u8; 8]>::try_from(p).ok()) else {
            return;
        };
        let Some(pms) = self.keys.rsa_premaster(&prefix) else {
            return;
        };
        let tls12 = self.version >= 0x0303;
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
        let tls12 = self.version >= 0x0303;
        let mut kb = [0u8; 2 * (48 + 32 + 16)];
        let total = 2 * (mac_len + key_len + iv_len);
        let Some(kb) = kb.get_mut(..total) else {
            return;
        };
        prf(tls12, s.hash, &master, b"key expansion", &[&sr, &cr], kb);
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

/// Fuzzing entry point: a [`Session`] with a small fixed key log (secrets for the all-zero
/// client random) fed records split from `data`: each record is a byte (bit 7: to server; low
/// bits: content type 20 + n % 5), a u16 length, and the payload.
#[doc(hidden)]
pub fn fuzz_records(data: &[u8]) -> Outcome {
    let zero = "00".repeat(32);
    let log = format!(
        "CLIENT_RANDOM {zero} {m}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {zero} {a}\n\
         SERVER_HANDSHAKE_TRAFFIC_SECRET {zero} {b}\nCLIENT_TRAFFIC_SECRET_0 {zero} {a}\n\
         SERVER_TRAFFIC_SECRET_0 {zero} {b}\nCLIENT_EARLY_TRAFFIC_SECRET {zero} {a}\n",
        m = "01".repeat(48),
        a = "02".repeat(32),
        b = "03".repeat(48),
    );
    let keys = Arc::new(KeyLog::parse(log.as_bytes()));
    let mut s = Session::new_with(keys, ResumptionCache::shared());
    let mut out = Vec::new();
    let mut r = Reader(data);
    while let (Some(tag), Some(p)) = (r.u8(), r.vec16()) {
        s.record(
            tag & 0x80 != 0,
            20 + (tag & 0x7f) % 5,
            0x0303,
            p.0,
            &mut out,
        );
        out.clear();
    }
    if let Some(&last) = r.0.first() {
        s.gap(last & 1 == 0);
    }
    let _ = (
        s.alpn(),
        s.encrypted_bytes(),
        s.decrypted_bytes(),
        s.stats(),
    );
    s.outcome()
}

fn lock(c: &Mutex<ResumptionCache>) -> std::sync::MutexGuard<'_, ResumptionCache> {
    c.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A bounds-checked reader over handshake bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = self.0.split_at_checked(n)?;
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Option<Reader<'a>> {
        let n = self.u8()? as usize;
        self.take(n).map(Reader)
    }
    fn vec16(&mut self) -> Option<Reader<'a>> {
        let n = self.u16()? as usize;
        self.take(n).map(Reader)
    }
}

/// What is needed from a ClientHello or ServerHello.
struct Hello<'a> {
    legacy_version: u16,
    random: [u8; 32],
    session_id: &'a [u8],
    cipher_suite: u16,
    selected_version: Option<u16>,
    ticket: Option<&'a [u8]>,
    early_data: bool,
    ems: bool,
    etm: bool,
    alpn: Option<String>,
}

fn parse_alpn(e: &mut Reader<'_>) -> Option<String> {
    let mut l = e.vec16()?;
    let p = l.vec8()?;
    Some(String::from_utf8_lossy(p.0).into_owned())
}

fn parse_hello(body: &[u8], client: bool) -> Option<Hello<'_>> {
    let mut r = Reader(body);
    let legacy_version = r.u16()?;
    let random: [u8; 32] = r.take(32)?.try_into().ok()?;
    let session_id = r.vec8()?.0;
    if session_id.len() > 32 {
        return None;
    }
    let cipher_suite = if client {
        r.vec16()?;
        r.vec8()?;
        0
    } else {
        let s = r.u16()?;
        r.u8()?;
        s
    };
    let mut h = Hello {
        legacy_version,
        random,
        session_id,
        cipher_suite,
        selected_version: None,
        ticket: None,
        early_data: false,
        ems: false,
        etm: false,
        alpn: None,
    };
    // Hellos without extensions end here.
    if let Some(mut exts) = r.vec16() {
        while let (Some(t), Some(mut e)) = (exts.u16(), exts.vec16()) {
            match t {
                16 if !client => h.alpn = parse_alpn(&mut e),
                22 => h.etm = true,
                23 => h.ems = true,
                35 if client => h.ticket = Some(e.0),
                42 => h.early_data = true,
                43 if !client => h.selected_version = e.u16(),
                _ => {}
            }
        }
    }
    Some(h)
}
