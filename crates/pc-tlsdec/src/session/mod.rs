//! One TLS connection's decryption state: records of both directions in capture order, the
//! cipher of each direction (TLS ≤ 1.2 change_cipher_spec, TLS 1.3 key stages, 0-RTT, KeyUpdate),
//! resynchronisation after gaps, and the counters behind [`crate::Outcome`]. The handshake
//! messages that set the keys are read in `handshake.rs`.

mod handshake;

use crate::crypto::{Suite, hkdf_expand_label};
use crate::keylog::KeyLog;
use crate::record::{Opened, RecordCipher, RecordError};
use crate::resumption::ResumptionCache;
use crate::{Limits, Outcome, Plain, Stats};
use handshake::Transcript;
use pc_proto::Reader;
use pc_proto::tls::{content_type as ct, version as tls_version};
use std::sync::{Arc, Mutex};

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
    /// Open a record with this direction's cipher (`None` without one). After a gap, sequence
    /// numbers ahead are tried too. A failure is counted: a sender whose records decrypted
    /// before used up a sequence number on it; one whose never did moves towards giving up.
    fn open(
        &mut self,
        limits: &Limits,
        content_type: u8,
        version: u16,
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) -> Option<Result<Opened, RecordError>> {
        let cipher = self.cipher.as_mut()?;
        let mut r = cipher.open(content_type, version, payload, buf);
        if r.is_err() && self.resync && self.ok > 0 {
            let base = cipher.seq;
            for k in 1..=limits.max_seq_skip {
                cipher.seq = base.wrapping_add(k);
                r = cipher.open(content_type, version, payload, buf);
                if r.is_ok() {
                    break;
                }
            }
            if r.is_err() {
                cipher.seq = base;
            }
        }
        self.resync = false;
        // TLS 1.0 CBC chains the IV whether or not the record opened (the sender chained it).
        cipher.chain_iv(payload);
        if r.is_err() {
            if self.ok > 0 {
                cipher.skip_record();
            } else {
                self.failed += 1;
                if self.failed >= limits.max_failures_before_success {
                    self.gave_up = true;
                }
            }
        }
        Some(r)
    }

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
        let tls13 = self.version == tls_version::TLS1_3;
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
            ct::ALERT | ct::HANDSHAKE | ct::APPLICATION_DATA | ct::HEARTBEAT
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
        if d.cipher.is_none() {
            return;
        }
        let mut buf = if app {
            Vec::with_capacity(payload.len())
        } else {
            std::mem::take(&mut self.scratch)
        };
        let Some(r) = d.open(&limits, content_type, version, payload, &mut buf) else {
            return;
        };
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
            Err(e) => self.fail(di, e.describe()),
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
            let Some(r) = d.open(&limits, ct::APPLICATION_DATA, version, payload, &mut buf) else {
                self.encrypted[di] += payload.len() as u64;
                return;
            };
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
            Switch::ToHandshake | Switch::ToApplication => {
                if di == 0 {
                    // 0-RTT is over once the client's keys change.
                    self.early.clear();
                }
                secrets.and_then(|s| match (sw, di) {
                    (Switch::ToHandshake, 0) => s.client_handshake,
                    (Switch::ToHandshake, _) => s.server_handshake,
                    (_, 0) => s.client_traffic_0,
                    _ => s.server_traffic_0,
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
    let mut r = Reader::new(data);
    while let Ok(tag) = r.u8("tag")
        && let Ok(p) = r.u16("length").and_then(|n| r.bytes(n.into(), "record"))
    {
        s.record(
            tag & 0x80 != 0,
            ct::CHANGE_CIPHER_SPEC + (tag & 0x7f) % 5,
            tls_version::TLS1_2,
            p,
            &mut out,
        );
        out.clear();
    }
    if let Some(&last) = r.rest().first() {
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
