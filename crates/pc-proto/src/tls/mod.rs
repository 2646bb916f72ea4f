//! The TLS record layer of one direction: records split, cleartext handshake messages
//! reassembled across records and parsed (`hello.rs`), encrypted records counted and skipped
//! without copying. Every record's header and payload fragments go to an optional visitor
//! ([`RecordStream::push_with`]) so that decryption (pc-tlsdec) is layered on top.

mod codes;
mod hello;

pub use codes::{
    HRR_RANDOM, content_type, extension, handshake_type, is_grease, version, version_name,
};
pub use hello::{
    ClientHello, EncryptedExtensions, MAX_LIST, ServerHello, parse_client_hello,
    parse_client_hello_lenient, parse_encrypted_extensions, parse_server_hello,
    parse_server_hello_lenient,
};

use crate::ProtoError;

/// Largest record payload accepted: 2^14 plus the TLS 1.2 ciphertext expansion allowance.
pub const MAX_RECORD_LEN: usize = 16_384 + 2_048;
/// Largest handshake message reassembled; longer ones (huge certificate chains) are skipped.
pub const MAX_HANDSHAKE_LEN: usize = 64 * 1024;

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

/// The content types a record header may carry.
const KNOWN_CONTENT_TYPES: std::ops::RangeInclusive<u8> =
    content_type::CHANGE_CIPHER_SPEC..=content_type::HEARTBEAT;

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
    if !KNOWN_CONTENT_TYPES.contains(&content_type) {
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
            && matches!(
                rec[0],
                handshake_type::CLIENT_HELLO | handshake_type::SERVER_HELLO
            )
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
    p.first().is_some_and(|t| KNOWN_CONTENT_TYPES.contains(t))
        && p.get(1).is_none_or(|v| *v == 3)
        && p.get(2).is_none_or(|v| *v <= 4)
}

fn handshake_event(msg: &[u8]) -> Event {
    match msg.first() {
        Some(&handshake_type::CLIENT_HELLO) => parse_client_hello(msg)
            .map(Event::ClientHello)
            .unwrap_or(Event::Other),
        Some(&handshake_type::SERVER_HELLO) => parse_server_hello(msg)
            .map(Event::ServerHello)
            .unwrap_or(Event::Other),
        _ => Event::Other,
    }
}
