//! Code items and call sites: walking every method's bytecode for method, field and string
//! references, raw ([`Dex::walk_code`]) or resolved to names ([`Dex::call_sites`]).

use std::borrow::Cow;

use crate::class::ClassDataMethods;
use crate::code::{self, Instructions};
use crate::read::{Budget, to_usize, u16_at, u32_at};
use crate::{Dex, DexError, MethodRef, OPCODE_KINDS, OPCODE_NAMES, OpKind};

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
    pub(crate) insns_pos: usize,
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
    /// Method, field, string or type index operand.
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

impl<'a> Dex<'a> {
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
    /// `iput*`/`sput*`, `const-string[/jumbo]`, and type references of `const-class`;
    /// `invoke-custom` is skipped: it names a call site,
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
