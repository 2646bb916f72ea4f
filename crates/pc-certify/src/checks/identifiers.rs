//! Checks on identifiers in the traffic: before consent, in clear text, to whom, and paired
//! with the advertising id.

use super::coverage::{clean_verdict, coverage};
use super::ctx::{Ctx, kind_in, no_traffic, when_any};
use super::refs::finding_ref;
use crate::catalogue::CoverageParams;
use crate::evidence::FindingFact;
use crate::outcome::{EvidenceRef, MAX_EVIDENCE, Outcome, Verdict};
use pc_case::Consent;
use std::collections::BTreeSet;

pub(super) fn no_identifier_in_phase(
    ctx: &Ctx<'_>,
    consent: Consent,
    kinds: &[String],
    cp: &CoverageParams,
) -> Outcome {
    let Some(t) = ctx.traffic else {
        return no_traffic();
    };
    if !t.phases.values().any(|p| p.consent == Some(consent)) {
        return Outcome::new(
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
    if let Some(o) = when_any(Verdict::Fail, hits, &[], |n| {
        format!("{n} identifier transmission(s) in phase(s) with consent \"{consent}\".")
    }) {
        return o;
    }
    let c = coverage(t, |p| p.consent == Some(consent), Some(cp));
    clean_verdict(
        &c,
        &format!("no identifier sent with consent \"{consent}\""),
    )
}

pub(super) fn no_cleartext_identifier(ctx: &Ctx<'_>, kinds: &[String]) -> Outcome {
    let Some(t) = ctx.traffic else {
        return no_traffic();
    };
    let hits: Vec<EvidenceRef> = t
        .findings
        .iter()
        .filter(|f| f.cleartext && kind_in(kinds, &f.identifier))
        .map(finding_ref)
        .collect();
    if let Some(o) = when_any(Verdict::Fail, hits, &[], |n| {
        format!("{n} identifier transmission(s) readable on the wire.")
    }) {
        return o;
    }
    // Cleartext is visible whether or not TLS could be decrypted: no TLS coverage condition.
    let c = coverage(t, |_| true, None);
    clean_verdict(&c, "no identifier sent in clear text")
}

pub(super) fn identifier_recipients(ctx: &Ctx<'_>, cp: &CoverageParams) -> Outcome {
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
        return Outcome::new(
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
    if let Some(o) = when_any(Verdict::Fail, fails, &unknown, |n| {
        format!("{n} identifier transmission(s) to undeclared recipients or countries.")
    }) {
        return o;
    }
    if let Some(o) = when_any(Verdict::Inconclusive, unknown, &ok, |n| {
        format!("{n} transmission(s) cannot be judged against the declared policy.")
    }) {
        return o;
    }
    let cv = clean_verdict(
        &c,
        "every identifier went to a declared recipient in an allowed country",
    );
    let mut ev = ok;
    ev.extend(cv.evidence);
    Outcome::new(cv.verdict, cv.summary, ev)
}

pub(super) fn no_persistent_with_adid(
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
                if ev.len() < MAX_EVIDENCE {
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
        return Outcome::new(
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
