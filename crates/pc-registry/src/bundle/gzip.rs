//! gzip: a multi-member decoder that enforces the expansion ratio with the compressed offset
//! reached ([`GzRatio`], also under `.tar.gz`), and the check of a gzip-compressed capture.

use std::io::{self, BufReader, Read};
use std::path::Path;

use super::capture;
use super::error::{BundleError, open, read_err};
use super::looks::{Problem, looks};
use super::types::{At, BUF, BundleLimits, Listing, SNIFF_LEN, UploadKind};

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
pub(super) struct GzRatio<R: Read> {
    dec: flate2::bufread::MultiGzDecoder<BufReader<Counted<R>>>,
    out: u64,
    max_ratio: u64,
    min: u64,
}

impl<R: Read> GzRatio<R> {
    pub(super) fn new(r: R, limits: &BundleLimits) -> GzRatio<R> {
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
pub(super) fn check_gzip(path: &Path, limits: &BundleLimits) -> Result<Listing, BundleError> {
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
            Err(e) => return Err(read_err(e)),
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
    capture::any(looks(&head, whole), &head, whole).map_err(|p| BundleError::Invalid {
        kind: UploadKind::Gzip,
        at: At::file(0),
        why: match p {
            Problem::Looks(s) => format!(
                "the decompressed content is not a pcap, pcapng or HAR capture (it starts like {s})"
            ),
            Problem::Bad(s) => format!("the decompressed capture is invalid: {s}"),
        },
    })?;
    Ok(Listing {
        entries: 1,
        unpacked_total: n,
        ..Listing::default()
    })
}
