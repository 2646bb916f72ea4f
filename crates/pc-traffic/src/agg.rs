//! Aggregation of hits into findings: one finding per identifier, form, field, destination,
//! capture and phase, with first/last time, a count and the first few frames as evidence.
//!
//! Within a flow (or HAR entry) hits are added in the order they are met. The aggregates of
//! different flows are merged in whatever order workers finish them, so [`Agg::merge`] is
//! commutative and associative: evidence keeps the lowest frame numbers (a frame belongs to one
//! flow, so flows never list the same frame twice), and the snippet is the earliest hit's.

use crate::model::{Evidence, Protocol};
use std::collections::BTreeMap;

/// Frames or entries kept as evidence per finding; the rest are only counted.
pub const MAX_EVIDENCE: usize = 16;

/// What is known about a hit before the flow's destination is settled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HitKey {
    pub ident: usize,
    pub encoding: Vec<&'static str>,
    pub location: String,
    pub protocol: Protocol,
    pub encrypted: bool,
    /// Set when the field names its own destination (a DNS query names the host asked for).
    pub host: Option<String>,
}

/// Counts and evidence for one key.
#[derive(Debug, Clone, Default)]
pub struct Agg {
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub count: u64,
    pub evidence: Evidence,
    /// Frame (or entry) of the hit the snippet was taken from, to choose between snippets.
    pub snippet_at: Option<u64>,
}

impl Agg {
    /// Add one occurrence. `snippet` is only built for the first one.
    pub fn add(
        &mut self,
        ts: Option<i64>,
        frame: Option<u64>,
        entry: Option<u64>,
        snippet: impl FnOnce() -> String,
    ) {
        if self.count == 0 {
            self.evidence.snippet = snippet();
            self.snippet_at = frame.or(entry);
        }
        self.count += 1;
        if let Some(t) = ts {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        let list = match (frame, entry) {
            (Some(f), _) => Some((&mut self.evidence.frames, f)),
            (None, Some(e)) => Some((&mut self.evidence.entries, e)),
            _ => None,
        };
        if let Some((list, v)) = list {
            if list.last() == Some(&v) {
                // Several hits in one frame count once as evidence but each as an occurrence.
            } else if list.len() < MAX_EVIDENCE {
                list.push(v);
            } else {
                self.evidence.more += 1;
            }
        }
    }

    /// Merge another aggregate of the same key (commutative and associative, see the module
    /// docs).
    pub fn merge(&mut self, o: Agg) {
        if self.count == 0 {
            *self = o;
            return;
        }
        if o.count == 0 {
            return;
        }
        self.count += o.count;
        self.first = match (self.first, o.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, o.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        // The earliest hit's snippet; ties (and hits without a place) by the text itself.
        let earlier = |a: &Agg, b: &Agg| {
            (a.snippet_at.unwrap_or(u64::MAX), &a.evidence.snippet)
                < (b.snippet_at.unwrap_or(u64::MAX), &b.evidence.snippet)
        };
        if earlier(&o, self) {
            self.evidence.snippet.clone_from(&o.evidence.snippet);
            self.snippet_at = o.snippet_at;
        }
        for (dst, src) in [
            (&mut self.evidence.frames, o.evidence.frames),
            (&mut self.evidence.entries, o.evidence.entries),
        ] {
            dst.extend(src);
            dst.sort_unstable();
            if dst.len() > MAX_EVIDENCE {
                self.evidence.more += (dst.len() - MAX_EVIDENCE) as u64;
                dst.truncate(MAX_EVIDENCE);
            }
        }
        self.evidence.more += o.evidence.more;
    }
}

/// Hits of one flow (or HAR entry), before the destination is known.
pub type LocalHits = BTreeMap<HitKey, Agg>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_capped_and_counted() {
        let mut a = Agg::default();
        for f in 1..=20u64 {
            a.add(Some(f as i64), Some(f), None, || "snip".into());
        }
        a.add(Some(3), Some(20), None, || unreachable!());
        assert_eq!(a.count, 21);
        assert_eq!(a.evidence.frames.len(), MAX_EVIDENCE);
        // Frames 17..=20 and the repeated 20 are occurrences the list leaves out.
        assert_eq!(a.evidence.more, 5);
        assert_eq!((a.first, a.last), (Some(1), Some(20)));
        let mut b = Agg::default();
        b.add(Some(0), None, Some(7), || "other".into());
        a.merge(b);
        assert_eq!(a.count, 22);
        assert_eq!(a.first, Some(0));
        assert_eq!(a.evidence.snippet, "snip");
    }

    /// Aggregates of three flows merged in every order give one result.
    #[test]
    fn merge_is_order_independent() {
        let part = |frames: &[u64], snip: &str| {
            let mut a = Agg::default();
            for &f in frames {
                a.add(Some(f as i64 * 10), Some(f), None, || snip.to_string());
            }
            a
        };
        let parts = [
            part(&(40..52).collect::<Vec<_>>(), "c"),
            part(&[7, 9, 30], "a"),
            part(&(10..20).collect::<Vec<_>>(), "b"),
        ];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let merged: Vec<Agg> = orders
            .iter()
            .map(|o| {
                let mut m = Agg::default();
                for &i in o {
                    m.merge(parts[i].clone());
                }
                m
            })
            .collect();
        for m in &merged {
            assert_eq!(m.count, 25);
            assert_eq!(m.evidence.snippet, "a");
            assert_eq!(m.evidence.frames, merged[0].evidence.frames);
            assert_eq!(m.evidence.more, 9);
            assert_eq!((m.first, m.last), (Some(70), Some(510)));
        }
        assert_eq!(&merged[0].evidence.frames[..4], &[7, 9, 10, 11]);
    }
}
