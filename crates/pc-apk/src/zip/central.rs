//! Reading the central directory: every entry's record, its local header (fetched from memory
//! or from the file), name checks, duplicates and overlapping entries, each oddity recorded as
//! an [`Anomaly`].

use std::io::{self, Read, Seek, SeekFrom};

use super::eocd::{Eocd, Scan, find_eocd};
use super::*;
use crate::bytes::{slice, u16_at, u32_at, u64_at, us};

/// Reads file bytes `at..at+n` (fewer at the end of the file) into a buffer.
pub(super) type Fetch<'f> = dyn FnMut(u64, usize, &mut Vec<u8>) -> Result<(), ZipError> + 'f;

pub(super) fn io_error(at: u64, e: &io::Error) -> ZipError {
    ZipError::Io {
        at,
        message: e.to_string(),
    }
}

pub(super) fn read_at<R: Read + Seek>(
    file: &mut R,
    at: u64,
    n: usize,
    buf: &mut Vec<u8>,
) -> Result<(), ZipError> {
    buf.clear();
    file.seek(SeekFrom::Start(at))
        .map_err(|e| io_error(at, &e))?;
    file.take(n as u64)
        .read_to_end(buf)
        .map_err(|e| io_error(at, &e))?;
    Ok(())
}

/// libziparchive's `IsValidEntryName`: no NUL byte and well-formed UTF-8 sequences.
fn valid_entry_name(name: &[u8]) -> bool {
    !name.contains(&0) && std::str::from_utf8(name).is_ok()
}

fn path_traversal(name: &[u8]) -> bool {
    name.starts_with(b"/")
        || name.contains(&b'\\')
        || name.split(|&b| b == b'/').any(|c| c == b"..")
}

impl<'a> Archive<'a> {
    /// Parses with default [`Limits`].
    pub fn parse(data: &'a [u8]) -> Result<Archive<'a>, ZipError> {
        Self::parse_with(data, Limits::default())
    }

    /// Parses the EOCD and central directory, checks every local header.
    pub fn parse_with(data: &'a [u8], limits: Limits) -> Result<Archive<'a>, ZipError> {
        let mut fetch = |at: u64, n: usize, buf: &mut Vec<u8>| {
            buf.clear();
            let start = us(at).min(data.len());
            buf.extend_from_slice(&data[start..start.saturating_add(n).min(data.len())]);
            Ok(())
        };
        let mut anomalies = Vec::new();
        let eocd = find_eocd(data, 0, &mut anomalies).map_err(Scan::whole)?;
        Self::parse_tail(data, 0, (eocd, anomalies), limits, &mut fetch)
    }

    /// Parses an archive that stays on disk: only `tail` (the end records and the central
    /// directory, see [`Tail::read`]) is held in memory, and each local header is read from
    /// `file` as it is checked. The result is what [`Archive::parse_with`] gives for the same
    /// file, but for [`Archive::raw_data`] and [`Archive::read`]: read the entries' bytes from
    /// the file at [`Archive::data_range`].
    pub fn parse_file<R: Read + Seek>(
        tail: &'a Tail,
        file: &mut R,
        limits: Limits,
    ) -> Result<Archive<'a>, ZipError> {
        let mut fetch = |at: u64, n: usize, buf: &mut Vec<u8>| read_at(file, at, n, buf);
        let end = (tail.eocd.clone(), tail.anomalies.clone());
        Self::parse_tail(&tail.bytes, tail.base, end, limits, &mut fetch)
    }

    /// `data` is the file from offset `base` on, `end` its end records (as [`find_eocd`] found
    /// them in `data`) and their anomalies; `fetch(at, n, buf)` puts the file's bytes
    /// `at..at+n` (fewer at its end) in `buf`.
    fn parse_tail(
        data: &'a [u8],
        base: u64,
        (eocd, mut anomalies): (Eocd, Vec<Anomaly>),
        limits: Limits,
        fetch: &mut Fetch<'_>,
    ) -> Result<Archive<'a>, ZipError> {
        // find_eocd checked that the directory lies inside `data` and does not overflow.
        let cd_start = us(eocd.cd_offset - base);
        let cd_end = us(eocd.cd_offset + eocd.cd_size - base);
        let mut entries: Vec<Entry<'a>> = Vec::new();
        let mut pos = cd_start;
        // An entry is at least 46 bytes, so the directory size bounds the count.
        let max = usize::try_from(eocd.entries)
            .unwrap_or(usize::MAX)
            .min(us(eocd.cd_size) / CDE_LEN);
        let mut truncated = false;
        while pos < cd_end {
            if entries.len() >= max {
                break;
            }
            if entries.len() >= limits.max_entries {
                truncated = true;
                break;
            }
            let at = base + pos as u64;
            let bad = |what| ZipError::BadCentralDirectory { at, what };
            if u32_at(data, pos) != Some(CDE_SIG) {
                return Err(bad("missing central directory signature"));
            }
            if pos + CDE_LEN > cd_end {
                return Err(bad("entry runs off the central directory"));
            }
            let rd16 = |o: usize| u16_at(data, pos + o).unwrap_or(0);
            let rd32 = |o: usize| u32_at(data, pos + o).unwrap_or(0);
            let version_made_by = rd16(4);
            let flags = rd16(8);
            let method = rd16(10);
            let crc32 = rd32(16);
            let mut compressed_size = u64::from(rd32(20));
            let mut uncompressed_size = u64::from(rd32(24));
            let name_len = usize::from(rd16(28));
            let extra_len = usize::from(rd16(30));
            let comment_len = usize::from(rd16(32));
            let external_attributes = rd32(38);
            let mut local_header_offset = u64::from(rd32(42));
            let var_start = pos + CDE_LEN;
            let next = var_start + name_len + extra_len + comment_len;
            if next > cd_end {
                return Err(bad("name/extra/comment run off the central directory"));
            }
            let raw_name = &data[var_start..var_start + name_len];
            let extra = &data[var_start + name_len..var_start + name_len + extra_len];
            // Zip64 extended information: only the fields whose 32-bit value is saturated.
            if let Some(z) = zip64_extra(extra) {
                let mut k = 0;
                for v in [
                    &mut uncompressed_size,
                    &mut compressed_size,
                    &mut local_header_offset,
                ] {
                    if *v == 0xFFFF_FFFF {
                        if let Some(x) = u64_at(z, k) {
                            *v = x;
                        }
                        k += 8;
                    }
                }
            }
            entries.push(Entry {
                name: String::from_utf8_lossy(raw_name).into_owned(),
                raw_name,
                method,
                compressed_size,
                uncompressed_size,
                crc32,
                local_header_offset,
                data_offset: 0,
                flags,
                cd_index: entries.len(),
                local_header_ok: false,
                version_made_by,
                external_attributes,
            });
            pos = next;
        }
        if truncated {
            anomalies.push(Anomaly::Truncated { what: "entries" });
        } else if entries.len() as u64 != eocd.entries {
            anomalies.push(Anomaly::EntryCountMismatch {
                declared: eocd.entries,
                found: entries.len() as u64,
            });
        }
        if entries.is_empty() {
            anomalies.push(Anomaly::EmptyArchive);
        }
        let mut archive = Archive {
            data,
            base,
            entries,
            anomalies,
            by_name: BTreeMap::new(),
            overlapping: BTreeMap::new(),
            eocd_offset: eocd.offset,
            cd_offset: eocd.cd_offset,
            cd_size: eocd.cd_size,
            limits,
        };
        archive.check_entries(fetch)?;
        Ok(archive)
    }

    fn note(&mut self, a: Anomaly) {
        if self.anomalies.len() < self.limits.max_anomalies {
            self.anomalies.push(a);
        } else if self.anomalies.len() == self.limits.max_anomalies {
            self.anomalies
                .push(Anomaly::Truncated { what: "anomalies" });
        }
    }

    fn check_entries(&mut self, fetch: &mut Fetch<'_>) -> Result<(), ZipError> {
        let cd_offset = self.cd_offset;
        let mut counts: BTreeMap<&'a [u8], usize> = BTreeMap::new();
        let mut notes = Vec::new();
        // The local header being checked, with its name.
        let mut lh = Vec::new();
        for e in &mut self.entries {
            *counts.entry(e.raw_name).or_insert(0) += 1;
            self.by_name.entry(e.raw_name).or_insert(e.cd_index);
            if !valid_entry_name(e.raw_name) {
                notes.push(Anomaly::InvalidName {
                    name: e.name.clone(),
                });
            }
            if path_traversal(e.raw_name) {
                notes.push(Anomaly::NameWithPathTraversal {
                    name: e.name.clone(),
                });
            }
            if e.flags & FLAG_ENCRYPTED != 0 {
                notes.push(Anomaly::Encrypted {
                    name: e.name.clone(),
                });
            }
            if e.method != METHOD_STORED && e.method != METHOD_DEFLATE {
                notes.push(Anomaly::UnsupportedMethod {
                    name: e.name.clone(),
                    method: e.method,
                });
            }
            if e.method == METHOD_DEFLATE
                && e.uncompressed_size
                    > e.compressed_size
                        .saturating_mul(self.limits.max_ratio)
                        .saturating_add(self.limits.ratio_slack)
            {
                notes.push(Anomaly::SuspiciousRatio {
                    name: e.name.clone(),
                    compressed: e.compressed_size,
                    uncompressed: e.uncompressed_size,
                });
            }
            // Local header: libziparchive requires it to start before the central directory.
            let lho = e.local_header_offset;
            let bad = |what| Anomaly::BadLocalHeader {
                name: e.name.clone(),
                at: lho,
                what,
            };
            if lho.saturating_add(LFH_LEN as u64) > cd_offset {
                notes.push(bad("local header not before the central directory"));
                continue;
            }
            fetch(lho, LFH_LEN + e.raw_name.len(), &mut lh)?;
            if u32_at(&lh, 0) != Some(LFH_SIG) {
                notes.push(bad("missing local header signature"));
                continue;
            }
            let rd16 = |o: usize| u16_at(&lh, o).unwrap_or(0);
            let rd32 = |o: usize| u32_at(&lh, o).unwrap_or(0);
            let lflags = rd16(6);
            let lname_len = u64::from(rd16(26));
            let lextra_len = u64::from(rd16(28));
            let data_offset = lho + LFH_LEN as u64 + lname_len + lextra_len;
            e.data_offset = data_offset;
            if lname_len as usize != e.raw_name.len() {
                notes.push(Anomaly::LocalHeaderMismatch {
                    name: e.name.clone(),
                    what: "name length",
                });
            } else if slice(&lh, LFH_LEN, e.raw_name.len()) != Some(e.raw_name) {
                notes.push(Anomaly::LocalHeaderMismatch {
                    name: e.name.clone(),
                    what: "name",
                });
            }
            if rd16(8) != e.method {
                notes.push(Anomaly::LocalHeaderMismatch {
                    name: e.name.clone(),
                    what: "method",
                });
            }
            if lflags & FLAG_DATA_DESCRIPTOR == 0 && e.flags & FLAG_DATA_DESCRIPTOR == 0 {
                let lcomp = u64::from(rd32(18));
                let lunc = u64::from(rd32(22));
                // Zip64 entries carry 0xFFFFFFFF locally; the central values are authoritative.
                let z64 = lcomp == 0xFFFF_FFFF || lunc == 0xFFFF_FFFF;
                if rd32(14) != e.crc32 {
                    notes.push(Anomaly::LocalHeaderMismatch {
                        name: e.name.clone(),
                        what: "crc32",
                    });
                } else if !z64 && (lcomp != e.compressed_size || lunc != e.uncompressed_size) {
                    notes.push(Anomaly::LocalHeaderMismatch {
                        name: e.name.clone(),
                        what: "sizes",
                    });
                }
            }
            if (lflags ^ e.flags) & FLAG_DATA_DESCRIPTOR != 0 {
                notes.push(Anomaly::LocalHeaderMismatch {
                    name: e.name.clone(),
                    what: "data descriptor flag",
                });
            }
            let end = data_offset.saturating_add(e.compressed_size);
            if end > cd_offset
                || (e.method == METHOD_STORED
                    && data_offset.saturating_add(e.uncompressed_size) > cd_offset)
            {
                notes.push(Anomaly::DataOutOfBounds {
                    name: e.name.clone(),
                });
                continue;
            }
            e.local_header_ok = true;
        }
        for (name, count) in counts {
            if count > 1 {
                notes.push(Anomaly::DuplicateName {
                    name: String::from_utf8_lossy(name).into_owned(),
                    count,
                });
            }
        }
        // Prepended data: everything before the first local header (or the CD if none).
        let first = self
            .entries
            .iter()
            .map(|e| e.local_header_offset)
            .min()
            .unwrap_or(self.cd_offset)
            .min(self.cd_offset);
        if first > 0 {
            fetch(0, 4, &mut lh)?;
            notes.push(Anomaly::PrependedData {
                len: first,
                dex: lh.starts_with(b"dex\n"),
            });
        }
        // Overlaps between [local header, data end) ranges of well-formed entries, in file
        // order: an entry is kept when it starts at or after the end of every kept entry before
        // it; the others are never read (module docs). Only kept ranges are compared, so the
        // kept ones are disjoint and bound what reading can inflate.
        let mut ranges: Vec<(u64, u64, usize)> = self
            .entries
            .iter()
            .filter(|e| e.local_header_ok)
            .map(|e| {
                (
                    e.local_header_offset,
                    e.data_offset.saturating_add(e.compressed_size),
                    e.cd_index,
                )
            })
            .collect();
        // Same start (entries sharing one local header): the first in the directory is kept.
        ranges.sort_unstable_by_key(|&(start, _, idx)| (start, idx));
        let mut kept_end: Option<(u64, usize)> = None;
        for &(start, end, idx) in &ranges {
            match kept_end {
                Some((prev_end, prev_idx)) if start < prev_end => {
                    self.overlapping.insert(idx, prev_idx);
                    notes.push(Anomaly::OverlappingEntries {
                        first: self.entries[prev_idx].name.clone(),
                        second: self.entries[idx].name.clone(),
                    });
                }
                _ => kept_end = Some((end, idx)),
            }
        }
        for n in notes {
            self.note(n);
        }
        Ok(())
    }
}

/// The payload of the Zip64 extended information extra field (id 0x0001), if present.
fn zip64_extra(extra: &[u8]) -> Option<&[u8]> {
    let mut p = 0usize;
    while p + 4 <= extra.len() {
        let id = u16_at(extra, p)?;
        let len = usize::from(u16_at(extra, p + 2)?);
        let body = slice(extra, p + 4, len)?;
        if id == 0x0001 {
            return Some(body);
        }
        p += 4 + len;
    }
    None
}
