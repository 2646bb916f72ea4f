//! Uploads: what a file is ([`sniff`]), whether it is safe to accept ([`check_archive`], at upload
//! time) and its safe extraction ([`extract_archive`], when a worker materialises a case).
//!
//! Every upload is hostile until checked. The name's extension and the first bytes must agree; an
//! archive is read completely, decompressing to count the real bytes (a size header can lie), with
//! every entry's path checked before anything is written. Tar is read by a small strict reader
//! (`tar`); zip by `pc_apk::zip` from the file, only its central directory in memory; capture
//! headers by `pc_capture` and key log lines by `pc_tlsdec`, the readers the analysis uses.
//!
//! Extraction never follows or creates links: every folder is created by this code (in a folder
//! that must start empty), files are opened with `create_new`, archive permissions are ignored.
//! Links (tar symbolic and hard links, zip entries with a Unix `S_IFLNK` mode: firmware trees
//! are full of them) are accepted but only recorded ([`Listing::links`]): their own path is
//! checked and takes its place in the tree like a file's, nothing is written for them, and their
//! target is never resolved or used. Devices, FIFOs, sockets and sparse files are refused.
//!
//! One job per module: `types` (the vocabulary: kinds, limits, listing), `error` (refusals, and
//! how names and sizes are shown), `looks` (what first bytes are), `sniff` (name against
//! content), `capture`, `keylog` and `case_toml` (single files), `gzip`, `tar` and `zip`
//! (archives), `paths` (entry names and the tree they form), `meter` (limits and the listing),
//! `sink` (where checked entries go); this file only dispatches.

use std::fs;
use std::io::BufReader;
use std::path::Path;

mod capture;
mod case_toml;
mod error;
mod gzip;
mod keylog;
mod looks;
mod meter;
mod paths;
mod sink;
mod sniff;
mod tar;
mod types;
mod zip;

pub use error::BundleError;
pub use sniff::{sniff, sniff_file};
pub use types::{
    At, BundleLimits, LinkKind, LinkRecord, Listing, SNIFF_LEN, UploadKind, links_counted,
};

use error::{io_err, open};
use sink::{Extract, Measure, Sink};
use types::BUF;

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
        UploadKind::Tar | UploadKind::TarGz | UploadKind::Zip => {
            walk(path, kind, limits, &mut Measure)
        }
        UploadKind::Apk => zip::walk_zip(path, limits, &mut Measure, false),
        UploadKind::Gzip => gzip::check_gzip(path, limits),
        UploadKind::Pcap | UploadKind::Pcapng | UploadKind::Har => {
            capture::check_capture(path, kind, limits)
        }
        UploadKind::CaseToml => case_toml::check_case_toml(path, limits),
        UploadKind::KeyLog => keylog::check_keylog(path, limits),
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
    let mut sink = Extract::new(dest);
    let listing = walk(path, kind, limits, &mut sink);
    // Close (flush) a file left open by an error, so its handle does not outlive the call.
    let closed = sink.close();
    let listing = listing?;
    closed?;
    Ok(listing)
}

/// Reads an archive to extract (`Tar`, `TarGz` or `Zip`) entry by entry into `sink`.
fn walk(
    path: &Path,
    kind: UploadKind,
    limits: &BundleLimits,
    sink: &mut dyn Sink,
) -> Result<Listing, BundleError> {
    match kind {
        UploadKind::Tar => tar::walk_tar(
            BufReader::with_capacity(BUF, open(path)?),
            false,
            limits,
            sink,
        ),
        UploadKind::TarGz => {
            tar::walk_tar(gzip::GzRatio::new(open(path)?, limits), true, limits, sink)
        }
        _ => zip::walk_zip(path, limits, sink, true),
    }
}

#[cfg(test)]
mod tests;
