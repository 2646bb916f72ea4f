//! Checks on how traffic travels: cleartext (app configuration and the wire) and TLS versions.

use super::coverage::{coverage, stopped_refs};
use super::ctx::{Ctx, no_traffic, when_any};
use super::refs::{app_ref, dest_ref, phase_ref};
use super::scope::local_network;
use crate::catalogue::{CleartextRule, tls_rank};
use crate::outcome::{EvidenceRef, Outcome, Verdict};

pub(super) fn no_cleartext(ctx: &Ctx<'_>, rule: &CleartextRule) -> Outcome {
    if ctx.traffic.is_none() && ctx.firmware.is_none() {
        return Outcome::new(
            Verdict::NotTested,
            "Neither traffic nor firmware analysis was provided.",
            vec![],
        );
    }
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    let mut fine = Vec::new();
    // Cleartext that stays on the local network: listed after the deciding facts, never judged.
    let mut local_refs = Vec::new();
    if let Some(f) = ctx.firmware {
        for a in &f.apps {
            if let Some(e) = &a.error {
                unknown.push(app_ref(a, format!("not analysed: {e}")));
            } else if a.allows_cleartext {
                fails.push(app_ref(a, "base configuration permits cleartext traffic"));
            } else if !a.cleartext_domains.is_empty() && !rule.allow_domain_exceptions {
                fails.push(app_ref(
                    a,
                    format!(
                        "network security config permits cleartext to {}",
                        a.cleartext_domains.join(", ")
                    ),
                ));
            }
        }
        if f.apps.is_empty() {
            unknown.push(EvidenceRef::new(
                "note",
                "the firmware analysis lists no app",
            ));
        }
    }
    if let Some(t) = ctx.traffic {
        for d in &t.destinations {
            if !d.cleartext_data_sent
                || rule.exempt_protocols.contains(&d.protocol)
                || rule.exempt_ports.contains(&d.port)
            {
                continue;
            }
            let local = rule
                .exempt_local_network
                .then(|| local_network(d, &rule.local_services))
                .flatten();
            match local {
                Some(why) => local_refs.push(EvidenceRef {
                    kind: LOCAL_NETWORK.into(),
                    ..dest_ref(d, &format!("cleartext {why}, local network only: exempt"))
                }),
                None => fails.push(dest_ref(d, "application data sent unencrypted")),
            }
        }
        let c = coverage(t, |_| true, None);
        if c.usable.is_empty() {
            unknown.push(EvidenceRef::new("note", "no usable capture"));
        }
        // A capture that stops part-way may hide cleartext sent after the stop.
        unknown.extend(stopped_refs(&c));
        fine.extend(c.usable.iter().map(|p| phase_ref(p, "")));
    }
    let mut o = cleartext_verdict(ctx, fails, unknown, fine);
    if !local_refs.is_empty() {
        o.summary.push_str(&format!(
            " {} local-network destination(s) (DHCP, SSDP, mDNS, broadcast, ...) carried cleartext and are exempt.",
            local_refs.len()
        ));
        o.evidence.extend(local_refs);
    }
    o
}

/// The kind of evidence naming cleartext left aside because it stays on the local network.
pub(crate) const LOCAL_NETWORK: &str = "local_network";

fn cleartext_verdict(
    ctx: &Ctx<'_>,
    fails: Vec<EvidenceRef>,
    mut unknown: Vec<EvidenceRef>,
    fine: Vec<EvidenceRef>,
) -> Outcome {
    if let Some(o) = when_any(Verdict::Fail, fails, &unknown, |n| {
        format!("{n} app(s)/destination(s) permit or carry cleartext traffic.")
    }) {
        return o;
    }
    if ctx.firmware.is_none() {
        return Outcome::new(
            Verdict::Inconclusive,
            "No cleartext observed, but app configurations were not examined (no firmware analysis).",
            fine,
        );
    }
    if ctx.traffic.is_none() {
        return Outcome::new(
            Verdict::Inconclusive,
            "No app permits cleartext, but traffic was not observed (no traffic analysis).",
            fine,
        );
    }
    if !unknown.is_empty() {
        unknown.extend(fine);
        return Outcome::new(
            Verdict::Inconclusive,
            "No cleartext found, but part of the evidence is missing.",
            unknown,
        );
    }
    Outcome::new(
        Verdict::Pass,
        "No app permits cleartext traffic and none was observed.",
        fine,
    )
}

pub(super) fn tls_min_version(ctx: &Ctx<'_>, min: &str) -> Outcome {
    let Some(t) = ctx.traffic else {
        return no_traffic();
    };
    let min_rank = tls_rank(min).unwrap_or(usize::MAX);
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    let mut good = 0usize;
    for c in &t.connections {
        let r = EvidenceRef {
            host: Some(c.sni.clone().unwrap_or_else(|| c.server.clone())),
            capture: Some(c.capture.clone()),
            ..EvidenceRef::new(
                "connection",
                format!(
                    "{} handshake to {}{} (frame {} of {}): {}",
                    c.protocol,
                    c.server,
                    c.sni
                        .as_deref()
                        .map(|s| format!(" [{s}]"))
                        .unwrap_or_default(),
                    c.frame,
                    c.capture,
                    c.version.as_deref().unwrap_or("version not seen")
                ),
            )
        };
        // QUIC v1 always runs TLS 1.3 (RFC 9001).
        let v = c
            .version
            .as_deref()
            .or((c.protocol == "quic").then_some("TLSv1.3"));
        match v.and_then(tls_rank) {
            Some(rank) if rank < min_rank => fails.push(r),
            Some(_) => good += 1,
            None => unknown.push(r),
        }
    }
    // Destinations carry the versions of flows whose handshake record may be absent.
    for d in &t.destinations {
        for v in &d.tls_versions {
            match tls_rank(v) {
                Some(rank) if rank < min_rank => {
                    fails.push(dest_ref(d, &format!("negotiated {v}")))
                }
                Some(_) => good += 1,
                None => unknown.push(dest_ref(d, &format!("unrecognised version {v}"))),
            }
        }
        if d.tls_versions.is_empty() && d.protocol == "https" {
            unknown.push(dest_ref(
                d,
                "HTTPS seen through a proxy recording; the TLS version is not observable",
            ));
        }
    }
    if let Some(o) = when_any(Verdict::Fail, fails, &unknown, |n| {
        format!("{n} TLS connection(s) below {min}.")
    }) {
        return o;
    }
    let c = coverage(t, |_| true, None);
    if c.usable.is_empty() {
        return Outcome::new(Verdict::NotTested, "No usable capture.", vec![]);
    }
    let versions_unknown = unknown.len();
    // Handshakes after the place where a capture stops were never seen.
    let stopped = stopped_refs(&c);
    if versions_unknown > 0 || !stopped.is_empty() {
        let mut why = Vec::new();
        if versions_unknown > 0 {
            why.push(format!(
                "the version of {versions_unknown} connection(s) is unknown"
            ));
        }
        if !stopped.is_empty() {
            why.push("a capture stops part-way, so later handshakes were not seen".to_string());
        }
        unknown.extend(stopped);
        return Outcome::new(
            Verdict::Inconclusive,
            format!("No connection below {min}, but {}.", why.join(" and ")),
            unknown,
        );
    }
    if good == 0 {
        return Outcome::new(
            Verdict::NotApplicable,
            "No TLS or QUIC connection was observed.",
            c.usable.iter().map(|p| phase_ref(p, "")).collect(),
        );
    }
    Outcome::new(
        Verdict::Pass,
        format!("All {good} observed TLS/QUIC negotiation(s) use {min} or later."),
        c.usable.iter().map(|p| phase_ref(p, "")).collect(),
    )
}
