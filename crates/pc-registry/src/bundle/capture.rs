//! Captures uploaded as single files (pcap, pcapng, HAR) and inside gzip: size and first bytes.
//!
//! pcap and pcapng headers are judged by `pc_capture`'s reader, the one that reads the capture
//! when the case is analysed, so the upload check cannot pass a header the analysis refuses:
//! only the head is given to it (the packets are the analysis's to read). A HAR is only checked
//! to be a JSON object; `pc_capture::har` reads it whole at analysis time.

use std::io::{Cursor, Read};
use std::path::Path;

use pc_capture::{CaptureFormat, CaptureReader, ErrorKind};

use super::error::{BundleError, file_len, io_err, open};
use super::looks::{Looks, Problem, looks, looks_problem, text_problem, utf8_prefix};
use super::types::{At, BundleLimits, Listing, SNIFF_LEN, UploadKind};

/// Checks that `head` (the first bytes, the whole file when `whole`, which `l` describes) is a
/// capture of `kind` (`Pcap`, `Pcapng` or `Har`); returns the kind the content really is: the
/// same reader takes pcap and pcapng, and a pcapng saved as ".pcap" is common, not a disguise.
pub(super) fn content(
    kind: UploadKind,
    l: Looks,
    head: &[u8],
    whole: bool,
) -> Result<UploadKind, Problem> {
    match kind {
        UploadKind::Har => har(l, head, whole),
        _ => packets(l, head, whole),
    }
}

/// Any capture format (a gzip stream whose name does not say which).
pub(super) fn any(l: Looks, head: &[u8], whole: bool) -> Result<UploadKind, Problem> {
    match l {
        Looks::Json => har(l, head, whole),
        _ => packets(l, head, whole),
    }
}

/// A pcap or pcapng head, opened by `pc_capture` (which reads the file header, or the first
/// section header block, and nothing more).
fn packets(l: Looks, head: &[u8], whole: bool) -> Result<UploadKind, Problem> {
    let (claimed, short) = match l {
        Looks::Pcap => (UploadKind::Pcap, "too short for a pcap file header"),
        Looks::Pcapng => (UploadKind::Pcapng, "too short for a pcapng section header"),
        other => return Err(looks_problem(other)),
    };
    let reader = CaptureReader::with_limits(
        Box::new(Cursor::new(head.to_vec())),
        "upload",
        pc_capture::Limits::default(),
    );
    match reader {
        Ok(r) => Ok(match r.format() {
            CaptureFormat::PcapNg => UploadKind::Pcapng,
            _ => UploadKind::Pcap,
        }),
        // The head ends inside the header: only the whole file can tell.
        Err(e) if matches!(e.kind, ErrorKind::Truncated) && !whole => Ok(claimed),
        Err(e) if matches!(e.kind, ErrorKind::Truncated) => Err(Problem::Bad(short.into())),
        Err(e) => Err(Problem::Bad(format!("at byte {}: {}", e.offset, e.kind))),
    }
}

/// A HAR is a JSON object.
fn har(l: Looks, head: &[u8], whole: bool) -> Result<UploadKind, Problem> {
    match l {
        Looks::Json => {
            let s = utf8_prefix(head, whole).unwrap_or_default();
            let s = s.strip_prefix('\u{feff}').unwrap_or(s);
            if s.trim_start().starts_with('{') {
                Ok(UploadKind::Har)
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
    }
}

/// A single-file capture: within the size limit, and a capture of `kind` by its first bytes.
pub(super) fn check_capture(
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
    content(kind, looks(&head, whole), &head, whole).map_err(|p| BundleError::Invalid {
        kind,
        at: At::file(0),
        why: match p {
            Problem::Looks(s) => format!("the content starts like {s}"),
            Problem::Bad(s) => s,
        },
    })?;
    Ok(Listing::single(len))
}
