//! EROFS, the read-only filesystem of Android's `system`, `vendor` and `product` partitions
//! (Android 13+ ships them EROFS, mostly lz4hc-compressed), read in place through a
//! [`ReadAt`] so a partition inside a sparse image, a super.img or an OTA payload is never
//! copied.
//!
//! Why our own reader rather than the `erofs-rs` crate: the version the crates index listed
//! when this was written (0.1, Dreamacro/erofs-rs) read flat and chunk layouts only and
//! rejected compressed inodes, which are what Android images are made of; its newest README
//! (checked in the public sources) now claims LZ4 and compact indexes, but it still reads an
//! mmap (unsafe, a file on disk) or a byte slice, not a positional source shared by threads,
//! it does not read indexed chunks (`--chunksize` images), and adding it would be a new
//! dependency for a format of ~1,000 lines. Reading it here also lets every error name the
//! offset in the image, keeps every allocation bounded by the caller's `max`, and decompresses
//! each physical cluster straight into the output buffer.
//!
//! What is read: the superblock (magic `0xE0F5E1E2` at 1024, block size, incompatible
//! features checked by name), compact (32 B) and extended (64 B) inodes, the layouts
//! FLAT_PLAIN, FLAT_INLINE, CHUNK_BASED (block maps and chunk indexes) and the compressed ones
//! ([`zdata`]): full and compact lcluster indexes, lz4/lz4hc with 0PADDING, big pclusters,
//! uncompressed (shifted and interlaced) pclusters, ztailpacking. MicroLZMA, DEFLATE, zstd and
//! fragment-packed tails give an error for that file only. Extended attributes are skipped
//! (their size is counted to find what follows the inode).
//!
//! Layout of the module: this file opens the superblock and reads directories for the
//! [`Tree`]; [`image`] holds what every part shares (the source, the superblock's facts);
//! [`inode`] reads inodes and uncompressed data; [`zdata`] the compressed layouts.

mod image;
mod inode;
mod zdata;

use crate::error::{ImageError, Result};
use crate::source::{Source, le};
use crate::tree::{Entry, Kind, NodeId, Tree};

use image::{Image, Super};
use inode::Inode;

/// Where the superblock lies.
const SB_OFFSET: u64 = 1024;
/// Superblock magic.
const MAGIC: u32 = 0xE0F5_E1E2;

/// Incompatible features: bit, name (as erofs-utils and the kernel call them), read here.
/// Some bits carry two names (the kernel reuses them); both are given.
const INCOMPAT: &[(u32, &str, bool)] = &[
    (0x01, "ZERO_PADDING (LZ4_0PADDING)", true),
    (0x02, "COMPR_CFGS/BIG_PCLUSTER", true),
    (0x04, "CHUNKED_FILE", true),
    (0x08, "DEVICE_TABLE/COMPR_HEAD2", true),
    (0x10, "ZTAILPACKING", true),
    // Fragments and dedupe share the bit; dedupe needs nothing more, a fragment-packed file
    // gives an error of its own when it is read.
    (0x20, "FRAGMENTS/DEDUPE", true),
    (0x40, "XATTR_PREFIXES", true),
    (0x80, "48BIT", false),
    (0x100, "METABOX", false),
];

/// Largest folder read (bytes): a folder of ~300,000 entries; a hostile size stops here.
const MAX_DIR: u64 = 16 << 20;
/// Largest symbolic link target (PATH_MAX).
const MAX_LINK: u64 = 4096;

/// An EROFS image opened for reading; nodes are nids. Cheap to share between threads.
pub struct Erofs {
    img: Image,
}

impl std::fmt::Debug for Erofs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Erofs")
            .field("image", &self.img.src.name())
            .field("sb", &self.img.sb)
            .finish()
    }
}

impl Erofs {
    /// Opens the image: checks the superblock and the root folder's inode.
    pub fn open(src: Source) -> Result<Erofs> {
        let name = src.name().to_string();
        let bad = |off: u64, what: String| ImageError::new(&name, off, what);
        if src.size() < SB_OFFSET + 128 {
            return Err(bad(
                0,
                format!("{} bytes: too small for an EROFS superblock", src.size()),
            ));
        }
        let mut b = [0u8; 128];
        src.read_at(SB_OFFSET, &mut b)?;
        let f32 = |at: usize| le::u32(&b, at).unwrap_or(0);
        let magic = f32(0);
        if magic != MAGIC {
            return Err(bad(
                SB_OFFSET,
                format!("not EROFS: magic {magic:#010x}, expected {MAGIC:#010x}"),
            ));
        }
        let blkbits = b[12];
        if !(9..=16).contains(&blkbits) {
            return Err(bad(
                SB_OFFSET + 12,
                format!("block size 2^{blkbits} not supported (512 B to 64 KiB)"),
            ));
        }
        let incompat = f32(80);
        let known: u32 = INCOMPAT.iter().map(|f| f.0).fold(0, |a, b| a | b);
        if incompat & !known != 0 {
            return Err(bad(
                SB_OFFSET + 80,
                format!(
                    "unknown incompatible EROFS features {:#x}",
                    incompat & !known
                ),
            ));
        }
        if let Some((_, feat, _)) = INCOMPAT
            .iter()
            .find(|(bit, _, ok)| !ok && incompat & bit != 0)
        {
            return Err(bad(
                SB_OFFSET + 80,
                format!("EROFS feature {feat} not supported"),
            ));
        }
        let root_nid = u64::from(le::u16(&b, 14).unwrap_or(0));
        let meta_off = u64::from(f32(40)) << blkbits;
        let sb = Super {
            blkbits,
            root_nid,
            meta_off,
            incompat,
            size: src.size(),
        };
        let fs = Erofs {
            img: Image { src, sb },
        };
        let root = fs.inode(root_nid)?;
        if !root.is_dir() {
            return Err(fs
                .img
                .err(root.off, format!("root nid {root_nid} is not a folder")));
        }
        Ok(fs)
    }

    /// The inode of `nid`.
    fn inode(&self, nid: u64) -> Result<Inode> {
        Inode::load(&self.img, nid)
    }

    /// The whole data of `ino`, at most `max` bytes.
    fn data(&self, ino: &Inode, max: u64) -> Result<Vec<u8>> {
        if ino.size > max {
            return Err(self.img.err(
                ino.off,
                format!(
                    "nid {}: {} bytes, more than the {max} allowed",
                    ino.nid, ino.size
                ),
            ));
        }
        match ino.layout {
            inode::FLAT_PLAIN | inode::FLAT_INLINE => inode::read_flat(&self.img, ino),
            inode::CHUNK_BASED => inode::read_chunked(&self.img, ino),
            inode::COMPRESSED_FULL | inode::COMPRESSED_COMPACT => {
                zdata::read_compressed(&self.img, ino)
            }
            l => Err(self
                .img
                .err(ino.off, format!("nid {}: unknown data layout {l}", ino.nid))),
        }
    }

    /// Entries of a folder inode, unsorted, `.` and `..` left out.
    fn entries(&self, dir: &Inode) -> Result<Vec<(Vec<u8>, u64)>> {
        let data = self.data(dir, MAX_DIR)?;
        let bs = self.img.sb.blksz() as usize;
        let mut out = Vec::new();
        for (bi, blk) in data.chunks(bs).enumerate() {
            let at = |o: usize| (bi * bs + o) as u64;
            let where_ = |o: usize| {
                self.img.err(
                    dir.off,
                    format!("nid {}: folder data byte {}", dir.nid, at(o)),
                )
            };
            let first = le::u16(blk, 8).ok_or_else(|| where_(0))? as usize;
            if first < 12 || first >= blk.len() || !first.is_multiple_of(12) {
                return Err(self.img.err(
                    dir.off,
                    format!(
                        "nid {}: folder block {bi}: first name offset {first} invalid",
                        dir.nid
                    ),
                ));
            }
            let n = first / 12;
            for k in 0..n {
                let nid = le::u64(blk, k * 12).ok_or_else(|| where_(k * 12))?;
                let start = le::u16(blk, k * 12 + 8).ok_or_else(|| where_(k * 12))? as usize;
                let end = if k + 1 < n {
                    le::u16(blk, (k + 1) * 12 + 8).ok_or_else(|| where_(k * 12))? as usize
                } else {
                    blk.len()
                };
                let name = blk.get(start..end).filter(|_| start < end).ok_or_else(|| {
                    self.img.err(
                        dir.off,
                        format!("nid {}: folder block {bi} entry {k}: name bytes {start}..{end} invalid", dir.nid),
                    )
                })?;
                // The last name of a block runs to the block's end or a NUL.
                let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
                if name.is_empty() || name.len() > 255 || name.contains(&b'/') {
                    return Err(self.img.err(
                        dir.off,
                        format!("nid {}: folder block {bi} entry {k}: invalid name", dir.nid),
                    ));
                }
                if name == b"." || name == b".." {
                    continue;
                }
                if nid == dir.nid {
                    return Err(self.img.err(
                        dir.off,
                        format!(
                            "nid {}: entry {:?} names its own folder",
                            dir.nid,
                            String::from_utf8_lossy(name)
                        ),
                    ));
                }
                out.push((name.to_vec(), nid));
            }
        }
        Ok(out)
    }
}

impl Tree for Erofs {
    fn root(&self) -> NodeId {
        NodeId(self.img.sb.root_nid)
    }

    fn list(&self, dir: NodeId) -> Result<Vec<Entry>> {
        let ino = self.inode(dir.0)?;
        if !ino.is_dir() {
            return Err(self
                .img
                .err(ino.off, format!("nid {} is not a folder", ino.nid)));
        }
        let mut ents = self.entries(&ino)?;
        ents.sort();
        let mut out = Vec::with_capacity(ents.len());
        for (name, nid) in ents {
            let child = self.inode(nid)?;
            let kind = match child.mode & inode::S_IFMT {
                inode::S_IFDIR => Kind::Dir,
                inode::S_IFREG => Kind::File { size: child.size },
                inode::S_IFLNK => {
                    let t = self.data(&child, MAX_LINK)?;
                    Kind::Symlink(String::from_utf8_lossy(&t).into_owned())
                }
                _ => Kind::Other,
            };
            out.push(Entry {
                name: String::from_utf8_lossy(&name).into_owned(),
                id: NodeId(nid),
                kind,
            });
        }
        Ok(out)
    }

    fn read(&self, file: NodeId, max: u64) -> Result<Vec<u8>> {
        let ino = self.inode(file.0)?;
        if ino.is_dir() {
            return Err(self
                .img
                .err(ino.off, format!("nid {} is a folder, not a file", ino.nid)));
        }
        self.data(&ino, max)
    }
}
