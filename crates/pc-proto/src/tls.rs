//! The TLS record layer and the cleartext handshake: ClientHello (SNI, ALPN, versions, …) and
//! ServerHello. Encrypted records are counted and skipped without copying.
//!
//! The record layer hands every record's header and payload fragments to an optional visitor
//! ([`RecordStream::push_with`]) so that decryption can be layered on later.

use crate::{ProtoError, Reader};

/// Largest record payload accepted: 2^14 plus the TLS 1.2 ciphertext expansion allowance.
pub const MAX_RECORD_LEN: usize = 16_384 + 2_048;
/// Largest handshake message reassembled; longer ones (huge certificate chains) are skipped.
pub const MAX_HANDSHAKE_LEN: usize = 64 * 1024;
/// Items kept per ClientHello list (cipher suites, ALPN, extensions, …).
pub const MAX_LIST: usize = 512;

/// Record content types.
pub mod content_type {
    /// change_cipher_spec
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert
    pub const ALERT: u8 = 21;
    /// handshake
    pub const HANDSHAKE: u8 = 22;
    /// application_data
    pub const APPLICATION_DATA: u8 = 23;
    /// heartbeat
    pub const HEARTBEAT: u8 = 24;
}

/// A parsed ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// server_name (host_name entry).
    pub sni: Option<String>,
    /// ALPN protocol names, in the client's order.
    pub alpn: Vec<String>,
    /// Offered versions: the supported_versions extension (GREASE removed), else the legacy
    /// version.
    pub versions: Vec<u16>,
    /// legacy_version field.
    pub legacy_version: u16,
    /// Client random.
    pub random: [u8; 32],
    /// legacy_session_id.
    pub session_id: Vec<u8>,
    /// Cipher suites as sent (GREASE included, for fingerprints).
    pub cipher_suites: Vec<u16>,
    /// An encrypted_client_hello extension (0xfe0d) is present (real or GREASE).
    pub has_ech: bool,
    /// Extension types in order.
    pub extensions: Vec<u16>,
    /// supported_groups.
    pub supported_groups: Vec<u16>,
    /// ec_point_formats.
    pub ec_point_formats: Vec<u8>,
    /// signature_algorithms.
    pub signature_algorithms: Vec<u16>,
}

/// A parsed ServerHello (or HelloRetryRequest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// Selected version: supported_versions extension if present, else the legacy version.
    pub version: u16,
    /// Selected cipher suite.
    pub cipher_suite: u16,
    /// Server random.
    pub random: [u8; 32],
    /// legacy_session_id_echo.
    pub session_id: Vec<u8>,
    /// This is a TLS 1.3 HelloRetryRequest (the special random value).
    pub hello_retry: bool,
    /// ALPN protocol selected, if visible (TLS 1.2; TLS 1.3 encrypts it).
    pub alpn: Option<String>,
    /// Extension types in order.
    pub extensions: Vec<u16>,
}

/// What the record stream saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A ClientHello handshake message.
    ClientHello(ClientHello),
    /// A ServerHello handshake message.
    ServerHello(ServerHello),
    /// A change_cipher_spec record.
    ChangeCipherSpec,
    /// An application_data record header (payload skipped).
    ApplicationData {
        /// Payload length.
        len: usize,
    },
    /// An alert record.
    Alert,
    /// Any other handshake message or record (including encrypted handshake records).
    Other,
}

/// SHA-256 of "HelloRetryRequest", the ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// GREASE values (RFC 8701) look like 0x?A?A.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Name of a protocol version ("TLSv1.3", …; "unknown" otherwise).
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1.0",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        0x7f00..=0x7fff => "TLSv1.3-draft",
        0xfeff => "DTLSv1.0",
        0xfefd => "DTLSv1.2",
        0xfefc => "DTLSv1.3",
        _ => "unknown",
    }
}

fn u16_list(r: &mut Reader<'_>, len: usize, what: &'static str) -> Result<Vec<u16>, ProtoError> {
    let mut l = r.sub(len, what)?;
    let mut v = Vec::with_capacity((len / 2).min(MAX_LIST));
    while l.remaining() >= 2 {
        let x = l.u16(what)?;
        if v.len() < MAX_LIST {
            v.push(x);
        }
    }
    Ok(v)
}

fn read_random(r: &mut Reader<'_>) -> Result<[u8; 32], ProtoError> {
    let b = r.bytes(32, "hello random")?;
    let mut a = [0u8; 32];
    a.copy_from_slice(b);
    Ok(a)
}

/// Split a handshake message into its type and body, checking the length.
fn handshake_body<'a>(
    msg: &'a [u8],
    want: u8,
    what: &'static str,
) -> Result<Reader<'a>, ProtoError> {
    let mut r = Reader::new(msg);
    let t = r.u8(what)?;
    if t != want {
        return Err(ProtoError::Malformed { at: 0, what });
    }
    let len = r.u24(what)? as usize;
    r.sub(len, what)
}

/// Parse a ClientHello handshake message (type 1, u24 length, body), as carried in TLS
/// handshake records or QUIC CRYPTO frames.
pub fn parse_client_hello(handshake_msg: &[u8]) -> Result<ClientHello, ProtoError> {
    let mut r = handshake_body(handshake_msg, 1, "ClientHello")?;
    let legacy_version = r.u16("ClientHello version")?;
    let random = read_random(&mut r)?;
    let sid_len = r.u8("session id length")? as usize;
    if sid_len > 32 {
        return Err(ProtoError::Malformed {
            at: r.at(),
            what: "session id longer than 32",
        });
    }
    let session_id = r.bytes(sid_len, "session id")?.to_vec();
    let cs_len = r.u16("cipher suites length")? as usize;
    let cipher_suites = u16_list(&mut r, cs_len, "cipher suites")?;
    let comp_len = r.u8("compression methods length")? as usize;
    r.bytes(comp_len, "compression methods")?;
    let mut ch = ClientHello {
        sni: None,
        alpn: Vec::new(),
        versions: Vec::new(),
        legacy_version,
        random,
        session_id,
        cipher_suites,
        has_ech: false,
        extensions: Vec::new(),
        supported_groups: Vec::new(),
        ec_point_formats: Vec::new(),
        signature_algorithms: Vec::new(),
    };
    // SSL 3.0-era hellos may end here, without extensions.
    if !r.is_empty() {
        let ext_len = r.u16("extensions length")? as usize;
        let mut exts = r.sub(ext_len, "extensions")?;
        while !exts.is_empty() {
            let et = exts.u16("extension type")?;
            let el = exts.u16("extension length")? as usize;
            let mut e = exts.sub(el, "extension data")?;
            if ch.extensions.len() < MAX_LIST {
                ch.extensions.push(et);
            }
            match et {
                0 => {
                    let ll = e.u16("server_name list length")? as usize;
                    let mut l = e.sub(ll, "server_name list")?;
                    while !l.is_empty() {
                        let nt = l.u8("server_name type")?;
                        let nl = l.u16("server_name length")? as usize;
                        let name = l.bytes(nl, "server_name")?;
                        if nt == 0 && ch.sni.is_none() {
                            ch.sni = Some(String::from_utf8_lossy(name).into_owned());
                        }
                    }
                }
                10 => {
                    let ll = e.u16("supported_groups length")? as usize;
                    ch.supported_groups = u16_list(&mut e, ll, "supported_groups")?;
                }
                11 => {
                    let ll = e.u8("ec_point_formats length")? as usize;
                    ch.ec_point_formats = e.bytes(ll, "ec_point_formats")?.to_vec();
                }
                13 => {
                    let ll = e.u16("signature_algorithms length")? as usize;
                    ch.signature_algorithms = u16_list(&mut e, ll, "signature_algorithms")?;
                }
                16 => {
                    let ll = e.u16("ALPN list length")? as usize;
                    let mut l = e.sub(ll, "ALPN list")?;
                    while !l.is_empty() {
                        let pl = l.u8("ALPN name length")? as usize;
                        let p = l.bytes(pl, "ALPN name")?;
                        if ch.alpn.len() < MAX_LIST {
                            ch.alpn.push(String::from_utf8_lossy(p).into_owned());
                        }
                    }
                }
                43 => {
                    let ll = e.u8("supported_versions length")? as usize;
                    let v = u16_list(&mut e, ll, "supported_versions")?;
                    ch.versions = v.into_iter().filter(|v| !is_grease(*v)).collect();
                }
                0xfe0d => ch.has_ech = true,
                _ => {}
            }
        }
    }
    if !ch.extensions.contains(&43) {
        ch.versions = vec![legacy_version];
    }
    Ok(ch)
}

/// Parse a ServerHello handshake message (type 2, u24 length, body).
pub fn parse_server_hello(handshake_msg: &[u8]) -> Result<ServerHello, ProtoError> {
    let mut r = handshake_body(handshake_msg, 2, "ServerHello")?;
    let legacy = r.u16("ServerHello version")?;
    let random = read_random(&mut r)?;
    let sid_len = r.u8("session id length")? as usize;
    if sid_len > 32 {
        return Err(ProtoError::Malformed {
            at: r.at(),
            what: "session id longer than 32",
        });
    }
    let session_id = r.bytes(sid_len, "session id")?.to_vec();
    let cipher_suite = r.u16("cipher suite")?;
    let _compression = r.u8("compression method")?;
    let mut sh = ServerHello {
        version: legacy,
        cipher_suite,
        random,
        session_id,
        hello_retry: random == HRR_RANDOM,
        alpn: None,
        extensions: Vec::new(),
    };
    if !r.is_empty() {
        let ext_len = r.u16("extensions length")? as usize;
        let mut exts = r.sub(ext_len, "extensions")?;
        while !exts.is_empty() {
            let et = exts.u16("extension type")?;
            let el = exts.u16("extension length")? as usize;
            let mut e = exts.sub(el, "extension data")?;
            if sh.extensions.len() < MAX_LIST {
                sh.extensions.push(et);
            }
            match et {
                43 => sh.version = e.u16("supported_versions")?,
                16 => {
                    let _ll = e.u16("ALPN list length")?;
                    let pl = e.u8("ALPN name length")? as usize;
                    sh.alpn = Some(String::from_utf8_lossy(e.bytes(pl, "ALPN name")?).into_owned());
                }
                _ => {}
            }
        }
    }
    Ok(sh)
}

/// A record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type (20..=24).
    pub content_type: u8,
    /// Record-layer version.
    pub version: u16,
    /// Payload length.
    pub len: u16,
}

/// Parse and validate a 5-byte record header; `None` if `h` is shorter than 5 bytes.
pub fn parse_record_header(h: &[u8], at: u64) -> Option<Result<RecordHeader, ProtoError>> {
    let h: &[u8; 5] = h.get(..5)?.try_into().ok()?;
    let content_type = h[0];
    let version = u16::from_be_bytes([h[1], h[2]]);
    let len = u16::from_be_bytes([h[3], h[4]]);
    if !(20..=24).contains(&content_type) {
        return Some(Err(ProtoError::Malformed {
            at,
            what: "TLS record content type",
        }));
    }
    if h[1] != 3 || h[2] > 4 {
        return Some(Err(ProtoError::Malformed {
            at,
            what: "TLS record version",
        }));
    }
    if len as usize > MAX_RECORD_LEN {
        return Some(Err(ProtoError::TooLarge {
            at,
            what: "TLS record length",
            len: len as u64,
            max: MAX_RECORD_LEN as u64,
        }));
    }
    Some(Ok(RecordHeader {
        content_type,
        version,
        len,
    }))
}

/// A piece of one record's payload, as given to a [`RecordStream::push_with`] visitor. Payloads
/// are handed over in the pieces in which they arrived, without copying; `offset` is the
/// position of `data` in the record payload, and `last` marks the piece that completes it.
#[derive(Debug, Clone, Copy)]
pub struct RecordFragment<'a> {
    /// The record's header.
    pub header: RecordHeader,
    /// Offset of `data` within the record payload.
    pub offset: usize,
    /// Payload bytes.
    pub data: &'a [u8],
    /// This piece ends the record.
    pub last: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a record header (`hdr_len` bytes of it so far).
    Header,
    /// Inside a record payload.
    Payload { h: RecordHeader, done: usize },
    /// Lost framing after a gap: looking for a plausible record header.
    Resync,
    /// Not TLS (or hopelessly corrupt): further data is ignored.
    Dead,
}

/// One direction of a TLS connection: splits records, reassembles handshake messages across
/// records (bounded by [`MAX_HANDSHAKE_LEN`]), and skips application data without copying.
#[derive(Debug)]
pub struct RecordStream {
    state: State,
    hdr: [u8; 5],
    hdr_len: usize,
    /// Reassembly buffer of the cleartext handshake byte stream.
    hs: Vec<u8>,
    /// Handshake bytes still to discard (an oversized message being skipped).
    hs_skip: usize,
    /// Payload of the current handshake record when its cleartext status is undecided (after a
    /// change_cipher_spec, where handshake records are normally encrypted).
    rec: Vec<u8>,
    /// A change_cipher_spec was seen: following handshake records are encrypted (TLS 1.2).
    ccs_seen: bool,
    /// Stream offset of the next byte, for error positions.
    offset: u64,
    /// The stream resynchronised after a gap: a bad header then means lost sync, not "not TLS".
    after_gap: bool,
}

impl Default for RecordStream {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordStream {
    /// A record stream at the start of a connection direction.
    pub fn new() -> Self {
        RecordStream {
            state: State::Header,
            hdr: [0; 5],
            hdr_len: 0,
            hs: Vec::new(),
            hs_skip: 0,
            rec: Vec::new(),
            ccs_seen: false,
            offset: 0,
            after_gap: false,
        }
    }

    /// Feed in-order stream bytes; events are appended to `out`. The first error (not TLS)
    /// is returned once; after it the stream ignores further data.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Event>) -> Result<(), ProtoError> {
        self.push_with(data, out, |_| {})
    }

    /// Like [`push`](Self::push), also handing every record payload fragment to `visit`.
    pub fn push_with<F: FnMut(&RecordFragment<'_>)>(
        &mut self,
        mut data: &[u8],
        out: &mut Vec<Event>,
        mut visit: F,
    ) -> Result<(), ProtoError> {
        while !data.is_empty() {
            match self.state {
                State::Dead => return Ok(()),
                State::Resync => {
                    // Look for a plausible header: content type, 0x03 0x00..=0x04, sane length,
                    // or the start of one at the end of `data`.
                    let found = (0..data.len()).find(|&i| {
                        let rest = &data[i..];
                        match parse_record_header(rest, 0) {
                            Some(r) => r.is_ok(),
                            None => plausible_header_prefix(rest),
                        }
                    });
                    let skip = found.unwrap_or(data.len());
                    self.offset += skip as u64;
                    data = &data[skip..];
                    if found.is_some() {
                        self.state = State::Header;
                    }
                }
                State::Header => {
                    let take = (5 - self.hdr_len).min(data.len());
                    self.hdr[self.hdr_len..self.hdr_len + take].copy_from_slice(&data[..take]);
                    self.hdr_len += take;
                    data = &data[take..];
                    self.offset += take as u64;
                    if self.hdr_len < 5 {
                        return Ok(());
                    }
                    self.hdr_len = 0;
                    let at = self.offset - 5;
                    match parse_record_header(&self.hdr, at) {
                        Some(Ok(h)) => {
                            self.state = State::Payload { h, done: 0 };
                            self.record_start(h, out);
                            if h.len == 0 {
                                visit(&RecordFragment {
                                    header: h,
                                    offset: 0,
                                    data: &[],
                                    last: true,
                                });
                                self.record_end(h, out);
                                self.state = State::Header;
                            }
                        }
                        Some(Err(e)) => {
                            if self.after_gap {
                                self.state = State::Resync;
                                continue;
                            }
                            self.state = State::Dead;
                            return Err(e);
                        }
                        None => return Ok(()),
                    }
                }
                State::Payload { h, done } => {
                    let want = h.len as usize - done;
                    let take = want.min(data.len());
                    let piece = &data[..take];
                    let last = take == want;
                    visit(&RecordFragment {
                        header: h,
                        offset: done,
                        data: piece,
                        last,
                    });
                    if h.content_type != content_type::APPLICATION_DATA {
                        self.payload_piece(h, piece, out);
                    }
                    data = &data[take..];
                    self.offset += take as u64;
                    if last {
                        self.record_end(h, out);
                        self.state = State::Header;
                    } else {
                        self.state = State::Payload {
                            h,
                            done: done + take,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    fn record_start(&mut self, h: RecordHeader, out: &mut Vec<Event>) {
        match h.content_type {
            content_type::APPLICATION_DATA => out.push(Event::ApplicationData {
                len: h.len as usize,
            }),
            content_type::CHANGE_CIPHER_SPEC => {
                self.ccs_seen = true;
                out.push(Event::ChangeCipherSpec);
            }
            content_type::ALERT => out.push(Event::Alert),
            content_type::HEARTBEAT => out.push(Event::Other),
            _ => {}
        }
    }

    fn payload_piece(&mut self, h: RecordHeader, piece: &[u8], out: &mut Vec<Event>) {
        if h.content_type != content_type::HANDSHAKE {
            return;
        }
        if self.ccs_seen {
            // Decide at the end of the record whether it is cleartext.
            self.rec.extend_from_slice(piece);
            return;
        }
        self.handshake_bytes(piece, out);
    }

    fn record_end(&mut self, h: RecordHeader, out: &mut Vec<Event>) {
        if h.content_type != content_type::HANDSHAKE || !self.ccs_seen {
            return;
        }
        let rec = std::mem::take(&mut self.rec);
        // After change_cipher_spec, handshake records are encrypted (TLS 1.2 Finished), except
        // the second ClientHello after a TLS 1.3 HelloRetryRequest (middlebox-compatibility
        // CCS first). Ciphertext is very unlikely to start with a hello header whose length
        // fits the record exactly.
        let cleartext = self.hs.is_empty()
            && rec.len() >= 4
            && matches!(rec[0], 1 | 2)
            && u32::from_be_bytes([0, rec[1], rec[2], rec[3]]) as usize + 4 <= rec.len();
        if cleartext {
            self.handshake_bytes(&rec, out);
        } else {
            out.push(Event::Other);
        }
        self.rec = rec;
        self.rec.clear();
    }

    /// Append cleartext handshake bytes and emit every complete message.
    fn handshake_bytes(&mut self, mut piece: &[u8], out: &mut Vec<Event>) {
        while !piece.is_empty() {
            if self.hs_skip > 0 {
                let n = self.hs_skip.min(piece.len());
                self.hs_skip -= n;
                piece = &piece[n..];
                continue;
            }
            // Message header first (4 bytes), then decide whether to keep the body.
            if self.hs.len() < 4 {
                let n = (4 - self.hs.len()).min(piece.len());
                self.hs.extend_from_slice(&piece[..n]);
                piece = &piece[n..];
                if self.hs.len() < 4 {
                    return;
                }
            }
            let body_len = u32::from_be_bytes([0, self.hs[1], self.hs[2], self.hs[3]]) as usize;
            let total = body_len + 4;
            if total > MAX_HANDSHAKE_LEN {
                self.hs_skip = body_len;
                self.hs.clear();
                out.push(Event::Other);
                continue;
            }
            let n = (total - self.hs.len()).min(piece.len());
            self.hs.extend_from_slice(&piece[..n]);
            piece = &piece[n..];
            if self.hs.len() == total {
                out.push(handshake_event(&self.hs));
                self.hs.clear();
            }
        }
    }

    /// Bytes of this direction were lost: the record framing is lost too. The stream looks
    /// for the next plausible record header.
    pub fn gap(&mut self) {
        self.state = State::Resync;
        self.hdr_len = 0;
        self.hs.clear();
        self.hs_skip = 0;
        self.rec.clear();
        self.after_gap = true;
    }

    /// Like [`gap`](Self::gap) with the number of missing bytes known: a gap that falls
    /// entirely inside a record payload being skipped keeps the framing.
    pub fn gap_len(&mut self, missing: u64) {
        if let State::Payload { h, done } = self.state
            && h.content_type == content_type::APPLICATION_DATA
            && (missing as usize) < h.len as usize - done
            && missing < u32::MAX as u64
        {
            self.state = State::Payload {
                h,
                done: done + missing as usize,
            };
            self.offset += missing;
            return;
        }
        self.gap();
    }
}

/// Could `p` (shorter than a header) be the start of a record header?
fn plausible_header_prefix(p: &[u8]) -> bool {
    p.first().is_some_and(|t| (20..=24).contains(t))
        && p.get(1).is_none_or(|v| *v == 3)
        && p.get(2).is_none_or(|v| *v <= 4)
}

fn handshake_event(msg: &[u8]) -> Event {
    match msg.first() {
        Some(1) => parse_client_hello(msg)
            .map(Event::ClientHello)
            .unwrap_or(Event::Other),
        Some(2) => parse_server_hello(msg)
            .map(Event::ServerHello)
            .unwrap_or(Event::Other),
        _ => Event::Other,
    }
}
