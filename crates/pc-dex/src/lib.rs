//! Zero-copy reader for Dalvik executables (DEX format versions 035, 037, 038, 039, 040 and the
//! 041 container format), built for one job: finding which code calls which APIs, fast.
//!
//! [`Dex`] is a view over the mapped bytes. Nothing is parsed up front beyond the header and the
//! map list; strings, types, protos, fields, methods and classes are read on demand from their
//! id tables. [`Dex::call_sites`] walks every method's bytecode linearly, decoding only
//! instruction widths and the operands of `invoke-*`, `iget*`/`sget*` and `const-string`.
//! [`rules::find_calls`] is the fast path for identifier-reading APIs: it matches the id tables
//! against a rule set first and skips the bytecode entirely when nothing can match.
//!
//! Hostile input is expected: every offset and count is checked against the data, counts are
//! capped by [`Limits`], and the total bytecode walk is bounded by a work budget, so malformed
//! files yield a [`DexError`] carrying the byte offset, never a panic or a hang.
#![forbid(unsafe_code)]

use std::borrow::Cow;

mod code;
mod mutf8;
pub mod rules;

pub use code::{Insn, Instructions, OPCODE_KINDS, OPCODE_NAMES, OPCODE_WIDTHS, OpKind};

/// Errors from reading a DEX file. `at` is the byte offset (in the slice given to
/// [`Dex::parse`]) where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DexError {
    /// The data does not start with a DEX magic.
    #[error("not a dex file (at byte {at}): {what}")]
    BadMagic { at: u64, what: &'static str },
    /// A DEX magic with a version this crate does not read.
    #[error("unsupported dex version {version:03} (at byte {at})")]
    UnsupportedVersion { at: u64, version: u16 },
    /// A structure runs past the end of the data.
    #[error("truncated dex (at byte {at}): {what}")]
    Truncated { at: u64, what: &'static str },
    /// A structure is inconsistent.
    #[error("malformed dex (at byte {at}): {what}")]
    Malformed { at: u64, what: &'static str },
    /// An index does not fit its table.
    #[error("{what} index {index} out of range (at byte {at})")]
    IndexOutOfRange {
        at: u64,
        what: &'static str,
        index: u32,
    },
    /// A string is not valid modified UTF-8.
    #[error("invalid string data (at byte {at}): {what}")]
    BadString { at: u64, what: &'static str },
    /// A count or the amount of work exceeds [`Limits`].
    #[error("limit exceeded (at byte {at}): {what}")]
    LimitExceeded { at: u64, what: &'static str },
}

impl DexError {
    /// Byte offset where the error was detected.
    pub fn at(&self) -> u64 {
        match self {
            DexError::BadMagic { at, .. }
            | DexError::UnsupportedVersion { at, .. }
            | DexError::Truncated { at, .. }
            | DexError::Malformed { at, .. }
            | DexError::IndexOutOfRange { at, .. }
            | DexError::BadString { at, .. }
            | DexError::LimitExceeded { at, .. } => *at,
        }
    }
}

/// Caps on counts read from the file. Every table is also checked to fit in the data, so these
/// only bound work and memory beyond what the file size already implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Max entries in type_ids, proto_ids, field_ids, method_ids and class_defs. Instructions
    /// address these with 16-bit indices, so real files never exceed 65536.
    pub max_ids: u32,
    /// Max entries in string_ids (`const-string/jumbo` uses 32-bit indices).
    pub max_strings: u32,
    /// Max entries in the map list (the format defines about 20 item types).
    pub max_map_items: u32,
    /// Max dex sections in one v41 container.
    pub max_sections: usize,
    /// Max bytes of one string returned by [`Dex::string`].
    pub max_string_len: usize,
    /// Max bytes of a type descriptor, member name or shorty (class files cap them at 65535).
    pub max_name_len: usize,
    /// Max bytes of a prototype descriptor (at most 255 parameters anyway).
    pub max_proto_len: usize,
    /// Work budget for walking class data and bytecode, and for the strings produced by the
    /// iterators and [`Dex::call_sites`], as a multiple of the data length (in bytes, plus
    /// 1 MiB). Bounds files whose entries all share one huge class_data, code item or string.
    pub work_factor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ids: 65_536,
            max_strings: 1 << 24,
            max_map_items: 64,
            max_sections: 1024,
            max_string_len: 4 << 20,
            max_name_len: 65_535,
            max_proto_len: 65_535,
            work_factor: 8,
        }
    }
}

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
/// Max parameters of a method (the format allows 255 argument words).
const MAX_PROTO_PARAMS: usize = 255;
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
    region: &'a [u8],
    /// Offset of the region within the slice given by the caller, so errors report positions
    /// in the caller's coordinates.
    region_pos: usize,
    header: Header,
    limits: Limits,
}

/// A method reference (method_id_item), resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MethodRef<'a> {
    /// Declaring class descriptor, e.g. `Landroid/telephony/TelephonyManager;`.
    pub class: Cow<'a, str>,
    /// Method name, e.g. `getDeviceId`.
    pub name: Cow<'a, str>,
    /// Shorty descriptor, e.g. `LI`.
    pub shorty: Cow<'a, str>,
    /// Full prototype, e.g. `(I)Ljava/lang/String;`.
    pub proto: String,
}

/// A field reference (field_id_item), resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRef<'a> {
    /// Declaring class descriptor.
    pub class: Cow<'a, str>,
    /// Field name.
    pub name: Cow<'a, str>,
    /// Field type descriptor.
    pub type_descriptor: Cow<'a, str>,
}

/// A class_def_item, resolved.
#[derive(Debug, Clone)]
pub struct ClassDef<'a> {
    /// Position in class_defs.
    pub index: u32,
    /// type_ids index of the class.
    pub class_idx: u32,
    /// Class descriptor, e.g. `Lcom/example/Foo;`.
    pub descriptor: Cow<'a, str>,
    /// Superclass descriptor (`None` for java.lang.Object).
    pub superclass: Option<Cow<'a, str>>,
    pub access_flags: u32,
    pub interfaces_off: u32,
    pub source_file_idx: u32,
    pub annotations_off: u32,
    /// Offset of the class_data_item (0: no fields or methods).
    pub class_data_off: u32,
    pub static_values_off: u32,
    region: &'a [u8],
    region_pos: usize,
}

/// One encoded_method of a class_data_item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodedMethod {
    /// method_ids index.
    pub method_idx: u32,
    pub access_flags: u32,
    /// Offset of the code_item; 0 for abstract and native methods.
    pub code_off: u32,
    /// Whether it came from the direct (static/private/constructor) list.
    pub direct: bool,
}

impl EncodedMethod {
    /// Whether the method has bytecode.
    pub fn has_code(&self) -> bool {
        self.code_off != 0
    }
}

/// A code_item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeItem<'a> {
    /// Offset of the code_item in the region.
    pub offset: u32,
    pub registers_size: u16,
    pub ins_size: u16,
    pub outs_size: u16,
    pub tries_size: u16,
    pub debug_info_off: u32,
    /// Number of 16-bit code units.
    pub insns_size: u32,
    /// The bytecode (`insns_size * 2` bytes).
    pub insns: &'a [u8],
    insns_pos: usize,
}

impl<'a> CodeItem<'a> {
    /// Decodes the instructions one by one.
    pub fn instructions(&self) -> Instructions<'a> {
        Instructions {
            insns: self.insns,
            pc: 0,
            base: self.insns_pos,
            failed: false,
        }
    }
}

/// A call site: an `invoke-*` or a field read (`iget*`/`sget*`) inside a method's code, resolved
/// to names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallSite<'a> {
    pub caller_class: Cow<'a, str>,
    pub caller_method: Cow<'a, str>,
    pub caller_proto: String,
    pub callee_class: Cow<'a, str>,
    /// Method or field name.
    pub callee_name: Cow<'a, str>,
    /// Method prototype, or the field's type descriptor for field reads.
    pub callee_proto: String,
    /// Mnemonic: "invoke-virtual", "invoke-static/range", "sget-object", ...
    pub opcode: &'static str,
    /// Address of the instruction in 16-bit code units from the start of the caller's code
    /// (dexdump's `|0004:` column).
    pub code_offset: u32,
}

/// A raw reference found in bytecode, before name resolution (see [`Dex::walk_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRef {
    /// method_ids index of the method containing the instruction.
    pub caller_method_idx: u32,
    /// The opcode byte.
    pub opcode: u8,
    /// What `index` refers to.
    pub kind: OpKind,
    /// Method, field or string index operand.
    pub index: u32,
    /// Instruction address in code units.
    pub pc: u32,
}

/// Receives the references found by [`Dex::walk_code`].
pub trait CodeVisitor {
    /// One reference in the bytecode.
    fn on_ref(&mut self, r: CodeRef);
    /// Called after the last instruction of each method.
    fn on_method_end(&mut self, _caller_method_idx: u32) {}
}

impl<F: FnMut(CodeRef)> CodeVisitor for F {
    fn on_ref(&mut self, r: CodeRef) {
        self(r)
    }
}

// ----- little-endian readers over the region -----

#[inline]
fn u16_at(d: &[u8], off: usize) -> Option<u16> {
    let b = d.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(b.try_into().ok()?))
}

#[inline]
fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    let b = d.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Reads an unsigned LEB128 (at most 5 bytes) at `*pos`, advancing it.
#[inline]
fn read_uleb(d: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result = 0u32;
    for i in 0..5u32 {
        let b = *d.get(*pos)?;
        *pos += 1;
        result |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(result);
        }
    }
    None
}

fn to_usize(v: u32) -> usize {
    // u32 always fits in usize on the 32/64-bit targets we build for.
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Work budget shared by one walk over a dex.
pub(crate) struct Budget {
    left: u64,
}

impl Budget {
    pub(crate) fn new(len: usize, factor: u64) -> Self {
        Budget {
            left: (len as u64).saturating_mul(factor).saturating_add(1 << 20),
        }
    }
    #[inline]
    pub(crate) fn spend(&mut self, n: u64, at: usize) -> Result<(), DexError> {
        match self.left.checked_sub(n) {
            Some(l) => {
                self.left = l;
                Ok(())
            }
            None => Err(DexError::LimitExceeded {
                at: at as u64,
                what: "work budget for class data and bytecode exhausted",
            }),
        }
    }
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
    fn pos(&self, off: usize) -> u64 {
        self.region_pos.saturating_add(off) as u64
    }

    /// Offset of this dex's header in the region (non-zero only for later v41 sections).
    fn base(&self) -> usize {
        to_usize(self.header.header_offset)
    }

    fn check_tables(&self) -> Result<(), DexError> {
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
    fn check_map(&self) -> Result<(), DexError> {
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

    /// Offset of entry `idx` of a table, checked against its size.
    #[inline]
    fn entry(
        &self,
        idx: u32,
        size: u32,
        off: u32,
        item: usize,
        what: &'static str,
    ) -> Result<usize, DexError> {
        if idx >= size {
            return Err(DexError::IndexOutOfRange {
                at: self.pos(to_usize(off)),
                what,
                index: idx,
            });
        }
        // In range: check_tables proved off + size * item fits the region.
        Ok(to_usize(off) + to_usize(idx) * item)
    }

    /// Raw MUTF-8 bytes of string `idx` (without the NUL terminator) and their offset, if at
    /// most `max` bytes long; `Ok(None)` if longer. Only `max + 1` bytes are scanned, so matching
    /// against short needles costs nothing even when every id points at one huge string.
    pub(crate) fn string_bytes_max(
        &self,
        idx: u32,
        max: usize,
    ) -> Result<Option<(&'a [u8], usize)>, DexError> {
        let h = &self.header;
        let e = self.entry(idx, h.string_ids_size, h.string_ids_off, 4, "string")?;
        let data_off = to_usize(u32_at(self.region, e).unwrap_or(0));
        let mut pos = data_off;
        if read_uleb(self.region, &mut pos).is_none() {
            return Err(DexError::Truncated {
                at: self.pos(data_off),
                what: "string data past end",
            });
        }
        let rest = self.region.get(pos..).unwrap_or(&[]);
        let window = rest.get(..max.saturating_add(1)).unwrap_or(rest);
        match memchr::memchr(0, window) {
            Some(len) => Ok(Some((window.get(..len).unwrap_or(&[]), pos))),
            None if window.len() < rest.len() => Ok(None),
            None => Err(DexError::Truncated {
                at: self.pos(pos),
                what: "string data not NUL-terminated",
            }),
        }
    }

    /// String `idx` decoded, failing if it is longer than `max` bytes.
    fn string_capped(&self, idx: u32, max: usize) -> Result<Cow<'a, str>, DexError> {
        let (bytes, pos) = self
            .string_bytes_max(idx, max)?
            .ok_or(DexError::LimitExceeded {
                at: self.pos(to_usize(self.header.string_ids_off)),
                what: "string longer than the limit",
            })?;
        mutf8::decode(bytes, self.region_pos.saturating_add(pos))
    }

    /// A string used as a name or descriptor (capped at `max_name_len`).
    fn name(&self, idx: u32) -> Result<Cow<'a, str>, DexError> {
        self.string_capped(idx, self.limits.max_name_len)
    }

    /// String `idx`, decoded from MUTF-8 (borrowed when it is plain ASCII).
    pub fn string(&self, idx: u32) -> Result<Cow<'a, str>, DexError> {
        self.string_capped(idx, self.limits.max_string_len)
    }

    /// All strings, in string_ids order. Stops with `LimitExceeded` once the decoded bytes
    /// exceed the work budget (only possible when many ids share huge string data).
    pub fn strings(&self) -> impl Iterator<Item = Result<Cow<'a, str>, DexError>> + '_ {
        let mut budget = Budget::new(self.region.len(), self.limits.work_factor);
        let mut stop = false;
        (0..self.header.string_ids_size).map_while(move |i| {
            if stop {
                return None;
            }
            let r = self.string(i);
            if let Ok(s) = &r
                && let Err(e) =
                    budget.spend(s.len() as u64 + 1, to_usize(self.header.string_ids_off))
            {
                stop = true;
                return Some(Err(e));
            }
            Some(r)
        })
    }

    /// string_ids index of type `idx`'s descriptor.
    fn type_string_idx(&self, idx: u32) -> Result<u32, DexError> {
        let h = &self.header;
        let e = self.entry(idx, h.type_ids_size, h.type_ids_off, 4, "type")?;
        Ok(u32_at(self.region, e).unwrap_or(NO_INDEX))
    }

    /// Raw descriptor bytes of type `idx` if at most `max` bytes long.
    pub(crate) fn type_bytes_max(
        &self,
        idx: u32,
        max: usize,
    ) -> Result<Option<&'a [u8]>, DexError> {
        Ok(self
            .string_bytes_max(self.type_string_idx(idx)?, max)?
            .map(|(b, _)| b))
    }

    /// Descriptor of type `idx`, e.g. `Ljava/lang/String;` or `[I`.
    pub fn type_descriptor(&self, idx: u32) -> Result<Cow<'a, str>, DexError> {
        self.name(self.type_string_idx(idx)?)
    }

    /// Shorty and full descriptor (`(Ljava/lang/String;I)V`) of prototype `idx`.
    pub fn proto(&self, idx: u32) -> Result<(Cow<'a, str>, String), DexError> {
        let h = &self.header;
        let e = self.entry(idx, h.proto_ids_size, h.proto_ids_off, 12, "proto")?;
        let shorty_idx = u32_at(self.region, e).unwrap_or(NO_INDEX);
        let return_idx = u32_at(self.region, e + 4).unwrap_or(NO_INDEX);
        let params_off = u32_at(self.region, e + 8).unwrap_or(0);
        let shorty = self.name(shorty_idx)?;
        let too_long = || DexError::LimitExceeded {
            at: self.pos(e),
            what: "prototype longer than the limit",
        };
        let params = self.type_list(params_off)?;
        if params.len() > MAX_PROTO_PARAMS {
            return Err(too_long());
        }
        let mut desc = String::from("(");
        for t in params {
            desc.push_str(&self.type_descriptor(u32::from(t))?);
            if desc.len() > self.limits.max_proto_len {
                return Err(too_long());
            }
        }
        desc.push(')');
        desc.push_str(&self.type_descriptor(return_idx)?);
        if desc.len() > self.limits.max_proto_len {
            return Err(too_long());
        }
        Ok((shorty, desc))
    }

    /// Whether prototype `idx`'s full descriptor is `want`. Only called for the few ids whose
    /// class and name already matched a rule, so building the string is fine.
    pub(crate) fn proto_matches(&self, idx: u32, want: &str) -> Result<bool, DexError> {
        Ok(self.proto(idx)?.1 == want)
    }

    /// Type indices of a type_list (empty for offset 0).
    fn type_list(&self, off: u32) -> Result<impl ExactSizeIterator<Item = u16> + 'a, DexError> {
        let off = to_usize(off);
        let region = self.region;
        let count = if off == 0 {
            0
        } else {
            let trunc = DexError::Truncated {
                at: self.pos(off),
                what: "type_list past end",
            };
            let n = to_usize(u32_at(region, off).ok_or(trunc.clone())?);
            // Checked here so the iterator below never reads past the end.
            let end = n.checked_mul(2).and_then(|b| b.checked_add(off + 4));
            if end.is_none_or(|e| e > region.len()) {
                return Err(trunc);
            }
            n
        };
        Ok((0..count).map(move |i| u16_at(region, off + 4 + i * 2).unwrap_or(0)))
    }

    /// Raw method_id fields: (class_idx, proto_idx, name_idx).
    pub(crate) fn method_id(&self, idx: u32) -> Result<(u32, u32, u32), DexError> {
        let h = &self.header;
        let e = self.entry(idx, h.method_ids_size, h.method_ids_off, 8, "method")?;
        Ok((
            u32::from(u16_at(self.region, e).unwrap_or(0)),
            u32::from(u16_at(self.region, e + 2).unwrap_or(0)),
            u32_at(self.region, e + 4).unwrap_or(NO_INDEX),
        ))
    }

    /// Raw field_id fields: (class_idx, type_idx, name_idx).
    pub(crate) fn field_id(&self, idx: u32) -> Result<(u32, u32, u32), DexError> {
        let h = &self.header;
        let e = self.entry(idx, h.field_ids_size, h.field_ids_off, 8, "field")?;
        Ok((
            u32::from(u16_at(self.region, e).unwrap_or(0)),
            u32::from(u16_at(self.region, e + 2).unwrap_or(0)),
            u32_at(self.region, e + 4).unwrap_or(NO_INDEX),
        ))
    }

    /// Method reference `idx`, resolved.
    pub fn method_ref(&self, idx: u32) -> Result<MethodRef<'a>, DexError> {
        let (class_idx, proto_idx, name_idx) = self.method_id(idx)?;
        let (shorty, proto) = self.proto(proto_idx)?;
        Ok(MethodRef {
            class: self.type_descriptor(class_idx)?,
            name: self.name(name_idx)?,
            shorty,
            proto,
        })
    }

    /// Field reference `idx`, resolved.
    pub fn field_ref(&self, idx: u32) -> Result<FieldRef<'a>, DexError> {
        let (class_idx, type_idx, name_idx) = self.field_id(idx)?;
        Ok(FieldRef {
            class: self.type_descriptor(class_idx)?,
            name: self.name(name_idx)?,
            type_descriptor: self.type_descriptor(type_idx)?,
        })
    }

    /// Class definition `idx`, resolved.
    pub fn class_def(&self, idx: u32) -> Result<ClassDef<'a>, DexError> {
        let h = &self.header;
        let e = self.entry(idx, h.class_defs_size, h.class_defs_off, 32, "class_def")?;
        let f = |k: usize| u32_at(self.region, e + 4 * k).unwrap_or(0);
        let class_idx = f(0);
        let superclass_idx = f(2);
        Ok(ClassDef {
            index: idx,
            class_idx,
            descriptor: self.type_descriptor(class_idx)?,
            superclass: if superclass_idx == NO_INDEX {
                None
            } else {
                Some(self.type_descriptor(superclass_idx)?)
            },
            access_flags: f(1),
            interfaces_off: f(3),
            source_file_idx: f(4),
            annotations_off: f(5),
            class_data_off: f(6),
            static_values_off: f(7),
            region: self.region,
            region_pos: self.region_pos,
        })
    }

    /// All class definitions, in class_defs order. Stops with `LimitExceeded` once the
    /// descriptor bytes exceed the work budget (only possible with shared huge descriptors).
    pub fn classes(&self) -> impl Iterator<Item = Result<ClassDef<'a>, DexError>> + '_ {
        let mut budget = Budget::new(self.region.len(), self.limits.work_factor);
        let mut stop = false;
        (0..self.header.class_defs_size).map_while(move |i| {
            if stop {
                return None;
            }
            let r = self.class_def(i);
            if let Ok(c) = &r {
                let n = c.descriptor.len() + c.superclass.as_ref().map_or(0, |s| s.len()) + 32;
                if let Err(e) = budget.spend(n as u64, to_usize(self.header.class_defs_off)) {
                    stop = true;
                    return Some(Err(e));
                }
            }
            Some(r)
        })
    }

    /// The code_item at `code_off` (from [`EncodedMethod::code_off`]).
    pub fn code_item(&self, code_off: u32) -> Result<CodeItem<'a>, DexError> {
        let off = to_usize(code_off);
        let trunc = DexError::Truncated {
            at: self.pos(off),
            what: "code_item past end",
        };
        let r = self.region;
        let insns_size =
            u32_at(r, off.checked_add(12).ok_or(trunc.clone())?).ok_or(trunc.clone())?;
        let start = off + 16;
        let end = to_usize(insns_size)
            .checked_mul(2)
            .and_then(|n| n.checked_add(start))
            .filter(|&e| e <= r.len())
            .ok_or(DexError::Truncated {
                at: self.pos(off + 12),
                what: "code_item insns_size past end",
            })?;
        Ok(CodeItem {
            offset: code_off,
            registers_size: u16_at(r, off).unwrap_or(0),
            ins_size: u16_at(r, off + 2).unwrap_or(0),
            outs_size: u16_at(r, off + 4).unwrap_or(0),
            tries_size: u16_at(r, off + 6).unwrap_or(0),
            debug_info_off: u32_at(r, off + 8).unwrap_or(0),
            insns_size,
            insns: r.get(start..end).unwrap_or(&[]),
            insns_pos: self.region_pos.saturating_add(start),
        })
    }

    /// Walks every method with code in every class, reporting each method, field and string
    /// reference in the bytecode to `v` (`invoke-*` incl. polymorphic, `iget*`/`sget*`,
    /// `iput*`/`sput*`, `const-string[/jumbo]`; `invoke-custom` is skipped: it names a call site,
    /// not a method). Bounded by the work budget in [`Limits`].
    pub fn walk_code<V: CodeVisitor>(&self, v: &mut V) -> Result<(), DexError> {
        let mut budget = Budget::new(self.region.len(), self.limits.work_factor);
        let h = &self.header;
        for ci in 0..h.class_defs_size {
            let e = self.entry(ci, h.class_defs_size, h.class_defs_off, 32, "class_def")?;
            let class_data_off = u32_at(self.region, e + 24).unwrap_or(0);
            if class_data_off == 0 {
                continue;
            }
            let mut it = ClassDataMethods::new(self.region, self.region_pos, class_data_off)?;
            while let Some(m) = it.next_method(&mut budget)? {
                if m.code_off == 0 {
                    continue;
                }
                let code = self.code_item(m.code_off)?;
                budget.spend(u64::from(code.insns_size), to_usize(code.offset))?;
                walk_insns(code.insns, code.insns_pos, |op, kind, index, pc| {
                    v.on_ref(CodeRef {
                        caller_method_idx: m.method_idx,
                        opcode: op,
                        kind,
                        index,
                        pc,
                    })
                })?;
                v.on_method_end(m.method_idx);
            }
        }
        Ok(())
    }

    /// Every call site (`invoke-*`, `invoke-polymorphic*`) and field read (`iget*`, `sget*`) in
    /// the dex, resolved to names. This resolves every reference; prefer
    /// [`rules::find_calls`] when looking for specific APIs.
    pub fn call_sites(&self) -> Result<Vec<CallSite<'a>>, DexError> {
        let mut out = Vec::new();
        let mut refs = Vec::new();
        self.walk_code(&mut |r: CodeRef| {
            if matches!(
                r.kind,
                OpKind::Invoke | OpKind::InvokePolymorphic | OpKind::FieldRead
            ) {
                refs.push(r);
            }
        })?;
        // Resolve each caller once per run of references from the same method. The strings
        // produced are charged to a budget: ids may share huge (capped) descriptors.
        let mut budget = Budget::new(self.region.len(), self.limits.work_factor);
        let mut caller: Option<(u32, MethodRef<'a>)> = None;
        for r in refs {
            let c = match &caller {
                Some((idx, c)) if *idx == r.caller_method_idx => c.clone(),
                _ => {
                    let c = self.method_ref(r.caller_method_idx)?;
                    caller = Some((r.caller_method_idx, c.clone()));
                    c
                }
            };
            let (callee_class, callee_name, callee_proto) = if r.kind == OpKind::FieldRead {
                let fr = self.field_ref(r.index)?;
                (fr.class, fr.name, fr.type_descriptor.into_owned())
            } else {
                let mr = self.method_ref(r.index)?;
                (mr.class, mr.name, mr.proto)
            };
            let size = c.class.len()
                + c.name.len()
                + c.proto.len()
                + callee_class.len()
                + callee_name.len()
                + callee_proto.len()
                + 64;
            budget.spend(size as u64, 0)?;
            out.push(CallSite {
                caller_class: c.class,
                caller_method: c.name,
                caller_proto: c.proto,
                callee_class,
                callee_name,
                callee_proto,
                opcode: OPCODE_NAMES
                    .get(usize::from(r.opcode))
                    .copied()
                    .unwrap_or("unused"),
                code_offset: r.pc,
            });
        }
        Ok(out)
    }
}

/// Walks the instructions of one method, calling `f(opcode, kind, index, pc)` for every
/// instruction with an index operand of interest. This is the hot loop of the crate.
#[inline]
pub(crate) fn walk_insns(
    insns: &[u8],
    insns_pos: usize,
    mut f: impl FnMut(u8, OpKind, u32, u32),
) -> Result<(), DexError> {
    let units = insns.len() / 2;
    let mut pc = 0usize;
    while pc < units {
        let w = code::insn_width(insns, pc, insns_pos)?;
        let next = pc.saturating_add(w);
        if next > units {
            return Err(DexError::Truncated {
                at: insns_pos.saturating_add(pc * 2) as u64,
                what: "instruction past end of code",
            });
        }
        let u0 = code::unit_at(insns, pc).unwrap_or(0);
        let op = (u0 & 0xff) as u8;
        let kind = OPCODE_KINDS
            .get(usize::from(op))
            .copied()
            .unwrap_or(OpKind::Other);
        if kind != OpKind::Other && kind != OpKind::InvokeCustom {
            // The width check above guarantees units pc+1 (and pc+2 for jumbo) exist.
            let lo = u32::from(code::unit_at(insns, pc + 1).unwrap_or(0));
            let index = if kind == OpKind::ConstStringJumbo {
                lo | (u32::from(code::unit_at(insns, pc + 2).unwrap_or(0)) << 16)
            } else {
                lo
            };
            f(op, kind, index, u32::try_from(pc).unwrap_or(u32::MAX));
        }
        pc = next;
    }
    Ok(())
}

/// Lazily decodes the methods of a class_data_item (fields are skipped).
pub(crate) struct ClassDataMethods<'a> {
    region: &'a [u8],
    region_pos: usize,
    pos: usize,
    fields_left: u64,
    direct_left: u32,
    virtual_left: u32,
    in_direct: bool,
    last_idx: u32,
}

impl<'a> ClassDataMethods<'a> {
    pub(crate) fn new(region: &'a [u8], region_pos: usize, off: u32) -> Result<Self, DexError> {
        let mut pos = to_usize(off);
        let mut next = || {
            read_uleb(region, &mut pos).ok_or(DexError::Truncated {
                at: region_pos.saturating_add(to_usize(off)) as u64,
                what: "class_data_item header past end",
            })
        };
        let s = next()?;
        let i = next()?;
        let d = next()?;
        let v = next()?;
        Ok(ClassDataMethods {
            region,
            region_pos,
            pos,
            fields_left: u64::from(s) + u64::from(i),
            direct_left: d,
            virtual_left: v,
            in_direct: true,
            last_idx: 0,
        })
    }

    fn uleb(&mut self, what: &'static str) -> Result<u32, DexError> {
        let at = self.region_pos.saturating_add(self.pos) as u64;
        read_uleb(self.region, &mut self.pos).ok_or(DexError::Truncated { at, what })
    }

    /// Next encoded method, or `None` after the last one. Every step consumes bytes, so a huge
    /// declared count ends in a `Truncated` error, never a long loop.
    pub(crate) fn next_method(
        &mut self,
        budget: &mut Budget,
    ) -> Result<Option<EncodedMethod>, DexError> {
        while self.fields_left > 0 {
            budget.spend(1, self.pos)?;
            self.uleb("encoded_field past end")?;
            self.uleb("encoded_field past end")?;
            self.fields_left -= 1;
        }
        if self.in_direct && self.direct_left == 0 {
            self.in_direct = false;
            self.last_idx = 0;
        }
        let left = if self.in_direct {
            &mut self.direct_left
        } else {
            &mut self.virtual_left
        };
        if *left == 0 {
            return Ok(None);
        }
        *left -= 1;
        budget.spend(1, self.pos)?;
        let at = self.region_pos.saturating_add(self.pos) as u64;
        let diff = self.uleb("encoded_method past end")?;
        let access_flags = self.uleb("encoded_method past end")?;
        let code_off = self.uleb("encoded_method past end")?;
        let method_idx = self.last_idx.checked_add(diff).ok_or(DexError::Malformed {
            at,
            what: "encoded_method index overflows",
        })?;
        self.last_idx = method_idx;
        Ok(Some(EncodedMethod {
            method_idx,
            access_flags,
            code_off,
            direct: self.in_direct,
        }))
    }
}

impl<'a> ClassDef<'a> {
    /// The class's direct and virtual methods (with and without code), in class_data order.
    pub fn methods(&self) -> Result<Vec<EncodedMethod>, DexError> {
        let mut out = Vec::new();
        if self.class_data_off == 0 {
            return Ok(out);
        }
        let mut budget = Budget::new(self.region.len(), Limits::default().work_factor);
        let mut it = ClassDataMethods::new(self.region, self.region_pos, self.class_data_off)?;
        // Growth is bounded by the bytes consumed: each method takes at least 3.
        while let Some(m) = it.next_method(&mut budget)? {
            out.push(m);
        }
        Ok(out)
    }
}
