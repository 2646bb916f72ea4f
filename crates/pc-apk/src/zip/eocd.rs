//! Finding the end records: the End of Central Directory record (scanning back over a comment)
//! and the Zip64 locator and record, in the whole file or in a [`Tail`] read from disk.

use std::io::{Read, Seek, SeekFrom};

use super::central::{io_error, read_at};
use super::*;
use crate::bytes::{slice, u16_at, u32_at, u64_at, us};

#[derive(Debug, Clone)]
pub(super) struct Eocd {
    pub(super) offset: u64,
    pub(super) entries: u64,
    pub(super) cd_size: u64,
    pub(super) cd_offset: u64,
}

/// Why the end records could not be read from a tail of the file.
pub(super) enum Scan {
    /// The archive is bad.
    Bad(ZipError),
    /// The tail must start at this file offset or earlier; always below `base`, so never for a
    /// tail that is the whole file.
    Need(u64),
}

impl From<ZipError> for Scan {
    fn from(e: ZipError) -> Scan {
        Scan::Bad(e)
    }
}

impl Scan {
    /// For a tail that is the whole file, where nothing more can be needed.
    pub(super) fn whole(self) -> ZipError {
        match self {
            Scan::Bad(e) => e,
            Scan::Need(at) => ZipError::BadEocd {
                at,
                what: "end records point before the start of the file",
            },
        }
    }
}

/// Finds the end records in `data`, the file's bytes from offset `base` to its end. Offsets in
/// the result and in errors are file offsets.
pub(super) fn find_eocd(
    data: &[u8],
    base: u64,
    anomalies: &mut Vec<Anomaly>,
) -> Result<Eocd, Scan> {
    let len = data.len();
    let file_len = base + len as u64;
    if file_len < EOCD_LEN as u64 {
        return Err(ZipError::NoEocd { at: 0 }.into());
    }
    let window_abs = file_len.saturating_sub((EOCD_LEN + MAX_COMMENT) as u64);
    if window_abs < base {
        return Err(Scan::Need(window_abs));
    }
    let window_start = us(window_abs - base);
    // Scan backwards like libziparchive: the last signature in the window wins.
    let mut i = len - EOCD_LEN;
    let eocd = loop {
        if u32_at(data, i) == Some(EOCD_SIG) {
            break i;
        }
        if i == window_start {
            return Err(ZipError::NoEocd { at: window_abs }.into());
        }
        i -= 1;
    };
    let at = base + eocd as u64;
    let rd16 = |o: usize| u16_at(data, eocd + o).unwrap_or(0);
    let rd32 = |o: usize| u32_at(data, eocd + o).unwrap_or(0);
    let mut entries = u64::from(rd16(10));
    let mut cd_size = u64::from(rd32(12));
    let mut cd_offset = u64::from(rd32(16));
    let comment_len = u64::from(rd16(20));
    let after = (len - eocd - EOCD_LEN) as u64;
    if comment_len > after {
        anomalies.push(Anomaly::CommentLengthMismatch {
            declared: comment_len,
            present: after,
        });
    } else if comment_len < after {
        anomalies.push(Anomaly::TrailingData {
            at: at + EOCD_LEN as u64 + comment_len,
            len: after - comment_len,
        });
    }
    let mut cd_end_max = at;
    if eocd < ZIP64_LOCATOR_LEN && at >= ZIP64_LOCATOR_LEN as u64 {
        return Err(Scan::Need(at - ZIP64_LOCATOR_LEN as u64));
    }
    // Zip64: locator immediately before the EOCD.
    if eocd >= ZIP64_LOCATOR_LEN
        && u32_at(data, eocd - ZIP64_LOCATOR_LEN) == Some(ZIP64_LOCATOR_SIG)
    {
        let loc = eocd - ZIP64_LOCATOR_LEN;
        let loc_at = base + loc as u64;
        let rec = u64_at(data, loc + 8).unwrap_or(u64::MAX);
        let points_nowhere = ZipError::BadEocd {
            at: loc_at,
            what: "zip64 locator points nowhere",
        };
        if rec >= loc_at {
            return Err(points_nowhere.into());
        }
        if rec < base {
            return Err(Scan::Need(rec));
        }
        let r = us(rec - base);
        if u32_at(data, r) != Some(ZIP64_EOCD_SIG) {
            return Err(points_nowhere.into());
        }
        if slice(data, r, ZIP64_EOCD_LEN).is_none() || r + ZIP64_EOCD_LEN > loc {
            return Err(ZipError::BadEocd {
                at: rec,
                what: "truncated zip64 record",
            }
            .into());
        }
        entries = u64_at(data, r + 32).unwrap_or(0);
        cd_size = u64_at(data, r + 40).unwrap_or(0);
        cd_offset = u64_at(data, r + 48).unwrap_or(0);
        cd_end_max = rec;
        anomalies.push(Anomaly::Zip64);
    }
    let cd_end = cd_offset.checked_add(cd_size).ok_or(ZipError::BadEocd {
        at,
        what: "central directory offset+size overflows",
    })?;
    if cd_end > cd_end_max {
        return Err(ZipError::BadEocd {
            at,
            what: "central directory runs past its end record",
        }
        .into());
    }
    if cd_offset < base {
        return Err(Scan::Need(cd_offset));
    }
    Ok(Eocd {
        offset: at,
        entries,
        cd_size,
        cd_offset,
    })
}

/// The end of a zip file read from disk: the end records and the central directory, which is
/// all [`Archive::parse_file`] keeps in memory, so an archive of any size can be checked.
#[derive(Debug, Clone)]
pub struct Tail {
    pub(super) bytes: Vec<u8>,
    pub(super) base: u64,
    /// The end records, found while reading, with what they revealed.
    pub(super) eocd: Eocd,
    pub(super) anomalies: Vec<Anomaly>,
}

impl Tail {
    /// Reads the file's end (its end-record scan window, the Zip64 record, the central
    /// directory). The window (64 KiB + 42 bytes, or the whole file if shorter) is always read;
    /// past it, more than `max` bytes from the central directory to the end is refused: that
    /// size comes from the file, so it is bounded here rather than trusted.
    pub fn read<R: Read + Seek>(file: &mut R, max: u64) -> Result<Tail, ZipError> {
        let len = file.seek(SeekFrom::End(0)).map_err(|e| io_error(0, &e))?;
        let window = (EOCD_LEN + MAX_COMMENT + ZIP64_LOCATOR_LEN) as u64;
        let mut base = len.saturating_sub(window);
        let mut bytes = Vec::new();
        // Each round starts strictly earlier (Scan::Need is below base), and only the Zip64
        // record and the central directory can ask for that.
        for _ in 0..3 {
            let n = usize::try_from(len - base).unwrap_or(usize::MAX);
            read_at(file, base, n, &mut bytes)?;
            if (bytes.len() as u64) < len - base {
                return Err(ZipError::Io {
                    at: base + bytes.len() as u64,
                    message: "the file shrank while it was read".into(),
                });
            }
            let mut anomalies = Vec::new();
            match find_eocd(&bytes, base, &mut anomalies) {
                Ok(eocd) => {
                    return Ok(Tail {
                        bytes,
                        base,
                        eocd,
                        anomalies,
                    });
                }
                Err(Scan::Bad(e)) => return Err(e),
                Err(Scan::Need(at)) => {
                    if len - at > max {
                        return Err(ZipError::TooLarge {
                            at,
                            size: len - at,
                            limit: max,
                        });
                    }
                    base = at;
                }
            }
        }
        Err(ZipError::BadEocd {
            at: base,
            what: "end records point at each other",
        })
    }

    /// Bytes held (the file from [`Tail::offset`] to its end).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Where in the file the held bytes start.
    pub fn offset(&self) -> u64 {
        self.base
    }
}
