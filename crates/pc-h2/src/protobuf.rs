//! Schema-less protobuf decoding: every field with its numeric path; length-delimited values
//! are also expanded as sub-messages when they parse cleanly.

use crate::H2Error;

/// Fields decoded from one buffer, nested ones included.
pub const MAX_FIELDS: usize = 100_000;
/// Deepest expansion honoured, whatever the caller asks.
pub const MAX_DEPTH: usize = 64;
/// Bytes copied for nested values of one buffer (beyond four times its size).
pub const NESTED_COPY_BUDGET: usize = 64 * 1024 * 1024;
/// Highest field number the format allows.
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;

/// One decoded field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoField {
    /// Field numbers from the outermost message, dot-separated (e.g. "1.3.2").
    pub path: String,
    /// Wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
    pub wire_type: u8,
    /// The value.
    pub value: ProtoValue,
}

/// A field value; strings and sub-messages are `Bytes` (the caller searches them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoValue {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 5.
    Fixed32(u32),
    /// Wire type 2; when it parses as a message, its fields follow it with longer paths.
    Bytes(Vec<u8>),
}

/// Decode `data` as a message. `max_depth` is how many levels of sub-messages are expanded
/// (0: top level only; at most [`MAX_DEPTH`]). Errors only if the top level does not parse; a length-delimited value
/// that does not parse as a message stays plain bytes.
pub fn decode(data: &[u8], max_depth: usize) -> Result<Vec<ProtoField>, H2Error> {
    // The recursion depth is also the stack depth.
    let max_depth = max_depth.min(MAX_DEPTH);
    let mut out = Vec::new();
    // Nested expansion copies bytes again at each level: every level for small messages, a
    // bounded multiple of the input for large ones.
    let bytes = data
        .len()
        .saturating_mul(max_depth.saturating_add(1))
        .min(NESTED_COPY_BUDGET.max(data.len().saturating_mul(4)));
    let mut budget = Budget {
        fields: MAX_FIELDS,
        bytes,
    };
    decode_into(data, "", max_depth, &mut budget, &mut out, 0)?;
    Ok(out)
}

struct Budget {
    fields: usize,
    bytes: usize,
}

fn decode_into(
    data: &[u8],
    prefix: &str,
    depth: usize,
    budget: &mut Budget,
    out: &mut Vec<ProtoField>,
    base: u64,
) -> Result<(), H2Error> {
    let mut pos = 0usize;
    while pos < data.len() {
        let at = base + pos as u64;
        let key = varint(data, &mut pos).map_err(|e| e.shifted(base))?;
        let number = key >> 3;
        let wire_type = (key & 7) as u8;
        if number == 0 || number > MAX_FIELD_NUMBER {
            return Err(H2Error::Malformed {
                at,
                what: "protobuf field number",
            });
        }
        if budget.fields == 0 {
            return Err(H2Error::TooLarge {
                at,
                what: "protobuf fields",
                len: MAX_FIELDS as u64 + 1,
                max: MAX_FIELDS as u64,
            });
        }
        budget.fields -= 1;
        let path = if prefix.is_empty() {
            number.to_string()
        } else {
            format!("{prefix}.{number}")
        };
        let value = match wire_type {
            0 => ProtoValue::Varint(varint(data, &mut pos).map_err(|e| e.shifted(base))?),
            1 => ProtoValue::Fixed64(u64::from_le_bytes(fixed(data, &mut pos, at)?)),
            5 => ProtoValue::Fixed32(u32::from_le_bytes(fixed(data, &mut pos, at)?)),
            2 => {
                let len = varint(data, &mut pos).map_err(|e| e.shifted(base))?;
                let start = pos;
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|l| start.checked_add(l))
                    .filter(|&e| e <= data.len())
                    .ok_or(H2Error::Truncated {
                        at,
                        what: "protobuf length-delimited field",
                    })?;
                pos = end;
                let bytes = &data[start..end];
                if prefix.is_empty() || budget.bytes >= bytes.len() {
                    if !prefix.is_empty() {
                        budget.bytes -= bytes.len();
                    }
                    out.push(ProtoField {
                        path: path.clone(),
                        wire_type,
                        value: ProtoValue::Bytes(bytes.to_vec()),
                    });
                    if depth > 0 && looks_binary(bytes) {
                        try_nested(bytes, &path, depth - 1, budget, out, base + start as u64);
                    }
                }
                continue;
            }
            // Groups (3, 4) are deprecated and never produced by gRPC encoders; 6 and 7 are
            // undefined.
            _ => {
                return Err(H2Error::Malformed {
                    at,
                    what: "protobuf wire type",
                });
            }
        };
        out.push(ProtoField {
            path,
            wire_type,
            value,
        });
    }
    Ok(())
}

/// Expand `bytes` as a sub-message if the whole of it parses; otherwise leave `out` as it was.
fn try_nested(
    bytes: &[u8],
    path: &str,
    depth: usize,
    budget: &mut Budget,
    out: &mut Vec<ProtoField>,
    base: u64,
) {
    let mark = out.len();
    let saved = (budget.fields, budget.bytes);
    if bytes.is_empty() || decode_into(bytes, path, depth, budget, out, base).is_err() {
        out.truncate(mark);
        (budget.fields, budget.bytes) = saved;
    }
}

/// Text (all bytes printable, valid UTF-8) is left alone: many short strings happen to parse
/// as messages, while real messages almost always hold a tag or length byte below 0x20.
fn looks_binary(b: &[u8]) -> bool {
    b.iter().any(|&c| c < 0x20 || c == 0x7f) || std::str::from_utf8(b).is_err()
}

/// Base-128 varint, at most 10 bytes and 64 bits.
pub fn varint(data: &[u8], pos: &mut usize) -> Result<u64, H2Error> {
    let start = *pos;
    let mut v = 0u64;
    for i in 0..10 {
        let b = *data.get(*pos).ok_or(H2Error::Truncated {
            at: start as u64,
            what: "protobuf varint",
        })?;
        *pos += 1;
        if i == 9 && b > 1 {
            return Err(H2Error::Malformed {
                at: start as u64,
                what: "protobuf varint overflows 64 bits",
            });
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(H2Error::Malformed {
        at: start as u64,
        what: "protobuf varint longer than 10 bytes",
    })
}

fn fixed<const N: usize>(data: &[u8], pos: &mut usize, at: u64) -> Result<[u8; N], H2Error> {
    let b = pos
        .checked_add(N)
        .and_then(|end| data.get(*pos..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(H2Error::Truncated {
            at,
            what: "protobuf fixed-width field",
        })?;
    *pos += N;
    Ok(b)
}
