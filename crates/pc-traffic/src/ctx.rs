//! What every analyzer of a run shares: the matcher, the run's key log and options, and the one
//! way a field is searched and its hits recorded.
//!
//! Analyzers (`packets/`, `har.rs`, `request.rs`) and the pipeline (`stream.rs`) depend on this module; it
//! depends on none of them.

use crate::agg::{HitKey, LocalHits};
use pc_detect::{Matcher, ScanOptions};

/// Shared, read-only state of one run.
pub struct Ctx {
    pub matcher: Matcher,
    /// The identifiers searched (a hit's `ident` indexes them).
    pub ids: Vec<pc_detect::Identifier>,
    /// Secrets from the key logs named for every input.
    pub keylog: pc_tlsdec::keylog::KeyLog,
    pub scan: ScanOptions,
    pub reveal: bool,
    pub net: pc_net::Limits,
}

/// The field a payload came from, as findings name it.
pub struct HitField<'a> {
    pub location: &'a str,
    pub protocol: crate::model::Protocol,
    pub encrypted: bool,
    /// Set when the field names its own destination (a DNS query names the host asked for).
    pub host: Option<&'a str>,
}

/// Search one field and add to `hits` every hit whose span `keep` accepts, seen at `ts` in
/// `frame` or HAR `entry`. Says whether the search stopped short (see [`pc_detect::Scanned`]).
#[allow(clippy::too_many_arguments)]
pub fn scan_field(
    ctx: &Ctx,
    hits: &mut LocalHits,
    data: &[u8],
    keep: &dyn Fn(usize, usize) -> bool,
    field: &HitField<'_>,
    ts: Option<i64>,
    frame: Option<u64>,
    entry: Option<u64>,
) -> pc_detect::Scanned {
    ctx.matcher.scan(data, &ctx.scan, &mut |h| {
        if !keep(h.start, h.end) {
            return;
        }
        let key = HitKey {
            ident: h.ident,
            encoding: h.encoding.clone(),
            location: field.location.to_string(),
            protocol: field.protocol,
            encrypted: field.encrypted,
            host: field.host.map(str::to_string),
        };
        hits.entry(key).or_default().add(ts, frame, entry, || {
            ctx.matcher.snippet(data, h.start, h.end, ctx.reveal)
        });
    })
}

/// Every hit counts.
pub fn all(_: usize, _: usize) -> bool {
    true
}
