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

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use crate::bytes::{slice, u16_at, u32_at, u64_at, us};

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

#[derive(Debug, Clone)]
struct Eocd {
    offset: u64,
    entries: u64,
    cd_size: u64,
    cd_offset: u64,
}

/// Why the end records could not be read from a tail of the file.
enum Scan {
    /// The archive is bad.
    Bad(ZipError),
    /// The tail must start at this file offset or earlier; always below `base`, so never for a
    /// tail that is the whole file.
    Need(u64),
}

impl From<ZipError> for Scan {
    fn from(e: ZipError) -> Scan {
        Scan::Bad(e)
    }
}

impl Scan {
    /// For a tail that is the whole file, where nothing more can be needed.
    fn whole(self) -> ZipError {
        match self {
            Scan::Bad(e) => e,
            Scan::Need(at) => ZipError::BadEocd {
                at,
                what: "end records point before the start of the file",
            },
        }
    }
}

/// Finds the end records in `data`, the file's bytes from offset `base` to its end. Offsets in
/// the result and in errors are file offsets.
fn find_eocd(data: &[u8], base: u64, anomalies: &mut Vec<Anomaly>) -> Result<Eocd, Scan> {
    let len = data.len();
    let file_len = base + len as u64;
    if file_len < EOCD_LEN as u64 {
        return Err(ZipError::NoEocd { at: 0 }.into());
    }
    let window_abs = file_len.saturating_sub((EOCD_LEN + MAX_COMMENT) as u64);
    if window_abs < base {
        return Err(Scan::Need(window_abs));
    }
    let window_start = us(window_abs - base);
    // Scan backwards like libziparchive: the last signature in the window wins.
    let mut i = len - EOCD_LEN;
    let eocd = loop {
        if u32_at(data, i) == Some(EOCD_SIG) {
            break i;
        }
        if i == window_start {
            return Err(ZipError::NoEocd { at: window_abs }.into());
        }
        i -= 1;
    };
    let at = base + eocd as u64;
    let rd16 = |o: usize| u16_at(data, eocd + o).unwrap_or(0);
    let rd32 = |o: usize| u32_at(data, eocd + o).unwrap_or(0);
    let mut entries = u64::from(rd16(10));
    let mut cd_size = u64::from(rd32(12));
    let mut cd_offset = u64::from(rd32(16));
    let comment_len = u64::from(rd16(20));
    let after = (len - eocd - EOCD_LEN) as u64;
    if comment_len > after {
        anomalies.push(Anomaly::CommentLengthMismatch {
            declared: comment_len,
            present: after,
        });
    } else if comment_len < after {
        anomalies.push(Anomaly::TrailingData {
            at: at + EOCD_LEN as u64 + comment_len,
            len: after - comment_len,
        });
    }
    let mut cd_end_max = at;
    if eocd < ZIP64_LOCATOR_LEN && at >= ZIP64_LOCATOR_LEN as u64 {
        return Err(Scan::Need(at - ZIP64_LOCATOR_LEN as u64));
    }
    // Zip64: locator immediately before the EOCD.
    if eocd >= ZIP64_LOCATOR_LEN
        && u32_at(data, eocd - ZIP64_LOCATOR_LEN) == Some(ZIP64_LOCATOR_SIG)
    {
        let loc = eocd - ZIP64_LOCATOR_LEN;
        let loc_at = base + loc as u64;
        let rec = u64_at(data, loc + 8).unwrap_or(u64::MAX);
        let points_nowhere = ZipError::BadEocd {
            at: loc_at,
            what: "zip64 locator points nowhere",
        };
        if rec >= loc_at {
            return Err(points_nowhere.into());
        }
        if rec < base {
            return Err(Scan::Need(rec));
        }
        let r = us(rec - base);
        if u32_at(data, r) != Some(ZIP64_EOCD_SIG) {
            return Err(points_nowhere.into());
        }
        if slice(data, r, ZIP64_EOCD_LEN).is_none() || r + ZIP64_EOCD_LEN > loc {
            return Err(ZipError::BadEocd {
                at: rec,
                what: "truncated zip64 record",
            }
            .into());
        }
        entries = u64_at(data, r + 32).unwrap_or(0);
        cd_size = u64_at(data, r + 40).unwrap_or(0);
        cd_offset = u64_at(data, r + 48).unwrap_or(0);
        cd_end_max = rec;
        anomalies.push(Anomaly::Zip64);
    }
    let cd_end = cd_offset.checked_add(cd_size).ok_or(ZipError::BadEocd {
        at,
        what: "central directory offset+size overflows",
    })?;
    if cd_end > cd_end_max {
        return Err(ZipError::BadEocd {
            at,
            what: "central directory runs past its end record",
        }
        .into());
    }
    if cd_offset < base {
        return Err(Scan::Need(cd_offset));
    }
    Ok(Eocd {
        offset: at,
        entries,
        cd_size,
        cd_offset,
    })
}

/// Reads file bytes `at..at+n` (fewer at the end of the file) into a buffer.
type Fetch<'f> = dyn FnMut(u64, usize, &mut Vec<u8>) -> Result<(), ZipError> + 'f;

fn io_error(at: u64, e: &io::Error) -> ZipError {
    ZipError::Io {
        at,
        message: e.to_string(),
    }
}

fn read_at<R: Read + Seek>(
    file: &mut R,
    at: u64,
    n: usize,
    buf: &mut Vec<u8>,
) -> Result<(), ZipError> {
    buf.clear();
    file.seek(SeekFrom::Start(at))
        .map_err(|e| io_error(at, &e))?;
    file.take(n as u64)
        .read_to_end(buf)
        .map_err(|e| io_error(at, &e))?;
    Ok(())
}

/// The end of a zip file read from disk: the end records and the central directory, which is
/// all [`Archive::parse_file`] keeps in memory, so an archive of any size can be checked.
#[derive(Debug, Clone)]
pub struct Tail {
    bytes: Vec<u8>,
    base: u64,
    /// The end records, found while reading, with what they revealed.
    eocd: Eocd,
    anomalies: Vec<Anomaly>,
}

impl Tail {
    /// Reads the file's end (its end-record scan window, the Zip64 record, the central
    /// directory). The window (64 KiB + 42 bytes, or the whole file if shorter) is always read;
    /// past it, more than `max` bytes from the central directory to the end is refused: that
    /// size comes from the file, so it is bounded here rather than trusted.
    pub fn read<R: Read + Seek>(file: &mut R, max: u64) -> Result<Tail, ZipError> {
        let len = file.seek(SeekFrom::End(0)).map_err(|e| io_error(0, &e))?;
        let window = (EOCD_LEN + MAX_COMMENT + ZIP64_LOCATOR_LEN) as u64;
        let mut base = len.saturating_sub(window);
        let mut bytes = Vec::new();
        // Each round starts strictly earlier (Scan::Need is below base), and only the Zip64
        // record and the central directory can ask for that.
        for _ in 0..3 {
            let n = usize::try_from(len - base).unwrap_or(usize::MAX);
            read_at(file, base, n, &mut bytes)?;
            if (bytes.len() as u64) < len - base {
                return Err(ZipError::Io {
                    at: base + bytes.len() as u64,
                    message: "the file shrank while it was read".into(),
                });
            }
            let mut anomalies = Vec::new();
            match find_eocd(&bytes, base, &mut anomalies) {
                Ok(eocd) => {
                    return Ok(Tail {
                        bytes,
                        base,
                        eocd,
                        anomalies,
                    });
                }
                Err(Scan::Bad(e)) => return Err(e),
                Err(Scan::Need(at)) => {
                    if len - at > max {
                        return Err(ZipError::TooLarge {
                            at,
                            size: len - at,
                            limit: max,
                        });
                    }
                    base = at;
                }
            }
        }
        Err(ZipError::BadEocd {
            at: base,
            what: "end records point at each other",
        })
    }

    /// Bytes held (the file from [`Tail::offset`] to its end).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Where in the file the held bytes start.
    pub fn offset(&self) -> u64 {
        self.base
    }
}

/// libziparchive's `IsValidEntryName`: no NUL byte and well-formed UTF-8 sequences.
fn valid_entry_name(name: &[u8]) -> bool {
    !name.contains(&0) && std::str::from_utf8(name).is_ok()
}

fn path_traversal(name: &[u8]) -> bool {
    name.starts_with(b"/")
        || name.contains(&b'\\')
        || name.split(|&b| b == b'/').any(|c| c == b"..")
}

impl<'a> Archive<'a> {
    /// Parses with default [`Limits`].
    pub fn parse(data: &'a [u8]) -> Result<Archive<'a>, ZipError> {
        Self::parse_with(data, Limits::default())
    }

    /// Parses the EOCD and central directory, checks every local header.
    pub fn parse_with(data: &'a [u8], limits: Limits) -> Result<Archive<'a>, ZipError> {
        let mut fetch = |at: u64, n: usize, buf: &mut Vec<u8>| {
            buf.clear();
            let start = us(at).min(data.len());
            buf.extend_from_slice(&data[start..start.saturating_add(n).min(data.len())]);
            Ok(())
        };
        let mut anomalies = Vec::new();
        let eocd = find_eocd(data, 0, &mut anomalies).map_err(Scan::whole)?;
        Self::parse_tail(data, 0, (eocd, anomalies), limits, &mut fetch)
    }

    /// Parses an archive that stays on disk: only `tail` (the end records and the central
    /// directory, see [`Tail::read`]) is held in memory, and each local header is read from
    /// `file` as it is checked. The result is what [`Archive::parse_with`] gives for the same
    /// file, but for [`Archive::raw_data`] and [`Archive::read`]: read the entries' bytes from
    /// the file at [`Archive::data_range`].
    pub fn parse_file<R: Read + Seek>(
        tail: &'a Tail,
        file: &mut R,
        limits: Limits,
    ) -> Result<Archive<'a>, ZipError> {
        let mut fetch = |at: u64, n: usize, buf: &mut Vec<u8>| read_at(file, at, n, buf);
        let end = (tail.eocd.clone(), tail.anomalies.clone());
        Self::parse_tail(&tail.bytes, tail.base, end, limits, &mut fetch)
    }

    /// `data` is the file from offset `base` on, `end` its end records (as [`find_eocd`] found
    /// them in `data`) and their anomalies; `fetch(at, n, buf)` puts the file's bytes
    /// `at..at+n` (fewer at its end) in `buf`.
    fn parse_tail(
        data: &'a [u8],
        base: u64,
        (eocd, mut anomalies): (Eocd, Vec<Anomaly>),
        limits: Limits,
        fetch: &mut Fetch<'_>,
    ) -> Result<Archive<'a>, ZipError> {
        // find_eocd checked that the directory lies inside `data` and does not overflow.
        let cd_start = us(eocd.cd_offset - base);
        let cd_end = us(eocd.cd_offset + eocd.cd_size - base);
        let mut entries: Vec<Entry<'a>> = Vec::new();
        let mut pos = cd_start;
        // An entry is at least 46 bytes, so the directory size bounds the count.
        let max = usize::try_from(eocd.entries)
            .unwrap_or(usize::MAX)
            .min(us(eocd.cd_size) / CDE_LEN);
        let mut truncated = false;
        while pos < cd_end {
            if entries.len() >= max {
                break;
            }
            if entries.len() >= limits.max_entries {
                truncated = true;
                break;
            }
            let at = base + pos as u64;
            let bad = |what| ZipError::BadCentralDirectory { at, what };
            if u32_at(data, pos) != Some(CDE_SIG) {
                return Err(bad("missing central directory signature"));
            }
            if pos + CDE_LEN > cd_end {
                return Err(bad("entry runs off the central directory"));
            }
            let rd16 = |o: usize| u16_at(data, pos + o).unwrap_or(0);
            let rd32 = |o: usize| u32_at(data, pos + o).unwrap_or(0);
            let version_made_by = rd16(4);
            let flags = rd16(8);
            let method = rd16(10);
            let crc32 = rd32(16);
            let mut compressed_size = u64::from(rd32(20));
            let mut uncompressed_size = u64::from(rd32(24));
            let name_len = usize::from(rd16(28));
            let extra_len = usize::from(rd16(30));
            let comment_len = usize::from(rd16(32));
            let external_attributes = rd32(38);
            let mut local_header_offset = u64::from(rd32(42));
            let var_start = pos + CDE_LEN;
            let next = var_start + name_len + extra_len + comment_len;
            if next > cd_end {
                return Err(bad("name/extra/comment run off the central directory"));
            }
            let raw_name = &data[var_start..var_start + name_len];
            let extra = &data[var_start + name_len..var_start + name_len + extra_len];
            // Zip64 extended information: only the fields whose 32-bit value is saturated.
            if let Some(z) = zip64_extra(extra) {
                let mut k = 0;
                for v in [
                    &mut uncompressed_size,
                    &mut compressed_size,
                    &mut local_header_offset,
                ] {
                    if *v == 0xFFFF_FFFF {
                        if let Some(x) = u64_at(z, k) {
                            *v = x;
                        }
                        k += 8;
                    }
                }
            }
            entries.push(Entry {
                name: String::from_utf8_lossy(raw_name).into_owned(),
                raw_name,
                method,
                compressed_size,
                uncompressed_size,
                crc32,
                local_header_offset,
                data_offset: 0,
                flags,
                cd_index: entries.len(),
                local_header_ok: false,
                version_made_by,
                external_attributes,
            });
            pos = next;
        }
        if truncated {
            anomalies.push(Anomaly::Truncated { what: "entries" });
        } else if entries.len() as u64 != eocd.entries {
            anomalies.push(Anomaly::EntryCountMismatch {
                declared: eocd.entries,
                found: entries.len() as u64,
            });
        }
        if entries.is_empty() {
            anomalies.push(Anomaly::EmptyArchive);
        }
        let mut archive = Archive {
            data,
            base,
            entries,
            anomalies,
            by_name: BTreeMap::new(),
            overlapping: BTreeMap::new(),
            eocd_offset: eocd.offset,
            cd_offset: eocd.cd_offset,
            cd_size: eocd.cd_size,
            limits,
        };
        archive.check_entries(fetch)?;
        Ok(archive)
    }

    fn note(&mut self, a: Anomaly) {
        if self.anomalies.len() < self.limits.max_anomalies {
            self.anomalies.push(a);
        } else if self.anomalies.len() == self.limits.max_anomalies {
            self.anomalies
                .push(Anomaly::Truncated { what: "anomalies" });
        }
    }

    fn check_entries(&mut self, fetch: &mut Fetch<'_>) -> Result<(), ZipError> {
        let cd_offset = self.cd_offset;
        let mut counts: BTreeMap<&'a [u8], usize> = BTreeMap::new();
        let mut notes = Vec::new();
        // The local header being checked, with its name.
        let mut lh = Vec::new();
        for e in &mut self.entries {
            *counts.entry(e.raw_name).or_insert(0) += 1;
            self.by_name.entry(e.raw_name).or_insert(e.cd_index);
            if !valid_entry_name(e.raw_name) {
                notes.push(Anomaly::InvalidName {
                    name: e.name.clone(),
                });
            }
            if path_traversal(e.raw_name) {
                notes.push(Anomaly::NameWithPathTraversal {
                    name: e.name.clone(),
                });
            }
            if e.flags & FLAG_ENCRYPTED != 0 {
                notes.push(Anomaly::Encrypted {
                    name: e.name.clone(),
                });
            }
            if e.method != METHOD_STORED && e.method != METHOD_DEFLATE {
                notes.push(Anomaly::UnsupportedMethod {
                    name: e.name.clone(),
                    method: e.method,
                });
            }
            if e.method == METHOD_DEFLATE
                && e.uncompressed_size
                    > e.compressed_size
                        .saturating_mul(self.limits.max_ratio)
                        .saturating_add(self.limits.ratio_slack)
            {
                notes.push(Anomaly::SuspiciousRatio {
                    name: e.name.clone(),
                    compressed: e.compressed_size,
                    uncompressed: e.uncompressed_size,
                });
            }
            // Local header: libziparchive requires it to start before the central directory.
            let lho = e.local_header_offset;
            let bad = |what| Anomaly::BadLocalHeader {
                name: e.name.clone(),
                at: lho,
                what,
            };
            if lho.saturating_add(LFH_LEN as u64) > cd_offset {
                notes.push(bad("local header not before the central directory"));
                continue;
            }
            fetch(lho, LFH_LEN + e.raw_name.len(), &mut lh)?;
            if u32_at(&lh, 0) != Some(LFH_SIG) {
                notes.push(bad("missing local header signature"));
                continue;
            }
            let rd16 = |o: usize| u16_at(&lh, o).unwrap_or(0);
            let rd32 = |o: usize| u32_at(&lh, o).unwrap_or(0);
            let lflags = rd16(6);
            let lname_len = u64::from(rd16(26));
            let lextra_len = u64::from(rd16(28));
            let data_offset = lho + LFH_LEN as u64 + lname_len + lextra_len;
            e.data_offset = data_offset;
            if lname_len as usize != e.raw_name.len() {
                notes.push(Anomaly::LocalHeaderMismatch {
                    name: e.name.clone(),
                    what: "name length",
                });
            } else if slice(&lh, LFH_LEN, e.raw_name.len()) != Some(e.raw_name) {
                notes.push(Anomaly::LocalHeaderMismatch {
                    name: e.name.clone(),
                    what: "name",
                });
            }
            if rd16(8) != e.method {
                notes.push(Anomaly::LocalHeaderMismatch {
                    name: e.name.clone(),
                    what: "method",
                });
            }
            if lflags & FLAG_DATA_DESCRIPTOR == 0 && e.flags & FLAG_DATA_DESCRIPTOR == 0 {
                let lcomp = u64::from(rd32(18));
                let lunc = u64::from(rd32(22));
                // Zip64 entries carry 0xFFFFFFFF locally; the central values are authoritative.
                let z64 = lcomp == 0xFFFF_FFFF || lunc == 0xFFFF_FFFF;
                if rd32(14) != e.crc32 {
                    notes.push(Anomaly::LocalHeaderMismatch {
                        name: e.name.clone(),
                        what: "crc32",
                    });
                } else if !z64 && (lcomp != e.compressed_size || lunc != e.uncompressed_size) {
                    notes.push(Anomaly::LocalHeaderMismatch {
                        name: e.name.clone(),
                        what: "sizes",
                    });
                }
            }
            if (lflags ^ e.flags) & FLAG_DATA_DESCRIPTOR != 0 {
                notes.push(Anomaly::LocalHeaderMismatch {
                    name: e.name.clone(),
                    what: "data descriptor flag",
                });
            }
            let end = data_offset.saturating_add(e.compressed_size);
            if end > cd_offset
                || (e.method == METHOD_STORED
                    && data_offset.saturating_add(e.uncompressed_size) > cd_offset)
            {
                notes.push(Anomaly::DataOutOfBounds {
                    name: e.name.clone(),
                });
                continue;
            }
            e.local_header_ok = true;
        }
        for (name, count) in counts {
            if count > 1 {
                notes.push(Anomaly::DuplicateName {
                    name: String::from_utf8_lossy(name).into_owned(),
                    count,
                });
            }
        }
        // Prepended data: everything before the first local header (or the CD if none).
        let first = self
            .entries
            .iter()
            .map(|e| e.local_header_offset)
            .min()
            .unwrap_or(self.cd_offset)
            .min(self.cd_offset);
        if first > 0 {
            fetch(0, 4, &mut lh)?;
            notes.push(Anomaly::PrependedData {
                len: first,
                dex: lh.starts_with(b"dex\n"),
            });
        }
        // Overlaps between [local header, data end) ranges of well-formed entries, in file
        // order: an entry is kept when it starts at or after the end of every kept entry before
        // it; the others are never read (module docs). Only kept ranges are compared, so the
        // kept ones are disjoint and bound what reading can inflate.
        let mut ranges: Vec<(u64, u64, usize)> = self
            .entries
            .iter()
            .filter(|e| e.local_header_ok)
            .map(|e| {
                (
                    e.local_header_offset,
                    e.data_offset.saturating_add(e.compressed_size),
                    e.cd_index,
                )
            })
            .collect();
        // Same start (entries sharing one local header): the first in the directory is kept.
        ranges.sort_unstable_by_key(|&(start, _, idx)| (start, idx));
        let mut kept_end: Option<(u64, usize)> = None;
        for &(start, end, idx) in &ranges {
            match kept_end {
                Some((prev_end, prev_idx)) if start < prev_end => {
                    self.overlapping.insert(idx, prev_idx);
                    notes.push(Anomaly::OverlappingEntries {
                        first: self.entries[prev_idx].name.clone(),
                        second: self.entries[idx].name.clone(),
                    });
                }
                _ => kept_end = Some((end, idx)),
            }
        }
        for n in notes {
            self.note(n);
        }
        Ok(())
    }

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

    /// Where the entry's compressed bytes are in the file: `(offset, length)`, as the central
    /// directory sizes them, after the same checks as [`Archive::raw_data`].
    pub fn data_range(&self, entry: &Entry<'_>) -> Result<(u64, u64), ZipError> {
        let lho = entry.local_header_offset;
        if lho.saturating_add(LFH_LEN as u64) > self.cd_offset {
            return Err(ZipError::BadLocalHeader {
                at: lho,
                what: "not before the central directory",
            });
        }
        let at = entry.data_offset;
        // Parsing sets the data offset (never 0: a header comes first) once it has found the
        // local header's signature.
        if at == 0 {
            return Err(ZipError::BadLocalHeader {
                at: lho,
                what: "missing signature",
            });
        }
        if at.saturating_add(entry.compressed_size) > self.cd_offset {
            return Err(ZipError::OutOfBounds {
                at,
                what: "data runs into the central directory",
            });
        }
        Ok((at, entry.compressed_size))
    }

    /// The entry's compressed bytes, as the central directory sizes them. Only for archives
    /// parsed in memory ([`Archive::parse`]).
    pub fn raw_data(&self, entry: &Entry<'a>) -> Result<&'a [u8], ZipError> {
        let (at, len) = self.data_range(entry)?;
        if self.base != 0 {
            return Err(ZipError::OutOfBounds {
                at,
                what: "data not in memory: the archive was parsed from a file",
            });
        }
        slice(self.data, us(at), us(len)).ok_or(ZipError::OutOfBounds {
            at,
            what: "data past end of file",
        })
    }

    /// The kept entry that `entry` overlaps, when it does (it is then never read: see the
    /// module docs).
    pub fn overlapped_by(&self, entry: &Entry<'_>) -> Option<&Entry<'a>> {
        self.overlapping
            .get(&entry.cd_index)
            .and_then(|&i| self.entries.get(i))
    }

    /// Decompresses an entry (stored or raw deflate), refusing more than
    /// `min(limit, uncompressed_size)` bytes, and checks size and CRC32. Only for archives
    /// parsed in memory ([`Archive::parse`]); see [`Archive::read_from`].
    pub fn read(&self, entry: &Entry<'a>, limit: u64) -> Result<Vec<u8>, ZipError> {
        // The same checks as raw_data, so an archive parsed from a file never reads past the
        // bytes it holds.
        self.raw_data(entry)?;
        self.read_from(&mut io::Cursor::new(self.data), entry, limit)
    }

    /// [`Archive::read`] for an archive whose bytes are in `file` (the file it was parsed
    /// from, or the same bytes in memory): the whole entry in memory, at most `limit` bytes.
    pub fn read_from<R: Read + Seek>(
        &self,
        file: &mut R,
        entry: &Entry<'_>,
        limit: u64,
    ) -> Result<Vec<u8>, ZipError> {
        let mut r = self.open(file, entry, limit)?;
        // Preallocate only what the compressed size can honestly produce.
        let cap = us(entry
            .uncompressed_size
            .min(entry.compressed_size.saturating_mul(4))
            .min(1 << 24));
        let mut out = Vec::with_capacity(cap);
        r.read_to_end(&mut out).map_err(|e| r.error(&e))?;
        Ok(out)
    }

    /// Opens an entry of the archive in `file` for streaming: a reader of its uncompressed
    /// bytes that fails (with a [`ZipError`] inside the `io::Error`, see
    /// [`EntryReader::error`]) when the stream gives more or fewer bytes than the directory
    /// declares or its CRC32 differs — so nothing is held but the reader's buffers. Refused up
    /// front: entries declaring more than `limit` bytes, encrypted ones, methods other than
    /// stored and deflate, impossible ratios, data outside the file, and entries overlapping a
    /// kept one ([`ZipError::Overlapping`]).
    pub fn open<'r, R: Read + Seek>(
        &self,
        file: &'r mut R,
        entry: &Entry<'_>,
        limit: u64,
    ) -> Result<EntryReader<'r, R>, ZipError> {
        let (at, len) = self.data_range(entry)?;
        if let Some(kept) = self.overlapped_by(entry) {
            return Err(ZipError::Overlapping {
                at: entry.local_header_offset,
                kept: kept.local_header_offset,
            });
        }
        let file_len = file.seek(SeekFrom::End(0)).map_err(|e| io_error(at, &e))?;
        if at.saturating_add(len) > file_len {
            return Err(ZipError::OutOfBounds {
                at,
                what: "data past end of file",
            });
        }
        if entry.flags & FLAG_ENCRYPTED != 0 {
            return Err(ZipError::Encrypted { at });
        }
        let want = entry.uncompressed_size;
        if want > limit {
            return Err(ZipError::TooLarge {
                at,
                size: want,
                limit,
            });
        }
        match entry.method {
            METHOD_STORED if entry.compressed_size != want => {
                return Err(ZipError::SizeMismatch {
                    at,
                    expected: want,
                    actual: entry.compressed_size,
                });
            }
            METHOD_STORED => {}
            METHOD_DEFLATE => {
                if want
                    > entry
                        .compressed_size
                        .saturating_mul(self.limits.max_ratio)
                        .saturating_add(self.limits.ratio_slack)
                {
                    return Err(ZipError::Bomb {
                        at,
                        what: "declared ratio impossible for deflate",
                    });
                }
            }
            m => return Err(ZipError::UnsupportedMethod { at, method: m }),
        }
        file.seek(SeekFrom::Start(at))
            .map_err(|e| io_error(at, &e))?;
        let raw = file.take(len);
        let body = if entry.method == METHOD_STORED {
            Body::Stored(raw)
        } else {
            // One byte more than declared tells a lying directory from an honest one.
            Body::Deflate(flate2::read::DeflateDecoder::new(raw).take(want.saturating_add(1)))
        };
        Ok(EntryReader {
            body,
            at,
            want,
            got: 0,
            crc: flate2::Crc::new(),
            expected_crc: entry.crc32,
            done: false,
        })
    }

    /// Reads an entry by name (first occurrence).
    pub fn read_by_name(&self, name: &str, limit: u64) -> Option<Result<Vec<u8>, ZipError>> {
        self.find(name).map(|e| self.read(e, limit))
    }
}

enum Body<'r, R> {
    Stored(io::Take<&'r mut R>),
    Deflate(io::Take<flate2::read::DeflateDecoder<io::Take<&'r mut R>>>),
}

/// The uncompressed bytes of one entry, streamed from the archive's file by [`Archive::open`].
/// Reading past the declared size, ending short of it, a CRC32 mismatch, a corrupt deflate
/// stream or an I/O error fails the read with an `io::Error` whose inner error is the
/// [`ZipError`] ([`EntryReader::error`] gets it back).
pub struct EntryReader<'r, R> {
    body: Body<'r, R>,
    /// File offset of the data (for errors).
    at: u64,
    want: u64,
    got: u64,
    crc: flate2::Crc,
    expected_crc: u32,
    done: bool,
}

impl<R> std::fmt::Debug for EntryReader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryReader")
            .field("at", &self.at)
            .field("want", &self.want)
            .field("got", &self.got)
            .finish_non_exhaustive()
    }
}

impl<R> EntryReader<'_, R> {
    /// The [`ZipError`] behind an error this reader returned (I/O errors of the file become
    /// [`ZipError::Io`]).
    pub fn error(&self, e: &io::Error) -> ZipError {
        match e.get_ref().and_then(|i| i.downcast_ref::<ZipError>()) {
            Some(z) => z.clone(),
            None => io_error(self.at.saturating_add(self.got), e),
        }
    }

    /// Bytes produced so far.
    pub fn position(&self) -> u64 {
        self.got
    }

    fn fail(&mut self, e: ZipError) -> io::Error {
        self.done = true;
        io::Error::other(e)
    }
}

impl<R: Read> Read for EntryReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let at = self.at;
        let n = match &mut self.body {
            Body::Stored(r) => r.read(buf),
            Body::Deflate(r) => r.read(buf),
        };
        let n = match n {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let z = match &self.body {
                    // A corrupt stream, whatever flate2 calls it.
                    Body::Deflate(_) => ZipError::Inflate { at },
                    Body::Stored(_) => io_error(at.saturating_add(self.got), &e),
                };
                return Err(self.fail(z));
            }
        };
        self.got += n as u64;
        if self.got > self.want {
            return Err(self.fail(ZipError::Bomb {
                at,
                what: "stream inflates past its declared size",
            }));
        }
        self.crc.update(&buf[..n]);
        if n == 0 {
            self.done = true;
            if self.got < self.want {
                return Err(self.fail(ZipError::SizeMismatch {
                    at,
                    expected: self.want,
                    actual: self.got,
                }));
            }
            if self.crc.sum() != self.expected_crc {
                return Err(self.fail(ZipError::Crc {
                    at,
                    expected: self.expected_crc,
                    actual: self.crc.sum(),
                }));
            }
        }
        Ok(n)
    }
}

/// The payload of the Zip64 extended information extra field (id 0x0001), if present.
fn zip64_extra(extra: &[u8]) -> Option<&[u8]> {
    let mut p = 0usize;
    while p + 4 <= extra.len() {
        let id = u16_at(extra, p)?;
        let len = usize::from(u16_at(extra, p + 2)?);
        let body = slice(extra, p + 4, len)?;
        if id == 0x0001 {
            return Some(body);
        }
        p += 4 + len;
    }
    None
}
