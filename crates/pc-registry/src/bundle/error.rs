//! Why an upload is refused ([`BundleError`]), and how names and sizes are shown in messages.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use pc_apk::zip::ZipError;

use super::types::{At, GIB, KIB, MIB, UploadKind};

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
    /// Decompression ratio above [`BundleLimits::max_ratio`](super::BundleLimits::max_ratio).
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
    /// More entries than [`BundleLimits::max_entries`](super::BundleLimits::max_entries).
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
    /// [`extract_archive`](super::extract_archive) on a kind that is stored as a single file.
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
    pub(super) fn refuses_apk(&self) -> bool {
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

pub(super) fn io_err(doing: impl Into<String>) -> impl FnOnce(io::Error) -> BundleError {
    let doing = doing.into();
    move |source| BundleError::Io { doing, source }
}

/// Sizes for messages: "16 GiB", "1.5 MiB", "300 bytes".
pub(super) fn human(n: u64) -> String {
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

pub(super) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// A name or path for a message: lossy UTF-8, controls and bidi overrides escaped (so a name
/// cannot forge log lines or reorder what a reviewer sees), at most 200 characters.
pub(super) fn shown(raw: &[u8]) -> String {
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

/// A [`BundleError`] carried through an `io::Error` (from the gzip decoder).
pub(super) fn unwrap_bundle(e: io::Error) -> Result<BundleError, io::Error> {
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
pub(super) fn read_err(e: io::Error) -> BundleError {
    unwrap_bundle(e).unwrap_or_else(io_err("reading the upload"))
}

pub(super) fn open(path: &Path) -> Result<File, BundleError> {
    File::open(path).map_err(io_err("opening the upload"))
}

pub(super) fn file_len(f: &File) -> Result<u64, BundleError> {
    f.metadata()
        .map(|m| m.len())
        .map_err(io_err("reading the upload's size"))
}
