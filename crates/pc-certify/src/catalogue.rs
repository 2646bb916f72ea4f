//! The requirement catalogue: requirements as data, each decided by one check from a fixed set.

mod build;

use build::build_check;
pub(crate) use build::tls_rank;
use pc_case::Consent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The embedded baseline catalogue (`data/catalogue/phonecert-baseline.toml`).
pub const BASELINE_TOML: &str = include_str!("../../../data/catalogue/phonecert-baseline.toml");

/// The catalogues shipped with phonecert (`data/catalogue/`), by id: the baseline and the
/// schemes a lab is audited against.
pub const EMBEDDED: [(&str, &str); 4] = [
    ("phonecert-baseline", BASELINE_TOML),
    (
        "en-18031-2",
        include_str!("../../../data/catalogue/en-18031-2.toml"),
    ),
    (
        "taics-ts-0029",
        include_str!("../../../data/catalogue/taics-ts-0029.toml"),
    ),
    (
        "cn-preload",
        include_str!("../../../data/catalogue/cn-preload.toml"),
    ),
];

/// Which catalogue an audit uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogueChoice {
    /// One of [`EMBEDDED`], by id.
    Named(String),
    /// A catalogue file.
    File(std::path::PathBuf),
}

impl CatalogueChoice {
    /// An embedded catalogue's id, else a file path: what `--catalogue NAME|FILE` means.
    pub fn from_arg(arg: &str) -> CatalogueChoice {
        if EMBEDDED.iter().any(|(id, _)| *id == arg) {
            CatalogueChoice::Named(arg.to_string())
        } else {
            CatalogueChoice::File(arg.into())
        }
    }

    /// Reads the chosen catalogue.
    pub fn load(&self) -> Result<Catalogue, CatalogueError> {
        match self {
            CatalogueChoice::Named(n) => Catalogue::embedded(n),
            CatalogueChoice::File(p) => Catalogue::load(p),
        }
    }
}

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
    #[serde(default = "build::yes")]
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
    /// Apps the user cannot uninstall (on the image's read-only partitions) that the launcher
    /// shows are basic functions of the phone only.
    NonRemovableBasicOnly {
        /// Basic functions such an app may provide (`data/rules/basic-functions.toml` names).
        allowed_functions: Vec<String>,
        /// Partitions whose apps the user can uninstall (installed as updates or user apps).
        removable_partitions: Vec<String>,
    },
    /// No dangerous permission is granted by `default-permissions` to an app outside the
    /// given basic functions.
    NoDangerousDefaultGrants { basic_functions: Vec<String> },
    /// No identifier in the system logs saved during the phases (a phase's `logs`).
    NoIdentifierInLogs { identifiers: Vec<String> },
    /// Not decidable from traffic and firmware evidence: always NOT_TESTED, saying what
    /// would be needed; a reviewer decides it.
    NotAutomated { needs: String },
    /// A user build (`ro.build.type=user`) signed with release keys (`ro.build.tags`).
    ReleaseBuild,
    /// Verified boot on, not signed with a public AVB test key, hashes matching.
    VerifiedBoot,
    /// Security patch level at most `months` old at the audit date (`[policy]
    /// security_patch_max_age_months` overrides).
    PatchLevelMaxAge { months: u32 },
    /// `ro.debuggable=0`, `ro.adb.secure=1`.
    DebugPropsOff,
}

impl Check {
    /// Every check id, as written in catalogues.
    pub const IDS: [&'static str; 19] = [
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
        "non_removable_basic_only",
        "no_dangerous_default_grants",
        "no_identifier_in_logs",
        "not_automated",
        "release_build",
        "verified_boot",
        "patch_level_max_age",
        "debug_props_off",
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
            Check::NonRemovableBasicOnly { .. } => "non_removable_basic_only",
            Check::NoDangerousDefaultGrants { .. } => "no_dangerous_default_grants",
            Check::NoIdentifierInLogs { .. } => "no_identifier_in_logs",
            Check::NotAutomated { .. } => "not_automated",
            Check::ReleaseBuild => "release_build",
            Check::VerifiedBoot => "verified_boot",
            Check::PatchLevelMaxAge { .. } => "patch_level_max_age",
            Check::DebugPropsOff => "debug_props_off",
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
        matches!(self, Check::NoCleartext(_))
            || !(self.uses_traffic()
                || matches!(
                    self,
                    Check::NoIdentifierInLogs { .. } | Check::NotAutomated { .. }
                ))
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
    /// When the requirement does not apply, as the scheme's decision tree says (a reviewer's
    /// NOT_APPLICABLE is read against it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable_if: Option<String>,
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
    not_applicable_if: Option<String>,
    #[serde(default)]
    params: toml::Table,
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

    /// An embedded catalogue by id (see [`EMBEDDED`]).
    pub fn embedded(id: &str) -> Result<Catalogue, CatalogueError> {
        let text = EMBEDDED
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, t)| *t)
            .ok_or_else(|| CatalogueError::Invalid {
                at: 0,
                what: "no such embedded catalogue",
                detail: format!("{id} (embedded: {})", EMBEDDED.map(|(n, _)| n).join(", ")),
            })?;
        Catalogue::parse(text)
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
                not_applicable_if: r.not_applicable_if.clone(),
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
    fn embedded_catalogues_parse_and_together_cover_every_check() {
        let c = Catalogue::baseline().unwrap();
        assert_eq!(c.id, "phonecert-baseline");
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for (id, _) in EMBEDDED {
            let c = Catalogue::embedded(id).unwrap();
            assert_eq!(c.id, id, "an embedded catalogue's id is its name");
            used.extend(c.requirements.iter().map(|r| r.decided_by.id()));
            for r in &c.requirements {
                assert_eq!(r.check, r.decided_by.id());
                assert!(!r.references.is_empty(), "{} has no references", r.id);
                if let Check::NotAutomated { needs } = &r.decided_by {
                    assert!(needs.len() > 20, "{}: say what would decide it", r.id);
                }
            }
        }
        for id in Check::IDS {
            assert!(used.contains(id), "no embedded catalogue uses {id}");
        }
        assert!(Catalogue::embedded("nope").is_err());
        assert_eq!(
            CatalogueChoice::from_arg("en-18031-2"),
            CatalogueChoice::Named("en-18031-2".into())
        );
        assert!(matches!(
            CatalogueChoice::from_arg("my/catalogue.toml"),
            CatalogueChoice::File(_)
        ));
    }

    #[test]
    fn omitted_tables_come_from_the_baseline() {
        let c = Catalogue::embedded("cn-preload").unwrap();
        let base = Catalogue::baseline().unwrap();
        let table = |c: &Catalogue| {
            c.requirements.iter().find_map(|r| match &r.decided_by {
                Check::IdentifierPermissions { permissions } => Some(permissions.clone()),
                _ => None,
            })
        };
        assert!(table(&c).is_some());
        assert_eq!(table(&c), table(&base));
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
