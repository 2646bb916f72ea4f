//! Check parameters as catalogues write them, parsed and validated into [`Check`]s: one
//! parameter table per check, unknown keys refused, every bound checked before an audit runs.

use super::{CatalogueError, Check, CleartextRule, CoverageParams, RawRequirement, default_ratio};
use pc_case::Consent;
use serde::Deserialize;
use std::collections::BTreeMap;

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
struct RemovableParams {
    allowed_functions: Vec<String>,
    #[serde(default = "default_removable")]
    removable_partitions: Vec<String>,
}

/// Vendors' preload folders install as user apps, which the user can uninstall.
fn default_removable() -> Vec<String> {
    vec!["data".into(), "preload".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchParams {
    #[serde(default = "twelve")]
    months: u32,
}

fn twelve() -> u32 {
    12
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantParams {
    #[serde(default)]
    basic_functions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualParams {
    needs: String,
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
    /// Omitted: the baseline's table (PCB-APP-01 in data/catalogue/phonecert-baseline.toml),
    /// so that the scheme catalogues read identifiers against one table.
    permissions: Option<BTreeMap<String, Vec<String>>>,
}

/// A table the scheme catalogues may omit, taken from the embedded baseline (parsed once per
/// process: every catalogue that omits a table would otherwise parse the baseline again). The
/// baseline itself must carry its tables, which the embedded-catalogue test checks.
fn from_baseline<T>(
    at: u64,
    what: &'static str,
    pick: impl Fn(&Check) -> Option<T>,
) -> Result<T, CatalogueError> {
    static BASELINE: std::sync::OnceLock<Option<super::Catalogue>> = std::sync::OnceLock::new();
    BASELINE
        .get_or_init(|| super::Catalogue::baseline().ok())
        .as_ref()
        .and_then(|b| b.requirements.iter().find_map(|r| pick(&r.decided_by)))
        .ok_or(CatalogueError::Invalid {
            at,
            what,
            detail: String::new(),
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestKeyParams {
    #[serde(default = "yes")]
    include_debug_cert: bool,
}

pub(super) fn yes() -> bool {
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

pub(super) fn build_check(raw: &RawRequirement, at: u64) -> Result<Check, CatalogueError> {
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
        "no_cleartext" => {
            let mut rule: CleartextRule = p(params, at)?;
            // Omitted: the baseline's list (PCB-TRAFFIC-02), one list for every catalogue.
            if !raw.params.contains_key("local_services") {
                rule.local_services = from_baseline(
                    at,
                    "no local_services given, and the baseline has none",
                    |c| match c {
                        Check::NoCleartext(r) => Some(r.local_services.clone()),
                        _ => None,
                    },
                )?;
            }
            Check::NoCleartext(rule)
        }
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
            let permissions = match x.permissions {
                Some(t) => t,
                None => from_baseline(
                    at,
                    "no permission table given, and the baseline has none",
                    |c| match c {
                        Check::IdentifierPermissions { permissions } => Some(permissions.clone()),
                        _ => None,
                    },
                )?,
            };
            Check::IdentifierPermissions { permissions }
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
        "non_removable_basic_only" => {
            let x: RemovableParams = p(params, at)?;
            if x.allowed_functions.is_empty() {
                return Err(bad("allowed_functions must not be empty", raw.id.clone()));
            }
            Check::NonRemovableBasicOnly {
                allowed_functions: x.allowed_functions,
                removable_partitions: x.removable_partitions,
            }
        }
        "no_dangerous_default_grants" => {
            let x: GrantParams = p(params, at)?;
            Check::NoDangerousDefaultGrants {
                basic_functions: x.basic_functions,
            }
        }
        "no_identifier_in_logs" => {
            let x: IdsParams = p(params, at)?;
            Check::NoIdentifierInLogs {
                identifiers: x.identifiers,
            }
        }
        "release_build" => Check::ReleaseBuild,
        "verified_boot" => Check::VerifiedBoot,
        "debug_props_off" => Check::DebugPropsOff,
        "patch_level_max_age" => {
            let x: PatchParams = p(params, at)?;
            if x.months == 0 {
                return Err(bad("months must be at least 1", raw.id.clone()));
            }
            Check::PatchLevelMaxAge { months: x.months }
        }
        "not_automated" => {
            let x: ManualParams = p(params, at)?;
            if x.needs.trim().is_empty() {
                return Err(bad(
                    "not_automated needs `needs`: what evidence would decide it",
                    raw.id.clone(),
                ));
            }
            Check::NotAutomated { needs: x.needs }
        }
        other => {
            return Err(bad(
                "unknown check (see Check::IDS)",
                other.chars().take(100).collect(),
            ));
        }
    })
}
