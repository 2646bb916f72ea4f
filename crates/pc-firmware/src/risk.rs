//! Device risk score compatible with Uraniborg (ioXt / Google, `risk_analyzer.py`), plus what
//! Uraniborg does not measure and this mission needs: apps that can read phone identifiers
//! and send them.
//!
//! The formula and its inputs are documented in `docs/risk-score.md`; weights, permission
//! tiers and baseline package lists are data in `data/risk/uraniborg.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Embedded `data/risk/uraniborg.toml`.
const EMBEDDED: &str = include_str!("../../../data/risk/uraniborg.toml");

/// Errors loading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// Not the expected TOML shape.
    #[error("bad risk configuration at {at}: {what}")]
    Format {
        /// Byte offset when known (0 otherwise).
        at: u64,
        /// What is wrong.
        what: String,
    },
}

/// Damage potential per category.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Weights {
    /// Platform signature (6.0).
    pub platform_signature: f64,
    /// Risky pre-granted permissions (3.0).
    pub risky_permissions: f64,
    /// Cleartext traffic (1.0).
    pub cleartext_traffic: f64,
}

/// Permission tier weights.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct TierWeights {
    /// INSTALL_PACKAGES.
    pub astronomical: f64,
    /// e.g. WRITE_SECURE_SETTINGS.
    pub critical: f64,
    /// e.g. READ_SMS.
    pub high: f64,
    /// e.g. READ_CONTACTS.
    pub medium: f64,
    /// e.g. BLUETOOTH.
    pub low: f64,
}

/// Permission tiers.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Tiers {
    /// Tier lists.
    pub astronomical: Vec<String>,
    /// Tier lists.
    pub critical: Vec<String>,
    /// Tier lists.
    pub high: Vec<String>,
    /// Tier lists.
    pub medium: Vec<String>,
    /// Tier lists.
    pub low: Vec<String>,
}

/// Global whitelist.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Whitelist {
    /// Always excluded packages (`android`, the Hubble observer).
    pub excluded_packages: Vec<String>,
    /// Prefixes for Uraniborg's fuzzy package match.
    pub fuzzy_prefixes: Vec<String>,
    /// 1P app stores: package → signer SHA-256.
    #[serde(default)]
    pub installer_packages: BTreeMap<String, String>,
}

/// A baseline build (AOSP or GSI).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Baseline {
    /// e.g. `S-GSI`.
    pub name: String,
    /// API levels it was measured on.
    pub api_levels: Vec<u32>,
    /// `packagesAll`.
    pub packages_all: Vec<String>,
    /// `platformAppsAll`.
    pub platform_signed: Vec<String>,
}

/// The whole configuration.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct UraniborgConfig {
    /// Data version.
    pub version: String,
    /// Data source.
    pub source: String,
    /// Category weights.
    pub weights: Weights,
    /// Tier weights.
    pub permission_weights: TierWeights,
    /// Tiers.
    pub permission_tiers: Tiers,
    /// Whitelist.
    pub whitelist: Whitelist,
    /// Baselines.
    pub baseline: Vec<Baseline>,
}

impl UraniborgConfig {
    /// The embedded configuration.
    pub fn embedded() -> &'static UraniborgConfig {
        static C: OnceLock<UraniborgConfig> = OnceLock::new();
        // The embedded file is tested to parse; an empty config is never used in practice.
        C.get_or_init(|| {
            UraniborgConfig::from_toml(EMBEDDED).unwrap_or_else(|_| UraniborgConfig {
                version: String::new(),
                source: String::new(),
                weights: Weights {
                    platform_signature: 6.0,
                    risky_permissions: 3.0,
                    cleartext_traffic: 1.0,
                },
                permission_weights: TierWeights {
                    astronomical: 100.0,
                    critical: 10.0,
                    high: 7.5,
                    medium: 5.0,
                    low: 2.5,
                },
                permission_tiers: Tiers {
                    astronomical: vec![],
                    critical: vec![],
                    high: vec![],
                    medium: vec![],
                    low: vec![],
                },
                whitelist: Whitelist {
                    excluded_packages: vec!["android".into()],
                    fuzzy_prefixes: vec![],
                    installer_packages: BTreeMap::new(),
                },
                baseline: vec![],
            })
        })
    }

    /// Parses a configuration.
    pub fn from_toml(text: &str) -> Result<UraniborgConfig, RiskError> {
        toml::from_str(text).map_err(|e| RiskError::Format {
            at: e.span().map_or(0, |s| s.start as u64),
            what: e.message().to_string(),
        })
    }

    /// Uraniborg's `map_permission_to_score` (0 for untiered permissions).
    pub fn permission_score(&self, perm: &str) -> f64 {
        let t = &self.permission_tiers;
        let w = &self.permission_weights;
        let has = |l: &[String]| l.iter().any(|p| p == perm);
        // Python walks dir(Permissions): ASTRONOMICAL, CRITICAL, HIGH, LOW, MEDIUM.
        if has(&t.astronomical) {
            w.astronomical
        } else if has(&t.critical) {
            w.critical
        } else if has(&t.high) {
            w.high
        } else if has(&t.low) {
            w.low
        } else if has(&t.medium) {
            w.medium
        } else {
            0.0
        }
    }

    /// Uraniborg's `_compute_fair_permission_score`: permissions containing `LOCATION` count
    /// once at their maximum, likewise `SMS`; the rest add up.
    pub fn fair_permission_score<'a>(&self, perms: impl Iterator<Item = &'a str>) -> f64 {
        let (mut generic, mut location, mut sms) = (0.0f64, 0.0f64, 0.0f64);
        for p in perms {
            let s = self.permission_score(p);
            if p.contains("LOCATION") {
                location = location.max(s);
            } else if p.contains("SMS") {
                sms = sms.max(s);
            } else {
                generic += s;
            }
        }
        generic + location + sms
    }

    /// The baseline for an API level: the one measured on it (exact), else the nearest
    /// carried one (inexact). Returns (baseline, exact).
    pub fn baseline_for(&self, api_level: Option<u32>) -> Option<(&Baseline, bool)> {
        let api = api_level.unwrap_or(u32::MAX);
        if let Some(b) = self.baseline.iter().find(|b| b.api_levels.contains(&api)) {
            return Some((b, true));
        }
        self.baseline
            .iter()
            .min_by_key(|b| {
                b.api_levels
                    .iter()
                    .map(|&l| l.abs_diff(api))
                    .min()
                    .unwrap_or(u32::MAX)
            })
            .map(|b| (b, false))
    }

    /// Uraniborg's `package_name_fuzzy_match` against a list.
    pub fn fuzzy_match<'a>(&self, package: &str, list: &'a [String]) -> Option<&'a str> {
        if let Some(p) = list.iter().find(|p| *p == package) {
            return Some(p);
        }
        for w in list {
            for prefix in &self.whitelist.fuzzy_prefixes {
                if let Some(rest) = w.strip_prefix(prefix.as_str())
                    && package.ends_with(&format!(".{rest}"))
                {
                    return Some(w);
                }
            }
        }
        None
    }
}

/// What the risk score needs to know about one app.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RiskApp {
    /// Package name.
    pub package: String,
    /// Has code (`android:hasCode`, and some DEX or odex present).
    pub has_code: bool,
    /// Signed with the platform certificate.
    pub platform_signed: bool,
    /// SHA-256 of the first signer certificate.
    pub signer_sha256: Option<String>,
    /// Permissions granted at first boot (see `docs/risk-score.md` for the emulation).
    pub granted_permissions: BTreeSet<String>,
    /// `ApplicationInfo.FLAG_USES_CLEARTEXT_TRAFFIC` (manifest attribute, default by target
    /// SDK), which is what Uraniborg's Hubble records.
    pub uses_cleartext_traffic: bool,
}

/// One category of the score.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CategoryScore {
    /// |A_t \ A_b| (raw score with baseline normalisation).
    pub numerator: f64,
    /// |A_t| (raw score without normalisation).
    pub denominator: f64,
    /// numerator / denominator (0 when the denominator is 0).
    pub likelihood: f64,
    /// Damage potential (PHI).
    pub weight: f64,
    /// likelihood × weight.
    pub score: f64,
    /// Packages that contributed to the numerator.
    pub apps: Vec<String>,
}

/// The Uraniborg-compatible device score.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UraniborgScore {
    /// Firmware API level used to pick the baseline.
    pub api_level: Option<u32>,
    /// Baseline used.
    pub baseline: String,
    /// Whether the baseline was measured on that API level (else: nearest available).
    pub baseline_exact: bool,
    /// Whether GMS packages with Google's signer were discounted.
    pub google_discount: bool,
    /// Platform signature category.
    pub platform_signature: CategoryScore,
    /// Risky pre-granted permissions category.
    pub risky_permissions: CategoryScore,
    /// Cleartext traffic category.
    pub cleartext_traffic: CategoryScore,
    /// Sum of the three (0..=max).
    pub total: f64,
    /// Maximum score (sum of weights, 10).
    pub max: f64,
    /// Configuration version.
    pub config_version: String,
}

/// Google Mobile Services packages and their signer (Uraniborg `GMS.PACKAGES`).
const GMS: &[(&str, &str)] = &[
    ("com.google.android.gms", GOOGLE_A),
    ("com.google.android.apps.docs", GOOGLE_A),
    ("com.google.android.youtube", GOOGLE_B),
    ("com.android.vending", GOOGLE_A),
    ("com.android.chrome", GOOGLE_A),
    ("com.google.android.apps.photos", GOOGLE_B),
    ("com.google.android.apps.maps", GOOGLE_A),
    ("com.google.android.gm", GOOGLE_A),
    ("com.google.android.gsf", GOOGLE_A),
    ("com.google.android.googlequicksearchbox", GOOGLE_A),
    ("com.google.android.setupwizard", GOOGLE_A),
    ("com.google.android.calendar", GOOGLE_A),
    ("com.google.android.videos", GOOGLE_B),
];
const GOOGLE_A: &str = "f0fd6c5b410f25cb25c3b53346c8972fae30f8ee7411df910480ad6b2d60db83";
const GOOGLE_B: &str = "3d7a1223019aa39d9ea0e3436ab7c0896bfb4fb679f4de5fe7c23f326c8f994a";

fn is_gms(app: &RiskApp) -> bool {
    GMS.iter().any(|(p, c)| {
        *p == app.package
            && app.signer_sha256.as_deref().map(str::to_ascii_lowercase) == Some(c.to_string())
    })
}

fn cambridge(num: f64, den: f64, weight: f64, apps: Vec<String>) -> CategoryScore {
    let likelihood = if den != 0.0 { num / den } else { 0.0 };
    CategoryScore {
        numerator: num,
        denominator: den,
        likelihood,
        weight,
        score: likelihood * weight,
        apps,
    }
}

/// Computes the Uraniborg score of a device. `google_discount` skips genuine GMS packages in
/// the permission and cleartext categories (Uraniborg's "without GMS" score).
pub fn uraniborg_score(
    apps: &[RiskApp],
    api_level: Option<u32>,
    cfg: &UraniborgConfig,
    google_discount: bool,
) -> UraniborgScore {
    let (baseline, exact) = match cfg.baseline_for(api_level) {
        Some((b, e)) => (Some(b), e),
        None => (None, false),
    };
    let empty: Vec<String> = Vec::new();
    let b_platform = baseline.map_or(&empty, |b| &b.platform_signed);
    let b_all = baseline.map_or(&empty, |b| &b.packages_all);
    let excluded = |p: &str| cfg.whitelist.excluded_packages.iter().any(|x| x == p);

    // Platform signature: count platform-signed apps with code.
    let platform = |normalize: bool| {
        let mut n = 0.0;
        let mut list = Vec::new();
        for a in apps {
            if excluded(&a.package) {
                continue;
            }
            if normalize && cfg.fuzzy_match(&a.package, b_platform).is_some() {
                continue;
            }
            if a.platform_signed && a.has_code {
                n += 1.0;
                list.push(a.package.clone());
            }
        }
        (n, list)
    };
    let (pn, papps) = platform(true);
    let (pd, _) = platform(false);
    // Uraniborg skips every platform-signed (non-excluded) app in the permission metric.
    let platform_apps: BTreeSet<&str> = apps
        .iter()
        .filter(|a| a.platform_signed && !excluded(&a.package))
        .map(|a| a.package.as_str())
        .collect();

    let permissions = |normalize: bool| {
        let mut total = 0.0;
        let mut list = Vec::new();
        for a in apps {
            if platform_apps.contains(a.package.as_str()) || excluded(&a.package) {
                continue;
            }
            if let Some(cert) = cfg.whitelist.installer_packages.get(&a.package)
                && a.signer_sha256.as_deref().map(str::to_ascii_lowercase)
                    == Some(cert.to_ascii_lowercase())
            {
                continue;
            }
            if normalize && cfg.fuzzy_match(&a.package, b_all).is_some() {
                continue;
            }
            if !a.has_code || (google_discount && is_gms(a)) {
                continue;
            }
            let s = cfg.fair_permission_score(a.granted_permissions.iter().map(String::as_str));
            if s != 0.0 {
                list.push(a.package.clone());
            }
            total += s;
        }
        (total, list)
    };
    let (rn, rapps) = permissions(true);
    let (rd, _) = permissions(false);

    let cleartext = |normalize: bool| {
        let mut total = 0.0;
        let mut list = Vec::new();
        for a in apps {
            if normalize && cfg.fuzzy_match(&a.package, b_all).is_some() {
                continue;
            }
            if (google_discount && is_gms(a)) || !a.has_code {
                continue;
            }
            if a.uses_cleartext_traffic && a.granted_permissions.contains(crate::perms::INTERNET) {
                total += 1.0;
                list.push(a.package.clone());
            }
        }
        (total, list)
    };
    let (cn, capps) = cleartext(true);
    let (cd, _) = cleartext(false);

    let w = &cfg.weights;
    let platform_signature = cambridge(pn, pd, w.platform_signature, papps);
    let risky_permissions = cambridge(rn, rd, w.risky_permissions, rapps);
    let cleartext_traffic = cambridge(cn, cd, w.cleartext_traffic, capps);
    UraniborgScore {
        api_level,
        baseline: baseline.map(|b| b.name.clone()).unwrap_or_default(),
        baseline_exact: exact,
        google_discount,
        total: platform_signature.score + risky_permissions.score + cleartext_traffic.score,
        max: w.platform_signature + w.risky_permissions + w.cleartext_traffic,
        platform_signature,
        risky_permissions,
        cleartext_traffic,
        config_version: cfg.version.clone(),
    }
}

/// An app that can read phone identifiers and reach the network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentifierReader {
    /// Package.
    pub package: String,
    /// Path of the app in the firmware.
    pub path: String,
    /// Phone-identifier permissions requested.
    pub requested: Vec<String>,
    /// Phone-identifier permissions pre-granted (privapp allowlist, default grants, platform
    /// signature).
    pub pre_granted: Vec<String>,
    /// Identifier-reading call sites found in its code (sum of counts).
    pub call_sites: u32,
    /// The identifier APIs called.
    pub apis: Vec<String>,
    /// Platform-signed.
    pub platform_signed: bool,
    /// In a `priv-app` folder.
    pub privileged: bool,
}

/// What Uraniborg misses: identifier readers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IdentifierRisk {
    /// Apps with a phone-identifier permission (requested or pre-granted), INTERNET, and at
    /// least one identifier-reading call site: the apps this mission must examine first.
    pub readers: Vec<IdentifierReader>,
    /// Apps with the permission and INTERNET but no call site found (no code analysed, or
    /// reflection / native code): capable, not shown to read.
    pub capable: Vec<IdentifierReader>,
}

/// The device risk report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RiskReport {
    /// Uraniborg-compatible score.
    pub uraniborg: UraniborgScore,
    /// Beyond Uraniborg: identifier readers.
    pub identifiers: IdentifierRisk,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(p: &str, platform: bool, perms: &[&str], clear: bool) -> RiskApp {
        RiskApp {
            package: p.into(),
            has_code: true,
            platform_signed: platform,
            signer_sha256: Some(if platform { "aa" } else { "bb" }.into()),
            granted_permissions: perms.iter().map(|s| s.to_string()).collect(),
            uses_cleartext_traffic: clear,
        }
    }

    #[test]
    fn embedded_config_parses() {
        let c = UraniborgConfig::from_toml(EMBEDDED).unwrap();
        assert_eq!(c.weights.platform_signature, 6.0);
        assert_eq!(c.baseline.len(), 2);
        assert_eq!(
            c.permission_score("android.permission.INSTALL_PACKAGES"),
            100.0
        );
        assert_eq!(c.permission_score("android.permission.BLUETOOTH"), 2.5);
        assert_eq!(c.permission_score("android.permission.READ_CONTACTS"), 5.0);
        assert_eq!(c.permission_score("android.permission.INTERNET"), 0.0);
        assert!(UraniborgConfig::from_toml("version = 1").is_err());
    }

    #[test]
    fn fuzzy_and_fair() {
        let c = UraniborgConfig::embedded();
        let l = vec![
            "com.android.phone".to_string(),
            "android.ext.services".to_string(),
        ];
        assert_eq!(
            c.fuzzy_match("com.oem.phone", &l),
            Some("com.android.phone")
        );
        assert_eq!(
            c.fuzzy_match("com.oem.ext.services", &l),
            Some("android.ext.services")
        );
        assert_eq!(c.fuzzy_match("com.oem.telephone", &l), None);
        // FINE 7.5 and COARSE 5 → 7.5; RECEIVE_SMS 7.5, SEND_SMS_NO_CONFIRMATION 7.5 → 7.5;
        // CAMERA 10 + BLUETOOTH 2.5 → 12.5; total 27.5.
        let s = c.fair_permission_score(
            [
                "android.permission.ACCESS_FINE_LOCATION",
                "android.permission.ACCESS_COARSE_LOCATION",
                "android.permission.RECEIVE_SMS",
                "android.permission.SEND_SMS_NO_CONFIRMATION",
                "android.permission.CAMERA",
                "android.permission.BLUETOOTH",
            ]
            .into_iter(),
        );
        assert_eq!(s, 27.5);
    }

    #[test]
    fn score_by_hand() {
        let c = UraniborgConfig::embedded();
        let internet = "android.permission.INTERNET";
        let apps = vec![
            // Excluded from everything but cleartext (and it has no code there).
            RiskApp {
                has_code: false,
                ..app("android", true, &[], false)
            },
            // Platform-signed, in the S baseline: counts in the denominator only.
            app("com.android.settings", true, &[], false),
            // Platform-signed, fuzzy-matches com.android.phone: denominator only.
            app("com.oem.phone", true, &[], false),
            // Platform-signed, new: numerator and denominator.
            app(
                "com.oem.spy",
                true,
                &["android.permission.INSTALL_PACKAGES"],
                true,
            ),
            // Platform-signed, no code: counted nowhere.
            RiskApp {
                has_code: false,
                ..app("com.oem.overlay", true, &[], false)
            },
            // Not platform-signed, new: perms 10 (CAMERA) + 7.5 (FINE) = 17.5; cleartext with
            // INTERNET.
            app(
                "com.oem.camera",
                false,
                &[
                    "android.permission.CAMERA",
                    "android.permission.ACCESS_FINE_LOCATION",
                    "android.permission.ACCESS_COARSE_LOCATION",
                    internet,
                ],
                true,
            ),
            // In baseline (exact name): denominator only: READ_CONTACTS 5; cleartext.
            app(
                "com.android.contacts",
                false,
                &["android.permission.READ_CONTACTS", internet],
                true,
            ),
            // Cleartext without INTERNET: not counted.
            app("com.oem.offline", false, &[], true),
        ];
        let s = uraniborg_score(&apps, Some(31), c, false);
        assert_eq!(s.baseline, "S-GSI");
        assert!(s.baseline_exact);
        // Platform: numerator {spy} = 1; denominator {settings, phone, spy} = 3 → 6 × 1/3 = 2.
        assert_eq!(s.platform_signature.numerator, 1.0);
        assert_eq!(s.platform_signature.denominator, 3.0);
        assert!((s.platform_signature.score - 2.0).abs() < 1e-12);
        assert_eq!(s.platform_signature.apps, vec!["com.oem.spy"]);
        // Permissions: numerator 17.5; denominator 17.5 + 5 = 22.5 → 3 × 17.5/22.5 = 2.3333…
        assert_eq!(s.risky_permissions.numerator, 17.5);
        assert_eq!(s.risky_permissions.denominator, 22.5);
        assert!((s.risky_permissions.score - 3.0 * 17.5 / 22.5).abs() < 1e-12);
        // Cleartext: spy has no INTERNET grant → not counted; numerator {camera} = 1;
        // denominator {camera, contacts} = 2 → 0.5.
        assert_eq!(s.cleartext_traffic.numerator, 1.0);
        assert_eq!(s.cleartext_traffic.denominator, 2.0);
        assert!((s.cleartext_traffic.score - 0.5).abs() < 1e-12);
        assert!((s.total - (2.0 + 3.0 * 17.5 / 22.5 + 0.5)).abs() < 1e-12);
        assert_eq!(s.max, 10.0);
        // No apps: all zero, no division by zero.
        let z = uraniborg_score(&[], None, c, true);
        assert_eq!(z.total, 0.0);
        assert!(!z.baseline_exact);
        // Unknown API level picks the nearest baseline, flagged inexact.
        assert_eq!(
            uraniborg_score(&apps, Some(29), c, false).baseline,
            "P-AOSP"
        );
        assert!(!uraniborg_score(&apps, Some(34), c, false).baseline_exact);
    }
}
