//! The report: every input's result put together, with countries, network owners and the
//! trackers destinations belong to, sorted so that output is deterministic.

use crate::model::*;
use crate::result::{CaptureResult, DestAgg, DestKey, DnsAgg, DnsKey};
use pc_detect::{Identifier, Matcher};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Merge per-input results, attach countries and network owners, sort.
pub(crate) fn build_report(
    results: Vec<CaptureResult>,
    matcher: &Matcher,
    ids: &[Identifier],
    geo: &pc_detect::geo::GeoDb,
    asn_lookup: &dyn Fn(&[IpAddr]) -> BTreeMap<IpAddr, pc_detect::geo::AsnInfo>,
) -> TrafficReport {
    let mut ips = BTreeSet::new();
    for r in &results {
        ips.extend(r.findings.keys().filter_map(|k| k.ip));
        for d in r.destinations.values() {
            ips.extend(d.ips.iter().copied());
        }
    }
    let ip_list: Vec<IpAddr> = ips.iter().copied().collect();
    let asn = asn_lookup(&ip_list);
    let country = |ip: &IpAddr| geo.country(*ip);
    let trackers = pc_detect::trackers::TrackerList::embedded();

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
                protocol: k.hit.protocol,
                encrypted_on_wire: k.hit.encrypted,
                host: k.host.clone(),
                ip: k.ip.map(|i| i.to_string()),
                port: k.port,
                country: k.ip.as_ref().and_then(country),
                asn: info.map(|i| i.asn),
                org: info.map(|i| i.org.clone()),
                first_seen: a.first,
                last_seen: a.last,
                count: a.count,
                capture: r.input.path.clone(),
                phase: r.input.phase.clone(),
                consent: r.input.consent,
                app: k.app.clone(),
                evidence: a.evidence,
            });
        }
        for (k, d) in r.destinations {
            destinations.entry(k).or_default().merge(d);
        }
        for (k, d) in r.dns {
            dns.entry(k).or_default().merge(d);
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
            // The names the phone itself gave the destination (HTTP Host, SNI, DNS), so a
            // match is traffic to the tracker, not a mention of it.
            let tracker_network =
                trackers.network_names(d.host.iter().chain(d.sni.iter()).map(String::as_str));
            Destination {
                host: d.host,
                ips: d.ips.iter().map(|i| i.to_string()).collect(),
                port: k.port,
                protocol: k.protocol,
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
                tracker_network,
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
