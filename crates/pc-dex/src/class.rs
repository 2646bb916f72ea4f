//! Class definitions and their class_data: the methods of each class, decoded lazily.

use std::borrow::Cow;

use crate::read::{Budget, read_uleb, to_usize, u32_at};
use crate::{Dex, DexError, Limits, NO_INDEX};

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
    pub(crate) region: &'a [u8],
    pub(crate) region_pos: usize,
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

impl<'a> Dex<'a> {
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
}

/// Lazily decodes the methods of a class_data_item (fields are skipped).
pub(crate) struct ClassDataMethods<'a> {
    pub(crate) region: &'a [u8],
    pub(crate) region_pos: usize,
    pub(crate) pos: usize,
    pub(crate) fields_left: u64,
    pub(crate) direct_left: u32,
    pub(crate) virtual_left: u32,
    pub(crate) in_direct: bool,
    pub(crate) last_idx: u32,
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

    pub(crate) fn uleb(&mut self, what: &'static str) -> Result<u32, DexError> {
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
