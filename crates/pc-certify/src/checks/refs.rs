//! Evidence references: how a finding, a destination, an app or a phase is named in a verdict.

use crate::evidence::{AppFact, DestFact, FindingFact, PhaseCoverage};
use crate::outcome::EvidenceRef;
use pc_case::Consent;

pub(super) fn finding_ref(f: &FindingFact) -> EvidenceRef {
    EvidenceRef {
        finding: Some(f.index),
        host: Some(f.target().to_string()),
        phase: Some(f.phase.clone()),
        capture: Some(f.capture.clone()),
        app: f.app.clone(),
        ..EvidenceRef::new("finding", format!("finding #{}: {}", f.index, f.describe()))
    }
}

pub(super) fn dest_ref(d: &DestFact, what: &str) -> EvidenceRef {
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

pub(super) fn app_ref(a: &AppFact, what: impl std::fmt::Display) -> EvidenceRef {
    EvidenceRef {
        app: Some(a.key().to_string()),
        ..EvidenceRef::new("app", format!("{} ({}): {what}", a.key(), a.path))
    }
}

pub(super) fn phase_ref(p: &PhaseCoverage, what: &str) -> EvidenceRef {
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

/// The cuts of a phase, as the evidence line shows them.
pub(super) fn cuts_text(p: &PhaseCoverage) -> String {
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
