//! Certification for phonecert: the requirement catalogue, automatic verdicts with the evidence
//! that justifies them, reviewer overrides, reports (JSON, HTML, SARIF), signed certificates and
//! firmware diffs.
//!
//! * [`catalogue`]: requirements as data (`data/catalogue/*.toml`), each decided by one [`Check`].
//! * [`policy`]: the case file's `[policy]` table (declared recipients, allowed countries).
//! * [`review`]: `review.toml`, reasoned overrides of automatic verdicts.
//! * [`evidence`]: the only module that reads pc-traffic / pc-firmware types.
//! * [`audit()`]: evidence + catalogue + reviews → [`AuditReport`].
//! * [`sarif`], [`html`], [`output`]: report writers and atomic output.
//! * [`cert`]: Ed25519 JWS certificates, keys, verification and a printable rendering.
//! * [`pipeline`]: a case file in, an [`AuditReport`] out (firmware, traffic, verdicts).
//! * [`diff`]: what changed between two audits and which requirements must be re-tested.
#![forbid(unsafe_code)]

pub mod audit;
pub mod catalogue;
pub mod cert;
mod checks;
pub mod diff;
pub mod evidence;
pub mod html;
pub mod output;
pub mod pipeline;
pub mod policy;
pub mod review;
pub mod sarif;
/// Time helpers live in `pc-base`; re-exported for the registry, which names them through us.
pub use pc_base::time;

pub use audit::{
    AuditOptions, AuditReport, Decision, EvidenceRef, InputDigest, Outcome, RequirementResult,
    Summary, apply_reviews, audit, audit_with,
};
pub use catalogue::{Catalogue, CatalogueError, Check, Level, Requirement};
pub use cert::{
    CertError, CertOptions, CertificatePayload, KeyError, VerifyError, certificate_html,
    issue_certificate, keygen, read_public_key, read_secret_key, sign, verify, write_keypair,
};
pub use diff::{DiffError, DiffReport, diff, diff_reports};
pub use evidence::firmware_digest;
pub use output::{OutputError, WriteOptions, Written, write_outputs, write_report};
pub use pipeline::{PipelineError, PipelineOptions, PipelineOutput, Stage, audit_case};
pub use policy::{Policy, PolicyError, Recipient};
pub use review::{Review, ReviewError, parse_reviews};

/// The five verdicts a requirement can get.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
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

/// The tool name and version written into reports and certificates.
pub const TOOL_NAME: &str = "phonecert";
/// This crate's version.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
