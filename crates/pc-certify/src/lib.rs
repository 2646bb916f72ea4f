//! Certification for phonecert: the requirement catalogue, automatic verdicts with the evidence
//! that justifies them, reviewer overrides, reports (JSON, HTML, SARIF), signed certificates and
//! firmware diffs.
//!
//! * [`catalogue`]: requirements as data (`data/catalogue/*.toml`), each decided by one [`Check`].
//! * [`policy`]: the case file's `[policy]` table (declared recipients, allowed countries).
//! * [`review`]: `review.toml`, reasoned overrides of automatic verdicts.
//! * [`evidence`]: the only module that reads pc-traffic / pc-firmware types.
//! * [`outcome`]: what a check decides: [`Verdict`], summary, [`EvidenceRef`]s.
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
pub mod logs;
pub mod outcome;
pub mod output;
pub mod pipeline;
pub mod policy;
pub mod review;
pub mod sarif;

pub use audit::{
    AuditOptions, AuditReport, Decision, InputDigest, RequirementResult, Summary, TOOL_NAME,
    TOOL_VERSION, apply_reviews, audit, audit_with,
};
pub use catalogue::{
    Catalogue, CatalogueChoice, CatalogueError, Check, EMBEDDED, Level, Requirement,
};
pub use cert::{
    CertError, CertOptions, CertReview, CertificatePayload, KeyError, VerifyError,
    certificate_html, issue_certificate, keygen, read_public_key, read_secret_key, sign, verify,
    write_keypair,
};
pub use diff::{DiffError, DiffReport, diff, diff_reports};
pub use evidence::firmware_digest;
pub use outcome::{EvidenceRef, MAX_EVIDENCE, Outcome, Verdict};
pub use output::{OutputError, WriteOptions, Written, write_outputs, write_report};
pub use pipeline::{PipelineError, PipelineOptions, PipelineOutput, Stage, audit_case};
pub use policy::{Policy, PolicyError, Recipient};
pub use review::{Review, ReviewError, parse_reviews};
