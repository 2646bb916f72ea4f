//! The vocabulary every upload check shares: what an upload is ([`UploadKind`]), the bounds
//! applied ([`BundleLimits`]), what an accepted upload contains ([`Listing`]) and positions in
//! it ([`At`]).

use std::fmt;

use serde::Serialize;

/// How many leading bytes [`sniff`](super::sniff) needs (fewer only when the file is shorter).
pub const SNIFF_LEN: usize = 512;

pub(super) const KIB: u64 = 1024;
pub(super) const MIB: u64 = 1024 * KIB;
pub(super) const GIB: u64 = 1024 * MIB;
/// Copy buffer.
pub(super) const BUF: usize = 64 * 1024;

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

    /// Whether [`extract_archive`](super::extract_archive) accepts this kind (the others are stored as single files).
    pub fn is_extractable(self) -> bool {
        matches!(self, UploadKind::Zip | UploadKind::Tar | UploadKind::TarGz)
    }
}

impl fmt::Display for UploadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bounds applied by [`check_archive`](super::check_archive) and [`extract_archive`](super::extract_archive).
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

impl Listing {
    /// A single-file upload of `len` bytes.
    pub(super) fn single(len: u64) -> Listing {
        Listing {
            entries: 1,
            unpacked_total: len,
            ..Listing::default()
        }
    }
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
    pub(super) fn file(offset: u64) -> At {
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
