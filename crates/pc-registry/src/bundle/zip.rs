//! Zip and APK, read by `pc_apk::zip` from the file: only the central directory is held in
//! memory (bounded by `BundleLimits::max_zip_directory`), entries are streamed from disk with
//! their real sizes and CRCs checked. A zip to extract is held to what an honest writer
//! produces; an APK is evidence, so only bomb constructions and resource limits refuse it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::read::DeflateDecoder;
use pc_apk::zip::{Anomaly, Archive, Entry, METHOD_DEFLATE, METHOD_STORED, Tail, ZipError};

use super::error::{BundleError, file_len, human, io_err, open, shown};
use super::meter::Meter;
use super::paths::clean_path;
use super::sink::{Collect, Measure, Sink};
use super::types::{At, BundleLimits, KIB, LinkKind, Listing};

/// Zip "version made by" host for Unix, whose external attributes carry `st_mode`.
const ZIP_HOST_UNIX: u16 = 3;
const ZIP_FLAG_ENCRYPTED: u16 = 0x0001;
/// Largest zip symbolic link target (the entry's content) read; Linux's `PATH_MAX` is 4 KiB.
const MAX_LINK_TARGET: u64 = 4 * KIB;

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

pub(super) fn walk_zip(
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
