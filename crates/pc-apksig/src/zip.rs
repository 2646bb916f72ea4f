//! Just enough ZIP to find the APK Signing Block: EOCD and central directory bounds.

use crate::SigError;

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD_MIN: usize = 22;
/// The ZIP comment is at most 65535 bytes, so the EOCD starts within this many bytes of the end.
const EOCD_SEARCH: usize = EOCD_MIN + 0xffff;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const SB_MAGIC: &[u8; 16] = b"APK Sig Block 42";
/// Footer: u64 size + 16-byte magic.
const SB_FOOTER: u64 = 24;
/// apksig refuses blocks larger than the APK itself; we also cap the ID-value pairs we keep.
const MAX_PAIRS: usize = 4096;

/// Byte offsets of the ZIP structures v2/v3 digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZipOffsets {
    /// Start of the central directory.
    pub central_directory_offset: u64,
    /// Size of the central directory in bytes.
    pub central_directory_size: u64,
    /// Start of the End of Central Directory record.
    pub eocd_offset: u64,
}

/// The APK Signing Block: its file offset and the ID-value pairs it holds (borrowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningBlock<'a> {
    /// File offset of the block's first byte (its leading size field).
    pub offset: u64,
    /// ID-value pairs in file order.
    pub pairs: Vec<(u32, &'a [u8])>,
}

impl<'a> SigningBlock<'a> {
    /// First value stored under `id`.
    pub fn get(&self, id: u32) -> Option<&'a [u8]> {
        self.pairs.iter().find(|(i, _)| *i == id).map(|(_, v)| *v)
    }
}

pub(crate) fn u16le(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
pub(crate) fn u32le(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
pub(crate) fn u64le(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        d.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Locates the EOCD (searching back over a possible comment) and the central directory.
pub fn find_zip_offsets(apk: &[u8]) -> Result<ZipOffsets, SigError> {
    if apk.len() < EOCD_MIN {
        return Err(SigError::Malformed {
            at: 0,
            what: "too short for a ZIP EOCD",
        });
    }
    let last = apk.len() - EOCD_MIN;
    let first = apk.len().saturating_sub(EOCD_SEARCH);
    // Like apksig: the EOCD whose comment length reaches exactly the end of the file.
    let mut found = None;
    for at in (first..=last).rev() {
        if u32le(apk, at) == Some(EOCD_SIG) {
            let comment = u16le(apk, at + 20).unwrap_or(0) as usize;
            if at + EOCD_MIN + comment == apk.len() {
                found = Some(at);
                break;
            }
        }
    }
    let eocd = found.ok_or(SigError::Malformed {
        at: 0,
        what: "ZIP EOCD not found",
    })?;
    if eocd >= 20 && u32le(apk, eocd - 20) == Some(ZIP64_LOCATOR_SIG) {
        return Err(SigError::Malformed {
            at: eocd as u64,
            what: "ZIP64 archives are not APKs",
        });
    }
    let cd_size = u32le(apk, eocd + 12).unwrap_or(0) as u64;
    let cd_off = u32le(apk, eocd + 16).unwrap_or(0) as u64;
    let cd_end = cd_off.checked_add(cd_size).ok_or(SigError::Malformed {
        at: eocd as u64,
        what: "CD bounds overflow",
    })?;
    if cd_end != eocd as u64 {
        return Err(SigError::Malformed {
            at: eocd as u64,
            what: "central directory does not end where the EOCD starts",
        });
    }
    Ok(ZipOffsets {
        central_directory_offset: cd_off,
        central_directory_size: cd_size,
        eocd_offset: eocd as u64,
    })
}

/// Finds and parses the APK Signing Block just before the central directory; `None` if absent.
pub fn find_signing_block<'a>(
    apk: &'a [u8],
    offs: &ZipOffsets,
) -> Result<Option<SigningBlock<'a>>, SigError> {
    let cd = offs.central_directory_offset;
    if cd < SB_FOOTER + 8 || cd > apk.len() as u64 {
        return Ok(None);
    }
    let footer = (cd - SB_FOOTER) as usize;
    if apk.get(footer + 8..footer + 24) != Some(&SB_MAGIC[..]) {
        return Ok(None);
    }
    let size = u64le(apk, footer).ok_or(SigError::Malformed {
        at: footer as u64,
        what: "signing block footer",
    })?;
    if size < SB_FOOTER || size > i32::MAX as u64 {
        return Err(SigError::Malformed {
            at: footer as u64,
            what: "signing block size out of range",
        });
    }
    let total = size + 8;
    if total > cd {
        return Err(SigError::Malformed {
            at: footer as u64,
            what: "signing block larger than the data before the CD",
        });
    }
    let start = cd - total;
    let size_header = u64le(apk, start as usize).unwrap_or(0);
    if size_header != size {
        return Err(SigError::Malformed {
            at: start,
            what: "signing block size fields differ",
        });
    }
    let mut pairs = Vec::new();
    let mut pos = start + 8;
    let end = cd - SB_FOOTER;
    while pos < end {
        if end - pos < 8 {
            return Err(SigError::Malformed {
                at: pos,
                what: "truncated ID-value pair length",
            });
        }
        let len = u64le(apk, pos as usize).unwrap_or(0);
        if len < 4 || len > end - pos - 8 {
            return Err(SigError::Malformed {
                at: pos,
                what: "ID-value pair length out of range",
            });
        }
        let id = u32le(apk, (pos + 8) as usize).unwrap_or(0);
        let v0 = (pos + 12) as usize;
        let v1 = (pos + 8 + len) as usize;
        let value = apk.get(v0..v1).ok_or(SigError::Malformed {
            at: pos,
            what: "pair value past end",
        })?;
        if pairs.len() >= MAX_PAIRS {
            return Err(SigError::Malformed {
                at: pos,
                what: "too many ID-value pairs",
            });
        }
        pairs.push((id, value));
        pos = pos + 8 + len;
    }
    Ok(Some(SigningBlock {
        offset: start,
        pairs,
    }))
}
