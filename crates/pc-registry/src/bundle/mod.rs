//! Uploads: what a file is ([`sniff`]), whether it is safe to accept ([`check_archive`], at upload
//! time) and its safe extraction ([`extract_archive`], when a worker materialises a case).
//!
//! Every upload is hostile until checked. The name's extension and the first bytes must agree; an
//! archive is read completely, decompressing to count the real bytes (a size header can lie), with
//! every entry's path checked before anything is written. Tar is read by the small strict reader
//! below (ustar, GNU long names, pax `path`/`linkpath`/`size`) rather than a general-purpose
//! crate: anything two tar readers could interpret differently is refused instead of guessed.
//! Zip is read by `pc_apk::zip` from the file: only the central directory is held in memory
//! (bounded by [`BundleLimits::max_zip_directory`]), entries are streamed from disk.
//!
//! Extraction never follows or creates links: every folder is created by this code (in a folder
//! that must start empty), files are opened with `create_new`, archive permissions are ignored.
//! Links (tar symbolic and hard links, zip entries with a Unix `S_IFLNK` mode: firmware trees
//! are full of them) are accepted but only recorded ([`Listing::links`]): their own path is
//! checked and takes its place in the tree like a file's, nothing is written for them, and their
//! target is never resolved or used. Devices, FIFOs, sockets and sparse files are refused.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::read::{DeflateDecoder, GzDecoder};
use pc_apk::zip::{Anomaly, Archive, Entry, METHOD_DEFLATE, METHOD_STORED, Tail, ZipError};
use serde::Serialize;

/// How many leading bytes [`sniff`] needs (fewer only when the file is shorter).
pub const SNIFF_LEN: usize = 512;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
/// Copy buffer.
const BUF: usize = 64 * 1024;
const BLOCK: usize = 512;
/// Longest path component Linux file systems accept; refusing it up front keeps check and
/// extraction in agreement.
const MAX_COMPONENT: usize = 255;
/// Largest pax or GNU long-name header body (they only carry a path and a few attributes).
const MAX_META: u64 = MIB;
/// Zero padding accepted after the tar end-of-archive marker (writers pad to their record size).
const MAX_TAR_TRAILER: u64 = 16 * MIB;
/// Longest key log line (a TLS 1.3 secret line is ~200 bytes; ECH lines are longer).
const MAX_KEYLOG_LINE: usize = 8 * 1024;
/// Zip "version made by" host for Unix, whose external attributes carry `st_mode`.
const ZIP_HOST_UNIX: u16 = 3;
const ZIP_FLAG_ENCRYPTED: u16 = 0x0001;
/// Largest zip symbolic link target (the entry's content) read; Linux's `PATH_MAX` is 4 KiB.
const MAX_LINK_TARGET: u64 = 4 * KIB;

/// What an uploaded file is, decided from its name's extension AND its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadKind {
    /// `.pcap` (µs/ns, either byte order).
    Pcap,
    /// `.pcapng`.
    Pcapng,
    /// `.har` (JSON, optionally with a BOM).
    Har,
    /// A file named exactly `case.toml`: UTF-8 TOML text.
    CaseToml,
    /// `.keys`, `.keylog`, `.txt`: an NSS key log (`LABEL <hex> <hex>` lines, `#` comments).
    KeyLog,
    /// `.apk`: kept as one file and analysed as evidence, never extracted.
    Apk,
    /// `.zip` archive.
    Zip,
    /// `.tar` archive (ustar, GNU or pax).
    Tar,
    /// `.tar.gz` / `.tgz`.
    TarGz,
    /// A gzip-compressed capture: `.pcap.gz`, `.pcapng.gz`, `.har.gz`.
    Gzip,
}

impl UploadKind {
    /// Short name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::Pcap => "pcap",
            UploadKind::Pcapng => "pcapng",
            UploadKind::Har => "HAR",
            UploadKind::CaseToml => "case.toml",
            UploadKind::KeyLog => "key log",
            UploadKind::Apk => "APK",
            UploadKind::Zip => "zip",
            UploadKind::Tar => "tar",
            UploadKind::TarGz => "tar.gz",
            UploadKind::Gzip => "gzip-compressed capture",
        }
    }

    /// Whether [`extract_archive`] accepts this kind (the others are stored as single files).
    pub fn is_extractable(self) -> bool {
        matches!(self, UploadKind::Zip | UploadKind::Tar | UploadKind::TarGz)
    }
}

impl fmt::Display for UploadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds applied by [`check_archive`] and [`extract_archive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLimits {
    /// Most entries in an archive; folders implied by paths count too (they are created).
    pub max_entries: u64,
    /// Most bytes of file content once unpacked, over the whole archive.
    pub max_unpacked_total: u64,
    /// Largest single file once unpacked (also the largest plain or decompressed capture).
    pub max_entry_size: u64,
    /// Largest unpacked/packed ratio of a compressed zip entry or of a gzip stream.
    pub max_ratio: u64,
    /// The ratio is only enforced past this many unpacked bytes, so small, very compressible
    /// text files never trip it.
    pub ratio_min_size: u64,
    /// Longest entry path in bytes.
    pub max_path_len: usize,
    /// Most components in an entry path.
    pub max_depth: usize,
    /// Largest zip or APK central directory (with the end records), the one part of a zip held
    /// in memory while it is checked.
    pub max_zip_directory: u64,
    /// Largest `case.toml` or key log (read as text).
    pub max_text_size: u64,
    /// Most file names kept in [`Listing::files`], and most links in [`Listing::links`].
    pub max_listed: usize,
}

impl Default for BundleLimits {
    fn default() -> Self {
        BundleLimits {
            max_entries: 200_000,
            max_unpacked_total: 64 * GIB,
            max_entry_size: 16 * GIB,
            max_ratio: 200,
            ratio_min_size: MIB,
            max_path_len: 1024,
            max_depth: 64,
            // 200,000 entries with 1 KiB names fit.
            max_zip_directory: 256 * MIB,
            max_text_size: 64 * MIB,
            max_listed: 10_000,
        }
    }
}

/// What an accepted upload contains.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// Entries read (files, folders and links; 1 for a single-file upload).
    pub entries: u64,
    /// Bytes of file content once unpacked (the file size for a plain single-file upload).
    pub unpacked_total: u64,
    /// Paths of the regular files, in archive order (empty for single-file uploads).
    pub files: Vec<String>,
    /// True when more files exist than [`BundleLimits::max_listed`] allows listing.
    pub files_truncated: bool,
    /// The archive's symbolic and hard links, in archive order: recorded, not extracted.
    pub links: Vec<LinkRecord>,
    /// True when more links exist than [`BundleLimits::max_listed`] allows listing.
    pub links_truncated: bool,
    /// How many links the archive holds (listed or not): none of them is written on extraction.
    pub links_skipped: u64,
}

/// "1 link", "3 links": how messages count links.
pub fn links_counted(n: u64) -> String {
    if n == 1 {
        "1 link".to_owned()
    } else {
        format!("{n} links")
    }
}

/// A link of an archive, as [`Listing::links`] records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRecord {
    /// The link's own path (checked like a file's).
    pub path: String,
    /// What the archive says it points to, escaped and shortened like names in messages (at
    /// most 200 characters). Never resolved nor checked: it is not used.
    pub target: String,
    /// Symbolic or hard link.
    pub kind: LinkKind,
}

/// The kind of a [`LinkRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum LinkKind {
    /// A symbolic link (tar type '2', or a zip entry with a Unix `S_IFLNK` mode).
    #[serde(rename = "symbolic link")]
    Symbolic,
    /// A hard link (tar type '1').
    #[serde(rename = "hard link")]
    Hard,
}

impl LinkKind {
    /// "symbolic link" or "hard link".
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Symbolic => "symbolic link",
            LinkKind::Hard => "hard link",
        }
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A position in an upload, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    /// Byte offset.
    pub offset: u64,
    /// The offset is in the decompressed tar stream of a `.tar.gz`, not in the uploaded file.
    pub decompressed: bool,
}

impl At {
    fn file(offset: u64) -> At {
        At {
            offset,
            decompressed: false,
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}", self.offset)?;
        if self.decompressed {
            f.write_str(" of the decompressed tar")?;
        }
        Ok(())
    }
}

/// Why an upload is refused (or extraction failed). Messages are meant for the uploader; entry
/// paths in them are escaped (control characters shown as `\u{..}`) and shortened.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The file name has no accepted extension.
    #[error("file name '{name}' is not accepted: {hint}")]
    UnknownName {
        /// The name (escaped).
        name: String,
        /// What would be accepted.
        hint: &'static str,
    },
    /// Name and content disagree.
    #[error("file name '{name}' says {claimed} but the content starts like {found}")]
    Mismatch {
        /// The name (escaped).
        name: String,
        /// What the extension says.
        claimed: &'static str,
        /// What the first bytes look like.
        found: String,
    },
    /// The content is of the named kind but malformed (seen in its first bytes).
    #[error("'{name}' is not a valid {kind} file: {why}")]
    BadContent {
        /// The name (escaped).
        name: String,
        /// The kind the name says.
        kind: UploadKind,
        /// What is wrong.
        why: String,
    },
    /// A single-file upload is malformed (seen while reading it whole).
    #[error("the {kind} upload is invalid at {at}: {why}")]
    Invalid {
        /// The kind checked.
        kind: UploadKind,
        /// Where.
        at: At,
        /// What is wrong.
        why: String,
    },
    /// An entry path breaks a path rule.
    #[error("entry '{path}' at {at}: {why}")]
    BadPath {
        /// The path (escaped).
        path: String,
        /// Where its header starts.
        at: At,
        /// Which rule.
        why: String,
    },
    /// A device file, FIFO or socket.
    #[error(
        "entry '{path}' at {at} is a {what}; only files, folders and links are accepted in uploads"
    )]
    Special {
        /// The path (escaped).
        path: String,
        /// Where its header starts.
        at: At,
        /// "character device", "block device", "FIFO", "socket".
        what: &'static str,
    },
    /// The same path twice.
    #[error("entry '{path}' at {at} appears more than once in the archive")]
    Duplicate {
        /// The path (escaped).
        path: String,
        /// Where the second one starts.
        at: At,
    },
    /// A path that goes through a file, or a file where a folder already is (or the reverse).
    #[error("entry '{path}' at {at} {why} '{other}'")]
    Collision {
        /// The path (escaped).
        path: String,
        /// Where its header starts.
        at: At,
        /// "goes through the file", "is a file but an earlier entry made a folder of", …
        why: &'static str,
        /// The path already taken (escaped).
        other: String,
    },
    /// Decompression ratio above [`BundleLimits::max_ratio`].
    #[error("archive bomb: {what} expands beyond {ratio}× its compressed size at {at}")]
    Bomb {
        /// "entry 'x'" or "the gzip stream".
        what: String,
        /// The limit.
        ratio: u64,
        /// Where (the entry's header, or the compressed offset reached in a gzip stream).
        at: At,
    },
    /// A size limit.
    #[error("{what} at {at} is larger than the {} limit", human(*.limit))]
    TooLarge {
        /// "entry 'x'", "the unpacked archive", …
        what: String,
        /// The limit in bytes.
        limit: u64,
        /// Where.
        at: At,
    },
    /// More entries than [`BundleLimits::max_entries`].
    #[error("the archive has more than {limit} entries (counting implied folders), at {at}")]
    TooManyEntries {
        /// The limit.
        limit: u64,
        /// Where the first one too many starts.
        at: At,
    },
    /// Something this checker does not accept (sparse files, encryption, other compressions…).
    #[error("entry '{path}' at {at}: {why}")]
    Unsupported {
        /// The path (escaped).
        path: String,
        /// Where.
        at: At,
        /// What.
        why: String,
    },
    /// The archive structure is damaged or ambiguous.
    #[error("the {kind} archive is damaged at {at}: {why}")]
    Corrupt {
        /// "tar", "zip", "gzip", "APK".
        kind: &'static str,
        /// Where.
        at: At,
        /// What.
        why: String,
    },
    /// The upload ends early.
    #[error("the {kind} upload is truncated at {at}: {why}")]
    Truncated {
        /// "tar", "zip", "gzip", …
        kind: &'static str,
        /// Where it ends.
        at: At,
        /// What was expected.
        why: String,
    },
    /// An entry's data does not have its declared size.
    #[error("entry '{path}' at {at} unpacks to {actual} bytes but declares {declared}")]
    SizeMismatch {
        /// The path (escaped).
        path: String,
        /// Where.
        at: At,
        /// Declared uncompressed size.
        declared: u64,
        /// What was found ("more than N" when reading stopped at the declared size).
        actual: String,
    },
    /// The zip reader refused the archive.
    #[error("the {kind} archive cannot be read: {source}")]
    Zip {
        /// "zip" or "APK".
        kind: &'static str,
        /// The reader's error (with its byte offset).
        #[source]
        source: ZipError,
    },
    /// A zip whose central directory is too large to be held in memory.
    #[error(
        "the zip's central directory and end records take {}, more than the {} read in memory: split the upload, or send it as .tar or .tar.gz",
        human(*.size), human(*.limit)
    )]
    ZipDirectoryTooLarge {
        /// Bytes from the central directory to the end of the file.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// [`extract_archive`] on a kind that is stored as a single file.
    #[error("{kind} uploads are stored as single files and are not extracted")]
    NotExtractable {
        /// The kind.
        kind: UploadKind,
    },
    /// The extraction folder is unusable.
    #[error("extraction folder {}: {why}", .path.display())]
    Dest {
        /// The folder.
        path: PathBuf,
        /// What is wrong.
        why: &'static str,
    },
    /// An I/O failure on our side.
    #[error("I/O error while {doing}: {source}")]
    Io {
        /// What was being done.
        doing: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl BundleError {
    /// True when the upload itself is at fault (answer 4xx); false for server-side failures.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            BundleError::Io { .. } | BundleError::Dest { .. } | BundleError::NotExtractable { .. }
        )
    }

    /// Size/count/ratio limits (and our own I/O failures): these refuse even an APK, whose format
    /// defects are evidence for the analysis.
    fn refuses_apk(&self) -> bool {
        matches!(
            self,
            BundleError::Bomb { .. }
                | BundleError::TooLarge { .. }
                | BundleError::TooManyEntries { .. }
                | BundleError::ZipDirectoryTooLarge { .. }
                | BundleError::Io { .. }
        )
    }
}

fn io_err(doing: impl Into<String>) -> impl FnOnce(io::Error) -> BundleError {
    let doing = doing.into();
    move |source| BundleError::Io { doing, source }
}

/// Sizes for messages: "16 GiB", "1.5 MiB", "300 bytes".
fn human(n: u64) -> String {
    for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if n >= unit {
            return if n.is_multiple_of(unit) {
                format!("{} {name}", n / unit)
            } else {
                format!("{:.1} {name}", n as f64 / unit as f64)
            };
        }
    }
    format!("{n} bytes")
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// A name or path for a message: lossy UTF-8, controls and bidi overrides escaped (so a name
/// cannot forge log lines or reorder what a reviewer sees), at most 200 characters.
fn shown(raw: &[u8]) -> String {
    let mut out = String::new();
    for (i, c) in String::from_utf8_lossy(raw).chars().enumerate() {
        if i == 200 {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Sniffing
// ---------------------------------------------------------------------------------------------

const ACCEPTED: &str = "expected .pcap, .pcapng, .har (optionally .gz), .keys, .keylog, .txt (key \
                        log), .apk, .zip, .tar, .tar.gz, .tgz or a file named case.toml";

/// The kind a name claims, and for `.pcap.gz`-style names the compressed kind.
fn claim(name: &str) -> Result<(UploadKind, Option<UploadKind>), BundleError> {
    use UploadKind as K;
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if base == "case.toml" {
        return Ok((K::CaseToml, None));
    }
    let lower = base.to_ascii_lowercase();
    const SUFFIXES: [(&str, UploadKind, Option<UploadKind>); 14] = [
        (".pcap.gz", K::Gzip, Some(K::Pcap)),
        (".pcapng.gz", K::Gzip, Some(K::Pcapng)),
        (".har.gz", K::Gzip, Some(K::Har)),
        (".tar.gz", K::TarGz, None),
        (".tgz", K::TarGz, None),
        (".pcap", K::Pcap, None),
        (".pcapng", K::Pcapng, None),
        (".har", K::Har, None),
        (".keys", K::KeyLog, None),
        (".keylog", K::KeyLog, None),
        (".txt", K::KeyLog, None),
        (".apk", K::Apk, None),
        (".zip", K::Zip, None),
        (".tar", K::Tar, None),
    ];
    for (suffix, kind, inner) in SUFFIXES {
        // A bare ".pcap" has no stem: refused with the rest.
        if lower.len() > suffix.len() && lower.ends_with(suffix) {
            return Ok((kind, inner));
        }
    }
    let hint = if lower.ends_with(".toml") {
        "the case file must be named exactly 'case.toml'"
    } else if lower.ends_with(".gz") {
        "only .pcap.gz, .pcapng.gz, .har.gz, .tar.gz and .tgz are accepted compressed"
    } else {
        ACCEPTED
    };
    Err(BundleError::UnknownName {
        name: shown(name.as_bytes()),
        hint,
    })
}

/// What the first bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Looks {
    Empty,
    Pcap,
    Pcapng,
    Zip,
    EmptyZip,
    Gzip,
    Tar,
    /// UTF-8 text whose first significant character is `{` or `[`.
    Json,
    Text,
    Other(&'static str),
}

impl Looks {
    fn describe(self) -> &'static str {
        match self {
            Looks::Empty => "nothing (the file is empty)",
            Looks::Pcap => "a pcap capture",
            Looks::Pcapng => "a pcapng capture",
            Looks::Zip => "a ZIP archive",
            Looks::EmptyZip => "an empty ZIP archive",
            Looks::Gzip => "a gzip stream",
            Looks::Tar => "a tar archive",
            Looks::Json => "JSON text",
            Looks::Text => "plain text",
            Looks::Other(what) => what,
        }
    }
}

fn is_pcap_magic(head: &[u8]) -> bool {
    let Some(m) = head.get(..4) else { return false };
    // Microsecond, nanosecond and Kuznetzov's modified pcap, in either byte order.
    [0xa1b2_c3d4u32, 0xa1b2_3c4d, 0xa1b2_cd34]
        .iter()
        .any(|x| m == x.to_le_bytes() || m == x.to_be_bytes())
}

/// `head` as UTF-8, tolerating a character cut by the end of a partial head.
fn utf8_prefix(head: &[u8], whole: bool) -> Result<&str, usize> {
    match std::str::from_utf8(head) {
        Ok(s) => Ok(s),
        Err(e) if e.error_len().is_none() && !whole => {
            std::str::from_utf8(head.get(..e.valid_up_to()).unwrap_or_default())
                .map_err(|e| e.valid_up_to())
        }
        Err(e) => Err(e.valid_up_to()),
    }
}

/// Text without NUL or other control characters (except tab, newlines, form feed).
fn is_text(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

fn looks(head: &[u8], whole: bool) -> Looks {
    const MAGICS: [(&[u8], &str); 14] = [
        (b"PK\x07\x08", "a split ZIP archive"),
        (b"%PDF", "a PDF document"),
        (b"\x7fELF", "an ELF executable"),
        (b"MZ", "a Windows executable"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"\xfd7zXZ\x00", "an xz stream"),
        (b"BZh", "a bzip2 stream"),
        (b"\x28\xb5\x2f\xfd", "a zstd stream"),
        (b"Rar!", "a RAR archive"),
        (b"dex\n", "a DEX file"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"ANDROID!", "an Android boot image"),
        (b"\x3a\xff\x26\xed", "an Android sparse image"),
    ];
    if head.is_empty() {
        return Looks::Empty;
    }
    if is_pcap_magic(head) {
        return Looks::Pcap;
    }
    if head.starts_with(b"\x0a\x0d\x0d\x0a") {
        return Looks::Pcapng;
    }
    if head.starts_with(b"PK\x03\x04") {
        return Looks::Zip;
    }
    if head.starts_with(b"PK\x05\x06") {
        return Looks::EmptyZip;
    }
    if head.starts_with(b"\x1f\x8b") {
        return Looks::Gzip;
    }
    if head.get(257..262) == Some(b"ustar") {
        return Looks::Tar;
    }
    if let Some((_, what)) = MAGICS.iter().find(|(m, _)| head.starts_with(m)) {
        return Looks::Other(what);
    }
    match utf8_prefix(head, whole) {
        Ok(s) if is_text(s) => {
            let s = s.strip_prefix('\u{feff}').unwrap_or(s);
            match s.trim_start().chars().next() {
                Some('{' | '[') => Looks::Json,
                _ => Looks::Text,
            }
        }
        _ => Looks::Other("binary data"),
    }
}

/// Why content is not of a kind: it is something else, or it is malformed.
enum Problem {
    Looks(String),
    Bad(String),
}

fn looks_problem(l: Looks) -> Problem {
    Problem::Looks(l.describe().to_string())
}

/// For a text kind: text in another encoding (Latin-1, UTF-16 without NULs is not text) is told
/// apart from binary data, so the uploader learns what to fix.
fn text_problem(l: Looks, head: &[u8], whole: bool) -> Problem {
    if l == Looks::Other("binary data")
        && let Err(at) = utf8_prefix(head, whole)
    {
        let printable = head
            .iter()
            .filter(|&&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r'))
            .count();
        if !head.contains(&0) && printable * 10 >= head.len() * 9 {
            return Problem::Bad(format!("not UTF-8 text (invalid byte at {at})"));
        }
    }
    looks_problem(l)
}

/// Decompresses what a partial gzip head yields; `complete` when the stream ended inside it.
fn inflate_head(head: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut dec = GzDecoder::new(head);
    let mut buf = [0u8; BLOCK];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(k) => {
                out.extend_from_slice(buf.get(..k).unwrap_or_default());
                // A tar header is 512 bytes: enough to decide anything.
                if out.len() >= BLOCK {
                    return (out, false);
                }
            }
            Err(_) => return (out, false),
        }
    }
}

/// Checks that `head` (the first bytes, the whole file when `whole`) is content of `kind`;
/// returns the kind the content really is (pcap and pcapng are told apart by content).
fn content_as(
    kind: UploadKind,
    inner: Option<UploadKind>,
    head: &[u8],
    whole: bool,
) -> Result<UploadKind, Problem> {
    use UploadKind as K;
    let l = looks(head, whole);
    match kind {
        // The same reader takes both; a pcapng saved as ".pcap" is common and not a disguise.
        K::Pcap | K::Pcapng => match l {
            Looks::Pcap if whole && head.len() < 24 => {
                Err(Problem::Bad("too short for a pcap file header".into()))
            }
            Looks::Pcap => Ok(K::Pcap),
            Looks::Pcapng => match head.get(8..12) {
                Some(b"\x1a\x2b\x3c\x4d" | b"\x4d\x3c\x2b\x1a") => Ok(K::Pcapng),
                Some(_) => Err(Problem::Bad(
                    "the section header block has no byte-order magic".into(),
                )),
                None if whole => Err(Problem::Bad("too short for a pcapng section header".into())),
                None => Ok(K::Pcapng),
            },
            other => Err(looks_problem(other)),
        },
        K::Har => match l {
            Looks::Json => {
                let s = utf8_prefix(head, whole).unwrap_or_default();
                let s = s.strip_prefix('\u{feff}').unwrap_or(s);
                if s.trim_start().starts_with('{') {
                    Ok(K::Har)
                } else {
                    Err(Problem::Bad(
                        "a HAR file is a JSON object starting with '{'".into(),
                    ))
                }
            }
            Looks::Text => Err(Problem::Bad(
                "a HAR file is JSON text starting with '{'".into(),
            )),
            other => Err(text_problem(other, head, whole)),
        },
        K::CaseToml => match l {
            Looks::Text | Looks::Json => toml_head(head, whole).map(|()| K::CaseToml),
            Looks::Empty => Err(Problem::Bad("the file is empty".into())),
            other => Err(text_problem(other, head, whole)),
        },
        K::KeyLog => match l {
            Looks::Text => keylog_head(head, whole).map(|()| K::KeyLog),
            Looks::Empty => Err(Problem::Bad("the file is empty".into())),
            other => Err(text_problem(other, head, whole)),
        },
        K::Apk => match l {
            Looks::Zip => Ok(K::Apk),
            other => Err(looks_problem(other)),
        },
        K::Zip => match l {
            Looks::Zip | Looks::EmptyZip => Ok(K::Zip),
            other => Err(looks_problem(other)),
        },
        K::Tar => match l {
            Looks::Tar => match head
                .get(..BLOCK)
                .and_then(|b| <&[u8; BLOCK]>::try_from(b).ok())
            {
                Some(block) => match parse_header(block, At::file(0)) {
                    Ok(_) => Ok(K::Tar),
                    Err(e) => Err(Problem::Bad(format!("the first header is unusable ({e})"))),
                },
                None if whole => Err(Problem::Bad("too short for a tar header".into())),
                None => Ok(K::Tar),
            },
            other => Err(looks_problem(other)),
        },
        K::TarGz | K::Gzip => {
            if l != Looks::Gzip {
                return Err(looks_problem(l));
            }
            let (inflated, complete) = inflate_head(head);
            let whole_inner = whole || complete;
            let (inner_kind, needed) = match (kind, inner) {
                (K::TarGz, _) => (K::Tar, 263),
                (_, Some(k)) => (k, 12),
                // Gzip without a claimed inner kind: any capture format.
                (_, None) => (K::Pcap, 12),
            };
            if !whole_inner && inflated.len() < needed {
                // Undecidable from this head; check_archive reads the whole stream.
                return Ok(kind);
            }
            let inner_looks = looks(&inflated, whole_inner);
            let r = if inner.is_none() && kind == K::Gzip {
                match inner_looks {
                    Looks::Pcap | Looks::Pcapng | Looks::Json => Ok(K::Gzip),
                    other => Err(looks_problem(other)),
                }
            } else {
                content_as(inner_kind, None, &inflated, whole_inner).map(|_| kind)
            };
            r.map_err(|p| match p {
                Problem::Looks(s) => Problem::Looks(format!("{s} once decompressed")),
                Problem::Bad(s) => Problem::Bad(format!("once decompressed: {s}")),
            })
        }
    }
}

/// The first significant line of a TOML document is a table header or a `key = value`.
fn toml_head(head: &[u8], whole: bool) -> Result<(), Problem> {
    let s = utf8_prefix(head, whole)
        .map_err(|at| Problem::Bad(format!("not UTF-8 text (byte {at})")))?;
    if !is_text(s) {
        return Err(Problem::Bad("contains control characters".into()));
    }
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let complete_lines = if whole {
        s
    } else {
        s.rsplit_once('\n').map_or("", |(a, _)| a)
    };
    for line in complete_lines.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let key_ok = t.split_once('=').is_some_and(|(k, _)| {
            let k = k.trim();
            !k.is_empty()
                && k.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '"' | '\'')
                })
        });
        if t.starts_with('[') || key_ok {
            return Ok(());
        }
        return Err(Problem::Bad(format!(
            "'{}' is neither a [table] header nor a key = value line",
            shown(t.as_bytes())
        )));
    }
    Ok(())
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One NSS key log line: blank, `# comment`, `LABEL <hex> <hex>` or the old
/// `RSA Session-ID:<hex> Master-Key:<hex>`. Returns Some(true) for a secret line.
fn keylog_line(line: &str) -> Option<bool> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Some(false);
    }
    let mut parts = t.split_ascii_whitespace();
    let (Some(label), Some(a), Some(b), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if label == "RSA"
        && let (Some(a), Some(b)) = (a.strip_prefix("Session-ID:"), b.strip_prefix("Master-Key:"))
    {
        return (is_hex(a) && is_hex(b)).then_some(true);
    }
    let label_ok = label.len() <= 64
        && label
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_');
    (label_ok && is_hex(a) && is_hex(b)).then_some(true)
}

fn keylog_head(head: &[u8], whole: bool) -> Result<(), Problem> {
    let s = utf8_prefix(head, whole)
        .map_err(|at| Problem::Bad(format!("not UTF-8 text (byte {at})")))?;
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let (complete, partial) = if whole {
        (s, "")
    } else {
        s.rsplit_once('\n').unwrap_or(("", s))
    };
    for (i, line) in complete.lines().enumerate() {
        if keylog_line(line).is_none() {
            return Err(Problem::Bad(format!(
                "line {} is not a key log line ('LABEL <hex> <hex>' or a '#' comment)",
                i + 1
            )));
        }
    }
    // The line cut by the end of the head: only its characters can be judged.
    let t = partial.trim_start();
    let partial_ok = t.starts_with('#')
        || t.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b' ' | b'\t' | b'\r')
        });
    if partial_ok {
        Ok(())
    } else {
        Err(Problem::Bad("the text is not an NSS key log".into()))
    }
}

/// Decides what an uploaded file is from its name and its first bytes (`head`: the first
/// [`SNIFF_LEN`] bytes, fewer only when the file is shorter). Both must agree: a `.pcap` that is
/// really a zip is refused. A pcap named `.pcapng` (or the reverse) is accepted and reported as
/// what its content is. For compressed names the start of the decompressed content is checked
/// when the head holds enough of it; [`check_archive`] checks the rest.
pub fn sniff(name: &str, head: &[u8]) -> Result<UploadKind, BundleError> {
    let (kind, inner) = claim(name)?;
    let whole = head.len() < SNIFF_LEN;
    content_as(kind, inner, head, whole).map_err(|p| match p {
        Problem::Looks(found) => BundleError::Mismatch {
            name: shown(name.as_bytes()),
            claimed: match inner {
                Some(UploadKind::Pcap) => "gzip-compressed pcap",
                Some(UploadKind::Pcapng) => "gzip-compressed pcapng",
                Some(UploadKind::Har) => "gzip-compressed HAR",
                _ => kind.as_str(),
            },
            found,
        },
        Problem::Bad(why) => BundleError::BadContent {
            name: shown(name.as_bytes()),
            kind,
            why,
        },
    })
}

/// [`sniff`] reading the head from a file.
pub fn sniff_file(name: &str, path: &Path) -> Result<UploadKind, BundleError> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    open(path)?
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(io_err("reading the upload"))?;
    sniff(name, &head)
}

// ---------------------------------------------------------------------------------------------
// Entry paths
// ---------------------------------------------------------------------------------------------

/// Checks an entry name and returns its normalised form (no "./" prefix, no trailing slash),
/// `None` for the archive root itself ("." or "./", which `tar -C dir .` writes).
fn clean_path(raw: &[u8], limits: &BundleLimits, at: At) -> Result<Option<String>, BundleError> {
    let bad = |why: &str| BundleError::BadPath {
        path: shown(raw),
        at,
        why: why.to_string(),
    };
    let s = std::str::from_utf8(raw).map_err(|_| bad("the name is not valid UTF-8"))?;
    if s.is_empty() {
        return Err(bad("the name is empty"));
    }
    if s.len() > limits.max_path_len {
        return Err(bad(&format!(
            "the path is longer than {} bytes",
            limits.max_path_len
        )));
    }
    if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(bad("the name contains control characters"));
    }
    if s.contains('\\') {
        return Err(bad(
            "the name contains a backslash (Windows paths are not accepted)",
        ));
    }
    if s.starts_with('/') {
        return Err(bad("absolute paths are not accepted"));
    }
    let b = s.as_bytes();
    if b.len() >= 2 && b.first().is_some_and(u8::is_ascii_alphabetic) && b.get(1) == Some(&b':') {
        return Err(bad("the path starts with a drive letter"));
    }
    let s = s.strip_prefix("./").unwrap_or(s);
    if s.is_empty() || s == "." {
        return Ok(None);
    }
    let s = s.strip_suffix('/').unwrap_or(s);
    let mut depth: i64 = 0;
    let mut dotdot = false;
    let mut components = 0usize;
    for c in s.split('/') {
        match c {
            "" => return Err(bad("the path has an empty component ('//')")),
            "." => return Err(bad("the path has a '.' component")),
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err(bad("path escapes the archive folder"));
                }
                dotdot = true;
            }
            c if c.len() > MAX_COMPONENT => {
                return Err(bad("a path component is longer than 255 bytes"));
            }
            _ => depth += 1,
        }
        components += 1;
    }
    // Even a '..' that stays inside is refused: paths must be normalised, one name per file.
    if dotdot {
        return Err(bad("the path has a '..' component"));
    }
    if components > limits.max_depth {
        return Err(bad(&format!(
            "the path is deeper than {} components",
            limits.max_depth
        )));
    }
    Ok(Some(s.to_string()))
}

/// Every path placed so far, as a tree of components, to refuse duplicates and collisions.
struct Tree {
    nodes: Vec<Node>,
    max: u64,
}

struct Node {
    /// A file or a link: nothing can be below it.
    file: bool,
    /// A link (recorded, not extracted), placed as a file is.
    link: bool,
    /// Named by an entry (as opposed to implied by a longer path).
    explicit: bool,
    children: HashMap<Box<str>, usize>,
}

impl Tree {
    fn new(max: u64) -> Tree {
        Tree {
            nodes: vec![Node {
                file: false,
                link: false,
                explicit: false,
                children: HashMap::new(),
            }],
            max,
        }
    }

    /// An entry for the archive root ("./").
    fn add_root(&mut self, at: At) -> Result<(), BundleError> {
        match self.nodes.first_mut() {
            Some(root) if root.explicit => Err(BundleError::Duplicate {
                path: "./".into(),
                at,
            }),
            Some(root) => {
                root.explicit = true;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Places `path` (clean), a folder when `dir`, else a file or (`link`) a link; returns the
    /// byte lengths of its prefixes that are new folders, in the order they must be created (the
    /// path itself included when it is a new folder).
    fn add(
        &mut self,
        path: &str,
        dir: bool,
        link: bool,
        at: At,
    ) -> Result<Vec<usize>, BundleError> {
        let mut created = Vec::new();
        let mut cur = 0usize;
        let mut end = 0usize;
        let count = path.split('/').count();
        for (i, c) in path.split('/').enumerate() {
            end += c.len() + usize::from(i > 0);
            let last = i + 1 == count;
            let prefix = path.get(..end).unwrap_or(path);
            let existing = self.nodes.get(cur).and_then(|n| n.children.get(c)).copied();
            match existing {
                Some(n) => {
                    let Some(node) = self.nodes.get_mut(n) else {
                        break;
                    };
                    if !last {
                        if node.file {
                            return Err(BundleError::Collision {
                                path: shown(path.as_bytes()),
                                at,
                                why: if node.link {
                                    "goes through the link"
                                } else {
                                    "goes through the file"
                                },
                                other: shown(prefix.as_bytes()),
                            });
                        }
                        cur = n;
                        continue;
                    }
                    return match (node.file, node.explicit, dir) {
                        // A folder entry after files inside it (zip writers do this): fine once.
                        (false, false, true) => {
                            node.explicit = true;
                            Ok(created)
                        }
                        (true, _, false) | (false, true, true) => Err(BundleError::Duplicate {
                            path: shown(path.as_bytes()),
                            at,
                        }),
                        (false, _, false) => Err(BundleError::Collision {
                            path: shown(path.as_bytes()),
                            at,
                            why: if link {
                                "is a link but an earlier entry made a folder of"
                            } else {
                                "is a file but an earlier entry made a folder of"
                            },
                            other: shown(prefix.as_bytes()),
                        }),
                        (true, _, true) => Err(BundleError::Collision {
                            path: shown(path.as_bytes()),
                            at,
                            why: if node.link {
                                "is a folder but an earlier entry is the link"
                            } else {
                                "is a folder but an earlier entry is the file"
                            },
                            other: shown(prefix.as_bytes()),
                        }),
                    };
                }
                None => {
                    if self.nodes.len() as u64 > self.max {
                        return Err(BundleError::TooManyEntries {
                            limit: self.max,
                            at,
                        });
                    }
                    let file = last && !dir;
                    let n = self.nodes.len();
                    self.nodes.push(Node {
                        file,
                        link: file && link,
                        explicit: last,
                        children: HashMap::new(),
                    });
                    if let Some(parent) = self.nodes.get_mut(cur) {
                        parent.children.insert(c.into(), n);
                    }
                    if !file {
                        created.push(end);
                    }
                    cur = n;
                }
            }
        }
        Ok(created)
    }
}

// ---------------------------------------------------------------------------------------------
// Metering and output
// ---------------------------------------------------------------------------------------------

/// Counts entries and unpacked bytes against the limits while building the listing.
struct Meter<'l> {
    limits: &'l BundleLimits,
    listing: Listing,
    tree: Tree,
}

impl<'l> Meter<'l> {
    fn new(limits: &'l BundleLimits) -> Meter<'l> {
        Meter {
            limits,
            listing: Listing::default(),
            tree: Tree::new(limits.max_entries),
        }
    }

    fn entry(&mut self, at: At) -> Result<(), BundleError> {
        self.listing.entries += 1;
        if self.listing.entries > self.limits.max_entries {
            return Err(BundleError::TooManyEntries {
                limit: self.limits.max_entries,
                at,
            });
        }
        Ok(())
    }

    /// Refuses up front an entry whose declared size is already over a limit.
    fn declared(&self, size: u64, path: &str, at: At) -> Result<(), BundleError> {
        if size > self.limits.max_entry_size {
            return Err(BundleError::TooLarge {
                what: format!(
                    "entry '{}' (declared {})",
                    shown(path.as_bytes()),
                    human(size)
                ),
                limit: self.limits.max_entry_size,
                at,
            });
        }
        if self.listing.unpacked_total.saturating_add(size) > self.limits.max_unpacked_total {
            return Err(self.total_too_large(at));
        }
        Ok(())
    }

    fn total_too_large(&self, at: At) -> BundleError {
        BundleError::TooLarge {
            what: "the unpacked archive".into(),
            limit: self.limits.max_unpacked_total,
            at,
        }
    }

    fn list(&mut self, path: &str) {
        if self.listing.files.len() < self.limits.max_listed {
            self.listing.files.push(path.to_string());
        } else {
            self.listing.files_truncated = true;
        }
    }

    /// Places an entry in the tree and creates the folders it implies.
    fn place(
        &mut self,
        path: &str,
        dir: bool,
        at: At,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        self.place_as(path, dir, false, at, sink)
    }

    fn place_as(
        &mut self,
        path: &str,
        dir: bool,
        link: bool,
        at: At,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        for end in self.tree.add(path, dir, link, at)? {
            sink.mkdir(path.get(..end).unwrap_or(path))?;
        }
        Ok(())
    }

    /// A link entry (`raw`, its name): the name is checked, and the link takes its place in the
    /// tree exactly as a file would (the folders it implies are created), so a file or folder of
    /// the same path, or an entry under it, is still refused. GNU tar would replace the one by
    /// the other, or write through the link: an extraction that merely left the link out would
    /// be a tree tar never produces. Nothing is written for the link itself; it is recorded
    /// with its `target` (given the clean path), which is never resolved or used.
    fn link(
        &mut self,
        raw: &[u8],
        target: impl FnOnce(&str) -> Result<Vec<u8>, BundleError>,
        kind: LinkKind,
        at: At,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        let bad = |why: String| BundleError::BadPath {
            path: shown(raw),
            at,
            why,
        };
        if raw.ends_with(b"/") {
            return Err(bad(format!("a {kind} entry's name ends with '/'")));
        }
        let clean = clean_path(raw, self.limits, at)?
            .ok_or_else(|| bad(format!("a {kind} entry is named like the archive root")))?;
        self.place_as(&clean, false, true, at, sink)?;
        let target = shown(&target(&clean)?);
        self.listing.links_skipped += 1;
        if self.listing.links.len() < self.limits.max_listed {
            self.listing.links.push(LinkRecord {
                path: clean,
                target,
                kind,
            });
        } else {
            self.listing.links_truncated = true;
        }
        Ok(())
    }

    /// Streams one entry's content from `src` into `sink`, counting the real bytes against the
    /// limits (whatever the headers said). `compressed` enables the ratio check.
    fn pump(
        &mut self,
        src: &mut dyn Read,
        entry: (&str, At),
        compressed: Option<u64>,
        sink: &mut dyn Sink,
        crc: &mut flate2::Crc,
        read_err: &dyn Fn(io::Error) -> BundleError,
    ) -> Result<u64, BundleError> {
        let (path, at) = entry;
        let mut buf = vec![0u8; BUF];
        let mut n: u64 = 0;
        loop {
            let k = match src.read(&mut buf) {
                Ok(0) => return Ok(n),
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(unwrap_bundle(e).unwrap_or_else(read_err)),
            };
            let chunk = buf.get(..k).unwrap_or_default();
            n = n.saturating_add(k as u64);
            if n > self.limits.max_entry_size {
                return Err(BundleError::TooLarge {
                    what: format!("entry '{}'", shown(path.as_bytes())),
                    limit: self.limits.max_entry_size,
                    at,
                });
            }
            self.listing.unpacked_total = self.listing.unpacked_total.saturating_add(k as u64);
            if self.listing.unpacked_total > self.limits.max_unpacked_total {
                return Err(self.total_too_large(at));
            }
            if let Some(c) = compressed
                && n > self.limits.ratio_min_size
                && n > c.saturating_mul(self.limits.max_ratio)
            {
                return Err(BundleError::Bomb {
                    what: format!("entry '{}'", shown(path.as_bytes())),
                    ratio: self.limits.max_ratio,
                    at,
                });
            }
            crc.update(chunk);
            sink.write(chunk)?;
        }
    }
}

/// Where checked entries go: nowhere ([`Measure`]), into memory ([`Collect`]) or into the
/// extraction folder. Each does nothing unless it says otherwise.
trait Sink {
    fn mkdir(&mut self, _rel: &str) -> Result<(), BundleError> {
        Ok(())
    }
    fn create(&mut self, _rel: &str) -> Result<(), BundleError> {
        Ok(())
    }
    fn write(&mut self, _buf: &[u8]) -> Result<(), BundleError> {
        Ok(())
    }
    fn close(&mut self) -> Result<(), BundleError> {
        Ok(())
    }
}

struct Measure;

impl Sink for Measure {}

/// Keeps what is written in memory: a zip symbolic link's target, whose size [`zip_data`] holds
/// to the entry's declared size (at most [`MAX_LINK_TARGET`], checked before).
struct Collect(Vec<u8>);

impl Sink for Collect {
    fn write(&mut self, buf: &[u8]) -> Result<(), BundleError> {
        self.0.extend_from_slice(buf);
        Ok(())
    }
}

struct Extract {
    dest: PathBuf,
    open: Option<(BufWriter<File>, String)>,
}

impl Sink for Extract {
    fn mkdir(&mut self, rel: &str) -> Result<(), BundleError> {
        // create_dir, not create_dir_all: the tree says the folder is new, so an existing one
        // means someone else is writing here.
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(self.dest.join(rel))
            .map_err(io_err(format!("creating folder '{rel}'")))
    }

    fn create(&mut self, rel: &str) -> Result<(), BundleError> {
        let mut o = OpenOptions::new();
        // create_new is O_CREAT|O_EXCL: it fails on anything existing, symlinks included.
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // The lab's alone, like the artifact it came from (`private_fs`).
            o.mode(0o600);
        }
        let f = o
            .open(self.dest.join(rel))
            .map_err(io_err(format!("creating file '{rel}'")))?;
        self.open = Some((BufWriter::with_capacity(BUF, f), rel.to_string()));
        Ok(())
    }

    fn write(&mut self, buf: &[u8]) -> Result<(), BundleError> {
        if let Some((f, rel)) = &mut self.open {
            f.write_all(buf)
                .map_err(io_err(format!("writing file '{rel}'")))?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), BundleError> {
        if let Some((mut f, rel)) = self.open.take() {
            f.flush().map_err(io_err(format!("writing file '{rel}'")))?;
        }
        Ok(())
    }
}

/// A [`BundleError`] carried through an `io::Error` (from [`GzRatio`]).
fn unwrap_bundle(e: io::Error) -> Result<BundleError, io::Error> {
    if e.get_ref().is_some_and(|i| i.is::<BundleError>()) {
        match e.into_inner().map(|i| i.downcast::<BundleError>()) {
            Some(Ok(b)) => Ok(*b),
            Some(Err(other)) => Err(io::Error::other(other)),
            None => Err(io::Error::other("unreadable error")),
        }
    } else {
        Err(e)
    }
}

/// A read failure of the upload stream (a gzip error carried as a [`BundleError`], or I/O).
fn read_err(e: io::Error) -> BundleError {
    unwrap_bundle(e).unwrap_or_else(io_err("reading the upload"))
}

fn open(path: &Path) -> Result<File, BundleError> {
    File::open(path).map_err(io_err("opening the upload"))
}

fn file_len(f: &File) -> Result<u64, BundleError> {
    f.metadata()
        .map(|m| m.len())
        .map_err(io_err("reading the upload's size"))
}

// ---------------------------------------------------------------------------------------------
// gzip
// ---------------------------------------------------------------------------------------------

/// Counts the compressed bytes the decoder has pulled.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n = self.n.saturating_add(k as u64);
        Ok(k)
    }
}

/// A (multi-member) gzip decoder that refuses to expand beyond the ratio limit, and reports
/// damage with the compressed offset. Errors are [`BundleError`]s inside `io::Error`s. The
/// decoder reads through our own buffer so the compressed bytes really consumed are known
/// (read minus still buffered): the ratio is then enforced without read-ahead slack.
struct GzRatio<R: Read> {
    dec: flate2::bufread::MultiGzDecoder<BufReader<Counted<R>>>,
    out: u64,
    max_ratio: u64,
    min: u64,
}

impl<R: Read> GzRatio<R> {
    fn new(r: R, limits: &BundleLimits) -> GzRatio<R> {
        let buffered = BufReader::with_capacity(BUF, Counted { inner: r, n: 0 });
        GzRatio {
            dec: flate2::bufread::MultiGzDecoder::new(buffered),
            out: 0,
            max_ratio: limits.max_ratio,
            min: limits.ratio_min_size,
        }
    }

    /// Compressed bytes consumed so far.
    fn consumed(&self) -> u64 {
        let b = self.dec.get_ref();
        b.get_ref().n.saturating_sub(b.buffer().len() as u64)
    }
}

impl<R: Read> Read for GzRatio<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let at = At::file(self.consumed());
        let k = match self.dec.read(buf) {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let b = match e.kind() {
                    io::ErrorKind::UnexpectedEof => BundleError::Truncated {
                        kind: "gzip",
                        at,
                        why: "the compressed stream ends early".into(),
                    },
                    io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                        BundleError::Corrupt {
                            kind: "gzip",
                            at,
                            why: format!("the compressed stream is invalid ({e})"),
                        }
                    }
                    _ => BundleError::Io {
                        doing: "reading the upload".into(),
                        source: e,
                    },
                };
                return Err(io::Error::other(b));
            }
        };
        self.out = self.out.saturating_add(k as u64);
        let input = self.consumed();
        if self.out > self.min && self.out > input.saturating_mul(self.max_ratio) {
            return Err(io::Error::other(BundleError::Bomb {
                what: "the gzip stream".into(),
                ratio: self.max_ratio,
                at: At::file(input),
            }));
        }
        Ok(k)
    }
}

/// A gzip-compressed capture: decompresses it all within the limits and checks that it is a
/// capture.
fn check_gzip(path: &Path, limits: &BundleLimits) -> Result<Listing, BundleError> {
    let mut r = GzRatio::new(open(path)?, limits);
    let max = limits.max_entry_size.min(limits.max_unpacked_total);
    let mut head = Vec::with_capacity(SNIFF_LEN);
    let mut buf = vec![0u8; BUF];
    let mut n: u64 = 0;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(unwrap_bundle(e).unwrap_or_else(io_err("reading the upload")));
            }
        };
        let chunk = buf.get(..k).unwrap_or_default();
        let room = SNIFF_LEN.saturating_sub(head.len());
        head.extend_from_slice(chunk.get(..room.min(k)).unwrap_or_default());
        n = n.saturating_add(k as u64);
        if n > max {
            return Err(BundleError::TooLarge {
                what: "the decompressed capture".into(),
                limit: max,
                at: At::file(r.consumed()),
            });
        }
    }
    let whole = (head.len() as u64) == n;
    match looks(&head, whole) {
        Looks::Pcap | Looks::Pcapng => {}
        Looks::Json
            if utf8_prefix(&head, whole)
                .unwrap_or_default()
                .trim_start_matches('\u{feff}')
                .trim_start()
                .starts_with('{') => {}
        other => {
            return Err(BundleError::Invalid {
                kind: UploadKind::Gzip,
                at: At::file(0),
                why: format!(
                    "the decompressed content is not a pcap, pcapng or HAR capture (it starts like {})",
                    other.describe()
                ),
            });
        }
    }
    Ok(Listing {
        entries: 1,
        unpacked_total: n,
        ..Listing::default()
    })
}

// ---------------------------------------------------------------------------------------------
// tar
// ---------------------------------------------------------------------------------------------

/// The fields of a ustar header this reader uses.
struct Header {
    typeflag: u8,
    size: u64,
    name: Vec<u8>,
    linkname: Vec<u8>,
}

fn field(b: &[u8; BLOCK], start: usize, len: usize) -> &[u8] {
    b.get(start..start + len).unwrap_or_default()
}

/// A NUL-terminated header string.
fn cstr(f: &[u8]) -> &[u8] {
    f.split(|&b| b == 0).next().unwrap_or_default()
}

/// An octal numeric field (leading spaces, digits, then NULs/spaces); all-NUL is 0.
fn parse_octal(f: &[u8]) -> Option<u64> {
    let f = match f.iter().position(|&b| b != b' ') {
        Some(i) => f.get(i..)?,
        None => return Some(0),
    };
    let digits = f.iter().take_while(|b| (b'0'..=b'7').contains(b)).count();
    if f.get(digits..)?.iter().any(|&b| b != 0 && b != b' ') {
        return None;
    }
    let mut v: u64 = 0;
    for &d in f.get(..digits)? {
        v = v.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// A numeric field: octal, or GNU base-256 (high bit set; negative values refused).
fn parse_numeric(f: &[u8]) -> Option<u64> {
    let first = *f.first()?;
    if first & 0x80 == 0 {
        return parse_octal(f);
    }
    if first & 0x40 != 0 {
        return None;
    }
    let mut v = u64::from(first & 0x3f);
    for &b in f.get(1..)? {
        v = v.checked_mul(256)?.checked_add(u64::from(b))?;
    }
    Some(v)
}

fn parse_header(b: &[u8; BLOCK], at: At) -> Result<Header, BundleError> {
    let corrupt = |why: &str| BundleError::Corrupt {
        kind: "tar",
        at,
        why: why.to_string(),
    };
    let posix = field(b, 257, 6) == b"ustar\0";
    let gnu = field(b, 257, 8) == b"ustar  \0";
    if !posix && !gnu {
        return Err(corrupt(
            "not a ustar header (pre-POSIX tar archives are not accepted)",
        ));
    }
    let stored =
        parse_octal(field(b, 148, 8)).ok_or_else(|| corrupt("unreadable header checksum"))?;
    // The checksum is computed with its own field as spaces; historic writers summed signed bytes.
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &byte) in b.iter().enumerate() {
        let byte = if (148..156).contains(&i) { b' ' } else { byte };
        unsigned += u64::from(byte);
        signed += i64::from(byte as i8);
    }
    if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
        return Err(corrupt(
            "header checksum mismatch (damaged, or not a tar archive)",
        ));
    }
    let size = parse_numeric(field(b, 124, 12)).ok_or_else(|| corrupt("unreadable size field"))?;
    let mut name = cstr(field(b, 0, 100)).to_vec();
    // Only POSIX ustar has a prefix field; GNU keeps other data there.
    if posix {
        let prefix = cstr(field(b, 345, 155));
        if !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(&name);
            name = full;
        }
    }
    Ok(Header {
        typeflag: field(b, 156, 1).first().copied().unwrap_or(0),
        size,
        name,
        linkname: cstr(field(b, 157, 100)).to_vec(),
    })
}

/// Overrides a pax extended header sets for the next entry.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    sparse: bool,
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Sets a pax field, false if it was already set.
fn once<T>(slot: &mut Option<T>, v: T) -> bool {
    slot.replace(v).is_none()
}

/// Parses "<len> <key>=<value>\n" records.
fn parse_pax(mut rest: &[u8], at: At) -> Result<Pax, BundleError> {
    let corrupt = |why: String| BundleError::Corrupt {
        kind: "tar",
        at,
        why: format!("pax header: {why}"),
    };
    let mut pax = Pax::default();
    while !rest.is_empty() {
        // NUL padding after the last record is not in the format, but some writers leave it.
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| corrupt("a record has no length".into()))?;
        let len = rest
            .get(..sp)
            .and_then(parse_decimal)
            .and_then(|l| usize::try_from(l).ok())
            .filter(|&l| l > sp + 1 && l <= rest.len())
            .ok_or_else(|| corrupt("a record length is invalid".into()))?;
        let rec = rest
            .get(sp + 1..len)
            .and_then(|r| r.strip_suffix(b"\n"))
            .ok_or_else(|| corrupt("a record does not end with a newline".into()))?;
        let eq = rec
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| corrupt("a record has no '='".into()))?;
        let key = rec.get(..eq).unwrap_or_default();
        let value = rec.get(eq + 1..).unwrap_or_default();
        // POSIX lets the last record win; two readers could disagree, so a repeat is refused.
        let ok = match key {
            b"path" => once(&mut pax.path, value.to_vec()),
            b"linkpath" => once(&mut pax.linkpath, value.to_vec()),
            b"size" => {
                let v = parse_decimal(value).ok_or_else(|| corrupt("invalid 'size'".into()))?;
                once(&mut pax.size, v)
            }
            k => {
                pax.sparse |= k.starts_with(b"GNU.sparse.");
                true
            }
        };
        if !ok {
            return Err(corrupt(format!("'{}' is set twice", shown(key))));
        }
        rest = rest.get(len..).unwrap_or_default();
    }
    Ok(pax)
}

/// Metadata collected from pax / GNU long-name headers for the next entry.
#[derive(Default)]
struct Pending {
    start: Option<u64>,
    pax: Option<Pax>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
}

/// The tar byte stream, tracking the offset for messages.
struct TarStream<R> {
    r: R,
    pos: u64,
    gz: bool,
}

impl<R: Read> Read for TarStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.r.read(buf)?;
        self.pos = self.pos.saturating_add(k as u64);
        Ok(k)
    }
}

impl<R: Read> TarStream<R> {
    fn at(&self, offset: u64) -> At {
        At {
            offset,
            decompressed: self.gz,
        }
    }

    /// Fills `buf`; returns how many bytes were read (fewer only at the end of the stream).
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, BundleError> {
        let mut n = 0;
        while n < buf.len() {
            match self.read(buf.get_mut(n..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_err(e)),
            }
        }
        Ok(n)
    }

    /// Reads exactly `buf.len()` bytes or fails as truncated.
    fn exact(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<(), BundleError> {
        if self.fill(buf)? < buf.len() {
            return Err(BundleError::Truncated {
                kind: "tar",
                at: self.at(self.pos),
                why: what(),
            });
        }
        Ok(())
    }

    /// Skips the padding after `size` bytes of entry data.
    fn padding(&mut self, size: u64, what: &dyn Fn() -> String) -> Result<(), BundleError> {
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let mut buf = [0u8; BLOCK];
        self.exact(buf.get_mut(..pad as usize).unwrap_or_default(), what)
    }

    /// After the first zero block: a second one (some writers omit it), then only zero padding.
    fn finish(&mut self) -> Result<(), BundleError> {
        let mut buf = vec![0u8; BUF];
        let mut seen: u64 = 0;
        loop {
            let start = self.pos;
            let k = self.fill(&mut buf)?;
            if k == 0 {
                return Ok(());
            }
            if let Some(i) = buf
                .get(..k)
                .unwrap_or_default()
                .iter()
                .position(|&b| b != 0)
            {
                return Err(BundleError::Corrupt {
                    kind: "tar",
                    at: self.at(start + i as u64),
                    why: "there is data after the end-of-archive marker".into(),
                });
            }
            seen = seen.saturating_add(k as u64);
            if seen > MAX_TAR_TRAILER {
                return Err(BundleError::Corrupt {
                    kind: "tar",
                    at: self.at(self.pos),
                    why: format!(
                        "more than {} of padding after the end-of-archive marker",
                        human(MAX_TAR_TRAILER)
                    ),
                });
            }
        }
    }

    /// The body of a pax or GNU long-name header.
    fn meta(&mut self, size: u64, at: At) -> Result<Vec<u8>, BundleError> {
        if size > MAX_META {
            return Err(BundleError::Corrupt {
                kind: "tar",
                at,
                why: format!("a metadata header of {} (more than 1 MiB)", human(size)),
            });
        }
        let mut data = vec![0u8; size as usize];
        let what = || "the archive ends inside a metadata header".to_string();
        self.exact(&mut data, &what)?;
        self.padding(size, &what)?;
        Ok(data)
    }
}

fn walk_tar<R: Read>(
    r: R,
    gz: bool,
    limits: &BundleLimits,
    sink: &mut dyn Sink,
) -> Result<Listing, BundleError> {
    let mut ts = TarStream { r, pos: 0, gz };
    let mut meter = Meter::new(limits);
    let mut block = [0u8; BLOCK];
    let mut pending = Pending::default();
    loop {
        let off = ts.pos;
        let got = ts.fill(&mut block)?;
        if got == 0 {
            return Err(BundleError::Truncated {
                kind: "tar",
                at: ts.at(off),
                why: "the archive ends without its end-of-archive marker".into(),
            });
        }
        if got < BLOCK {
            return Err(BundleError::Truncated {
                kind: "tar",
                at: ts.at(ts.pos),
                why: "the archive ends inside a header".into(),
            });
        }
        if block.iter().all(|&b| b == 0) {
            if pending.start.is_some() {
                return Err(BundleError::Corrupt {
                    kind: "tar",
                    at: ts.at(off),
                    why: "a pax or GNU long-name header is not followed by an entry".into(),
                });
            }
            ts.finish()?;
            return Ok(meter.listing);
        }
        let h = parse_header(&block, ts.at(off))?;
        if h.typeflag == b'g' {
            // A global pax header applies to every later entry: refuse the fields that matter.
            let g = parse_pax(&ts.meta(h.size, ts.at(off))?, ts.at(off))?;
            if g.path.is_some() || g.linkpath.is_some() || g.size.is_some() || g.sparse {
                return Err(BundleError::Corrupt {
                    kind: "tar",
                    at: ts.at(off),
                    why: "a global pax header sets a path, link or size for every entry".into(),
                });
            }
            continue;
        }
        let at = ts.at(*pending.start.get_or_insert(off));
        let twice = |what: &str| BundleError::Corrupt {
            kind: "tar",
            at,
            why: format!("two {what} headers for one entry"),
        };
        match h.typeflag {
            b'x' => {
                if pending.pax.is_some() {
                    return Err(twice("pax"));
                }
                pending.pax = Some(parse_pax(&ts.meta(h.size, at)?, at)?);
                continue;
            }
            b'L' | b'K' => {
                let mut data = ts.meta(h.size, at)?;
                // GNU writes the name with its terminating NUL.
                while data.last() == Some(&0) {
                    data.pop();
                }
                let slot = if h.typeflag == b'L' {
                    &mut pending.long_name
                } else {
                    &mut pending.long_link
                };
                if slot.replace(data).is_some() {
                    return Err(twice("GNU long-name"));
                }
                continue;
            }
            _ => {}
        }
        let p = std::mem::take(&mut pending);
        let pax = p.pax.unwrap_or_default();
        let name = match (pax.path, p.long_name) {
            (Some(_), Some(_)) => {
                return Err(BundleError::Corrupt {
                    kind: "tar",
                    at,
                    why: "an entry has both a pax path and a GNU long name".into(),
                });
            }
            (Some(n), None) | (None, Some(n)) => n,
            (None, None) => h.name,
        };
        let size = pax.size.unwrap_or(h.size);
        let path = || shown(&name);
        if pax.sparse || h.typeflag == b'S' {
            return Err(BundleError::Unsupported {
                path: path(),
                at,
                why: "sparse files are not accepted".into(),
            });
        }
        match h.typeflag {
            b'0' | b'\0' | b'7' => {
                if name.ends_with(b"/") {
                    return Err(BundleError::BadPath {
                        path: path(),
                        at,
                        why: "a file entry's name ends with '/'".into(),
                    });
                }
                let clean = clean_path(&name, limits, at)?.ok_or_else(|| BundleError::BadPath {
                    path: path(),
                    at,
                    why: "a file entry is named like the archive root".into(),
                })?;
                meter.entry(at)?;
                meter.declared(size, &clean, at)?;
                meter.place(&clean, false, at, sink)?;
                sink.create(&clean)?;
                let got = meter.pump(
                    &mut (&mut ts).take(size),
                    (&clean, at),
                    None,
                    sink,
                    &mut flate2::Crc::new(),
                    &read_err,
                )?;
                sink.close()?;
                let what = || {
                    format!(
                        "the archive ends inside entry '{}'",
                        shown(clean.as_bytes())
                    )
                };
                if got < size {
                    return Err(BundleError::Truncated {
                        kind: "tar",
                        at: ts.at(ts.pos),
                        why: what(),
                    });
                }
                ts.padding(size, &what)?;
                meter.list(&clean);
            }
            b'5' => {
                if size != 0 {
                    return Err(BundleError::Corrupt {
                        kind: "tar",
                        at,
                        why: format!("folder entry '{}' has content", path()),
                    });
                }
                meter.entry(at)?;
                match clean_path(&name, limits, at)? {
                    None => meter.tree.add_root(at)?,
                    Some(clean) => meter.place(&clean, true, at, sink)?,
                }
            }
            b'1' | b'2' => {
                let kind = if h.typeflag == b'1' {
                    LinkKind::Hard
                } else {
                    LinkKind::Symbolic
                };
                // Some readers take data after a link header (pax "hard links with data"),
                // others do not: refused rather than guessed.
                if size != 0 {
                    return Err(BundleError::Corrupt {
                        kind: "tar",
                        at,
                        why: format!("{kind} entry '{}' has content", path()),
                    });
                }
                meter.entry(at)?;
                let target = pax.linkpath.or(p.long_link).unwrap_or(h.linkname);
                meter.link(&name, |_| Ok(target), kind, at, sink)?;
            }
            b'3' | b'4' | b'6' => {
                return Err(BundleError::Special {
                    path: path(),
                    at,
                    what: match h.typeflag {
                        b'3' => "character device",
                        b'4' => "block device",
                        _ => "FIFO",
                    },
                });
            }
            t => {
                return Err(BundleError::Unsupported {
                    path: path(),
                    at,
                    why: format!(
                        "tar entry type '{}' is not accepted (only files, folders and links)",
                        shown(&[t])
                    ),
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// zip
// ---------------------------------------------------------------------------------------------

/// Opens a zip and reads its end (end records and central directory, at most `max` bytes):
/// the file, its length and the tail that [`Archive::parse_file`] borrows.
fn read_zip(path: &Path, max: u64, kind: &'static str) -> Result<(File, u64, Tail), BundleError> {
    let mut f = open(path)?;
    let len = file_len(&f)?;
    let tail = Tail::read(&mut f, max).map_err(|e| zip_error(e, kind, len))?;
    Ok((f, len, tail))
}

fn zip_error(e: ZipError, kind: &'static str, len: u64) -> BundleError {
    match e {
        ZipError::NoEocd { .. } => BundleError::Truncated {
            kind,
            at: At::file(len),
            why: "no end-of-central-directory record (truncated upload, or not a zip archive)"
                .into(),
        },
        ZipError::TooLarge { size, limit, .. } => BundleError::ZipDirectoryTooLarge { size, limit },
        ZipError::Io { at, message } => BundleError::Io {
            doing: format!("reading the upload at byte {at}"),
            source: io::Error::other(message),
        },
        source => BundleError::Zip { kind, source },
    }
}

/// Archive-level anomalies. `strict` (zip uploads to extract) refuses everything an honest
/// writer would not produce; an APK is evidence, so only bomb constructions refuse it.
fn zip_anomalies(ar: &Archive<'_>, kind: &'static str, strict: bool) -> Result<(), BundleError> {
    let entry_at = |name: &str| At::file(ar.find(name).map_or(0, |e| e.local_header_offset));
    let corrupt = |at: At, why: String| BundleError::Corrupt { kind, at, why };
    for a in ar.anomalies() {
        match a {
            Anomaly::OverlappingEntries { first, second } => {
                return Err(corrupt(
                    entry_at(second),
                    format!(
                        "entries '{}' and '{}' share data (a zip-bomb construction)",
                        shown(first.as_bytes()),
                        shown(second.as_bytes())
                    ),
                ));
            }
            Anomaly::SuspiciousRatio { name, .. } => {
                return Err(corrupt(
                    entry_at(name),
                    format!(
                        "entry '{}' declares sizes impossible for deflate (a zip-bomb sign)",
                        shown(name.as_bytes())
                    ),
                ));
            }
            _ if !strict => {}
            Anomaly::LocalHeaderMismatch { name, what } => {
                return Err(corrupt(
                    entry_at(name),
                    format!(
                        "the local header of entry '{}' disagrees with the central directory ({what})",
                        shown(name.as_bytes())
                    ),
                ));
            }
            Anomaly::BadLocalHeader { name, at, what } => {
                return Err(corrupt(
                    At::file(*at),
                    format!("entry '{}': {what}", shown(name.as_bytes())),
                ));
            }
            Anomaly::DataOutOfBounds { name } => {
                return Err(corrupt(
                    entry_at(name),
                    format!(
                        "the data of entry '{}' runs past its area (damaged or truncated)",
                        shown(name.as_bytes())
                    ),
                ));
            }
            Anomaly::PrependedData { len, .. } => {
                return Err(corrupt(
                    At::file(0),
                    format!(
                        "{len} bytes precede the first entry (self-extracting or disguised archive)"
                    ),
                ));
            }
            Anomaly::TrailingData { at, len } => {
                return Err(corrupt(
                    At::file(*at),
                    format!("{len} bytes follow the end of the archive"),
                ));
            }
            Anomaly::CommentLengthMismatch { .. } => {
                return Err(BundleError::Truncated {
                    kind,
                    at: At::file(ar.eocd_offset()),
                    why: "the archive comment runs past the end of the file".into(),
                });
            }
            Anomaly::EntryCountMismatch { declared, found } => {
                return Err(corrupt(
                    At::file(ar.eocd_offset()),
                    format!(
                        "the end record declares {declared} entries but the directory holds {found}"
                    ),
                ));
            }
            // Per entry, with offsets, below.
            Anomaly::DuplicateName { .. }
            | Anomaly::NameWithPathTraversal { .. }
            | Anomaly::InvalidName { .. }
            | Anomaly::Encrypted { .. }
            | Anomaly::UnsupportedMethod { .. } => {}
            Anomaly::EmptyArchive | Anomaly::Zip64 | Anomaly::Truncated { .. } => {}
        }
    }
    Ok(())
}

/// Streams one zip entry's content into `sink`, counting real bytes; checks size and CRC.
fn zip_data(
    (ar, file): (&Archive<'_>, &File),
    e: &Entry<'_>,
    kind: &'static str,
    entry: (&str, At),
    meter: &mut Meter<'_>,
    sink: &mut dyn Sink,
) -> Result<(), BundleError> {
    let (path, at) = entry;
    if e.flags & ZIP_FLAG_ENCRYPTED != 0 {
        return Err(BundleError::Unsupported {
            path: shown(path.as_bytes()),
            at,
            why: "encrypted entries are not accepted".into(),
        });
    }
    let (offset, len) = ar
        .data_range(e)
        .map_err(|source| BundleError::Zip { kind, source })?;
    let mut raw = file;
    raw.seek(SeekFrom::Start(offset))
        .map_err(io_err("reading the upload"))?;
    let raw = raw.take(len);
    meter.declared(e.uncompressed_size, path, at)?;
    let mut crc = flate2::Crc::new();
    let corrupt = |_: io::Error| BundleError::Corrupt {
        kind,
        at,
        why: format!(
            "entry '{}' has corrupt deflate data",
            shown(path.as_bytes())
        ),
    };
    let declared = e.uncompressed_size;
    let got = match e.method {
        METHOD_STORED => {
            if e.compressed_size != declared {
                return Err(BundleError::SizeMismatch {
                    path: shown(path.as_bytes()),
                    at,
                    declared,
                    actual: e.compressed_size.to_string(),
                });
            }
            let mut src = raw;
            meter.pump(&mut src, entry, None, sink, &mut crc, &corrupt)?
        }
        METHOD_DEFLATE => {
            // One byte more than declared tells a lying directory from an honest one.
            let mut dec = DeflateDecoder::new(raw).take(declared.saturating_add(1));
            meter.pump(
                &mut dec,
                entry,
                Some(e.compressed_size),
                sink,
                &mut crc,
                &corrupt,
            )?
        }
        m => {
            return Err(BundleError::Unsupported {
                path: shown(path.as_bytes()),
                at,
                why: format!("compression method {m} is not accepted (only stored and deflate)"),
            });
        }
    };
    if got != declared {
        return Err(BundleError::SizeMismatch {
            path: shown(path.as_bytes()),
            at,
            declared,
            actual: if got > declared {
                format!("more than {declared}")
            } else {
                got.to_string()
            },
        });
    }
    if crc.sum() != e.crc32 {
        return Err(BundleError::Corrupt {
            kind,
            at,
            why: format!(
                "entry '{}' fails its CRC check (damaged data)",
                shown(path.as_bytes())
            ),
        });
    }
    Ok(())
}

/// A zip symbolic link's target: the entry's content, refused past [`MAX_LINK_TARGET`] bytes,
/// read (size and CRC checked) apart from the listing's counts, as it is not unpacked.
fn zip_link_target(
    zf: (&Archive<'_>, &File),
    e: &Entry<'_>,
    (kind, limits): (&'static str, &BundleLimits),
    path: &str,
    at: At,
) -> Result<Vec<u8>, BundleError> {
    if e.uncompressed_size > MAX_LINK_TARGET {
        return Err(BundleError::Corrupt {
            kind,
            at,
            why: format!(
                "symbolic link '{}' declares a {} target (at most {} is accepted)",
                shown(path.as_bytes()),
                human(e.uncompressed_size),
                human(MAX_LINK_TARGET)
            ),
        });
    }
    let mut target = Collect(Vec::new());
    // A meter of its own: the target is not unpacked, so it counts in no total.
    zip_data(
        zf,
        e,
        kind,
        (path, at),
        &mut Meter::new(limits),
        &mut target,
    )?;
    Ok(target.0)
}

fn walk_zip(
    path: &Path,
    limits: &BundleLimits,
    sink: &mut dyn Sink,
    strict: bool,
) -> Result<Listing, BundleError> {
    let kind = if strict { "zip" } else { "APK" };
    let (mut file, len, tail) = read_zip(path, limits.max_zip_directory, kind)?;
    let zl = pc_apk::zip::Limits {
        // One more than allowed, so "too many" shows as the reader's truncation.
        max_entries: usize::try_from(limits.max_entries)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
        ..pc_apk::zip::Limits::default()
    };
    let ar = Archive::parse_file(&tail, &mut file, zl).map_err(|e| zip_error(e, kind, len))?;
    if ar.entries().len() as u64 > limits.max_entries {
        return Err(BundleError::TooManyEntries {
            limit: limits.max_entries,
            at: At::file(ar.central_directory_offset()),
        });
    }
    zip_anomalies(&ar, kind, strict)?;
    let mut meter = Meter::new(limits);
    for e in ar.entries() {
        let at = At::file(e.local_header_offset);
        meter.entry(at)?;
        if !strict {
            // The APK is analysed as evidence: only resource limits refuse it.
            match zip_data(
                (&ar, &file),
                e,
                kind,
                (e.name.as_str(), at),
                &mut meter,
                &mut Measure,
            ) {
                Err(err) if err.refuses_apk() => return Err(err),
                _ => {}
            }
            if !e.is_dir() {
                meter.list(&shown(e.raw_name));
            }
            continue;
        }
        if e.version_made_by >> 8 == ZIP_HOST_UNIX {
            // Unix writers store st_mode in the high half; S_IFLNK marks a symbolic link.
            let what = match (e.external_attributes >> 16) & 0o170_000 {
                0o120_000 => {
                    let target =
                        |clean: &str| zip_link_target((&ar, &file), e, (kind, limits), clean, at);
                    meter.link(e.raw_name, target, LinkKind::Symbolic, at, sink)?;
                    continue;
                }
                0o020_000 => Some("character device"),
                0o060_000 => Some("block device"),
                0o010_000 => Some("FIFO"),
                0o140_000 => Some("socket"),
                _ => None,
            };
            if let Some(what) = what {
                return Err(BundleError::Special {
                    path: shown(e.raw_name),
                    at,
                    what,
                });
            }
        }
        let clean = clean_path(e.raw_name, limits, at)?;
        if e.is_dir() {
            if e.uncompressed_size != 0 {
                return Err(BundleError::Corrupt {
                    kind,
                    at,
                    why: format!("folder entry '{}' has content", shown(e.raw_name)),
                });
            }
            match clean {
                None => meter.tree.add_root(at)?,
                Some(clean) => meter.place(&clean, true, at, sink)?,
            }
            continue;
        }
        let clean = clean.ok_or_else(|| BundleError::BadPath {
            path: shown(e.raw_name),
            at,
            why: "a file entry is named like the archive root".into(),
        })?;
        meter.place(&clean, false, at, sink)?;
        sink.create(&clean)?;
        zip_data((&ar, &file), e, kind, (&clean, at), &mut meter, sink)?;
        sink.close()?;
        meter.list(&clean);
    }
    Ok(meter.listing)
}

// ---------------------------------------------------------------------------------------------
// Single files
// ---------------------------------------------------------------------------------------------

fn single(len: u64) -> Listing {
    Listing {
        entries: 1,
        unpacked_total: len,
        ..Listing::default()
    }
}

fn check_capture(
    path: &Path,
    kind: UploadKind,
    limits: &BundleLimits,
) -> Result<Listing, BundleError> {
    let f = open(path)?;
    let len = file_len(&f)?;
    let max = limits.max_entry_size.min(limits.max_unpacked_total);
    if len > max {
        return Err(BundleError::TooLarge {
            what: format!("the {kind} file"),
            limit: max,
            at: At::file(0),
        });
    }
    let mut head = Vec::with_capacity(SNIFF_LEN);
    f.take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(io_err("reading the upload"))?;
    let whole = (head.len() as u64) == len;
    content_as(kind, None, &head, whole).map_err(|p| BundleError::Invalid {
        kind,
        at: At::file(0),
        why: match p {
            Problem::Looks(s) => format!("the content starts like {s}"),
            Problem::Bad(s) => s,
        },
    })?;
    Ok(single(len))
}

/// Reads a text upload whole, within the text size limit.
fn read_text(path: &Path, kind: UploadKind, limits: &BundleLimits) -> Result<Vec<u8>, BundleError> {
    let f = open(path)?;
    let max = limits.max_text_size;
    let too_large = || BundleError::TooLarge {
        what: format!("the {kind} file"),
        limit: max,
        at: At::file(0),
    };
    if file_len(&f)? > max {
        return Err(too_large());
    }
    let mut data = Vec::new();
    f.take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io_err("reading the upload"))?;
    if data.len() as u64 > max {
        return Err(too_large());
    }
    Ok(data)
}

fn check_case_toml(path: &Path, limits: &BundleLimits) -> Result<Listing, BundleError> {
    let kind = UploadKind::CaseToml;
    let data = read_text(path, kind, limits)?;
    let invalid = |at: usize, why: String| BundleError::Invalid {
        kind,
        at: At::file(at as u64),
        why,
    };
    let s = std::str::from_utf8(&data)
        .map_err(|e| invalid(e.valid_up_to(), "not UTF-8 text".into()))?;
    if let Some((i, _)) = s
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(invalid(
            i,
            "control characters are not allowed in TOML".into(),
        ));
    }
    let body = s.strip_prefix('\u{feff}').unwrap_or(s);
    if body.trim().is_empty() {
        return Err(invalid(0, "the file is empty".into()));
    }
    if let Err(e) = toml::from_str::<toml::Table>(body) {
        let skip = s.len() - body.len();
        let at = e.span().map_or(0, |r| r.start) + skip;
        let line = s.get(..at).map_or(0, |p| p.matches('\n').count()) + 1;
        return Err(invalid(
            at,
            format!("not valid TOML (line {line}): {}", e.message().trim()),
        ));
    }
    Ok(single(data.len() as u64))
}

fn check_keylog(path: &Path, limits: &BundleLimits) -> Result<Listing, BundleError> {
    let kind = UploadKind::KeyLog;
    let f = open(path)?;
    let len = file_len(&f)?;
    if len > limits.max_text_size {
        return Err(BundleError::TooLarge {
            what: "the key log".into(),
            limit: limits.max_text_size,
            at: At::file(0),
        });
    }
    let mut r = BufReader::with_capacity(BUF, f.take(limits.max_text_size));
    let mut line = Vec::new();
    let (mut offset, mut number, mut secrets) = (0u64, 0u64, 0u64);
    loop {
        line.clear();
        let k = (&mut r)
            .take(MAX_KEYLOG_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(io_err("reading the upload"))?;
        if k == 0 {
            break;
        }
        number += 1;
        let invalid = |why: String| BundleError::Invalid {
            kind,
            at: At::file(offset),
            why,
        };
        if k > MAX_KEYLOG_LINE {
            return Err(invalid(format!(
                "line {number} is longer than {MAX_KEYLOG_LINE} bytes"
            )));
        }
        let body = if number == 1 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&line)
        } else {
            &line
        };
        let text = std::str::from_utf8(body)
            .map_err(|_| invalid(format!("line {number} is not UTF-8 text")))?;
        match keylog_line(text) {
            Some(secret) => secrets += u64::from(secret),
            None => {
                return Err(invalid(format!(
                    "line {number} is not a key log line ('LABEL <hex> <hex>' or a '#' comment)"
                )));
            }
        }
        offset += k as u64;
    }
    if secrets == 0 {
        return Err(BundleError::Invalid {
            kind,
            at: At::file(0),
            why: "the key log holds no secrets".into(),
        });
    }
    Ok(single(len))
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Reads a whole upload from disk, decompressing to measure (never writing), enforcing every
/// limit and path rule; used at upload time, before the upload is acknowledged.
///
/// * `Tar`, `TarGz`, `Zip`: every entry is checked as [`extract_archive`] would extract it.
/// * `Apk`: kept as a file and analysed as evidence, so only size, count and ratio limits (and
///   bomb constructions) refuse it; names and format defects are findings for the analysis.
/// * `Gzip`: decompresses within the limits to a pcap, pcapng or HAR (one entry).
/// * `CaseToml`: UTF-8 TOML; `KeyLog`: every line a key log line; `Pcap`, `Pcapng`, `Har`: size
///   and first bytes (their parsers check the rest when the case is analysed).
pub fn check_archive(
    path: &Path,
    kind: UploadKind,
    limits: &BundleLimits,
) -> Result<Listing, BundleError> {
    match kind {
        UploadKind::Tar => walk_tar(
            BufReader::with_capacity(BUF, open(path)?),
            false,
            limits,
            &mut Measure,
        ),
        UploadKind::TarGz => walk_tar(
            GzRatio::new(open(path)?, limits),
            true,
            limits,
            &mut Measure,
        ),
        UploadKind::Zip => walk_zip(path, limits, &mut Measure, true),
        UploadKind::Apk => walk_zip(path, limits, &mut Measure, false),
        UploadKind::Gzip => check_gzip(path, limits),
        UploadKind::Pcap | UploadKind::Pcapng | UploadKind::Har => {
            check_capture(path, kind, limits)
        }
        UploadKind::CaseToml => check_case_toml(path, limits),
        UploadKind::KeyLog => check_keylog(path, limits),
    }
}

/// Extracts a `Zip`, `Tar` or `TarGz` upload into `dest` (an existing, empty folder that is not
/// a symbolic link), with the same checks as [`check_archive`], never writing outside `dest`;
/// returns the listing. Files get mode 0600 and folders 0700 whatever the archive says. On error, `dest` holds a
/// partial extraction: the caller removes it.
pub fn extract_archive(
    path: &Path,
    kind: UploadKind,
    dest: &Path,
    limits: &BundleLimits,
) -> Result<Listing, BundleError> {
    if !kind.is_extractable() {
        return Err(BundleError::NotExtractable { kind });
    }
    let dest_err = |why| BundleError::Dest {
        path: dest.to_path_buf(),
        why,
    };
    let meta = fs::symlink_metadata(dest).map_err(|_| dest_err("does not exist"))?;
    if !meta.is_dir() {
        return Err(dest_err("is not a folder (or is a symbolic link)"));
    }
    let mut entries = fs::read_dir(dest).map_err(io_err("listing the extraction folder"))?;
    if entries.next().is_some() {
        return Err(dest_err("is not empty"));
    }
    let mut sink = Extract {
        dest: dest.to_path_buf(),
        open: None,
    };
    let listing = match kind {
        UploadKind::Tar => walk_tar(
            BufReader::with_capacity(BUF, open(path)?),
            false,
            limits,
            &mut sink,
        ),
        UploadKind::TarGz => walk_tar(GzRatio::new(open(path)?, limits), true, limits, &mut sink),
        _ => walk_zip(path, limits, &mut sink, true),
    };
    // Close (flush) a file left open by an error, so its handle does not outlive the call.
    let closed = sink.close();
    let listing = listing?;
    closed?;
    Ok(listing)
}

#[cfg(test)]
mod tests;
