//! QUIC (v1 RFC 9000/9001, v2 RFC 9369, drafts 23–34) decryption with logged TLS 1.3 secrets,
//! CRYPTO and STREAM reassembly, and HTTP/3 (RFC 9114) with QPACK (RFC 9204), so that the
//! requests and responses inside a captured connection can be searched for phone identifiers.
//!
//! Feed every UDP datagram of one flow, in capture order, to a [`Connection`]; decrypted
//! HTTP/3 messages (or raw stream bytes for other ALPNs) come out as [`Event`]s.

#![forbid(unsafe_code)]

mod crypto;
mod h3;
mod huffman;
pub mod qpack;
mod reasm;

pub use crypto::{Suite, VERSION_1, VERSION_2, VERSION_DRAFT29};

use crypto::{DirKeys, Flavor, LongType};
use reasm::{Piece, Reasm, ReasmLimits};
use std::collections::{BTreeMap, BTreeSet};

/// Errors of the HTTP/3 and QPACK decoders; `at` is the byte offset in the input concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H3Error {
    /// The input ended before a complete structure.
    #[error("truncated at byte {at}: {what}")]
    Truncated { at: u64, what: &'static str },
    /// The input does not follow the protocol.
    #[error("malformed at byte {at}: {what}")]
    Malformed { at: u64, what: &'static str },
    /// A length or count exceeds a limit.
    #[error("too large at byte {at}: {what}")]
    TooLarge { at: u64, what: &'static str },
    /// A field section needs dynamic table entries that have not arrived (yet).
    #[error("blocked at byte {at}: {what}")]
    Blocked { at: u64, what: &'static str },
}

/// Provides the TLS 1.3 secrets logged for a connection, keyed by the ClientHello random.
pub trait SecretSource: Sync {
    /// Secrets of the connection whose ClientHello carried `client_random`.
    fn secrets(&self, client_random: &[u8; 32]) -> Option<QuicSecrets>;
}

/// TLS 1.3 traffic secrets of one connection (NSS key log labels in the field docs).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct QuicSecrets {
    /// CLIENT_HANDSHAKE_TRAFFIC_SECRET.
    pub client_handshake: Option<Vec<u8>>,
    /// SERVER_HANDSHAKE_TRAFFIC_SECRET.
    pub server_handshake: Option<Vec<u8>>,
    /// CLIENT_TRAFFIC_SECRET_0.
    pub client_app: Option<Vec<u8>>,
    /// SERVER_TRAFFIC_SECRET_0.
    pub server_app: Option<Vec<u8>>,
    /// CLIENT_EARLY_TRAFFIC_SECRET (0-RTT), when logged.
    pub client_early: Option<Vec<u8>>,
}

impl std::fmt::Debug for QuicSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("QuicSecrets")
            .field("client_handshake", &self.client_handshake.is_some())
            .field("server_handshake", &self.server_handshake.is_some())
            .field("client_app", &self.client_app.is_some())
            .field("server_app", &self.server_app.is_some())
            .field("client_early", &self.client_early.is_some())
            .finish()
    }
}

/// How far decryption of a connection got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handshake, 0-RTT or 1-RTT packets were decrypted.
    Decrypted,
    /// The ClientHello was seen but no secrets were logged for it.
    NoKey,
    /// A QUIC version this crate cannot decrypt (e.g. Google QUIC).
    UnsupportedVersion(u32),
    /// Nothing beyond Initial packets could be decrypted, for the reason given.
    Failed(&'static str),
}

/// An HTTP/3 request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H3Message {
    /// The request stream (or, for server push, the push stream).
    pub stream_id: u64,
    /// Header (and trailer) fields in order, including pseudo-headers such as `:method`,
    /// `:authority`, `:path`, `:status`.
    pub headers: Vec<(String, Vec<u8>)>,
    /// DATA frame payloads, at most [`Limits::max_body`] bytes.
    pub body: Vec<u8>,
    /// The body was longer than kept, or part of it was not captured.
    pub body_truncated: bool,
    /// The stream ended normally, with every byte and field section decoded.
    pub complete: bool,
}

impl H3Message {
    /// The first value of header `name` (lowercase), as text.
    pub fn header(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v))
    }
}

/// What a connection yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An HTTP/3 request (client to server).
    Request(H3Message),
    /// An HTTP/3 response (server to client, or pushed).
    Response(H3Message),
    /// Stream bytes of a connection whose ALPN is not HTTP/3, in order, in chunks.
    StreamData {
        /// QUIC stream id.
        stream_id: u64,
        /// Direction of the bytes.
        to_server: bool,
        /// The bytes.
        data: Vec<u8>,
    },
}

/// Bounds on memory per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Out-of-order bytes buffered per stream direction before the oldest hole is given up.
    pub max_stream_pending: usize,
    /// Out-of-order bytes buffered per connection.
    pub max_total_pending: usize,
    /// STREAM data starting further than this beyond what was delivered is dropped.
    pub max_stream_ahead: u64,
    /// Stream directions tracked at once.
    pub max_streams: usize,
    /// Finished stream directions remembered (to ignore retransmissions).
    pub max_closed_streams: usize,
    /// Body bytes kept per HTTP/3 message.
    pub max_body: usize,
    /// Largest non-DATA HTTP/3 frame (HEADERS, SETTINGS, …) buffered.
    pub max_frame: usize,
    /// Bytes held by all unfinished HTTP/3 messages of a connection together (bodies,
    /// headers, partial frames); beyond it bodies are truncated and fields dropped.
    pub max_h3_buffered: usize,
    /// Raw stream bytes handed on per stream direction (non-HTTP/3 ALPNs).
    pub max_raw_stream: u64,
    /// Raw stream bytes gathered before a [`Event::StreamData`] is emitted.
    pub raw_chunk: usize,
    /// CRYPTO bytes reassembled per direction and packet number space.
    pub max_crypto: usize,
    /// Connection ids remembered per direction.
    pub max_cids: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stream_pending: 256 * 1024,
            max_total_pending: 4 << 20,
            max_stream_ahead: 16 << 20,
            max_streams: 4096,
            max_closed_streams: 16384,
            max_body: 1 << 20,
            max_frame: 64 * 1024,
            max_h3_buffered: 32 << 20,
            max_raw_stream: 16 << 20,
            raw_chunk: 64 * 1024,
            max_crypto: 64 * 1024,
            max_cids: 8,
        }
    }
}

/// Counters of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// QUIC packets seen (coalesced packets counted one by one).
    pub packets: u64,
    /// Packets decrypted.
    pub packets_decrypted: u64,
    /// Packets that could not be decrypted (no keys, or authentication failed).
    pub packets_undecrypted: u64,
    /// Datagrams or packets whose header could not be parsed.
    pub malformed: u64,
    /// Key updates followed `[to_server, to_client]`.
    pub key_updates: [u32; 2],
    /// Stream bytes declared lost (holes) in reassembly.
    pub gap_bytes: u64,
    /// STREAM frames ignored (offset out of reach, too many streams).
    pub frames_dropped: u64,
    /// HTTP/3 field sections that failed to decode.
    pub qpack_errors: u64,
}

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

/// A QUIC variable-length integer at `*pos`, advancing it.
fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let (v, n) = h3::varint(b.get(*pos..)?)?;
    *pos += n;
    Some(v)
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: u64) -> Option<&'a [u8]> {
    let n = usize::try_from(n).ok()?;
    let end = pos.checked_add(n)?;
    let s = b.get(*pos..end)?;
    *pos = end;
    Some(s)
}

/// The parsed fields of a long header.
struct Long<'a> {
    version: u32,
    ty: LongType,
    dcid: &'a [u8],
    scid: &'a [u8],
    pn_offset: usize,
    /// Length of the whole packet within the datagram.
    len: usize,
}

/// Parse a long header at the start of `d`; `None` if malformed. Retry packets report their
/// remaining length as the whole rest of the datagram.
fn parse_long(d: &[u8], fl: Flavor, version: u32) -> Option<Long<'_>> {
    let first = *d.first()?;
    let mut pos = 5;
    let dl = *d.get(pos)?;
    pos += 1;
    // 20 is the limit for v1; longer ids are only legal in version negotiation.
    if dl > 20 {
        return None;
    }
    let dcid = take(d, &mut pos, u64::from(dl))?;
    let sl = *d.get(pos)?;
    pos += 1;
    if sl > 20 {
        return None;
    }
    let scid = take(d, &mut pos, u64::from(sl))?;
    let ty = fl.long_type(first >> 4);
    if ty == LongType::Retry {
        return Some(Long {
            version,
            ty,
            dcid,
            scid,
            pn_offset: pos,
            len: d.len(),
        });
    }
    if ty == LongType::Initial {
        let tl = varint(d, &mut pos)?;
        take(d, &mut pos, tl)?;
    }
    let len = varint(d, &mut pos)?;
    let end = u64::try_from(pos).ok()?.checked_add(len)?;
    let end = usize::try_from(end).ok().filter(|e| *e <= d.len())?;
    Some(Long {
        version,
        ty,
        dcid,
        scid,
        pn_offset: pos,
        len: end,
    })
}

/// Remove protection from a copy of `pkt`: returns the packet number and plaintext.
fn try_open(
    k: &mut DirKeys,
    pkt: &[u8],
    pn_offset: usize,
    largest: Option<u64>,
    one_rtt: bool,
) -> Option<(u64, Vec<u8>)> {
    let mut b = pkt.to_vec();
    let u = k.unprotect(&mut b, pn_offset, largest)?;
    let (hdr, payload) = b.split_at_mut(u.header_len);
    let n = if one_rtt {
        k.open_1rtt(u.key_phase, u.pn, hdr, payload)?
    } else {
        k.open(u.pn, hdr, payload)?
    };
    let mut plain = payload.get(..n)?.to_vec();
    plain.shrink_to_fit();
    Some((u.pn, plain))
}

/// The ALPN protocol of a TLS EncryptedExtensions message (type, u24 length, body).
fn encrypted_extensions_alpn(msg: &[u8]) -> Option<String> {
    let mut pos = 4;
    let total = u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]);
    pos += 2;
    let exts = take(msg, &mut pos, u64::from(total))?;
    let mut p = 0;
    while p < exts.len() {
        let ty = u16::from_be_bytes([*exts.get(p)?, *exts.get(p + 1)?]);
        let len = u16::from_be_bytes([*exts.get(p + 2)?, *exts.get(p + 3)?]);
        p += 4;
        let body = take(exts, &mut p, u64::from(len))?;
        if ty == 16 {
            let n = usize::from(*body.get(2)?);
            return Some(String::from_utf8_lossy(body.get(3..3 + n)?).into_owned());
        }
    }
    None
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
                    DirKeys::new(Suite::Aes128Gcm, fl, &c)?,
                    DirKeys::new(Suite::Aes128Gcm, fl, &s)?,
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
            None => Suite::candidates(secret.len()).to_vec(),
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

    /// Walk the frames of a decrypted payload sent in direction `dir`.
    fn frames(&mut self, dir: usize, level: Level, p: &[u8], out: &mut Vec<Event>) {
        let mut pos = 0;
        while pos < p.len() {
            if self.frame(dir, level, p, &mut pos, out).is_none() {
                // Unknown or malformed frame: its length is unknown, the rest is lost.
                return;
            }
        }
    }

    fn frame(
        &mut self,
        dir: usize,
        level: Level,
        p: &[u8],
        pos: &mut usize,
        out: &mut Vec<Event>,
    ) -> Option<()> {
        let t = varint(p, pos)?;
        match t {
            0x00 => {
                let n = p.get(*pos..)?.iter().take_while(|b| **b == 0).count();
                *pos += n;
            }
            0x01 | 0x1e => {}
            0x02 | 0x03 => {
                varint(p, pos)?;
                varint(p, pos)?;
                let count = varint(p, pos)?;
                varint(p, pos)?;
                // Each range takes at least two bytes.
                if count > p.len() as u64 {
                    return None;
                }
                for _ in 0..count {
                    varint(p, pos)?;
                    varint(p, pos)?;
                }
                if t == 0x03 {
                    for _ in 0..3 {
                        varint(p, pos)?;
                    }
                }
            }
            0x04 => {
                let sid = varint(p, pos)?;
                varint(p, pos)?;
                varint(p, pos)?;
                self.stream_end(sid, dir, true, out);
            }
            0x05 | 0x11 | 0x15 => {
                varint(p, pos)?;
                varint(p, pos)?;
            }
            0x06 => {
                let off = varint(p, pos)?;
                let len = varint(p, pos)?;
                let data = take(p, pos, len)?;
                self.crypto_data(dir, level, off, data);
            }
            0x07 => {
                let len = varint(p, pos)?;
                take(p, pos, len)?;
            }
            0x08..=0x0f => {
                let sid = varint(p, pos)?;
                let off = if t & 0x04 != 0 { varint(p, pos)? } else { 0 };
                let data = if t & 0x02 != 0 {
                    let len = varint(p, pos)?;
                    take(p, pos, len)?
                } else {
                    let d = p.get(*pos..)?;
                    *pos = p.len();
                    d
                };
                self.stream_data(sid, dir, off, data, t & 0x01 != 0, out);
            }
            0x10 | 0x12 | 0x13 | 0x14 | 0x16 | 0x17 | 0x19 => {
                varint(p, pos)?;
            }
            0x18 => {
                varint(p, pos)?;
                varint(p, pos)?;
                let len = *p.get(*pos)?;
                *pos += 1;
                if !(1..=20).contains(&len) {
                    return None;
                }
                let cid = take(p, pos, u64::from(len))?;
                take(p, pos, 16)?;
                self.remember_cid(1 - dir, cid);
            }
            0x1a | 0x1b => {
                take(p, pos, 8)?;
            }
            0x1c | 0x1d => {
                varint(p, pos)?;
                if t == 0x1c {
                    varint(p, pos)?;
                }
                let len = varint(p, pos)?;
                take(p, pos, len)?;
            }
            0x30 => *pos = p.len(),
            0x31 => {
                let len = varint(p, pos)?;
                take(p, pos, len)?;
            }
            _ => return None,
        }
        Some(())
    }

    fn crypto_data(&mut self, dir: usize, level: Level, off: u64, data: &[u8]) {
        let li = match level {
            Level::Initial => 0,
            Level::Handshake => 1,
            // Post-handshake messages (tickets) carry nothing needed here.
            _ => return,
        };
        let max = self.limits.max_crypto;
        let c = &mut self.crypto[dir][li];
        if c.done {
            return;
        }
        let lim = ReasmLimits {
            per_stream: max,
            max_ahead: max as u64,
        };
        let mut budget = max.saturating_sub(c.reasm.pending_bytes());
        let (reasm, buf) = (&mut c.reasm, &mut c.buf);
        let mut lost = false;
        reasm.push(
            off,
            data,
            false,
            lim,
            &mut budget,
            &mut |piece| match piece {
                Piece::Data(d) if buf.len().saturating_add(d.len()) <= max => {
                    buf.extend_from_slice(d)
                }
                _ => lost = true,
            },
        );
        if lost {
            c.done = true;
        }
        self.handshake_messages(dir, li);
    }

    /// Parse the complete TLS handshake messages at the front of a CRYPTO buffer.
    fn handshake_messages(&mut self, dir: usize, li: usize) {
        loop {
            let c = &self.crypto[dir][li];
            let Some(h) = c.buf.get(..4) else { return };
            let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize + 4;
            let ty = h[0];
            if len > self.limits.max_crypto {
                self.crypto[dir][li].done = true;
                return;
            }
            let Some(msg) = c.buf.get(..len) else { return };
            let msg = msg.to_vec();
            self.crypto[dir][li].buf.drain(..len);
            let done = match (dir, li, ty) {
                (0, 0, 1) => {
                    if let Ok(ch) = pc_proto::tls::parse_client_hello(&msg) {
                        self.client_random.get_or_insert(ch.random);
                        if self.sni.is_none() {
                            self.sni = ch.sni;
                        }
                        if self.offered_alpn.is_empty() {
                            self.offered_alpn = ch.alpn;
                        }
                    }
                    true
                }
                (1, 0, 2) => {
                    if let Ok(sh) = pc_proto::tls::parse_server_hello(&msg) {
                        self.suite = self.suite.or(Suite::from_tls(sh.cipher_suite));
                        if sh.alpn.is_some() {
                            self.alpn = sh.alpn;
                        }
                        !sh.hello_retry
                    } else {
                        true
                    }
                }
                (1, 1, 8) => {
                    if let Some(a) = encrypted_extensions_alpn(&msg) {
                        self.alpn = Some(a);
                    }
                    true
                }
                _ => false,
            };
            if done {
                let c = &mut self.crypto[dir][li];
                c.done = true;
                c.buf = Vec::new();
                return;
            }
        }
    }

    fn app_layer(&mut self) -> &mut App {
        let lim = &self.limits;
        let h3 = {
            let negotiated = self.alpn.as_deref();
            let is_h3 = |a: &str| a == "h3" || a.starts_with("h3-");
            match negotiated {
                Some(a) => is_h3(a),
                None => !self.offered_alpn.is_empty() && self.offered_alpn.iter().all(|a| is_h3(a)),
            }
        };
        self.app.get_or_insert_with(|| {
            if h3 {
                App::H3(Box::new(h3::H3::new(lim)))
            } else {
                App::Raw(h3::Raw::new(lim))
            }
        })
    }

    fn stream_data(
        &mut self,
        sid: u64,
        dir: usize,
        off: u64,
        data: &[u8],
        fin: bool,
        out: &mut Vec<Event>,
    ) {
        let key = (sid, dir);
        if self.closed.contains(&key) {
            return;
        }
        if !self.streams.contains_key(&key) && self.streams.len() >= self.limits.max_streams {
            self.stats.frames_dropped += 1;
            return;
        }
        self.app_layer();
        let lim = ReasmLimits {
            per_stream: self.limits.max_stream_pending,
            max_ahead: self.limits.max_stream_ahead,
        };
        let Connection {
            streams,
            app,
            budget,
            stats,
            ..
        } = self;
        let r = streams.entry(key).or_default();
        let before = r.dropped;
        r.push(off, data, fin, lim, budget, &mut |piece| match app {
            Some(App::H3(h)) => h.piece(sid, dir, piece, out),
            Some(App::Raw(raw)) => raw.piece(sid, dir, piece, out),
            None => {}
        });
        stats.frames_dropped += r.dropped - before;
        if r.complete() {
            self.stream_end(sid, dir, false, out);
        }
    }

    /// A stream direction is complete (FIN delivered) or was reset.
    fn stream_end(&mut self, sid: u64, dir: usize, reset: bool, out: &mut Vec<Event>) {
        let key = (sid, dir);
        if let Some(mut r) = self.streams.remove(&key) {
            if let Some(app) = &mut self.app {
                r.flush(&mut self.budget, &mut |piece| match app {
                    App::H3(h) => h.piece(sid, dir, piece, out),
                    App::Raw(raw) => raw.piece(sid, dir, piece, out),
                });
            }
            self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(r.gap_bytes);
        } else if self.closed.contains(&key) {
            return;
        }
        match &mut self.app {
            Some(App::H3(h)) => h.fin(sid, dir, reset, out),
            Some(App::Raw(raw)) => raw.fin(sid, dir, out),
            None => {}
        }
        if self.closed.len() >= self.limits.max_closed_streams {
            self.closed.pop_first();
        }
        self.closed.insert(key);
    }

    /// End of capture: deliver what is buffered (noting holes) and report unfinished messages.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let keys: Vec<(u64, usize)> = self.streams.keys().copied().collect();
        for (sid, dir) in keys {
            if let Some(mut r) = self.streams.remove(&(sid, dir)) {
                if let Some(app) = &mut self.app {
                    r.flush(&mut self.budget, &mut |piece| match app {
                        App::H3(h) => h.piece(sid, dir, piece, out),
                        App::Raw(raw) => raw.piece(sid, dir, piece, out),
                    });
                }
                self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(r.gap_bytes);
            }
        }
        match &mut self.app {
            Some(App::H3(h)) => h.finish(out),
            Some(App::Raw(raw)) => raw.finish(out),
            None => {}
        }
    }
}

/// Feed arbitrary bytes through every parser of this crate (the fuzzing entry point).
/// The first byte selects the path: QPACK, decrypted QUIC frames, or whole datagrams.
pub fn exercise(data: &[u8]) {
    struct Fixed;
    impl SecretSource for Fixed {
        fn secrets(&self, _: &[u8; 32]) -> Option<QuicSecrets> {
            let s = Some(vec![7u8; 32]);
            Some(QuicSecrets {
                client_handshake: s.clone(),
                server_handshake: s.clone(),
                client_app: s.clone(),
                server_app: s.clone(),
                client_early: s,
            })
        }
    }
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    // Records: one byte (direction in bit 0), two bytes of length, then the bytes.
    let mut records = Vec::new();
    let mut p = rest;
    while let [flags, a, b, tail @ ..] = p {
        let n = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (rec, next) = tail.split_at(n);
        records.push((flags & 1, rec));
        p = next;
    }
    match mode % 3 {
        0 => {
            let mut d = qpack::Decoder::new(usize::from(mode) * 64);
            for (i, (kind, rec)) in records.iter().enumerate() {
                if *kind == 0 {
                    let _ = d.encoder_stream(rec);
                } else {
                    let _ = d.decode_field_section(i as u64, rec);
                }
                let _ = d.take_unblocked();
            }
        }
        1 => {
            let mut c = Connection::new();
            c.alpn = Some(if mode & 8 != 0 { "h3" } else { "raw" }.into());
            for (dir, rec) in records {
                c.frames(usize::from(dir), Level::OneRtt, rec, &mut out);
            }
            c.finish(&mut out);
        }
        _ => {
            let mut c = Connection::new();
            for (dir, rec) in records {
                c.datagram(dir == 0, rec, &Fixed, &mut out);
            }
            c.finish(&mut out);
            let _ = (c.outcome(), c.stats(), c.bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vi(v: u64) -> Vec<u8> {
        if v < 64 {
            vec![v as u8]
        } else if v < 16384 {
            (0x4000u16 | v as u16).to_be_bytes().to_vec()
        } else {
            ((0xc0u64 << 56) | v).to_be_bytes().to_vec()
        }
    }

    /// A STREAM frame with offset and length.
    fn stream(sid: u64, off: u64, data: &[u8], fin: bool) -> Vec<u8> {
        let mut f = vec![0x0e | u8::from(fin)];
        f.extend(vi(sid));
        f.extend(vi(off));
        f.extend(vi(data.len() as u64));
        f.extend_from_slice(data);
        f
    }

    fn h3_frame(ty: u64, payload: &[u8]) -> Vec<u8> {
        let mut f = vi(ty);
        f.extend(vi(payload.len() as u64));
        f.extend_from_slice(payload);
        f
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn conn(alpn: &str) -> Connection {
        let mut c = Connection::new();
        c.alpn = Some(alpn.into());
        c
    }

    /// HTTP/3 over decrypted frames: a request whose field section needs dynamic table
    /// entries that arrive later on the encoder stream, STREAM frames out of order, DATA split
    /// across frames, and a response with a static-only field section.
    #[test]
    fn h3_request_blocked_then_decoded() {
        let mut c = conn("h3");
        let mut out = Vec::new();
        // Server control stream (3): SETTINGS with QPACK_MAX_TABLE_CAPACITY 220, so the
        // client may use a dynamic table.
        let mut ctl = vec![0x00];
        ctl.extend(h3_frame(0x04, &h("01 40dc 06 4400")));
        c.frames(1, Level::OneRtt, &stream(3, 0, &ctl, false), &mut out);
        // Request stream 0: HEADERS needing two inserts, then DATA "hello world".
        let mut req = h3_frame(0x01, &h("0381 10 11"));
        req.extend(h3_frame(0x00, b"hello "));
        req.extend(h3_frame(0x00, b"world"));
        let (a, b) = req.split_at(7);
        let mut p = stream(0, 7, b, true);
        p.extend(stream(0, 0, a, false));
        p.extend([0x00, 0x00, 0x01]); // PADDING, PING
        c.frames(0, Level::OneRtt, &p, &mut out);
        assert!(out.is_empty(), "blocked: {out:?}");
        // Client encoder stream (2): the inserts, split across two packets.
        let mut enc = vec![0x02];
        enc.extend(h(
            "3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468",
        ));
        c.frames(0, Level::OneRtt, &stream(2, 0, &enc[..9], false), &mut out);
        assert!(out.is_empty());
        c.frames(0, Level::OneRtt, &stream(2, 9, &enc[9..], false), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        let Event::Request(m) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(m.stream_id, 0);
        assert_eq!(m.header(":authority").as_deref(), Some("www.example.com"));
        assert_eq!(m.header(":path").as_deref(), Some("/sample/path"));
        assert_eq!(m.body, b"hello world");
        assert!(m.complete && !m.body_truncated);
        // Response: :status 200 (static 25), retransmitted once.
        let resp = h3_frame(0x01, &h("0000 d9"));
        let f = stream(0, 0, &resp, true);
        c.frames(1, Level::OneRtt, &f, &mut out);
        c.frames(1, Level::OneRtt, &f, &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        let Event::Response(r) = &out[1] else {
            panic!("{out:?}")
        };
        assert_eq!(r.header(":status").as_deref(), Some("200"));
        c.finish(&mut out);
        assert_eq!(out.len(), 2);
    }

    /// Lost bytes in the middle of a DATA frame: the body is marked truncated, parsing goes
    /// on; a reset stream still reports what it had.
    #[test]
    fn h3_gap_and_reset() {
        let mut c = Connection::with_limits(Limits {
            max_stream_pending: 16,
            ..Limits::default()
        });
        c.alpn = Some("h3".into());
        let mut out = Vec::new();
        let mut req = h3_frame(0x01, &h("0000 d1 51 02 2f78"));
        // Offset of the fourth body byte (after the 2-byte DATA frame header).
        let data_at = req.len() as u64 + 2 + 3;
        req.extend(h3_frame(0x00, &[b'a'; 40]));
        // Header and the first 3 DATA bytes arrive, then data beyond a hole larger than the
        // per-stream buffer.
        c.frames(
            0,
            Level::OneRtt,
            &stream(0, 0, &req[..data_at as usize], false),
            &mut out,
        );
        c.frames(
            0,
            Level::OneRtt,
            &stream(
                0,
                data_at + 10,
                &req[data_at as usize + 10..data_at as usize + 20],
                false,
            ),
            &mut out,
        );
        c.frames(
            0,
            Level::OneRtt,
            &stream(0, data_at + 25, &req[data_at as usize + 25..], true),
            &mut out,
        );
        c.finish(&mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        let Event::Request(m) = &out[0] else { panic!() };
        assert_eq!(m.header(":method").as_deref(), Some("GET"));
        assert_eq!(m.header(":path").as_deref(), Some("/x"));
        assert!(m.body_truncated && !m.complete);
        assert_eq!(m.body.len(), 3 + 10 + (40 - 3 - 25));
        assert!(c.stats().gap_bytes > 0);

        // RESET_STREAM on stream 4 after its headers.
        let mut out = Vec::new();
        c.frames(
            0,
            Level::OneRtt,
            &stream(4, 0, &h3_frame(0x01, &h("0000 d1")), false),
            &mut out,
        );
        let mut rst = vec![0x04];
        rst.extend(vi(4));
        rst.extend(vi(0x10c));
        rst.extend(vi(5));
        c.frames(0, Level::OneRtt, &rst, &mut out);
        assert_eq!(out.len(), 1);
        let Event::Request(m) = &out[0] else { panic!() };
        assert_eq!(m.stream_id, 4);
        assert!(!m.complete);
    }

    /// Other ALPNs: raw stream bytes in order; every other frame type is skipped correctly.
    #[test]
    fn raw_streams_and_all_frame_types() {
        let mut c = conn("ping/1.0");
        let mut out = Vec::new();
        let mut p = Vec::new();
        p.extend(h("02 05 00 01 00")); // ACK
        p.extend(h("03 05 00 01 00 01 02 01 01 01")); // ACK_ECN with one range
        p.extend(h("05 04 00")); // STOP_SENDING
        p.extend(h("07 02 aabb")); // NEW_TOKEN
        p.extend(h("10 01 11 00 01 12 01 13 01 14 01 15 00 01 16 01 17 01")); // flow control
        p.extend(h("18 01 00 04 01020304 00112233445566778899aabbccddeeff")); // NEW_CONNECTION_ID
        p.extend(h("19 00 1a 0001020304050607 1b 0001020304050607")); // RETIRE, PATH_*
        p.extend(h("30 ")); // DATAGRAM without length would eat the rest: use 0x31 first
        p.pop();
        p.extend(h("31 02 abcd 1e")); // DATAGRAM with length, HANDSHAKE_DONE
        p.extend(stream(0, 2, b"ng", true));
        p.extend(h("0b 00 02 7069")); // STREAM with LEN and FIN bits only: "pi", offset 0
        p.extend(h("1c 00 00 00 1d 00 02 6f6b")); // CONNECTION_CLOSE both kinds
        p.extend(h("40ff 00")); // unknown frame type: stops parsing
        p.extend(stream(4, 0, b"never", true));
        c.frames(0, Level::OneRtt, &p, &mut out);
        c.finish(&mut out);
        assert_eq!(
            out,
            vec![Event::StreamData {
                stream_id: 0,
                to_server: true,
                data: b"ping".to_vec()
            }]
        );
        // The NEW_CONNECTION_ID from the client names a DCID for server-to-client packets.
        assert!(c.cids[1].contains(&vec![1, 2, 3, 4]));
    }

    /// Unfinished messages share one byte budget: the second body is cut, and declaring a huge
    /// HEADERS frame costs nothing until its bytes arrive.
    #[test]
    fn h3_memory_budget() {
        let mut c = Connection::with_limits(Limits {
            max_h3_buffered: 100,
            ..Limits::default()
        });
        c.alpn = Some("h3".into());
        let mut out = Vec::new();
        for sid in [0u64, 4] {
            let mut req = h3_frame(0x01, &h("0000 d1"));
            req.extend(h3_frame(0x00, &[b'z'; 80]));
            c.frames(0, Level::OneRtt, &stream(sid, 0, &req, false), &mut out);
        }
        // A HEADERS frame declaring 60 000 bytes, with 3 sent.
        c.frames(
            0,
            Level::OneRtt,
            &stream(8, 0, &h("01 80 00 ea 60 00 00 d1"), false),
            &mut out,
        );
        c.finish(&mut out);
        let bodies: Vec<(usize, bool)> = out
            .iter()
            .map(|e| match e {
                Event::Request(m) => (m.body.len(), m.body_truncated),
                _ => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(bodies[0], (80, false));
        assert!(bodies[1].0 < 80 && bodies[1].1, "{bodies:?}");
        assert_eq!(bodies.len(), 2);
    }

    #[test]
    fn hostile_frames_do_not_panic() {
        let mut c = conn("h3");
        let mut out = Vec::new();
        for p in [
            h("08"),                           // STREAM with nothing
            h("0e 00 ffffffffffffffff 01 00"), // offset beyond 2^62
            h("0e 00 bfffffffffffffff 01 00"), // offset 2^62-1 plus one byte
            h("0f 00 00 bfffffffffffffff"),    // length larger than the packet
            h("06 00 ffffffffffffffff"),       // CRYPTO length huge
            h("02 00 00 bfffffffffffffff 00"), // ACK range count huge
            h("18 00 00 ff"),                  // NEW_CONNECTION_ID length 255
            h("1c 00 00 bfffffffffffffff"),    // reason length huge
            h("0e 02 00 03 00 04 ff"),         // uni stream type then a frame header only
        ] {
            c.frames(0, Level::OneRtt, &p, &mut out);
            c.frames(1, Level::OneRtt, &p, &mut out);
        }
        // Many streams: bounded.
        let mut c = Connection::with_limits(Limits {
            max_streams: 4,
            ..Limits::default()
        });
        c.alpn = Some("h3".into());
        for sid in 0..100u64 {
            c.frames(0, Level::OneRtt, &stream(sid * 4, 5, b"x", false), &mut out);
        }
        assert_eq!(c.streams.len(), 4);
        assert_eq!(c.stats().frames_dropped, 96);
        c.finish(&mut out);
    }

    /// The fuzzing entry point over pseudo-random inputs of every mode.
    #[test]
    fn exercise_garbage() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..3000usize {
            let len = i % 400;
            let mut d = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                d.push(x as u8);
            }
            if let Some(b) = d.first_mut() {
                *b = (i % 256) as u8;
            }
            exercise(&d);
        }
    }

    #[test]
    fn malformed_datagrams_do_not_panic() {
        struct NoKeys;
        impl SecretSource for NoKeys {
            fn secrets(&self, _: &[u8; 32]) -> Option<QuicSecrets> {
                None
            }
        }
        let mut c = Connection::new();
        let mut out = Vec::new();
        for d in [
            h(""),
            h("c0"),
            h("c000000001"),
            h("c000000001 ff"),                        // DCID length 255
            h("c000000001 08 0001020304050607 ff"),    // SCID length 255
            h("c000000001 00 00 ffffffffffffffff"),    // token length huge
            h("c000000001 00 00 00 bfffffffffffffff"), // packet length huge
            h("c000000001 00 00 00 05 0102"),          // packet length beyond datagram
            h("c000000000 0400"),                      // version negotiation
            h("f0ff00001d 00 00 00 10 00112233445566778899aabbccddeeff"),
            h("cf51303530 00 00"),    // Google QUIC Q050
            h("40 0011223344556677"), // short header, unknown connection
        ] {
            c.datagram(true, &d, &NoKeys, &mut out);
            c.datagram(false, &d, &NoKeys, &mut out);
        }
        c.finish(&mut out);
        assert!(out.is_empty());
        assert!(c.stats().malformed > 0);
    }
}
