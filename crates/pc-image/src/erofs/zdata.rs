//! EROFS compressed files (COMPRESSED_FULL and COMPRESSED_COMPACT layouts).
//!
//! A file is cut in logical clusters (lclusters, one block by default); an index after the
//! inode gives each lcluster's type: a HEAD starts a new extent at `clusterofs` inside it and
//! names the physical cluster (pcluster) holding the extent's data, a NONHEAD continues the
//! extent before it. Since a whole file is read, the index is decoded once, in order, into the
//! list of extents (each head to the next head), and each pcluster is decompressed straight
//! into its slice of the output. Consecutive pclusters are fetched with one positional read.
//!
//! Index encodings: FULL, 8 bytes per lcluster; COMPACT, packs of 2 lclusters in 8 bytes or
//! 16 in 32 bytes (bit fields `clusterofs|type` and one base block address per pack, from which
//! each head's block is counted). Big pclusters store their block count in the first NONHEAD
//! after the head (the CBLKCNT flag). With ztailpacking the last extent's pcluster is inline,
//! just after the index.

use super::image::{FEAT_ZERO_PADDING, Image};
use super::inode::{COMPRESSED_COMPACT, Inode};
use crate::error::Result;
use crate::source::le;

/// lcluster types.
const PLAIN: u8 = 0;
const HEAD1: u8 = 1;
const NONHEAD: u8 = 2;
const HEAD2: u8 = 3;
/// In a NONHEAD's first delta: "the rest is the pcluster's block count".
const D0_CBLKCNT: u32 = 1 << 11;

/// `h_advise` bits of the map header.
const ADV_COMPACTED_2B: u16 = 0x01;
const ADV_BIG_PCLUSTER_1: u16 = 0x02;
const ADV_BIG_PCLUSTER_2: u16 = 0x04;
const ADV_INLINE_PCLUSTER: u16 = 0x08;
const ADV_INTERLACED_PCLUSTER: u16 = 0x10;
const ADV_FRAGMENT_PCLUSTER: u16 = 0x20;

/// Largest pcluster the kernel accepts (1 MiB); also the batch size of reads.
const MAX_PCLUSTER: u64 = 1 << 20;

/// Algorithms of `h_algorithmtype`.
fn algorithm_name(a: u8) -> &'static str {
    match a {
        0 => "lz4",
        1 => "lzma (MicroLZMA)",
        2 => "deflate",
        3 => "zstd",
        _ => "unknown",
    }
}

/// One lcluster of the index.
#[derive(Debug, Clone, Copy)]
struct Lcl {
    ty: u8,
    /// HEAD/PLAIN: clusterofs; NONHEAD: the first delta (or the count with CBLKCNT).
    lo: u32,
    /// HEAD/PLAIN: the pcluster's start block.
    pblk: u32,
}

/// The decoded index of one file.
struct Map {
    advise: u16,
    algs: [u8; 2],
    lbits: u32,
    blkbits: u32,
    idata_size: u64,
    lcls: Vec<Lcl>,
    /// Where an inline (ztailpacking) pcluster starts: just past the index's last pack.
    tail_off: u64,
}

/// One extent to decompress.
struct Extent {
    start: u64,
    end: u64,
    ty: u8,
    pa: u64,
    plen: u64,
}

/// The whole content of a compressed file (its size already checked against the limit).
pub(crate) fn read_compressed(fs: &Image, ino: &Inode) -> Result<Vec<u8>> {
    if ino.size == 0 {
        return Ok(Vec::new());
    }
    let map = read_map(fs, ino)?;
    let exts = extents(fs, ino, &map)?;
    // The index lies in the image, so the size is bounded by the image before this allocation.
    let mut out = vec![0u8; ino.size as usize];
    let mut scratch = Vec::new();
    let mut i = 0;
    let interlaced = map.advise & ADV_INTERLACED_PCLUSTER != 0;
    while i < exts.len() {
        // Uncompressed pclusters that follow each other on disk and in the file are read
        // straight into the output (incompressible data, e.g. APKs, is most of an image).
        if exts[i].ty == PLAIN && !interlaced {
            let mut j = i;
            while j + 1 < exts.len()
                && direct_run(&exts[j], &exts[j + 1])
                && exts[j + 1].end - exts[i].start <= 8 * MAX_PCLUSTER
            {
                j += 1;
            }
            if let Some(e) = exts[i..=j].iter().find(|e| e.end - e.start > e.plen) {
                return Err(fs.err(e.pa, format!("nid {}: extent at byte {}: {} bytes stored in a {}-byte uncompressed pcluster", ino.nid, e.start, e.end - e.start, e.plen)));
            }
            fs.read_at(
                exts[i].pa,
                &mut out[exts[i].start as usize..exts[j].end as usize],
            )?;
            i = j + 1;
            continue;
        }
        // Batch pclusters that follow each other on disk into one read.
        let mut j = i;
        let mut span = exts[i].plen;
        while j + 1 < exts.len()
            && exts[j + 1].pa == exts[j].pa + exts[j].plen
            && span + exts[j + 1].plen <= MAX_PCLUSTER
        {
            j += 1;
            span += exts[j].plen;
        }
        scratch.resize(span as usize, 0);
        fs.read_at(exts[i].pa, &mut scratch)?;
        let mut at = 0usize;
        for e in &exts[i..=j] {
            let input = &scratch[at..at + e.plen as usize];
            at += e.plen as usize;
            let dst = &mut out[e.start as usize..e.end as usize];
            decode(fs, ino, &map, e, input, dst)?;
        }
        i = j + 1;
    }
    Ok(out)
}

/// Whether `b` continues `a` as one read: both uncompressed, `a` filling its pcluster, and
/// `b` next on disk and in the file.
fn direct_run(a: &Extent, b: &Extent) -> bool {
    b.ty == PLAIN && a.end - a.start == a.plen && b.pa == a.pa + a.plen && b.start == a.end
}

/// Decodes one extent's pcluster into `dst`.
fn decode(
    fs: &Image,
    ino: &Inode,
    map: &Map,
    e: &Extent,
    input: &[u8],
    dst: &mut [u8],
) -> Result<()> {
    let bad = |what: String| {
        fs.err(
            e.pa,
            format!("nid {}: extent at byte {}: {what}", ino.nid, e.start),
        )
    };
    if e.ty == PLAIN {
        if dst.len() > input.len() {
            return Err(bad(format!(
                "{} bytes stored in a {}-byte uncompressed pcluster",
                dst.len(),
                input.len()
            )));
        }
        if map.advise & ADV_INTERLACED_PCLUSTER != 0 {
            // Interlaced: the block is rotated so that the extent starts at its offset in a block.
            let bs = fs.sb.blksz() as usize;
            if input.len() > bs {
                return Err(bad("interlaced pcluster larger than a block".into()));
            }
            let skip = (e.start % bs as u64) as usize % input.len().max(1);
            let right = (input.len() - skip).min(dst.len());
            dst[..right].copy_from_slice(&input[skip..skip + right]);
            let rest = dst.len() - right;
            dst[right..].copy_from_slice(&input[..rest]);
        } else {
            dst.copy_from_slice(&input[..dst.len()]);
        }
        return Ok(());
    }
    let alg = map.algs[usize::from(e.ty == HEAD2)];
    if alg != 0 {
        return Err(bad(format!(
            "{}-compressed file, not supported",
            algorithm_name(alg)
        )));
    }
    if fs.sb.incompat & FEAT_ZERO_PADDING == 0 {
        return Err(bad(
            "lz4 without 0PADDING (legacy compression layout), not supported".into(),
        ));
    }
    // 0PADDING: the lz4 block ends at the pcluster's end; leading zeros are padding (a valid
    // lz4 block never starts with a zero token).
    let margin = input
        .iter()
        .position(|&b| b != 0)
        .ok_or_else(|| bad("pcluster is all zeros".into()))?;
    let src = &input[margin..];
    match lz4_flex::block::decompress_into(src, dst) {
        Ok(n) if n == dst.len() => Ok(()),
        Ok(n) => Err(bad(format!("lz4 gave {n} bytes, {} expected", dst.len()))),
        Err(lz4_flex::block::DecompressError::OutputTooSmall { .. }) => {
            // The pcluster holds more than this extent (a partial reference): decode it whole
            // into a bounded buffer and keep the start.
            let cap = (src.len() * 255 + 64).min(64 << 20).max(dst.len());
            let mut full = vec![0u8; cap];
            match lz4_flex::block::decompress_into(src, &mut full) {
                Ok(n) if n >= dst.len() => {
                    dst.copy_from_slice(&full[..dst.len()]);
                    Ok(())
                }
                Ok(n) => Err(bad(format!("lz4 gave {n} bytes, {} expected", dst.len()))),
                Err(err) => Err(bad(format!("lz4: {err}"))),
            }
        }
        Err(err) => Err(bad(format!("lz4: {err}"))),
    }
}

/// Reads the map header and the whole lcluster index.
fn read_map(fs: &Image, ino: &Inode) -> Result<Map> {
    let hdr_off = ino.data_off.div_ceil(8) * 8;
    let mut h = [0u8; 8];
    fs.read_at(hdr_off, &mut h)?;
    if h[7] & 0x80 != 0 {
        return Err(fs.err(
            hdr_off,
            format!(
                "nid {}: whole file packed in a fragment, not supported",
                ino.nid
            ),
        ));
    }
    let advise = le::u16(&h, 4).unwrap_or(0);
    let algs = [h[6] & 15, h[6] >> 4];
    let lbits = u32::from(fs.sb.blkbits) + u32::from(h[7] & 15);
    if lbits > 20 {
        return Err(fs.err(
            hdr_off + 7,
            format!("nid {}: lcluster size 2^{lbits} too large", ino.nid),
        ));
    }
    let idata_size = u64::from(le::u16(&h, 2).unwrap_or(0));
    let n = ino.size.div_ceil(1 << lbits);
    // Compact entries follow the 8-byte header; full ones leave 8 more bytes reserved.
    let (lcls, tail_off) = if ino.layout == COMPRESSED_COMPACT {
        compact_index(fs, ino, hdr_off + 8, n, lbits, advise)?
    } else {
        full_index(fs, ino, hdr_off + 16, n, lbits)?
    };
    Ok(Map {
        advise,
        algs,
        lbits,
        blkbits: u32::from(fs.sb.blkbits),
        idata_size,
        lcls,
        tail_off,
    })
}

/// Reads `len` index bytes at `off`, refusing an index past the image's end (which bounds the
/// number of lclusters, hence the file size, by the image).
fn index_bytes(fs: &Image, ino: &Inode, off: u64, len: u64) -> Result<Vec<u8>> {
    if off.checked_add(len).is_none_or(|e| e > fs.sb.size) {
        return Err(fs.err(
            off,
            format!(
                "nid {}: index of {len} bytes lies past the image's end",
                ino.nid
            ),
        ));
    }
    let mut b = vec![0u8; len as usize];
    fs.read_at(off, &mut b)?;
    Ok(b)
}

/// FULL index: 8 bytes per lcluster (advise with the type, clusterofs, block or deltas).
fn full_index(fs: &Image, ino: &Inode, ebase: u64, n: u64, lbits: u32) -> Result<(Vec<Lcl>, u64)> {
    let len = n.saturating_mul(8);
    let b = index_bytes(fs, ino, ebase, len)?;
    let mut out = Vec::with_capacity(n as usize);
    for (k, e) in b.chunks_exact(8).enumerate() {
        let ty = (le::u16(e, 0).unwrap_or(0) & 3) as u8;
        let ofs = u32::from(le::u16(e, 2).unwrap_or(0));
        let u = le::u32(e, 4).unwrap_or(0);
        out.push(if ty == NONHEAD {
            Lcl {
                ty,
                lo: u & 0xffff,
                pblk: 0,
            }
        } else {
            if ofs >= 1 << lbits {
                return Err(fs.err(
                    ebase + 8 * k as u64,
                    format!("nid {}: clusterofs {ofs} past its lcluster", ino.nid),
                ));
            }
            Lcl {
                ty,
                lo: ofs,
                pblk: u,
            }
        });
    }
    Ok((out, ebase + len))
}

/// COMPACT index: first 4-byte entries up to a 32-byte boundary, then (with COMPACTED_2B)
/// 2-byte entries in packs of 16, then 4-byte entries in packs of 2.
fn compact_index(
    fs: &Image,
    ino: &Inode,
    ebase: u64,
    n: u64,
    lbits: u32,
    advise: u16,
) -> Result<(Vec<Lcl>, u64)> {
    let init4 = match (32 - ebase % 32) / 4 {
        8 => 0,
        v => v,
    };
    let c2b = if advise & ADV_COMPACTED_2B != 0 && init4 < n {
        (n - init4) / 16 * 16
    } else {
        0
    };
    if lbits > 14 || (c2b > 0 && lbits > 12) {
        return Err(fs.err(
            ebase,
            format!(
                "nid {}: compact index with 2^{lbits}-byte lclusters not supported",
                ino.nid
            ),
        ));
    }
    // Byte position of lcn's entry and its width (log2).
    let locate = |lcn: u64| -> (u64, u32) {
        if lcn < init4 {
            (ebase + lcn * 4, 2)
        } else if lcn - init4 < c2b {
            (ebase + init4 * 4 + (lcn - init4) * 2, 1)
        } else {
            (ebase + init4 * 4 + c2b * 2 + (lcn - init4 - c2b) * 4, 2)
        }
    };
    let pack_of = |pos: u64, shift: u32| -> (u64, u64) {
        let size = if shift == 2 { 8 } else { 32 };
        (pos / size * size, size)
    };
    let (last, shift) = locate(n - 1);
    let (lp, ls) = pack_of(last, shift);
    let end = lp + ls;
    let b = index_bytes(fs, ino, ebase, end - ebase)?;
    let big = advise & ADV_BIG_PCLUSTER_1 != 0;
    let mut out = Vec::with_capacity(n as usize);
    for lcn in 0..n {
        let (pos, shift) = locate(lcn);
        let (ps, size) = pack_of(pos, shift);
        let vcnt = if shift == 2 { 2 } else { 16 };
        let bad = || {
            fs.err(
                pos,
                format!("nid {}: compact index entry {lcn} invalid", ino.nid),
            )
        };
        let rel = (ps - ebase) as usize;
        let pack = b.get(rel..rel + size as usize).ok_or_else(bad)?;
        let encodebits = ((size as usize - 4) * 8) / vcnt;
        let field = |i: usize| -> Option<(u32, u8)> {
            let bit = encodebits * i;
            let v = le::u32(pack, bit / 8)? >> (bit % 8);
            Some((v & ((1 << lbits) - 1), ((v >> lbits) & 3) as u8))
        };
        let i = ((pos - ps) >> shift) as usize;
        let (lo, ty) = field(i).ok_or_else(bad)?;
        if ty == NONHEAD {
            out.push(Lcl { ty, lo, pblk: 0 });
            continue;
        }
        // A head's block: the pack's base plus the blocks of the pclusters before it in the pack.
        let mut nblk: i64 = if big { 0 } else { 1 };
        let mut j = i as i64;
        while j > 0 {
            j -= 1;
            let (l, t) = field(j as usize).ok_or_else(bad)?;
            if t == NONHEAD {
                if !big {
                    j -= i64::from(l);
                    if j >= 0 {
                        nblk += 1;
                    }
                } else if l & D0_CBLKCNT != 0 {
                    j -= 1;
                    nblk += i64::from(l & !D0_CBLKCNT);
                } else if l <= 1 {
                    return Err(bad());
                } else {
                    j -= i64::from(l) - 2;
                }
            } else {
                nblk += 1;
            }
        }
        let base = le::u32(pack, size as usize - 4).ok_or_else(bad)?;
        let pblk = u32::try_from(i64::from(base) + nblk).unwrap_or(u32::MAX);
        out.push(Lcl { ty, lo, pblk });
    }
    Ok((out, end))
}

/// Turns the index into extents (head to next head), with each pcluster's place.
fn extents(fs: &Image, ino: &Inode, map: &Map) -> Result<Vec<Extent>> {
    let bad = |what: String| fs.err(ino.data_off, format!("nid {}: {what}", ino.nid));
    let heads: Vec<(usize, u64)> = map
        .lcls
        .iter()
        .enumerate()
        .filter(|(_, l)| l.ty != NONHEAD)
        .map(|(k, l)| (k, ((k as u64) << map.lbits) + u64::from(l.lo)))
        .filter(|&(_, s)| s < ino.size)
        .collect();
    if heads.first() != Some(&(0, 0)) {
        return Err(bad("first lcluster is not a head at offset 0".into()));
    }
    let tail = heads.last().map_or(0, |h| h.0);
    let bs = fs.sb.blksz();
    let mut out = Vec::with_capacity(heads.len());
    for (x, &(k, start)) in heads.iter().enumerate() {
        let end = heads.get(x + 1).map_or(ino.size, |h| h.1);
        let l = map.lcls[k];
        let (pa, plen) = if k == tail && map.advise & ADV_INLINE_PCLUSTER != 0 {
            let plen = map.idata_size;
            if plen == 0 || map.tail_off % bs + plen > bs {
                return Err(fs.err(
                    map.tail_off,
                    format!("nid {}: inline pcluster of {plen} bytes invalid", ino.nid),
                ));
            }
            (map.tail_off, plen)
        } else if k == tail && map.advise & ADV_FRAGMENT_PCLUSTER != 0 {
            return Err(bad("tail packed in a fragment, not supported".into()));
        } else {
            let blocks = pcluster_blocks(map, k)
                .ok_or_else(|| bad(format!("lcluster {k}: bad pcluster block count")))?;
            let plen = blocks << fs.sb.blkbits;
            if plen > MAX_PCLUSTER {
                return Err(bad(format!("lcluster {k}: pcluster of {plen} bytes")));
            }
            (u64::from(l.pblk) << fs.sb.blkbits, plen)
        };
        if pa.checked_add(plen).is_none_or(|e| e > fs.sb.size) {
            return Err(fs.err(
                pa,
                format!(
                    "nid {}: pcluster of lcluster {k} lies past the image's end",
                    ino.nid
                ),
            ));
        }
        out.push(Extent {
            start,
            end,
            ty: l.ty,
            pa,
            plen,
        });
    }
    Ok(out)
}

/// Blocks of the pcluster whose head is lcluster `k`: one lcluster, or with big pclusters
/// (for the head's algorithm) the count the next lcluster carries when it is a NONHEAD.
fn pcluster_blocks(map: &Map, k: usize) -> Option<u64> {
    let big = match map.lcls[k].ty {
        HEAD1 => map.advise & ADV_BIG_PCLUSTER_1 != 0,
        _ => map.advise & ADV_BIG_PCLUSTER_2 != 0,
    };
    match map.lcls.get(k + 1) {
        Some(next) if big && next.ty == NONHEAD => {
            if next.lo & D0_CBLKCNT == 0 {
                return None;
            }
            Some(u64::from(next.lo & !D0_CBLKCNT)).filter(|&c| c > 0)
        }
        _ => Some(1 << (map.lbits - map.blkbits)),
    }
}
