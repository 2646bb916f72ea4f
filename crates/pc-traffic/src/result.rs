//! What the analysis of one input gives before the report is built, and how the parts of one
//! input analysed on several workers are put back together.
//!
//! Merging is order-independent (sums, unions, minima, and lists chosen by the sequence number
//! of the event that made each entry), so the result of a capture is the same whatever number
//! of workers shared it: the pipeline's determinism rests on this module.

use crate::agg::{Agg, HitKey};
use crate::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

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
    pub protocol: Protocol,
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
    pub findings: BTreeMap<FindingKey, Agg>,
    pub destinations: BTreeMap<DestKey, DestAgg>,
    pub requests: Vec<Request>,
    pub dns: BTreeMap<DnsKey, DnsAgg>,
    pub handshakes: Vec<Handshake>,
    /// Sequence numbers (in the order the capture's events happened) of the listed requests,
    /// handshakes and first cuts, so that parts merge into the lists one worker would keep.
    pub(crate) seqs: Seqs,
    /// The sequence number of the event being analysed.
    pub(crate) seq: u64,
}

/// See [`CaptureResult::seqs`]: one number per entry of each bounded list.
#[derive(Debug, Default)]
pub(crate) struct Seqs {
    requests: Vec<u64>,
    handshakes: Vec<u64>,
    cuts: Vec<u64>,
}

impl CaptureResult {
    /// Lists a request, within the per-input bound.
    pub(crate) fn push_request(&mut self, r: Request) {
        if self.requests.len() < crate::model::MAX_REQUESTS {
            self.requests.push(r);
            self.seqs.requests.push(self.seq);
        } else {
            self.input.omitted.requests += 1;
        }
    }

    /// Lists a handshake, within the per-input bound; its index, or `usize::MAX` when it was
    /// left out (an index that matches nothing, so later updates of it are dropped too).
    pub(crate) fn push_handshake(&mut self, h: Handshake) -> usize {
        if self.handshakes.len() < crate::model::MAX_HANDSHAKES {
            self.handshakes.push(h);
            self.seqs.handshakes.push(self.seq);
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

    /// Record a cut in what the phone sent.
    pub(crate) fn add_cut(&mut self, cut: Cut) {
        let listed = self.input.coverage.first_cuts.len();
        self.input.coverage.add(cut);
        if self.input.coverage.first_cuts.len() > listed {
            self.seqs.cuts.push(self.seq);
        }
    }

    /// Fold in the part of the same input that another worker analysed.
    pub(crate) fn absorb(&mut self, o: CaptureResult) {
        for (k, a) in o.findings {
            self.findings.entry(k).or_default().merge(a);
        }
        for (k, d) in o.destinations {
            self.destinations.entry(k).or_default().merge(d);
        }
        for (k, d) in o.dns {
            self.dns.entry(k).or_default().merge(d);
        }
        let (s, i) = (&mut self.input, o.input);
        s.tcp_flows += i.tcp_flows;
        s.udp_flows += i.udp_flows;
        s.tcp_gaps += i.tcp_gaps;
        s.tls_bytes += i.tls_bytes;
        s.tls_bytes_decrypted += i.tls_bytes_decrypted;
        s.errors.extend(i.errors);
        let c = &mut s.coverage;
        c.cuts += i.coverage.cuts;
        c.bytes_not_searched = c
            .bytes_not_searched
            .saturating_add(i.coverage.bytes_not_searched);
        c.gap_bytes_sent = c.gap_bytes_sent.saturating_add(i.coverage.gap_bytes_sent);
        s.omitted.requests += i.omitted.requests;
        s.omitted.handshakes += i.omitted.handshakes;
        s.omitted.dns_queries += i.omitted.dns_queries;
        s.omitted.dns_answers += i.omitted.dns_answers;
        let cuts = first_by_seq(
            (
                std::mem::take(&mut c.first_cuts),
                std::mem::take(&mut self.seqs.cuts),
            ),
            (i.coverage.first_cuts, o.seqs.cuts),
            MAX_CUTS_LISTED,
        );
        (c.first_cuts, self.seqs.cuts) = (cuts.0, cuts.1);
        let requests = first_by_seq(
            (
                std::mem::take(&mut self.requests),
                std::mem::take(&mut self.seqs.requests),
            ),
            (o.requests, o.seqs.requests),
            MAX_REQUESTS,
        );
        (self.requests, self.seqs.requests) = (requests.0, requests.1);
        s.omitted.requests += requests.2;
        let handshakes = first_by_seq(
            (
                std::mem::take(&mut self.handshakes),
                std::mem::take(&mut self.seqs.handshakes),
            ),
            (o.handshakes, o.seqs.handshakes),
            MAX_HANDSHAKES,
        );
        (self.handshakes, self.seqs.handshakes) = (handshakes.0, handshakes.1);
        s.omitted.handshakes += handshakes.2;
    }
}

/// A bounded list kept in two parts, put together as one worker would have kept it: the first
/// `max` entries by sequence number, their numbers, and how many were dropped to stay within
/// `max`.
fn first_by_seq<T>(
    a: (Vec<T>, Vec<u64>),
    b: (Vec<T>, Vec<u64>),
    max: usize,
) -> (Vec<T>, Vec<u64>, u64) {
    let mut all: Vec<(u64, T)> =
        a.1.into_iter()
            .zip(a.0)
            .chain(b.1.into_iter().zip(b.0))
            .collect();
    all.sort_by_key(|(s, _)| *s);
    let dropped = all.len().saturating_sub(max) as u64;
    all.truncate(max);
    let (seqs, items) = all.into_iter().unzip();
    (items, seqs, dropped)
}

impl DestAgg {
    /// Fold in another part of the same destination.
    pub fn merge(&mut self, d: DestAgg) {
        if self.host.is_none() {
            self.host = d.host;
        }
        self.ips.extend(d.ips);
        self.sni.extend(d.sni);
        self.tls_versions.extend(d.tls_versions);
        self.flows += d.flows;
        self.bytes_sent += d.bytes_sent;
        self.bytes_sent_inspected += d.bytes_sent_inspected;
        self.bytes_received += d.bytes_received;
        self.cleartext |= d.cleartext;
        self.cuts += d.cuts;
        self.apps.extend(d.apps);
        self.phases.extend(d.phases);
        self.captures.extend(d.captures);
    }
}

impl DnsAgg {
    /// Fold in another part of the same question.
    pub fn merge(&mut self, d: DnsAgg) {
        self.count += d.count;
        self.transports.extend(d.transports);
        self.answers.extend(d.answers);
        self.phases.extend(d.phases);
    }
}
