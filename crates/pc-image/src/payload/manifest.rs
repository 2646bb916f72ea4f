//! A payload's manifest checked into the partitions and operations the reader uses: every
//! blob inside the payload, every extent inside its partition, no block written twice. Shared
//! by the payload (which lists partitions) and the rebuilt partitions (which lay out the
//! operations), so neither imports the other.

use std::collections::BTreeMap;

use super::proto::{self, OpKind};
use crate::error::{ImageError, Result};

/// Size of the fixed header: magic, major version, manifest size, metadata signature size.
pub(crate) const HEADER_LEN: u64 = 24;

/// A partition as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// `partition_name`.
    pub name: String,
    /// Size in bytes (`new_partition_info.size`, else the end of the last written block).
    pub size: u64,
    /// `new_partition_info.hash`: SHA-256 of the partition, when given.
    pub sha256: Option<[u8; 32]>,
    /// Number of operations of each kind.
    pub op_counts: BTreeMap<OpKind, u64>,
    /// `old_partition_info` of a delta payload: the source partition's size and SHA-256.
    pub old: Option<(u64, Vec<u8>)>,
    /// `version` (per-partition build timestamp), when given.
    pub version: Option<String>,
    pub(crate) ops: Vec<Op>,
}

/// One operation, checked: its blob lies inside the payload, its extents inside the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Op {
    pub index: usize,
    pub kind: OpKind,
    /// Offset of the blob in the payload file (absolute).
    pub data_off: u64,
    pub data_len: u64,
    /// Destination extents (start block, block count), in the order the data fills them.
    pub dst: Vec<(u64, u64)>,
}

impl Op {
    pub fn dst_blocks(&self) -> u64 {
        self.dst.iter().map(|e| e.1).sum()
    }
}

/// What checking a partition's operations needs to know of the payload.
pub(crate) struct Ctx<'a> {
    pub name: &'a str,
    pub block_size: u64,
    pub data_start: u64,
    pub payload_size: u64,
}

impl Ctx<'_> {
    pub fn partition(&self, i: usize, pu: proto::PartitionUpdate) -> Result<Partition> {
        let name = pu
            .partition_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("#{i}"));
        let err = |what: String| ImageError::new(self.name, HEADER_LEN, what).in_part(&name);
        let mut ops = Vec::with_capacity(pu.operations.len());
        let mut op_counts = BTreeMap::new();
        let mut written: Vec<(u64, u64, usize)> = Vec::new();
        for (j, o) in pu.operations.into_iter().enumerate() {
            let n = o.kind.unwrap_or(0);
            let kind = OpKind::from_number(n)
                .ok_or_else(|| err(format!("operation {j}: unknown type {n}")))?;
            *op_counts.entry(kind).or_insert(0u64) += 1;
            let data_len = o.data_length.unwrap_or(0);
            let rel = o.data_offset.unwrap_or(0);
            let data_off = self
                .data_start
                .checked_add(rel)
                .filter(|s| {
                    s.checked_add(data_len)
                        .is_some_and(|e| e <= self.payload_size)
                })
                .ok_or_else(|| {
                    ImageError::new(
                        self.name,
                        self.data_start.saturating_add(rel),
                        format!(
                            "operation {j} ({}): blob of {data_len} bytes at data offset {rel} \
                             runs past the payload's end ({} bytes)",
                            kind.name(),
                            self.payload_size
                        ),
                    )
                    .in_part(&name)
                })?;
            let mut dst = Vec::with_capacity(o.dst_extents.len());
            for e in &o.dst_extents {
                let (s, c) = (e.start_block.unwrap_or(0), e.num_blocks.unwrap_or(0));
                if c == 0
                    || s.checked_add(c)
                        .and_then(|e| e.checked_mul(self.block_size))
                        .is_none()
                {
                    return Err(err(format!(
                        "operation {j}: bad extent of {c} blocks at block {s}"
                    )));
                }
                dst.push((s, c));
                written.push((s, c, j));
            }
            if dst.is_empty() && !kind.needs_source() {
                return Err(err(format!(
                    "operation {j} ({}): no destination extent",
                    kind.name()
                )));
            }
            ops.push(Op {
                index: j,
                kind,
                data_off,
                data_len,
                dst,
            });
        }
        written.sort_unstable();
        for w in written.windows(2) {
            if w[0].0 + w[0].1 > w[1].0 {
                return Err(err(format!(
                    "operations {} and {} both write block {}",
                    w[0].2, w[1].2, w[1].0
                )));
            }
        }
        let end_blocks = written.last().map(|w| w.0 + w.1).unwrap_or(0);
        let info = pu.new_partition_info.unwrap_or_default();
        let size = info.size.unwrap_or(end_blocks * self.block_size);
        if end_blocks > size.div_ceil(self.block_size) {
            return Err(err(format!(
                "operations write up to block {end_blocks}, past the partition's {size} bytes"
            )));
        }
        let sha256 = match info.hash {
            None => None,
            Some(h) if h.is_empty() => None,
            Some(h) => Some(<[u8; 32]>::try_from(h.as_slice()).map_err(|_| {
                err(format!(
                    "new_partition_info.hash of {} bytes is not a SHA-256",
                    h.len()
                ))
            })?),
        };
        Ok(Partition {
            name: name.clone(),
            size,
            sha256,
            op_counts,
            old: pu
                .old_partition_info
                .map(|o| (o.size.unwrap_or(0), o.hash.unwrap_or_default())),
            version: pu.version,
            ops,
        })
    }
}
