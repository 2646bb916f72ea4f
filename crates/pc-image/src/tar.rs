//! Tar archives (fastboot packages, Samsung `.tar.md5`) indexed in place: each member becomes
//! a window of the archive, nothing is copied. ustar names with prefix, GNU long names (`L`)
//! and pax `path`/`size` records are read; other member types are listed but not opened.
//! Bounded: at most [`MAX_MEMBERS`] members, meta records of at most 64 KiB.

use crate::error::{ImageError, Result};
use crate::source::ReadAt;

const BLOCK: u64 = 512;
/// Most members indexed.
pub const MAX_MEMBERS: usize = 100_000;
const MAX_META: u64 = 64 << 10;

/// One regular file of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Path inside the archive.
    pub name: String,
    /// Offset of its data.
    pub offset: u64,
    /// Size of its data.
    pub size: u64,
}

/// Whether `head` (at least 512 bytes) is a tar header with a valid checksum.
pub fn is_tar(head: &[u8]) -> bool {
    head.get(..BLOCK as usize).is_some_and(|h| checksum_ok(h) && h.iter().any(|&b| b != 0))
}

fn octal(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256: big-endian after the marker byte.
        return f[1..].iter().try_fold(0u64, |a, &b| a.checked_mul(256)?.checked_add(u64::from(b)));
    }
    let s: String = f
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(want) = octal(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) })
        .sum();
    sum == want
}

fn cstr(f: &[u8]) -> String {
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    String::from_utf8_lossy(&f[..end]).into_owned()
}

/// Indexes the regular files of a tar archive.
pub fn members(src: &dyn ReadAt) -> Result<Vec<Member>> {
    let err = |at: u64, w: String| ImageError::new(src.name(), at, w);
    let mut out = Vec::new();
    let mut pos = 0u64;
    let mut long_name: Option<String> = None;
    let mut pax: (Option<String>, Option<u64>) = (None, None);
    while pos + BLOCK <= src.size() {
        let h = src.read_vec(pos, BLOCK as usize)?;
        if h.iter().all(|&b| b == 0) {
            break;
        }
        if !checksum_ok(&h) {
            return Err(err(pos, "tar header checksum mismatch".into()));
        }
        let size = octal(&h[124..136]).ok_or_else(|| err(pos + 124, "bad size field".into()))?;
        let data = pos + BLOCK;
        let end = data
            .checked_add(size)
            .filter(|e| *e <= src.size())
            .ok_or_else(|| err(pos, format!("member of {size} bytes runs past the end")))?;
        let flag = h[156];
        match flag {
            b'L' | b'x' if size > MAX_META => {
                return Err(err(pos, format!("meta record of {size} bytes")));
            }
            b'L' => long_name = Some(cstr(&src.read_vec(data, size as usize)?)),
            b'x' => pax = parse_pax(&src.read_vec(data, size as usize)?),
            b'0' | 0 | b'7' => {
                let mut name = cstr(&h[..100]);
                if &h[257..262] == b"ustar" {
                    let prefix = cstr(&h[345..500]);
                    if !prefix.is_empty() {
                        name = format!("{prefix}/{name}");
                    }
                }
                let name = pax.0.take().or(long_name.take()).unwrap_or(name);
                let size = pax.1.take().unwrap_or(size);
                if data.checked_add(size).is_none_or(|e| e > src.size()) {
                    return Err(err(pos, format!("member {name} runs past the end")));
                }
                if out.len() >= MAX_MEMBERS {
                    return Err(err(pos, format!("more than {MAX_MEMBERS} members")));
                }
                out.push(Member {
                    name,
                    offset: data,
                    size,
                });
                pos = data + size.div_ceil(BLOCK) * BLOCK;
                continue;
            }
            _ => {
                long_name = None;
                pax = (None, None);
            }
        }
        pos = end.div_ceil(BLOCK) * BLOCK;
    }
    Ok(out)
}

fn parse_pax(b: &[u8]) -> (Option<String>, Option<u64>) {
    let mut path = None;
    let mut size = None;
    let mut rest = b;
    while !rest.is_empty() {
        let Some(sp) = rest.iter().position(|&c| c == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&rest[..sp]).ok().and_then(|s| s.parse::<usize>().ok()) else {
            break;
        };
        let Some(rec) = rest.get(sp + 1..len) else {
            break;
        };
        let rec = String::from_utf8_lossy(rec);
        let rec = rec.trim_end_matches('\n');
        if let Some(v) = rec.strip_prefix("path=") {
            path = Some(v.to_string());
        } else if let Some(v) = rec.strip_prefix("size=") {
            size = v.parse().ok();
        }
        rest = &rest[len..];
    }
    (path, size)
}
