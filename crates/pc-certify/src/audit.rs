//! The audit: evidence + catalogue + reviews → one [`AuditReport`] (what `report.json` holds).

use crate::catalogue::{Catalogue, Level};
use crate::evidence::{self, AppFact, FirmwareEvidence, TrafficEvidence};
use crate::outcome::{Outcome, Verdict};
use crate::policy::Policy;
use crate::review::Review;
use pc_case::Case;
use pc_detect::IdentifierValue;
use pc_firmware::FirmwareReport;
use pc_traffic::TrafficReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `format` value of report.json.
pub const REPORT_FORMAT: &str = "phonecert-audit/1";
/// The tool name and version written into reports and certificates.
pub const TOOL_NAME: &str = "phonecert";
/// This crate's version.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Largest input hashed for the inputs list.
pub const MAX_HASHED_INPUT: u64 = 64 << 30;

/// One requirement's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementResult {
    pub requirement: String,
    pub title: String,
    pub level: Level,
    pub check: String,
    pub references: Vec<String>,
    /// When the scheme lets the requirement not apply (its decision tree's condition, from
    /// the catalogue); a NOT_APPLICABLE review is read against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable_if: Option<String>,
    /// What the check decided.
    pub automatic: Outcome,
    /// The last review of this requirement, if any.
    pub review: Option<Review>,
    /// The verdict that counts: the review's, else the automatic one.
    pub verdict: Verdict,
}

/// The overall decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// Every mandatory requirement is PASS: a certificate can be issued.
    Certifiable,
    /// Some mandatory requirement is FAIL.
    NotCertifiable,
    /// No mandatory FAIL, but some mandatory requirement is not PASS.
    Incomplete,
}

impl Decision {
    /// Report name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Certifiable => "CERTIFIABLE",
            Decision::NotCertifiable => "NOT_CERTIFIABLE",
            Decision::Incomplete => "INCOMPLETE",
        }
    }
}

/// Verdict counts and the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub decision: Decision,
    /// Final verdict → number of requirements.
    pub counts: BTreeMap<Verdict, usize>,
    /// Mandatory requirements that are not PASS.
    pub blocking: Vec<String>,
}

/// An input file and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDigest {
    /// `capture`, `keylog`, `case`, `catalogue`, `review`, `traffic_report`, `firmware_report`,
    /// `firmware_apk`, …
    pub kind: String,
    pub path: String,
    /// Lower-case hex SHA-256; `None` when the file could not be read.
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl InputDigest {
    /// Hashes a file (streaming).
    pub fn of_file(kind: &str, path: &std::path::Path) -> InputDigest {
        let bytes = std::fs::metadata(path).ok().map(|m| m.len());
        match evidence::sha256_file(path, MAX_HASHED_INPUT) {
            Ok(d) => InputDigest {
                kind: kind.into(),
                path: path.display().to_string(),
                sha256: Some(d),
                bytes,
                error: None,
            },
            Err(e) => InputDigest {
                kind: kind.into(),
                path: path.display().to_string(),
                sha256: None,
                bytes,
                error: Some(e.to_string()),
            },
        }
    }
}

/// The case as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: Option<String>,
    pub title: Option<String>,
    pub lab: Option<String>,
    pub manufacturer: String,
    pub model: String,
    pub build_fingerprint: Option<String>,
    pub phases: Vec<PhaseSummary>,
    /// Identifier names and kinds known for the unit (values masked unless revealed).
    pub identifiers: Vec<IdentifierSummary>,
}

/// A phase as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    pub name: String,
    pub consent: String,
    pub description: Option<String>,
    pub captures: Vec<String>,
}

/// A known identifier as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifierSummary {
    pub name: String,
    pub kind: String,
    /// Masked (`3569…3809`) unless the audit ran with `reveal`.
    pub value: String,
}

/// The catalogue as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogueRef {
    pub id: String,
    pub version: String,
    pub date: String,
    pub source: String,
}

/// The tool as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

/// Risk score as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSummary {
    pub total: Option<f64>,
    pub max: Option<f64>,
}

/// Everything an audit found and decided (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// [`REPORT_FORMAT`].
    pub format: String,
    pub tool: ToolInfo,
    /// When the audit ran (`YYYY-MM-DDTHH:MM:SSZ`).
    pub generated: String,
    pub case: CaseSummary,
    pub policy: Option<Policy>,
    pub catalogue: CatalogueRef,
    pub inputs: Vec<InputDigest>,
    /// Whether identifier values are shown unmasked in this report.
    pub reveal: bool,
    /// Traffic evidence (findings, destinations, TLS connections, phase coverage).
    pub traffic: Option<TrafficEvidence>,
    /// Firmware evidence (apps, risk).
    pub firmware: Option<FirmwareEvidence>,
    /// System logs searched (a phase's `logs`), with what was found in them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<crate::logs::LogEvidence>,
    /// SHA-256 over every app's package, version, APK digest and signer (see
    /// [`evidence::firmware_digest`]).
    pub firmware_digest: Option<String>,
    pub risk: Option<RiskSummary>,
    pub results: Vec<RequirementResult>,
    /// Every review read, in file order.
    pub reviews: Vec<Review>,
    pub summary: Summary,
    /// Problems that do not stop the audit (unknown requirement in a review, …).
    pub warnings: Vec<String>,
}

impl AuditReport {
    /// The result of a requirement.
    pub fn result(&self, id: &str) -> Option<&RequirementResult> {
        self.results.iter().find(|r| r.requirement == id)
    }

    /// Apps of the firmware evidence (empty without firmware).
    pub fn apps(&self) -> &[AppFact] {
        self.firmware.as_ref().map_or(&[], |f| f.apps.as_slice())
    }

    /// report.json text (pretty, deterministic, trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }
}

/// Options of [`audit_with`].
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// The declared policy (from [`Policy::from_case_text`]).
    pub policy: Option<Policy>,
    /// Audit time in Unix seconds (default: now).
    pub now: Option<i64>,
    /// Input digests (default: the case's captures and key logs, hashed now).
    pub inputs: Option<Vec<InputDigest>>,
    /// Extra inputs appended to the list (case file, catalogue, review file, firmware …).
    pub extra_inputs: Vec<InputDigest>,
    /// APK path → SHA-256 overriding the digests the firmware report carries (pc-firmware
    /// hashes each APK as it reads it); empty in normal use.
    pub apk_sha256: BTreeMap<String, String>,
    /// Show identifier values unmasked.
    pub reveal: bool,
    /// The system logs searched (default: none; [`crate::logs::scan_case_logs`] makes them).
    pub logs: Option<crate::logs::LogEvidence>,
}

/// Audits with default options: no policy, now, the case's captures hashed.
pub fn audit(
    case: &Case,
    traffic: Option<&TrafficReport>,
    firmware: Option<&FirmwareReport>,
    catalogue: &Catalogue,
    reviews: &[Review],
) -> AuditReport {
    audit_with(
        case,
        traffic,
        firmware,
        catalogue,
        reviews,
        &AuditOptions::default(),
    )
}

/// Masks an identifier value: first and last few characters kept.
pub fn mask(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let n = chars.len();
    if n <= 6 {
        return "•".repeat(n.max(1));
    }
    let keep = if n >= 12 { 4 } else { 2 };
    let head: String = chars.iter().take(keep).collect();
    let tail: String = chars.iter().skip(n - keep).collect();
    format!("{head}{}{tail}", "•".repeat(n - 2 * keep))
}

fn case_summary(case: &Case, reveal: bool) -> CaseSummary {
    CaseSummary {
        id: case.case.id.clone(),
        title: case.case.title.clone(),
        lab: case.case.lab.clone(),
        manufacturer: case.device.manufacturer.clone(),
        model: case.device.model.clone(),
        build_fingerprint: case.device.build_fingerprint.clone(),
        phases: case
            .phases
            .iter()
            .map(|p| PhaseSummary {
                name: p.name.clone(),
                consent: p.consent.as_str().into(),
                description: p.description.clone(),
                captures: p.captures.iter().map(|c| c.display().to_string()).collect(),
            })
            .collect(),
        identifiers: case
            .identifiers()
            .iter()
            .map(|i| {
                let value = match (&i.value, reveal) {
                    (IdentifierValue::Text(t), true) => t.clone(),
                    (IdentifierValue::Text(t), false) => mask(t),
                    (IdentifierValue::Location(p), true) => format!("{}, {}", p.lat, p.lon),
                    // Even a partial coordinate locates the user: mask it whole.
                    (IdentifierValue::Location(_), false) => "•••".into(),
                };
                IdentifierSummary {
                    name: i.name.clone(),
                    kind: i.kind.as_str().into(),
                    value,
                }
            })
            .collect(),
    }
}

fn default_inputs(case: &Case) -> Vec<InputDigest> {
    let mut out = Vec::new();
    for p in &case.phases {
        for c in &p.captures {
            let mut d = InputDigest::of_file("capture", &case.resolve(c));
            d.path = c.display().to_string();
            out.push(d);
        }
        for k in &p.keylogs {
            let mut d = InputDigest::of_file("keylog", &case.resolve(k));
            d.path = k.display().to_string();
            out.push(d);
        }
        for l in &p.logs {
            let mut d = InputDigest::of_file("log", &case.resolve(l));
            d.path = l.display().to_string();
            out.push(d);
        }
    }
    out
}

/// Audits: converts the evidence, runs every requirement's check, applies reviews, decides.
pub fn audit_with(
    case: &Case,
    traffic: Option<&TrafficReport>,
    firmware: Option<&FirmwareReport>,
    catalogue: &Catalogue,
    reviews: &[Review],
    opts: &AuditOptions,
) -> AuditReport {
    let t = traffic.map(|t| evidence::from_traffic(t, case));
    let f = firmware.map(|f| evidence::from_firmware(f, &opts.apk_sha256));
    let ctx = crate::checks::Ctx {
        traffic: t.as_ref(),
        firmware: f.as_ref(),
        policy: opts.policy.as_ref(),
        logs: opts.logs.as_ref(),
        now: opts.now.unwrap_or_else(pc_base::time::now),
    };
    let mut warnings = Vec::new();
    // What the traffic analysis could not read belongs in the report, not only on a terminal.
    if let Some(t) = &t {
        for p in t.phases.values() {
            for stop in &p.stops {
                warnings.push(format!(
                    "phase {}: capture only partly usable: {stop}; what follows was not analysed",
                    p.phase
                ));
            }
            if p.cuts > 0 {
                warnings.push(format!(
                    "phase {}: {} piece(s) of what the phone sent not searched whole (at least {} bytes){}",
                    p.phase,
                    p.cuts,
                    p.bytes_not_searched,
                    p.first_cuts
                        .first()
                        .map_or(String::new(), |c| format!(", first at {c}"))
                ));
            }
        }
    }
    // Empty evidence is said, not taken for a clean result (the checks make it NOT_TESTED).
    if let Some(t) = &t {
        for p in t.phases.values() {
            if p.inputs > 0 && p.usable_inputs == 0 && p.errors.is_empty() {
                warnings.push(format!(
                    "phase {}: its capture(s) hold no packet and no HAR entry: nothing was analysed",
                    p.phase
                ));
            }
        }
    }
    if f.as_ref().is_some_and(|f| f.apps.is_empty()) {
        warnings.push(
            "firmware: the analysis found no app (an empty or wrong folder?): its requirements are NOT_TESTED"
                .to_string(),
        );
    }
    for r in reviews {
        if catalogue.get(&r.requirement).is_none() {
            warnings.push(unknown_requirement(r, &catalogue.id, &catalogue.version));
        }
    }
    let results: Vec<RequirementResult> = catalogue
        .requirements
        .iter()
        .map(|req| {
            let mut automatic = crate::checks::run(&req.decided_by, &ctx);
            automatic.cap_evidence();
            let review = latest_review(reviews, &req.id);
            let verdict = review.as_ref().map_or(automatic.verdict, |r| r.verdict);
            RequirementResult {
                requirement: req.id.clone(),
                title: req.title.clone(),
                level: req.level,
                check: req.check.clone(),
                references: req.references.clone(),
                not_applicable_if: req.not_applicable_if.clone(),
                automatic,
                review,
                verdict,
            }
        })
        .collect();
    warnings.extend(results.iter().filter_map(unjustified_not_applicable));
    let summary = summarize(&results);
    let mut inputs = opts.inputs.clone().unwrap_or_else(|| default_inputs(case));
    inputs.extend(opts.extra_inputs.iter().cloned());
    let firmware_digest = f
        .as_ref()
        .map(|f| evidence::firmware_digest(&f.apps, &f.images));
    let risk = f.as_ref().map(|f| RiskSummary {
        total: f.risk_total,
        max: f.risk_max,
    });
    AuditReport {
        format: REPORT_FORMAT.into(),
        tool: ToolInfo {
            name: TOOL_NAME.into(),
            version: TOOL_VERSION.into(),
        },
        generated: pc_base::time::format_utc(opts.now.unwrap_or_else(pc_base::time::now)),
        case: case_summary(case, opts.reveal),
        policy: opts.policy.clone(),
        catalogue: CatalogueRef {
            id: catalogue.id.clone(),
            version: catalogue.version.clone(),
            date: catalogue.date.clone(),
            source: catalogue.source.clone(),
        },
        inputs,
        reveal: opts.reveal,
        traffic: t,
        firmware: f,
        logs: opts.logs.clone(),
        firmware_digest,
        risk,
        results,
        reviews: reviews.to_vec(),
        summary,
        warnings,
    }
}

fn unknown_requirement(r: &Review, catalogue: &str, version: &str) -> String {
    format!(
        "review by {} names requirement {} which is not in catalogue {catalogue} {version}",
        r.reviewer, r.requirement
    )
}

/// The review that decides a requirement: the latest by date, then by order given.
fn latest_review(reviews: &[Review], requirement: &str) -> Option<Review> {
    reviews
        .iter()
        .enumerate()
        .filter(|(_, r)| r.requirement == requirement)
        .max_by(|(ia, a), (ib, b)| {
            pc_base::time::parse_utc(&a.date)
                .cmp(&pc_base::time::parse_utc(&b.date))
                .then(ia.cmp(ib))
        })
        .map(|(_, r)| r.clone())
}

/// Applies reviews given after the audit ran (the registry's reviewers work on a stored
/// report): each requirement's verdict becomes its latest review's, or its automatic one, and
/// the decision is taken again. Reviews of requirements not in the report are warned about.
pub fn apply_reviews(report: &mut AuditReport, reviews: &[Review]) {
    let mut all = report.reviews.clone();
    all.extend(reviews.iter().cloned());
    for r in reviews {
        if report.result(&r.requirement).is_none() {
            let w = unknown_requirement(r, &report.catalogue.id, &report.catalogue.version);
            report.warnings.push(w);
        }
    }
    for res in &mut report.results {
        res.review = latest_review(&all, &res.requirement);
        res.verdict = res
            .review
            .as_ref()
            .map_or(res.automatic.verdict, |r| r.verdict);
    }
    for res in &report.results {
        if let Some(w) = unjustified_not_applicable(res)
            && !report.warnings.contains(&w)
        {
            report.warnings.push(w);
        }
    }
    report.summary = summarize(&report.results);
    report.reviews = all;
}

/// A reviewer's NOT_APPLICABLE on a requirement whose catalogue states no condition under
/// which it does not apply: the verdict stands on the reviewer's reason alone, and the report
/// says so.
fn unjustified_not_applicable(res: &RequirementResult) -> Option<String> {
    let r = res.review.as_ref()?;
    (r.verdict == Verdict::NotApplicable && res.not_applicable_if.is_none()).then(|| {
        format!(
            "{} set NOT_APPLICABLE by {}: the catalogue gives no condition under which it does not apply; the justification is the reviewer's alone: {}",
            res.requirement, r.reviewer, r.reason
        )
    })
}

/// Counts verdicts and decides.
pub fn summarize(results: &[RequirementResult]) -> Summary {
    let mut counts: BTreeMap<Verdict, usize> = Verdict::ALL.iter().map(|v| (*v, 0)).collect();
    for r in results {
        *counts.entry(r.verdict).or_default() += 1;
    }
    let mandatory = results.iter().filter(|r| r.level == Level::Mandatory);
    let blocking: Vec<String> = mandatory
        .clone()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(|r| r.requirement.clone())
        .collect();
    let decision = if mandatory.clone().any(|r| r.verdict == Verdict::Fail) {
        Decision::NotCertifiable
    } else if blocking.is_empty() {
        Decision::Certifiable
    } else {
        Decision::Incomplete
    };
    Summary {
        decision,
        counts,
        blocking,
    }
}

/// The case file's path, for the inputs list.
pub fn case_input(path: &std::path::Path) -> InputDigest {
    InputDigest::of_file("case", &PathBuf::from(path))
}
