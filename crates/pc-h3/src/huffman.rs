//! Huffman-coded QPACK strings: the same code as HPACK (RFC 9204 §4.1.2 uses RFC 7541
//! Appendix B), so pc-h2's decoder is used; this module adds QPACK's bounds and error shape.

use crate::H3Error;

/// Decode a Huffman-coded string, appending to `out` (at most `max` bytes in total).
/// `at` locates the string for errors.
pub(crate) fn decode(input: &[u8], out: &mut Vec<u8>, max: usize, at: u64) -> Result<(), H3Error> {
    // Huffman codes are at least 5 bits: the output is at most 8/5 of the input.
    if out.len().saturating_add(input.len().saturating_mul(8) / 5) > max.saturating_add(8) {
        let mut tmp = Vec::new();
        pc_h2::huffman::decode(input, &mut tmp).map_err(|_| H3Error::Malformed {
            at,
            what: "bad Huffman string",
        })?;
        if out.len() + tmp.len() > max {
            return Err(H3Error::TooLarge {
                at,
                what: "Huffman string",
            });
        }
        out.extend_from_slice(&tmp);
        return Ok(());
    }
    pc_h2::huffman::decode(input, out).map_err(|_| H3Error::Malformed {
        at,
        what: "bad Huffman string",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(hex_str: &str) -> Result<Vec<u8>, H3Error> {
        let mut out = Vec::new();
        decode(&hex::decode(hex_str).unwrap(), &mut out, 1 << 20, 0).map(|()| out)
    }

    /// RFC 7541 Appendix C.4 and C.6 strings.
    #[test]
    fn rfc7541_examples() {
        assert_eq!(dec("f1e3c2e5f23a6ba0ab90f4ff").unwrap(), b"www.example.com");
        assert_eq!(dec("a8eb10649cbf").unwrap(), b"no-cache");
        assert_eq!(dec("25a849e95ba97d7f").unwrap(), b"custom-key");
        assert_eq!(dec("6402").unwrap(), b"302");
        assert_eq!(dec("aec3771a4b").unwrap(), b"private");
        assert_eq!(
            dec("d07abe941054d444a8200595040b8166e082a62d1bff").unwrap(),
            b"Mon, 21 Oct 2013 20:13:21 GMT"
        );
        assert_eq!(dec("").unwrap(), b"");
    }

    #[test]
    fn errors() {
        // Padding of 8 ones.
        assert!(dec("f1e3c2e5f23a6ba0ab90f4ffff").is_err());
        // Padding with a zero bit.
        assert!(dec("00").is_err());
        // EOS encoded explicitly (30 ones, then padding ones).
        assert!(dec("ffffffff").is_err());
        // Output bound.
        let mut out = Vec::new();
        assert!(
            decode(
                &hex::decode("f1e3c2e5f23a6ba0ab90f4ff").unwrap(),
                &mut out,
                3,
                0
            )
            .is_err()
        );
    }
}
