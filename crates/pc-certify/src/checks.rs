//! The automated checks: each decides one requirement from the evidence and names the facts
//! its verdict rests on. Evidence too thin to decide is never a PASS.

use crate::Verdict;
use crate::audit::{EvidenceRef, Outcome};
use crate::catalogue::{Check, CoverageParams, tls_rank};
use crate::evidence::{
    AppFact, DestFact, FindingFact, FirmwareEvidence, PhaseCoverage, TrafficEvidence,
};
use crate::policy::Policy;
use pc_case::Consent;
use std::collections::BTreeSet;

/// What the checks see.
pub(crate) struct Ctx<'a> {
    pub traffic: Option<&'a TrafficEvidence>,
    pub firmware: Option<&'a FirmwareEvidence>,
    pub policy: Option<&'a Policy>,
}

fn out(verdict: Verdict, summary: impl Into<String>, evidence: Vec<EvidenceRef>) -> Outcome {
    Outcome {
        verdict,
        summary: summary.into(),
        evidence,
    }
}

fn finding_ref(f: &FindingFact) -> EvidenceRef {
    EvidenceRef {
        finding: Some(f.index),
        host: Some(f.target().to_string()),
        phase: Some(f.phase.clone()),
        capture: Some(f.capture.clone()),
        app: f.app.clone(),
        ..EvidenceRef::new("finding", format!("finding #{}: {}", f.index, f.describe()))
    }
}

fn dest_ref(d: &DestFact, what: &str) -> EvidenceRef {
    EvidenceRef {
        destination: Some(d.index),
        host: Some(d.name()),
        ..EvidenceRef::new(
            "destination",
            format!(
                "destination #{}: {}:{} ({}){}: {what}",
                d.index,
                d.name(),
                d.port,
                d.protocol,
                d.country
                    .as_deref()
                    .map(|c| format!(" in {c}"))
                    .unwrap_or_default()
            ),
        )
    }
}

fn app_ref(a: &AppFact, what: impl std::fmt::Display) -> EvidenceRef {
    EvidenceRef {
        app: Some(a.key().to_string()),
        ..EvidenceRef::new("app", format!("{} ({}): {what}", a.key(), a.path))
    }
}

fn phase_ref(p: &PhaseCoverage, what: &str) -> EvidenceRef {
    EvidenceRef {
        phase: Some(p.phase.clone()),
        ..EvidenceRef::new(
            "phase",
            format!(
                "phase {} (consent {}): {} of {} capture(s) usable{}, {} packets, {} HAR entries, {:.0}% of {} sent bytes uninspected (TLS/QUIC without keys, lost in capture){}{}",
                p.phase,
                p.consent.map_or("?", Consent::as_str),
                p.usable_inputs,
                p.captures_declared.max(p.inputs),
                if p.partly_usable_inputs > 0 {
                    format!(
                        " ({} only partly: {})",
                        p.partly_usable_inputs,
                        p.stops.join("; ")
                    )
                } else {
                    String::new()
                },
                p.packets,
                p.har_entries,
                p.uninspected_ratio() * 100.0,
                p.bytes_sent,
                cuts_text(p),
                if what.is_empty() {
                    String::new()
                } else {
                    format!(": {what}")
                }
            ),
        )
    }
}

/// Phases with an input that stopped part-way: what came after the stop was never seen, so a
/// check over the whole traffic cannot pass on them.
fn stopped_refs(c: &Coverage<'_>) -> Vec<EvidenceRef> {
    c.usable
        .iter()
        .filter(|p| p.partly_usable_inputs > 0)
        .map(|p| phase_ref(p, "a capture stops part-way; what follows was not analysed"))
        .collect()
}

/// The cuts of a phase, as the evidence line shows them.
fn cuts_text(p: &PhaseCoverage) -> String {
    if p.cuts == 0 {
        return String::new();
    }
    let more = p.cuts.saturating_sub(p.first_cuts.len() as u64);
    format!(
        "; {} piece(s) of what the phone sent not searched whole (at least {} bytes): {}{}",
        p.cuts,
        p.bytes_not_searched,
        p.first_cuts.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    )
}

fn kind_in(kinds: &[String], k: &str) -> bool {
    kinds.is_empty() || kinds.iter().any(|x| x == k)
}

/// Coverage of a set of phases: `Err(outcome)` when it is too thin to decide at all.
struct Coverage<'a> {
    usable: Vec<&'a PhaseCoverage>,
    missing: Vec<&'a PhaseCoverage>,
    thin: Vec<&'a PhaseCoverage>,
    /// Phases where part of what was sent was cut, or an input stopped part-way.
    cut: Vec<&'a PhaseCoverage>,
}

fn coverage<'a>(
    t: &'a TrafficEvidence,
    phases: impl Fn(&PhaseCoverage) -> bool,
    params: Option<&CoverageParams>,
) -> Coverage<'a> {
    let mut c = Coverage {
        usable: Vec::new(),
        missing: Vec::new(),
        thin: Vec::new(),
        cut: Vec::new(),
    };
    for p in t.phases.values().filter(|p| phases(p)) {
        if p.usable_inputs == 0 {
            c.missing.push(p);
            continue;
        }
        c.usable.push(p);
        if p.has_cuts() {
            c.cut.push(p);
        }
        if let Some(cp) = params
            && !cp.accept_uninspected_tls
            && p.uninspected_ratio() > cp.max_uninspected_ratio
        {
            c.thin.push(p);
        }
    }
    c
}

/// The verdict when nothing violating was found, given the coverage.
fn clean_verdict(c: &Coverage<'_>, what: &str) -> Outcome {
    let mut ev: Vec<EvidenceRef> = c.usable.iter().map(|p| phase_ref(p, "")).collect();
    ev.extend(c.missing.iter().map(|p| phase_ref(p, "no usable capture")));
    if c.usable.is_empty() {
        return out(
            Verdict::NotTested,
            format!("No usable capture for the phases concerned: {what} could not be tested."),
            ev,
        );
    }
    if !c.missing.is_empty() {
        let names: Vec<&str> = c.missing.iter().map(|p| p.phase.as_str()).collect();
        return out(
            Verdict::Inconclusive,
            format!(
                "Nothing found, but phase(s) {} have no usable capture.",
                names.join(", ")
            ),
            ev,
        );
    }
    if !c.cut.is_empty() {
        let names: Vec<&str> = c.cut.iter().map(|p| p.phase.as_str()).collect();
        return out(
            Verdict::Inconclusive,
            format!(
                "Nothing found in what was read, but in phase(s) {} part of what the phone sent was not searched (a cut or undecodable body, or a capture that stops part-way; where is listed in the evidence): absence is not shown.",
                names.join(", ")
            ),
            ev,
        );
    }
    if !c.thin.is_empty() {
        let names: Vec<&str> = c.thin.iter().map(|p| p.phase.as_str()).collect();
        return out(
            Verdict::Inconclusive,
            format!(
                "Nothing found, but most bytes sent in phase(s) {} were TLS/QUIC that could not be inspected (no key log); absence is not shown.",
                names.join(", ")
            ),
            ev,
        );
    }
    out(Verdict::Pass, format!("Nothing found: {what}."), ev)
}

pub(crate) fn run(check: &Check, ctx: &Ctx<'_>) -> Outcome {
    match check {
        Check::NoIdentifierInPhase {
            consent,
            identifiers,
            coverage: cp,
        } => no_identifier_in_phase(ctx, *consent, identifiers, cp),
        Check::NoCleartextIdentifier { identifiers } => no_cleartext_identifier(ctx, identifiers),
        Check::NoCleartext {
            exempt_protocols,
            exempt_ports,
            allow_domain_exceptions,
        } => no_cleartext(
            ctx,
            exempt_protocols,
            exempt_ports,
            *allow_domain_exceptions,
        ),
        Check::TlsMinVersion { min } => tls_min_version(ctx, min),
        Check::IdentifierRecipients { coverage: cp } => identifier_recipients(ctx, cp),
        Check::NoPersistentWithAdvertisingId {
            persistent,
            advertising,
            coverage: cp,
        } => no_persistent_with_adid(ctx, persistent, advertising, cp),
        Check::IdentifierPermissions { permissions } => identifier_permissions(ctx, permissions),
        Check::NoTestKeys { include_debug_cert } => no_test_keys(ctx, *include_debug_cert),
        Check::NoDebuggable => no_debuggable(ctx),
        Check::RiskScoreMax { max } => risk_score_max(ctx, *max),
        Check::PrivilegedTrackers {
            include_platform_signed,
        } => privileged_trackers(ctx, *include_platform_signed),
    }
}

fn no_traffic() -> Outcome {
    out(
        Verdict::NotTested,
        "No traffic analysis was provided.",
        vec![],
    )
}

fn no_firmware() -> Outcome {
    out(
        Verdict::NotTested,
        "No firmware analysis was provided.",
        vec![],
    )
}

fn no_identifier_in_phase(
    ctx: &Ctx<'_>,
    consent: Consent,
    kinds: &[String],
    cp: &CoverageParams,
) -> Outcome {
    let Some(t) = ctx.traffic else {
        return no_traffic();
    };
    if !t.phases.values().any(|p| p.consent == Some(consent)) {
        return out(
            Verdict::NotTested,
            format!("The case has no phase with consent \"{consent}\"."),
            vec![],
        );
    }
    let hits: Vec<EvidenceRef> = t
        .findings
        .iter()
        .filter(|f| f.consent == Some(consent) && kind_in(kinds, &f.identifier))
        .map(finding_ref)
        .collect();
    if !hits.is_empty() {
        let n = hits.len();
        return out(
            Verdict::Fail,
            format!("{n} identifier transmission(s) in phase(s) with consent \"{consent}\"."),
            hits,
        );
    }
    let c = coverage(t, |p| p.consent == Some(consent), Some(cp));
    clean_verdict(
        &c,
        &format!("no identifier sent with consent \"{consent}\""),
    )
}

fn no_cleartext_identifier(ctx: &Ctx<'_>, kinds: &[String]) -> Outcome {
    let Some(t) = ctx.traffic else {
        return no_traffic();
    };
    let hits: Vec<EvidenceRef> = t
        .findings
        .iter()
        .filter(|f| f.cleartext && kind_in(kinds, &f.identifier))
        .map(finding_ref)
        .collect();
    if !hits.is_empty() {
        let n = hits.len();
        return out(
            Verdict::Fail,
            format!("{n} identifier transmission(s) readable on the wire."),
            hits,
        );
    }
    // Cleartext is visible whether or not TLS could be decrypted: no TLS coverage condition.
    let c = coverage(t, |_| true, None);
    clean_verdict(&c, "no identifier sent in clear text")
}

fn no_cleartext(
    ctx: &Ctx<'_>,
    exempt_protocols: &[String],
    exempt_ports: &[u16],
    allow_domain_exceptions: bool,
) -> Outcome {
    if ctx.traffic.is_none() && ctx.firmware.is_none() {
        return out(
            Verdict::NotTested,
            "Neither traffic nor firmware analysis was provided.",
            vec![],
        );
    }
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    let mut fine = Vec::new();
    if let Some(f) = ctx.firmware {
        for a in &f.apps {
            if let Some(e) = &a.error {
                unknown.push(app_ref(a, format!("not analysed: {e}")));
            } else if a.allows_cleartext {
                fails.push(app_ref(a, "base configuration permits cleartext traffic"));
            } else if !a.cleartext_domains.is_empty() && !allow_domain_exceptions {
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
            if d.cleartext_data_sent
                && !exempt_protocols.contains(&d.protocol)
                && !exempt_ports.contains(&d.port)
            {
                fails.push(dest_ref(d, "application data sent unencrypted"));
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
    if !fails.is_empty() {
        let n = fails.len();
        fails.extend(unknown);
        return out(
            Verdict::Fail,
            format!("{n} app(s)/destination(s) permit or carry cleartext traffic."),
            fails,
        );
    }
    if ctx.firmware.is_none() {
        return out(
            Verdict::Inconclusive,
            "No cleartext observed, but app configurations were not examined (no firmware analysis).",
            fine,
        );
    }
    if ctx.traffic.is_none() {
        return out(
            Verdict::Inconclusive,
            "No app permits cleartext, but traffic was not observed (no traffic analysis).",
            fine,
        );
    }
    if !unknown.is_empty() {
        unknown.extend(fine);
        return out(
            Verdict::Inconclusive,
            "No cleartext found, but part of the evidence is missing.",
            unknown,
        );
    }
    out(
        Verdict::Pass,
        "No app permits cleartext traffic and none was observed.",
        fine,
    )
}

fn tls_min_version(ctx: &Ctx<'_>, min: &str) -> Outcome {
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
    if !fails.is_empty() {
        let n = fails.len();
        fails.extend(unknown);
        return out(
            Verdict::Fail,
            format!("{n} TLS connection(s) below {min}."),
            fails,
        );
    }
    let c = coverage(t, |_| true, None);
    if c.usable.is_empty() {
        return out(Verdict::NotTested, "No usable capture.", vec![]);
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
        return out(
            Verdict::Inconclusive,
            format!("No connection below {min}, but {}.", why.join(" and ")),
            unknown,
        );
    }
    if good == 0 {
        return out(
            Verdict::NotApplicable,
            "No TLS or QUIC connection was observed.",
            c.usable.iter().map(|p| phase_ref(p, "")).collect(),
        );
    }
    out(
        Verdict::Pass,
        format!("All {good} observed TLS/QUIC negotiation(s) use {min} or later."),
        c.usable.iter().map(|p| phase_ref(p, "")).collect(),
    )
}

fn identifier_recipients(ctx: &Ctx<'_>, cp: &CoverageParams) -> Outcome {
    let Some(t) = ctx.traffic else {
        return no_traffic();
    };
    let c = coverage(t, |_| true, Some(cp));
    if t.findings.is_empty() {
        return clean_verdict(&c, "no identifier was sent to any recipient");
    }
    let Some(policy) = ctx.policy else {
        // Without a declaration nothing can be judged: list where identifiers went.
        let mut places: BTreeSet<(String, String)> = BTreeSet::new();
        for f in &t.findings {
            places.insert((
                f.target().to_string(),
                f.country
                    .clone()
                    .unwrap_or_else(|| "unknown country".into()),
            ));
        }
        let mut ev: Vec<EvidenceRef> = places
            .iter()
            .map(|(h, cc)| EvidenceRef {
                host: Some(h.clone()),
                ..EvidenceRef::new("destination", format!("identifiers sent to {h} ({cc})"))
            })
            .collect();
        ev.push(EvidenceRef::new(
            "policy",
            "the case declares no [policy] (recipients and allowed countries)",
        ));
        return out(
            Verdict::Inconclusive,
            format!(
                "Identifiers went to {} destination(s); no recipients or countries are declared to judge them against.",
                places.len()
            ),
            ev,
        );
    };
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    let mut ok = Vec::new();
    for f in &t.findings {
        let mut r = finding_ref(f);
        let recipient = match (&policy.recipients, &f.host) {
            (None, _) => Err(None),
            (Some(_), None) => Err(Some("sent to an address without a host name")),
            (Some(_), Some(h)) => policy
                .recipient_for(h, &f.identifier)
                .map(|r| r.host.clone())
                .ok_or(Some(if policy.declares_host(h) {
                    "declared recipient, but not for this identifier"
                } else {
                    "not a declared recipient"
                })),
        };
        let country = match (
            &f.country,
            policy.country_allowed(f.country.as_deref().unwrap_or("")),
        ) {
            (_, None) => Err(None),
            (None, Some(_)) => Err(Some("country unknown")),
            (Some(_), Some(true)) => Ok(()),
            (Some(_), Some(false)) => Err(Some("country not allowed")),
        };
        let mut problems = Vec::new();
        let mut undeclared = Vec::new();
        match &recipient {
            Err(Some(p)) => problems.push(*p),
            Err(None) => undeclared.push("recipients not declared"),
            Ok(_) => {}
        }
        match country {
            Err(Some("country unknown")) => undeclared.push("country unknown"),
            Err(Some(p)) => problems.push(p),
            Err(None) => undeclared.push("allowed countries not declared"),
            Ok(()) => {}
        }
        if !problems.is_empty() {
            r.description = format!("{}: {}", r.description, problems.join("; "));
            fails.push(r);
        } else if !undeclared.is_empty() {
            r.description = format!("{}: {}", r.description, undeclared.join("; "));
            unknown.push(r);
        } else {
            r.description = format!(
                "{}: declared recipient {}",
                r.description,
                recipient.unwrap_or_default()
            );
            ok.push(r);
        }
    }
    if !fails.is_empty() {
        let n = fails.len();
        fails.extend(unknown);
        return out(
            Verdict::Fail,
            format!("{n} identifier transmission(s) to undeclared recipients or countries."),
            fails,
        );
    }
    if !unknown.is_empty() {
        let n = unknown.len();
        unknown.extend(ok);
        return out(
            Verdict::Inconclusive,
            format!("{n} transmission(s) cannot be judged against the declared policy."),
            unknown,
        );
    }
    let cv = clean_verdict(
        &c,
        "every identifier went to a declared recipient in an allowed country",
    );
    let mut ev = ok;
    ev.extend(cv.evidence);
    out(cv.verdict, cv.summary, ev)
}

fn no_persistent_with_adid(
    ctx: &Ctx<'_>,
    persistent: &[String],
    advertising: &[String],
    cp: &CoverageParams,
) -> Outcome {
    let Some(t) = ctx.traffic else {
        return no_traffic();
    };
    let ads: Vec<&FindingFact> = t
        .findings
        .iter()
        .filter(|f| advertising.contains(&f.identifier))
        .collect();
    let pers: Vec<&FindingFact> = t
        .findings
        .iter()
        .filter(|f| persistent.contains(&f.identifier))
        .collect();
    let mut ev = Vec::new();
    let mut pairs = 0usize;
    for a in &ads {
        for p in &pers {
            let same_request = a.capture == p.capture
                && (a.frames.iter().any(|x| p.frames.contains(x))
                    || a.entries.iter().any(|x| p.entries.contains(x)));
            let same_dest = a.target() == p.target() && a.phase == p.phase;
            if same_request || same_dest {
                pairs += 1;
                if ev.len() < crate::audit::MAX_EVIDENCE {
                    ev.push(EvidenceRef {
                        finding: Some(p.index),
                        host: Some(p.target().to_string()),
                        phase: Some(p.phase.clone()),
                        capture: Some(p.capture.clone()),
                        ..EvidenceRef::new(
                            "finding",
                            format!(
                                "findings #{} ({}) and #{} ({}) {} {} in phase {}",
                                p.index,
                                p.name,
                                a.index,
                                a.name,
                                if same_request {
                                    "in the same request/flow to"
                                } else {
                                    "both sent to"
                                },
                                p.target(),
                                p.phase
                            ),
                        )
                    });
                }
            }
        }
    }
    if pairs > 0 {
        return out(
            Verdict::Fail,
            format!("{pairs} pairing(s) of a persistent identifier with the advertising id."),
            ev,
        );
    }
    let c = coverage(t, |_| true, Some(cp));
    clean_verdict(
        &c,
        "no persistent identifier sent together with the advertising id",
    )
}

fn identifier_permissions(
    ctx: &Ctx<'_>,
    perms: &std::collections::BTreeMap<String, Vec<String>>,
) -> Outcome {
    let Some(f) = ctx.firmware else {
        return no_firmware();
    };
    let mut fails = Vec::new();
    let mut readers = Vec::new();
    let mut unanalysed = Vec::new();
    let mut analysed = 0usize;
    for a in &f.apps {
        match a.code_analysed {
            Some(true) => analysed += 1,
            Some(false) => {
                unanalysed.push(app_ref(a, "code not analysed (odex only or unreadable)"))
            }
            None => {}
        }
        if a.identifier_calls.is_empty() {
            continue;
        }
        let read: BTreeSet<&str> = a
            .identifier_calls
            .iter()
            .flat_map(|c| c.identifiers.iter().map(String::as_str))
            .collect();
        let sites = a
            .identifier_calls
            .iter()
            .fold(0u32, |s, c| s.saturating_add(c.count));
        let mut missing = Vec::new();
        let mut held = BTreeSet::new();
        for id in &read {
            let Some(need) = perms.get(*id).filter(|n| !n.is_empty()) else {
                continue;
            };
            match need.iter().find(|p| a.permissions.contains(p)) {
                Some(p) => {
                    held.insert(p.as_str());
                }
                None => missing.push(format!("{id} (needs one of {})", need.join(", "))),
            }
        }
        let pre: Vec<&str> = held
            .iter()
            .copied()
            .filter(|p| a.pre_granted.iter().any(|g| g == p))
            .collect();
        let read_list: Vec<&str> = read.iter().copied().collect();
        let desc = format!(
            "reads {} ({} call site(s)); requests {}{}",
            read_list.join(", "),
            sites,
            if held.is_empty() {
                "no matching permission".to_string()
            } else {
                held.iter().copied().collect::<Vec<_>>().join(", ")
            },
            if pre.is_empty() {
                String::new()
            } else {
                format!("; pre-granted: {}", pre.join(", "))
            }
        );
        if missing.is_empty() {
            readers.push(app_ref(a, format!("{desc} [listed for review]")));
        } else {
            fails.push(app_ref(
                a,
                format!("{desc}; MISSING permission for {}", missing.join("; ")),
            ));
        }
    }
    if !fails.is_empty() {
        let n = fails.len();
        fails.extend(readers);
        return out(
            Verdict::Fail,
            format!("{n} app(s) read identifiers without requesting the matching permission."),
            fails,
        );
    }
    if analysed == 0 {
        unanalysed.extend(readers);
        return out(
            Verdict::NotTested,
            "No app's code was analysed: identifier-reading code cannot be seen.",
            unanalysed,
        );
    }
    if !unanalysed.is_empty() {
        let n = unanalysed.len();
        unanalysed.extend(readers);
        return out(
            Verdict::Inconclusive,
            format!(
                "Readers hold matching permissions, but the code of {n} app(s) was not analysed."
            ),
            unanalysed,
        );
    }
    let n = readers.len();
    out(
        Verdict::Pass,
        format!(
            "All {n} app(s) with identifier-reading code request the matching permission (listed for review)."
        ),
        readers,
    )
}

fn no_test_keys(ctx: &Ctx<'_>, include_debug: bool) -> Outcome {
    let Some(f) = ctx.firmware.filter(|f| !f.apps.is_empty()) else {
        return no_firmware();
    };
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    for a in &f.apps {
        if let Some(k) = &a.test_key {
            fails.push(app_ref(
                a,
                format!("signed with the public AOSP test key \"{k}\""),
            ));
        } else if include_debug && a.debug_cert {
            fails.push(app_ref(a, "signed with an Android debug certificate"));
        } else if let Some(e) = &a.error {
            unknown.push(app_ref(a, format!("not analysed: {e}")));
        } else if !a.signing_known {
            unknown.push(app_ref(a, "signature not analysed or unsigned"));
        }
    }
    if !fails.is_empty() {
        let n = fails.len();
        fails.extend(unknown);
        return out(
            Verdict::Fail,
            format!("{n} app(s) signed with public keys."),
            fails,
        );
    }
    if !unknown.is_empty() {
        return out(
            Verdict::Inconclusive,
            format!("The signer of {} app(s) is unknown.", unknown.len()),
            unknown,
        );
    }
    out(
        Verdict::Pass,
        format!(
            "None of the {} apps is signed with a public test or debug key.",
            f.apps.len()
        ),
        vec![EvidenceRef::new(
            "note",
            format!("{} apps examined", f.apps.len()),
        )],
    )
}

fn no_debuggable(ctx: &Ctx<'_>) -> Outcome {
    let Some(f) = ctx.firmware.filter(|f| !f.apps.is_empty()) else {
        return no_firmware();
    };
    let fails: Vec<EvidenceRef> = f
        .apps
        .iter()
        .filter(|a| a.debuggable)
        .map(|a| app_ref(a, "android:debuggable=\"true\""))
        .collect();
    let unknown: Vec<EvidenceRef> = f
        .apps
        .iter()
        .filter_map(|a| {
            a.error
                .as_ref()
                .map(|e| app_ref(a, format!("manifest not read: {e}")))
        })
        .collect();
    if !fails.is_empty() {
        let n = fails.len();
        return out(Verdict::Fail, format!("{n} debuggable app(s)."), fails);
    }
    if !unknown.is_empty() {
        return out(
            Verdict::Inconclusive,
            format!("{} app(s) could not be analysed.", unknown.len()),
            unknown,
        );
    }
    out(
        Verdict::Pass,
        format!("None of the {} apps is debuggable.", f.apps.len()),
        vec![EvidenceRef::new(
            "note",
            format!("{} apps examined", f.apps.len()),
        )],
    )
}

fn risk_score_max(ctx: &Ctx<'_>, max: f64) -> Outcome {
    let Some(f) = ctx.firmware else {
        return no_firmware();
    };
    let Some(total) = f.risk_total else {
        return out(
            Verdict::NotTested,
            "The firmware analysis has no risk score.",
            vec![],
        );
    };
    let ev = vec![EvidenceRef::new(
        "risk",
        format!(
            "Uraniborg-compatible risk score {total:.3} of {:.1}; threshold {max}",
            f.risk_max.unwrap_or(10.0)
        ),
    )];
    if !total.is_finite() {
        return out(Verdict::Inconclusive, "The risk score is not a number.", ev);
    }
    if total >= max {
        out(
            Verdict::Fail,
            format!("Risk score {total:.3} is not under the threshold {max}."),
            ev,
        )
    } else {
        out(
            Verdict::Pass,
            format!("Risk score {total:.3} is under the threshold {max}."),
            ev,
        )
    }
}

fn privileged_trackers(ctx: &Ctx<'_>, include_platform: bool) -> Outcome {
    let Some(f) = ctx.firmware.filter(|f| !f.apps.is_empty()) else {
        return no_firmware();
    };
    let hits: Vec<EvidenceRef> = f
        .apps
        .iter()
        .filter(|a| {
            (a.privileged || (include_platform && a.platform_signed)) && !a.trackers.is_empty()
        })
        .map(|a| {
            app_ref(
                a,
                format!(
                    "{} app embeds tracker(s): {} [listed for review]",
                    if a.privileged {
                        "privileged"
                    } else {
                        "platform-signed"
                    },
                    a.trackers.join(", ")
                ),
            )
        })
        .collect();
    if !hits.is_empty() {
        let n = hits.len();
        return out(
            Verdict::Inconclusive,
            format!("{n} privileged app(s) embed trackers; each needs a reviewer's decision."),
            hits,
        );
    }
    out(
        Verdict::Pass,
        "No privileged or platform-signed app embeds a known tracker.",
        vec![],
    )
}
