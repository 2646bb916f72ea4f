//! Block-based non-A/B OTA: `system.transfer.list` with `system.new.dat` (or `.new.dat.br`),
//! read as the partition image they rebuild.
//!
//! The list (AOSP `bootable/recovery/updater/blockimg.cpp`, versions 1 to 4): line 1 the
//! version, line 2 the partition's size in blocks, then for versions 2 and up two lines
//! (stash entries, maximum stashed blocks), then one command a line. A full OTA uses only
//! `new`, `zero` and `erase`, each with a range set `N,a0,b0,a1,b1,...` (`N` numbers, the
//! half-open block ranges `[a, b)`). The blocks of the `new` ranges, in command and range order,
//! are the consecutive 4096-byte blocks of `new.dat`. `move`, `bsdiff`, `imgdiff`, `stash`
//! and `free` patch a source build: an incremental OTA, refused.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use crate::error::{ImageError, Result};
use crate::source::{Cursor, FileSource, ReadAt, Source};

/// Block size of transfer lists (fixed by the format).
pub const BLOCK: u64 = 4096;
/// Largest partition accepted, in blocks (1 TiB).
pub const MAX_BLOCKS: u64 = 1 << 28;
/// Largest transfer list accepted.
pub const MAX_LIST_BYTES: usize = 64 << 20;

/// What a command does to its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Blocks from `new.dat`, in order.
    New,
    /// Zeros.
    Zero,
    /// Discarded (read as zeros).
    Erase,
}

/// A parsed full-OTA transfer list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferList {
    /// Format version (1 to 4).
    pub version: u32,
    /// Partition size in blocks.
    pub total_blocks: u64,
    /// Commands with their ranges `[a, b)`, in order.
    pub commands: Vec<(Command, Vec<(u64, u64)>)>,
}

impl TransferList {
    /// Parses `text` (named `name` in errors, which give the byte offset of the bad line).
    pub fn parse(name: &str, text: &[u8]) -> Result<TransferList> {
        if text.len() > MAX_LIST_BYTES {
            return Err(ImageError::new(
                name,
                0,
                format!("{} bytes: larger than any transfer list", text.len()),
            ));
        }
        let mut lines = Lines { text, pos: 0 };
        let mut header = |what: &str| -> Result<(u64, u64)> {
            let (at, line) = lines.next().ok_or_else(|| {
                ImageError::new(
                    name,
                    text.len() as u64,
                    format!("ends before the {what} line"),
                )
            })?;
            let n = parse_num(line).ok_or_else(|| {
                ImageError::new(
                    name,
                    at,
                    format!(
                        "{what}: {:?} is not a number",
                        String::from_utf8_lossy(line)
                    ),
                )
            })?;
            Ok((at, n))
        };
        let (at, version) = header("version")?;
        if !(1..=4).contains(&version) {
            return Err(ImageError::new(
                name,
                at,
                format!("transfer list version {version}: only 1 to 4 exist"),
            ));
        }
        let (at, total_blocks) = header("total blocks")?;
        if total_blocks > MAX_BLOCKS {
            return Err(ImageError::new(
                name,
                at,
                format!("{total_blocks} blocks exceed the limit of {MAX_BLOCKS}"),
            ));
        }
        if version >= 2 {
            header("stash entries")?;
            header("maximum stash")?;
        }
        let mut commands = Vec::new();
        for (at, line) in lines {
            let text = std::str::from_utf8(line)
                .map_err(|_| ImageError::new(name, at, "command line is not text"))?
                .trim();
            if text.is_empty() {
                continue;
            }
            let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
            let cmd = match word {
                "new" => Command::New,
                "zero" => Command::Zero,
                "erase" => Command::Erase,
                "move" | "bsdiff" | "imgdiff" | "stash" | "free" => {
                    return Err(ImageError::new(
                        name,
                        at,
                        format!("command {word}: incremental block OTA, needs the source build"),
                    ));
                }
                w => return Err(ImageError::new(name, at, format!("unknown command {w:?}"))),
            };
            let ranges = parse_ranges(rest.trim(), total_blocks)
                .map_err(|what| ImageError::new(name, at, format!("{word}: {what}")))?;
            commands.push((cmd, ranges));
        }
        Ok(TransferList {
            version: version as u32,
            total_blocks,
            commands,
        })
    }

    /// Blocks the `new` commands take from `new.dat`.
    pub fn new_blocks(&self) -> u64 {
        self.commands
            .iter()
            .filter(|c| c.0 == Command::New)
            .flat_map(|c| c.1.iter())
            .map(|r| r.1 - r.0)
            .sum()
    }
}

/// Lines with their byte offsets.
struct Lines<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (u64, &'a [u8]);
    fn next(&mut self) -> Option<(u64, &'a [u8])> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.text[start..];
        let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        self.pos = start + len + 1;
        let line = &rest[..len];
        Some((start as u64, line.strip_suffix(b"\r").unwrap_or(line)))
    }
}

fn parse_num(s: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(s).ok()?.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `N,a0,b0,...`: an even count that matches, ranges non-empty, ascending, apart, inside
/// `total` blocks.
fn parse_ranges(s: &str, total: u64) -> std::result::Result<Vec<(u64, u64)>, String> {
    let mut it = s.split(',');
    let count = it
        .next()
        .and_then(|n| parse_num(n.as_bytes()))
        .ok_or_else(|| format!("range set {s:?} does not start with a count"))?;
    if count == 0 || count % 2 != 0 {
        return Err(format!(
            "range set count {count} is not a positive even number"
        ));
    }
    let mut nums = Vec::new();
    for n in it {
        let v = parse_num(n.as_bytes())
            .ok_or_else(|| format!("{n:?} in a range set is not a number"))?;
        nums.push(v);
        if nums.len() as u64 > count {
            break;
        }
    }
    if nums.len() as u64 != count {
        return Err(format!(
            "range set announces {count} numbers, has {}",
            nums.len()
        ));
    }
    let mut ranges = Vec::with_capacity(nums.len() / 2);
    let mut prev_end = 0;
    for p in nums.chunks_exact(2) {
        let (a, b) = (p[0], p[1]);
        if a >= b || b > total {
            return Err(format!(
                "range [{a}, {b}) is empty or outside the {total} blocks"
            ));
        }
        if a < prev_end {
            return Err(format!(
                "range [{a}, {b}) is not after the previous one (ends at {prev_end})"
            ));
        }
        prev_end = b;
        ranges.push((a, b));
    }
    Ok(ranges)
}

/// The partition image a full block OTA rebuilds, read in place from `new.dat`.
pub struct TransferImage {
    new_dat: Source,
    name: String,
    size: u64,
    /// Non-overlapping runs of `new` blocks: start block → (end block, first block in new.dat).
    map: BTreeMap<u64, (u64, u64)>,
}

impl TransferImage {
    /// Lays `list` over `new_dat` (which must hold every `new` block), named `name` in errors.
    /// Commands apply in order, so a later `zero` or `erase` hides an earlier `new`.
    pub fn new(list: &TransferList, new_dat: Source, name: &str) -> Result<TransferImage> {
        let need = list.new_blocks() * BLOCK;
        if new_dat.size() < need {
            return Err(ImageError::new(
                new_dat.name(),
                new_dat.size(),
                format!(
                    "the transfer list takes {need} bytes of new data, the file has {}",
                    new_dat.size()
                ),
            ));
        }
        let mut map = BTreeMap::new();
        let mut next_dat = 0;
        for (cmd, ranges) in &list.commands {
            for &(a, b) in ranges {
                cut(&mut map, a, b);
                if *cmd == Command::New {
                    map.insert(a, (b, next_dat));
                    next_dat += b - a;
                }
            }
        }
        Ok(TransferImage {
            new_dat,
            name: name.to_string(),
            size: list.total_blocks * BLOCK,
            map,
        })
    }
}

/// Removes blocks `[a, b)` from the runs, splitting those that straddle its edges.
fn cut(map: &mut BTreeMap<u64, (u64, u64)>, a: u64, b: u64) {
    let hit: Vec<u64> = map
        .range(..b)
        .rev()
        .take_while(|(_, (end, _))| *end > a)
        .map(|(s, _)| *s)
        .collect();
    for s in hit {
        let Some((end, dat)) = map.remove(&s) else {
            continue;
        };
        if s < a {
            map.insert(s, (a, dat));
        }
        if end > b {
            map.insert(b, (end, dat + (b - s)));
        }
    }
}

impl ReadAt for TransferImage {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        crate::source::in_bounds(&self.name, off, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off + done as u64;
            let block = pos / BLOCK;
            let rest = buf.len() - done;
            let run = self
                .map
                .range(..=block)
                .next_back()
                .filter(|(_, (end, _))| block < *end);
            match run {
                Some((&start, &(end, dat))) => {
                    let n = ((end * BLOCK - pos) as usize).min(rest);
                    let at = dat * BLOCK + (pos - start * BLOCK);
                    self.new_dat.read_at(at, &mut buf[done..done + n])?;
                    done += n;
                }
                None => {
                    let next = self
                        .map
                        .range(block + 1..)
                        .next()
                        .map(|(s, _)| s * BLOCK)
                        .unwrap_or(u64::MAX);
                    let n = (next.saturating_sub(pos) as usize).min(rest);
                    buf[done..done + n].fill(0);
                    done += n;
                }
            }
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Decompresses `system.new.dat.br` (one brotli stream, which cannot be entered in the middle)
/// to an anonymous temporary file, refused past `limit` bytes (the list's new blocks * 4096).
/// The file is gone when the returned source is dropped.
pub fn spool_brotli(src: Source, limit: u64) -> Result<Source> {
    let name = src.name().trim_end_matches(".br").to_string();
    let mut file = tempfile::tempfile()
        .map_err(|e| ImageError::new(&name, 0, format!("temporary file: {e}")))?;
    let input = Cursor::new(src.as_ref());
    let mut dec = brotli::Decompressor::new(input, 1 << 16).take(limit + 1);
    let written = std::io::copy(&mut dec, &mut file)
        .map_err(|e| ImageError::new(src.name(), 0, format!("brotli: {e}")))?;
    if written > limit {
        return Err(ImageError::new(
            src.name(),
            0,
            format!("decompresses to more than {limit} bytes, all the transfer list can take"),
        ));
    }
    Ok(Arc::new(FileSource::from_file(file, &name)?))
}
