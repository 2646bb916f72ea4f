//! Identifiers in the system logs: whatever an app writes to logcat, every app with log access
//! (and every bug report) reads.

use super::ctx::{Ctx, kind_in, when_any};
use crate::outcome::{EvidenceRef, Outcome, Verdict};

/// The kind of evidence naming a log line.
pub(crate) const LOG: &str = "log";

pub(super) fn no_identifier_in_logs(ctx: &Ctx<'_>, kinds: &[String]) -> Outcome {
    let Some(logs) = ctx.logs.filter(|l| !l.files.is_empty()) else {
        return Outcome::new(
            Verdict::NotTested,
            "No system log was given (a phase's `logs`: save them with `adb logcat -d`).",
            vec![],
        );
    };
    let mut fails = Vec::new();
    let mut unknown = Vec::new();
    let mut fine = Vec::new();
    for f in &logs.files {
        let at = |what: String| EvidenceRef {
            phase: Some(f.phase.clone()),
            capture: Some(f.path.clone()),
            ..EvidenceRef::new(LOG, what)
        };
        if let Some(e) = &f.error {
            unknown.push(at(format!("{} (phase {}): {e}", f.path, f.phase)));
        }
        let hits: Vec<_> = f
            .hits
            .iter()
            .filter(|h| kind_in(kinds, &h.identifier))
            .collect();
        for h in &hits {
            fails.push(at(format!(
                "{} line {} (byte {}), phase {}: {} ({}) as {}: {}",
                f.path,
                h.line,
                h.offset,
                f.phase,
                h.name,
                h.identifier,
                h.encoding.join("+"),
                h.snippet
            )));
        }
        if f.more_hits > 0 && !hits.is_empty() {
            fails.push(at(format!(
                "{}: {} more hit(s) not listed",
                f.path, f.more_hits
            )));
        }
        if f.lines_not_searched_whole > 0 {
            unknown.push(at(format!(
                "{}: {} line(s) too long or too deeply encoded to search whole",
                f.path, f.lines_not_searched_whole
            )));
        }
        if f.error.is_none() {
            fine.push(at(format!(
                "{} (phase {}): {} lines, {} bytes searched",
                f.path, f.phase, f.lines, f.bytes
            )));
        }
    }
    if let Some(o) = when_any(Verdict::Fail, fails, &[], |n| {
        format!("{n} identifier occurrence(s) in the system logs.")
    }) {
        return o;
    }
    if logs.files.iter().all(|f| f.lines == 0) {
        unknown.push(EvidenceRef::new("note", "the logs hold no line"));
    }
    if let Some(o) = when_any(Verdict::Inconclusive, unknown, &fine, |n| {
        format!("No identifier found, but {n} part(s) of the logs were not searched whole.")
    }) {
        return o;
    }
    Outcome::new(
        Verdict::Pass,
        format!("No identifier in {} system log(s).", logs.files.len()),
        fine,
    )
}
