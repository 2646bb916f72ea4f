//! One Aho-Corasick automaton over every form of every identifier, run over the raw payload and
//! over URL- and base64-decoded layers found by cheap prefilters.

use crate::forms::{self, Boundary, FormPattern, Part, Skipped};
use crate::ident::Identifier;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use memchr::memchr;
use std::collections::{BTreeMap, btree_map::Entry};

/// Hard cap on decoding depth whatever `ScanOptions::max_depth` says (bounds recursion).
pub const MAX_DEPTH: u8 = 8;
/// Shortest base64 run worth decoding (12 bytes of payload).
pub const MIN_BASE64_RUN: usize = 16;
/// At most this many raw matches are kept per payload; further matches are dropped so hostile
/// input cannot make memory grow without bound.
pub const MAX_RAW_HITS: usize = 65_536;
/// Use a full DFA (fastest search, most memory) while the patterns total at most this many bytes;
/// beyond it the builder picks a contiguous NFA.
const DFA_MAX_PATTERN_BYTES: usize = 48 * 1024;

/// Options for [`Matcher::scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Decoding layers to peel (URL, base64), nested; capped at [`MAX_DEPTH`]. Default 3.
    pub max_depth: u8,
    /// Total bytes all decoding layers of one payload may produce. Default 1 MiB.
    pub max_decoded_bytes: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            max_depth: 3,
            max_decoded_bytes: 1 << 20,
        }
    }
}

/// One identifier found in a payload.
/// How a scan went, beside its hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scanned {
    /// Not everything was searched: the decoding budget ([`ScanOptions::max_decoded_bytes`])
    /// ran out with URL-encoded or base64 runs left, or [`MAX_RAW_HITS`] hits stopped the
    /// search.
    pub incomplete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    /// Index into [`Matcher::identifiers`].
    pub ident: usize,
    /// Decoding layers then form, outermost first: `["plain"]`, `["url"]`,
    /// `["base64", "url", "sha1-hex"]`, `["md5-hex", "mac-bare"]`. A value found as-is inside a
    /// decoded layer reports just the layers (`["url"]`), like the equivalent pre-encoded form.
    pub encoding: Vec<&'static str>,
    /// Span in the original payload. For hits inside decoded layers: the encoded bytes that
    /// produced the matched decoded bytes.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug)]
struct Target {
    ident: usize,
    chain: Vec<&'static str>,
    part: Part,
}

#[derive(Debug)]
struct PatInfo {
    bytes: Vec<u8>,
    case_sensitive: bool,
    boundary: Boundary,
    targets: Vec<Target>,
}

/// Searches payloads for all forms of a unit's identifiers at once.
#[derive(Debug)]
pub struct Matcher {
    ids: Vec<Identifier>,
    skipped: Vec<Skipped>,
    ac: Option<AhoCorasick>,
    pats: Vec<PatInfo>,
    max_pattern_len: usize,
}

/// How to map a span of a decoded layer back to its parent.
enum LayerMap {
    /// `escapes`: decoded positions produced by a 3-byte `%XX`.
    Url {
        base: usize,
        escapes: Vec<usize>,
    },
    Base64 {
        base: usize,
        len: usize,
    },
}

impl LayerMap {
    fn map(&self, s: usize, e: usize) -> (usize, usize) {
        match self {
            LayerMap::Url { base, escapes } => {
                let orig = |d: usize| d.saturating_add(escapes.partition_point(|&x| x < d) * 2);
                let start = base.saturating_add(orig(s));
                let end = match e.checked_sub(1) {
                    Some(last) => {
                        let w = if escapes.binary_search(&last).is_ok() {
                            3
                        } else {
                            1
                        };
                        base.saturating_add(orig(last)).saturating_add(w)
                    }
                    None => start,
                };
                (start, end)
            }
            LayerMap::Base64 { base, len } => {
                let cs = s.saturating_mul(8) / 6;
                let ce = e.saturating_mul(8).div_ceil(6).min(*len);
                (base.saturating_add(cs), base.saturating_add(ce))
            }
        }
    }
}

struct RawHit {
    ident: usize,
    part: Part,
    layers: usize,
    start: usize,
    end: usize,
    chain: Vec<&'static str>,
}

struct State {
    raw: Vec<RawHit>,
    budget: usize,
    /// The budget ran out with decodable bytes left: not everything was searched.
    exhausted: bool,
    max_depth: u8,
    layers: Vec<LayerMap>,
    names: Vec<&'static str>,
}

impl State {
    fn map_back(&self, mut s: usize, mut e: usize) -> (usize, usize) {
        for l in self.layers.iter().rev() {
            (s, e) = l.map(s, e);
        }
        (s, e)
    }
}

/// Base64 value of each byte in either alphabet, 0xFF outside both.
const B64: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
};

/// Bytes that may belong to a URL-encoded run (query string, form body, path).
fn is_url_byte(b: u8) -> bool {
    (0x21..=0x7E).contains(&b) && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`')
}

fn hexval(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode `%XX` and `+` in `run`, producing at most `cap` bytes; returns the decoded bytes and
/// the decoded positions that came from a `%XX`.
fn url_decode(run: &[u8], cap: usize) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(run.len().min(cap));
    let mut escapes = Vec::new();
    let mut i = 0;
    while i < run.len() && out.len() < cap {
        let c = run[i];
        if c == b'%'
            && let (Some(h), Some(l)) = (
                run.get(i + 1).copied().and_then(hexval),
                run.get(i + 2).copied().and_then(hexval),
            )
        {
            escapes.push(out.len());
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if c == b'+' { b' ' } else { c });
        i += 1;
    }
    (out, escapes)
}

/// Decode a run of base64 characters (either alphabet, no padding); trailing bits are dropped.
fn b64_decode(run: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(run.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in run {
        let v = B64[usize::from(c)];
        if v == 0xFF {
            break;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

impl Matcher {
    /// Derive every form of `ids` and build one automaton over them.
    pub fn new(ids: &[Identifier]) -> Matcher {
        let (forms, skipped) = forms::derive(ids);
        // Deduplicate: case-insensitive forms by their lower-case bytes, case-sensitive ones
        // exactly; one target per identifier per pattern (the first, most canonical form).
        let mut by_key: BTreeMap<(Vec<u8>, bool, Boundary), Vec<Target>> = BTreeMap::new();
        let mut order: Vec<(Vec<u8>, bool, Boundary)> = Vec::new();
        for FormPattern {
            bytes,
            case_sensitive,
            boundary,
            ident,
            chain,
            part,
        } in forms
        {
            let key_bytes = if case_sensitive {
                bytes
            } else {
                bytes.to_ascii_lowercase()
            };
            let key = (key_bytes, case_sensitive, boundary);
            let target = Target { ident, chain, part };
            match by_key.entry(key.clone()) {
                Entry::Vacant(v) => {
                    order.push(key);
                    v.insert(vec![target]);
                }
                Entry::Occupied(mut o) => {
                    if !o.get().iter().any(|t| t.ident == ident && t.part == part) {
                        o.get_mut().push(target);
                    }
                }
            }
        }
        let mut pats = Vec::with_capacity(order.len());
        for key in order {
            let targets = by_key.remove(&key).unwrap_or_default();
            let (bytes, case_sensitive, boundary) = key;
            pats.push(PatInfo {
                bytes,
                case_sensitive,
                boundary,
                targets,
            });
        }
        let total: usize = pats.iter().map(|p| p.bytes.len()).sum();
        let max_pattern_len = pats.iter().map(|p| p.bytes.len()).max().unwrap_or(0);
        let ac = if pats.is_empty() {
            None
        } else {
            let kind = (total <= DFA_MAX_PATTERN_BYTES).then_some(AhoCorasickKind::DFA);
            let build = |kind| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(true)
                    .kind(kind)
                    .build(pats.iter().map(|p| &p.bytes))
            };
            // A DFA can exceed the builder's size limits; the NFA always fits our bounded
            // patterns.
            build(kind).or_else(|_| build(None)).ok()
        };
        Matcher {
            ids: ids.to_vec(),
            skipped,
            ac,
            pats,
            max_pattern_len,
        }
    }

    /// The identifiers this matcher was built from (`Hit::ident` indexes this).
    pub fn identifiers(&self) -> &[Identifier] {
        &self.ids
    }

    /// Identifiers that yield no patterns (too short, unparseable location, …) with the reason.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Number of distinct patterns in the automaton.
    pub fn pattern_count(&self) -> usize {
        self.pats.len()
    }

    /// Longest pattern, in bytes.
    pub fn max_pattern_len(&self) -> usize {
        self.max_pattern_len
    }

    /// Every `(encoding chain, pattern bytes)` derived for identifier `ident` (for reports and
    /// tests), sorted.
    pub fn forms_of(&self, ident: usize) -> Vec<(Vec<&'static str>, Vec<u8>)> {
        let mut v: Vec<_> = self
            .pats
            .iter()
            .flat_map(|p| {
                p.targets
                    .iter()
                    .filter(move |t| t.ident == ident)
                    .map(move |t| (t.chain.clone(), p.bytes.clone()))
            })
            .collect();
        v.sort();
        v
    }

    /// Search raw bytes and decoded layers; calls `f` for every hit, in order of position
    /// (deduplicated per payload: one hit per identifier and place, preferring the hit with the
    /// fewest decoding layers, then the longest span).
    ///
    /// Says whether the decoding budget ran out before every layer was searched.
    pub fn scan(&self, data: &[u8], opts: &ScanOptions, f: &mut dyn FnMut(&Hit)) -> Scanned {
        let (hits, scanned) = self.scan_inner(data, opts);
        for h in hits {
            f(&h);
        }
        scanned
    }

    /// Like [`Matcher::scan`], returning the hits.
    pub fn scan_collect(&self, data: &[u8], opts: &ScanOptions) -> Vec<Hit> {
        self.scan_inner(data, opts).0
    }

    fn scan_inner(&self, data: &[u8], opts: &ScanOptions) -> (Vec<Hit>, Scanned) {
        let Some(ac) = &self.ac else {
            return (Vec::new(), Scanned::default());
        };
        let mut st = State {
            raw: Vec::new(),
            exhausted: false,
            budget: opts.max_decoded_bytes,
            max_depth: opts.max_depth.min(MAX_DEPTH),
            layers: Vec::new(),
            names: Vec::new(),
        };
        self.scan_segment(ac, data, 0, &mut st);
        let scanned = Scanned {
            incomplete: st.exhausted,
        };
        if st.raw.is_empty() {
            return (Vec::new(), scanned);
        }
        (finish(st.raw), scanned)
    }

    fn scan_segment(&self, ac: &AhoCorasick, seg: &[u8], depth: u8, st: &mut State) {
        for m in ac.find_overlapping_iter(seg) {
            let Some(info) = self.pats.get(m.pattern().as_usize()) else {
                continue;
            };
            let (s, e) = (m.start(), m.end());
            if info.case_sensitive && seg.get(s..e) != Some(&info.bytes[..]) {
                continue;
            }
            if !boundary_ok(info.boundary, seg, s, e, &info.bytes) {
                continue;
            }
            let (os, oe) = st.map_back(s, e);
            for t in &info.targets {
                if st.raw.len() >= MAX_RAW_HITS {
                    st.exhausted = true;
                    return;
                }
                let mut chain = st.names.clone();
                if chain.is_empty() || t.chain.as_slice() != ["plain"] {
                    chain.extend_from_slice(&t.chain);
                }
                st.raw.push(RawHit {
                    ident: t.ident,
                    part: t.part,
                    layers: st.names.len(),
                    start: os,
                    end: oe,
                    chain,
                });
            }
        }
        if depth >= st.max_depth {
            return;
        }
        // URL layer: only where a '%' is present; decode each run of URL bytes around it.
        if memchr(b'%', seg).is_some() {
            let mut pos = 0;
            while pos < seg.len() && st.budget > 0 {
                let Some(off) = memchr(b'%', &seg[pos..]) else {
                    break;
                };
                let p = pos + off;
                let mut a = p;
                while a > pos && is_url_byte(seg[a - 1]) {
                    a -= 1;
                }
                let mut b = p + 1;
                while b < seg.len() && is_url_byte(seg[b]) {
                    b += 1;
                }
                let (dec, escapes) = url_decode(&seg[a..b], st.budget);
                pos = b;
                if escapes.is_empty() {
                    continue;
                }
                st.budget = st.budget.saturating_sub(dec.len());
                st.exhausted |= st.budget == 0;
                st.layers.push(LayerMap::Url { base: a, escapes });
                st.names.push("url");
                self.scan_segment(ac, &dec, depth + 1, st);
                st.layers.pop();
                st.names.pop();
            }
            st.exhausted |= st.budget == 0 && memchr(b'%', &seg[pos.min(seg.len())..]).is_some();
        }
        // Base64 layer: runs of the base64 alphabet long enough to hold an identifier, with
        // both letter cases (hex, decimal and lower-case words are not worth decoding). A run
        // of MIN_BASE64_RUN bytes must cover one of the probes spaced MIN_BASE64_RUN apart, so
        // non-base64 data is skipped 16 bytes at a time.
        let alpha = |b: u8| B64[usize::from(b)] != 0xFF;
        let mut floor = 0usize;
        let mut probe = MIN_BASE64_RUN - 1;
        while probe < seg.len() && st.budget > 0 {
            if !alpha(seg[probe]) {
                probe += MIN_BASE64_RUN;
                continue;
            }
            let mut start = probe;
            while start > floor && alpha(seg[start - 1]) {
                start -= 1;
            }
            let mut end = probe + 1;
            while end < seg.len() && alpha(seg[end]) {
                end += 1;
            }
            floor = end;
            probe = end + MIN_BASE64_RUN;
            let run = &seg[start..end];
            if run.len() < MIN_BASE64_RUN
                || !run.iter().any(u8::is_ascii_uppercase)
                || !run.iter().any(u8::is_ascii_lowercase)
            {
                continue;
            }
            // Keep within budget: 4 characters give 3 bytes.
            let max_chars = st.budget.saturating_mul(4) / 3;
            st.exhausted |= run.len() > max_chars;
            let run = &run[..run.len().min(max_chars)];
            let dec = b64_decode(run);
            if dec.is_empty() {
                continue;
            }
            st.budget = st.budget.saturating_sub(dec.len());
            st.layers.push(LayerMap::Base64 {
                base: start,
                len: run.len(),
            });
            st.names.push("base64");
            self.scan_segment(ac, &dec, depth + 1, st);
            st.layers.pop();
            st.names.pop();
        }
        // Stopped by the budget with bytes left that might have held a run.
        st.exhausted |= st.budget == 0 && probe < seg.len();
    }

    /// An evidence snippet for `data[start..end]` (see [`crate::snippet`]) that also masks every
    /// other identifier form visible in the context, so nothing leaks unless `reveal`.
    pub fn snippet(&self, data: &[u8], start: usize, end: usize, reveal: bool) -> String {
        let (start, end) = crate::mask::clamp_span(data.len(), start, end);
        if reveal {
            return crate::mask::render(data, start, end, &[], true);
        }
        let (ws, we) = crate::mask::window(data.len(), start, end);
        // Scan a margin around the window so values cut by its edges are still recognised.
        let margin = self.max_pattern_len.saturating_mul(2).max(64);
        let rs = ws.saturating_sub(margin);
        let re = we.saturating_add(margin).min(data.len());
        let mut masks = vec![(start, end)];
        for h in self.scan_collect(&data[rs..re], &ScanOptions::default()) {
            let (s, e) = (h.start + rs, h.end + rs);
            if s < we && e > ws {
                masks.push((s, e));
            }
        }
        crate::mask::render(data, start, end, &masks, false)
    }
}

fn boundary_ok(b: Boundary, seg: &[u8], s: usize, e: usize, pat: &[u8]) -> bool {
    let before = s.checked_sub(1).and_then(|i| seg.get(i)).copied();
    let after = seg.get(e).copied();
    match b {
        Boundary::None => true,
        Boundary::Digits => {
            !before.is_some_and(|c| c.is_ascii_digit())
                && !after.is_some_and(|c| c.is_ascii_digit())
        }
        Boundary::Base64 {
            before: b_check,
            after: a_check,
        } => {
            let ok = |check: Option<(u8, u8)>, c: Option<u8>| match check {
                None => true,
                Some((mask, bits)) => c.and_then(forms::b64_val).is_some_and(|v| v & mask == bits),
            };
            ok(b_check, before) && ok(a_check, after)
        }
        Boundary::Decimal => match before {
            None => true,
            Some(c) if c.is_ascii_digit() || c == b'.' => false,
            // A positive value right after '-' is the opposite hemisphere.
            Some(b'-') => pat.first() == Some(&b'-'),
            Some(_) => true,
        },
    }
}

/// Pair locations, drop repeated reports of one identifier at one place, sort.
fn finish(raw: Vec<RawHit>) -> Vec<Hit> {
    let mut whole: Vec<RawHit> = Vec::with_capacity(raw.len());
    // ident -> (first lat hit, first lon hit)
    let mut loc: BTreeMap<usize, (Option<RawHit>, Option<RawHit>)> = BTreeMap::new();
    for h in raw {
        match h.part {
            Part::Whole => whole.push(h),
            Part::Lat | Part::Lon => {
                let slot = loc.entry(h.ident).or_default();
                let cur = if h.part == Part::Lat {
                    &mut slot.0
                } else {
                    &mut slot.1
                };
                let better = cur
                    .as_ref()
                    .is_none_or(|c| (h.start, h.layers, c.end) < (c.start, c.layers, h.end));
                if better {
                    *cur = Some(h);
                }
            }
        }
    }
    // A location counts only when both coordinates are present; report the earlier one.
    for (_, pair) in loc {
        if let (Some(a), Some(b)) = pair {
            whole.push(if a.start <= b.start { a } else { b });
        }
    }
    whole.sort_by(|a, b| {
        (a.ident, a.layers, b.end - b.start, a.start, &a.chain).cmp(&(
            b.ident,
            b.layers,
            a.end - a.start,
            b.start,
            &b.chain,
        ))
    });
    let mut out = Vec::new();
    let mut kept: BTreeMap<usize, usize> = BTreeMap::new();
    let mut cur_ident = usize::MAX;
    for h in whole {
        if h.ident != cur_ident {
            kept.clear();
            cur_ident = h.ident;
        }
        // Kept spans of one identifier are disjoint, so the one starting last before our end
        // is the only candidate for overlap.
        let overlaps = kept
            .range(..h.end.max(h.start.saturating_add(1)))
            .next_back()
            .is_some_and(|(_, &e)| e > h.start);
        if overlaps {
            continue;
        }
        kept.insert(h.start, h.end);
        out.push(Hit {
            ident: h.ident,
            encoding: h.chain,
            start: h.start,
            end: h.end,
        });
    }
    out.sort_by(|a, b| {
        (a.start, a.end, a.ident, &a.encoding).cmp(&(b.start, b.end, b.ident, &b.encoding))
    });
    out
}
