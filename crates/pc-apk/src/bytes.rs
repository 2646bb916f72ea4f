//! Bounds-checked little-endian readers shared by the parsers.

/// `data[at..at+2]` as little-endian u16, or `None` when out of bounds.
pub(crate) fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// `data[at..at+4]` as little-endian u32, or `None` when out of bounds.
pub(crate) fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// `data[at..at+8]` as little-endian u64, or `None` when out of bounds.
pub(crate) fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    let b = data.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// `data[at..at+len]`, or `None` when out of bounds.
pub(crate) fn slice(data: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    data.get(at..at.checked_add(len)?)
}

/// Converts a u64 file offset to usize, saturating (an offset past the slice fails later anyway).
pub(crate) fn us(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}
