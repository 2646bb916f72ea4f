//! Offline IP → country (MaxMind DB) and IP → ASN (gzipped CSV ranges) look-ups.
//!
//! Data: `data/geoip/` (see SOURCES.md there for origin and licences; NRO, DB-IP and
//! RouteViews require attribution).

use flate2::read::GzDecoder;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

static EMBEDDED_MMDB: &[u8] = include_bytes!("../../../data/geoip/geo-whois-asn-country.mmdb");
static EMBEDDED_ASN_V4: &[u8] = include_bytes!("../../../data/geoip/asn-ipv4.csv.gz");
static EMBEDDED_ASN_V6: &[u8] = include_bytes!("../../../data/geoip/asn-ipv6.csv.gz");

/// Refuse larger `.mmdb` files (commercial city databases are well below this).
pub const MAX_MMDB_BYTES: u64 = 1 << 30;
/// Longest CSV line accepted in the ASN tables.
pub const MAX_CSV_LINE: u64 = 4096;
/// Longest organisation name kept.
pub const MAX_ORG_LEN: usize = 512;

/// Errors of the GeoIP/ASN look-ups.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid MaxMind DB at byte {at}: {what}")]
    Mmdb { at: u64, what: &'static str },
    #[error("invalid ASN table at byte {at}: {what}")]
    Csv { at: u64, what: &'static str },
}

/// An IP → country database.
pub struct GeoDb {
    reader: maxminddb::Reader<Cow<'static, [u8]>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb")
            .field("database_type", &self.reader.metadata.database_type)
            .finish()
    }
}

#[derive(Deserialize)]
struct IsoRec<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

/// Fields of the ip-location-db layout (`country_code`) and the MaxMind GeoIP2/GeoLite2
/// Country/City layout (`country.iso_code`, `registered_country.iso_code`).
#[derive(Deserialize)]
struct CountryRec<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    country: Option<IsoRec<'a>>,
    #[serde(borrow)]
    registered_country: Option<IsoRec<'a>>,
}

fn mmdb_err(e: maxminddb::MaxMindDbError) -> GeoError {
    use maxminddb::MaxMindDbError as E;
    let what = match e {
        E::InvalidDatabase(_) => "not a valid MaxMind DB",
        E::Io(_) => "I/O error",
        E::Decoding(_) => "record does not decode",
        E::InvalidNetwork(_) => "invalid network",
        #[allow(unreachable_patterns)]
        _ => "MaxMind DB error",
    };
    GeoError::Mmdb { at: 0, what }
}

impl GeoDb {
    /// The database compiled into the binary (ip-location-db geo-whois-asn-country).
    pub fn embedded() -> Result<Self, GeoError> {
        Self::from_source(Cow::Borrowed(EMBEDDED_MMDB))
    }

    /// Any MaxMind country or city `.mmdb` file (`--geoip`).
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let io = |source| GeoError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_MMDB_BYTES {
            return Err(GeoError::Mmdb {
                at: MAX_MMDB_BYTES,
                what: "file larger than 1 GiB",
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Self::from_source(Cow::Owned(bytes))
    }

    /// A database held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoError> {
        Self::from_source(Cow::Owned(bytes))
    }

    fn from_source(src: Cow<'static, [u8]>) -> Result<Self, GeoError> {
        let meta_at = precheck(&src)?;
        // The maxminddb crate slices without bounds checks on corrupt data; the pre-check
        // above catches structural damage and the unwind guard the rest.
        let reader = std::panic::catch_unwind(move || maxminddb::Reader::from_source(src))
            .map_err(|_| GeoError::Mmdb {
                at: meta_at,
                what: "corrupt metadata",
            })?
            .map_err(mmdb_err)?;
        let tree = u64::from(reader.metadata.node_count)
            .saturating_mul(u64::from(reader.metadata.record_size))
            / 4;
        if !matches!(reader.metadata.record_size, 24 | 28 | 32)
            || !matches!(reader.metadata.ip_version, 4 | 6)
            || tree.saturating_add(16) > meta_at
        {
            return Err(GeoError::Mmdb {
                at: meta_at,
                what: "search tree does not fit the file",
            });
        }
        Ok(Self { reader })
    }

    /// ISO 3166-1 alpha-2 country of `ip` (upper case); `None` for private/reserved addresses
    /// and addresses the database does not know.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        if is_non_public(ip) {
            return None;
        }
        let lookup = || -> Option<String> {
            let rec: CountryRec = self.reader.lookup(ip.to_canonical()).ok()??;
            let code = rec
                .country_code
                .or(rec.country.and_then(|c| c.iso_code))
                .or(rec.registered_country.and_then(|c| c.iso_code))?;
            (code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
                .then(|| code.to_ascii_uppercase())
        };
        // A corrupt data section makes the maxminddb crate panic; treat it as "unknown".
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(lookup))
            .ok()
            .flatten()
    }
}

const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
/// The metadata section sits in the last 128 KiB (MaxMind DB spec).
const METADATA_WINDOW: usize = 128 * 1024;

/// Offset of the metadata (just after the last marker), or an error.
fn precheck(buf: &[u8]) -> Result<u64, GeoError> {
    let from = buf.len().saturating_sub(METADATA_WINDOW);
    let tail = &buf[from..];
    let pos = memchr::memmem::rfind(tail, METADATA_MARKER).ok_or(GeoError::Mmdb {
        at: from as u64,
        what: "no MaxMind DB metadata marker",
    })?;
    Ok((from + pos + METADATA_MARKER.len()) as u64)
}

/// The network owner of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnInfo {
    pub asn: u32,
    pub org: String,
}

/// Private, loopback, link-local, CGNAT, ULA, multicast, documentation, unspecified and
/// reserved addresses: no country, no ASN.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => v4_non_public(a),
        IpAddr::V6(a) => v6_non_public(a),
    }
}

fn v4_non_public(a: Ipv4Addr) -> bool {
    let o = a.octets();
    a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_documentation()
        || a.is_unspecified()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xC0) == 64) // 100.64.0.0/10 CGNAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 IETF
        || (o[0] == 198 && (o[1] & 0xFE) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240 // 240.0.0.0/4 reserved
}

fn v6_non_public(a: Ipv6Addr) -> bool {
    let s = a.segments();
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (s[0] & 0xFE00) == 0xFC00 // fc00::/7 ULA
        || (s[0] & 0xFFC0) == 0xFE80 // fe80::/10 link-local
        || (s[0] == 0x2001 && s[1] == 0x0DB8) // 2001:db8::/32 documentation
        || (s[0] == 0x0064 && s[1] == 0xFF9B) // 64:ff9b::/96 NAT64 (the v4 part is the real peer)
}

/// Batch look-up by streaming the embedded gzipped CSVs once: the queried IPs are sorted and
/// every range row is checked against them, so memory stays proportional to the query.
/// Non-public addresses are left out of the result.
pub fn asn_lookup(ips: &[IpAddr]) -> Result<BTreeMap<IpAddr, AsnInfo>, GeoError> {
    asn_lookup_with(EMBEDDED_ASN_V4, EMBEDDED_ASN_V6, ips)
}

/// [`asn_lookup`] over other gzipped `start,end,asn,org` tables (IPv4 and IPv6).
pub fn asn_lookup_with(
    v4_csv_gz: &[u8],
    v6_csv_gz: &[u8],
    ips: &[IpAddr],
) -> Result<BTreeMap<IpAddr, AsnInfo>, GeoError> {
    let [v4, v6] = split_queries(ips);
    let mut out = BTreeMap::new();
    for (q, gz, want_v4) in [(v4, v4_csv_gz, true), (v6, v6_csv_gz, false)] {
        if q.is_empty() {
            continue;
        }
        stream_ranges(gz, &q, want_v4, &mut out)?;
    }
    Ok(out)
}

fn ip_key(s: &str, want_v4: bool) -> Option<u128> {
    if want_v4 {
        // The common case, without trying IPv6 first.
        if let Ok(a) = s.parse::<std::net::Ipv4Addr>() {
            return Some(u128::from(u32::from(a)));
        }
    }
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) if want_v4 => Some(u128::from(u32::from(a))),
        IpAddr::V6(a) if !want_v4 => Some(u128::from(a)),
        _ => None,
    }
}

/// Parse the organisation field: plain, or double-quoted with `""` escapes.
fn parse_org(f: &str) -> Option<String> {
    let f = f.trim_end_matches(['\r', '\n']);
    let s = match f.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"')?.replace("\"\"", "\""),
        None => f.to_string(),
    };
    Some(s.chars().take(MAX_ORG_LEN).collect())
}

/// One line of an ASN table: range, AS number, and the organisation field as written.
struct Line<'a> {
    start: u128,
    end: u128,
    asn: u32,
    org: &'a str,
    at: u64,
}

/// Walk the ranges of a gzipped `start,end,asn,org` table of one address family, in file
/// order, while `f` says to go on.
fn walk_ranges(
    gz: &[u8],
    want_v4: bool,
    f: &mut dyn FnMut(&Line<'_>) -> Result<bool, GeoError>,
) -> Result<(), GeoError> {
    let mut reader = BufReader::new(GzDecoder::new(gz));
    let mut line = Vec::with_capacity(256);
    let mut at: u64 = 0;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_CSV_LINE)
            .read_until(b'\n', &mut line)
            .map_err(|_| GeoError::Csv {
                at,
                what: "gzip stream is corrupt",
            })?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n as u64 >= MAX_CSV_LINE {
            return Err(GeoError::Csv {
                at,
                what: "line too long",
            });
        }
        let line_at = at;
        let bad = |what| GeoError::Csv { at: line_at, what };
        let text = std::str::from_utf8(&line).map_err(|_| bad("line is not UTF-8"))?;
        let text = text.trim_end_matches(['\r', '\n']);
        at = at.saturating_add(n as u64);
        if text.is_empty() {
            continue;
        }
        let mut fields = text.splitn(4, ',');
        let (Some(s), Some(e), Some(asn), Some(org)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad("expected start,end,asn,org"));
        };
        let start = ip_key(s, want_v4).ok_or(bad("bad range start address"))?;
        let end = ip_key(e, want_v4).ok_or(bad("bad range end address"))?;
        let asn: u32 = asn.trim().parse().map_err(|_| bad("bad AS number"))?;
        if end < start {
            return Err(bad("range end before start"));
        }
        let l = Line {
            start,
            end,
            asn,
            org,
            at: line_at,
        };
        if !f(&l)? {
            break;
        }
    }
    Ok(())
}

/// Narrowest range per query so far: (width, AS number, organisation index).
type Best = Vec<Option<(u128, u32, usize)>>;

/// Let the range `(start, end, asn)` answer the sorted `queries` it contains where it is
/// narrower than what they have; `org` gives its organisation's index when one is needed.
fn offer(
    queries: &[(u128, IpAddr)],
    best: &mut Best,
    (start, end, asn): (u128, u128, u32),
    org: &mut dyn FnMut() -> Result<usize, GeoError>,
) -> Result<(), GeoError> {
    let lo = queries.partition_point(|&(k, _)| k < start);
    let hi = queries.partition_point(|&(k, _)| k <= end);
    let width = end - start;
    let mut org_idx = None;
    for slot in best.iter_mut().take(hi).skip(lo) {
        if slot.is_none_or(|(w, _, _)| width < w) {
            let idx = match org_idx {
                Some(i) => i,
                None => org()?,
            };
            org_idx = Some(idx);
            *slot = Some((width, asn, idx));
        }
    }
    Ok(())
}

fn answer(
    queries: &[(u128, IpAddr)],
    best: Best,
    orgs: &[String],
    out: &mut BTreeMap<IpAddr, AsnInfo>,
) {
    for (&(_, ip), b) in queries.iter().zip(best) {
        if let Some((_, asn, idx)) = b {
            let org = orgs.get(idx).cloned().unwrap_or_default();
            out.insert(ip, AsnInfo { asn, org });
        }
    }
}

fn stream_ranges(
    gz: &[u8],
    queries: &[(u128, IpAddr)],
    want_v4: bool,
    out: &mut BTreeMap<IpAddr, AsnInfo>,
) -> Result<(), GeoError> {
    let Some(&(max_q, _)) = queries.last() else {
        return Ok(());
    };
    let mut best: Best = vec![None; queries.len()];
    let mut orgs: Vec<String> = Vec::new();
    let mut prev_start = 0u128;
    let mut sorted = true;
    walk_ranges(gz, want_v4, &mut |l| {
        if l.start < prev_start {
            sorted = false;
        }
        prev_start = l.start;
        if sorted && l.start > max_q {
            return Ok(false);
        }
        offer(queries, &mut best, (l.start, l.end, l.asn), &mut || {
            let org = parse_org(l.org).ok_or(GeoError::Csv {
                at: l.at,
                what: "unterminated quoted org",
            })?;
            orgs.push(org);
            Ok(orgs.len() - 1)
        })?;
        Ok(true)
    })?;
    answer(queries, best, &orgs, out);
    Ok(())
}

/// The ASN tables read into memory once, for lookups later: a run loads it beside the
/// analysis (reading the embedded tables is ~0.1 s, most of a small run) and asks at the end.
/// The answers are those of [`asn_lookup_with`] over the same tables.
pub struct AsnTable {
    /// `(start, end, asn, org index)` per family, in file order.
    ranges: [Vec<(u128, u128, u32, u32)>; 2],
    orgs: Vec<String>,
}

impl AsnTable {
    /// The embedded tables.
    pub fn embedded() -> Result<AsnTable, GeoError> {
        Self::parse(EMBEDDED_ASN_V4, EMBEDDED_ASN_V6)
    }

    /// The embedded tables, unless `stop` is set before the end (then `None`).
    pub fn embedded_unless(stop: &std::sync::atomic::AtomicBool) -> Option<AsnTable> {
        Self::parse_unless(EMBEDDED_ASN_V4, EMBEDDED_ASN_V6, Some(stop)).ok()?
    }

    /// Gzipped `start,end,asn,org` tables (IPv4 and IPv6).
    pub fn parse(v4_csv_gz: &[u8], v6_csv_gz: &[u8]) -> Result<AsnTable, GeoError> {
        Ok(
            Self::parse_unless(v4_csv_gz, v6_csv_gz, None)?.unwrap_or(AsnTable {
                ranges: Default::default(),
                orgs: Vec::new(),
            }),
        )
    }

    fn parse_unless(
        v4_csv_gz: &[u8],
        v6_csv_gz: &[u8],
        stop: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Option<AsnTable>, GeoError> {
        let stopped = || stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
        let mut orgs: Vec<String> = Vec::new();
        // Keyed by the field as written, so that the many lines of one organisation cost a
        // lookup, not an unquoting and an allocation each.
        let mut index: std::collections::HashMap<Box<str>, u32> = Default::default();
        let mut ranges: [Vec<(u128, u128, u32, u32)>; 2] = Default::default();
        for (fam, gz) in [v4_csv_gz, v6_csv_gz].into_iter().enumerate() {
            walk_ranges(gz, fam == 0, &mut |l| {
                if stopped() {
                    return Ok(false);
                }
                let raw = l.org.trim_end_matches(['\r', '\n']);
                let id = match index.get(raw) {
                    Some(&i) => i,
                    None => {
                        let org = parse_org(raw).ok_or(GeoError::Csv {
                            at: l.at,
                            what: "unterminated quoted org",
                        })?;
                        let i = u32::try_from(orgs.len()).unwrap_or(u32::MAX);
                        orgs.push(org);
                        index.insert(raw.into(), i);
                        i
                    }
                };
                ranges[fam].push((l.start, l.end, l.asn, id));
                Ok(true)
            })?;
        }
        if stopped() {
            return Ok(None);
        }
        Ok(Some(AsnTable { ranges, orgs }))
    }

    /// AS number and organisation of each public address found.
    pub fn lookup(&self, ips: &[IpAddr]) -> BTreeMap<IpAddr, AsnInfo> {
        let mut out = BTreeMap::new();
        for (fam, q) in split_queries(ips).into_iter().enumerate() {
            if q.is_empty() {
                continue;
            }
            let mut best: Best = vec![None; q.len()];
            for &(start, end, asn, org) in &self.ranges[fam] {
                let _ = offer(&q, &mut best, (start, end, asn), &mut || Ok(org as usize));
            }
            answer(&q, best, &self.orgs, &mut out);
        }
        out
    }
}

/// Public addresses as sorted, deduplicated `(key, address)` queries: IPv4, then IPv6.
fn split_queries(ips: &[IpAddr]) -> [Vec<(u128, IpAddr)>; 2] {
    let mut v4: Vec<(u128, IpAddr)> = Vec::new();
    let mut v6: Vec<(u128, IpAddr)> = Vec::new();
    for &ip in ips {
        if is_non_public(ip) {
            continue;
        }
        match ip.to_canonical() {
            IpAddr::V4(a) => v4.push((u128::from(u32::from(a)), ip)),
            IpAddr::V6(a) => v6.push((u128::from(a), ip)),
        }
    }
    for q in [&mut v4, &mut v6] {
        q.sort_unstable();
        q.dedup();
    }
    [v4, v6]
}
