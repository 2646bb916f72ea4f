//! Streaming readers for packet captures (pcap, pcapng, gzip-compressed either way) and HAR 1.2
//! archives.
//!
//! [`CaptureReader`] yields one [`Packet`] at a time from a reused buffer, so memory stays bounded
//! whatever the capture size. Every error carries the path and the byte offset (in the
//! decompressed stream) of the record that failed. Frame numbers count every packet block the way
//! tshark does, so they can be compared with Wireshark's view of a capture.
//!
//! PCAPdroid attribution is decoded in both of its forms: the 32-byte trailer appended to
//! Ethernet frames in pcap files, and the pcapng UID-mapping custom block plus `u-<uid>` packet
//! comments.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub mod har;
mod pcap;
mod pcapdroid;
mod pcapng;
mod prefetch;

/// Nanoseconds since the Unix epoch.
pub type Timestamp = i64;

/// Container format of a capture file (independent of gzip compression).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CaptureFormat {
    /// Classic libpcap file (micro- or nanosecond, either byte order).
    Pcap,
    /// pcapng file.
    PcapNg,
    /// HTTP Archive (JSON); read it with [`har::HarReader`], not with [`CaptureReader`].
    Har,
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::PcapNg => "pcapng",
            CaptureFormat::Har => "har",
        })
    }
}

/// Result of [`sniff`]: the container format and whether the file is gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// Container format found after any decompression.
    pub format: CaptureFormat,
    /// True when the file is gzip-compressed.
    pub compressed: bool,
}

/// One captured packet, borrowed from the reader's buffer until the next call to
/// [`CaptureReader::next_packet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// 1-based frame number, counted exactly as tshark counts frames (every EPB/SPB/PB record).
    pub frame: u64,
    /// Capture time; 0 for pcapng Simple Packet Blocks, which carry no timestamp.
    pub ts: Timestamp,
    /// LINKTYPE_ value of the packet's interface (1 ethernet, 101 raw, 113 linux_sll, ...).
    pub linktype: u32,
    /// Captured bytes, with any PCAPdroid trailer (and its alignment padding) removed.
    pub data: &'a [u8],
    /// Original length on the wire (minus the PCAPdroid trailer when one was removed).
    pub orig_len: u32,
    /// pcapng interface id within its section (0 for pcap).
    pub interface: u32,
    /// Byte offset of the record in the (decompressed) file.
    pub offset: u64,
    /// App package/name attributed by PCAPdroid, when present.
    pub app: Option<Arc<str>>,
    /// Android UID attributed by PCAPdroid (trailer or `u-<uid>` comment), when present.
    pub uid: Option<i32>,
    /// pcapng packet comment(s), joined with '\n'.
    pub comment: Option<String>,
    /// The Decryption Secrets Blocks met so far, up to this packet (the same list as
    /// [`CaptureReader::secrets`], reachable while the packet is borrowed).
    pub secrets: &'a [DecryptionSecret],
}

/// Contents of a pcapng Decryption Secrets Block (block type 0x0000000A).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptionSecret {
    /// Secrets type, e.g. [`SECRETS_TLS_KEYLOG`].
    pub secrets_type: u32,
    /// Raw secrets (for TLS: NSS key log lines).
    pub data: Vec<u8>,
}

/// DSB secrets type of an NSS TLS key log ("TLSK").
pub const SECRETS_TLS_KEYLOG: u32 = 0x544c_534b;

/// Resource limits applied while reading. Every length field read from a file is checked against
/// one of them before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest captured length of one packet (Wireshark's own maximum is 256 KiB).
    pub max_record: u32,
    /// Largest pcapng block that is buffered (packet, interface, secrets, custom blocks).
    pub max_block: u32,
    /// Total bytes of decryption secrets kept for one capture.
    pub max_secrets_total: usize,
    /// Total bytes of section/interface comments kept (later comments are dropped).
    pub max_comments_total: usize,
    /// Interfaces per pcapng section.
    pub max_interfaces: usize,
    /// PCAPdroid UID -> app mappings kept.
    pub max_apps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record: 256 * 1024,
            max_block: 16 * 1024 * 1024,
            max_secrets_total: 64 * 1024 * 1024,
            max_comments_total: 1024 * 1024,
            max_interfaces: 65_536,
            max_apps: 65_536,
        }
    }
}

/// What went wrong while reading a capture or HAR file.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// Underlying I/O or gzip decompression error.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The file starts with no known capture magic.
    #[error("not a pcap, pcapng or HAR file (unknown magic)")]
    BadMagic,
    /// The file ends inside a header or record.
    #[error("truncated record")]
    Truncated,
    /// A length field exceeds a limit.
    #[error("length {len} exceeds the maximum of {max}")]
    Oversized {
        /// Length found in the file.
        len: u64,
        /// Limit it was checked against.
        max: u64,
    },
    /// The structure is inconsistent.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The file is a HAR archive: use [`har::HarReader`] instead of [`CaptureReader`].
    #[error("file is a HAR archive, not a packet capture")]
    NotPackets,
    /// HAR JSON could not be parsed (the offset is where the lexer stopped).
    #[error("invalid JSON: {0}")]
    Json(&'static str),
}

/// An error with the file it concerns and the byte offset where it was found.
#[derive(Debug, thiserror::Error)]
#[error("{path}: at byte {offset}: {kind}")]
pub struct CaptureError {
    /// Path (or name) of the file.
    pub path: String,
    /// Byte offset in the (decompressed) file of the record or value that failed.
    pub offset: u64,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl CaptureError {
    pub(crate) fn new(path: &str, offset: u64, kind: ErrorKind) -> Self {
        CaptureError {
            path: path.to_owned(),
            offset,
            kind,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Byte sources
// ---------------------------------------------------------------------------------------------

/// Counts bytes taken from the underlying file, before decompression (for progress bars).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads up to `buf.len()` bytes, stopping early only at end of stream.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n = n.saturating_add(k),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Decompressed byte stream with its current position, read in large blocks: records are
/// copied out of one buffer instead of costing a `read` call (and its dispatch through the
/// decompressor chain) each.
pub(crate) struct Source {
    inner: Box<dyn Read + Send>,
    pos: u64,
    block: Box<[u8]>,
    lo: usize,
    hi: usize,
}

/// Bytes read from the stream at once.
const BLOCK: usize = 1 << 20;

/// Outcome of reading a fixed-size piece.
pub(crate) enum Fill {
    /// The whole buffer was filled.
    Full,
    /// End of stream before the first byte.
    Eof,
    /// End of stream after some bytes.
    Partial,
}

impl Source {
    pub(crate) fn new(inner: Box<dyn Read + Send>) -> Self {
        Source {
            inner,
            pos: 0,
            block: vec![0; BLOCK].into_boxed_slice(),
            lo: 0,
            hi: 0,
        }
    }

    /// The buffered bytes, reading the next block when none are left; empty at the end.
    fn available(&mut self) -> io::Result<&[u8]> {
        if self.lo == self.hi {
            self.lo = 0;
            self.hi = 0;
            loop {
                match self.inner.read(&mut self.block) {
                    Ok(n) => {
                        self.hi = n.min(self.block.len());
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.block.get(self.lo..self.hi).unwrap_or_default())
    }

    /// Take `n` of the available bytes.
    fn consume(&mut self, n: usize) {
        self.lo = self.lo.saturating_add(n).min(self.hi);
        self.pos = self.pos.saturating_add(n as u64);
    }

    /// Fills `buf` completely if the stream allows.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> io::Result<Fill> {
        let mut n = 0;
        while n < buf.len() {
            let have = self.available()?;
            if have.is_empty() {
                break;
            }
            let k = have.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&have[..k]);
            self.consume(k);
            n += k;
        }
        Ok(if n == buf.len() {
            Fill::Full
        } else if n == 0 {
            Fill::Eof
        } else {
            Fill::Partial
        })
    }

    /// Replaces `buf` with the next `n` bytes; returns false if the stream ended first. The
    /// buffer grows with the data actually read, so a lying length field costs nothing.
    pub(crate) fn fill_vec(&mut self, buf: &mut Vec<u8>, n: usize) -> io::Result<bool> {
        buf.clear();
        while buf.len() < n {
            let have = self.available()?;
            if have.is_empty() {
                return Ok(false);
            }
            let k = have.len().min(n - buf.len());
            buf.extend_from_slice(&have[..k]);
            self.consume(k);
        }
        Ok(true)
    }

    /// Discards `n` bytes; returns false if the stream ended first.
    pub(crate) fn skip(&mut self, n: u64) -> io::Result<bool> {
        let mut left = n;
        while left > 0 {
            let have = self.available()?.len();
            if have == 0 {
                return Ok(false);
            }
            let k = usize::try_from(left).unwrap_or(usize::MAX).min(have);
            self.consume(k);
            left -= k as u64;
        }
        Ok(true)
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const SNIFF_LEN: usize = 4096;
/// Buffer size for reads from the file.
const IO_BUFFER: usize = 64 * 1024;

/// A byte stream positioned at its start, its first bytes, and whether it was gzip-compressed.
type Opened = (Box<dyn Read + Send>, Vec<u8>, bool);

/// Opens a stream, decompressing gzip transparently. Returns the stream positioned at its start
/// (with the sniffed prefix re-attached), the prefix itself, and whether it was compressed.
fn open_stream(r: Box<dyn Read + Send>, name: &str) -> Result<Opened, CaptureError> {
    let io_err = |e: io::Error| CaptureError::new(name, 0, ErrorKind::Io(e));
    let mut r: Box<dyn Read + Send> = Box::new(io::BufReader::with_capacity(IO_BUFFER, r));
    let mut head = [0u8; 2];
    let n = read_full(&mut r, &mut head).map_err(io_err)?;
    let head = head.get(..n).unwrap_or_default().to_vec();
    let compressed = head == GZIP_MAGIC;
    let rejoined: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(r));
    let mut stream: Box<dyn Read + Send> = if compressed {
        Box::new(io::BufReader::with_capacity(
            IO_BUFFER,
            flate2::read::MultiGzDecoder::new(rejoined),
        ))
    } else {
        rejoined
    };
    // A stream that fails inside the sniffed prefix (a gzip file cut in its first 4 KiB) still
    // gives the bytes before the failure: the error is replayed after them, so the records
    // they hold are read and the error names its offset.
    let mut prefix = vec![0u8; SNIFF_LEN];
    let mut n = 0;
    let mut failed = None;
    while n < prefix.len() {
        match stream.read(prefix.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n = n.saturating_add(k),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    prefix.truncate(n);
    let rest: Box<dyn Read + Send> = match failed {
        // Too little to tell the format by: the failure is the answer.
        Some(e) if n < 4 => return Err(io_err(e)),
        Some(e) => Box::new(Deferred(Some(e))),
        None => stream,
    };
    let stream: Box<dyn Read + Send> = Box::new(io::Cursor::new(prefix.clone()).chain(rest));
    Ok((stream, prefix, compressed))
}

/// An error met while sniffing, returned once when the stream reaches it.
struct Deferred(Option<io::Error>);

impl Read for Deferred {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// Classifies the first bytes of a (decompressed) file.
fn classify(prefix: &[u8]) -> Option<CaptureFormat> {
    let m = prefix.get(..4)?;
    let m = [m[0], m[1], m[2], m[3]];
    if pcap::is_magic(m) {
        return Some(CaptureFormat::Pcap);
    }
    if m == pcapng::SHB_TYPE.to_le_bytes() {
        return Some(CaptureFormat::PcapNg);
    }
    let body = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Some(CaptureFormat::Har),
        _ => None,
    }
}

/// Detects the format of the file at `path` (pcap, pcapng or HAR, gzip-compressed or not).
pub fn sniff_format(path: &Path) -> Result<CaptureFormat, CaptureError> {
    sniff(path).map(|s| s.format)
}

/// Detects the format of the file at `path` and whether it is gzip-compressed.
pub fn sniff(path: &Path) -> Result<Sniffed, CaptureError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| CaptureError::new(&name, 0, e.into()))?;
    let (_, prefix, compressed) = open_stream(Box::new(file), &name)?;
    let format = classify(&prefix).ok_or_else(|| {
        let kind = if prefix.len() < 4 {
            ErrorKind::Truncated
        } else {
            ErrorKind::BadMagic
        };
        CaptureError::new(&name, 0, kind)
    })?;
    Ok(Sniffed { format, compressed })
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// Per-format decoder state.
enum Decoder {
    Pcap(pcap::PcapState),
    PcapNg(pcapng::PcapNgState),
}

/// Metadata of the packet currently held in the reader's buffer.
#[derive(Debug, Default)]
pub(crate) struct RawPacket {
    pub ts: Timestamp,
    pub linktype: u32,
    /// Range of the packet bytes inside the reader's buffer.
    pub start: usize,
    pub len: usize,
    pub orig_len: u32,
    pub interface: u32,
    pub offset: u64,
    pub comment: Option<String>,
}

/// State shared by the format decoders: limits, collected metadata and the record buffer.
pub(crate) struct Shared {
    pub name: String,
    pub limits: Limits,
    pub buf: Vec<u8>,
    pub secrets: Vec<DecryptionSecret>,
    pub secrets_total: usize,
    pub comments: Vec<String>,
    pub comments_total: usize,
    /// PCAPdroid UID -> package name, from pcapng custom blocks.
    pub apps: BTreeMap<i32, Arc<str>>,
    /// App names seen in PCAPdroid trailers, interned so packets share one allocation.
    pub trailer_names: BTreeMap<[u8; pcapdroid::APPNAME_LEN], Arc<str>>,
}

impl Shared {
    pub(crate) fn err(&self, offset: u64, kind: ErrorKind) -> CaptureError {
        CaptureError::new(&self.name, offset, kind)
    }

    /// Keeps a section/interface comment unless the comment budget is spent.
    pub(crate) fn add_comment(&mut self, c: String) {
        if self.comments_total.saturating_add(c.len()) <= self.limits.max_comments_total {
            self.comments_total = self.comments_total.saturating_add(c.len());
            self.comments.push(c);
        }
    }
}

/// Streaming reader over a pcap or pcapng capture, optionally gzip-compressed.
pub struct CaptureReader {
    src: Source,
    shared: Shared,
    decoder: Decoder,
    format: CaptureFormat,
    compressed: bool,
    frame: u64,
    consumed: Arc<AtomicU64>,
    /// Set after the first error or the end: the reader is fused.
    done: bool,
}

impl fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("name", &self.shared.name)
            .field("format", &self.format)
            .field("compressed", &self.compressed)
            .field("frame", &self.frame)
            .field("offset", &self.src.pos)
            .finish_non_exhaustive()
    }
}

impl CaptureReader {
    /// Opens a capture file, sniffing its magic; gzip is decompressed transparently.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| CaptureError::new(&name, 0, e.into()))?;
        Self::open_stream_with(Box::new(file), &name, Limits::default(), true)
    }

    /// Reads a capture from any byte stream; `name` is used in error messages.
    pub fn from_reader(r: Box<dyn Read + Send>, name: &str) -> Result<Self, CaptureError> {
        Self::with_limits(r, name, Limits::default())
    }

    /// Like [`CaptureReader::from_reader`] with explicit resource limits.
    pub fn with_limits(
        r: Box<dyn Read + Send>,
        name: &str,
        limits: Limits,
    ) -> Result<Self, CaptureError> {
        Self::open_stream_with(r, name, limits, false)
    }

    /// Files are read ahead on a thread (see `prefetch.rs`); other streams are read here.
    fn open_stream_with(
        r: Box<dyn Read + Send>,
        name: &str,
        limits: Limits,
        read_ahead: bool,
    ) -> Result<Self, CaptureError> {
        let consumed = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: r,
            count: Arc::clone(&consumed),
        };
        let (stream, prefix, compressed) = open_stream(Box::new(counting), name)?;
        let mut shared = Shared {
            name: name.to_owned(),
            limits,
            buf: Vec::new(),
            secrets: Vec::new(),
            secrets_total: 0,
            comments: Vec::new(),
            comments_total: 0,
            apps: BTreeMap::new(),
            trailer_names: BTreeMap::new(),
        };
        let stream = if read_ahead {
            prefetch::spawn(stream)
        } else {
            stream
        };
        let mut src = Source::new(stream);
        let format = match classify(&prefix) {
            Some(f) => f,
            None if prefix.len() < 4 => return Err(shared.err(0, ErrorKind::Truncated)),
            None => return Err(shared.err(0, ErrorKind::BadMagic)),
        };
        let decoder = match format {
            CaptureFormat::Pcap => Decoder::Pcap(pcap::PcapState::read_header(&mut src, &shared)?),
            CaptureFormat::PcapNg => {
                Decoder::PcapNg(pcapng::PcapNgState::start(&mut src, &mut shared)?)
            }
            CaptureFormat::Har => return Err(shared.err(0, ErrorKind::NotPackets)),
        };
        Ok(CaptureReader {
            src,
            shared,
            decoder,
            format,
            compressed,
            frame: 0,
            consumed,
            done: false,
        })
    }

    /// Returns the next packet, `Ok(None)` at a clean end of file. After an error the reader is
    /// fused and returns `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let raw = match &mut self.decoder {
            Decoder::Pcap(st) => st.next(&mut self.src, &mut self.shared),
            Decoder::PcapNg(st) => st.next(&mut self.src, &mut self.shared),
        };
        let raw = match raw {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.frame = self.frame.saturating_add(1);
        let end = raw.start.saturating_add(raw.len);
        let data = self.shared.buf.get(raw.start..end).unwrap_or_default();
        let mut pkt = Packet {
            frame: self.frame,
            ts: raw.ts,
            linktype: raw.linktype,
            data,
            orig_len: raw.orig_len,
            interface: raw.interface,
            offset: raw.offset,
            app: None,
            uid: None,
            comment: raw.comment,
            secrets: &self.shared.secrets,
        };
        if let Some(t) = pcapdroid::parse_trailer(pkt.linktype, pkt.data) {
            let removed = pkt.data.len().saturating_sub(t.keep);
            pkt.data = pkt.data.get(..t.keep).unwrap_or_default();
            pkt.orig_len = pkt
                .orig_len
                .saturating_sub(u32::try_from(removed).unwrap_or(u32::MAX));
            pkt.uid = Some(t.uid);
            pkt.app = t.name.map(|raw_name| {
                let names = &mut self.shared.trailer_names;
                if let Some(a) = names.get(&raw_name) {
                    return Arc::clone(a);
                }
                let a: Arc<str> = Arc::from(pcapdroid::name_str(&raw_name).as_str());
                if names.len() < self.shared.limits.max_apps {
                    names.insert(raw_name, Arc::clone(&a));
                }
                a
            });
        } else if let Some(uid) = pkt.comment.as_deref().and_then(pcapdroid::comment_uid) {
            pkt.uid = Some(uid);
            pkt.app = self.shared.apps.get(&uid).cloned();
        }
        Ok(Some(pkt))
    }

    /// Decryption Secrets Blocks seen so far (kept for TLS decryption).
    pub fn secrets(&self) -> &[DecryptionSecret] {
        &self.shared.secrets
    }

    /// Section and interface comments seen so far.
    pub fn comments(&self) -> &[String] {
        &self.shared.comments
    }

    /// PCAPdroid UID -> package name mappings seen so far (pcapng custom blocks).
    pub fn apps(&self) -> &BTreeMap<i32, Arc<str>> {
        &self.shared.apps
    }

    /// Container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// True when the file is gzip-compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// Bytes consumed from the underlying file so far (compressed bytes for gzip files).
    pub fn bytes_read(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// Current position in the decompressed stream.
    pub fn position(&self) -> u64 {
        self.src.pos()
    }

    /// Number of packets returned so far.
    pub fn frames(&self) -> u64 {
        self.frame
    }
}
