//! `resources.arsc` (`ResTable`): enough to resolve a resource reference (`0xPPTTEEEE`) to its
//! value(s), e.g. the app label string or the network security config file path.
//!
//! Supports the global string pool, packages, type specs (skipped), types with dense, sparse and
//! offset16 entry tables, complex (map) entries and compact entries. Configurations are kept so
//! that the default configuration is preferred when resolving, as `aapt dump badging` does for
//! `application-label`; when there is no default, the first configuration found is used (the
//! same fallback androguard applies).

use std::collections::BTreeMap;

use crate::axml::{Anomaly, StringPool, Value, pool_anomalies};
use crate::bytes::{u16_at, u32_at};

const RES_STRING_POOL_TYPE: u16 = 0x0001;
const RES_TABLE_TYPE: u16 = 0x0002;
const RES_TABLE_PACKAGE_TYPE: u16 = 0x0200;
const RES_TABLE_TYPE_TYPE: u16 = 0x0201;
const FLAG_SPARSE: u8 = 0x01;
const FLAG_OFFSET16: u8 = 0x02;
const ENTRY_FLAG_COMPLEX: u16 = 0x0001;
const ENTRY_FLAG_COMPACT: u16 = 0x0008;
const NO_ENTRY: u32 = 0xFFFF_FFFF;
const TYPE_REFERENCE: u8 = 0x01;
const TYPE_STRING: u8 = 0x03;

/// Bounds for [`ResourceTable::parse_with`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most resource IDs kept.
    pub max_values: usize,
    /// Most items in one complex entry.
    pub max_map_items: usize,
    /// Most complex-entry items in the whole table (entries may share one crafted map).
    pub max_total_map_items: usize,
    /// Longest reference chain followed by [`ResourceTable::resolve`].
    pub max_reference_depth: usize,
    /// Longest decoded string.
    pub max_string_len: usize,
    /// Most chunks walked.
    pub max_chunks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_values: 4_000_000,
            max_map_items: 4096,
            max_total_map_items: 8_000_000,
            max_reference_depth: 16,
            max_string_len: 1 << 20,
            max_chunks: 1_000_000,
        }
    }
}

/// Errors with the offset of the offending chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArscError {
    /// Too short to be a resource table.
    #[error("resource table too short at {at}")]
    TooShort {
        /// Offset.
        at: u64,
    },
    /// First chunk is not RES_TABLE_TYPE.
    #[error("not a resource table at {at}: {what}")]
    NotResourceTable {
        /// Offset.
        at: u64,
        /// What was seen.
        what: &'static str,
    },
    /// A limit was exceeded.
    #[error("resource table limit exceeded at {at}: {what}")]
    Limit {
        /// Offset.
        at: u64,
        /// Which limit.
        what: &'static str,
    },
}

/// A resource configuration (`ResTable_config`), the fields useful for reporting.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Config {
    /// Mobile country code.
    pub mcc: u16,
    /// Mobile network code.
    pub mnc: u16,
    /// Language, e.g. "fr" (empty for any).
    pub language: String,
    /// Region, e.g. "CA" (empty for any).
    pub country: String,
    /// Screen density (dpi), 0 for any.
    pub density: u16,
    /// Minimum SDK version qualifier (`-v21`), 0 for any.
    pub sdk_version: u16,
    /// True when every qualifier is unset (the default configuration).
    pub is_default: bool,
}

impl Config {
    fn parse(raw: &[u8]) -> Config {
        let size = (u32_at(raw, 0).unwrap_or(0) as usize).min(raw.len());
        let body = raw.get(4..size).unwrap_or(&[]);
        let b = |i: usize| body.get(i).copied().unwrap_or(0);
        let two = |i: usize| {
            let (x, y) = (b(i), b(i + 1));
            if x == 0 {
                String::new()
            } else if x & 0x80 == 0 {
                String::from_utf8_lossy(&[x, y]).into_owned()
            } else {
                // Packed 3-letter code (ISO 639-2); keep it as hex rather than decoding.
                format!("{x:02x}{y:02x}")
            }
        };
        Config {
            mcc: u16_at(body, 0).unwrap_or(0),
            mnc: u16_at(body, 2).unwrap_or(0),
            language: two(4),
            country: two(6),
            density: u16_at(body, 10).unwrap_or(0),
            sdk_version: u16_at(body, 20).unwrap_or(0),
            is_default: body.iter().all(|&x| x == 0),
        }
    }
}

/// Entry payload before string decoding.
#[derive(Debug, Clone)]
enum Raw {
    Simple {
        kind: u8,
        data: u32,
    },
    Complex {
        parent: u32,
        items: Vec<(u32, u8, u32)>,
    },
}

/// A resolved resource value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum ResValue {
    /// A simple value (string, int, reference left unresolved, ...).
    Simple(Value),
    /// A complex (map/bag) entry: style, array, plurals...
    Complex {
        /// Parent resource, 0 for none.
        parent: u32,
        /// `(attribute or index name, value)` pairs.
        items: Vec<(u32, Value)>,
    },
}

/// A parsed resource table (owned: the global string pool bytes are copied, values are decoded
/// lazily).
#[derive(Debug, Clone, Default)]
pub struct ResourceTable {
    strings: Vec<u8>,
    /// The global pool's string slots ([`StringPool::starts`]), computed once.
    string_starts: Vec<u32>,
    anomalies: Vec<Anomaly>,
    configs: Vec<Config>,
    /// id → [(config index, raw value)], in file order.
    values: BTreeMap<u32, Vec<(usize, Raw)>>,
    /// Package id → name.
    packages: BTreeMap<u8, String>,
    map_items: usize,
    limits: Limits,
}

impl ResourceTable {
    /// Parses with default [`Limits`].
    pub fn parse(data: &[u8]) -> Result<Self, ArscError> {
        Self::parse_with(data, Limits::default())
    }

    /// Parses a `resources.arsc`.
    pub fn parse_with(data: &[u8], limits: Limits) -> Result<Self, ArscError> {
        if data.len() < 12 {
            return Err(ArscError::TooShort { at: 0 });
        }
        if u16_at(data, 0) != Some(RES_TABLE_TYPE) {
            return Err(ArscError::NotResourceTable {
                at: 0,
                what: "first chunk is not RES_TABLE_TYPE",
            });
        }
        let hs = usize::from(u16_at(data, 2).unwrap_or(12));
        let size = u32_at(data, 4).unwrap_or(0) as usize;
        let end = if size >= 12 && size <= data.len() {
            size
        } else {
            data.len()
        };
        let mut t = ResourceTable {
            limits,
            ..Default::default()
        };
        let mut count = 0usize;
        let mut pos = if (12..=end).contains(&hs) { hs } else { 12 };
        let mut have_pool = false;
        while pos + 8 <= end {
            count += 1;
            if count > t.limits.max_chunks {
                return Err(ArscError::Limit {
                    at: pos as u64,
                    what: "too many chunks",
                });
            }
            let ctype = u16_at(data, pos).unwrap_or(0);
            let csize = u32_at(data, pos + 4).unwrap_or(0) as usize;
            if csize < 8 {
                break;
            }
            let cend = pos.saturating_add(csize).min(end);
            let chunk = &data[pos..cend];
            match ctype {
                RES_STRING_POOL_TYPE if !have_pool => {
                    t.strings = chunk.to_vec();
                    if let Some(p) = StringPool::parse(chunk, t.limits.max_string_len) {
                        pool_anomalies(&p, pos as u64, &mut t.anomalies);
                        t.string_starts = p.starts().to_vec();
                    }
                    have_pool = true;
                }
                RES_TABLE_PACKAGE_TYPE => t.parse_package(chunk, pos, &mut count)?,
                _ => {}
            }
            pos = pos.saturating_add(csize);
        }
        Ok(t)
    }

    fn parse_package(
        &mut self,
        chunk: &[u8],
        base: usize,
        count: &mut usize,
    ) -> Result<(), ArscError> {
        let hs = usize::from(u16_at(chunk, 2).unwrap_or(0));
        let id = u32_at(chunk, 8).unwrap_or(0);
        let pkg_id = (id & 0xff) as u8;
        let name_units: Vec<u16> = (0..128)
            .map_while(|i| u16_at(chunk, 12 + i * 2))
            .take_while(|&u| u != 0)
            .collect();
        self.packages
            .entry(pkg_id)
            .or_insert_with(|| String::from_utf16_lossy(&name_units));
        // Header is at least 284 bytes (without typeIdOffset); trust a larger declared one.
        let mut pos = if hs >= 284 && hs <= chunk.len() {
            hs
        } else {
            284.min(chunk.len())
        };
        while pos + 8 <= chunk.len() {
            *count += 1;
            if *count > self.limits.max_chunks {
                return Err(ArscError::Limit {
                    at: (base + pos) as u64,
                    what: "too many chunks",
                });
            }
            let ctype = u16_at(chunk, pos).unwrap_or(0);
            let csize = u32_at(chunk, pos + 4).unwrap_or(0) as usize;
            if csize < 8 {
                break;
            }
            let cend = pos.saturating_add(csize).min(chunk.len());
            if ctype == RES_TABLE_TYPE_TYPE {
                self.parse_type(&chunk[pos..cend], pkg_id, base + pos)?;
            }
            pos = pos.saturating_add(csize);
        }
        Ok(())
    }

    fn parse_type(&mut self, c: &[u8], pkg_id: u8, at: usize) -> Result<(), ArscError> {
        let hs = usize::from(u16_at(c, 2).unwrap_or(0));
        let (Some(&type_id), Some(&flags)) = (c.get(8), c.get(9)) else {
            return Ok(());
        };
        let entry_count = u32_at(c, 12).unwrap_or(0) as usize;
        let entries_start = u32_at(c, 16).unwrap_or(0) as usize;
        let config = Config::parse(c.get(20..hs.min(c.len()).max(20)).unwrap_or(&[]));
        let cfg_idx = match self.configs.iter().position(|x| *x == config) {
            Some(i) => i,
            None => {
                self.configs.push(config);
                self.configs.len() - 1
            }
        };
        if hs < 20 || hs > c.len() || type_id == 0 {
            return Ok(());
        }
        let entries_at = entries_start.min(c.len());
        // (entry index, offset from entries_at)
        let mut list: Vec<(u32, usize)> = Vec::new();
        if flags & FLAG_SPARSE != 0 {
            for i in 0..entry_count.min((c.len() - hs) / 4) {
                let (Some(idx), Some(off)) = (u16_at(c, hs + i * 4), u16_at(c, hs + i * 4 + 2))
                else {
                    break;
                };
                list.push((u32::from(idx), usize::from(off) * 4));
            }
        } else if flags & FLAG_OFFSET16 != 0 {
            for i in 0..entry_count.min((c.len() - hs) / 2) {
                let Some(off) = u16_at(c, hs + i * 2) else {
                    break;
                };
                if off != 0xFFFF {
                    list.push((i as u32, usize::from(off) * 4));
                }
            }
        } else {
            for i in 0..entry_count.min((c.len() - hs) / 4) {
                let Some(off) = u32_at(c, hs + i * 4) else {
                    break;
                };
                if off != NO_ENTRY {
                    list.push((i as u32, off as usize));
                }
            }
        }
        for (idx, off) in list {
            let Some(e) = entries_at.checked_add(off) else {
                continue;
            };
            let (Some(esize), Some(eflags), Some(ekey)) =
                (u16_at(c, e), u16_at(c, e + 2), u32_at(c, e + 4))
            else {
                continue;
            };
            let raw = if eflags & ENTRY_FLAG_COMPACT != 0 {
                // Compact entry: size=key index, flags high byte=data type, key field=data.
                Raw::Simple {
                    kind: (eflags >> 8) as u8,
                    data: ekey,
                }
            } else if eflags & ENTRY_FLAG_COMPLEX != 0 {
                let parent = u32_at(c, e + 8).unwrap_or(0);
                let n = (u32_at(c, e + 12).unwrap_or(0) as usize).min(self.limits.max_map_items);
                self.map_items = self.map_items.saturating_add(n);
                if self.map_items > self.limits.max_total_map_items {
                    return Err(ArscError::Limit {
                        at: (at + e) as u64,
                        what: "too many map items",
                    });
                }
                let mut items = Vec::with_capacity(n.min(64));
                let start = e + usize::from(esize).max(16);
                for k in 0..n {
                    let p = start + k * 12;
                    let (Some(name), Some(&kind), Some(data)) =
                        (u32_at(c, p), c.get(p + 7), u32_at(c, p + 8))
                    else {
                        break;
                    };
                    items.push((name, kind, data));
                }
                Raw::Complex { parent, items }
            } else {
                let v = e + usize::from(esize).max(8);
                let (Some(&kind), Some(data)) = (c.get(v + 3), u32_at(c, v + 4)) else {
                    continue;
                };
                Raw::Simple { kind, data }
            };
            let id = (u32::from(pkg_id) << 24) | (u32::from(type_id) << 16) | (idx & 0xffff);
            self.push_value(id, cfg_idx, raw, at)?;
        }
        Ok(())
    }

    fn push_value(&mut self, id: u32, cfg: usize, raw: Raw, at: usize) -> Result<(), ArscError> {
        let total: usize = self.values.len();
        if total >= self.limits.max_values {
            return Err(ArscError::Limit {
                at: at as u64,
                what: "too many values",
            });
        }
        let v = self.values.entry(id).or_default();
        if v.len() < 4096 {
            v.push((cfg, raw));
        }
        Ok(())
    }

    fn pool(&self) -> Option<StringPool<'_>> {
        StringPool::parse_with_starts(
            &self.strings,
            self.limits.max_string_len,
            &self.string_starts,
        )
    }

    /// What aapt would not have written (strings past their slot in the global pool).
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    fn decode(&self, pool: Option<&StringPool<'_>>, kind: u8, data: u32) -> Value {
        Value::from_raw(kind, data, |i| pool.and_then(|p| p.get(i)))
    }

    fn to_value(&self, raw: &Raw) -> ResValue {
        let pool = self.pool();
        match raw {
            Raw::Simple { kind, data } => {
                ResValue::Simple(self.decode(pool.as_ref(), *kind, *data))
            }
            Raw::Complex { parent, items } => ResValue::Complex {
                parent: *parent,
                items: items
                    .iter()
                    .map(|&(n, k, d)| (n, self.decode(pool.as_ref(), k, d)))
                    .collect(),
            },
        }
    }

    /// The value preferred for `id`: the default configuration's, else the first one.
    fn pick(&self, id: u32) -> Option<&Raw> {
        let list = self.values.get(&id)?;
        list.iter()
            .find(|(c, _)| self.configs.get(*c).is_some_and(|c| c.is_default))
            .or_else(|| list.first())
            .map(|(_, r)| r)
    }

    /// Every `(configuration, value)` of a resource, in file order (no reference following).
    pub fn values(&self, id: u32) -> Vec<(Config, ResValue)> {
        self.values
            .get(&id)
            .map(|l| {
                l.iter()
                    .map(|(c, r)| {
                        (
                            self.configs.get(*c).cloned().unwrap_or_default(),
                            self.to_value(r),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Resolves `id` (default configuration first), following reference chains up to the limit.
    /// A reference that leaves the table (e.g. to `android:` resources) is returned as is.
    pub fn resolve(&self, id: u32) -> Option<ResValue> {
        let mut cur = id;
        for _ in 0..self.limits.max_reference_depth {
            let raw = self.pick(cur)?;
            match raw {
                Raw::Simple {
                    kind: TYPE_REFERENCE,
                    data,
                } if self.values.contains_key(data) && *data != cur => {
                    cur = *data;
                }
                r => return Some(self.to_value(r)),
            }
        }
        None
    }

    /// Resolves `id` to a string (a TYPE_STRING value after following references).
    pub fn resolve_string(&self, id: u32) -> Option<String> {
        match self.resolve(id)? {
            ResValue::Simple(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Whether `id` resolves to a plain string (without decoding it).
    pub fn is_string(&self, id: u32) -> bool {
        matches!(
            self.pick(id),
            Some(Raw::Simple {
                kind: TYPE_STRING,
                ..
            })
        )
    }

    /// Packages `(id, name)` declared in the table.
    pub fn packages(&self) -> Vec<(u8, String)> {
        self.packages.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// Number of distinct resource IDs with at least one value.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value was found.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Number of strings in the global string pool.
    pub fn string_count(&self) -> usize {
        self.pool().map_or(0, |p| p.len())
    }
}
