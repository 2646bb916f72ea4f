//! Random-access byte sources. Every layer (a file, a sparse image, a partition of super.img,
//! a partition rebuilt from an OTA payload) is a [`ReadAt`], so the filesystem readers above
//! never know where their bytes come from and nothing is copied to disk or to memory whole.
//! Reads are positional (`pread`), so one source serves every thread at once.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::error::{ImageError, Result};

/// A read-only, thread-safe, random-access byte source of known size.
pub trait ReadAt: Send + Sync {
    /// Fills `buf` from offset `off`; an error when the range is not all there.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()>;
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Name used in errors.
    fn name(&self) -> &str;

    /// Reads `len` bytes at `off` into a new buffer (bounded by the source's size).
    fn read_vec(&self, off: u64, len: usize) -> Result<Vec<u8>> {
        let end = off.checked_add(len as u64);
        if end.is_none_or(|e| e > self.size()) {
            return Err(ImageError::new(
                self.name(),
                off,
                format!("{len} bytes asked past the end ({} bytes)", self.size()),
            ));
        }
        let mut v = vec![0; len];
        self.read_at(off, &mut v)?;
        Ok(v)
    }
}

/// The one bounds check of every source: `Ok` when `len` bytes at `off` lie inside `size`,
/// else the error naming the source and the offset.
pub fn in_bounds(name: &str, off: u64, len: usize, size: u64) -> Result<()> {
    if off.checked_add(len as u64).is_none_or(|e| e > size) {
        return Err(ImageError::new(
            name,
            off,
            format!("read {len} bytes past the end ({size} bytes)"),
        ));
    }
    Ok(())
}

/// Shared handle to a source.
pub type Source = Arc<dyn ReadAt>;

/// A file on disk.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    size: u64,
    name: String,
}

impl FileSource {
    /// Opens `path` (named in errors as `name`).
    pub fn open(path: &Path, name: &str) -> Result<FileSource> {
        let file = File::open(path).map_err(|e| ImageError::new(name, 0, format!("open: {e}")))?;
        let size = file
            .metadata()
            .map_err(|e| ImageError::new(name, 0, format!("stat: {e}")))?
            .len();
        Ok(FileSource {
            file,
            size,
            name: name.to_string(),
        })
    }
}

impl FileSource {
    /// An already open file (a spooled temporary file, say).
    pub fn from_file(file: File, name: &str) -> Result<FileSource> {
        let size = file
            .metadata()
            .map_err(|e| ImageError::new(name, 0, format!("stat: {e}")))?
            .len();
        Ok(FileSource {
            file,
            size,
            name: name.to_string(),
        })
    }
}

impl ReadAt for FileSource {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        self.file
            .read_exact_at(buf, off)
            .map_err(|e| ImageError::new(&self.name, off, format!("read {} bytes: {e}", buf.len())))
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Bytes held in memory (small images, tests, fuzzing).
#[derive(Debug, Clone)]
pub struct MemSource {
    data: Vec<u8>,
    name: String,
}

impl MemSource {
    /// Wraps `data`.
    pub fn new(name: &str, data: Vec<u8>) -> MemSource {
        MemSource {
            data,
            name: name.to_string(),
        }
    }
}

impl ReadAt for MemSource {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        let src = usize::try_from(off)
            .ok()
            .and_then(|o| self.data.get(o..o.checked_add(buf.len())?));
        match src {
            Some(s) => {
                buf.copy_from_slice(s);
                Ok(())
            }
            None => Err(ImageError::new(
                &self.name,
                off,
                format!(
                    "read {} bytes past the end ({} bytes)",
                    buf.len(),
                    self.data.len()
                ),
            )),
        }
    }
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// A window `[off, off + len)` of another source (a partition inside an image).
pub struct Slice {
    inner: Source,
    off: u64,
    len: u64,
    name: String,
}

impl Slice {
    /// The window; an error when it does not lie inside `inner`.
    pub fn new(inner: Source, off: u64, len: u64, name: &str) -> Result<Slice> {
        if off.checked_add(len).is_none_or(|e| e > inner.size()) {
            return Err(ImageError::new(
                inner.name(),
                off,
                format!(
                    "{name}: {len} bytes at {off} lie past the end ({} bytes)",
                    inner.size()
                ),
            ));
        }
        Ok(Slice {
            inner,
            off,
            len,
            name: name.to_string(),
        })
    }
}

impl ReadAt for Slice {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        in_bounds(&self.name, off, buf.len(), self.len)?;
        self.inner.read_at(self.off + off, buf)
    }
    fn size(&self) -> u64 {
        self.len
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Little-endian field readers over a byte slice that never panic: a short slice reads as
/// `None`, which the format modules turn into an [`ImageError`] with the offset.
pub mod le {
    /// `u16` at `at`.
    pub fn u16(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_le_bytes(
            b.get(at..at.checked_add(2)?)?.try_into().ok()?,
        ))
    }
    /// `u32` at `at`.
    pub fn u32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(
            b.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    }
    /// `u64` at `at`.
    pub fn u64(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_le_bytes(
            b.get(at..at.checked_add(8)?)?.try_into().ok()?,
        ))
    }
}

/// Big-endian field readers (AVB, OTA payload headers).
pub mod be {
    /// `u32` at `at`.
    pub fn u32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(
            b.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    }
    /// `u64` at `at`.
    pub fn u64(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_be_bytes(
            b.get(at..at.checked_add(8)?)?.try_into().ok()?,
        ))
    }
}

/// `Read + Seek` over a [`ReadAt`] (for readers written against std's traits, such as the
/// zip central-directory reader).
pub struct Cursor<'a> {
    src: &'a dyn ReadAt,
    pos: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at offset 0.
    pub fn new(src: &'a dyn ReadAt) -> Cursor<'a> {
        Cursor { src, pos: 0 }
    }
}

impl std::io::Read for Cursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.src.size().saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        self.src
            .read_at(self.pos, &mut buf[..n])
            .map_err(std::io::Error::other)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for Cursor<'_> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let p = match to {
            std::io::SeekFrom::Start(p) => Some(p),
            std::io::SeekFrom::End(d) => self.src.size().checked_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = p.ok_or_else(|| std::io::Error::other("seek out of range"))?;
        Ok(self.pos)
    }
}
