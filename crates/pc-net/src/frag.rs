//! IPv4 / IPv6 fragment reassembly, bounded in datagram size, fragment count, number of
//! datagrams in progress and time.

use foldhash::HashMap;
use std::net::IpAddr;

use crate::{Limits, Timestamp};

/// Fragments of one datagram share source, destination, identification (and for IPv4 protocol).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// IPv4 protocol; 0 for IPv6, whose key has no protocol.
    pub proto: u8,
}

struct FragSet {
    first_ts: Timestamp,
    order: u64,
    buf: Vec<u8>,
    /// Received byte ranges of `buf`, sorted, disjoint and not adjacent.
    have: Vec<(u32, u32)>,
    /// Payload length, known once the last fragment arrived.
    total: Option<u32>,
    /// Protocol of the reassembled payload (from the first fragment).
    proto: Option<u8>,
    count: usize,
}

/// What adding a fragment did.
pub(crate) enum Outcome {
    Pending,
    /// The datagram is complete: its upper-layer protocol and payload.
    Complete {
        proto: u8,
        buf: Vec<u8>,
    },
    /// The datagram was discarded (inconsistent or over a limit).
    Dropped,
}

/// Buffers kept for reuse so steady fragment traffic does not allocate.
const POOL_SIZE: usize = 8;

#[derive(Default)]
pub(crate) struct Reassembler {
    sets: HashMap<FragKey, FragSet>,
    order: u64,
    pool: Vec<Vec<u8>>,
}

impl Reassembler {
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Add one fragment: `data` are its captured bytes, `claimed` its length per the IP header.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        key: FragKey,
        offset: u32,
        more: bool,
        proto: u8,
        data: &[u8],
        claimed: usize,
        ts: Timestamp,
        limits: &Limits,
    ) -> (Outcome, u64) {
        let mut evicted = 0;
        let end = u64::from(offset) + claimed as u64;
        if end > limits.max_fragment_bytes as u64 || end > u64::from(u32::MAX) {
            return (self.drop_set(&key), 0);
        }
        let end = end as u32;
        // A datagram that timed out (the periodic sweep may not have run yet) starts afresh.
        if self
            .sets
            .get(&key)
            .is_some_and(|s| ts.saturating_sub(s.first_ts) > limits.fragment_timeout_ns.max(0))
        {
            self.drop_set(&key);
            evicted += 1;
        }
        if !self.sets.contains_key(&key) {
            if limits.max_fragment_sets == 0 {
                return (Outcome::Dropped, 0);
            }
            while self.sets.len() >= limits.max_fragment_sets {
                self.evict_oldest();
                evicted += 1;
            }
            let buf = self.pool.pop().unwrap_or_default();
            self.order += 1;
            let set = FragSet {
                first_ts: ts,
                order: self.order,
                buf,
                have: Vec::new(),
                total: None,
                proto: None,
                count: 0,
            };
            self.sets.insert(key.clone(), set);
        }
        let Some(set) = self.sets.get_mut(&key) else {
            return (Outcome::Dropped, evicted);
        };
        set.count += 1;
        let consistent = set.count <= limits.max_fragments_per_datagram
            && match set.total {
                // Two different "last" fragments, or data past the end.
                Some(t) => end <= t && (more || end == t),
                None => more || set.have.last().is_none_or(|&(_, e)| e <= end),
            };
        if !consistent {
            return (self.drop_set(&key), evicted);
        }
        if !more {
            set.total = Some(end);
        }
        if offset == 0 {
            set.proto = Some(proto);
        }
        let cap_end = offset.saturating_add(data.len().min(claimed) as u32);
        if set.buf.len() < cap_end as usize {
            set.buf.resize(cap_end as usize, 0);
        }
        // Overlaps keep the bytes that arrived first: copy only what is not yet there.
        let mut pos = offset;
        for &(a, b) in &set.have {
            if pos >= cap_end {
                break;
            }
            if b <= pos {
                continue;
            }
            if a > pos {
                let stop = a.min(cap_end);
                copy(&mut set.buf, data, offset, pos, stop);
            }
            pos = pos.max(b);
        }
        if pos < cap_end {
            copy(&mut set.buf, data, offset, pos, cap_end);
        }
        if offset < cap_end {
            insert_range(&mut set.have, offset, cap_end);
        }
        let complete = matches!(set.total, Some(t) if set.have.as_slice() == [(0, t)]);
        if complete && let Some(mut set) = self.sets.remove(&key) {
            let total = set.total.unwrap_or(0) as usize;
            set.buf.truncate(total);
            return match set.proto {
                Some(proto) => (
                    Outcome::Complete {
                        proto,
                        buf: set.buf,
                    },
                    evicted,
                ),
                None => {
                    self.recycle(set.buf);
                    (Outcome::Dropped, evicted)
                }
            };
        }
        (Outcome::Pending, evicted)
    }

    fn drop_set(&mut self, key: &FragKey) -> Outcome {
        if let Some(set) = self.sets.remove(key) {
            self.recycle(set.buf);
        }
        Outcome::Dropped
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .sets
            .iter()
            .min_by_key(|(_, s)| (s.first_ts, s.order))
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.drop_set(&k);
        }
    }

    /// Drop datagrams whose first fragment is older than `cutoff`; returns how many.
    pub fn expire(&mut self, cutoff: Timestamp) -> u64 {
        let old: Vec<FragKey> = self
            .sets
            .iter()
            .filter(|(_, s)| s.first_ts < cutoff)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &old {
            self.drop_set(k);
        }
        old.len() as u64
    }

    /// Drop everything; returns how many datagrams were incomplete.
    pub fn clear(&mut self) -> u64 {
        let n = self.sets.len() as u64;
        self.sets.clear();
        n
    }

    /// Give a reassembly buffer back for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL_SIZE {
            buf.clear();
            self.pool.push(buf);
        }
    }
}

/// Copy the bytes `[from, to)` of the datagram from a fragment starting at `frag_off`.
fn copy(buf: &mut [u8], data: &[u8], frag_off: u32, from: u32, to: u32) {
    let (s, e) = ((from - frag_off) as usize, (to - frag_off) as usize);
    if let (Some(dst), Some(src)) = (buf.get_mut(from as usize..to as usize), data.get(s..e)) {
        dst.copy_from_slice(src);
    }
}

/// Add `[s, e)` to a sorted list of disjoint ranges, merging what touches.
fn insert_range(have: &mut Vec<(u32, u32)>, s: u32, e: u32) {
    let i = have.partition_point(|&(_, b)| b < s);
    let mut j = i;
    let (mut ns, mut ne) = (s, e);
    while let Some(&(a, b)) = have.get(j) {
        if a > e {
            break;
        }
        ns = ns.min(a);
        ne = ne.max(b);
        j += 1;
    }
    have.splice(i..j, [(ns, ne)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge() {
        let mut h = Vec::new();
        insert_range(&mut h, 10, 20);
        insert_range(&mut h, 30, 40);
        assert_eq!(h, [(10, 20), (30, 40)]);
        insert_range(&mut h, 20, 30);
        assert_eq!(h, [(10, 40)]);
        insert_range(&mut h, 0, 5);
        insert_range(&mut h, 50, 60);
        insert_range(&mut h, 3, 55);
        assert_eq!(h, [(0, 60)]);
    }
}
