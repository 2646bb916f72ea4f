//! One QUIC connection (a UDP flow): datagrams split into packets, Initial keys from the
//! client's connection id, Handshake / 0-RTT / 1-RTT keys from the logged secrets (trying each
//! suite that fits while the ServerHello is unknown), connection ids tracked for short
//! headers. Decrypted payloads go to `frames.rs`.

mod frames;
mod fuzz;
mod header;
#[cfg(test)]
mod tests;

pub use fuzz::exercise;

use crate::crypto::{self, DirKeys, Flavor, INITIAL_SUITE, LongType};
use crate::reasm::Reasm;
use crate::{Event, Limits, Outcome, QuicSecrets, SecretSource, Stats, Suite, h3};
use header::{Long, parse_long, try_open};
use pc_tlsdec::crypto::{suite, tls13_suites_for_secret};
use std::collections::{BTreeMap, BTreeSet};

/// Packet number spaces / encryption levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Initial,
    Handshake,
    ZeroRtt,
    OneRtt,
}

impl Level {
    /// Index of the packet number space.
    fn space(self) -> usize {
        match self {
            Level::Initial => 0,
            Level::Handshake => 1,
            Level::ZeroRtt | Level::OneRtt => 2,
        }
    }
}

/// CRYPTO stream of one direction and level, parsed into TLS handshake messages.
#[derive(Default)]
struct Crypto {
    reasm: Reasm,
    buf: Vec<u8>,
    /// Nothing more needed (or reassembly lost sync).
    done: bool,
}

/// The application protocol layer.
enum App {
    H3(Box<h3::H3>),
    Raw(h3::Raw),
}

/// Initial keys and the version and DCID they were derived from.
struct InitialKeys {
    version: u32,
    dcid: Vec<u8>,
    keys: [DirKeys; 2],
}

/// One QUIC connection (a UDP flow), fed with every datagram in capture order.
pub struct Connection {
    limits: Limits,
    version: Option<u32>,
    unsupported: Option<u32>,
    initial: Option<InitialKeys>,
    handshake: [Option<DirKeys>; 2],
    app_keys: [Option<DirKeys>; 2],
    early: Option<DirKeys>,
    suite: Option<Suite>,
    client_random: Option<[u8; 32]>,
    secrets: Option<QuicSecrets>,
    secrets_missing: bool,
    sni: Option<String>,
    alpn: Option<String>,
    offered_alpn: Vec<String>,
    /// `[direction][Initial, Handshake]`.
    crypto: [[Crypto; 2]; 2],
    /// Destination connection ids of packets travelling in each direction, newest last.
    cids: [Vec<Vec<u8>>; 2],
    largest: [[Option<u64>; 3]; 2],
    seen: [u64; 2],
    decrypted: [u64; 2],
    protected_opened: bool,
    streams: BTreeMap<(u64, usize), Reasm>,
    closed: BTreeSet<(u64, usize)>,
    budget: usize,
    app: Option<App>,
    stats: Stats,
}

impl Default for Connection {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("version", &self.version)
            .field("sni", &self.sni)
            .field("alpn", &self.alpn)
            .field("suite", &self.suite)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection with default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A connection with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Connection {
            budget: limits.max_total_pending,
            limits,
            version: None,
            unsupported: None,
            initial: None,
            handshake: [None, None],
            app_keys: [None, None],
            early: None,
            suite: None,
            client_random: None,
            secrets: None,
            secrets_missing: false,
            sni: None,
            alpn: None,
            offered_alpn: Vec::new(),
            crypto: Default::default(),
            cids: [Vec::new(), Vec::new()],
            largest: [[None; 3]; 2],
            seen: [0; 2],
            decrypted: [0; 2],
            protected_opened: false,
            streams: BTreeMap::new(),
            closed: BTreeSet::new(),
            app: None,
            stats: Stats::default(),
        }
    }

    /// How far decryption got.
    pub fn outcome(&self) -> Outcome {
        if self.protected_opened {
            return Outcome::Decrypted;
        }
        if let Some(v) = self.unsupported {
            return Outcome::UnsupportedVersion(v);
        }
        if self.client_random.is_none() {
            return Outcome::Failed(if self.initial.is_some() {
                "ClientHello not reassembled"
            } else {
                "no client Initial packet"
            });
        }
        if self.secrets_missing && self.secrets.is_none() {
            return Outcome::NoKey;
        }
        if self.secrets.is_none() {
            return Outcome::Failed("no Handshake or 1-RTT packet");
        }
        Outcome::Failed("logged secrets did not decrypt the packets")
    }

    /// The QUIC version of the client's first long-header packet.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// Server name from the ClientHello.
    pub fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// The negotiated ALPN (from EncryptedExtensions), else the client's only offer.
    pub fn alpn(&self) -> Option<&str> {
        self.alpn.as_deref().or(match self.offered_alpn.as_slice() {
            [only] => Some(only.as_str()),
            _ => None,
        })
    }

    /// ALPN protocols the client offered.
    pub fn offered_alpn(&self) -> &[String] {
        &self.offered_alpn
    }

    /// The TLS cipher suite, once known.
    pub fn suite(&self) -> Option<Suite> {
        self.suite
    }

    /// The ClientHello random, once reassembled.
    pub fn client_random(&self) -> Option<&[u8; 32]> {
        self.client_random.as_ref()
    }

    /// UDP payload bytes seen per direction `[to_server, to_client]`, and bytes of the packets
    /// among them that were decrypted (Initial packets included).
    pub fn bytes(&self) -> ([u64; 2], [u64; 2]) {
        (self.seen, self.decrypted)
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.key_updates = [0, 1].map(|d| self.app_keys[d].as_ref().map_or(0, |k| k.updates));
        s.gap_bytes = s
            .gap_bytes
            .saturating_add(self.streams.values().map(|r| r.gap_bytes).sum::<u64>());
        if let Some(App::H3(h)) = &self.app {
            s.qpack_errors = h.qpack_errors;
        }
        s
    }

    /// One UDP payload of this flow; `to_server` is its direction.
    pub fn datagram(
        &mut self,
        to_server: bool,
        data: &[u8],
        secrets: &dyn SecretSource,
        out: &mut Vec<Event>,
    ) {
        let dir = usize::from(!to_server);
        self.seen[dir] = self.seen[dir].saturating_add(data.len() as u64);
        let mut pos = 0;
        // DCID of the first packet: coalesced packets must repeat it (RFC 9000 §12.2); what
        // does not is padding, ignored.
        let mut first_dcid: Option<Vec<u8>> = None;
        // A datagram holds at most a few coalesced packets; the bound guards against loops.
        for _ in 0..16 {
            let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) else {
                return;
            };
            let first = rest[0];
            if first & 0x80 == 0 {
                // After a long header, only a packet with the fixed bit and the same DCID is
                // real; zeros or random bytes are padding.
                if first_dcid.as_ref().is_none_or(|d| {
                    first & 0x40 != 0 && rest.get(1..).is_some_and(|r| r.starts_with(d))
                }) {
                    self.short_packet(dir, rest, secrets, out);
                }
                return;
            }
            let Some(version) = rest
                .get(1..5)
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(u32::from_be_bytes)
            else {
                if first_dcid.is_none() {
                    self.stats.malformed += 1;
                }
                return;
            };
            if first_dcid.is_some() && Some(version) != self.version {
                return;
            }
            if version == 0 {
                // Version negotiation.
                return;
            }
            if self.version.is_none() && dir == 0 {
                self.version = Some(version);
            }
            let Some(fl) = Flavor::of(version) else {
                if self.unsupported.is_none() && self.version == Some(version) {
                    self.unsupported = Some(version);
                }
                self.stats.packets += 1;
                self.stats.packets_undecrypted += 1;
                return;
            };
            let Some(p) = parse_long(rest, fl, version) else {
                if first_dcid.is_none() {
                    self.stats.malformed += 1;
                }
                return;
            };
            match &first_dcid {
                Some(d) if d.as_slice() != p.dcid => return,
                Some(_) => {}
                None => first_dcid = Some(p.dcid.to_vec()),
            }
            self.stats.packets += 1;
            let pkt = rest.get(..p.len).unwrap_or_default();
            match p.ty {
                LongType::Retry => return,
                LongType::Initial => self.initial_packet(dir, fl, &p, pkt, out),
                LongType::Handshake => {
                    self.protected_packet(dir, fl, Level::Handshake, &p, pkt, secrets, out)
                }
                LongType::ZeroRtt => {
                    self.protected_packet(dir, fl, Level::ZeroRtt, &p, pkt, secrets, out)
                }
            }
            pos += p.len.max(1);
        }
    }

    fn opened(&mut self, dir: usize, level: Level, pn: u64, len: usize) {
        let l = &mut self.largest[dir][level.space()];
        *l = Some(l.map_or(pn, |x| x.max(pn)));
        self.decrypted[dir] = self.decrypted[dir].saturating_add(len as u64);
        self.stats.packets_decrypted += 1;
        if level != Level::Initial {
            self.protected_opened = true;
        }
    }

    fn remember_cid(&mut self, dir: usize, cid: &[u8]) {
        let list = &mut self.cids[dir & 1];
        if let Some(i) = list.iter().position(|c| c == cid) {
            let c = list.remove(i);
            list.push(c);
            return;
        }
        if list.len() >= self.limits.max_cids {
            list.remove(0);
        }
        list.push(cid.to_vec());
    }

    fn initial_packet(
        &mut self,
        dir: usize,
        fl: Flavor,
        p: &Long<'_>,
        pkt: &[u8],
        out: &mut Vec<Event>,
    ) {
        let largest = self.largest[dir][0];
        let derive = |version: u32, dcid: &[u8]| -> Option<InitialKeys> {
            let [c, s] = crypto::initial_secrets(fl, dcid)?;
            Some(InitialKeys {
                version,
                dcid: dcid.to_vec(),
                keys: [
                    DirKeys::new(suite(INITIAL_SUITE)?, fl, &c)?,
                    DirKeys::new(suite(INITIAL_SUITE)?, fl, &s)?,
                ],
            })
        };
        // A server answering in another (compatible) version derives from the same DCID.
        if let Some(ik) = &self.initial
            && ik.version != p.version
            && let Some(n) = derive(p.version, &ik.dcid.clone())
        {
            self.initial = Some(n);
        }
        let mut opened = self
            .initial
            .as_mut()
            .and_then(|ik| try_open(&mut ik.keys[dir], pkt, p.pn_offset, largest, false));
        if opened.is_none()
            && dir == 0
            && self.initial.as_ref().is_none_or(|ik| ik.dcid != p.dcid)
            && let Some(mut n) = derive(p.version, p.dcid)
        {
            // First Initial, or the first after a Retry changed the DCID.
            opened = try_open(&mut n.keys[0], pkt, p.pn_offset, None, false);
            if opened.is_some() {
                self.initial = Some(n);
            }
        }
        let Some((pn, plain)) = opened else {
            self.stats.packets_undecrypted += 1;
            return;
        };
        self.opened(dir, Level::Initial, pn, pkt.len());
        self.remember_cid(1 - dir, p.scid);
        self.frames(dir, Level::Initial, &plain, out);
    }

    /// Look up the secrets once the client random is known.
    fn lookup(&mut self, secrets: &dyn SecretSource) {
        if self.secrets.is_some() {
            return;
        }
        if let Some(cr) = &self.client_random {
            self.secrets = secrets.secrets(cr);
            self.secrets_missing = self.secrets.is_none();
        }
    }

    fn secret(&self, level: Level, dir: usize) -> Option<&[u8]> {
        let s = self.secrets.as_ref()?;
        match (level, dir) {
            (Level::Handshake, 0) => s.client_handshake.as_deref(),
            (Level::Handshake, _) => s.server_handshake.as_deref(),
            (Level::OneRtt, 0) => s.client_app.as_deref(),
            (Level::OneRtt, _) => s.server_app.as_deref(),
            (Level::ZeroRtt, 0) => s.client_early.as_deref(),
            _ => None,
        }
    }

    fn slot(&mut self, level: Level, dir: usize) -> Option<&mut Option<DirKeys>> {
        match (level, dir) {
            (Level::Handshake, d) => self.handshake.get_mut(d),
            (Level::OneRtt, d) => self.app_keys.get_mut(d),
            (Level::ZeroRtt, 0) => Some(&mut self.early),
            _ => None,
        }
    }

    /// Open a Handshake, 0-RTT or 1-RTT packet, deriving keys on first use (trying each
    /// suite that fits the secret when the ServerHello was not seen).
    fn open_protected(
        &mut self,
        dir: usize,
        fl: Flavor,
        level: Level,
        pkt: &[u8],
        pn_offset: usize,
        secrets: &dyn SecretSource,
    ) -> Option<(u64, Vec<u8>)> {
        let largest = self.largest[dir][level.space()];
        let one_rtt = level == Level::OneRtt;
        if let Some(Some(k)) = self.slot(level, dir) {
            return try_open(k, pkt, pn_offset, largest, one_rtt);
        }
        self.lookup(secrets);
        let secret = self.secret(level, dir)?.to_vec();
        let suites: Vec<Suite> = match self.suite {
            Some(s) => vec![s],
            None => tls13_suites_for_secret(secret.len())
                .iter()
                .filter_map(|id| suite(*id))
                .collect(),
        };
        for s in suites {
            let Some(mut k) = DirKeys::new(s, fl, &secret) else {
                continue;
            };
            if let Some(r) = try_open(&mut k, pkt, pn_offset, largest, one_rtt) {
                self.suite = Some(k.suite());
                if let Some(slot) = self.slot(level, dir) {
                    *slot = Some(k);
                }
                return Some(r);
            }
        }
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn protected_packet(
        &mut self,
        dir: usize,
        fl: Flavor,
        level: Level,
        p: &Long<'_>,
        pkt: &[u8],
        secrets: &dyn SecretSource,
        out: &mut Vec<Event>,
    ) {
        match self.open_protected(dir, fl, level, pkt, p.pn_offset, secrets) {
            Some((pn, plain)) => {
                self.opened(dir, level, pn, pkt.len());
                self.remember_cid(1 - dir, p.scid);
                self.frames(dir, level, &plain, out);
            }
            None => self.stats.packets_undecrypted += 1,
        }
    }

    fn short_packet(
        &mut self,
        dir: usize,
        pkt: &[u8],
        secrets: &dyn SecretSource,
        out: &mut Vec<Event>,
    ) {
        self.stats.packets += 1;
        let Some(fl) = self.version.and_then(Flavor::of) else {
            self.stats.packets_undecrypted += 1;
            return;
        };
        // DCID lengths to try: ids this packet starts with first, newest first, then the
        // other lengths seen.
        let body = pkt.get(1..).unwrap_or_default();
        let mut lens: Vec<usize> = Vec::new();
        for matching in [true, false] {
            for c in self.cids[dir].iter().rev() {
                if body.starts_with(c) == matching && !lens.contains(&c.len()) {
                    lens.push(c.len());
                }
            }
        }
        if lens.is_empty() {
            self.stats.packets_undecrypted += 1;
            return;
        }
        for l in lens {
            if let Some((pn, plain)) =
                self.open_protected(dir, fl, Level::OneRtt, pkt, 1 + l, secrets)
            {
                self.opened(dir, Level::OneRtt, pn, pkt.len());
                self.frames(dir, Level::OneRtt, &plain, out);
                return;
            }
        }
        self.stats.packets_undecrypted += 1;
    }
}
