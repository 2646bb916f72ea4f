//! Zip archives read the way Android's libziparchive reads them.
//!
//! The End of Central Directory record is located by scanning back at most 65535+22 bytes (so a
//! zip comment is handled); a Zip64 EOCD locator/record is honoured. The CENTRAL directory is the
//! authority for names, sizes, compression method and local header offsets; local headers are only
//! used to find where the data starts. Everything suspicious is recorded as an [`Anomaly`] instead
//! of failing, so an analyst still sees what a crafted archive contains.
//!
//! What Android itself does with the tricks recorded here (libziparchive, `zip_archive.cc`, all
//! versions since Android 5):
//! * duplicate names: `AddToHash`/`AddToMap` returns `kDuplicateEntry` and the whole archive fails
//!   to open, so such an APK cannot be installed (the Python `zipfile` module used by androguard
//!   instead lets the LAST duplicate win). [`Archive::find`] returns the FIRST occurrence, the one
//!   a central-directory walker (and Android before libziparchive) would meet first.
//! * local header name differing from the central one, or sizes/CRC differing when no data
//!   descriptor is flagged: `FindEntry` fails with `kInconsistentInformation`: that entry is
//!   unreadable on the device.
//! * local extra length differing from the central one is normal (zipalign pads the local extra
//!   field) and is not an anomaly; the local lengths decide where data starts.
//! * bytes before the first local header are not checked by Android at all: that is what made
//!   Janus (CVE-2017-13156, a DEX prepended to an APK) possible.
//!
//! Overlapping entries (David Fifield's "better zip bomb": every entry's data quotes the next
//! entry's local header and ends in one shared deflate kernel, so N entries inflate the kernel N
//! times) are found from the central directory and the local headers alone, before anything is
//! inflated: the `[local header, data end)` ranges are swept in file order, an entry is *kept*
//! when it starts at or after the end of every kept entry before it, and every other entry is
//! [`Anomaly::OverlappingEntries`] with the kept entry it runs into. A kept entry reads as usual;
//! an overlapping one is **never inflated** ([`ZipError::Overlapping`]). So each byte of the
//! file is inflated at most once whatever the archive claims, the total inflated output is
//! bounded by the file's size times the deflate ratio, and a Fifield bomb costs one pass over its
//! kernel instead of one per entry. Why not at all rather than "once, then shared": an honest
//! writer never produces overlaps, the bytes an overlapping entry would give are already the
//! kept entry's (an analyst loses nothing), and a rule that depends only on the file (not on the
//! order callers read entries in) gives every caller — signature verification included — the
//! same answer.

mod central;
mod eocd;
mod inflate;
mod local;

use std::collections::BTreeMap;

pub use eocd::Tail;
pub use inflate::EntryReader;

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const MAX_COMMENT: usize = 65535;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_EOCD_LEN: usize = 56;
const CDE_SIG: u32 = 0x0201_4b50;
const CDE_LEN: usize = 46;
const LFH_SIG: u32 = 0x0403_4b50;
const LFH_LEN: usize = 30;
const FLAG_ENCRYPTED: u16 = 0x0001;
const FLAG_DATA_DESCRIPTOR: u16 = 0x0008;
/// Compression method: stored.
pub const METHOD_STORED: u16 = 0;
/// Compression method: deflate.
pub const METHOD_DEFLATE: u16 = 8;

/// Bounds applied while parsing and reading.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most central directory entries kept (the rest are reported as an anomaly).
    pub max_entries: usize,
    /// Most anomalies kept (a crafted archive could produce one per entry).
    pub max_anomalies: usize,
    /// Largest declared uncompressed/compressed ratio accepted before inflating. Deflate cannot
    /// exceed about 1032:1, so anything above this is a lie in the directory.
    pub max_ratio: u64,
    /// Slack added to the ratio check so tiny entries are never rejected.
    pub ratio_slack: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 500_000,
            max_anomalies: 10_000,
            max_ratio: 1100,
            ratio_slack: 4096,
        }
    }
}

/// Errors, each with the byte offset in the archive where it was detected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    /// No End of Central Directory record in the last 65535+22 bytes.
    #[error("not a zip archive: no end of central directory record (at {at})")]
    NoEocd {
        /// Start of the scanned window.
        at: u64,
    },
    /// The EOCD (or Zip64 EOCD) is inconsistent.
    #[error("bad end of central directory at {at}: {what}")]
    BadEocd {
        /// Offset of the record.
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A central directory entry is malformed.
    #[error("bad central directory at {at}: {what}")]
    BadCentralDirectory {
        /// Offset of the entry.
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The local header of an entry cannot be used.
    #[error("bad local header at {at}: {what}")]
    BadLocalHeader {
        /// Offset of the local header.
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// Entry data lies outside the archive (or overlaps the central directory).
    #[error("entry data out of bounds at {at}: {what}")]
    OutOfBounds {
        /// Offset of the data.
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// Declared uncompressed size exceeds the caller's limit.
    #[error("entry at {at} too large: {size} bytes > limit {limit}")]
    TooLarge {
        /// Offset of the data.
        at: u64,
        /// Declared uncompressed size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Compression bomb: the declared ratio is impossible or the stream inflates past its size.
    #[error("compression bomb at {at}: {what}")]
    Bomb {
        /// Offset of the data.
        at: u64,
        /// What was seen.
        what: &'static str,
    },
    /// Inflated size differs from the declared one.
    #[error("size mismatch at {at}: declared {expected}, got {actual}")]
    SizeMismatch {
        /// Offset of the data.
        at: u64,
        /// Declared size.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// CRC32 differs from the central directory's.
    #[error("crc mismatch at {at}: declared {expected:08x}, computed {actual:08x}")]
    Crc {
        /// Offset of the data.
        at: u64,
        /// Declared CRC.
        expected: u32,
        /// Computed CRC.
        actual: u32,
    },
    /// The deflate stream is corrupt.
    #[error("corrupt deflate stream at {at}")]
    Inflate {
        /// Offset of the data.
        at: u64,
    },
    /// Neither stored nor deflate.
    #[error("unsupported compression method {method} at {at}")]
    UnsupportedMethod {
        /// Offset of the data.
        at: u64,
        /// The method.
        method: u16,
    },
    /// Encrypted entries cannot be read.
    #[error("encrypted entry at {at}")]
    Encrypted {
        /// Offset of the data.
        at: u64,
    },
    /// The entry's bytes overlap an entry kept before it in the file (see the module docs): it
    /// is not inflated, so no byte of the archive is inflated twice.
    #[error("entry at {at} overlaps the entry at {kept} (an overlapping-entry zip bomb): not read")]
    Overlapping {
        /// Offset of this entry's local header.
        at: u64,
        /// Offset of the local header of the kept entry it overlaps.
        kept: u64,
    },
    /// Reading the archive's file failed ([`Archive::parse_file`] only).
    #[error("reading the archive at {at}: {message}")]
    Io {
        /// Offset being read.
        at: u64,
        /// The I/O error, as text (so errors stay `Clone + Eq`).
        message: String,
    },
}

/// One central directory entry (the central directory's view, as Android uses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Name as lossy UTF-8.
    pub name: String,
    /// Name bytes as stored.
    pub raw_name: &'a [u8],
    /// Compression method (0 stored, 8 deflate).
    pub method: u16,
    /// Compressed size (Zip64 extra honoured).
    pub compressed_size: u64,
    /// Uncompressed size (Zip64 extra honoured).
    pub uncompressed_size: u64,
    /// CRC32 from the central directory.
    pub crc32: u32,
    /// Offset of the local file header.
    pub local_header_offset: u64,
    /// Offset of the entry data (local header + local name + local extra lengths); only
    /// meaningful when `local_header_ok`.
    pub data_offset: u64,
    /// General purpose flags.
    pub flags: u16,
    /// Index in the central directory.
    pub cd_index: usize,
    /// Whether the local header was found, has the right signature and fits before the data.
    pub local_header_ok: bool,
    /// "Version made by" from the central directory; its high byte is the host system (3 = Unix).
    pub version_made_by: u16,
    /// External file attributes from the central directory (for Unix hosts, the high 16 bits
    /// are `st_mode`: that is how zip marks symbolic links).
    pub external_attributes: u32,
}

impl Entry<'_> {
    /// True for a directory entry (name ending in '/').
    pub fn is_dir(&self) -> bool {
        self.raw_name.ends_with(b"/")
    }
}

/// Something an honest zip writer would not produce.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Anomaly {
    /// The same name appears `count` times in the central directory.
    DuplicateName {
        /// The name.
        name: String,
        /// Occurrences.
        count: usize,
    },
    /// Local header disagrees with the central directory.
    LocalHeaderMismatch {
        /// Entry name (central).
        name: String,
        /// Which field.
        what: &'static str,
    },
    /// The local header cannot be used (bad offset/signature).
    BadLocalHeader {
        /// Entry name.
        name: String,
        /// Local header offset.
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// Bytes before the first local header (Janus, CVE-2017-13156, when they are a DEX).
    PrependedData {
        /// Length of the prefix.
        len: u64,
        /// The prefix starts with "dex\n".
        dex: bool,
    },
    /// Absolute path, `..` component or backslash in a name.
    NameWithPathTraversal {
        /// The name.
        name: String,
    },
    /// Name with a NUL byte or invalid UTF-8 (libziparchive's `IsValidEntryName` rejects it).
    InvalidName {
        /// The name (lossy).
        name: String,
    },
    /// Encryption flag set.
    Encrypted {
        /// The name.
        name: String,
    },
    /// Compression method other than stored/deflate.
    UnsupportedMethod {
        /// The name.
        name: String,
        /// The method.
        method: u16,
    },
    /// Bytes after the EOCD record and its comment.
    TrailingData {
        /// Offset where they start.
        at: u64,
        /// How many.
        len: u64,
    },
    /// EOCD comment length runs past the end of the file.
    CommentLengthMismatch {
        /// Declared comment length.
        declared: u64,
        /// Bytes actually present.
        present: u64,
    },
    /// Two entries' local records overlap (overlapping-file zip bombs, polyglots): `second` is
    /// never inflated (see the module docs).
    OverlappingEntries {
        /// The entry kept: the earlier one in the file.
        first: String,
        /// The entry that runs into it, which is not read.
        second: String,
    },
    /// Entry data runs past the start of the central directory.
    DataOutOfBounds {
        /// The name.
        name: String,
    },
    /// Declared sizes are impossible for deflate (ratio above the limit).
    SuspiciousRatio {
        /// The name.
        name: String,
        /// Compressed size.
        compressed: u64,
        /// Uncompressed size.
        uncompressed: u64,
    },
    /// EOCD entry count disagrees with the entries found in the central directory.
    EntryCountMismatch {
        /// Declared.
        declared: u64,
        /// Found.
        found: u64,
    },
    /// The archive has no entries (libziparchive: `kEmptyArchive`).
    EmptyArchive,
    /// Zip64 structures present (libziparchive supports them only since Android 12).
    Zip64,
    /// More entries or anomalies than the limits allow; the rest were dropped.
    Truncated {
        /// What was capped.
        what: &'static str,
    },
}

impl Anomaly {
    /// Whether Android (libziparchive) refuses the archive or the entry because of this.
    pub fn rejected_by_android(&self) -> bool {
        matches!(
            self,
            Anomaly::DuplicateName { .. }
                | Anomaly::LocalHeaderMismatch { .. }
                | Anomaly::BadLocalHeader { .. }
                | Anomaly::InvalidName { .. }
                | Anomaly::DataOutOfBounds { .. }
                | Anomaly::EmptyArchive
        )
    }
}

/// A parsed archive borrowing the whole file ([`Archive::parse`]), or only its end, the central
/// directory, when the file stays on disk ([`Archive::parse_file`]).
#[derive(Debug, Clone)]
pub struct Archive<'a> {
    /// The file's bytes from `base` to its end.
    data: &'a [u8],
    base: u64,
    entries: Vec<Entry<'a>>,
    anomalies: Vec<Anomaly>,
    by_name: BTreeMap<&'a [u8], usize>,
    /// Directory index of each entry that overlaps a kept one → the kept one's index.
    overlapping: BTreeMap<usize, usize>,
    eocd_offset: u64,
    cd_offset: u64,
    cd_size: u64,
    limits: Limits,
}

impl<'a> Archive<'a> {
    /// All central directory entries, in directory order.
    pub fn entries(&self) -> &[Entry<'a>] {
        &self.entries
    }

    /// Anomalies found while parsing.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// Whether Android would refuse this archive or one of its entries (see module docs).
    pub fn rejected_by_android(&self) -> bool {
        self.anomalies.iter().any(Anomaly::rejected_by_android)
    }

    /// The FIRST central directory entry with this exact name. (Android refuses archives with
    /// duplicates outright; see the module docs and [`Anomaly::DuplicateName`].)
    pub fn find(&self, name: &str) -> Option<&Entry<'a>> {
        self.find_bytes(name.as_bytes())
    }

    /// [`Archive::find`] by raw name bytes.
    pub fn find_bytes(&self, name: &[u8]) -> Option<&Entry<'a>> {
        self.by_name.get(name).and_then(|&i| self.entries.get(i))
    }

    /// Offset of the End of Central Directory record.
    pub fn eocd_offset(&self) -> u64 {
        self.eocd_offset
    }

    /// Offset of the central directory (from the EOCD or Zip64 EOCD).
    pub fn central_directory_offset(&self) -> u64 {
        self.cd_offset
    }

    /// Size of the central directory.
    pub fn central_directory_size(&self) -> u64 {
        self.cd_size
    }

    /// The whole file; from [`Archive::parse_file`], only its tail (from the central directory
    /// or the end-record scan window, whichever starts first).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}
