//! Entry data: where an entry's bytes are, and opening, reading or streaming them (the checks
//! made before anything is inflated).

use std::io::{self, Read, Seek, SeekFrom};

use super::central::io_error;
use super::inflate::Body;
use super::*;
use crate::bytes::{slice, us};

impl<'a> Archive<'a> {
    /// Where the entry's compressed bytes are in the file: `(offset, length)`, as the central
    /// directory sizes them, after the same checks as [`Archive::raw_data`].
    pub fn data_range(&self, entry: &Entry<'_>) -> Result<(u64, u64), ZipError> {
        let lho = entry.local_header_offset;
        if lho.saturating_add(LFH_LEN as u64) > self.cd_offset {
            return Err(ZipError::BadLocalHeader {
                at: lho,
                what: "not before the central directory",
            });
        }
        let at = entry.data_offset;
        // Parsing sets the data offset (never 0: a header comes first) once it has found the
        // local header's signature.
        if at == 0 {
            return Err(ZipError::BadLocalHeader {
                at: lho,
                what: "missing signature",
            });
        }
        if at.saturating_add(entry.compressed_size) > self.cd_offset {
            return Err(ZipError::OutOfBounds {
                at,
                what: "data runs into the central directory",
            });
        }
        Ok((at, entry.compressed_size))
    }

    /// The entry's compressed bytes, as the central directory sizes them. Only for archives
    /// parsed in memory ([`Archive::parse`]).
    pub fn raw_data(&self, entry: &Entry<'a>) -> Result<&'a [u8], ZipError> {
        let (at, len) = self.data_range(entry)?;
        if self.base != 0 {
            return Err(ZipError::OutOfBounds {
                at,
                what: "data not in memory: the archive was parsed from a file",
            });
        }
        slice(self.data, us(at), us(len)).ok_or(ZipError::OutOfBounds {
            at,
            what: "data past end of file",
        })
    }

    /// The kept entry that `entry` overlaps, when it does (it is then never read: see the
    /// module docs).
    pub fn overlapped_by(&self, entry: &Entry<'_>) -> Option<&Entry<'a>> {
        self.overlapping
            .get(&entry.cd_index)
            .and_then(|&i| self.entries.get(i))
    }

    /// Decompresses an entry (stored or raw deflate), refusing more than
    /// `min(limit, uncompressed_size)` bytes, and checks size and CRC32. Only for archives
    /// parsed in memory ([`Archive::parse`]); see [`Archive::read_from`].
    pub fn read(&self, entry: &Entry<'a>, limit: u64) -> Result<Vec<u8>, ZipError> {
        // The same checks as raw_data, so an archive parsed from a file never reads past the
        // bytes it holds.
        self.raw_data(entry)?;
        self.read_from(&mut io::Cursor::new(self.data), entry, limit)
    }

    /// [`Archive::read`] for an archive whose bytes are in `file` (the file it was parsed
    /// from, or the same bytes in memory): the whole entry in memory, at most `limit` bytes.
    pub fn read_from<R: Read + Seek>(
        &self,
        file: &mut R,
        entry: &Entry<'_>,
        limit: u64,
    ) -> Result<Vec<u8>, ZipError> {
        let mut r = self.open(file, entry, limit)?;
        // Preallocate only what the compressed size can honestly produce.
        let cap = us(entry
            .uncompressed_size
            .min(entry.compressed_size.saturating_mul(4))
            .min(1 << 24));
        let mut out = Vec::with_capacity(cap);
        r.read_to_end(&mut out).map_err(|e| r.error(&e))?;
        Ok(out)
    }

    /// Opens an entry of the archive in `file` for streaming: a reader of its uncompressed
    /// bytes that fails (with a [`ZipError`] inside the `io::Error`, see
    /// [`EntryReader::error`]) when the stream gives more or fewer bytes than the directory
    /// declares or its CRC32 differs — so nothing is held but the reader's buffers. Refused up
    /// front: entries declaring more than `limit` bytes, encrypted ones, methods other than
    /// stored and deflate, impossible ratios, data outside the file, and entries overlapping a
    /// kept one ([`ZipError::Overlapping`]).
    pub fn open<'r, R: Read + Seek>(
        &self,
        file: &'r mut R,
        entry: &Entry<'_>,
        limit: u64,
    ) -> Result<EntryReader<'r, R>, ZipError> {
        let (at, len) = self.data_range(entry)?;
        if let Some(kept) = self.overlapped_by(entry) {
            return Err(ZipError::Overlapping {
                at: entry.local_header_offset,
                kept: kept.local_header_offset,
            });
        }
        let file_len = file.seek(SeekFrom::End(0)).map_err(|e| io_error(at, &e))?;
        if at.saturating_add(len) > file_len {
            return Err(ZipError::OutOfBounds {
                at,
                what: "data past end of file",
            });
        }
        if entry.flags & FLAG_ENCRYPTED != 0 {
            return Err(ZipError::Encrypted { at });
        }
        let want = entry.uncompressed_size;
        if want > limit {
            return Err(ZipError::TooLarge {
                at,
                size: want,
                limit,
            });
        }
        match entry.method {
            METHOD_STORED if entry.compressed_size != want => {
                return Err(ZipError::SizeMismatch {
                    at,
                    expected: want,
                    actual: entry.compressed_size,
                });
            }
            METHOD_STORED => {}
            METHOD_DEFLATE => {
                if want
                    > entry
                        .compressed_size
                        .saturating_mul(self.limits.max_ratio)
                        .saturating_add(self.limits.ratio_slack)
                {
                    return Err(ZipError::Bomb {
                        at,
                        what: "declared ratio impossible for deflate",
                    });
                }
            }
            m => return Err(ZipError::UnsupportedMethod { at, method: m }),
        }
        file.seek(SeekFrom::Start(at))
            .map_err(|e| io_error(at, &e))?;
        let raw = file.take(len);
        let body = if entry.method == METHOD_STORED {
            Body::Stored(raw)
        } else {
            // One byte more than declared tells a lying directory from an honest one.
            Body::Deflate(flate2::read::DeflateDecoder::new(raw).take(want.saturating_add(1)))
        };
        Ok(EntryReader {
            body,
            at,
            want,
            got: 0,
            crc: flate2::Crc::new(),
            expected_crc: entry.crc32,
            done: false,
        })
    }

    /// Reads an entry by name (first occurrence).
    pub fn read_by_name(&self, name: &str, limit: u64) -> Option<Result<Vec<u8>, ZipError>> {
        self.find(name).map(|e| self.read(e, limit))
    }
}
