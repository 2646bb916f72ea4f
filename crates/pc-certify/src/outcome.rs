//! What a check (or a reviewer) decides: the [`Verdict`], its summary and the [`EvidenceRef`]s it
//! rests on. Both the checks (which produce outcomes) and the audit (which collects them into a
//! report) use these types, so they live here and neither imports the other's types.

use serde::{Deserialize, Serialize};

/// Most evidence references kept per requirement (the rest are counted).
pub const MAX_EVIDENCE: usize = 100;

/// The five verdicts a requirement can get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// The evidence shows the requirement is met.
    Pass,
    /// The evidence shows the requirement is not met.
    Fail,
    /// Evidence exists but does not decide (too thin, undeclared policy, needs a human).
    Inconclusive,
    /// The requirement does not apply to this unit (e.g. no TLS connection at all).
    NotApplicable,
    /// The evidence the check needs was not provided.
    NotTested,
}

impl Verdict {
    /// The name used in reports (`PASS`, `NOT_TESTED`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::NotApplicable => "NOT_APPLICABLE",
            Verdict::NotTested => "NOT_TESTED",
        }
    }

    /// All verdicts, in report order.
    pub const ALL: [Verdict; 5] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Inconclusive,
        Verdict::NotApplicable,
        Verdict::NotTested,
    ];
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fact a verdict rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// `finding`, `destination`, `connection`, `app`, `phase`, `risk`, `policy`, `local_network`,
    /// `log`, `build` (the build's properties and verified boot) or `note`.
    pub kind: String,
    /// Index in the traffic report's findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<usize>,
    /// Index in the traffic report's destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<usize>,
    /// App package (or path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Destination host (or address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Phase name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Capture file, for traffic evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
    /// One line.
    pub description: String,
}

impl EvidenceRef {
    /// A bare reference of `kind` with a description.
    pub fn new(kind: &str, description: impl Into<String>) -> Self {
        EvidenceRef {
            kind: kind.into(),
            finding: None,
            destination: None,
            app: None,
            host: None,
            phase: None,
            capture: None,
            description: description.into(),
        }
    }
}

/// A check's (or a reviewer's) decision with its justification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// One or two sentences.
    pub summary: String,
    /// The facts it rests on (at most [`MAX_EVIDENCE`], then one `note` counting the rest).
    pub evidence: Vec<EvidenceRef>,
}

impl Outcome {
    /// A decision with its summary and the facts it rests on.
    pub fn new(verdict: Verdict, summary: impl Into<String>, evidence: Vec<EvidenceRef>) -> Self {
        Outcome {
            verdict,
            summary: summary.into(),
            evidence,
        }
    }

    /// Keeps the first [`MAX_EVIDENCE`] references and counts the rest in one `note`, so a
    /// check over a large capture cannot grow the report without bound.
    pub(crate) fn cap_evidence(&mut self) {
        let ev = &mut self.evidence;
        if ev.len() > MAX_EVIDENCE {
            let more = ev.len() - MAX_EVIDENCE;
            ev.truncate(MAX_EVIDENCE);
            ev.push(EvidenceRef::new(
                "note",
                format!("… and {more} more (see the traffic and firmware sections)"),
            ));
        }
    }
}
