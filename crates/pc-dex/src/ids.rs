//! The id tables: strings, types, prototypes, type lists and field/method references, read on
//! demand and resolved to names.

use std::borrow::Cow;

use crate::read::{Budget, read_uleb, to_usize, u16_at, u32_at};
use crate::{Dex, DexError, NO_INDEX, mutf8};

/// Max parameters of a method (the format allows 255 argument words).
const MAX_PROTO_PARAMS: usize = 255;

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

impl<'a> Dex<'a> {
    /// Offset of entry `idx` of a table, checked against its size.
    #[inline]
    pub(crate) fn entry(
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
    pub(crate) fn string_capped(&self, idx: u32, max: usize) -> Result<Cow<'a, str>, DexError> {
        let (bytes, pos) = self
            .string_bytes_max(idx, max)?
            .ok_or(DexError::LimitExceeded {
                at: self.pos(to_usize(self.header.string_ids_off)),
                what: "string longer than the limit",
            })?;
        mutf8::decode(bytes, self.region_pos.saturating_add(pos))
    }

    /// A string used as a name or descriptor (capped at `max_name_len`).
    pub(crate) fn name(&self, idx: u32) -> Result<Cow<'a, str>, DexError> {
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
    pub(crate) fn type_string_idx(&self, idx: u32) -> Result<u32, DexError> {
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
    pub(crate) fn type_list(
        &self,
        off: u32,
    ) -> Result<impl ExactSizeIterator<Item = u16> + 'a, DexError> {
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
}
