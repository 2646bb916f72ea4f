//! Push decoding of HTTP content and transfer codings (gzip, deflate, br, zstd, stacked), with
//! bounded memory and bounded output.
//!
//! Bytes go in as they come off the wire and decoded bytes come out, in pieces of at most
//! [`OUT_CHUNK`], to a callback that searches them where they lie: a body is never held whole,
//! so its size is limited by an output budget (a decompression bomb is cut there, and says so),
//! not by a buffer. Each decoder is driven through its low-level streaming interface with a
//! fixed output buffer (flate2's `Decompress`, zstd's raw `Decoder`, brotli's
//! `BrotliDecompressStream`), so that one input byte cannot make a decoder write more than one
//! buffer before the budget is checked again. The pull decoders of [`crate::body`] serve callers
//! that hold a whole body anyway (HTTP/2 and gRPC messages).
//!
//! Gzip's member header is parsed here (RFC 1952 §2.3) because flate2 exposes it only behind its
//! `Read`/`Write` adapters. The CRC-32 and length trailer is checked: a corrupt deflate stream
//! often decodes to the end without an error, and only the trailer shows that what was decoded
//! is not what the sender compressed — so the sender's real bytes were not searched.

use brotli::{BrotliDecompressStream, BrotliResult, BrotliState, enc::StandardAlloc};
use flate2::{Decompress, FlushDecompress, Status};

/// zstd window accepted (log2): 8 MiB, the RFC 9659 limit for HTTP; larger windows would let a
/// tiny frame make the decoder allocate up to 2 GiB.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Canonical name of a supported coding (`None` if unsupported).
pub fn coding_name(encoding: &str) -> Option<&'static str> {
    let e = encoding.trim();
    [
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate", "deflate"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("identity", "identity"),
    ]
    .iter()
    .find(|(n, _)| e.eq_ignore_ascii_case(n))
    .map(|(_, c)| *c)
}

/// Largest piece of decoded output handed to the callback at once.
pub const OUT_CHUNK: usize = 64 * 1024;
/// Gzip member headers longer than this (a file name or comment that never ends) are refused.
const MAX_GZIP_HEADER: usize = 64 * 1024;
/// Encoded bytes kept while the first decoder has produced nothing, so that a body labelled
/// with a coding it does not have can still be searched as it was sent.
const MAX_RAW_KEPT: usize = 64 * 1024;

/// Why decoding stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The output budget was reached; the rest was not decoded.
    Budget,
    /// The encoded data is corrupt (the decoder's own message).
    Corrupt(&'static str, &'static str),
    /// The encoded data ends inside a stream (cut body, or a sender that never finished it).
    EndsEarly(&'static str),
    /// A coding this decoder does not know.
    Unsupported,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Budget => f.write_str("decoded size limit reached"),
            Stop::Corrupt(enc, what) => write!(f, "corrupt {enc} data: {what}"),
            Stop::EndsEarly(enc) => write!(f, "{enc} data ends early"),
            Stop::Unsupported => f.write_str("unsupported coding"),
        }
    }
}

/// What a finished decode did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Encoded bytes fed in.
    pub encoded: u64,
    /// Decoded bytes handed to the callback.
    pub decoded: u64,
    /// Encoded bytes fed after decoding stopped (the rest of the piece in which it stopped is
    /// not counted: at least this many were not read).
    pub encoded_unread: u64,
    /// Why decoding stopped before the end, if it did.
    pub stop: Option<Stop>,
    /// The first decoder failed before producing anything: the bytes were handed over as sent.
    pub raw: bool,
}

enum Gz {
    /// Collecting a member header.
    Header(Vec<u8>),
    /// Inside a member's deflate data, with the CRC-32 of what it decoded so far.
    Data(Box<Decompress>, flate2::Crc),
    /// Reading the 8-byte trailer (CRC-32, length mod 2^32) to check it against what was
    /// decoded; then another member may follow.
    Trailer {
        crc: u32,
        len: u32,
        got: [u8; 8],
        n: u8,
    },
    /// After the last member: bytes that are not a member are ignored.
    Done,
}

type Brotli = BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>;

enum Stage {
    Gzip(Gz),
    /// "deflate" is zlib (RFC 1950) or, from some servers, raw deflate: told apart by the first
    /// two bytes.
    DeflateUndecided(Vec<u8>),
    Inflate(Box<Decompress>, &'static str),
    Brotli(Box<Brotli>),
    Zstd(Box<zstd::stream::raw::Decoder<'static>>, bool),
    Finished,
}

type Emit<'a> = dyn FnMut(&[u8]) -> Result<(), Stop> + 'a;

fn inflate_into(
    d: &mut Decompress,
    mut input: &[u8],
    buf: &mut [u8],
    enc: &'static str,
    emit: &mut Emit<'_>,
) -> Result<(usize, bool), Stop> {
    let start_len = input.len();
    loop {
        let (in0, out0) = (d.total_in(), d.total_out());
        let status = d
            .decompress(input, buf, FlushDecompress::None)
            .map_err(|_| Stop::Corrupt(enc, "invalid deflate stream"))?;
        let used = (d.total_in() - in0) as usize;
        let made = (d.total_out() - out0) as usize;
        input = &input[used..];
        if made > 0 {
            emit(&buf[..made])?;
        }
        if status == Status::StreamEnd {
            return Ok((start_len - input.len(), true));
        }
        // Done when every input byte is in and the output is drained; a call that moves
        // nothing at all would move nothing again.
        if (input.is_empty() && made < buf.len()) || (used == 0 && made == 0) {
            return Ok((start_len - input.len(), false));
        }
    }
}

/// Length of a complete gzip member header at the start of `h`, `Ok(None)` if more bytes are
/// needed.
fn gzip_header_len(h: &[u8]) -> Result<Option<usize>, Stop> {
    const BAD: Stop = Stop::Corrupt("gzip", "invalid header");
    if h.len() < 10 {
        if h.iter().zip([0x1f, 0x8b, 8]).any(|(a, b)| *a != b) {
            return Err(BAD);
        }
        return Ok(None);
    }
    if h[..3] != [0x1f, 0x8b, 8] {
        return Err(BAD);
    }
    let flags = h[3];
    let mut at = 10;
    if flags & 0x04 != 0 {
        let Some(x) = h.get(at..at + 2) else {
            return Ok(None);
        };
        at += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for bit in [0x08, 0x10] {
        if flags & bit != 0 {
            let Some(rest) = h.get(at..) else {
                return Ok(None);
            };
            match memchr::memchr(0, rest) {
                Some(i) => at += i + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 0x02 != 0 {
        at += 2;
    }
    Ok((at <= h.len()).then_some(at))
}

impl Stage {
    fn new(coding: &str) -> Option<Stage> {
        Some(match coding_name(coding)? {
            "gzip" => Stage::Gzip(Gz::Header(Vec::new())),
            "deflate" => Stage::DeflateUndecided(Vec::new()),
            "br" => {
                let mut s = Brotli::new(
                    StandardAlloc::default(),
                    StandardAlloc::default(),
                    StandardAlloc::default(),
                );
                // RFC 7932 windows only (16 MiB at most): "large window" brotli, which would let
                // a few bytes ask for a 1 GiB ring buffer, is not HTTP's `br`.
                s.large_window = false;
                Stage::Brotli(Box::new(s))
            }
            "zstd" => {
                let mut z = zstd::stream::raw::Decoder::new().ok()?;
                z.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(
                    ZSTD_WINDOW_LOG_MAX,
                ))
                .ok()?;
                Stage::Zstd(Box::new(z), false)
            }
            _ => return None,
        })
    }

    /// Feed `input`; decoded output goes to `emit`.
    fn push(&mut self, mut input: &[u8], buf: &mut [u8], emit: &mut Emit<'_>) -> Result<(), Stop> {
        while !input.is_empty() {
            match self {
                Stage::Finished => return Ok(()),
                Stage::DeflateUndecided(head) => {
                    let take = (2 - head.len()).min(input.len());
                    head.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if head.len() < 2 {
                        return Ok(());
                    }
                    let (a, b) = (head[0], head[1]);
                    let zlib = a & 0x0f == 8
                        && (a >> 4) <= 7
                        && (u16::from(a) << 8 | u16::from(b)) % 31 == 0;
                    let head = std::mem::take(head);
                    *self = Stage::Inflate(Box::new(Decompress::new(zlib)), "deflate");
                    self.push(&head, buf, emit)?;
                }
                Stage::Inflate(d, enc) => {
                    let (_, end) = inflate_into(d, input, buf, enc, emit)?;
                    if end {
                        *self = Stage::Finished;
                    }
                    return Ok(());
                }
                Stage::Gzip(gz) => match gz {
                    Gz::Header(h) => {
                        let before = h.len();
                        let take = input.len().min(MAX_GZIP_HEADER + 1 - before);
                        h.extend_from_slice(&input[..take]);
                        match gzip_header_len(h)? {
                            Some(n) => {
                                input = &input[n - before..];
                                *gz =
                                    Gz::Data(Box::new(Decompress::new(false)), flate2::Crc::new());
                            }
                            None if h.len() > MAX_GZIP_HEADER => {
                                return Err(Stop::Corrupt("gzip", "header too long"));
                            }
                            None => return Ok(()),
                        }
                    }
                    Gz::Data(d, crc) => {
                        let mut emit_crc = |out: &[u8]| {
                            crc.update(out);
                            emit(out)
                        };
                        let (used, end) = inflate_into(d, input, buf, "gzip", &mut emit_crc)?;
                        input = &input[used..];
                        if !end {
                            return Ok(());
                        }
                        *gz = Gz::Trailer {
                            crc: crc.sum(),
                            len: crc.amount(),
                            got: [0; 8],
                            n: 0,
                        };
                    }
                    Gz::Trailer { crc, len, got, n } => {
                        let take = (8 - usize::from(*n)).min(input.len());
                        got[usize::from(*n)..usize::from(*n) + take]
                            .copy_from_slice(&input[..take]);
                        input = &input[take..];
                        *n += take as u8;
                        if *n < 8 {
                            return Ok(());
                        }
                        let (want_crc, want_len) = got.split_at(4);
                        if want_crc != crc.to_le_bytes() || want_len != len.to_le_bytes() {
                            return Err(Stop::Corrupt(
                                "gzip",
                                "CRC-32 or length does not match what was decoded",
                            ));
                        }
                        // Concatenated members are one body (RFC 1952 §2.2).
                        *gz = if input.first() == Some(&0x1f) {
                            Gz::Header(Vec::new())
                        } else {
                            Gz::Done
                        };
                    }
                    // Zero padding after the last member is ignored, as gzip(1) does; any
                    // other byte there is sent data nobody would decode, so it is not searched.
                    Gz::Done if input.iter().all(|&b| b == 0) => return Ok(()),
                    Gz::Done => {
                        return Err(Stop::Corrupt("gzip", "data after the last member"));
                    }
                },
                Stage::Brotli(s) => {
                    let mut avail_in = input.len();
                    let mut in_off = 0;
                    loop {
                        let mut avail_out = buf.len();
                        let mut out_off = 0;
                        let mut total = 0;
                        let r = BrotliDecompressStream(
                            &mut avail_in,
                            &mut in_off,
                            input,
                            &mut avail_out,
                            &mut out_off,
                            buf,
                            &mut total,
                            s,
                        );
                        if out_off > 0 {
                            emit(&buf[..out_off])?;
                        }
                        match r {
                            BrotliResult::NeedsMoreOutput => continue,
                            BrotliResult::NeedsMoreInput => return Ok(()),
                            BrotliResult::ResultSuccess => {
                                *self = Stage::Finished;
                                return Ok(());
                            }
                            BrotliResult::ResultFailure => {
                                return Err(Stop::Corrupt("br", "invalid brotli stream"));
                            }
                        }
                    }
                }
                Stage::Zstd(z, frame_open) => {
                    use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
                    let mut inb = InBuffer::around(input);
                    loop {
                        let mut outb = OutBuffer::around(&mut *buf);
                        let hint = z
                            .run(&mut inb, &mut outb)
                            .map_err(|_| Stop::Corrupt("zstd", "invalid zstd frame"))?;
                        let made = outb.pos();
                        *frame_open = hint != 0;
                        if made > 0 {
                            emit(&buf[..made])?;
                        }
                        if inb.pos() == input.len() && made < buf.len() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The input ended: was the stream complete?
    fn finish(&self) -> Result<(), Stop> {
        match self {
            Stage::Finished | Stage::Gzip(Gz::Done) | Stage::DeflateUndecided(_) => Ok(()),
            Stage::Gzip(Gz::Header(h)) if h.is_empty() => Ok(()),
            // Every deflate byte was decoded; only the checksum is missing.
            // Every deflate byte was decoded and searched; only the check is missing.
            Stage::Gzip(Gz::Trailer { .. }) => Ok(()),
            Stage::Gzip(_) => Err(Stop::EndsEarly("gzip")),
            Stage::Inflate(d, enc) if d.total_in() > 0 => Err(Stop::EndsEarly(enc)),
            Stage::Inflate(..) => Ok(()),
            Stage::Brotli(_) => Err(Stop::EndsEarly("br")),
            Stage::Zstd(_, open) => {
                if *open {
                    Err(Stop::EndsEarly("zstd"))
                } else {
                    Ok(())
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Decoding,
    /// Bytes go through as sent (no coding, an unknown coding, or a body that was not what
    /// its label said).
    Raw,
    /// Nothing more is handed out.
    Stopped,
}

/// Decodes one body: a chain of decoders, the outermost (last applied) first.
pub struct StreamDecoder {
    stages: Vec<Stage>,
    /// One output buffer per stage, reused for the whole body.
    bufs: Vec<Vec<u8>>,
    mode: Mode,
    budget: u64,
    outcome: Outcome,
    /// While nothing has been decoded: the encoded bytes so far, for the raw fallback.
    raw_kept: Option<Vec<u8>>,
    /// Fall back to the bytes as sent when the first decoder fails at once.
    fallback: bool,
}

/// Hand `data` to `emit` within the budget.
fn emit_bounded(
    data: &[u8],
    decoded: &mut u64,
    budget: u64,
    emit: &mut Emit<'_>,
) -> Result<(), Stop> {
    let room = budget.saturating_sub(*decoded);
    let n = (data.len() as u64).min(room) as usize;
    if n > 0 {
        *decoded += n as u64;
        emit(&data[..n])?;
    }
    if n < data.len() {
        return Err(Stop::Budget);
    }
    Ok(())
}

fn run(
    stages: &mut [Stage],
    bufs: &mut [Vec<u8>],
    input: &[u8],
    decoded: &mut u64,
    budget: u64,
    emit: &mut Emit<'_>,
) -> Result<(), Stop> {
    match (stages.split_first_mut(), bufs.split_first_mut()) {
        (Some((stage, rest)), Some((buf, rest_bufs))) => stage.push(input, buf, &mut |out| {
            run(rest, rest_bufs, out, decoded, budget, emit)
        }),
        _ => emit_bounded(input, decoded, budget, emit),
    }
}

impl StreamDecoder {
    /// A decoder for codings given in the order the sender applied them ("identity" and
    /// "chunked" are skipped), handing out at most `budget` decoded bytes.
    pub fn new<'a>(codings: impl IntoIterator<Item = &'a str>, budget: u64) -> StreamDecoder {
        let mut stages = Vec::new();
        let mut unsupported = false;
        for c in codings {
            let c = c.trim();
            if c.is_empty()
                || c.eq_ignore_ascii_case("identity")
                || c.eq_ignore_ascii_case("chunked")
            {
                continue;
            }
            match Stage::new(c) {
                Some(s) => stages.push(s),
                None => unsupported = true,
            }
        }
        stages.reverse();
        let mut outcome = Outcome::default();
        if unsupported {
            // Nothing can be decoded: the bytes are searched as sent.
            stages.clear();
            outcome.raw = true;
            outcome.stop = Some(Stop::Unsupported);
        }
        StreamDecoder {
            bufs: stages.iter().map(|_| vec![0u8; OUT_CHUNK]).collect(),
            mode: if stages.is_empty() {
                Mode::Raw
            } else {
                Mode::Decoding
            },
            raw_kept: (!stages.is_empty()).then(Vec::new),
            stages,
            budget,
            outcome,
            fallback: true,
        }
    }

    /// [`StreamDecoder::new`] without the fallback to the bytes as sent: a body that is not
    /// what its coding says is an error, and nothing is handed out.
    pub fn strict<'a>(codings: impl IntoIterator<Item = &'a str>, budget: u64) -> StreamDecoder {
        let mut d = StreamDecoder::new(codings, budget);
        d.fallback = false;
        d.raw_kept = None;
        d
    }

    /// Does this decoder pass bytes through unchanged?
    pub fn is_identity(&self) -> bool {
        self.stages.is_empty()
    }

    /// Decoded bytes handed out so far.
    pub fn decoded(&self) -> u64 {
        self.outcome.decoded
    }

    /// Feed encoded bytes; decoded bytes go to `emit`, in pieces of at most [`OUT_CHUNK`]
    /// (bytes passed through unchanged in the pieces given).
    pub fn push(&mut self, input: &[u8], emit: &mut dyn FnMut(&[u8])) {
        let o = &mut self.outcome;
        o.encoded += input.len() as u64;
        let mut emit_ok = |d: &[u8]| {
            emit(d);
            Ok(())
        };
        let r = match self.mode {
            Mode::Stopped => {
                o.encoded_unread += input.len() as u64;
                return;
            }
            Mode::Raw => emit_bounded(input, &mut o.decoded, self.budget, &mut emit_ok),
            Mode::Decoding => {
                let r = run(
                    &mut self.stages,
                    &mut self.bufs,
                    input,
                    &mut o.decoded,
                    self.budget,
                    &mut emit_ok,
                );
                if let Some(kept) = &mut self.raw_kept {
                    if o.decoded > 0 || kept.len() + input.len() > MAX_RAW_KEPT {
                        self.raw_kept = None;
                    } else {
                        kept.extend_from_slice(input);
                    }
                }
                r
            }
        };
        let Err(stop) = r else {
            return;
        };
        match self.raw_kept.take() {
            // Labelled with a coding it does not have (a plain body under "gzip"): search
            // what was sent, and what follows as it comes.
            Some(raw) if matches!(stop, Stop::Corrupt(..)) && o.decoded == 0 => {
                o.raw = true;
                o.stop = Some(stop);
                self.stages.clear();
                self.bufs.clear();
                self.mode = Mode::Raw;
                if emit_bounded(&raw, &mut o.decoded, self.budget, &mut emit_ok).is_err() {
                    o.stop = Some(Stop::Budget);
                    self.mode = Mode::Stopped;
                }
            }
            _ => {
                o.stop = Some(stop);
                self.mode = Mode::Stopped;
            }
        }
    }

    /// The body ended; `complete` tells whether every encoded byte of it arrived.
    pub fn finish(self, complete: bool) -> Outcome {
        let mut o = self.outcome;
        if self.mode == Mode::Decoding
            && complete
            && let Some(Err(e)) = self.stages.iter().map(Stage::finish).find(Result::is_err)
        {
            o.stop = Some(e);
        }
        o
    }
}

impl Outcome {
    /// Decoding stopped before the end of the body: some of it was not searched.
    pub fn is_cut(&self) -> bool {
        matches!(self.stop, Some(Stop::Budget | Stop::EndsEarly(_)))
            || (matches!(self.stop, Some(Stop::Corrupt(..))) && !self.raw)
    }
}
