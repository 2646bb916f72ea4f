//! A partition of a full payload, rebuilt lazily as a [`ReadAt`]: REPLACE blocks are read
//! straight from the payload, ZERO and DISCARD read as zeros, and REPLACE_BZ / REPLACE_XZ /
//! ZSTD operations are decompressed whole when a read first touches them (an operation is a
//! single compressed stream, so it cannot be entered in the middle). A few recently
//! decompressed operations are kept, each behind a `OnceLock`, so several threads reading the
//! same region sequentially decompress it once while different operations decompress in
//! parallel.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::manifest::{Op, Partition};
use super::proto::OpKind;
use crate::error::{ImageError, Result};
use crate::source::{Cursor, ReadAt, Source};

/// The largest operation held decompressed (update_engine writes 2 MiB operations in full
/// payloads; a larger one is refused rather than allocated).
pub const MAX_OP_BYTES: u64 = 64 << 20;
/// Decompressed operations kept.
const CACHE_SLOTS: usize = 8;
/// xz decoder memory limit (the largest preset's dictionary is 64 MiB).
const XZ_MEMLIMIT: u64 = 128 << 20;

type Slot = Arc<OnceLock<Result<Arc<Vec<u8>>>>>;

/// A run of partition blocks filled by one operation.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    count: u64,
    /// Index into `ops`.
    op: usize,
    /// First block of the operation's output that lands at `start`.
    op_block: u64,
}

/// The rebuilt partition.
pub struct PartitionSource {
    payload: Source,
    name: String,
    part: String,
    size: u64,
    bs: u64,
    ops: Vec<Op>,
    runs: Vec<Run>,
    cache: Mutex<VecDeque<(usize, Slot)>>,
}

impl PartitionSource {
    /// Lays `p`'s operations out (they were checked when the manifest was read: extents in
    /// range and not overlapping, blobs inside the payload).
    pub(crate) fn new(payload: Source, p: &Partition, bs: u64) -> Result<PartitionSource> {
        let err = |op: &Op, what: String| {
            ImageError::new(
                payload.name(),
                op.data_off,
                format!("operation {} ({}): {what}", op.index, op.kind.name()),
            )
            .in_part(&p.name)
        };
        let mut runs = Vec::new();
        for (i, op) in p.ops.iter().enumerate() {
            let dst_bytes = op.dst_blocks().saturating_mul(bs);
            match op.kind {
                // As for the compressed kinds: only the last block may be padded with zeros.
                OpKind::Replace if op.data_len > dst_bytes || op.data_len + bs <= dst_bytes => {
                    return Err(err(
                        op,
                        format!(
                            "{} bytes of data for {dst_bytes} destination bytes",
                            op.data_len
                        ),
                    ));
                }
                OpKind::ReplaceBz | OpKind::ReplaceXz | OpKind::Zstd
                    if dst_bytes > MAX_OP_BYTES =>
                {
                    return Err(err(
                        op,
                        format!("{dst_bytes} destination bytes exceed the limit of {MAX_OP_BYTES}"),
                    ));
                }
                OpKind::Replace
                | OpKind::ReplaceBz
                | OpKind::ReplaceXz
                | OpKind::Zstd
                | OpKind::Zero
                | OpKind::Discard => {}
                k => {
                    return Err(err(
                        op,
                        format!("{} reads the source build: not in a full payload", k.name()),
                    ));
                }
            }
            let mut op_block = 0;
            for &(start, count) in &op.dst {
                runs.push(Run {
                    start,
                    count,
                    op: i,
                    op_block,
                });
                op_block += count;
            }
        }
        runs.sort_unstable_by_key(|r| r.start);
        Ok(PartitionSource {
            name: format!("{}!{}", payload.name(), p.name),
            payload,
            part: p.name.clone(),
            size: p.size,
            bs,
            ops: p.ops.clone(),
            runs,
            cache: Mutex::new(VecDeque::new()),
        })
    }

    /// The decompressed output of operation `i`, from the cache or decompressed now.
    fn output(&self, i: usize) -> Result<Arc<Vec<u8>>> {
        let slot = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            match cache.iter().find(|(j, _)| *j == i) {
                Some((_, s)) => s.clone(),
                None => {
                    let s: Slot = Arc::new(OnceLock::new());
                    cache.push_back((i, s.clone()));
                    if cache.len() > CACHE_SLOTS {
                        cache.pop_front();
                    }
                    s
                }
            }
        };
        slot.get_or_init(|| self.decompress(&self.ops[i]).map(Arc::new))
            .clone()
    }

    fn decompress(&self, op: &Op) -> Result<Vec<u8>> {
        let want = op.dst_blocks() * self.bs;
        let err = |what: String| {
            ImageError::new(
                self.payload.name(),
                op.data_off,
                format!("operation {} ({}): {what}", op.index, op.kind.name()),
            )
            .in_part(&self.part)
        };
        let mut cur = Cursor::new(self.payload.as_ref());
        cur.seek(SeekFrom::Start(op.data_off))
            .map_err(|e| err(format!("seek: {e}")))?;
        let input = cur.take(op.data_len);
        // Capacity grows with what the stream really yields, not with what the extents claim.
        let mut out = Vec::with_capacity(want.min(8 << 20) as usize);
        // One byte more than the extents hold tells an oversized stream from an exact one.
        let read = match op.kind {
            OpKind::ReplaceBz => bzip2::read::BzDecoder::new(input)
                .take(want + 1)
                .read_to_end(&mut out),
            OpKind::ReplaceXz => xz2::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
                .map_err(std::io::Error::other)
                .and_then(|s| {
                    xz2::read::XzDecoder::new_stream(input, s)
                        .take(want + 1)
                        .read_to_end(&mut out)
                }),
            OpKind::Zstd => zstd::stream::read::Decoder::new(input)
                .and_then(|d| d.take(want + 1).read_to_end(&mut out)),
            k => return Err(err(format!("{} is not compressed", k.name()))),
        };
        read.map_err(|e| err(format!("decompressing: {e}")))?;
        let got = out.len() as u64;
        // update_engine pads the last block with zeros; anything else is a broken operation.
        if got > want || got + self.bs <= want {
            return Err(err(format!(
                "decompresses to {}{got} bytes, its extents hold {want}",
                if got > want { "more than " } else { "" }
            )));
        }
        Ok(out)
    }

    /// Fills `buf` with the output bytes `[rel, rel + buf.len())` of operation `i`.
    fn fill_from_op(&self, i: usize, rel: u64, buf: &mut [u8]) -> Result<()> {
        let op = &self.ops[i];
        match op.kind {
            OpKind::Replace => {
                let have = op.data_len.saturating_sub(rel).min(buf.len() as u64) as usize;
                let (data, pad) = buf.split_at_mut(have);
                if have > 0 {
                    self.payload
                        .read_at(op.data_off + rel, data)
                        .map_err(|e| e.in_part(&self.part))?;
                }
                pad.fill(0);
            }
            OpKind::ReplaceBz | OpKind::ReplaceXz | OpKind::Zstd => {
                let out = self.output(i)?;
                let from = (rel as usize).min(out.len());
                let have = (out.len() - from).min(buf.len());
                buf[..have].copy_from_slice(&out[from..from + have]);
                buf[have..].fill(0);
            }
            _ => buf.fill(0),
        }
        Ok(())
    }
}

impl ReadAt for PartitionSource {
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        crate::source::in_bounds(&self.name, off, buf.len(), self.size)
            .map_err(|e| e.in_part(&self.part))?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off + done as u64;
            let block = pos / self.bs;
            let idx = self.runs.partition_point(|r| r.start <= block);
            let run = idx
                .checked_sub(1)
                .map(|k| self.runs[k])
                .filter(|r| block < r.start + r.count);
            let rest = buf.len() - done;
            match run {
                Some(r) => {
                    let run_end = (r.start + r.count) * self.bs;
                    let n = ((run_end - pos) as usize).min(rest);
                    let rel = r.op_block * self.bs + (pos - r.start * self.bs);
                    self.fill_from_op(r.op, rel, &mut buf[done..done + n])?;
                    done += n;
                }
                None => {
                    // Blocks no operation writes read as zeros, up to the next run.
                    let next = self
                        .runs
                        .get(idx)
                        .map(|r| r.start * self.bs)
                        .unwrap_or(u64::MAX);
                    let n = (next.saturating_sub(pos) as usize).min(rest);
                    buf[done..done + n].fill(0);
                    done += n;
                }
            }
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

/// SHA-256 of a whole source, read in 1 MiB pieces.
pub fn sha256(src: &dyn ReadAt) -> Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < src.size() {
        let n = (src.size() - off).min(buf.len() as u64) as usize;
        src.read_at(off, &mut buf[..n])?;
        h.update(&buf[..n]);
        off += n as u64;
    }
    Ok(h.finalize().into())
}
