//! Searching a text log (a saved `logcat`, a device's system log) for identifiers, line by
//! line, as a stream: a log of gigabytes is read in blocks, a line longer than
//! [`MAX_LINE`] is searched in pieces (and counted, since a value across a piece boundary is
//! missed), and at most `max_hits` hits are kept (the rest counted).

use crate::matcher::{Matcher, ScanOptions};
use std::io::Read;

/// Longest line searched whole.
pub const MAX_LINE: usize = 256 << 10;

/// One identifier found in a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineHit {
    /// Index into [`Matcher::identifiers`].
    pub ident: usize,
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the hit in the file.
    pub offset: u64,
    /// Encoding chain, as [`crate::Hit::encoding`].
    pub encoding: Vec<&'static str>,
    /// Masked (unless revealed) context.
    pub snippet: String,
}

/// What a log scan read and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineScan {
    pub bytes: u64,
    pub lines: u64,
    pub hits: Vec<LineHit>,
    /// Hits beyond `max_hits`, counted only.
    pub more_hits: u64,
    /// Lines longer than [`MAX_LINE`], searched in pieces.
    pub long_lines: u64,
    /// Lines whose decoded layers were not all searched (decoding budget).
    pub incomplete_lines: u64,
}

/// Scans `r` line by line with `m`. I/O errors are returned with the byte offset reached.
pub fn scan_lines(
    mut r: impl Read,
    m: &Matcher,
    opts: &ScanOptions,
    reveal: bool,
    max_hits: usize,
) -> Result<LineScan, (u64, std::io::Error)> {
    let mut out = LineScan::default();
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    let mut line_start = 0u64;
    let mut block = vec![0u8; 64 << 10];
    let mut cut_line = false;
    loop {
        let n = match r.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((out.bytes, e)),
        };
        for &b in &block[..n] {
            out.bytes += 1;
            if b == b'\n' {
                search(&line, line_start, m, opts, reveal, max_hits, &mut out);
                out.lines += 1;
                if cut_line {
                    out.long_lines += 1;
                    cut_line = false;
                }
                line.clear();
                line_start = out.bytes;
            } else {
                line.push(b);
                if line.len() >= MAX_LINE {
                    search(&line, line_start, m, opts, reveal, max_hits, &mut out);
                    cut_line = true;
                    line.clear();
                    line_start = out.bytes;
                }
            }
        }
    }
    if !line.is_empty() {
        search(&line, line_start, m, opts, reveal, max_hits, &mut out);
        out.lines += 1;
        if cut_line {
            out.long_lines += 1;
        }
    }
    Ok(out)
}

fn search(
    line: &[u8],
    at: u64,
    m: &Matcher,
    opts: &ScanOptions,
    reveal: bool,
    max_hits: usize,
    out: &mut LineScan,
) {
    // A line cut by MAX_LINE continues the same line number.
    let number = out.lines + 1;
    let mut hits = Vec::new();
    let scanned = m.scan(line, opts, &mut |h| hits.push(h.clone()));
    if scanned.incomplete {
        out.incomplete_lines += 1;
    }
    for h in hits {
        if out.hits.len() >= max_hits {
            out.more_hits += 1;
            continue;
        }
        out.hits.push(LineHit {
            ident: h.ident,
            line: number,
            offset: at + h.start as u64,
            encoding: h.encoding.clone(),
            snippet: m.snippet(line, h.start, h.end, reveal),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Identifier, IdentifierKind, IdentifierValue};

    fn imei() -> Matcher {
        Matcher::new(&[Identifier {
            kind: IdentifierKind::Imei,
            name: "imei".into(),
            value: IdentifierValue::Text("356938035643809".into()),
            calling_code: None,
        }])
    }

    #[test]
    fn finds_identifiers_with_line_and_offset_and_masks_them() {
        let log = b"12-08 01:00:00.000  1000  1000 I Boot: starting\n12-08 01:00:01.000  1000  1000 D Reg: deviceId=356938035643809 sent\n";
        let s = scan_lines(&log[..], &imei(), &ScanOptions::default(), false, 10).unwrap();
        assert_eq!(s.lines, 2);
        assert_eq!(s.hits.len(), 1);
        assert_eq!(s.hits[0].line, 2);
        let off = log
            .windows(15)
            .position(|w| w == b"356938035643809")
            .unwrap() as u64;
        assert_eq!(s.hits[0].offset, off);
        assert!(
            !s.hits[0].snippet.contains("356938035643809"),
            "{}",
            s.hits[0].snippet
        );
        // Hashed forms too (one automaton).
        let md5 = b"x imei_md5=af2d48f2495881aed1737bb21017f9b6\n";
        let s = scan_lines(&md5[..], &imei(), &ScanOptions::default(), false, 10).unwrap();
        assert_eq!(s.hits.len(), 1);
        assert!(
            s.hits[0].encoding.contains(&"md5-hex"),
            "{:?}",
            s.hits[0].encoding
        );
    }

    #[test]
    fn long_lines_and_hit_caps_are_bounded_and_counted() {
        let mut log = vec![b'a'; MAX_LINE * 2 + 10];
        log.extend_from_slice(b"\n");
        for _ in 0..20 {
            log.extend_from_slice(b"imei 356938035643809\n");
        }
        let s = scan_lines(&log[..], &imei(), &ScanOptions::default(), false, 5).unwrap();
        assert_eq!(s.long_lines, 1);
        assert_eq!(s.lines, 21);
        assert_eq!(s.hits.len(), 5);
        assert_eq!(s.more_hits, 15);
        assert_eq!(s.hits[0].line, 2);
        // No newline at the end, binary garbage: no panic.
        let g: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let _ = scan_lines(&g[..], &imei(), &ScanOptions::default(), false, 5).unwrap();
        assert_eq!(
            scan_lines(&b""[..], &imei(), &ScanOptions::default(), false, 5)
                .unwrap()
                .lines,
            0
        );
    }
}
