//! Dalvik bytecode: instruction widths, names and the operands we care about.
//!
//! We never build an instruction graph: the walk decodes only each instruction's width (so the
//! next one is found) and, for the few opcodes that reference a method, field or string, the
//! 16/32-bit index operand.

use crate::DexError;

/// What an opcode's index operand refers to (only the kinds call-site extraction needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// No index operand we look at.
    Other,
    /// `const-string` (string index in unit 1, 16 bits).
    ConstString,
    /// `const-string/jumbo` (string index in units 1-2, 32 bits).
    ConstStringJumbo,
    /// `const-class` (type index in unit 1): `X.class`, how reflective code names a class.
    ConstClass,
    /// `invoke-*` and `invoke-*/range` (method index in unit 1).
    Invoke,
    /// `invoke-polymorphic[/range]`: method index in unit 1 (e.g. `MethodHandle.invoke`), proto in
    /// unit 3.
    InvokePolymorphic,
    /// `invoke-custom[/range]`: a call-site index, not a method; not resolved.
    InvokeCustom,
    /// `iget*` / `sget*` (field index in unit 1).
    FieldRead,
    /// `iput*` / `sput*` (field index in unit 1).
    FieldWrite,
}

/// Mnemonic of every opcode (dexdump spelling). Unassigned opcodes are `"unused"`.
pub static OPCODE_NAMES: [&str; 256] = [
    "nop",
    "move",
    "move/from16",
    "move/16",
    "move-wide",
    "move-wide/from16",
    "move-wide/16",
    "move-object",
    "move-object/from16",
    "move-object/16",
    "move-result",
    "move-result-wide",
    "move-result-object",
    "move-exception",
    "return-void",
    "return",
    "return-wide",
    "return-object",
    "const/4",
    "const/16",
    "const",
    "const/high16",
    "const-wide/16",
    "const-wide/32",
    "const-wide",
    "const-wide/high16",
    "const-string",
    "const-string/jumbo",
    "const-class",
    "monitor-enter",
    "monitor-exit",
    "check-cast",
    "instance-of",
    "array-length",
    "new-instance",
    "new-array",
    "filled-new-array",
    "filled-new-array/range",
    "fill-array-data",
    "throw",
    "goto",
    "goto/16",
    "goto/32",
    "packed-switch",
    "sparse-switch",
    "cmpl-float",
    "cmpg-float",
    "cmpl-double",
    "cmpg-double",
    "cmp-long",
    "if-eq",
    "if-ne",
    "if-lt",
    "if-ge",
    "if-gt",
    "if-le",
    "if-eqz",
    "if-nez",
    "if-ltz",
    "if-gez",
    "if-gtz",
    "if-lez",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "aget",
    "aget-wide",
    "aget-object",
    "aget-boolean",
    "aget-byte",
    "aget-char",
    "aget-short",
    "aput",
    "aput-wide",
    "aput-object",
    "aput-boolean",
    "aput-byte",
    "aput-char",
    "aput-short",
    "iget",
    "iget-wide",
    "iget-object",
    "iget-boolean",
    "iget-byte",
    "iget-char",
    "iget-short",
    "iput",
    "iput-wide",
    "iput-object",
    "iput-boolean",
    "iput-byte",
    "iput-char",
    "iput-short",
    "sget",
    "sget-wide",
    "sget-object",
    "sget-boolean",
    "sget-byte",
    "sget-char",
    "sget-short",
    "sput",
    "sput-wide",
    "sput-object",
    "sput-boolean",
    "sput-byte",
    "sput-char",
    "sput-short",
    "invoke-virtual",
    "invoke-super",
    "invoke-direct",
    "invoke-static",
    "invoke-interface",
    "unused",
    "invoke-virtual/range",
    "invoke-super/range",
    "invoke-direct/range",
    "invoke-static/range",
    "invoke-interface/range",
    "unused",
    "unused",
    "neg-int",
    "not-int",
    "neg-long",
    "not-long",
    "neg-float",
    "neg-double",
    "int-to-long",
    "int-to-float",
    "int-to-double",
    "long-to-int",
    "long-to-float",
    "long-to-double",
    "float-to-int",
    "float-to-long",
    "float-to-double",
    "double-to-int",
    "double-to-long",
    "double-to-float",
    "int-to-byte",
    "int-to-char",
    "int-to-short",
    "add-int",
    "sub-int",
    "mul-int",
    "div-int",
    "rem-int",
    "and-int",
    "or-int",
    "xor-int",
    "shl-int",
    "shr-int",
    "ushr-int",
    "add-long",
    "sub-long",
    "mul-long",
    "div-long",
    "rem-long",
    "and-long",
    "or-long",
    "xor-long",
    "shl-long",
    "shr-long",
    "ushr-long",
    "add-float",
    "sub-float",
    "mul-float",
    "div-float",
    "rem-float",
    "add-double",
    "sub-double",
    "mul-double",
    "div-double",
    "rem-double",
    "add-int/2addr",
    "sub-int/2addr",
    "mul-int/2addr",
    "div-int/2addr",
    "rem-int/2addr",
    "and-int/2addr",
    "or-int/2addr",
    "xor-int/2addr",
    "shl-int/2addr",
    "shr-int/2addr",
    "ushr-int/2addr",
    "add-long/2addr",
    "sub-long/2addr",
    "mul-long/2addr",
    "div-long/2addr",
    "rem-long/2addr",
    "and-long/2addr",
    "or-long/2addr",
    "xor-long/2addr",
    "shl-long/2addr",
    "shr-long/2addr",
    "ushr-long/2addr",
    "add-float/2addr",
    "sub-float/2addr",
    "mul-float/2addr",
    "div-float/2addr",
    "rem-float/2addr",
    "add-double/2addr",
    "sub-double/2addr",
    "mul-double/2addr",
    "div-double/2addr",
    "rem-double/2addr",
    "add-int/lit16",
    "rsub-int",
    "mul-int/lit16",
    "div-int/lit16",
    "rem-int/lit16",
    "and-int/lit16",
    "or-int/lit16",
    "xor-int/lit16",
    "add-int/lit8",
    "rsub-int/lit8",
    "mul-int/lit8",
    "div-int/lit8",
    "rem-int/lit8",
    "and-int/lit8",
    "or-int/lit8",
    "xor-int/lit8",
    "shl-int/lit8",
    "shr-int/lit8",
    "ushr-int/lit8",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "unused",
    "invoke-polymorphic",
    "invoke-polymorphic/range",
    "invoke-custom",
    "invoke-custom/range",
    "const-method-handle",
    "const-method-type",
];

/// Width in 16-bit code units of every opcode, from its instruction format. Unassigned opcodes
/// are treated as 1 unit (format 10x), as dexdump does.
pub static OPCODE_WIDTHS: [u8; 256] = build_widths();

/// Operand kind of every opcode.
pub static OPCODE_KINDS: [OpKind; 256] = build_kinds();

const fn build_widths() -> [u8; 256] {
    let mut w = [1u8; 256];
    let mut op = 0usize;
    while op < 256 {
        w[op] = match op {
            0x02 | 0x05 | 0x08 => 2,        // 22x
            0x03 | 0x06 | 0x09 => 3,        // 32x
            0x13 | 0x15 | 0x16 | 0x19 => 2, // 21s / 21h
            0x14 | 0x17 => 3,               // 31i
            0x18 => 5,                      // 51l
            0x1a | 0x1c | 0x1f | 0x22 => 2, // 21c
            0x1b => 3,                      // 31c
            0x20 | 0x23 => 2,               // 22c
            0x24 | 0x25 => 3,               // 35c / 3rc
            0x26 => 3,                      // 31t
            0x29 => 2,                      // 20t
            0x2a => 3,                      // 30t
            0x2b | 0x2c => 3,               // 31t
            0x2d..=0x31 => 2,               // 23x
            0x32..=0x37 => 2,               // 22t
            0x38..=0x3d => 2,               // 21t
            0x44..=0x51 => 2,               // 23x
            0x52..=0x5f => 2,               // 22c
            0x60..=0x6d => 2,               // 21c
            0x6e..=0x72 => 3,               // 35c
            0x74..=0x78 => 3,               // 3rc
            0x90..=0xaf => 2,               // 23x
            0xd0..=0xd7 => 2,               // 22s
            0xd8..=0xe2 => 2,               // 22b
            0xfa | 0xfb => 4,               // 45cc / 4rcc
            0xfc | 0xfd => 3,               // 35c / 3rc
            0xfe | 0xff => 2,               // 21c
            _ => 1,
        };
        op += 1;
    }
    w
}

const fn build_kinds() -> [OpKind; 256] {
    let mut k = [OpKind::Other; 256];
    let mut op = 0usize;
    while op < 256 {
        k[op] = match op {
            0x1a => OpKind::ConstString,
            0x1b => OpKind::ConstStringJumbo,
            0x1c => OpKind::ConstClass,
            0x52..=0x58 | 0x60..=0x66 => OpKind::FieldRead,
            0x59..=0x5f | 0x67..=0x6d => OpKind::FieldWrite,
            0x6e..=0x72 | 0x74..=0x78 => OpKind::Invoke,
            0xfa | 0xfb => OpKind::InvokePolymorphic,
            0xfc | 0xfd => OpKind::InvokeCustom,
            _ => OpKind::Other,
        };
        op += 1;
    }
    k
}

/// Reads code unit `unit` (16-bit, little-endian) of `insns`.
#[inline]
pub(crate) fn unit_at(insns: &[u8], unit: usize) -> Option<u16> {
    let i = unit.checked_mul(2)?;
    let b = insns.get(i..i.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

/// Width in code units of the instruction starting at unit `pc`, including the variable-size
/// switch / array payload pseudo-instructions. `base` is the file offset of `insns`, for errors.
#[inline]
pub(crate) fn insn_width(insns: &[u8], pc: usize, base: usize) -> Result<usize, DexError> {
    let at = || base.saturating_add(pc.saturating_mul(2)) as u64;
    let u0 = unit_at(insns, pc).ok_or(DexError::Truncated {
        at: at(),
        what: "instruction past end of code",
    })?;
    let op = (u0 & 0xff) as usize;
    if op != 0 || u0 == 0 {
        return Ok(usize::from(*OPCODE_WIDTHS.get(op).unwrap_or(&1)));
    }
    // nop with a non-zero high byte: a payload pseudo-instruction.
    let trunc = || DexError::Truncated {
        at: at(),
        what: "payload past end of code",
    };
    let size = usize::from(unit_at(insns, pc + 1).ok_or_else(trunc)?);
    match u0 {
        // packed-switch-payload: ident, size, first_key (2 units), targets (2 units each).
        0x0100 => Ok(4 + size * 2),
        // sparse-switch-payload: ident, size, keys and targets (2 units each).
        0x0200 => Ok(2 + size * 4),
        // fill-array-data-payload: ident, element_width, size (2 units), data (padded to units).
        0x0300 => {
            let lo = unit_at(insns, pc + 2).ok_or_else(trunc)?;
            let hi = unit_at(insns, pc + 3).ok_or_else(trunc)?;
            let count = u64::from(lo) | (u64::from(hi) << 16);
            // element_width (u16) * count (u32) fits in u64; the unit count is checked by the
            // caller against the code length, so an absurd value is just "past the end".
            let bytes = (size as u64).saturating_mul(count);
            let units = bytes.div_ceil(2).saturating_add(4);
            Ok(usize::try_from(units).unwrap_or(usize::MAX))
        }
        // Any other high byte on a nop: the verifier rejects it; dexdump treats it as a nop.
        _ => Ok(1),
    }
}

/// One decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn<'a> {
    /// Address in 16-bit code units from the start of the method's `insns`.
    pub pc: u32,
    /// The opcode byte (0 for payload pseudo-instructions, which are nops).
    pub opcode: u8,
    /// The instruction's raw bytes (width * 2).
    pub bytes: &'a [u8],
}

impl Insn<'_> {
    /// The opcode's mnemonic ("invoke-virtual", "sget-object", ...).
    pub fn name(&self) -> &'static str {
        if self.opcode == 0 && self.bytes.len() > 2 {
            return match self.bytes.get(1) {
                Some(1) => "packed-switch-payload",
                Some(2) => "sparse-switch-payload",
                Some(3) => "fill-array-data-payload",
                _ => "nop",
            };
        }
        OPCODE_NAMES
            .get(usize::from(self.opcode))
            .copied()
            .unwrap_or("unused")
    }

    /// What the instruction's index operand refers to.
    pub fn kind(&self) -> OpKind {
        OPCODE_KINDS
            .get(usize::from(self.opcode))
            .copied()
            .unwrap_or(OpKind::Other)
    }

    /// The string/method/field/call-site index operand, for the opcodes in [`OpKind`] other than
    /// `Other`.
    pub fn index(&self) -> Option<u32> {
        match self.kind() {
            OpKind::Other => None,
            OpKind::ConstStringJumbo => {
                let lo = unit_at(self.bytes, 1)?;
                let hi = unit_at(self.bytes, 2)?;
                Some(u32::from(lo) | (u32::from(hi) << 16))
            }
            _ => unit_at(self.bytes, 1).map(u32::from),
        }
    }
}

/// Iterator over a method's instructions (see [`crate::CodeItem::instructions`]).
#[derive(Debug, Clone)]
pub struct Instructions<'a> {
    pub(crate) insns: &'a [u8],
    pub(crate) pc: usize,
    pub(crate) base: usize,
    pub(crate) failed: bool,
}

impl<'a> Iterator for Instructions<'a> {
    type Item = Result<Insn<'a>, DexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pc.saturating_mul(2) >= self.insns.len() {
            return None;
        }
        let pc = self.pc;
        let res = insn_width(self.insns, pc, self.base).and_then(|w| {
            let start = pc * 2;
            let end = pc
                .checked_add(w)
                .and_then(|e| e.checked_mul(2))
                .filter(|&e| e <= self.insns.len())
                .ok_or(DexError::Truncated {
                    at: self.base.saturating_add(start) as u64,
                    what: "instruction past end of code",
                })?;
            let bytes = self.insns.get(start..end).ok_or(DexError::Truncated {
                at: self.base.saturating_add(start) as u64,
                what: "instruction past end of code",
            })?;
            Ok((w, bytes))
        });
        match res {
            Ok((w, bytes)) => {
                self.pc = pc + w;
                Some(Ok(Insn {
                    pc: u32::try_from(pc).unwrap_or(u32::MAX),
                    opcode: bytes.first().copied().unwrap_or(0),
                    bytes,
                }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_spot_checks() {
        assert_eq!(OPCODE_NAMES[0x6e], "invoke-virtual");
        assert_eq!(OPCODE_NAMES[0x77], "invoke-static/range");
        assert_eq!(OPCODE_NAMES[0x62], "sget-object");
        assert_eq!(OPCODE_NAMES[0x54], "iget-object");
        assert_eq!(OPCODE_NAMES[0xb0], "add-int/2addr");
        assert_eq!(OPCODE_NAMES[0xd0], "add-int/lit16");
        assert_eq!(OPCODE_NAMES[0xe2], "ushr-int/lit8");
        assert_eq!(OPCODE_NAMES[0xfa], "invoke-polymorphic");
        assert_eq!(OPCODE_NAMES[0xff], "const-method-type");
        assert_eq!(OPCODE_WIDTHS[0x18], 5);
        assert_eq!(OPCODE_WIDTHS[0xfa], 4);
        assert_eq!(OPCODE_WIDTHS[0x0e], 1);
        assert_eq!(OPCODE_KINDS[0x1b], OpKind::ConstStringJumbo);
        assert_eq!(OPCODE_KINDS[0x1c], OpKind::ConstClass);
        assert_eq!(OPCODE_NAMES[0x1c], "const-class");
    }

    #[test]
    fn payload_widths() {
        // packed-switch-payload with 2 targets: 4 + 4 units.
        let p: Vec<u8> = [0x0100u16, 2, 0, 0, 1, 0, 2, 0]
            .iter()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(insn_width(&p, 0, 0).unwrap(), 8);
        // sparse-switch-payload with 1 entry: 2 + 4 units.
        let s: Vec<u8> = [0x0200u16, 1, 5, 0, 9, 0]
            .iter()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(insn_width(&s, 0, 0).unwrap(), 6);
        // fill-array-data-payload: width 1, 3 elements -> 4 + 2 units.
        let f: Vec<u8> = [0x0300u16, 1, 3, 0, 0x0201, 0x0003]
            .iter()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(insn_width(&f, 0, 0).unwrap(), 6);
        // Truncated payload header.
        assert!(insn_width(&[0x00, 0x01], 0, 0).is_err());
    }
}
