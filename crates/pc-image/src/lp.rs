//! `super.img`: Android's dynamic partitions (liblp metadata, format 10.0–10.2).
//!
//! Layout: 4096 reserved bytes, the geometry (magic `gDla`, SHA-256 checked) and its backup,
//! then `slot_count` metadata copies and as many backups. Each metadata copy is a header
//! (magic `0PLA`, SHA-256 of header and of tables) and four tables: partitions, extents,
//! groups, block devices. A partition is a list of extents, each either LINEAR (sectors of the
//! super device) or ZERO. Opening reads the geometry and slot 0 (its backup when the primary
//! fails its checksum); a partition becomes a [`ReadAt`] over its extents, nothing copied.
//! Only single-device super images are read: an extent on another block device (retrofit
//! devices) is refused with the device's name.
//!
//! Own code: no Rust crate reads liblp metadata; the format is small and fixed (AOSP
//! `fs_mgr/liblp/include/liblp/metadata_format.h`), checked here against PyPI `liblp`'s lpunpack.

use sha2::{Digest, Sha256};

use crate::error::{ImageError, Result};
use crate::source::{ReadAt, Source, le};

const RESERVED: u64 = 4096;
const GEOMETRY_SIZE: u64 = 4096;
const GEOMETRY_MAGIC: u32 = 0x616c_4467;
const HEADER_MAGIC: u32 = 0x414c_5030;
const SECTOR: u64 = 512;
/// Partition attribute: the name takes the slot suffix of the metadata slot.
const ATTR_SLOT_SUFFIXED: u32 = 1 << 1;
/// Most entries read from any table (real devices have a few dozen).
const MAX_ENTRIES: u32 = 4096;

/// Whether `src` holds liblp geometry at 4096.
pub fn is_super(src: &dyn ReadAt) -> bool {
    let mut m = [0u8; 4];
    src.read_at(RESERVED, &mut m).is_ok() && u32::from_le_bytes(m) == GEOMETRY_MAGIC
}

/// Where an extent's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Target {
    /// This byte offset of the super device.
    Linear(u64),
    /// Zeros.
    Zero,
}

/// One extent of a logical partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Extent {
    /// Length in bytes.
    pub len: u64,
    /// Where it is.
    pub target: Target,
}

/// One logical partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Partition {
    /// Name as stored (with its `_a`/`_b` suffix when it has one).
    pub name: String,
    /// Attribute bits (1 read-only, 2 slot-suffixed, 4 updated, 8 disabled).
    pub attributes: u32,
    /// Group name.
    pub group: String,
    /// Extents in logical order.
    pub extents: Vec<Extent>,
    /// Size in bytes (sum of the extents).
    pub size: u64,
}

/// The metadata of a super image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Super {
    /// Metadata format version `major.minor`.
    pub version: (u16, u16),
    /// Metadata slots the geometry declares.
    pub slot_count: u32,
    /// Logical block size.
    pub block_size: u32,
    /// Partitions of slot 0, in table order.
    pub partitions: Vec<Partition>,
    /// Group names.
    pub groups: Vec<String>,
    /// Block device names (the first is the super device itself).
    pub block_devices: Vec<String>,
    /// Whether slot 0 came from the backup copy (the primary failed its checks).
    pub from_backup: bool,
}

fn name36(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn checked_sha(mut b: Vec<u8>, field: std::ops::Range<usize>) -> bool {
    let Some(want) = b.get(field.clone()).map(<[u8]>::to_vec) else {
        return false;
    };
    b[field].fill(0);
    Sha256::digest(&b).as_slice() == want.as_slice()
}

struct Table {
    offset: u32,
    count: u32,
    size: u32,
}

impl Super {
    /// Reads geometry and slot-0 metadata.
    pub fn open(src: &dyn ReadAt) -> Result<Super> {
        let name = src.name().to_string();
        let err = |at: u64, what: String| ImageError::new(&name, at, what);
        let mut geo = None;
        let mut why = String::new();
        for at in [RESERVED, RESERVED + GEOMETRY_SIZE] {
            match read_geometry(src, at) {
                Ok(g) => {
                    geo = Some(g);
                    break;
                }
                Err(e) => why = e.to_string(),
            }
        }
        let (max_size, slots, block_size) =
            geo.ok_or_else(|| err(RESERVED, format!("no valid liblp geometry: {why}")))?;
        let primary = RESERVED + 2 * GEOMETRY_SIZE;
        let backup = primary + u64::from(max_size) * u64::from(slots);
        let mut last = String::new();
        for (at, from_backup) in [(primary, false), (backup, true)] {
            match read_metadata(src, at, max_size) {
                Ok(mut s) => {
                    s.slot_count = slots;
                    s.block_size = block_size;
                    s.from_backup = from_backup;
                    return Ok(s);
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(err(
            primary,
            format!("no valid metadata in slot 0 (primary or backup): {last}"),
        ))
    }

    /// The partitions that hold data, named for slot `suffix` (`"_a"`): partitions flagged
    /// slot-suffixed get it appended (retrofit images).
    pub fn named(&self, suffix: &str) -> Vec<Partition> {
        self.partitions
            .iter()
            .filter(|p| p.size > 0)
            .map(|p| {
                let mut p = p.clone();
                if p.attributes & ATTR_SLOT_SUFFIXED != 0 {
                    p.name.push_str(suffix);
                }
                p
            })
            .collect()
    }
}

fn read_geometry(src: &dyn ReadAt, at: u64) -> Result<(u32, u32, u32)> {
    let b = src.read_vec(at, 52)?;
    let err = |o: u64, w: &str| ImageError::new(src.name(), at + o, w.to_string());
    if le::u32(&b, 0) != Some(GEOMETRY_MAGIC) {
        return Err(err(0, "bad geometry magic"));
    }
    if le::u32(&b, 4) != Some(52) {
        return Err(err(4, "geometry struct size is not 52"));
    }
    if !checked_sha(b.clone(), 8..40) {
        return Err(err(8, "geometry checksum mismatch"));
    }
    let max = le::u32(&b, 40).unwrap_or(0);
    let slots = le::u32(&b, 44).unwrap_or(0);
    let bs = le::u32(&b, 48).unwrap_or(0);
    if max == 0 || u64::from(max) % SECTOR != 0 || max > 64 << 20 {
        return Err(err(
            40,
            "metadata size is not a positive multiple of 512 below 64 MiB",
        ));
    }
    if slots == 0 || slots > 16 {
        return Err(err(44, "metadata slot count not in 1..=16"));
    }
    if bs == 0 || u64::from(bs) % SECTOR != 0 {
        return Err(err(48, "logical block size is not a multiple of 512"));
    }
    Ok((max, slots, bs))
}

fn read_metadata(src: &dyn ReadAt, at: u64, max_size: u32) -> Result<Super> {
    let name = src.name();
    let err = |o: u64, w: String| ImageError::new(name, at + o, w);
    let h = src.read_vec(at, 256.min(max_size as usize))?;
    if le::u32(&h, 0) != Some(HEADER_MAGIC) {
        return Err(err(0, "bad metadata header magic".into()));
    }
    let major = le::u16(&h, 4).unwrap_or(0);
    let minor = le::u16(&h, 6).unwrap_or(0);
    if major != 10 || minor > 2 {
        return Err(err(
            4,
            format!("metadata version {major}.{minor} not supported (10.0-10.2)"),
        ));
    }
    let header_size = le::u32(&h, 8).unwrap_or(0) as usize;
    let want = if minor >= 2 { 256 } else { 128 };
    if header_size != want {
        return Err(err(
            8,
            format!("header size {header_size}, {want} expected for 10.{minor}"),
        ));
    }
    if !checked_sha(h[..header_size].to_vec(), 12..44) {
        return Err(err(12, "metadata header checksum mismatch".into()));
    }
    let tables_size = le::u32(&h, 44).unwrap_or(0);
    if u64::from(tables_size) + header_size as u64 > u64::from(max_size) {
        return Err(err(
            44,
            format!("tables ({tables_size} bytes) exceed the metadata size"),
        ));
    }
    let tables = src.read_vec(at + header_size as u64, tables_size as usize)?;
    if Sha256::digest(&tables).as_slice() != &h[48..80] {
        return Err(err(48, "metadata tables checksum mismatch".into()));
    }
    let desc = |o: usize, min: u32| -> Result<Table> {
        let t = Table {
            offset: le::u32(&h, o).unwrap_or(0),
            count: le::u32(&h, o + 4).unwrap_or(0),
            size: le::u32(&h, o + 8).unwrap_or(0),
        };
        let end = u64::from(t.offset) + u64::from(t.count) * u64::from(t.size);
        if t.count > MAX_ENTRIES || (t.count > 0 && t.size < min) || end > u64::from(tables_size) {
            return Err(err(
                o as u64,
                format!("table descriptor at {o} out of bounds"),
            ));
        }
        Ok(t)
    };
    let (pt, et, gt, bt) = (desc(80, 52)?, desc(92, 24)?, desc(104, 48)?, desc(116, 64)?);
    let entry = |t: &Table, i: u32| -> &[u8] {
        let s = t.offset as usize + i as usize * t.size as usize;
        &tables[s..s + t.size as usize]
    };
    let groups: Vec<String> = (0..gt.count)
        .map(|i| name36(&entry(&gt, i)[..36]))
        .collect();
    let devices: Vec<String> = (0..bt.count)
        .map(|i| name36(&entry(&bt, i)[24..60]))
        .collect();
    let device_size = (0..bt.count)
        .next()
        .map(|i| le::u64(entry(&bt, i), 16).unwrap_or(0));
    let mut extents = Vec::with_capacity(et.count as usize);
    for i in 0..et.count {
        let e = entry(&et, i);
        let sectors = le::u64(e, 0).unwrap_or(0);
        let len = sectors
            .checked_mul(SECTOR)
            .ok_or_else(|| err(header_size as u64, format!("extent {i}: size overflows")))?;
        let target = match le::u32(e, 8).unwrap_or(u32::MAX) {
            0 => {
                let source = le::u32(e, 20).unwrap_or(0);
                if source != 0 {
                    let dev = devices.get(source as usize).cloned().unwrap_or_default();
                    return Err(err(
                        0,
                        format!(
                            "extent {i} lies on block device {source} ({dev:?}): multi-device (retrofit) super images are not read; give that device's image instead"
                        ),
                    ));
                }
                let start = le::u64(e, 12).unwrap_or(0).checked_mul(SECTOR);
                let within = start
                    .and_then(|s| s.checked_add(len))
                    .is_some_and(|end| device_size.is_none_or(|d| end <= d));
                match (start, within) {
                    (Some(s), true) => Target::Linear(s),
                    _ => return Err(err(0, format!("extent {i} lies outside the super device"))),
                }
            }
            1 => Target::Zero,
            t => return Err(err(0, format!("extent {i}: unknown target type {t}"))),
        };
        extents.push(Extent { len, target });
    }
    let mut partitions = Vec::with_capacity(pt.count as usize);
    for i in 0..pt.count {
        let p = entry(&pt, i);
        let first = le::u32(p, 40).unwrap_or(0) as usize;
        let n = le::u32(p, 44).unwrap_or(0) as usize;
        let ext = first
            .checked_add(n)
            .and_then(|end| extents.get(first..end))
            .ok_or_else(|| {
                err(
                    0,
                    format!("partition {i}: extents {first}+{n} out of the table"),
                )
            })?
            .to_vec();
        let size = ext.iter().try_fold(0u64, |a, e| a.checked_add(e.len));
        let group = le::u32(p, 48).unwrap_or(0) as usize;
        partitions.push(Partition {
            name: name36(&p[..36]),
            attributes: le::u32(p, 36).unwrap_or(0),
            group: groups.get(group).cloned().unwrap_or_default(),
            size: size.ok_or_else(|| err(0, format!("partition {i}: size overflows")))?,
            extents: ext,
        });
    }
    Ok(Super {
        version: (major, minor),
        slot_count: 0,
        block_size: 0,
        partitions,
        groups,
        block_devices: devices,
        from_backup: false,
    })
}

/// A logical partition read through its extents.
pub struct PartitionSource {
    inner: Source,
    /// (logical start, extent).
    map: Vec<(u64, Extent)>,
    size: u64,
    name: String,
}

impl PartitionSource {
    /// The partition `p` of the super image `inner`; an error when an extent lies past the
    /// end of the image.
    pub fn new(inner: Source, p: &Partition) -> Result<PartitionSource> {
        let mut map = Vec::with_capacity(p.extents.len());
        let mut pos = 0u64;
        for e in &p.extents {
            if let Target::Linear(at) = e.target
                && at.checked_add(e.len).is_none_or(|end| end > inner.size())
            {
                return Err(ImageError::new(
                    inner.name(),
                    at,
                    format!(
                        "partition {}: extent of {} bytes runs past the image's end ({} bytes)",
                        p.name,
                        e.len,
                        inner.size()
                    ),
                ));
            }
            map.push((pos, *e));
            pos += e.len;
        }
        Ok(PartitionSource {
            // Errors name the image; the opener adds the partition and the offset is the
            // partition's own.
            name: inner.name().to_string(),
            inner,
            map,
            size: pos,
        })
    }
}

impl ReadAt for PartitionSource {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        crate::source::in_bounds(&self.name, off, buf.len(), self.size)?;
        let mut i = self.map.partition_point(|(s, e)| s + e.len <= off);
        let mut done = 0usize;
        while done < buf.len() {
            let Some((start, e)) = self.map.get(i) else {
                return Err(ImageError::new(
                    &self.name,
                    off,
                    "no extent covers this offset",
                ));
            };
            i += 1;
            let pos = off + done as u64;
            let inner = pos - start;
            let k = ((e.len - inner) as usize).min(buf.len() - done);
            match e.target {
                Target::Linear(at) => self.inner.read_at(at + inner, &mut buf[done..done + k])?,
                Target::Zero => buf[done..done + k].fill(0),
            }
            done += k;
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn name(&self) -> &str {
        &self.name
    }
}
