//! Runs the analysis over every input and builds the report.

use crate::agg::{Agg, HitKey, LocalHits};
use crate::model::*;
use crate::time::{parse_rfc3339, rfc3339};
use pc_case::Consent;
use pc_detect::{Identifier, Matcher, ScanOptions};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One capture to analyse, with the phase it belongs to.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub phase: String,
    pub consent: Consent,
    /// NSS key logs (`SSLKEYLOGFILE`) for this capture's TLS connections.
    pub keylogs: Vec<PathBuf>,
}

impl Input {
    /// Every capture of every phase of a case, with the phase's key logs.
    pub fn from_case(case: &pc_case::Case) -> Vec<Input> {
        let mut out = Vec::new();
        for p in &case.phases {
            for c in &p.captures {
                out.push(Input {
                    path: case.resolve(c),
                    phase: p.name.clone(),
                    consent: p.consent,
                    keylogs: p.keylogs.iter().map(|k| case.resolve(k)).collect(),
                });
            }
        }
        out
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Show identifiers in evidence snippets instead of masking them.
    pub reveal: bool,
    /// A MaxMind `.mmdb` to use for countries instead of the embedded database.
    pub geoip: Option<PathBuf>,
    /// Decoding depth and budget of the matcher.
    pub scan: ScanOptions,
    /// Limits of the flow table and reassembly.
    pub net: pc_net::Limits,
    /// NSS key logs for every input (in addition to each input's own).
    pub keylogs: Vec<PathBuf>,
}

/// Errors that stop the whole analysis (per-input errors are reported in `inputs` instead).
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("GeoIP database: {0}")]
    Geo(#[from] pc_detect::geo::GeoError),
    #[error("{path}: cannot read key log: {source}")]
    KeyLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Shared, read-only state of one run.
pub struct Ctx<'a> {
    pub matcher: &'a Matcher,
    /// Secrets from the key logs named for every input.
    pub keylog: pc_tlsdec::keylog::KeyLog,
    pub scan: ScanOptions,
    pub reveal: bool,
    pub net: pc_net::Limits,
}

/// The field a payload came from, as findings name it.
pub struct HitField<'a> {
    pub location: &'a str,
    pub protocol: &'static str,
    pub encrypted: bool,
    /// Set when the field names its own destination (a DNS query names the host asked for).
    pub host: Option<&'a str>,
}

/// Search one field and add to `hits` every hit whose span `keep` accepts, seen at `ts` in
/// `frame` or HAR `entry`. Says whether the search stopped short (see [`pc_detect::Scanned`]).
#[allow(clippy::too_many_arguments)]
pub fn scan_field(
    ctx: &Ctx<'_>,
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

/// A finding's identity once its destination is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingKey {
    pub hit: HitKey,
    pub host: Option<String>,
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
    pub app: Option<String>,
}

/// Destinations are told apart by name (or address), port and protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DestKey {
    pub name: String,
    pub port: u16,
    pub protocol: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct DestAgg {
    pub host: Option<String>,
    pub ips: BTreeSet<IpAddr>,
    pub sni: BTreeSet<String>,
    pub tls_versions: BTreeSet<String>,
    pub flows: u64,
    pub bytes_sent: u64,
    pub bytes_sent_inspected: u64,
    pub bytes_received: u64,
    pub cleartext: bool,
    pub cuts: u64,
    pub apps: BTreeSet<String>,
    pub phases: BTreeSet<String>,
    pub captures: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DnsKey {
    pub name: String,
    pub qtype: u16,
}

#[derive(Debug, Clone, Default)]
pub struct DnsAgg {
    pub count: u64,
    pub transports: BTreeSet<&'static str>,
    pub answers: BTreeSet<String>,
    pub phases: BTreeSet<String>,
}

/// What one input gives, before merging.
#[derive(Debug, Default)]
pub struct CaptureResult {
    pub input: InputSummary,
    pub consent: String,
    pub findings: BTreeMap<FindingKey, Agg>,
    pub destinations: BTreeMap<DestKey, DestAgg>,
    pub requests: Vec<Request>,
    pub dns: BTreeMap<DnsKey, DnsAgg>,
    pub handshakes: Vec<Handshake>,
}

impl CaptureResult {
    /// Lists a request, within the per-input bound.
    pub(crate) fn push_request(&mut self, r: Request) {
        if self.requests.len() < crate::model::MAX_REQUESTS {
            self.requests.push(r);
        } else {
            self.input.omitted.requests += 1;
        }
    }

    /// Lists a handshake, within the per-input bound; its index, or `usize::MAX` when it was
    /// left out (an index that matches nothing, so later updates of it are dropped too).
    pub(crate) fn push_handshake(&mut self, h: Handshake) -> usize {
        if self.handshakes.len() < crate::model::MAX_HANDSHAKES {
            self.handshakes.push(h);
            self.handshakes.len() - 1
        } else {
            self.input.omitted.handshakes += 1;
            usize::MAX
        }
    }

    /// The DNS question's entry, unless the per-input bound is reached for a new question.
    pub(crate) fn dns_entry(&mut self, key: DnsKey) -> Option<&mut DnsAgg> {
        if self.dns.len() >= crate::model::MAX_DNS_QUERIES && !self.dns.contains_key(&key) {
            self.input.omitted.dns_queries += 1;
            return None;
        }
        Some(self.dns.entry(key).or_default())
    }
}

/// Analyse every input (in parallel across files) and build the report.
///
/// `progress` is called with the number of input bytes consumed since the last call, from any
/// thread; it drives the progress bar.
pub fn analyze(
    inputs: &[Input],
    ids: &[Identifier],
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<TrafficReport, TrafficError> {
    let geo = match &opts.geoip {
        Some(p) => pc_detect::geo::GeoDb::open(p)?,
        None => pc_detect::geo::GeoDb::embedded()?,
    };
    let matcher = Matcher::new(ids);
    let keylog = read_keylogs(&opts.keylogs)?;
    let ctx = Ctx {
        keylog,
        matcher: &matcher,
        scan: opts.scan,
        reveal: opts.reveal,
        net: opts.net.clone(),
    };
    let results: Vec<CaptureResult> = inputs
        .par_iter()
        .map(|input| analyze_one(&ctx, input, progress))
        .collect();
    Ok(build_report(results, &matcher, ids, &geo))
}

fn analyze_one(ctx: &Ctx<'_>, input: &Input, progress: &(dyn Fn(u64) + Sync)) -> CaptureResult {
    let mut result = CaptureResult {
        input: InputSummary {
            path: input.path.display().to_string(),
            phase: input.phase.clone(),
            consent: input.consent.as_str().to_string(),
            bytes: std::fs::metadata(&input.path).map(|m| m.len()).unwrap_or(0),
            ..Default::default()
        },
        consent: input.consent.as_str().to_string(),
        ..Default::default()
    };
    let format = match pc_capture::sniff_format(&input.path) {
        Ok(f) => f,
        Err(e) => {
            result.input.errors.push(e.to_string());
            result.input.failed = true;
            return result;
        }
    };
    match format {
        pc_capture::CaptureFormat::Har => {
            result.input.format = "har".into();
            crate::har::analyze(ctx, &input.path, &mut result);
            progress(result.input.bytes);
        }
        _ => {
            let mut keys = ctx.keylog.clone();
            match read_keylogs(&input.keylogs) {
                Ok(k) => keys.merge(k),
                Err(e) => result.input.errors.push(e.to_string()),
            }
            analyze_packets(ctx, &input.path, keys, &mut result, progress)
        }
    }
    for d in result.destinations.values_mut() {
        d.phases.insert(input.phase.clone());
        d.captures.insert(result.input.path.clone());
    }
    result
}

fn analyze_packets(
    ctx: &Ctx<'_>,
    path: &Path,
    mut keys: pc_tlsdec::keylog::KeyLog,
    result: &mut CaptureResult,
    progress: &(dyn Fn(u64) + Sync),
) {
    let mut reader = match pc_capture::CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            result.input.errors.push(e.to_string());
            result.input.failed = true;
            return;
        }
    };
    result.input.format = match reader.format() {
        pc_capture::CaptureFormat::Pcap => "pcap",
        pc_capture::CaptureFormat::PcapNg => "pcapng",
        pc_capture::CaptureFormat::Har => "har",
    }
    .into();
    result.input.compressed = reader.compressed();
    let mut decoder = pc_net::Decoder::new(ctx.net.clone());
    let mut analysis = crate::pcap::Analysis::new(ctx, std::mem::take(result));
    analysis.keys = std::sync::Arc::new(keys.clone());
    let mut secrets_seen = 0;
    let mut frame = Vec::new();
    let mut reported = 0u64;
    let mut packets = 0u64;
    let mut undecoded = 0u64;
    loop {
        let (linktype, meta) = match reader.next_packet() {
            Ok(Some(pkt)) => {
                // The packet is copied out so that the reader can be asked for the secrets
                // blocks it met on the way to it (a copy costs far less than the analysis).
                frame.clear();
                frame.extend_from_slice(pkt.data);
                let meta = pc_net::PacketMeta {
                    frame: pkt.frame,
                    ts: pkt.ts,
                    app: pkt.app.clone(),
                };
                (pkt.linktype, meta)
            }
            Ok(None) => break,
            Err(e) => {
                // What came before the bad record was analysed; what follows never will be.
                analysis.result.input.stopped_at = Some(e.offset);
                analysis.result.input.errors.push(e.to_string());
                break;
            }
        };
        // Decryption Secrets Blocks come before the packets they unlock: fold new ones in
        // before this packet, so that its connection can be decrypted.
        if reader.secrets().len() > secrets_seen {
            for sec in &reader.secrets()[secrets_seen..] {
                if sec.secrets_type == pc_capture::SECRETS_TLS_KEYLOG {
                    keys.merge(pc_tlsdec::keylog::KeyLog::parse(&sec.data));
                }
            }
            secrets_seen = reader.secrets().len();
            analysis.keys = std::sync::Arc::new(keys.clone());
        }
        packets += 1;
        if decoder
            .push(linktype, &frame, &meta, &mut analysis)
            .is_err()
        {
            undecoded += 1;
        }
        if packets.is_multiple_of(4096) {
            let now = reader.bytes_read();
            progress(now.saturating_sub(reported));
            reported = now;
        }
    }
    decoder.finish(&mut analysis);
    progress(reader.bytes_read().saturating_sub(reported));
    *result = analysis.result;
    result.input.packets = packets;
    result.input.undecoded_packets = undecoded;
    result.input.tls_key_log_blocks = reader
        .secrets()
        .iter()
        .filter(|s| s.secrets_type == 0x544c_534b)
        .count() as u64;
}

/// Key log files are small text files; anything larger is not a key log.
const MAX_KEYLOG_BYTES: u64 = 256 << 20;

/// Read and merge NSS key log files.
fn read_keylogs(paths: &[PathBuf]) -> Result<pc_tlsdec::keylog::KeyLog, TrafficError> {
    let mut all = pc_tlsdec::keylog::KeyLog::default();
    for p in paths {
        let mut text = Vec::new();
        std::fs::File::open(p)
            .and_then(|f| {
                std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_KEYLOG_BYTES), &mut text)
            })
            .map_err(|source| TrafficError::KeyLog {
                path: p.clone(),
                source,
            })?;
        all.merge(pc_tlsdec::keylog::KeyLog::parse(&text));
    }
    Ok(all)
}

/// Merge per-input results, attach countries and network owners, sort.
fn build_report(
    results: Vec<CaptureResult>,
    matcher: &Matcher,
    ids: &[Identifier],
    geo: &pc_detect::geo::GeoDb,
) -> TrafficReport {
    let mut ips = BTreeSet::new();
    for r in &results {
        ips.extend(r.findings.keys().filter_map(|k| k.ip));
        for d in r.destinations.values() {
            ips.extend(d.ips.iter().copied());
        }
    }
    let ip_list: Vec<IpAddr> = ips.iter().copied().collect();
    let asn = pc_detect::geo::asn_lookup(&ip_list).unwrap_or_default();
    let country = |ip: &IpAddr| geo.country(*ip);

    let mut findings = Vec::new();
    let mut destinations: BTreeMap<DestKey, DestAgg> = BTreeMap::new();
    let mut dns: BTreeMap<DnsKey, DnsAgg> = BTreeMap::new();
    let mut requests = Vec::new();
    let mut handshakes = Vec::new();
    let mut inputs = Vec::new();
    for r in results {
        for (k, a) in r.findings {
            let id = &ids[k.hit.ident];
            let info = k.ip.and_then(|ip| asn.get(&ip));
            findings.push(Finding {
                identifier: id.kind.as_str().to_string(),
                identifier_name: id.name.clone(),
                encoding: k.hit.encoding.iter().map(|s| s.to_string()).collect(),
                location: k.hit.location.clone(),
                protocol: k.hit.protocol.to_string(),
                encrypted_on_wire: k.hit.encrypted,
                host: k.host.clone(),
                ip: k.ip.map(|i| i.to_string()),
                port: k.port,
                country: k.ip.as_ref().and_then(country),
                asn: info.map(|i| i.asn),
                org: info.map(|i| i.org.clone()),
                first_seen: a.first.map(rfc3339),
                last_seen: a.last.map(rfc3339),
                count: a.count,
                capture: r.input.path.clone(),
                phase: r.input.phase.clone(),
                consent: r.consent.clone(),
                app: k.app.clone(),
                evidence: a.evidence,
            });
        }
        for (k, d) in r.destinations {
            let e = destinations.entry(k).or_default();
            if e.host.is_none() {
                e.host = d.host;
            }
            e.ips.extend(d.ips);
            e.sni.extend(d.sni);
            e.tls_versions.extend(d.tls_versions);
            e.flows += d.flows;
            e.bytes_sent += d.bytes_sent;
            e.bytes_sent_inspected += d.bytes_sent_inspected;
            e.bytes_received += d.bytes_received;
            e.cleartext |= d.cleartext;
            e.cuts += d.cuts;
            e.apps.extend(d.apps);
            e.phases.extend(d.phases);
            e.captures.extend(d.captures);
        }
        for (k, d) in r.dns {
            let e = dns.entry(k).or_default();
            e.count += d.count;
            e.transports.extend(d.transports);
            e.answers.extend(d.answers);
            e.phases.extend(d.phases);
        }
        requests.extend(r.requests);
        handshakes.extend(r.handshakes);
        inputs.push(r.input);
    }
    findings.sort_by(|a, b| {
        (
            &a.phase,
            &a.capture,
            &a.identifier,
            &a.identifier_name,
            &a.host,
            &a.location,
            &a.encoding,
            &a.ip,
        )
            .cmp(&(
                &b.phase,
                &b.capture,
                &b.identifier,
                &b.identifier_name,
                &b.host,
                &b.location,
                &b.encoding,
                &b.ip,
            ))
    });
    let destinations = destinations
        .into_iter()
        .map(|(k, d)| {
            let countries: BTreeSet<String> = d.ips.iter().filter_map(country).collect();
            let first = d.ips.iter().next();
            let info = first.and_then(|ip| asn.get(ip));
            Destination {
                host: d.host,
                ips: d.ips.iter().map(|i| i.to_string()).collect(),
                port: k.port,
                protocol: k.protocol.to_string(),
                sni: d.sni.into_iter().collect(),
                country: first.and_then(country),
                countries: countries.into_iter().collect(),
                asn: info.map(|i| i.asn),
                org: info.map(|i| i.org.clone()),
                flows: d.flows,
                bytes_sent: d.bytes_sent,
                bytes_sent_inspected: d.bytes_sent_inspected.min(d.bytes_sent),
                bytes_received: d.bytes_received,
                cleartext_data_sent: d.cleartext,
                cuts: d.cuts,
                tls_versions: d.tls_versions.into_iter().collect(),
                phases: d.phases.into_iter().collect(),
                apps: d.apps.into_iter().collect(),
                captures: d.captures.into_iter().collect(),
            }
        })
        .collect();
    let dns = dns
        .into_iter()
        .map(|(k, d)| DnsQuery {
            name: k.name,
            qtype: pc_proto::dns::type_name(k.qtype).to_string(),
            count: d.count,
            transports: d.transports.into_iter().map(str::to_string).collect(),
            answers: d.answers.into_iter().collect(),
            phases: d.phases.into_iter().collect(),
        })
        .collect();
    requests.sort();
    handshakes.sort();
    TrafficReport {
        tool: format!("phonecert {}", env!("CARGO_PKG_VERSION")),
        findings,
        destinations,
        requests,
        dns,
        handshakes,
        inputs,
        search: SearchSummary {
            identifiers: ids.iter().map(|i| i.name.clone()).collect(),
            patterns: matcher.pattern_count(),
            skipped: matcher
                .skipped()
                .iter()
                .map(|s| format!("{}: {}", ids[s.ident].name, s.reason))
                .collect(),
        },
    }
}

/// HAR timestamps, kept here so both analyzers share one parser.
pub fn har_time(s: Option<&str>) -> Option<i64> {
    s.and_then(parse_rfc3339)
}
