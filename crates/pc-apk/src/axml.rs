//! Android binary XML (`ResXMLTree`): `AndroidManifest.xml` and compiled `res/xml/*.xml`.
//!
//! Lenient where Android is lenient and where packers play tricks: the root chunk type and sizes
//! are not trusted beyond the data, node extensions are found through each node's header size as
//! `ResXMLParser` does (falling back to the standard 16 bytes when that is impossible), unknown
//! chunks are skipped, and attributes whose resource ID is a known `android:` attribute are named
//! from [`crate::attrs`] whatever their (possibly scrambled) name string says, because Android
//! looks them up by ID.

use std::fmt::Write as _;

use crate::attrs;
use crate::bytes::{u16_at, u32_at};

const RES_STRING_POOL_TYPE: u16 = 0x0001;
const RES_XML_START_NAMESPACE_TYPE: u16 = 0x0100;
const RES_XML_END_NAMESPACE_TYPE: u16 = 0x0101;
const RES_XML_START_ELEMENT_TYPE: u16 = 0x0102;
const RES_XML_END_ELEMENT_TYPE: u16 = 0x0103;
const RES_XML_CDATA_TYPE: u16 = 0x0104;
const RES_XML_RESOURCE_MAP_TYPE: u16 = 0x0180;
const NO_INDEX: u32 = 0xFFFF_FFFF;
const UTF8_FLAG: u32 = 1 << 8;

/// Bounds for [`parse_with`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most elements in the tree.
    pub max_elements: usize,
    /// Deepest nesting.
    pub max_depth: usize,
    /// Most attributes per element.
    pub max_attrs: usize,
    /// Longest decoded string (characters beyond are dropped).
    pub max_string_len: usize,
    /// Most chunks walked.
    pub max_chunks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_elements: 200_000,
            max_depth: 512,
            max_attrs: 4096,
            max_string_len: 1 << 20,
            max_chunks: 1_000_000,
        }
    }
}

/// Errors with the byte offset of the offending chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AxmlError {
    /// Too short to hold even a chunk header.
    #[error("binary xml too short at {at}")]
    TooShort {
        /// Offset.
        at: u64,
    },
    /// Plain-text XML or another format.
    #[error("not binary xml at {at}: {what}")]
    NotBinaryXml {
        /// Offset.
        at: u64,
        /// What was seen.
        what: &'static str,
    },
    /// No string pool: nothing can be named.
    #[error("binary xml without string pool at {at}")]
    NoStringPool {
        /// Offset.
        at: u64,
    },
    /// A limit was exceeded.
    #[error("binary xml limit exceeded at {at}: {what}")]
    Limit {
        /// Offset.
        at: u64,
        /// Which limit.
        what: &'static str,
    },
}

/// A typed attribute (or resource) value (`Res_value`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Value {
    /// TYPE_STRING.
    String(String),
    /// TYPE_INT_DEC (signed) and TYPE_INT_HEX (unsigned 32-bit).
    Int(i64),
    /// TYPE_INT_BOOLEAN.
    Bool(bool),
    /// TYPE_REFERENCE (and TYPE_DYNAMIC_REFERENCE): `@0x7f...`.
    Reference(u32),
    /// TYPE_ATTRIBUTE (and TYPE_DYNAMIC_ATTRIBUTE): `?0x...`.
    AttrRef(u32),
    /// TYPE_FLOAT.
    Float(f32),
    /// TYPE_DIMENSION (complex encoding kept raw).
    Dimension(u32),
    /// TYPE_FRACTION (complex encoding kept raw).
    Fraction(u32),
    /// TYPE_INT_COLOR_* (ARGB).
    Color(u32),
    /// TYPE_NULL.
    Null,
    /// Anything else.
    Other {
        /// dataType.
        kind: u8,
        /// data.
        data: u32,
    },
}

impl Value {
    /// Builds a value from `Res_value` fields; `string` resolves string-pool indices.
    pub(crate) fn from_raw(
        kind: u8,
        data: u32,
        string: impl FnOnce(u32) -> Option<String>,
    ) -> Value {
        match kind {
            0x00 => Value::Null,
            0x01 | 0x07 => Value::Reference(data),
            0x02 | 0x08 => Value::AttrRef(data),
            0x03 => Value::String(string(data).unwrap_or_default()),
            0x04 => Value::Float(f32::from_bits(data)),
            0x05 => Value::Dimension(data),
            0x06 => Value::Fraction(data),
            0x10 => Value::Int(i64::from(data as i32)),
            0x11 => Value::Int(i64::from(data)),
            0x12 => Value::Bool(data != 0),
            0x1c..=0x1f => Value::Color(data),
            k => Value::Other { kind: k, data },
        }
    }

    /// The value as Android's `TypedValue.coerceToString` would print it (references as `@0x..`).
    pub fn to_display(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Reference(r) => format!("@0x{r:08x}"),
            Value::AttrRef(r) => format!("?0x{r:08x}"),
            Value::Float(f) => f.to_string(),
            Value::Dimension(d) => format!("dimension(0x{d:08x})"),
            Value::Fraction(d) => format!("fraction(0x{d:08x})"),
            Value::Color(c) => format!("#{c:08x}"),
            Value::Null => String::new(),
            Value::Other { kind, data } => format!("(type 0x{kind:02x})0x{data:08x}"),
        }
    }
}

/// A parsed document (owned; manifests are small and the tree is capped).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Document {
    /// The first top-level element.
    pub root: Option<Element>,
    /// Namespace declarations `(prefix, uri)` in order of appearance.
    pub namespaces: Vec<(String, String)>,
    /// What aapt would not have written (the document is read anyway).
    pub anomalies: Vec<Anomaly>,
}

/// Most [`Anomaly::StringPastSlot`] kept per string pool (the rest are counted).
pub const MAX_STRING_ANOMALIES: usize = 16;

/// Something aapt would not write, in a binary XML document or a resource table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Anomaly {
    /// String `index` of the string pool declares a length past its slot (the next string's
    /// start, or the end of the string data): it is read only up to the slot's end, so it
    /// never takes in the strings after it.
    StringPastSlot {
        /// Byte offset of the string (its length prefix) in the file.
        at: u64,
        /// Index in the pool.
        index: u32,
        /// Declared length (bytes for UTF-8 pools, UTF-16 code units otherwise).
        declared: u64,
        /// What its slot holds, in the same unit.
        slot: u64,
    },
    /// More strings past their slot than [`MAX_STRING_ANOMALIES`]: how many in all.
    StringsPastSlot {
        /// All such strings of the pool, the ones listed included.
        count: u64,
    },
}

/// The string-pool anomalies of `pool`, whose chunk starts at byte `chunk_at` of the file.
pub(crate) fn pool_anomalies(pool: &StringPool<'_>, chunk_at: u64, out: &mut Vec<Anomaly>) {
    let (first, total) = pool.overruns(MAX_STRING_ANOMALIES);
    out.extend(first.into_iter().map(|o| Anomaly::StringPastSlot {
        at: chunk_at.saturating_add(o.at),
        index: o.index,
        declared: o.declared,
        slot: o.slot,
    }));
    if total > MAX_STRING_ANOMALIES as u64 {
        out.push(Anomaly::StringsPastSlot { count: total });
    }
}

/// An element.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Element {
    /// Namespace URI.
    pub namespace: Option<String>,
    /// Tag name.
    pub name: String,
    /// Attributes in file order.
    pub attrs: Vec<Attribute>,
    /// Child elements.
    pub children: Vec<Element>,
    /// Concatenated CDATA (text) directly inside this element, if any.
    pub text: Option<String>,
}

/// An attribute.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Attribute {
    /// Namespace URI.
    pub namespace: Option<String>,
    /// Name (canonical `android:` name when the resource ID is a known one).
    pub name: String,
    /// Resource ID from the resource map, if any.
    pub resource_id: Option<u32>,
    /// Typed value.
    pub value: Value,
}

impl Element {
    /// The attribute with this resource ID.
    pub fn attr_by_id(&self, id: u32) -> Option<&Attribute> {
        self.attrs.iter().find(|a| a.resource_id == Some(id))
    }

    /// An `android:` attribute, by resource ID first (as Android), else by name in the android
    /// namespace or without resource ID (hand-written or stripped files).
    pub fn android_attr(&self, id: u32) -> Option<&Value> {
        if let Some(a) = self.attr_by_id(id) {
            return Some(&a.value);
        }
        let name = attrs::android_attr_name(id)?;
        self.attrs
            .iter()
            .find(|a| {
                a.name == name
                    && a.resource_id.is_none()
                    && a.namespace
                        .as_deref()
                        .is_none_or(|n| n == attrs::ANDROID_NS)
            })
            .map(|a| &a.value)
    }

    /// A non-namespaced attribute by name (like `package` on `<manifest>`).
    pub fn plain_attr(&self, name: &str) -> Option<&Value> {
        self.attrs
            .iter()
            .find(|a| {
                a.name == name
                    && a.namespace.as_deref().is_none_or(str::is_empty)
                    && a.resource_id.is_none()
            })
            .or_else(|| {
                self.attrs
                    .iter()
                    .find(|a| a.name == name && a.resource_id.is_none())
            })
            .map(|a| &a.value)
    }

    /// Child elements with this tag name.
    pub fn children_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Element> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn count(&self) -> usize {
        1 + self.children.iter().map(Element::count).sum::<usize>()
    }
}

/// A string pool chunk (`ResStringPool`), borrowed.
///
/// Every string is read inside its own *slot*: from its offset to the next larger string offset
/// of the pool (or the end of the string data). A length that claims more — which would read
/// the following strings as part of this one — is cut at the slot's end and reported by
/// [`StringPool::overruns`]. (Android checks only that the claimed length ends on a NUL inside
/// the pool, so a length chosen to end on a later string's terminator reads across strings
/// there; nothing honest is affected, since aapt writes each string once, NUL-terminated.)
#[derive(Debug, Clone)]
pub(crate) struct StringPool<'a> {
    chunk: &'a [u8],
    count: usize,
    offsets_at: usize,
    strings_at: usize,
    strings_end: usize,
    utf8: bool,
    max_len: usize,
    /// The distinct string offsets (relative to `strings_at`), sorted: a slot ends at the next.
    starts: std::borrow::Cow<'a, [u32]>,
}

/// A string's bytes as declared and as bounded by its slot.
struct Located {
    /// Offset of the length prefix, in the chunk.
    at: usize,
    /// Start of the characters (after the length prefix), in the chunk.
    start: usize,
    /// Declared length: bytes (UTF-8) or code units (UTF-16).
    declared: usize,
    /// What fits in the slot, in the same unit.
    fits: usize,
}

/// A string that claims more than its slot holds (see [`StringPool`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overrun {
    /// Offset of the string's length prefix in the pool chunk.
    pub at: u64,
    pub index: u32,
    pub declared: u64,
    pub slot: u64,
}

impl<'a> StringPool<'a> {
    /// Parses the pool header; `chunk` is the whole chunk (already clipped to the data).
    pub(crate) fn parse(chunk: &'a [u8], max_len: usize) -> Option<StringPool<'a>> {
        let mut p = Self::header(chunk, max_len)?;
        p.starts = std::borrow::Cow::Owned(p.sorted_starts());
        Some(p)
    }

    /// [`StringPool::parse`] with the slot starts already computed by an earlier parse of the
    /// same chunk ([`StringPool::starts`]).
    pub(crate) fn parse_with_starts(
        chunk: &'a [u8],
        max_len: usize,
        starts: &'a [u32],
    ) -> Option<StringPool<'a>> {
        let mut p = Self::header(chunk, max_len)?;
        p.starts = std::borrow::Cow::Borrowed(starts);
        Some(p)
    }

    fn header(chunk: &'a [u8], max_len: usize) -> Option<StringPool<'a>> {
        let header_size = usize::from(u16_at(chunk, 2)?);
        let count = u32_at(chunk, 8)? as usize;
        let style_count = u32_at(chunk, 12)? as usize;
        let flags = u32_at(chunk, 16)?;
        let strings_start = u32_at(chunk, 20)? as usize;
        let styles_start = u32_at(chunk, 24)? as usize;
        let header_size = if header_size < 28 || header_size > chunk.len() {
            28
        } else {
            header_size
        };
        // Each index is 4 bytes: the chunk size bounds the count.
        let count = count.min(chunk.len().saturating_sub(header_size) / 4);
        let strings_end =
            if style_count > 0 && styles_start > strings_start && styles_start <= chunk.len() {
                styles_start
            } else {
                chunk.len()
            };
        Some(StringPool {
            chunk,
            count,
            offsets_at: header_size,
            strings_at: strings_start.min(chunk.len()),
            strings_end,
            utf8: flags & UTF8_FLAG != 0,
            max_len,
            starts: std::borrow::Cow::Borrowed(&[]),
        })
    }

    fn sorted_starts(&self) -> Vec<u32> {
        let mut v: Vec<u32> = (0..self.count)
            .filter_map(|i| u32_at(self.chunk, self.offsets_at + i * 4))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The slot starts, to hand to [`StringPool::parse_with_starts`].
    pub(crate) fn starts(&self) -> &[u32] {
        &self.starts
    }

    /// Number of strings.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Where string `idx` lies, or `None` when the index, its offset or its length prefix is
    /// outside the string data.
    fn locate(&self, idx: usize) -> Option<Located> {
        if idx >= self.count {
            return None;
        }
        let off = u32_at(self.chunk, self.offsets_at + idx * 4)?;
        let at = self.strings_at.checked_add(off as usize)?;
        let area = self.chunk.get(..self.strings_end)?;
        // The slot ends where the next string starts, or with the string data.
        let next = match self.starts.binary_search(&off) {
            Ok(i) => self.starts.get(i + 1),
            Err(i) => self.starts.get(i),
        };
        let slot_end = next
            .and_then(|&n| self.strings_at.checked_add(n as usize))
            .map_or(area.len(), |n| n.min(area.len()));
        if self.utf8 {
            let (_, n1) = utf8_len(area, at)?;
            let (declared, n2) = utf8_len(area, at + n1)?;
            let start = at + n1 + n2;
            area.get(start..)?;
            Some(Located {
                at,
                start,
                declared,
                fits: slot_end.saturating_sub(start),
            })
        } else {
            let mut declared = usize::from(u16_at(area, at)?);
            let mut start = at + 2;
            if declared & 0x8000 != 0 {
                declared = ((declared & 0x7fff) << 16) | usize::from(u16_at(area, at + 2)?);
                start += 2;
            }
            area.get(start..)?;
            Some(Located {
                at,
                start,
                declared,
                fits: slot_end.saturating_sub(start) / 2,
            })
        }
    }

    /// String `idx`, or `None` when the index or its offset is invalid. Cut to its slot and
    /// to the pool's `max_len`.
    pub(crate) fn get(&self, idx: u32) -> Option<String> {
        let l = self.locate(idx as usize)?;
        let cut = l.declared > l.fits;
        let n = l.declared.min(l.fits).min(self.max_len);
        if self.utf8 {
            let mut bytes = self.chunk.get(l.start..l.start + n)?;
            // Cut to its slot: the slot's terminator (and padding) is not part of it.
            while cut && let Some((0, rest)) = bytes.split_last() {
                bytes = rest;
            }
            Some(String::from_utf8_lossy(bytes).into_owned())
        } else {
            let mut units: Vec<u16> = (0..n)
                .filter_map(|i| u16_at(self.chunk, l.start + i * 2))
                .collect();
            while cut && units.last() == Some(&0) {
                units.pop();
            }
            Some(String::from_utf16_lossy(&units))
        }
    }

    /// The strings whose declared length runs past their slot, in index order, the first
    /// `keep` of them, and how many there are in all.
    pub(crate) fn overruns(&self, keep: usize) -> (Vec<Overrun>, u64) {
        let mut out = Vec::new();
        let mut total = 0u64;
        for i in 0..self.count {
            if let Some(l) = self.locate(i)
                && l.declared > l.fits
            {
                total += 1;
                if out.len() < keep {
                    out.push(Overrun {
                        at: l.at as u64,
                        index: i as u32,
                        declared: l.declared as u64,
                        slot: l.fits as u64,
                    });
                }
            }
        }
        (out, total)
    }
}

fn utf8_len(data: &[u8], at: usize) -> Option<(usize, usize)> {
    let b0 = *data.get(at)?;
    if b0 & 0x80 != 0 {
        let b1 = *data.get(at + 1)?;
        Some(((usize::from(b0 & 0x7f) << 8) | usize::from(b1), 2))
    } else {
        Some((usize::from(b0), 1))
    }
}

/// Parses with default [`Limits`].
pub fn parse(data: &[u8]) -> Result<Document, AxmlError> {
    parse_with(data, &Limits::default())
}

/// Parses a binary XML document into an owned tree.
pub fn parse_with(data: &[u8], limits: &Limits) -> Result<Document, AxmlError> {
    if data.len() < 8 {
        return Err(AxmlError::TooShort { at: 0 });
    }
    if data.starts_with(b"<?xml")
        || data.starts_with(b"\xef\xbb\xbf<")
        || data.first() == Some(&b'<')
    {
        return Err(AxmlError::NotBinaryXml {
            at: 0,
            what: "plain-text XML",
        });
    }
    // Root chunk: trust its header size only when sane; its total size only up to the data.
    let root_header = usize::from(u16_at(data, 2).unwrap_or(8));
    let root_size = u32_at(data, 4).unwrap_or(0) as usize;
    let mut pos = if (8..=data.len()).contains(&root_header) {
        root_header
    } else {
        8
    };
    let end = if root_size >= pos && root_size <= data.len() {
        root_size
    } else {
        data.len()
    };
    let first_type = u16_at(data, 0).unwrap_or(0);
    if first_type == RES_STRING_POOL_TYPE {
        // Some packers drop the RES_XML_TYPE wrapper: start at the pool itself.
        pos = 0;
    }

    let mut pool: Option<StringPool<'_>> = None;
    // Where the pool's chunk starts, for the offsets of its anomalies.
    let mut pool_at = 0u64;
    let mut res_map: Vec<u32> = Vec::new();
    let mut doc = Document::default();
    let mut stack: Vec<Element> = Vec::new();
    let mut elements = 0usize;
    let mut chunks = 0usize;

    while pos + 8 <= end {
        chunks += 1;
        if chunks > limits.max_chunks {
            return Err(AxmlError::Limit {
                at: pos as u64,
                what: "too many chunks",
            });
        }
        let ctype = u16_at(data, pos).unwrap_or(0);
        let header_size = usize::from(u16_at(data, pos + 2).unwrap_or(0));
        let size = u32_at(data, pos + 4).unwrap_or(0) as usize;
        if size < 8 {
            // Cannot advance: stop here with what we have (Android would fail the document).
            break;
        }
        let chunk_end = pos.saturating_add(size).min(end);
        let chunk = &data[pos..chunk_end];
        match ctype {
            RES_STRING_POOL_TYPE if pool.is_none() => {
                pool = StringPool::parse(chunk, limits.max_string_len);
                pool_at = pos as u64;
            }
            RES_XML_RESOURCE_MAP_TYPE => {
                let hs = if (8..=chunk.len()).contains(&header_size) {
                    header_size
                } else {
                    8
                };
                res_map = (hs..chunk.len().saturating_sub(3))
                    .step_by(4)
                    .filter_map(|o| u32_at(chunk, o))
                    .collect();
            }
            RES_XML_START_NAMESPACE_TYPE
            | RES_XML_END_NAMESPACE_TYPE
            | RES_XML_START_ELEMENT_TYPE
            | RES_XML_END_ELEMENT_TYPE
            | RES_XML_CDATA_TYPE => {
                let Some(pool) = pool.as_ref() else {
                    return Err(AxmlError::NoStringPool { at: pos as u64 });
                };
                // ResXMLParser finds the extension at node + headerSize.
                let ext = if header_size >= 16 && header_size < chunk.len() {
                    header_size
                } else {
                    16
                };
                let s = |idx: Option<u32>| -> Option<String> {
                    match idx {
                        Some(NO_INDEX) | None => None,
                        Some(i) => pool.get(i),
                    }
                };
                match ctype {
                    RES_XML_START_NAMESPACE_TYPE => {
                        let prefix = s(u32_at(chunk, ext)).unwrap_or_default();
                        let uri = s(u32_at(chunk, ext + 4)).unwrap_or_default();
                        if doc.namespaces.len() < 1024
                            && !doc
                                .namespaces
                                .iter()
                                .any(|(p, u)| *p == prefix && *u == uri)
                        {
                            doc.namespaces.push((prefix, uri));
                        }
                    }
                    RES_XML_END_NAMESPACE_TYPE => {}
                    RES_XML_START_ELEMENT_TYPE => {
                        elements += 1;
                        if elements > limits.max_elements {
                            return Err(AxmlError::Limit {
                                at: pos as u64,
                                what: "too many elements",
                            });
                        }
                        if stack.len() >= limits.max_depth {
                            return Err(AxmlError::Limit {
                                at: pos as u64,
                                what: "nesting too deep",
                            });
                        }
                        let el = parse_start(chunk, ext, pool, &res_map, limits);
                        stack.push(el);
                    }
                    RES_XML_END_ELEMENT_TYPE => {
                        close_one(&mut stack, &mut doc);
                    }
                    _ => {
                        // CDATA: the text is the string at data index (node ext + 0).
                        if let (Some(text), Some(top)) = (s(u32_at(chunk, ext)), stack.last_mut()) {
                            let t = top.text.get_or_insert_with(String::new);
                            if t.len() < limits.max_string_len {
                                t.push_str(&text);
                            }
                        }
                    }
                }
            }
            _ => {} // Unknown chunks (including a nested RES_XML_TYPE) are skipped.
        }
        pos = pos.saturating_add(size);
    }
    // Unclosed elements (truncated or crafted files): close them so their content is kept.
    while !stack.is_empty() {
        close_one(&mut stack, &mut doc);
    }
    if doc.root.is_none() && pool.is_none() {
        return Err(AxmlError::NoStringPool { at: 0 });
    }
    if let Some(p) = &pool {
        pool_anomalies(p, pool_at, &mut doc.anomalies);
    }
    Ok(doc)
}

fn close_one(stack: &mut Vec<Element>, doc: &mut Document) {
    if let Some(el) = stack.pop() {
        if let Some(parent) = stack.last_mut() {
            parent.children.push(el);
        } else if doc.root.is_none() {
            doc.root = Some(el);
        }
    }
}

fn parse_start(
    chunk: &[u8],
    ext: usize,
    pool: &StringPool<'_>,
    res_map: &[u32],
    limits: &Limits,
) -> Element {
    let s = |idx: Option<u32>| -> Option<String> {
        match idx {
            Some(NO_INDEX) | None => None,
            Some(i) => pool.get(i),
        }
    };
    let namespace = s(u32_at(chunk, ext)).filter(|n| !n.is_empty());
    let name = s(u32_at(chunk, ext + 4)).unwrap_or_default();
    let attr_start = usize::from(u16_at(chunk, ext + 8).unwrap_or(20));
    let attr_size = usize::from(u16_at(chunk, ext + 10).unwrap_or(20));
    let attr_count = usize::from(u16_at(chunk, ext + 12).unwrap_or(0)).min(limits.max_attrs);
    // Attributes are at least 20 bytes apart; a smaller stride is a lie.
    let attr_size = attr_size.max(20);
    let mut attrs = Vec::with_capacity(attr_count.min(64));
    for i in 0..attr_count {
        let Some(a) = ext
            .checked_add(attr_start)
            .and_then(|x| x.checked_add(i * attr_size))
        else {
            break;
        };
        let (Some(ns), Some(nm), Some(raw), Some(kind), Some(data)) = (
            u32_at(chunk, a),
            u32_at(chunk, a + 4),
            u32_at(chunk, a + 8),
            chunk.get(a + 15).copied(),
            u32_at(chunk, a + 16),
        ) else {
            break;
        };
        let resource_id = res_map.get(nm as usize).copied().filter(|&id| id != 0);
        let known = resource_id.and_then(attrs::android_attr_name);
        let name = match known {
            Some(n) => n.to_string(),
            None => s(Some(nm)).unwrap_or_default(),
        };
        let mut namespace = s(Some(ns)).filter(|n| !n.is_empty());
        if known.is_some() && namespace.is_none() {
            namespace = Some(attrs::ANDROID_NS.to_string());
        }
        let value = Value::from_raw(kind, data, |i| pool.get(i).or_else(|| s(Some(raw))));
        attrs.push(Attribute {
            namespace,
            name,
            resource_id,
            value,
        });
    }
    Element {
        namespace,
        name,
        attrs,
        children: Vec::new(),
        text: None,
    }
}

/// Pretty-prints the document as text XML (for debugging and evidence).
pub fn to_xml_string(doc: &Document) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    if let Some(root) = &doc.root {
        write_el(&mut out, root, doc, 0, true);
    }
    out
}

fn prefix_for<'d>(doc: &'d Document, uri: &str) -> Option<&'d str> {
    doc.namespaces
        .iter()
        .find(|(_, u)| u == uri)
        .map(|(p, _)| p.as_str())
}

fn qname(doc: &Document, ns: Option<&str>, name: &str) -> String {
    match ns {
        Some(uri) => match prefix_for(doc, uri) {
            Some(p) if !p.is_empty() => format!("{p}:{name}"),
            _ if uri == attrs::ANDROID_NS => format!("android:{name}"),
            _ => name.to_string(),
        },
        None => name.to_string(),
    }
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {
                let _ = write!(o, "&#x{:x};", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

fn write_el(out: &mut String, el: &Element, doc: &Document, depth: usize, root: bool) {
    let indent = "  ".repeat(depth.min(64));
    let _ = write!(
        out,
        "{indent}<{}",
        qname(doc, el.namespace.as_deref(), &el.name)
    );
    if root {
        for (p, u) in &doc.namespaces {
            let _ = write!(
                out,
                " xmlns{}{}=\"{}\"",
                if p.is_empty() { "" } else { ":" },
                p,
                escape(u)
            );
        }
    }
    for a in &el.attrs {
        let _ = write!(
            out,
            " {}=\"{}\"",
            qname(doc, a.namespace.as_deref(), &a.name),
            escape(&a.value.to_display())
        );
    }
    if el.children.is_empty() && el.text.is_none() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if let Some(t) = &el.text {
        let _ = writeln!(out, "{indent}  {}", escape(t.trim()));
    }
    for c in &el.children {
        write_el(out, c, doc, depth + 1, false);
    }
    let _ = writeln!(
        out,
        "{indent}</{}>",
        qname(doc, el.namespace.as_deref(), &el.name)
    );
}

impl Document {
    /// Number of elements in the tree.
    pub fn element_count(&self) -> usize {
        self.root.as_ref().map_or(0, Element::count)
    }
}
