//! Tar (ustar, GNU long names, pax `path`/`linkpath`/`size`), read by this small strict reader
//! rather than a general-purpose crate: anything two tar readers could interpret differently
//! (repeated pax keys, a pax path and a GNU long name, data after a link header, global pax
//! paths) is refused instead of guessed.

use std::io::{self, Read};

use super::error::{BundleError, human, read_err, shown};
use super::looks::Problem;
use super::meter::Meter;
use super::paths::clean_path;
use super::sink::Sink;
use super::types::{At, BUF, BundleLimits, LinkKind, Listing, MIB};

/// A tar block (and header).
pub(super) const BLOCK: usize = 512;
/// Largest pax or GNU long-name header body (they only carry a path and a few attributes).
const MAX_META: u64 = MIB;
/// Zero padding accepted after the tar end-of-archive marker (writers pad to their record size).
const MAX_TAR_TRAILER: u64 = 16 * MIB;

/// Checks the first header of a tar upload's head (the whole file when `whole`).
pub(super) fn head(head: &[u8], whole: bool) -> Result<(), Problem> {
    match head
        .get(..BLOCK)
        .and_then(|b| <&[u8; BLOCK]>::try_from(b).ok())
    {
        Some(block) => match parse_header(block, At::file(0)) {
            Ok(_) => Ok(()),
            Err(e) => Err(Problem::Bad(format!("the first header is unusable ({e})"))),
        },
        None if whole => Err(Problem::Bad("too short for a tar header".into())),
        None => Ok(()),
    }
}

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

pub(super) fn walk_tar<R: Read>(
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
