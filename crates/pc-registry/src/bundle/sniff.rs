//! What an upload is: the kind its name claims, checked against what its first bytes are
//! ([`sniff`]). Each kind's own module judges the content; this one only dispatches.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use super::error::{BundleError, io_err, open, shown};
use super::looks::{Looks, Problem, looks, looks_problem, text_problem};
use super::types::{SNIFF_LEN, UploadKind};
use super::{capture, case_toml, keylog, tar};

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

/// Decompresses what a partial gzip head yields; `complete` when the stream ended inside it.
fn inflate_head(head: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut dec = GzDecoder::new(head);
    let mut buf = [0u8; tar::BLOCK];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(k) => {
                out.extend_from_slice(buf.get(..k).unwrap_or_default());
                // A tar header is 512 bytes: enough to decide anything.
                if out.len() >= tar::BLOCK {
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
        K::Pcap | K::Pcapng | K::Har => capture::content(kind, l, head, whole),
        K::CaseToml => match l {
            Looks::Text | Looks::Json => case_toml::head(head, whole).map(|()| K::CaseToml),
            Looks::Empty => Err(Problem::Bad("the file is empty".into())),
            other => Err(text_problem(other, head, whole)),
        },
        K::KeyLog => match l {
            Looks::Text => keylog::head(head, whole).map(|()| K::KeyLog),
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
            Looks::Tar => tar::head(head, whole).map(|()| K::Tar),
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
                capture::any(inner_looks, &inflated, whole_inner).map(|_| K::Gzip)
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

/// Decides what an uploaded file is from its name and its first bytes (`head`: the first
/// [`SNIFF_LEN`] bytes, fewer only when the file is shorter). Both must agree: a `.pcap` that is
/// really a zip is refused. A pcap named `.pcapng` (or the reverse) is accepted and reported as
/// what its content is. For compressed names the start of the decompressed content is checked
/// when the head holds enough of it; [`check_archive`](super::check_archive) checks the rest.
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
