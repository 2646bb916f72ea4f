//! How much of the traffic a check could see, and the verdict when nothing violating was found:
//! evidence too thin to decide is never a PASS.

use super::refs::phase_ref;
use crate::catalogue::CoverageParams;
use crate::evidence::{PhaseCoverage, TrafficEvidence};
use crate::outcome::{EvidenceRef, Outcome, Verdict};

/// Coverage of a set of phases: `Err(outcome)` when it is too thin to decide at all.
pub(super) struct Coverage<'a> {
    pub(super) usable: Vec<&'a PhaseCoverage>,
    pub(super) missing: Vec<&'a PhaseCoverage>,
    pub(super) thin: Vec<&'a PhaseCoverage>,
    /// Phases where part of what was sent was cut, or an input stopped part-way.
    pub(super) cut: Vec<&'a PhaseCoverage>,
}

pub(super) fn coverage<'a>(
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

/// Phases with an input that stopped part-way: what came after the stop was never seen, so a
/// check over the whole traffic cannot pass on them.
pub(super) fn stopped_refs(c: &Coverage<'_>) -> Vec<EvidenceRef> {
    c.usable
        .iter()
        .filter(|p| p.partly_usable_inputs > 0)
        .map(|p| phase_ref(p, "a capture stops part-way; what follows was not analysed"))
        .collect()
}

/// The verdict when nothing violating was found, given the coverage.
pub(super) fn clean_verdict(c: &Coverage<'_>, what: &str) -> Outcome {
    let mut ev: Vec<EvidenceRef> = c.usable.iter().map(|p| phase_ref(p, "")).collect();
    ev.extend(c.missing.iter().map(|p| phase_ref(p, "no usable capture")));
    if c.usable.is_empty() {
        return Outcome::new(
            Verdict::NotTested,
            format!("No usable capture for the phases concerned: {what} could not be tested."),
            ev,
        );
    }
    // The first reason found decides; each names the phases it applies to.
    type Reason<'a> = (&'a [&'a PhaseCoverage], fn(&str) -> String);
    let reasons: [Reason; 3] = [
        (&c.missing, |names| {
            format!("Nothing found, but phase(s) {names} have no usable capture.")
        }),
        (&c.cut, |names| {
            format!(
                "Nothing found in what was read, but in phase(s) {names} part of what the phone sent was not searched (a cut or undecodable body, or a capture that stops part-way; where is listed in the evidence): absence is not shown."
            )
        }),
        (&c.thin, |names| {
            format!(
                "Nothing found, but most bytes sent in phase(s) {names} were TLS/QUIC that could not be inspected (no key log); absence is not shown."
            )
        }),
    ];
    for (phases, why) in reasons {
        if !phases.is_empty() {
            let names: Vec<&str> = phases.iter().map(|p| p.phase.as_str()).collect();
            return Outcome::new(Verdict::Inconclusive, why(&names.join(", ")), ev);
        }
    }
    Outcome::new(Verdict::Pass, format!("Nothing found: {what}."), ev)
}
