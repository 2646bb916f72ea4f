//! Android sparse images (`libsparse`: the format fastboot flashes and `img2simg` writes).
//!
//! A 28-byte header (magic `0xED26FF3A`, version 1.0, block size, block and chunk counts) is
//! followed by chunks: RAW (blocks stored), FILL (one 4-byte pattern repeated), DONT_CARE
//! (a hole, read as zeros) and CRC32 (a checksum of everything expanded so far). Opening builds
//! a chunk index (one entry per chunk, bounded by the file's size); reads then map straight to
//! the stored bytes, so a multi-gigabyte image is never expanded. CRC chunks are checked by
//! [`Sparse::verify`], which reads the whole image once.
//!
//! Written here rather than taken from the `android-sparse` crate: that crate converts whole
//! files (sequential `Read`/`Write`), while the filesystems above need random access.

use crate::error::{ImageError, Result};
use crate::source::{ReadAt, Source, le};

/// Magic number of a sparse image.
pub const MAGIC: u32 = 0xED26_FF3A;
const RAW: u16 = 0xCAC1;
const FILL: u16 = 0xCAC2;
const DONT_CARE: u16 = 0xCAC3;
const CRC32: u16 = 0xCAC4;

#[derive(Debug, Clone, Copy)]
enum Data {
    /// Bytes at this offset of the sparse file.
    Raw(u64),
    Fill([u8; 4]),
    Zero,
    /// Expected CRC32 of the image up to here (no blocks).
    Crc(u32),
}

#[derive(Debug, Clone, Copy)]
struct Chunk {
    /// First output byte.
    start: u64,
    /// Output bytes.
    len: u64,
    data: Data,
    /// Offset of the chunk header in the sparse file (for errors).
    at: u64,
}

/// An opened sparse image, readable as the raw image it stands for.
pub struct Sparse {
    inner: Source,
    chunks: Vec<Chunk>,
    size: u64,
    block_size: u32,
    name: String,
}

/// Whether `head` starts like a sparse image.
pub fn is_sparse(head: &[u8]) -> bool {
    le::u32(head, 0) == Some(MAGIC)
}

impl Sparse {
    /// Reads the header and indexes every chunk.
    pub fn open(inner: Source) -> Result<Sparse> {
        let name = inner.name().to_string();
        let err = |at: u64, what: String| ImageError::new(&name, at, what);
        let h = inner.read_vec(0, 28.min(inner.size() as usize))?;
        let field32 = |at| le::u32(&h, at).ok_or_else(|| err(at as u64, "header cut short".into()));
        if field32(0)? != MAGIC {
            return Err(err(0, "not a sparse image (bad magic)".into()));
        }
        let major = le::u16(&h, 4).unwrap_or(0);
        if major != 1 {
            return Err(err(
                4,
                format!("sparse format version {major} not supported (only 1)"),
            ));
        }
        let file_hdr = u64::from(le::u16(&h, 8).unwrap_or(0));
        let chunk_hdr = u64::from(le::u16(&h, 10).unwrap_or(0));
        if file_hdr < 28 || chunk_hdr < 12 {
            return Err(err(
                8,
                format!("header sizes {file_hdr}/{chunk_hdr} too small"),
            ));
        }
        let block_size = field32(12)?;
        if block_size == 0 || block_size % 4 != 0 {
            return Err(err(
                12,
                format!("block size {block_size} is not a multiple of 4"),
            ));
        }
        let total_blocks = field32(16)?;
        let total_chunks = field32(20)?;
        // Every chunk needs its header in the file: a count beyond that is a lie.
        if u64::from(total_chunks) > inner.size() / chunk_hdr {
            return Err(err(
                20,
                format!("{total_chunks} chunks cannot fit in {} bytes", inner.size()),
            ));
        }
        let bs = u64::from(block_size);
        let mut chunks = Vec::with_capacity(total_chunks as usize);
        let mut pos = file_hdr;
        let mut out = 0u64;
        for i in 0..total_chunks {
            let ch = inner.read_vec(pos, chunk_hdr as usize).map_err(|_| {
                err(
                    pos,
                    format!("chunk {i} of {total_chunks}: header cut short"),
                )
            })?;
            let kind = le::u16(&ch, 0).unwrap_or(0);
            let blocks = u64::from(le::u32(&ch, 4).unwrap_or(0));
            let total = u64::from(le::u32(&ch, 8).unwrap_or(0));
            let body = total
                .checked_sub(chunk_hdr)
                .ok_or_else(|| err(pos, format!("chunk {i}: size {total} below its header")))?;
            let len = blocks
                .checked_mul(bs)
                .ok_or_else(|| err(pos, format!("chunk {i}: {blocks} blocks overflow")))?;
            let data_at = pos + chunk_hdr;
            let need = |n: u64| {
                if body == n {
                    Ok(())
                } else {
                    Err(err(
                        pos,
                        format!("chunk {i} (type {kind:#06x}): {body} data bytes, {n} expected"),
                    ))
                }
            };
            let data = match kind {
                RAW => {
                    need(len)?;
                    Data::Raw(data_at)
                }
                FILL => {
                    need(4)?;
                    let v = inner.read_vec(data_at, 4)?;
                    Data::Fill([v[0], v[1], v[2], v[3]])
                }
                DONT_CARE => {
                    need(0)?;
                    Data::Zero
                }
                CRC32 => {
                    need(4)?;
                    let v = inner.read_vec(data_at, 4)?;
                    Data::Crc(le::u32(&v, 0).unwrap_or(0))
                }
                k => return Err(err(pos, format!("chunk {i}: unknown chunk type {k:#06x}"))),
            };
            let len = if matches!(data, Data::Crc(_)) { 0 } else { len };
            chunks.push(Chunk {
                start: out,
                len,
                data,
                at: pos,
            });
            out = out
                .checked_add(len)
                .ok_or_else(|| err(pos, "image size overflows".into()))?;
            pos = pos
                .checked_add(total)
                .filter(|p| *p <= inner.size())
                .ok_or_else(|| {
                    err(
                        pos,
                        format!("chunk {i}: {total} bytes run past the end of the file"),
                    )
                })?;
        }
        let expect = u64::from(total_blocks) * bs;
        if out != expect {
            return Err(err(
                16,
                format!("chunks cover {out} bytes, header says {expect}"),
            ));
        }
        chunks.retain(|c| c.len > 0 || matches!(c.data, Data::Crc(_)));
        Ok(Sparse {
            inner,
            chunks,
            size: out,
            block_size,
            name,
        })
    }

    /// Block size of the image.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Number of chunks (CRC chunks included).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Checks every CRC32 chunk against the expanded bytes before it (one pass over the
    /// image). `Ok(n)`: the number of CRC chunks checked.
    pub fn verify(&self) -> Result<usize> {
        let mut h = crc32fast::Hasher::new();
        let mut n = 0;
        let mut buf = vec![0u8; 1 << 20];
        for c in &self.chunks {
            if let Data::Crc(want) = c.data {
                let got = h.clone().finalize();
                if got != want {
                    return Err(ImageError::new(
                        &self.name,
                        c.at,
                        format!(
                            "CRC32 chunk says {want:#010x}, the data before it gives {got:#010x}"
                        ),
                    ));
                }
                n += 1;
                continue;
            }
            let mut off = c.start;
            while off < c.start + c.len {
                let k = ((c.start + c.len - off) as usize).min(buf.len());
                self.read_at(off, &mut buf[..k])?;
                h.update(&buf[..k]);
                off += k as u64;
            }
        }
        Ok(n)
    }
}

impl ReadAt for Sparse {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        crate::source::in_bounds(&self.name, off, buf.len(), self.size)?;
        let mut i = self.chunks.partition_point(|c| c.start + c.len <= off);
        let mut done = 0usize;
        while done < buf.len() {
            let Some(c) = self.chunks.get(i) else {
                return Err(ImageError::new(
                    &self.name,
                    off,
                    "no chunk covers this offset",
                ));
            };
            i += 1;
            if c.len == 0 {
                continue;
            }
            let pos = off + done as u64;
            let inner_off = pos - c.start;
            let k = ((c.len - inner_off) as usize).min(buf.len() - done);
            let dst = &mut buf[done..done + k];
            match c.data {
                Data::Raw(at) => self.inner.read_at(at + inner_off, dst)?,
                Data::Fill(p) => {
                    for (j, b) in dst.iter_mut().enumerate() {
                        *b = p[((inner_off as usize) + j) % 4];
                    }
                }
                Data::Zero | Data::Crc(_) => dst.fill(0),
            }
            done += k;
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
