//! What every part of the EROFS reader shares: the source and the superblock's facts, with
//! reads checked against the image's end and errors naming the image. Its own module so the
//! readers of inodes and compressed data do not import the [`super::Erofs`] tree.

use crate::error::{ImageError, Result};
use crate::source::Source;

/// LZ4 input padded with leading zeros (how lz4 pclusters end exactly at their block end).
pub(crate) const FEAT_ZERO_PADDING: u32 = 0x01;

/// What the superblock says.
#[derive(Debug, Clone)]
pub(crate) struct Super {
    /// log2 of the block size.
    pub blkbits: u8,
    /// Root folder's nid.
    pub root_nid: u64,
    /// Byte offset of the metadata area (nid 0).
    pub meta_off: u64,
    /// Incompatible feature bits.
    pub incompat: u32,
    /// Image size in bytes (every offset is checked against it).
    pub size: u64,
}

impl Super {
    /// Block size in bytes.
    pub fn blksz(&self) -> u64 {
        1 << self.blkbits
    }
}

/// The image and its superblock.
pub(crate) struct Image {
    /// Where the bytes come from.
    pub src: Source,
    /// The superblock's facts.
    pub sb: Super,
}

impl Image {
    /// An error at `off` of this image.
    pub(crate) fn err(&self, off: u64, what: impl Into<String>) -> ImageError {
        ImageError::new(self.src.name(), off, what)
    }

    /// Reads `buf.len()` bytes at `off`, checked against the image's end.
    pub(crate) fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        if off
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.sb.size)
        {
            return Err(self.err(
                off,
                format!(
                    "{} bytes asked past the image's end ({} bytes)",
                    buf.len(),
                    self.sb.size
                ),
            ));
        }
        self.src.read_at(off, buf)
    }
}
