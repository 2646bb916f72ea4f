//! HAR 1.2 (HTTP Archive) reader, as a stream of entries.
//!
//! [`HarReader`] walks the file (plain or gzip-compressed) with a hand-rolled JSON lexer and
//! holds one entry at a time: memory does not grow with the number of entries. What one entry
//! keeps (its strings, name/value pairs and body text) is bounded by [`HarLimits::max_entry`]
//! ([`MAX_ENTRY_SIZE`] by default); an entry over it is skipped, with its index and byte offset
//! ([`Skipped`]), and the reader goes on with the next one. Nesting is bounded (10,000 levels)
//! without recursion.
//!
//! Real-world HAR writers (browsers, mitmproxy, Charles, Insomnia, ...) disagree on details, so
//! every field is optional and type mismatches in leaf values degrade to "absent" instead of
//! failing the whole file. Text that is not valid (invalid UTF-8 bytes, unpaired UTF-16
//! surrogate escapes) is decoded lossily to U+FFFD and reported on the entry ([`Repair`]) rather
//! than rejecting the file; body text keeps its bytes as they are in the file. Entries keep
//! their position in the `entries` array as `index`.

use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use super::{CaptureError, ErrorKind, Timestamp};

mod entry;
mod lex;

use lex::{LexError, Lexer};
pub use pc_base::time::parse_rfc3339_nanos as parse_timestamp;

/// Largest HAR stream read (after decompression); bytes past it are not read and the reader
/// stops with [`ErrorKind::Oversized`] at that offset, after the entries before it.
pub const MAX_HAR_SIZE: u64 = 4 * 1024 * 1024 * 1024;

/// Default for [`HarLimits::max_entry`]: bytes one entry may keep in memory (its decoded
/// strings, name/value pairs and body text; fields the reader does not use cost nothing).
pub const MAX_ENTRY_SIZE: usize = 64 * 1024 * 1024;

/// Bytes `log.creator.name` may keep.
const CREATOR_MAX: usize = 4096;

/// Resource limits of a [`HarReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HarLimits {
    /// Bytes of the (decompressed) stream read at most.
    pub max_size: u64,
    /// Bytes one entry may keep; an entry wanting more is skipped.
    pub max_entry: usize,
}

impl Default for HarLimits {
    fn default() -> Self {
        HarLimits {
            max_size: MAX_HAR_SIZE,
            max_entry: MAX_ENTRY_SIZE,
        }
    }
}

/// A HAR archive read whole (see [`parse`] and [`read`]); prefer [`HarReader`] for files of
/// any size, which holds one entry at a time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Har {
    /// `log.creator.name`.
    pub creator: Option<String>,
    /// `log.entries`, in file order (without the skipped ones).
    pub entries: Vec<Entry>,
    /// Entries over the per-entry limit, not read.
    pub skipped: Vec<Skipped>,
}

/// One HTTP exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// Position in `log.entries` (0-based).
    pub index: usize,
    /// Byte offset of the entry in the (decompressed) file.
    pub offset: u64,
    /// `startedDateTime` as written.
    pub started: Option<String>,
    /// `startedDateTime` parsed (ISO 8601 / RFC 3339), nanoseconds since the epoch.
    pub ts: Option<Timestamp>,
    /// `serverIPAddress`, when present and valid (brackets around IPv6 are accepted).
    pub server_ip: Option<IpAddr>,
    /// The request.
    pub request: Request,
    /// The response, when the entry has one.
    pub response: Option<Response>,
    /// Invalid text repaired while reading the entry (empty for a clean entry).
    pub repairs: Vec<Repair>,
}

/// An HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Method, e.g. "GET".
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// e.g. "HTTP/1.1", "h3", or empty.
    pub http_version: String,
    /// Header (name, value) pairs in file order.
    pub headers: Vec<(String, String)>,
    /// Cookie (name, value) pairs in file order.
    pub cookies: Vec<(String, String)>,
    /// Body from `postData.text` (base64-decoded when `postData.encoding` is "base64"), or
    /// rebuilt as `application/x-www-form-urlencoded` from `postData.params` when the text is
    /// empty. None when the request has no `postData`.
    pub body: Option<Vec<u8>>,
    /// `postData.mimeType`.
    pub mime_type: Option<String>,
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// Status code (0 when absent or invalid, as browsers write for failed requests).
    pub status: u16,
    /// Header (name, value) pairs in file order.
    pub headers: Vec<(String, String)>,
    /// `content.text`, base64-decoded when `content.encoding` is "base64".
    pub body: Option<Vec<u8>>,
    /// `content.mimeType`.
    pub mime_type: Option<String>,
}

/// What kind of invalid text was repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepairKind {
    /// Bytes that are not UTF-8 inside a string: U+FFFD in text fields; bodies keep the bytes.
    InvalidUtf8,
    /// A `\uD800`–`\uDFFF` escape without its other half: U+FFFD.
    LoneSurrogate,
}

/// Invalid text found in one entry: what, how many times, and the byte offset of the first
/// string that had it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repair {
    /// What was repaired.
    pub kind: RepairKind,
    /// How many times in the entry.
    pub count: u64,
    /// Byte offset (in the decompressed file) of the first string repaired.
    pub offset: u64,
}

impl std::fmt::Display for Repair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            RepairKind::InvalidUtf8 => {
                "invalid UTF-8 sequence(s) (U+FFFD in text; body bytes kept)"
            }
            RepairKind::LoneSurrogate => "unpaired surrogate escape(s) replaced with U+FFFD",
        };
        write!(
            f,
            "{} {what}, first in the string at byte {}",
            self.count, self.offset
        )
    }
}

/// An entry that was not read: it would keep more than the per-entry limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path}: at byte {offset}: HAR entry {index} skipped: it holds more than {max} bytes of text"
)]
pub struct Skipped {
    /// Path (or name) of the file.
    pub path: String,
    /// Position in `log.entries`.
    pub index: usize,
    /// Byte offset of the entry in the (decompressed) file.
    pub offset: u64,
    /// The per-entry limit it went over.
    pub max: usize,
}

/// What the reader gives for each element of `log.entries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// The entry, read (boxed: an entry is several times the size of a skip).
    Entry(Box<Entry>),
    /// The entry was over the per-entry limit and was not kept; the reader goes on.
    Skipped(Skipped),
}

/// Where the reader is in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the top-level object (and any BOM).
    Start,
    /// Inside the top-level object; `first` before its first member.
    Top { first: bool },
    /// Inside `log`.
    Log { first: bool },
    /// Inside `log.entries`.
    Entries { first: bool },
    /// After the top-level object.
    End,
    /// Finished, or stopped by an error.
    Done,
}

/// Streaming reader over a HAR file: one [`Item`] per element of `log.entries`, in file order.
///
/// An `Err` ends the reading (the reader is fused); the items before it were complete.
pub struct HarReader {
    lex: Lexer,
    name: String,
    limits: HarLimits,
    compressed: bool,
    state: State,
    index: usize,
    creator: Option<String>,
    saw_log: bool,
    saw_entries: bool,
}

impl std::fmt::Debug for HarReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarReader")
            .field("name", &self.name)
            .field("compressed", &self.compressed)
            .field("index", &self.index)
            .field("offset", &self.lex.pos())
            .finish_non_exhaustive()
    }
}

impl HarReader {
    /// Opens a HAR file (gzip-compressed or not) with the default limits.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::open_with(path, HarLimits::default())
    }

    /// Opens a HAR file (gzip-compressed or not) with explicit limits.
    pub fn open_with(path: &Path, limits: HarLimits) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| CaptureError::new(&name, 0, e.into()))?;
        Self::from_reader(Box::new(file), &name, limits)
    }

    /// Reads a HAR document from any byte stream, decompressing gzip; `name` is used in errors.
    pub fn from_reader(
        r: Box<dyn Read + Send>,
        name: &str,
        limits: HarLimits,
    ) -> Result<Self, CaptureError> {
        let (stream, _, compressed) = super::open_stream(r, name)?;
        Ok(HarReader {
            lex: Lexer::new(stream, limits.max_size),
            name: name.to_owned(),
            limits,
            compressed,
            state: State::Start,
            index: 0,
            creator: None,
            saw_log: false,
            saw_entries: false,
        })
    }

    /// `log.creator.name`, once read: HAR allows `creator` after `entries`, so it may only be
    /// known at the end.
    pub fn creator(&self) -> Option<&str> {
        self.creator.as_deref()
    }

    /// True when the file is gzip-compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// Offset in the decompressed stream of the next unread byte.
    pub fn position(&self) -> u64 {
        self.lex.pos()
    }

    /// Elements of `log.entries` met so far (read or skipped).
    pub fn entries_seen(&self) -> usize {
        self.index
    }

    /// The next element of `log.entries`; `Ok(None)` after a complete document.
    pub fn next_item(&mut self) -> Result<Option<Item>, CaptureError> {
        match self.step() {
            Ok(Some(item)) => Ok(Some(item)),
            Ok(None) => {
                self.state = State::Done;
                Ok(None)
            }
            Err(e) => {
                self.state = State::Done;
                Err(e)
            }
        }
    }

    fn lex_err(&self, e: LexError) -> CaptureError {
        let offset = self.lex.pos();
        let kind = match e {
            LexError::Io(e) => ErrorKind::Io(e),
            LexError::Eof => ErrorKind::Truncated,
            LexError::Syntax(msg) => ErrorKind::Json(msg),
            LexError::TooLarge => ErrorKind::Oversized {
                len: self.limits.max_size.saturating_add(1),
                max: self.limits.max_size,
            },
        };
        CaptureError::new(&self.name, offset, kind)
    }

    fn step(&mut self) -> Result<Option<Item>, CaptureError> {
        loop {
            let r = match self.state {
                State::Done => return Ok(None),
                State::End => {
                    return match self.lex.peek_ws_or_end() {
                        Err(e) => Err(self.lex_err(e)),
                        Ok(Some(_)) => Err(self
                            .lex_err(LexError::Syntax("data after the end of the HAR document"))),
                        Ok(None) if !self.saw_log => Err(CaptureError::new(
                            &self.name,
                            0,
                            ErrorKind::Malformed("HAR has no \"log\" object"),
                        )),
                        Ok(None) if !self.saw_entries => Err(CaptureError::new(
                            &self.name,
                            0,
                            ErrorKind::Malformed("HAR log has no \"entries\" array"),
                        )),
                        Ok(None) => Ok(None),
                    };
                }
                State::Start => self.start(),
                State::Top { first } => self.member(first, false),
                State::Log { first } => self.member(first, true),
                State::Entries { first } => match self.element(first) {
                    Ok(Some(item)) => return Ok(Some(item)),
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                },
            };
            r.map_err(|e| self.lex_err(e))?;
        }
    }

    /// Skips a UTF-8 byte order mark and opens the top-level object.
    fn start(&mut self) -> Result<(), LexError> {
        if self.lex.peek()? == Some(0xEF) {
            for want in [0xEF, 0xBB, 0xBF] {
                if self.lex.peek()? != Some(want) {
                    return Err(LexError::Syntax("a HAR file is a JSON object"));
                }
                self.lex.bump();
            }
        }
        self.lex.expect(b'{', "a HAR file is a JSON object")?;
        self.state = State::Top { first: true };
        Ok(())
    }

    /// One member of the top-level object (`in_log` false) or of `log` (true), or its end.
    fn member(&mut self, first: bool, in_log: bool) -> Result<(), LexError> {
        let after = if in_log {
            State::Log { first: false }
        } else {
            State::Top { first: false }
        };
        let close = if in_log {
            State::Top { first: false }
        } else {
            State::End
        };
        match (first, self.lex.peek_ws()?) {
            (_, b'}') => {
                self.lex.bump();
                self.state = close;
                return Ok(());
            }
            (false, b',') => self.lex.bump(),
            (false, _) => return Err(LexError::Syntax("expected ',' or '}'")),
            (true, _) => {}
        }
        let key = self.lex.key()?;
        self.lex.expect(b':', "expected ':' after a key")?;
        self.state = after;
        match (in_log, key.get(), self.lex.peek_ws()?) {
            (false, Some(b"log"), b'{') => {
                self.lex.bump();
                self.saw_log = true;
                self.state = State::Log { first: true };
            }
            (true, Some(b"entries"), b'[') => {
                self.lex.bump();
                self.saw_entries = true;
                self.state = State::Entries { first: true };
            }
            (true, Some(b"creator"), _) => {
                let mut budget = entry::Budget::new(CREATOR_MAX);
                let name = entry::creator(&mut self.lex, &mut budget)?;
                if !budget.over {
                    self.creator = name;
                }
            }
            _ => self.lex.skip_value()?,
        }
        Ok(())
    }

    /// The next element of `log.entries`, or None at its end.
    fn element(&mut self, first: bool) -> Result<Option<Item>, LexError> {
        match (first, self.lex.peek_ws()?) {
            (_, b']') => {
                self.lex.bump();
                self.state = State::Log { first: false };
                return Ok(None);
            }
            (false, b',') => self.lex.bump(),
            (false, _) => return Err(LexError::Syntax("expected ',' or ']'")),
            (true, _) => {}
        }
        self.state = State::Entries { first: false };
        self.lex.peek_ws()?;
        let offset = self.lex.pos();
        let index = self.index;
        self.index = self.index.saturating_add(1);
        let mut budget = entry::Budget::new(self.limits.max_entry);
        let (mut e, _) = entry::read(&mut self.lex, index, &mut budget)?;
        if budget.over {
            return Ok(Some(Item::Skipped(Skipped {
                path: self.name.clone(),
                index,
                offset,
                max: self.limits.max_entry,
            })));
        }
        e.offset = offset;
        for (kind, r) in [
            (RepairKind::InvalidUtf8, budget.invalid_utf8),
            (RepairKind::LoneSurrogate, budget.lone_surrogates),
        ] {
            if r.count > 0 {
                e.repairs.push(Repair {
                    kind,
                    count: r.count,
                    offset: r.first,
                });
            }
        }
        Ok(Some(Item::Entry(Box::new(e))))
    }
}

impl Iterator for HarReader {
    type Item = Result<Item, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

/// Reads a whole HAR stream into memory (every entry at once: for small files and tests; use
/// [`HarReader`] otherwise).
fn collect(mut reader: HarReader) -> Result<Har, CaptureError> {
    let mut har = Har::default();
    while let Some(item) = reader.next_item()? {
        match item {
            Item::Entry(e) => har.entries.push(*e),
            Item::Skipped(s) => har.skipped.push(s),
        }
    }
    har.creator = reader.creator;
    Ok(har)
}

/// Parses a HAR document held in memory (UTF-8, optionally with a BOM, optionally gzip).
pub fn parse(bytes: &[u8], path: &str) -> Result<Har, CaptureError> {
    let src = Box::new(std::io::Cursor::new(bytes.to_vec()));
    collect(HarReader::from_reader(src, path, HarLimits::default())?)
}

/// Reads and parses a whole HAR file (optionally gzip-compressed), reading at most
/// [`MAX_HAR_SIZE`] bytes.
pub fn read(path: &Path) -> Result<Har, CaptureError> {
    read_limited(path, MAX_HAR_SIZE)
}

/// Like [`read`] with an explicit size limit (applied to the decompressed size).
pub fn read_limited(path: &Path, max: u64) -> Result<Har, CaptureError> {
    let limits = HarLimits {
        max_size: max,
        ..HarLimits::default()
    };
    collect(HarReader::open_with(path, limits)?)
}
