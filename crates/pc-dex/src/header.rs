//! The header and the map list: finding the dex sections of a file or v41 container, checking
//! the magic, the header fields and that every id table and map entry fits the data.

use crate::read::{to_usize, u16_at, u32_at};
use crate::{DexError, Limits};

/// DEX header magic prefix.
const MAGIC_PREFIX: &[u8; 4] = b"dex\n";
/// Header size for versions before 041.
const HEADER_SIZE: usize = 0x70;
/// Header size for 041 (adds container_size and header_offset).
const HEADER_SIZE_V41: usize = 0x78;
const ENDIAN_CONSTANT: u32 = 0x1234_5678;
const REVERSE_ENDIAN_CONSTANT: u32 = 0x7856_3412;
/// "No index" marker for 32-bit indices (e.g. superclass of java.lang.Object).
pub const NO_INDEX: u32 = 0xffff_ffff;
/// Versions this crate reads.
pub const SUPPORTED_VERSIONS: [u16; 6] = [35, 37, 38, 39, 40, 41];

/// The parsed header_item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Format version (35, 37, 38, 39, 40 or 41).
    pub version: u16,
    /// Adler-32 of the rest of the file (not verified: we read, we don't vouch).
    pub checksum: u32,
    /// SHA-1 of the rest of the file (not verified).
    pub signature: [u8; 20],
    /// Size of this dex (one section of a v41 container).
    pub file_size: u32,
    pub header_size: u32,
    pub link_size: u32,
    pub link_off: u32,
    pub map_off: u32,
    pub string_ids_size: u32,
    pub string_ids_off: u32,
    pub type_ids_size: u32,
    pub type_ids_off: u32,
    pub proto_ids_size: u32,
    pub proto_ids_off: u32,
    pub field_ids_size: u32,
    pub field_ids_off: u32,
    pub method_ids_size: u32,
    pub method_ids_off: u32,
    pub class_defs_size: u32,
    pub class_defs_off: u32,
    pub data_size: u32,
    pub data_off: u32,
    /// v41 only: size of the whole container (0 before 041).
    pub container_size: u32,
    /// v41 only: offset of this header in the container (0 before 041).
    pub header_offset: u32,
}

/// A read-only view of one DEX file (or one section of a v41 container).
///
/// Offsets in a DEX are relative to the start of the file; in a v41 container they are relative
/// to the start of the container, which is why the view keeps the whole container.
#[derive(Debug, Clone)]
pub struct Dex<'a> {
    /// Bytes all offsets are relative to: the file (< 041) or the container (041).
    pub(crate) region: &'a [u8],
    /// Offset of the region within the slice given by the caller, so errors report positions
    /// in the caller's coordinates.
    pub(crate) region_pos: usize,
    pub(crate) header: Header,
    pub(crate) limits: Limits,
}

/// Returns `(offset, length)` of every dex inside `data`: for a v41 container, each embedded
/// dex section (walking `file_size` from header to header, up to `container_size`); for older
/// versions, the whole data. Returns an empty list if `data` does not start with a dex magic.
/// Sections are listed as far as their headers are readable; [`Dex::parse_at`] validates them.
pub fn dex_sections(data: &[u8]) -> Vec<(usize, usize)> {
    dex_sections_with(data, &Limits::default())
}

/// [`dex_sections`] with explicit limits.
pub fn dex_sections_with(data: &[u8], limits: &Limits) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let Ok(version) = read_magic(data, 0) else {
        return out;
    };
    if version < 41 {
        out.push((0, data.len()));
        return out;
    }
    let container_size = match u32_at(data, 0x70) {
        Some(c) => to_usize(c).min(data.len()),
        None => return out,
    };
    let mut off = 0usize;
    while off < container_size && out.len() < limits.max_sections {
        if read_magic(data, off).is_err() {
            break;
        }
        let Some(size) = u32_at(data, off.saturating_add(0x20)).map(to_usize) else {
            break;
        };
        if size < HEADER_SIZE_V41 {
            break;
        }
        let len = size.min(container_size - off);
        out.push((off, len));
        off = off.saturating_add(size);
    }
    out
}

/// Checks the 8-byte magic at `off` and returns the version number.
fn read_magic(data: &[u8], off: usize) -> Result<u16, DexError> {
    let at = off as u64;
    let m = data
        .get(off..off.saturating_add(8))
        .filter(|m| m.len() == 8)
        .ok_or(DexError::Truncated {
            at,
            what: "shorter than the dex magic",
        })?;
    if m.get(..4) != Some(&MAGIC_PREFIX[..]) {
        return Err(DexError::BadMagic {
            at,
            what: "missing \"dex\\n\" magic",
        });
    }
    let mut version = 0u16;
    for &d in m.get(4..7).unwrap_or(&[]) {
        if !d.is_ascii_digit() {
            return Err(DexError::BadMagic {
                at: at + 4,
                what: "version is not three digits",
            });
        }
        version = version * 10 + u16::from(d - b'0');
    }
    if m.get(7) != Some(&0) {
        return Err(DexError::BadMagic {
            at: at + 7,
            what: "magic not NUL-terminated",
        });
    }
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(DexError::UnsupportedVersion {
            at: at + 4,
            version,
        });
    }
    Ok(version)
}

impl<'a> Dex<'a> {
    /// Parses the header of the dex at the start of `data` (for a v41 container: its first
    /// section; see [`Dex::parse_all`]) and validates the map list.
    pub fn parse(data: &'a [u8]) -> Result<Dex<'a>, DexError> {
        Self::parse_at_with(data, 0, Limits::default())
    }

    /// Parses every dex in `data` (several for a v41 container, one otherwise).
    pub fn parse_all(data: &'a [u8]) -> Result<Vec<Dex<'a>>, DexError> {
        let limits = Limits::default();
        let sections = dex_sections_with(data, &limits);
        if sections.is_empty() {
            // Report why.
            read_magic(data, 0)?;
        }
        sections
            .into_iter()
            .map(|(off, _)| Self::parse_at_with(data, off, limits))
            .collect()
    }

    /// Parses the dex whose header starts at `offset` in `data`. For v41 containers `data` must
    /// be the whole container (offsets are relative to it); for older versions the dex runs from
    /// `offset` for `file_size` bytes.
    pub fn parse_at(data: &'a [u8], offset: usize) -> Result<Dex<'a>, DexError> {
        Self::parse_at_with(data, offset, Limits::default())
    }

    /// [`Dex::parse_at`] with explicit limits.
    pub fn parse_at_with(
        data: &'a [u8],
        offset: usize,
        limits: Limits,
    ) -> Result<Dex<'a>, DexError> {
        let version = read_magic(data, offset)?;
        let need = if version >= 41 {
            HEADER_SIZE_V41
        } else {
            HEADER_SIZE
        };
        let avail = data.len().saturating_sub(offset);
        if avail < need {
            return Err(DexError::Truncated {
                at: data.len() as u64,
                what: "shorter than the dex header",
            });
        }
        let rd = |field: usize| u32_at(data, offset + field).unwrap_or(0);
        let mut signature = [0u8; 20];
        if let Some(s) = data.get(offset + 12..offset + 32) {
            signature.copy_from_slice(s);
        }
        let h = Header {
            version,
            checksum: rd(8),
            signature,
            file_size: rd(0x20),
            header_size: rd(0x24),
            link_size: rd(0x2c),
            link_off: rd(0x30),
            map_off: rd(0x34),
            string_ids_size: rd(0x38),
            string_ids_off: rd(0x3c),
            type_ids_size: rd(0x40),
            type_ids_off: rd(0x44),
            proto_ids_size: rd(0x48),
            proto_ids_off: rd(0x4c),
            field_ids_size: rd(0x50),
            field_ids_off: rd(0x54),
            method_ids_size: rd(0x58),
            method_ids_off: rd(0x5c),
            class_defs_size: rd(0x60),
            class_defs_off: rd(0x64),
            data_size: rd(0x68),
            data_off: rd(0x6c),
            container_size: if version >= 41 { rd(0x70) } else { 0 },
            header_offset: if version >= 41 { rd(0x74) } else { 0 },
        };
        let hat = |field: usize| (offset + field) as u64;
        match rd(0x28) {
            ENDIAN_CONSTANT => {}
            REVERSE_ENDIAN_CONSTANT => {
                return Err(DexError::Malformed {
                    at: hat(0x28),
                    what: "big-endian dex files are not supported",
                });
            }
            _ => {
                return Err(DexError::Malformed {
                    at: hat(0x28),
                    what: "bad endian tag",
                });
            }
        }
        if to_usize(h.header_size) != need {
            return Err(DexError::Malformed {
                at: hat(0x24),
                what: "header_size does not match the version",
            });
        }
        let file_size = to_usize(h.file_size);
        if file_size < need {
            return Err(DexError::Malformed {
                at: hat(0x20),
                what: "file_size smaller than the header",
            });
        }
        let (region, region_pos) = if version >= 41 {
            let container = to_usize(h.container_size);
            if to_usize(h.header_offset) != offset {
                return Err(DexError::Malformed {
                    at: hat(0x74),
                    what: "header_offset does not match the header position",
                });
            }
            if container > data.len() {
                return Err(DexError::Truncated {
                    at: hat(0x70),
                    what: "container_size exceeds the data",
                });
            }
            if offset
                .checked_add(file_size)
                .is_none_or(|end| end > container)
            {
                return Err(DexError::Malformed {
                    at: hat(0x20),
                    what: "dex section exceeds container_size",
                });
            }
            (data.get(..container).unwrap_or(&[]), 0)
        } else {
            if file_size > avail {
                return Err(DexError::Truncated {
                    at: hat(0x20),
                    what: "file_size exceeds the data",
                });
            }
            (data.get(offset..offset + file_size).unwrap_or(&[]), offset)
        };
        let dex = Dex {
            region,
            region_pos,
            header: h,
            limits,
        };
        dex.check_tables()?;
        dex.check_map()?;
        Ok(dex)
    }

    /// Position of `off` (a region offset) in the caller's slice, for errors.
    #[inline]
    pub(crate) fn pos(&self, off: usize) -> u64 {
        self.region_pos.saturating_add(off) as u64
    }

    /// Offset of this dex's header in the region (non-zero only for later v41 sections).
    pub(crate) fn base(&self) -> usize {
        to_usize(self.header.header_offset)
    }

    pub(crate) fn check_tables(&self) -> Result<(), DexError> {
        let h = &self.header;
        let l = &self.limits;
        let tables: [(u32, u32, usize, u32, usize, &'static str); 6] = [
            (
                h.string_ids_size,
                h.string_ids_off,
                4,
                l.max_strings,
                0x38,
                "string_ids",
            ),
            (
                h.type_ids_size,
                h.type_ids_off,
                4,
                l.max_ids,
                0x40,
                "type_ids",
            ),
            (
                h.proto_ids_size,
                h.proto_ids_off,
                12,
                l.max_ids,
                0x48,
                "proto_ids",
            ),
            (
                h.field_ids_size,
                h.field_ids_off,
                8,
                l.max_ids,
                0x50,
                "field_ids",
            ),
            (
                h.method_ids_size,
                h.method_ids_off,
                8,
                l.max_ids,
                0x58,
                "method_ids",
            ),
            (
                h.class_defs_size,
                h.class_defs_off,
                32,
                l.max_ids,
                0x60,
                "class_defs",
            ),
        ];
        for (size, off, item, cap, field, what) in tables {
            let at = self.pos(self.base() + field);
            if size == 0 {
                continue;
            }
            if size > cap {
                return Err(DexError::LimitExceeded { at, what });
            }
            let end = to_usize(size)
                .checked_mul(item)
                .and_then(|n| n.checked_add(to_usize(off)));
            if end.is_none_or(|e| e > self.region.len()) {
                return Err(DexError::Truncated { at, what });
            }
        }
        if h.version < 41 && h.data_size != 0 {
            let end = to_usize(h.data_off).checked_add(to_usize(h.data_size));
            if end.is_none_or(|e| e > self.region.len()) {
                return Err(DexError::Truncated {
                    at: self.pos(0x68),
                    what: "data section exceeds the file",
                });
            }
        }
        Ok(())
    }

    /// Validates the map list: bounds, the header entry, and agreement of the id-table entries
    /// with the header (as ART's verifier does).
    pub(crate) fn check_map(&self) -> Result<(), DexError> {
        let h = &self.header;
        let map_off = to_usize(h.map_off);
        let at = self.pos(self.base() + 0x34);
        if map_off == 0 {
            return Err(DexError::Malformed {
                at,
                what: "map_off is zero",
            });
        }
        let count = u32_at(self.region, map_off).ok_or(DexError::Truncated {
            at,
            what: "map list past end",
        })?;
        if count > self.limits.max_map_items {
            return Err(DexError::LimitExceeded {
                at: self.pos(map_off),
                what: "map list size",
            });
        }
        let items_end = to_usize(count)
            .checked_mul(12)
            .and_then(|n| n.checked_add(map_off + 4));
        if items_end.is_none_or(|e| e > self.region.len()) {
            return Err(DexError::Truncated {
                at: self.pos(map_off),
                what: "map list past end",
            });
        }
        let mut seen_header = false;
        for i in 0..to_usize(count) {
            let p = map_off + 4 + i * 12;
            let ty = u16_at(self.region, p).unwrap_or(0xffff);
            let size = u32_at(self.region, p + 4).unwrap_or(0);
            let off = u32_at(self.region, p + 8).unwrap_or(0);
            let bad = |what| DexError::Malformed {
                at: self.pos(p),
                what,
            };
            if to_usize(off) > self.region.len() {
                return Err(DexError::Truncated {
                    at: self.pos(p + 8),
                    what: "map item offset past end",
                });
            }
            let expect = match ty {
                0x0000 => {
                    seen_header = true;
                    if to_usize(off) != self.base() || size != 1 {
                        return Err(bad("map header item does not describe this header"));
                    }
                    None
                }
                0x0001 => Some((h.string_ids_size, h.string_ids_off)),
                0x0002 => Some((h.type_ids_size, h.type_ids_off)),
                0x0003 => Some((h.proto_ids_size, h.proto_ids_off)),
                0x0004 => Some((h.field_ids_size, h.field_ids_off)),
                0x0005 => Some((h.method_ids_size, h.method_ids_off)),
                0x0006 => Some((h.class_defs_size, h.class_defs_off)),
                0x1000 => {
                    if to_usize(off) != map_off {
                        return Err(bad("map list item does not point at the map"));
                    }
                    None
                }
                _ => None,
            };
            if let Some((hsize, hoff)) = expect
                && (hsize != size || (size != 0 && hoff != off))
            {
                return Err(bad("map item disagrees with the header"));
            }
        }
        if !seen_header {
            return Err(DexError::Malformed {
                at: self.pos(map_off),
                what: "map list has no header item",
            });
        }
        Ok(())
    }

    /// The format version (35, 37, 38, 39, 40 or 41).
    pub fn version(&self) -> u16 {
        self.header.version
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The limits this view was parsed with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Number of strings.
    pub fn string_ids_count(&self) -> u32 {
        self.header.string_ids_size
    }
    /// Number of types.
    pub fn type_ids_count(&self) -> u32 {
        self.header.type_ids_size
    }
    /// Number of prototypes.
    pub fn proto_ids_count(&self) -> u32 {
        self.header.proto_ids_size
    }
    /// Number of field references.
    pub fn field_ids_count(&self) -> u32 {
        self.header.field_ids_size
    }
    /// Number of method references.
    pub fn method_ids_count(&self) -> u32 {
        self.header.method_ids_size
    }
    /// Number of class definitions.
    pub fn class_count(&self) -> u32 {
        self.header.class_defs_size
    }
}
