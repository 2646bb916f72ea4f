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

mod calls;
mod class;
mod code;
mod header;
mod ids;
mod mutf8;
mod read;
pub mod rules;

pub use calls::{CallSite, CodeItem, CodeRef, CodeVisitor};
pub use class::{ClassDef, EncodedMethod};
pub use code::{Insn, Instructions, OPCODE_KINDS, OPCODE_NAMES, OPCODE_WIDTHS, OpKind};
pub use header::{Dex, Header, NO_INDEX, SUPPORTED_VERSIONS, dex_sections, dex_sections_with};
pub use ids::{FieldRef, MethodRef};

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
