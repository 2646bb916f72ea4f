//! The requirement catalogue: requirements as data, each decided by one check from a fixed set.

use pc_case::Consent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The embedded baseline catalogue (`data/catalogue/phonecert-baseline.toml`).
pub const BASELINE_TOML: &str = include_str!("../../../data/catalogue/phonecert-baseline.toml");

/// Bounds on catalogue files.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest catalogue file accepted.
    pub max_bytes: u64,
    /// Most requirements in one catalogue.
    pub max_requirements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 20,
            max_requirements: 1000,
        }
    }
}

/// Errors reading a catalogue.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Not readable as a catalogue: TOML syntax, wrong types, unknown keys.
    #[error("catalogue, byte {at}: {what}: {detail}")]
    Syntax {
        at: u64,
        what: &'static str,
        detail: String,
    },
    /// Well-formed but wrong (duplicate id, unknown check, bad parameter).
    #[error("catalogue, byte {at}: {what}: {detail}")]
    Invalid {
        at: u64,
        what: &'static str,
        detail: String,
    },
    /// Larger than [`Limits`] allow.
    #[error("catalogue, byte {at}: {what}")]
    TooLarge { at: u64, what: &'static str },
    /// The file could not be read.
    #[error("catalogue, byte {at}: {what}: {source}")]
    Io {
        at: u64,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// How binding a requirement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Must be PASS for a certificate.
    Mandatory,
    /// Reported, does not block a certificate.
    Recommended,
}

impl Level {
    /// The name used in catalogues and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Mandatory => "mandatory",
            Level::Recommended => "recommended",
        }
    }
}

/// When a traffic check's "nothing found" may count as evidence of absence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageParams {
    /// Accept a PASS even when most TLS bytes could not be inspected.
    #[serde(default)]
    pub accept_uninspected_tls: bool,
    /// Share (0..=1) of a phase's sent bytes in uninspected TLS/QUIC above which the evidence is
    /// too thin for a PASS.
    #[serde(default = "default_ratio")]
    pub max_uninspected_ratio: f64,
}

fn default_ratio() -> f64 {
    0.5
}

impl Default for CoverageParams {
    fn default() -> Self {
        CoverageParams {
            accept_uninspected_tls: false,
            max_uninspected_ratio: default_ratio(),
        }
    }
}

/// What `no_cleartext` judges and what it leaves aside.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleartextRule {
    /// Protocols exempt from the traffic part (e.g. plain DNS, judged by its own rule).
    #[serde(default)]
    pub exempt_protocols: Vec<String>,
    /// Destination ports exempt from the traffic part.
    #[serde(default)]
    pub exempt_ports: Vec<u16>,
    /// Cleartext permitted by the network security config for specific domains only.
    #[serde(default)]
    pub allow_domain_exceptions: bool,
    /// Traffic that never leaves the local network (link-local, multicast and broadcast
    /// addresses, and the local services below on private addresses) is reported apart and not
    /// judged: it is not application data leaving for the internet.
    #[serde(default = "yes")]
    pub exempt_local_network: bool,
    /// Services local by design, by UDP/TCP port (DHCP, SSDP, mDNS, ...).
    #[serde(default)]
    pub local_services: Vec<LocalService>,
}

/// A service that only speaks to the local network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalService {
    /// How reports name it, e.g. `DHCP`.
    pub name: String,
    /// Its well-known ports (either end).
    pub ports: Vec<u16>,
}

/// The automated checks (the fixed set implemented in code) with their parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// No identifier found in any phase with the given consent.
    NoIdentifierInPhase {
        consent: Consent,
        /// Identifier kinds considered (empty: all).
        identifiers: Vec<String>,
        coverage: CoverageParams,
    },
    /// No identifier found unencrypted on the wire, in any phase.
    NoCleartextIdentifier {
        /// Identifier kinds considered (empty: all).
        identifiers: Vec<String>,
    },
    /// No app permits cleartext (manifest/NSC) and no cleartext application data was observed.
    NoCleartext(CleartextRule),
    /// Every observed TLS connection negotiated at least `min`.
    TlsMinVersion { min: String },
    /// Identifiers go only to declared recipients in allowed countries (case `[policy]`).
    IdentifierRecipients { coverage: CoverageParams },
    /// Persistent identifiers never sent with the advertising id (same request, or same
    /// destination and phase).
    NoPersistentWithAdvertisingId {
        persistent: Vec<String>,
        advertising: Vec<String>,
        coverage: CoverageParams,
    },
    /// Apps with identifier-reading code request a matching permission.
    IdentifierPermissions {
        permissions: BTreeMap<String, Vec<String>>,
    },
    /// No app signed with a public test key (or a debug certificate).
    NoTestKeys { include_debug_cert: bool },
    /// No debuggable app.
    NoDebuggable,
    /// Device risk score strictly under `max`.
    RiskScoreMax { max: f64 },
    /// Trackers in privileged apps, listed for review.
    PrivilegedTrackers { include_platform_signed: bool },
}

impl Check {
    /// Every check id, as written in catalogues.
    pub const IDS: [&'static str; 11] = [
        "no_identifier_in_phase",
        "no_cleartext_identifier",
        "no_cleartext",
        "tls_min_version",
        "identifier_recipients",
        "no_persistent_with_advertising_id",
        "identifier_permissions",
        "no_test_keys",
        "no_debuggable",
        "risk_score_max",
        "privileged_trackers",
    ];

    /// The check id.
    pub fn id(&self) -> &'static str {
        match self {
            Check::NoIdentifierInPhase { .. } => "no_identifier_in_phase",
            Check::NoCleartextIdentifier { .. } => "no_cleartext_identifier",
            Check::NoCleartext(_) => "no_cleartext",
            Check::TlsMinVersion { .. } => "tls_min_version",
            Check::IdentifierRecipients { .. } => "identifier_recipients",
            Check::NoPersistentWithAdvertisingId { .. } => "no_persistent_with_advertising_id",
            Check::IdentifierPermissions { .. } => "identifier_permissions",
            Check::NoTestKeys { .. } => "no_test_keys",
            Check::NoDebuggable => "no_debuggable",
            Check::RiskScoreMax { .. } => "risk_score_max",
            Check::PrivilegedTrackers { .. } => "privileged_trackers",
        }
    }

    /// Whether the check decides from traffic (else from firmware; `no_cleartext` uses both).
    pub fn uses_traffic(&self) -> bool {
        matches!(
            self,
            Check::NoIdentifierInPhase { .. }
                | Check::NoCleartextIdentifier { .. }
                | Check::NoCleartext(_)
                | Check::TlsMinVersion { .. }
                | Check::IdentifierRecipients { .. }
                | Check::NoPersistentWithAdvertisingId { .. }
        )
    }

    /// Whether the check decides from firmware facts.
    pub fn uses_firmware(&self) -> bool {
        !self.uses_traffic() || matches!(self, Check::NoCleartext(_))
    }
}

/// One requirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requirement {
    /// Stable id, e.g. `PCB-TRAFFIC-01`.
    pub id: String,
    pub title: String,
    pub rationale: String,
    pub level: Level,
    /// OWASP MASVS/MASTG/MASWE ids, ETSI EN 303 645 provisions, GB/T 41391-2022 clauses.
    pub references: Vec<String>,
    /// The check id.
    pub check: String,
    /// The parameters as written.
    pub params: serde_json::Value,
    /// The parsed check.
    #[serde(skip)]
    pub decided_by: Check,
}

/// A catalogue of requirements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalogue {
    pub id: String,
    pub title: Option<String>,
    pub version: String,
    pub date: String,
    pub source: String,
    pub requirements: Vec<Requirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    id: String,
    #[serde(default)]
    title: Option<String>,
    version: String,
    date: String,
    source: String,
    #[serde(default, rename = "requirement")]
    requirements: Vec<toml::Spanned<RawRequirement>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    id: String,
    title: String,
    rationale: String,
    level: Level,
    #[serde(default)]
    references: Vec<String>,
    check: String,
    #[serde(default)]
    params: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseParams {
    consent: Consent,
    #[serde(default)]
    identifiers: Vec<String>,
    #[serde(default)]
    accept_uninspected_tls: bool,
    #[serde(default = "default_ratio")]
    max_uninspected_ratio: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdsParams {
    #[serde(default)]
    identifiers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsParams {
    #[serde(default = "default_tls")]
    min: String,
}

fn default_tls() -> String {
    "TLSv1.2".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairParams {
    persistent: Vec<String>,
    #[serde(default = "default_adv")]
    advertising: Vec<String>,
    #[serde(default)]
    accept_uninspected_tls: bool,
    #[serde(default = "default_ratio")]
    max_uninspected_ratio: f64,
}

fn default_adv() -> Vec<String> {
    vec!["advertising_id".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermParams {
    permissions: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestKeyParams {
    #[serde(default = "yes")]
    include_debug_cert: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskParams {
    max: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackerParams {
    #[serde(default = "yes")]
    include_platform_signed: bool,
}

/// The TLS versions in order; the index is the strength rank.
pub(crate) const TLS_ORDER: [&str; 6] =
    ["SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/// Rank of a TLS version name (`TLSv1.3-draft` counts as 1.3; DTLS 1.2 as TLS 1.2).
pub(crate) fn tls_rank(v: &str) -> Option<usize> {
    let v = match v {
        "TLSv1.3-draft" => "TLSv1.3",
        "DTLSv1.2" => "TLSv1.2",
        "DTLSv1.0" => "TLSv1.1",
        other => other,
    };
    TLS_ORDER.iter().position(|t| *t == v)
}

fn ratio_ok(r: f64) -> bool {
    r.is_finite() && (0.0..=1.0).contains(&r)
}

fn build_check(raw: &RawRequirement, at: u64) -> Result<Check, CatalogueError> {
    let params = toml::Value::Table(raw.params.clone());
    fn p<T: serde::de::DeserializeOwned>(v: toml::Value, at: u64) -> Result<T, CatalogueError> {
        v.try_into()
            .map_err(|e: toml::de::Error| CatalogueError::Invalid {
                at,
                what: "bad check parameters",
                detail: e.message().to_string(),
            })
    }
    let bad = |what: &'static str, detail: String| CatalogueError::Invalid { at, what, detail };
    Ok(match raw.check.as_str() {
        "no_identifier_in_phase" => {
            let x: PhaseParams = p(params, at)?;
            if !ratio_ok(x.max_uninspected_ratio) {
                return Err(bad(
                    "max_uninspected_ratio must be in 0..=1",
                    raw.id.clone(),
                ));
            }
            Check::NoIdentifierInPhase {
                consent: x.consent,
                identifiers: x.identifiers,
                coverage: CoverageParams {
                    accept_uninspected_tls: x.accept_uninspected_tls,
                    max_uninspected_ratio: x.max_uninspected_ratio,
                },
            }
        }
        "no_cleartext_identifier" => {
            let x: IdsParams = p(params, at)?;
            Check::NoCleartextIdentifier {
                identifiers: x.identifiers,
            }
        }
        "no_cleartext" => Check::NoCleartext(p(params, at)?),
        "tls_min_version" => {
            let x: TlsParams = p(params, at)?;
            if tls_rank(&x.min).is_none() {
                return Err(bad("unknown TLS version (use TLSv1.2 or TLSv1.3)", x.min));
            }
            Check::TlsMinVersion { min: x.min }
        }
        "identifier_recipients" => {
            let x: CoverageParams = p(params, at)?;
            if !ratio_ok(x.max_uninspected_ratio) {
                return Err(bad(
                    "max_uninspected_ratio must be in 0..=1",
                    raw.id.clone(),
                ));
            }
            Check::IdentifierRecipients { coverage: x }
        }
        "no_persistent_with_advertising_id" => {
            let x: PairParams = p(params, at)?;
            if !ratio_ok(x.max_uninspected_ratio) {
                return Err(bad(
                    "max_uninspected_ratio must be in 0..=1",
                    raw.id.clone(),
                ));
            }
            if x.persistent.is_empty() || x.advertising.is_empty() {
                return Err(bad(
                    "persistent and advertising must not be empty",
                    raw.id.clone(),
                ));
            }
            Check::NoPersistentWithAdvertisingId {
                persistent: x.persistent,
                advertising: x.advertising,
                coverage: CoverageParams {
                    accept_uninspected_tls: x.accept_uninspected_tls,
                    max_uninspected_ratio: x.max_uninspected_ratio,
                },
            }
        }
        "identifier_permissions" => {
            let x: PermParams = p(params, at)?;
            Check::IdentifierPermissions {
                permissions: x.permissions,
            }
        }
        "no_test_keys" => {
            let x: TestKeyParams = p(params, at)?;
            Check::NoTestKeys {
                include_debug_cert: x.include_debug_cert,
            }
        }
        "no_debuggable" => {
            let _: Empty = p(params, at)?;
            Check::NoDebuggable
        }
        "risk_score_max" => {
            let x: RiskParams = p(params, at)?;
            if !x.max.is_finite() || x.max < 0.0 {
                return Err(bad("max must be a finite number >= 0", raw.id.clone()));
            }
            Check::RiskScoreMax { max: x.max }
        }
        "privileged_trackers" => {
            let x: TrackerParams = p(params, at)?;
            Check::PrivilegedTrackers {
                include_platform_signed: x.include_platform_signed,
            }
        }
        other => {
            return Err(bad(
                "unknown check (see Check::IDS)",
                other.chars().take(100).collect(),
            ));
        }
    })
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl Catalogue {
    /// The embedded baseline catalogue.
    pub fn baseline() -> Result<Catalogue, CatalogueError> {
        Catalogue::parse(BASELINE_TOML)
    }

    /// Reads a catalogue file.
    pub fn load(path: &Path) -> Result<Catalogue, CatalogueError> {
        let limits = Limits::default();
        let text = crate::review::read_capped(path, limits.max_bytes).map_err(|e| match e {
            Some(source) => CatalogueError::Io {
                at: 0,
                what: "cannot read catalogue",
                source,
            },
            None => CatalogueError::TooLarge {
                at: limits.max_bytes,
                what: "catalogue file too large",
            },
        })?;
        Catalogue::parse_with(&text, &limits)
    }

    /// Parses catalogue text with default limits.
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::parse_with(text, &Limits::default())
    }

    /// Parses catalogue text.
    pub fn parse_with(text: &str, limits: &Limits) -> Result<Catalogue, CatalogueError> {
        if text.len() as u64 > limits.max_bytes {
            return Err(CatalogueError::TooLarge {
                at: limits.max_bytes,
                what: "catalogue text too large",
            });
        }
        let raw: RawCatalogue = toml::from_str(text).map_err(|e| CatalogueError::Syntax {
            at: e.span().map_or(0, |s| s.start as u64),
            what: "not a valid catalogue",
            detail: e.message().to_string(),
        })?;
        if raw.requirements.len() > limits.max_requirements {
            return Err(CatalogueError::TooLarge {
                at: 0,
                what: "too many requirements",
            });
        }
        let invalid = |at: u64, what: &'static str, detail: &str| CatalogueError::Invalid {
            at,
            what,
            detail: detail.chars().take(100).collect(),
        };
        if !valid_id(&raw.id) {
            return Err(invalid(
                0,
                "catalogue id must be [A-Za-z0-9._-]{1,64}",
                &raw.id,
            ));
        }
        if raw.version.trim().is_empty() {
            return Err(invalid(0, "catalogue version is empty", ""));
        }
        if pc_base::time::parse_utc(&raw.date).is_none() {
            return Err(invalid(0, "catalogue date must be YYYY-MM-DD", &raw.date));
        }
        let mut seen = BTreeSet::new();
        let mut requirements = Vec::with_capacity(raw.requirements.len());
        for sp in &raw.requirements {
            let at = sp.span().start as u64;
            let r = sp.get_ref();
            if !valid_id(&r.id) {
                return Err(invalid(
                    at,
                    "requirement id must be [A-Za-z0-9._-]{1,64}",
                    &r.id,
                ));
            }
            if !seen.insert(r.id.clone()) {
                return Err(invalid(at, "requirement id defined twice", &r.id));
            }
            if r.title.trim().is_empty() {
                return Err(invalid(at, "requirement title is empty", &r.id));
            }
            let check = build_check(r, at)?;
            requirements.push(Requirement {
                id: r.id.clone(),
                title: r.title.clone(),
                rationale: r.rationale.clone(),
                level: r.level,
                references: r.references.clone(),
                check: r.check.clone(),
                params: serde_json::to_value(&r.params).unwrap_or(serde_json::Value::Null),
                decided_by: check,
            });
        }
        Ok(Catalogue {
            id: raw.id,
            title: raw.title,
            version: raw.version,
            date: raw.date,
            source: raw.source,
            requirements,
        })
    }

    /// The requirement with this id.
    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_parses_and_covers_every_check() {
        let c = Catalogue::baseline().unwrap();
        assert_eq!(c.id, "phonecert-baseline");
        let used: BTreeSet<&str> = c.requirements.iter().map(|r| r.decided_by.id()).collect();
        for id in Check::IDS {
            assert!(used.contains(id), "baseline does not use {id}");
        }
        for r in &c.requirements {
            assert_eq!(r.check, r.decided_by.id());
            assert!(!r.references.is_empty(), "{} has no references", r.id);
        }
    }

    #[test]
    fn rejects_bad_catalogues_without_panicking() {
        let head = "id = \"x\"\nversion = \"1\"\ndate = \"2026-01-01\"\nsource = \"s\"\n";
        let req = |check: &str, params: &str| {
            format!(
                "{head}[[requirement]]\nid = \"R-1\"\ntitle = \"t\"\nrationale = \"r\"\nlevel = \"mandatory\"\ncheck = \"{check}\"\n[requirement.params]\n{params}\n"
            )
        };
        assert!(Catalogue::parse(&req("no_debuggable", "")).is_ok());
        for (text, what) in [
            (req("nope", ""), "unknown check"),
            (req("no_debuggable", "x = 1"), "bad check parameters"),
            (req("risk_score_max", "max = -1.0"), "max must be"),
            (req("risk_score_max", "max = nan"), "max must be"),
            (req("tls_min_version", "min = \"TLSv9\""), "unknown TLS"),
            (
                req("no_identifier_in_phase", "consent = \"maybe\""),
                "bad check parameters",
            ),
            (
                req(
                    "no_identifier_in_phase",
                    "consent = \"none\"\nmax_uninspected_ratio = 2.0",
                ),
                "max_uninspected_ratio",
            ),
        ] {
            let e = Catalogue::parse(&text).unwrap_err();
            assert!(e.to_string().contains(what), "{e} vs {what}");
        }
        let dup = format!(
            "{}{}",
            req("no_debuggable", ""),
            &req("no_debuggable", "")[head.len()..]
        );
        assert!(
            Catalogue::parse(&dup)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        // Truncations of the baseline at every 97th byte: errors or (rarely) valid, never panics.
        let b = BASELINE_TOML;
        for cut in (0..b.len()).step_by(97) {
            if b.is_char_boundary(cut) {
                let _ = Catalogue::parse(&b[..cut]);
            }
        }
        assert!(Catalogue::parse("\u{0}\u{1}garbage[[[").is_err());
        let huge = "#".repeat(2 << 20);
        assert!(matches!(
            Catalogue::parse(&huge),
            Err(CatalogueError::TooLarge { .. })
        ));
    }
}
