//! Little-endian and LEB128 readers over the region, and the work budget that bounds one walk
//! over a dex (the shared low-level helpers of every other module).

use crate::DexError;

#[inline]
pub(crate) fn u16_at(d: &[u8], off: usize) -> Option<u16> {
    let b = d.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(b.try_into().ok()?))
}

#[inline]
pub(crate) fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    let b = d.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Reads an unsigned LEB128 (at most 5 bytes) at `*pos`, advancing it.
#[inline]
pub(crate) fn read_uleb(d: &[u8], pos: &mut usize) -> Option<u32> {
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

pub(crate) fn to_usize(v: u32) -> usize {
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
