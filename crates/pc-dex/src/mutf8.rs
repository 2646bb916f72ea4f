//! Modified UTF-8 (MUTF-8) as stored in `string_data_item`s.
//!
//! MUTF-8 differs from UTF-8 in two ways: U+0000 is written `C0 80`, and characters outside the
//! BMP are written as two 3-byte encoded UTF-16 surrogates. We reject overlong forms (other than
//! `C0 80`) so that comparing raw bytes against an ASCII needle is exactly equivalent to comparing
//! decoded strings: `rules::find_calls` relies on that to avoid decoding the string table.

use std::borrow::Cow;

use crate::DexError;

/// Decodes MUTF-8 `bytes` (without the terminating NUL). `at` is the file offset of `bytes`, for
/// errors. ASCII input (the overwhelmingly common case) is returned borrowed.
///
/// Lone surrogates are valid in MUTF-8 (Java strings may hold them) but cannot be represented in
/// a Rust `str`; they become U+FFFD.
pub(crate) fn decode(bytes: &[u8], at: usize) -> Result<Cow<'_, str>, DexError> {
    if bytes.is_ascii() {
        // ASCII never contains a NUL here (the caller cut at the first NUL), so it is valid.
        return std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|_| bad(at, "string is not valid ASCII"));
    }
    let mut out = String::with_capacity(bytes.len());
    let mut pending_high: Option<u16> = None;
    let mut i = 0usize;
    while i < bytes.len() {
        let start = i;
        let (unit, len) = decode_unit(bytes, i).ok_or_else(|| {
            bad(
                at.saturating_add(start),
                "invalid modified UTF-8 byte sequence",
            )
        })?;
        i += len;
        match unit {
            0xD800..=0xDBFF => {
                if pending_high.replace(unit).is_some() {
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
            0xDC00..=0xDFFF => match pending_high.take() {
                Some(high) => {
                    let c =
                        0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                    out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                None => out.push(char::REPLACEMENT_CHARACTER),
            },
            _ => {
                if pending_high.take().is_some() {
                    out.push(char::REPLACEMENT_CHARACTER);
                }
                out.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
        }
    }
    if pending_high.is_some() {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    Ok(Cow::Owned(out))
}

/// One UTF-16 code unit from `bytes[i..]`, and how many bytes it took.
fn decode_unit(bytes: &[u8], i: usize) -> Option<(u16, usize)> {
    let b0 = *bytes.get(i)?;
    if b0 < 0x80 {
        // A raw NUL cannot occur: strings are cut at the first NUL.
        return (b0 != 0).then_some((u16::from(b0), 1));
    }
    let cont = |k: usize| -> Option<u16> {
        let b = *bytes.get(i.checked_add(k)?)?;
        (b & 0xC0 == 0x80).then_some(u16::from(b & 0x3F))
    };
    if b0 & 0xE0 == 0xC0 {
        let v = (u16::from(b0 & 0x1F) << 6) | cont(1)?;
        // Only U+0000 may use the overlong 2-byte form.
        return (v >= 0x80 || v == 0).then_some((v, 2));
    }
    if b0 & 0xF0 == 0xE0 {
        let v = (u16::from(b0 & 0x0F) << 12) | (cont(1)? << 6) | cont(2)?;
        return (v >= 0x800).then_some((v, 3));
    }
    // 4-byte UTF-8 forms and stray continuation bytes are not MUTF-8.
    None
}

fn bad(at: usize, what: &'static str) -> DexError {
    DexError::BadString {
        at: at as u64,
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_borrowed() {
        assert!(matches!(
            decode(b"Ljava/lang/String;", 0),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn nul_bmp_and_supplementary() {
        // "a\u{0}é€😀": NUL as C0 80, é 2-byte, € 3-byte, 😀 as surrogate pair D83D DE00.
        let b = [
            b'a', 0xC0, 0x80, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80,
        ];
        assert_eq!(decode(&b, 0).unwrap(), "a\u{0}é€😀");
    }

    #[test]
    fn lone_surrogate_is_replaced() {
        assert_eq!(decode(&[0xED, 0xA0, 0xBD, b'x'], 0).unwrap(), "\u{FFFD}x");
        assert_eq!(decode(&[0xED, 0xB8, 0x80], 0).unwrap(), "\u{FFFD}");
    }

    #[test]
    fn invalid_sequences() {
        for b in [
            &[0xC3][..],                   // truncated 2-byte
            &[0xE2, 0x82][..],             // truncated 3-byte
            &[0xF0, 0x9F, 0x98, 0x80][..], // 4-byte UTF-8
            &[0x80][..],                   // stray continuation
            &[0xC1, 0x81][..],             // overlong 'A'
            &[0xE0, 0x81, 0x81][..],       // overlong 3-byte
            &[0xC3, 0x41][..],             // bad continuation
        ] {
            assert!(
                matches!(decode(b, 7), Err(DexError::BadString { .. })),
                "{b:02x?}"
            );
        }
    }
}
