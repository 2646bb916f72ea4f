//! EROFS inodes (compact 32 B and extended 64 B) and the uncompressed layouts: flat (data in
//! consecutive blocks, the tail maybe inline after the inode) and chunk-based (a block map or
//! chunk indexes after the inode; holes read as zeros).

use super::image::Image;
use crate::error::Result;
use crate::source::le;

/// Data layouts (i_format bits 1-3).
pub(crate) const FLAT_PLAIN: u8 = 0;
pub(crate) const COMPRESSED_FULL: u8 = 1;
pub(crate) const FLAT_INLINE: u8 = 2;
pub(crate) const COMPRESSED_COMPACT: u8 = 3;
pub(crate) const CHUNK_BASED: u8 = 4;

/// File type bits of `i_mode`.
pub(crate) const S_IFMT: u16 = 0o170_000;
pub(crate) const S_IFDIR: u16 = 0o040_000;
pub(crate) const S_IFREG: u16 = 0o100_000;
pub(crate) const S_IFLNK: u16 = 0o120_000;

/// A block address that means "no block" (a hole in a chunk-based file).
const NULL_ADDR: u32 = u32::MAX;
/// Chunk format bits: log2 of blocks per chunk, and "8-byte indexes rather than a block map".
const CHUNK_BLKBITS_MASK: u16 = 0x1f;
const CHUNK_INDEXES: u16 = 0x20;

/// One inode, as far as reading needs it.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    /// Its nid.
    pub nid: u64,
    /// Byte offset of the inode in the image.
    pub off: u64,
    /// Data layout.
    pub layout: u8,
    /// `i_mode`.
    pub mode: u16,
    /// File size in bytes.
    pub size: u64,
    /// `i_u`: start block, chunk format or compressed block count, by layout.
    pub raw: u32,
    /// Byte offset just past the inode and its inline xattrs: inline tail, block map or
    /// compression index start here.
    pub data_off: u64,
}

impl Inode {
    /// Reads the inode of `nid`.
    pub fn load(fs: &Image, nid: u64) -> Result<Inode> {
        let off = nid
            .checked_mul(32)
            .and_then(|o| o.checked_add(fs.sb.meta_off))
            .filter(|o| o.checked_add(32).is_some_and(|e| e <= fs.sb.size))
            .ok_or_else(|| {
                fs.err(
                    fs.sb.meta_off,
                    format!("nid {nid} lies past the image's end"),
                )
            })?;
        let mut b = [0u8; 64];
        let n = (fs.sb.size - off).min(64) as usize;
        fs.read_at(off, &mut b[..n])?;
        let format = le::u16(&b, 0).unwrap_or(0);
        if format & !0x1f != 0 {
            return Err(fs.err(
                off,
                format!("nid {nid}: unknown inode format bits {format:#x}"),
            ));
        }
        let extended = format & 1 == 1;
        let layout = ((format >> 1) & 7) as u8;
        if layout > CHUNK_BASED {
            return Err(fs.err(off, format!("nid {nid}: unknown data layout {layout}")));
        }
        let icount = u64::from(le::u16(&b, 2).unwrap_or(0));
        let mode = le::u16(&b, 4).unwrap_or(0);
        let raw = le::u32(&b, 16).unwrap_or(0);
        let (isize, size) = if extended {
            if n < 64 {
                return Err(fs.err(
                    off,
                    format!("nid {nid}: extended inode cut by the image's end"),
                ));
            }
            (64, le::u64(&b, 8).unwrap_or(0))
        } else {
            (32, u64::from(le::u32(&b, 8).unwrap_or(0)))
        };
        // Inline xattrs: a 12-byte header and 4-byte slots, the header counting as one.
        let xattr = if icount == 0 {
            0
        } else {
            12 + 4 * (icount - 1)
        };
        let data_off = off + isize + xattr;
        Ok(Inode {
            nid,
            off,
            layout,
            mode,
            size,
            raw,
            data_off,
        })
    }

    /// Whether the inode is a folder.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

/// Allocates the output of a file whose size was checked against the caller's limit.
fn out_buf(fs: &Image, ino: &Inode) -> Result<Vec<u8>> {
    usize::try_from(ino.size)
        .map(|n| vec![0u8; n])
        .map_err(|_| {
            fs.err(
                ino.off,
                format!("nid {}: size {} too large", ino.nid, ino.size),
            )
        })
}

/// FLAT_PLAIN and FLAT_INLINE: whole blocks from the start block, and for FLAT_INLINE the last
/// partial block inline after the inode (which must not cross a block boundary).
pub(crate) fn read_flat(fs: &Image, ino: &Inode) -> Result<Vec<u8>> {
    let bs = fs.sb.blksz();
    let (head, tail) = if ino.layout == FLAT_INLINE && ino.size > 0 {
        let head = (ino.size - 1) / bs * bs;
        (head, ino.size - head)
    } else {
        (ino.size, 0)
    };
    let start = u64::from(ino.raw) << fs.sb.blkbits;
    if head > 0 && start.checked_add(head).is_none_or(|e| e > fs.sb.size) {
        return Err(fs.err(
            ino.off,
            format!(
                "nid {}: {head} data bytes at block {} lie past the image's end",
                ino.nid, ino.raw
            ),
        ));
    }
    if tail > 0 && ino.data_off % bs + tail > bs {
        return Err(fs.err(
            ino.data_off,
            format!(
                "nid {}: inline tail of {tail} bytes crosses a block boundary",
                ino.nid
            ),
        ));
    }
    let mut out = out_buf(fs, ino)?;
    let (h, t) = out.split_at_mut(head as usize);
    if !h.is_empty() {
        fs.read_at(start, h)?;
    }
    if !t.is_empty() {
        fs.read_at(ino.data_off, t)?;
    }
    Ok(out)
}

/// CHUNK_BASED: the file is cut in chunks of 2^n blocks; a table after the inode gives each
/// chunk's start block (4-byte block map, or 8-byte indexes naming a device).
pub(crate) fn read_chunked(fs: &Image, ino: &Inode) -> Result<Vec<u8>> {
    let format = ino.raw as u16;
    if format & !(CHUNK_BLKBITS_MASK | CHUNK_INDEXES) != 0 || ino.raw >> 16 != 0 {
        return Err(fs.err(
            ino.off + 16,
            format!("nid {}: unknown chunk format {:#x}", ino.nid, ino.raw),
        ));
    }
    let chunkbits = u32::from(fs.sb.blkbits) + u32::from(format & CHUNK_BLKBITS_MASK);
    if chunkbits > 40 {
        return Err(fs.err(
            ino.off + 16,
            format!("nid {}: chunk size 2^{chunkbits} too large", ino.nid),
        ));
    }
    let chunk = 1u64 << chunkbits;
    let unit: u64 = if format & CHUNK_INDEXES != 0 { 8 } else { 4 };
    let count = ino.size.div_ceil(chunk);
    let table = ino.data_off.div_ceil(unit) * unit;
    // The table is in the image, so its length is bounded by the image, not by i_size.
    let tlen = count
        .checked_mul(unit)
        .filter(|l| table.checked_add(*l).is_some_and(|e| e <= fs.sb.size))
        .ok_or_else(|| {
            fs.err(
                table,
                format!(
                    "nid {}: chunk table of {count} entries past the image's end",
                    ino.nid
                ),
            )
        })?;
    let mut t = vec![0u8; tlen as usize];
    fs.read_at(table, &mut t)?;
    let mut out = out_buf(fs, ino)?;
    for (i, part) in out.chunks_mut(chunk as usize).enumerate() {
        let at = i * unit as usize;
        let (dev, blk) = if unit == 8 {
            (
                le::u16(&t, at + 2).unwrap_or(0),
                le::u32(&t, at + 4).unwrap_or(0),
            )
        } else {
            (0, le::u32(&t, at).unwrap_or(0))
        };
        if blk == NULL_ADDR {
            continue; // a hole: zeros
        }
        if dev != 0 {
            return Err(fs.err(
                table + at as u64,
                format!(
                    "nid {}: chunk {i} lies on extra device {dev}, which is not read",
                    ino.nid
                ),
            ));
        }
        fs.read_at(u64::from(blk) << fs.sb.blkbits, part)?;
    }
    Ok(out)
}
