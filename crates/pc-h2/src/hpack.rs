//! HPACK header decompression (RFC 7541): static and dynamic tables, size updates with
//! eviction, Huffman strings, bounded integers and header lists.
//!
//! Kept over hpack 0.3 (scratch crate /tmp/cmp-parsers): same results on RFC 7541 C.4 and on
//! bad indexes, integer overflow, short strings and bad Huffman; hpack accepts a table size
//! update above the maximum (ours refuses it) and gives no offsets; 1.2 µs vs 86 µs per pass.

use crate::{H2Error, huffman};
use std::collections::VecDeque;

/// Default SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;
/// Default cap on a decoded header list (sum of name + value + 32 per field).
pub const DEFAULT_MAX_HEADER_LIST: usize = 256 * 1024;
/// Per-entry overhead counted in table and list sizes (§4.1).
const ENTRY_OVERHEAD: usize = 32;
/// Integers above this are rejected: no legitimate index, length or size comes close, and it
/// keeps every sum below overflow.
const MAX_INT: u64 = u32::MAX as u64;

/// Appendix A.
const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// A decoded header list: (name, value) pairs in order.
pub type HeaderList = Vec<(Vec<u8>, Vec<u8>)>;

/// One direction's HPACK decoding state.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Newest entry first (index 62 is `table[0]`).
    table: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// Current table size (§4.1).
    size: usize,
    /// Current maximum, set by the encoder's size updates.
    max_size: usize,
    /// Upper bound for size updates: the SETTINGS value the peer announced.
    ceiling: usize,
    /// Cap on one decoded header list.
    max_header_list: usize,
}

impl Decoder {
    /// A decoder whose table starts at, and may grow up to, `max_table_size` bytes.
    #[must_use]
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: max_table_size,
            ceiling: max_table_size,
            max_header_list: DEFAULT_MAX_HEADER_LIST,
        }
    }

    /// Set the largest size update the encoder may send (SETTINGS_HEADER_TABLE_SIZE of our
    /// side). The table itself shrinks only when the encoder says so.
    pub fn set_max_table_size(&mut self, ceiling: usize) {
        self.ceiling = ceiling;
    }

    /// The size-update ceiling.
    #[must_use]
    pub fn max_table_size(&self) -> usize {
        self.ceiling
    }

    /// Cap the decoded header list size (RFC 7541 accounting).
    pub fn set_max_header_list_size(&mut self, max: usize) {
        self.max_header_list = max;
    }

    /// Current dynamic table size in RFC 7541 bytes.
    #[must_use]
    pub fn table_size(&self) -> usize {
        self.size
    }

    /// Entries in the dynamic table.
    #[must_use]
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Entry at a 1-based HPACK index (static then dynamic).
    #[must_use]
    pub fn entry(&self, index: usize) -> Option<(&[u8], &[u8])> {
        if index == 0 {
            return None;
        }
        if let Some((n, v)) = STATIC_TABLE.get(index - 1) {
            return Some((n.as_bytes(), v.as_bytes()));
        }
        self.table
            .get(index - 1 - STATIC_TABLE.len())
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }

    /// Decode one complete header block. On error the dynamic table may be partly updated, so
    /// later blocks of the same connection cannot be trusted.
    pub fn decode(&mut self, block: &[u8]) -> Result<HeaderList, H2Error> {
        let mut r = Cursor { buf: block, pos: 0 };
        let mut out = Vec::new();
        let mut list_size = 0usize;
        let mut seen_field = false;
        while let Some(&b) = block.get(r.pos) {
            let start = r.pos;
            let (name, value) = if b & 0x80 != 0 {
                let idx = r.int(7)?;
                let (n, v) = self.lookup(idx, start)?;
                (n.to_vec(), v.to_vec())
            } else if b & 0x40 != 0 {
                let (n, v) = self.literal(&mut r, 6)?;
                self.insert(n.clone(), v.clone());
                (n, v)
            } else if b & 0x20 != 0 {
                // A size update is only allowed before the first field (§4.2).
                if seen_field {
                    return Err(H2Error::Malformed {
                        at: start as u64,
                        what: "HPACK table size update after a header field",
                    });
                }
                let size = r.int(5)?;
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                if size > self.ceiling {
                    return Err(H2Error::too_large(
                        start as u64,
                        "HPACK table size update",
                        size,
                        self.ceiling,
                    ));
                }
                self.max_size = size;
                self.evict(0);
                continue;
            } else {
                // Without indexing (0000) or never indexed (0001): same layout.
                self.literal(&mut r, 4)?
            };
            seen_field = true;
            list_size = list_size
                .saturating_add(name.len())
                .saturating_add(value.len())
                .saturating_add(ENTRY_OVERHEAD);
            if list_size > self.max_header_list {
                return Err(H2Error::too_large(
                    start as u64,
                    "decoded header list",
                    list_size,
                    self.max_header_list,
                ));
            }
            out.push((name, value));
        }
        Ok(out)
    }

    fn lookup(&self, idx: u64, at: usize) -> Result<(&[u8], &[u8]), H2Error> {
        usize::try_from(idx)
            .ok()
            .and_then(|i| self.entry(i))
            .ok_or(H2Error::Malformed {
                at: at as u64,
                what: "HPACK index out of range",
            })
    }

    /// A literal field whose name index has a `prefix`-bit integer (0 = literal name).
    fn literal(&self, r: &mut Cursor<'_>, prefix: u8) -> Result<(Vec<u8>, Vec<u8>), H2Error> {
        let start = r.pos;
        let idx = r.int(prefix)?;
        let name = if idx == 0 {
            r.string(self.max_header_list)?
        } else {
            self.lookup(idx, start)?.0.to_vec()
        };
        let value = r.string(self.max_header_list)?;
        Ok((name, value))
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let entry = name.len() + value.len() + ENTRY_OVERHEAD;
        if entry > self.max_size {
            // An entry larger than the table empties it and is not added (§4.4).
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict(entry);
        self.size += entry;
        self.table.push_front((name, value));
    }

    /// Evict oldest entries until `room` more bytes fit.
    fn evict(&mut self, room: usize) {
        while self.size.saturating_add(room) > self.max_size {
            match self.table.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + ENTRY_OVERHEAD,
                None => break,
            }
        }
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_TABLE_SIZE)
    }
}

/// Bounds-checked reader over a header block.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// Prefix-coded integer (§5.1), at most [`MAX_INT`].
    fn int(&mut self, prefix: u8) -> Result<u64, H2Error> {
        let start = self.pos;
        let first = *self.buf.get(self.pos).ok_or(H2Error::Truncated {
            at: start as u64,
            what: "HPACK integer",
        })?;
        self.pos += 1;
        let mask = (1u16 << prefix) as u8 - 1;
        let mut v = u64::from(first & mask);
        if v < u64::from(mask) {
            return Ok(v);
        }
        let mut shift = 0u32;
        loop {
            let b = *self.buf.get(self.pos).ok_or(H2Error::Truncated {
                at: self.pos as u64,
                what: "HPACK integer",
            })?;
            self.pos += 1;
            v += u64::from(b & 0x7f) << shift;
            if v > MAX_INT {
                return Err(H2Error::TooLarge {
                    at: start as u64,
                    what: "HPACK integer",
                    len: v,
                    max: MAX_INT,
                });
            }
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 28 {
                // Only redundant zero continuation bytes could get here.
                return Err(H2Error::Malformed {
                    at: start as u64,
                    what: "HPACK integer too long",
                });
            }
        }
    }

    /// String literal (§5.2), Huffman-decoded if flagged, at most `max` bytes long.
    fn string(&mut self, max: usize) -> Result<Vec<u8>, H2Error> {
        let start = self.pos;
        let huff = self.buf.get(self.pos).is_some_and(|b| b & 0x80 != 0);
        let len = self.int(7)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let body_at = self.pos;
        let end = body_at
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(H2Error::Truncated {
                at: start as u64,
                what: "HPACK string",
            })?;
        let raw = &self.buf[body_at..end];
        self.pos = end;
        let s = if huff {
            let mut out = Vec::with_capacity(len.saturating_mul(8) / 5);
            huffman::decode(raw, &mut out).map_err(|e| e.shifted(body_at as u64))?;
            out
        } else {
            raw.to_vec()
        };
        if s.len() > max {
            return Err(H2Error::too_large(
                start as u64,
                "HPACK string",
                s.len(),
                max,
            ));
        }
        Ok(s)
    }
}

/// Helpers to build header blocks (synthetic traffic, tests). Not a full encoder: literals
/// and indexed fields only, no table management.
pub mod encode {
    /// Append a prefix-coded integer; `flags` are the high bits of the first byte.
    pub fn int(out: &mut Vec<u8>, mut value: u64, prefix: u8, flags: u8) {
        let max = (1u64 << prefix.clamp(1, 8)) - 1;
        if value < max {
            out.push(flags | value as u8);
            return;
        }
        out.push(flags | max as u8);
        value -= max;
        while value >= 0x80 {
            out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    /// Append a string literal, Huffman-coded if `huffman`.
    pub fn string(out: &mut Vec<u8>, s: &[u8], huffman: bool) {
        if huffman {
            let h = crate::huffman::encode(s);
            int(out, h.len() as u64, 7, 0x80);
            out.extend_from_slice(&h);
        } else {
            int(out, s.len() as u64, 7, 0);
            out.extend_from_slice(s);
        }
    }

    /// Append a literal field with a literal name; `indexing` adds it to the decoder's table.
    pub fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8], indexing: bool, huffman: bool) {
        out.push(if indexing { 0x40 } else { 0x00 });
        string(out, name, huffman);
        string(out, value, huffman);
    }

    /// Append an indexed field.
    pub fn indexed(out: &mut Vec<u8>, index: u64) {
        int(out, index, 7, 0x80);
    }

    /// Append a dynamic table size update.
    pub fn size_update(out: &mut Vec<u8>, size: u64) {
        int(out, size, 5, 0x20);
    }

    /// Huffman-code a string (Appendix B), padded with ones.
    #[must_use]
    pub fn huffman(s: &[u8]) -> Vec<u8> {
        crate::huffman::encode(s)
    }
}
