//! QPACK field section decoding (RFC 9204): static table, dynamic table fed by the peer's
//! encoder stream, required insert count and base, post-base indexing, Huffman strings, and
//! bounded buffering of blocked field sections.

use crate::{H3Error, huffman};
use std::collections::VecDeque;

/// Largest dynamic table capacity accepted, whatever the peer advertises.
pub const MAX_TABLE_CAPACITY: usize = 1 << 20;
/// Decoded size of one field section (names + values + 32 per field, as RFC 9204 counts).
pub const MAX_FIELD_SECTION: usize = 256 * 1024;
/// Fields in one field section.
pub const MAX_FIELDS: usize = 1024;
/// Field sections waiting for dynamic table inserts.
pub const MAX_BLOCKED: usize = 64;
/// Bytes of those waiting field sections.
pub const MAX_BLOCKED_BYTES: usize = 1 << 20;
/// Longest string literal in a field section (after Huffman decoding).
pub const MAX_STRING: usize = 64 * 1024;

/// A decoded field line: name and value.
pub type Field = (Vec<u8>, Vec<u8>);

/// RFC 9204 Appendix A.
#[rustfmt::skip]
pub const STATIC_TABLE: [(&str, &str); 99] = [
    (":authority", ""), (":path", "/"), ("age", "0"), ("content-disposition", ""),
    ("content-length", "0"), ("cookie", ""), ("date", ""), ("etag", ""),
    ("if-modified-since", ""), ("if-none-match", ""), ("last-modified", ""), ("link", ""),
    ("location", ""), ("referer", ""), ("set-cookie", ""), (":method", "CONNECT"),
    (":method", "DELETE"), (":method", "GET"), (":method", "HEAD"), (":method", "OPTIONS"),
    (":method", "POST"), (":method", "PUT"), (":scheme", "http"), (":scheme", "https"),
    (":status", "103"), (":status", "200"), (":status", "304"), (":status", "404"),
    (":status", "503"), ("accept", "*/*"), ("accept", "application/dns-message"),
    ("accept-encoding", "gzip, deflate, br"), ("accept-ranges", "bytes"),
    ("access-control-allow-headers", "cache-control"),
    ("access-control-allow-headers", "content-type"), ("access-control-allow-origin", "*"),
    ("cache-control", "max-age=0"), ("cache-control", "max-age=2592000"),
    ("cache-control", "max-age=604800"), ("cache-control", "no-cache"),
    ("cache-control", "no-store"), ("cache-control", "public, max-age=31536000"),
    ("content-encoding", "br"), ("content-encoding", "gzip"),
    ("content-type", "application/dns-message"), ("content-type", "application/javascript"),
    ("content-type", "application/json"), ("content-type", "application/x-www-form-urlencoded"),
    ("content-type", "image/gif"), ("content-type", "image/jpeg"), ("content-type", "image/png"),
    ("content-type", "text/css"), ("content-type", "text/html; charset=utf-8"),
    ("content-type", "text/plain"), ("content-type", "text/plain;charset=utf-8"),
    ("range", "bytes=0-"), ("strict-transport-security", "max-age=31536000"),
    ("strict-transport-security", "max-age=31536000; includesubdomains"),
    ("strict-transport-security", "max-age=31536000; includesubdomains; preload"),
    ("vary", "accept-encoding"), ("vary", "origin"), ("x-content-type-options", "nosniff"),
    ("x-xss-protection", "1; mode=block"), (":status", "100"), (":status", "204"),
    (":status", "206"), (":status", "302"), (":status", "400"), (":status", "403"),
    (":status", "421"), (":status", "425"), (":status", "500"), ("accept-language", ""),
    ("access-control-allow-credentials", "FALSE"), ("access-control-allow-credentials", "TRUE"),
    ("access-control-allow-headers", "*"), ("access-control-allow-methods", "get"),
    ("access-control-allow-methods", "get, post, options"),
    ("access-control-allow-methods", "options"),
    ("access-control-expose-headers", "content-length"),
    ("access-control-request-headers", "content-type"),
    ("access-control-request-method", "get"), ("access-control-request-method", "post"),
    ("alt-svc", "clear"), ("authorization", ""),
    ("content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"),
    ("early-data", "1"), ("expect-ct", ""), ("forwarded", ""), ("if-range", ""),
    ("origin", ""), ("purpose", "prefetch"), ("server", ""), ("timing-allow-origin", "*"),
    ("upgrade-insecure-requests", "1"), ("user-agent", ""), ("x-forwarded-for", ""),
    ("x-frame-options", "deny"), ("x-frame-options", "sameorigin"),
];

/// A bounds-checked cursor; running out of input is [`H3Error::Truncated`].
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn at(&self) -> u64 {
        self.pos as u64
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, H3Error> {
        let v = *self.b.get(self.pos).ok_or(H3Error::Truncated {
            at: self.at(),
            what,
        })?;
        self.pos += 1;
        Ok(v)
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], H3Error> {
        let end = self.pos.checked_add(n).ok_or(H3Error::Truncated {
            at: self.at(),
            what,
        })?;
        let s = self.b.get(self.pos..end).ok_or(H3Error::Truncated {
            at: self.at(),
            what,
        })?;
        self.pos = end;
        Ok(s)
    }

    /// An integer with an `n`-bit prefix in `first` (RFC 7541 §5.1).
    fn int(&mut self, first: u8, n: u32, what: &'static str) -> Result<u64, H3Error> {
        let mask = (1u64 << n) - 1;
        let mut v = u64::from(first) & mask;
        if v < mask {
            return Ok(v);
        }
        let mut shift = 0u32;
        loop {
            let b = self.byte(what)?;
            if shift > 56 {
                return Err(H3Error::Malformed {
                    at: self.at(),
                    what: "integer overflow",
                });
            }
            v = v
                .checked_add(u64::from(b & 0x7f) << shift)
                .ok_or(H3Error::Malformed {
                    at: self.at(),
                    what: "integer overflow",
                })?;
            shift += 7;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
    }

    /// A string literal whose Huffman flag is `h_bit` of `first` and whose length has an
    /// `n`-bit prefix; at most `max` bytes once decoded.
    fn string(
        &mut self,
        first: u8,
        h_bit: u8,
        n: u32,
        max: usize,
        what: &'static str,
    ) -> Result<Vec<u8>, H3Error> {
        let at = self.at();
        let len = self.int(first, n, what)?;
        // Huffman output is at least 8/30 of its input: longer input cannot fit in `max`.
        let limit = if first & h_bit != 0 {
            max.saturating_mul(4).saturating_add(8)
        } else {
            max
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= limit)
            .ok_or(H3Error::TooLarge { at, what })?;
        let raw = self.bytes(len, what)?;
        if first & h_bit != 0 {
            let mut out = Vec::with_capacity(len.saturating_mul(8) / 5);
            huffman::decode(raw, &mut out, max, at)?;
            Ok(out)
        } else {
            Ok(raw.to_vec())
        }
    }
}

fn static_entry(idx: u64, at: u64) -> Result<Field, H3Error> {
    let (n, v) = usize::try_from(idx)
        .ok()
        .and_then(|i| STATIC_TABLE.get(i))
        .ok_or(H3Error::Malformed {
            at,
            what: "static table index out of range",
        })?;
    Ok((n.as_bytes().to_vec(), v.as_bytes().to_vec()))
}

/// A field section waiting for dynamic table inserts.
struct Blocked {
    stream_id: u64,
    ric: u64,
    block: Vec<u8>,
}

/// Decoder state for the field sections one endpoint sends: the dynamic table built from that
/// endpoint's encoder stream.
pub struct Decoder {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY advertised by the decoding side (sets MaxEntries).
    max_table_capacity: u64,
    capacity: usize,
    /// Oldest first; the front has absolute index `inserted - table.len()`.
    table: VecDeque<Field>,
    size: usize,
    inserted: u64,
    /// Bytes of an incomplete encoder instruction.
    partial: Vec<u8>,
    /// The encoder stream broke; the dynamic table can no longer be trusted.
    failed: Option<H3Error>,
    blocked: VecDeque<Blocked>,
    blocked_bytes: usize,
    unblocked: Vec<(u64, Result<Vec<Field>, H3Error>)>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("capacity", &self.capacity)
            .field("entries", &self.table.len())
            .field("inserted", &self.inserted)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder whose side advertised `max_table_capacity` (0: no dynamic table, unless the
    /// encoder stream sets a capacity, which is then taken as the advertised value).
    pub fn new(max_table_capacity: usize) -> Self {
        Decoder {
            max_table_capacity: max_table_capacity as u64,
            capacity: 0,
            table: VecDeque::new(),
            size: 0,
            inserted: 0,
            partial: Vec::new(),
            failed: None,
            blocked: VecDeque::new(),
            blocked_bytes: 0,
            unblocked: Vec::new(),
        }
    }

    /// The decoding side's SETTINGS_QPACK_MAX_TABLE_CAPACITY, once seen.
    pub fn set_max_table_capacity(&mut self, max_table_capacity: u64) {
        self.max_table_capacity = max_table_capacity;
    }

    /// Total dynamic table insertions so far.
    pub fn insert_count(&self) -> u64 {
        self.inserted
    }

    /// Entries currently in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Field sections decoded after their inserts arrived: `(stream_id, result)` in arrival
    /// order. Drained by this call.
    pub fn take_unblocked(&mut self) -> Vec<(u64, Result<Vec<Field>, H3Error>)> {
        std::mem::take(&mut self.unblocked)
    }

    /// Field sections still waiting for inserts.
    pub fn blocked_count(&self) -> usize {
        self.blocked.len()
    }

    /// Bytes of the encoder stream, in order, in chunks of any size.
    pub fn encoder_stream(&mut self, data: &[u8]) -> Result<(), H3Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let buf = if self.partial.is_empty() {
            data.to_vec()
        } else {
            let mut b = std::mem::take(&mut self.partial);
            b.extend_from_slice(data);
            b
        };
        let mut cur = Cur { b: &buf, pos: 0 };
        loop {
            let start = cur.pos;
            if start >= buf.len() {
                break;
            }
            match self.instruction(&mut cur) {
                Ok(()) => {}
                Err(H3Error::Truncated { .. }) => {
                    // Wait for the rest; strings were checked against the capacity, so this
                    // stays small.
                    self.partial = buf.get(start..).unwrap_or_default().to_vec();
                    break;
                }
                Err(e) => {
                    self.failed = Some(e.clone());
                    self.fail_blocked(&e);
                    return Err(e);
                }
            }
        }
        self.retry_blocked();
        Ok(())
    }

    fn instruction(&mut self, c: &mut Cur<'_>) -> Result<(), H3Error> {
        let at = c.at();
        let b = c.byte("encoder instruction")?;
        let max = self.capacity;
        if b & 0x80 != 0 {
            // Insert with name reference.
            let idx = c.int(b, 6, "name index")?;
            let name = if b & 0x40 != 0 {
                static_entry(idx, at)?.0
            } else {
                let abs = self
                    .inserted
                    .checked_sub(1)
                    .and_then(|x| x.checked_sub(idx));
                self.dynamic(abs, self.inserted, at)?.0
            };
            let vb = c.byte("value")?;
            let value = c.string(vb, 0x80, 7, max, "value")?;
            self.insert(name, value, at)
        } else if b & 0x40 != 0 {
            // Insert with literal name.
            let name = c.string(b, 0x20, 5, max, "name")?;
            let vb = c.byte("value")?;
            let value = c.string(vb, 0x80, 7, max, "value")?;
            self.insert(name, value, at)
        } else if b & 0x20 != 0 {
            let cap = c.int(b, 5, "capacity")?;
            if self.max_table_capacity == 0 {
                // SETTINGS not seen (not captured): trust the encoder's choice.
                self.max_table_capacity = cap;
            }
            if cap > self.max_table_capacity || cap > MAX_TABLE_CAPACITY as u64 {
                return Err(H3Error::TooLarge {
                    at,
                    what: "dynamic table capacity",
                });
            }
            self.capacity = cap as usize;
            self.evict(0);
            Ok(())
        } else {
            // Duplicate.
            let idx = c.int(b, 5, "duplicate index")?;
            let abs = self
                .inserted
                .checked_sub(1)
                .and_then(|x| x.checked_sub(idx));
            let (n, v) = self.dynamic(abs, self.inserted, at)?;
            self.insert(n, v, at)
        }
    }

    /// Evict until `extra` more bytes fit.
    fn evict(&mut self, extra: usize) {
        while self.size.saturating_add(extra) > self.capacity {
            let Some((n, v)) = self.table.pop_front() else {
                break;
            };
            self.size = self.size.saturating_sub(n.len() + v.len() + 32);
        }
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>, at: u64) -> Result<(), H3Error> {
        let sz = name.len() + value.len() + 32;
        if sz > self.capacity {
            return Err(H3Error::TooLarge {
                at,
                what: "dynamic table entry larger than capacity",
            });
        }
        self.evict(sz);
        self.size += sz;
        self.table.push_back((name, value));
        self.inserted += 1;
        Ok(())
    }

    /// The entry at absolute index `abs`, which must be below `limit`.
    fn dynamic(&self, abs: Option<u64>, limit: u64, at: u64) -> Result<Field, H3Error> {
        let err = H3Error::Malformed {
            at,
            what: "dynamic table reference out of range",
        };
        let abs = abs
            .filter(|a| *a < limit && *a < self.inserted)
            .ok_or(err.clone())?;
        let dropped = self.inserted - self.table.len() as u64;
        let i = abs.checked_sub(dropped).ok_or(err.clone())?;
        self.table
            .get(usize::try_from(i).map_err(|_| err.clone())?)
            .cloned()
            .ok_or(err)
    }

    /// Decode the Required Insert Count of a field section prefix (RFC 9204 §4.5.1.1).
    fn required_insert_count(&self, encoded: u64, at: u64) -> Result<u64, H3Error> {
        if encoded == 0 {
            return Ok(0);
        }
        let err = H3Error::Malformed {
            at,
            what: "invalid required insert count",
        };
        let max_entries = self.max_table_capacity / 32;
        let full_range = max_entries.checked_mul(2).ok_or(err.clone())?;
        if encoded > full_range {
            return Err(err);
        }
        let max_value = self.inserted.saturating_add(max_entries);
        let max_wrapped = (max_value / full_range) * full_range;
        let mut ric = max_wrapped + encoded - 1;
        if ric > max_value {
            if ric <= full_range {
                return Err(err);
            }
            ric -= full_range;
        }
        if ric == 0 {
            return Err(err);
        }
        Ok(ric)
    }

    /// Decode one field section (the payload of a HEADERS or PUSH_PROMISE frame). A section
    /// that needs inserts not yet received is kept (within bounds) and reported as
    /// [`H3Error::Blocked`]; its result later comes from [`Decoder::take_unblocked`].
    pub fn decode_field_section(
        &mut self,
        stream_id: u64,
        block: &[u8],
    ) -> Result<Vec<Field>, H3Error> {
        let mut c = Cur { b: block, pos: 0 };
        let b = c.byte("required insert count")?;
        let enc = c.int(b, 8, "required insert count")?;
        let ric = self.required_insert_count(enc, 0)?;
        if ric > self.inserted {
            if let Some(e) = &self.failed {
                return Err(e.clone());
            }
            if self.blocked.len() >= MAX_BLOCKED
                || self.blocked_bytes.saturating_add(block.len()) > MAX_BLOCKED_BYTES
            {
                return Err(H3Error::TooLarge {
                    at: 0,
                    what: "too many blocked field sections",
                });
            }
            self.blocked_bytes += block.len();
            self.blocked.push_back(Blocked {
                stream_id,
                ric,
                block: block.to_vec(),
            });
            return Err(H3Error::Blocked {
                at: 0,
                what: "waiting for dynamic table inserts",
            });
        }
        self.decode_lines(c, ric)
    }

    fn decode_lines(&self, mut c: Cur<'_>, ric: u64) -> Result<Vec<Field>, H3Error> {
        let at = c.at();
        let b = c.byte("delta base")?;
        let delta = c.int(b, 7, "delta base")?;
        let base = if b & 0x80 == 0 {
            ric.checked_add(delta)
        } else {
            ric.checked_sub(delta).and_then(|x| x.checked_sub(1))
        }
        .ok_or(H3Error::Malformed {
            at,
            what: "invalid base",
        })?;
        let mut fields = Vec::new();
        let mut total = 0usize;
        while c.pos < c.b.len() {
            let at = c.at();
            let b = c.byte("field line")?;
            let field = if b & 0x80 != 0 {
                let idx = c.int(b, 6, "index")?;
                if b & 0x40 != 0 {
                    static_entry(idx, at)?
                } else {
                    let abs = base.checked_sub(1).and_then(|x| x.checked_sub(idx));
                    self.dynamic(abs, ric, at)?
                }
            } else if b & 0x40 != 0 {
                let idx = c.int(b, 4, "name index")?;
                let name = if b & 0x10 != 0 {
                    static_entry(idx, at)?.0
                } else {
                    let abs = base.checked_sub(1).and_then(|x| x.checked_sub(idx));
                    self.dynamic(abs, ric, at)?.0
                };
                let vb = c.byte("value")?;
                (name, c.string(vb, 0x80, 7, MAX_STRING, "value")?)
            } else if b & 0x20 != 0 {
                let name = c.string(b, 0x08, 3, MAX_STRING, "name")?;
                let vb = c.byte("value")?;
                (name, c.string(vb, 0x80, 7, MAX_STRING, "value")?)
            } else if b & 0x10 != 0 {
                let idx = c.int(b, 4, "post-base index")?;
                self.dynamic(base.checked_add(idx), ric, at)?
            } else {
                let idx = c.int(b, 3, "post-base name index")?;
                let name = self.dynamic(base.checked_add(idx), ric, at)?.0;
                let vb = c.byte("value")?;
                (name, c.string(vb, 0x80, 7, MAX_STRING, "value")?)
            };
            total = total.saturating_add(field.0.len() + field.1.len() + 32);
            if total > MAX_FIELD_SECTION || fields.len() >= MAX_FIELDS {
                return Err(H3Error::TooLarge {
                    at,
                    what: "field section",
                });
            }
            fields.push(field);
        }
        Ok(fields)
    }

    fn retry_blocked(&mut self) {
        let mut i = 0;
        while i < self.blocked.len() {
            if self.blocked.get(i).is_some_and(|b| b.ric <= self.inserted) {
                if let Some(b) = self.blocked.remove(i) {
                    self.blocked_bytes -= b.block.len();
                    let r = self.decode_unblocked(&b.block, b.ric);
                    self.unblocked.push((b.stream_id, r));
                }
            } else {
                i += 1;
            }
        }
    }

    fn decode_unblocked(&self, block: &[u8], ric: u64) -> Result<Vec<Field>, H3Error> {
        let mut c = Cur { b: block, pos: 0 };
        let b = c.byte("required insert count")?;
        c.int(b, 8, "required insert count")?;
        self.decode_lines(c, ric)
    }

    fn fail_blocked(&mut self, e: &H3Error) {
        for b in self.blocked.drain(..) {
            self.unblocked.push((b.stream_id, Err(e.clone())));
        }
        self.blocked_bytes = 0;
    }

    /// The encoder stream lost bytes: the dynamic table can no longer be trusted, so every
    /// waiting and future section that needs it fails.
    pub fn abandon(&mut self) {
        let e = H3Error::Malformed {
            at: 0,
            what: "encoder stream incomplete",
        };
        self.failed = Some(e.clone());
        self.fail_blocked(&e);
    }

    /// Give up on every blocked section (end of capture).
    pub fn abandon_blocked(&mut self) {
        let e = H3Error::Blocked {
            at: 0,
            what: "inserts never arrived",
        };
        self.fail_blocked(&e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    fn text(f: &[Field]) -> Vec<(String, String)> {
        f.iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// RFC 9204 B.1: literal field line with name reference, static table only.
    #[test]
    fn rfc9204_b1() {
        let mut d = Decoder::new(0);
        let f = d
            .decode_field_section(0, &h("0000 510b 2f69 6e64 6578 2e68 746d 6c"))
            .unwrap();
        assert_eq!(text(&f), pairs(&[(":path", "/index.html")]));
    }

    /// RFC 9204 B.2–B.5: dynamic table inserts, post-base indexing, duplicates, eviction.
    #[test]
    fn rfc9204_b2_to_b5() {
        let mut d = Decoder::new(220);
        // B.2: encoder stream.
        d.encoder_stream(&h(
            "3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468",
        ))
        .unwrap();
        assert_eq!(d.insert_count(), 2);
        let f = d.decode_field_section(0, &h("0381 10 11")).unwrap();
        assert_eq!(
            text(&f),
            pairs(&[(":authority", "www.example.com"), (":path", "/sample/path")])
        );
        // B.3: literal name insert.
        d.encoder_stream(&h("4a637573746f6d2d6b65790c637573746f6d2d76616c7565"))
            .unwrap();
        // B.4: duplicate, then a section with the relative index.
        d.encoder_stream(&h("02")).unwrap();
        let f = d.decode_field_section(8, &h("0500 80 c1 81")).unwrap();
        assert_eq!(
            text(&f),
            pairs(&[
                (":authority", "www.example.com"),
                (":path", "/"),
                ("custom-key", "custom-value"),
            ])
        );
        // B.5: insert evicting the oldest entry.
        d.encoder_stream(&h("810d637573746f6d2d76616c756532"))
            .unwrap();
        assert_eq!(d.insert_count(), 5);
        assert_eq!(d.table_len(), 4);
        // The evicted entry (absolute 0) can no longer be referenced.
        assert!(d.decode_field_section(0, &h("0381 10")).is_err());
    }

    /// A section sent before its inserts: blocked, then decoded when they arrive, even when
    /// the encoder stream is split mid-instruction.
    #[test]
    fn blocked_then_unblocked() {
        let mut d = Decoder::new(220);
        let r = d.decode_field_section(4, &h("0200 80"));
        assert!(matches!(r, Err(H3Error::Blocked { .. })));
        assert_eq!(d.blocked_count(), 1);
        let ins = h("3fbd01 c00f7777772e6578616d706c652e636f6d");
        d.encoder_stream(&ins[..7]).unwrap();
        assert!(d.take_unblocked().is_empty());
        d.encoder_stream(&ins[7..]).unwrap();
        let u = d.take_unblocked();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].0, 4);
        let f = u[0].1.as_ref().unwrap();
        assert_eq!(text(f), pairs(&[(":authority", "www.example.com")]));
    }

    #[test]
    fn malformed_sections_are_errors() {
        let mut d = Decoder::new(220);
        for bad in [
            "",                                 // no prefix
            "00",                               // no base
            "0000 ff64",                        // static index 163
            "0000 80",                          // dynamic reference with RIC 0
            "0000 10",                          // post-base reference with RIC 0
            "0000 5f",                          // truncated integer
            "0000 51ff",                        // value length overflowing the section
            "0000 2fff",                        // name length truncated
            "00 00 51 81 00",                   // Huffman padding error
            "0000 51 ffffffffffffffffffffff7f", // integer overflow
            "ff00",                             // RIC larger than the full range
        ] {
            let r = d.decode_field_section(0, &h(bad));
            assert!(r.is_err(), "{bad} decoded as {r:?}");
        }
        // Encoder stream: capacity above the advertised maximum, then the stream stays failed.
        assert!(d.encoder_stream(&h("3fe107")).is_err());
        assert!(d.encoder_stream(&h("3fbd01")).is_err());
        // Entry larger than the table.
        let mut d = Decoder::new(64);
        d.encoder_stream(&h("3f21")).unwrap();
        let mut big = h("c0 2a");
        big.extend([b'x'; 42]);
        assert!(d.encoder_stream(&big).is_err());
        // Huge string length is refused before buffering.
        let mut d = Decoder::new(64);
        d.encoder_stream(&h("3f21")).unwrap();
        assert!(d.encoder_stream(&h("c0 7fffffffff0f")).is_err());
        // Duplicate of a missing entry.
        let mut d = Decoder::new(64);
        assert!(d.encoder_stream(&h("05")).is_err());
    }

    #[test]
    fn blocked_sections_are_bounded() {
        let mut d = Decoder::new(4096);
        for i in 0..MAX_BLOCKED as u64 {
            assert!(matches!(
                d.decode_field_section(i * 4, &h("0500 80")),
                Err(H3Error::Blocked { .. })
            ));
        }
        assert!(matches!(
            d.decode_field_section(9999, &h("0500 80")),
            Err(H3Error::TooLarge { .. })
        ));
        d.abandon_blocked();
        assert_eq!(d.take_unblocked().len(), MAX_BLOCKED);
    }
}
