//! The firmware-wide analysis: walking a tree, analysing every app in parallel (see
//! [`crate::facts`] for one app and its memory bounds), then the facts that need all apps at
//! once: declared permissions, default and privileged grants, the identifier-risk report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rayon::prelude::*;

use crate::facts::{AppFacts, CodeAnalyzer, Context, Limits, SignatureVerifier, analyze_app_in};
use crate::perms::{self, Base, PermissionTable};
use crate::risk::{self, IdentifierReader, IdentifierRisk, RiskApp, RiskReport, UraniborgConfig};
use crate::trackers::TrackerDb;
use crate::tree::{self, FirmwareTree, PermissionConfig};

/// Progress of [`analyze_firmware`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmwareProgress {
    /// The tree was walked.
    Scanned {
        /// Apps found.
        apps: usize,
    },
    /// One app was analysed.
    AppDone {
        /// Its path.
        path: String,
        /// Apps done so far.
        done: usize,
        /// Apps in total.
        total: usize,
    },
}

/// Options of [`analyze_firmware_with`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Walk limits.
    pub tree: tree::Limits,
    /// App limits.
    pub apps: Limits,
    /// Skip genuine GMS apps in the Uraniborg score (its "without GMS" score).
    pub google_discount: bool,
}

/// The firmware analysis.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FirmwareReport {
    /// API level from build.prop.
    pub api_level: Option<u32>,
    /// Manufacturer from build.prop.
    pub manufacturer: Option<String>,
    /// SHA-256 of the platform certificate (framework-res.apk's signer).
    pub platform_certificate: Option<String>,
    /// Apps, sorted by path.
    pub apps: Vec<AppFacts>,
    /// Permission configuration read from the image.
    pub permission_config: PermissionConfig,
    /// Device risk.
    pub risk: RiskReport,
    /// Apps that can read phone identifiers, have INTERNET and identifier call sites (same as
    /// `risk.identifiers.readers`).
    pub identifier_readers: Vec<IdentifierReader>,
    /// The build's own security facts (build.prop, verified boot).
    pub build: crate::buildinfo::BuildFacts,
    /// Inputs as given (images and packages; a folder when the firmware came extracted).
    pub inputs: Vec<pc_image::open::InputInfo>,
    /// Partitions found in the inputs.
    pub partitions: Vec<pc_image::open::PartitionInfo>,
    /// Problems met (walk errors, per-app errors are in each app's `error`).
    pub errors: Vec<String>,
}

/// Analyses a firmware folder with default options and the embedded tracker DB.
pub fn analyze_firmware(
    root: &Path,
    code: &dyn CodeAnalyzer,
    sig: &dyn SignatureVerifier,
    progress: &(dyn Fn(FirmwareProgress) + Sync),
) -> FirmwareReport {
    analyze_firmware_with(
        root,
        &Options::default(),
        TrackerDb::embedded(),
        code,
        sig,
        progress,
    )
}

/// Analyses a firmware folder: walks it, analyses every app in parallel (one bad app never
/// stops the scan), determines platform signing, emulates first-boot grants and scores risk.
pub fn analyze_firmware_with(
    root: &Path,
    opts: &Options,
    db: &TrackerDb,
    code: &dyn CodeAnalyzer,
    sig: &dyn SignatureVerifier,
    progress: &(dyn Fn(FirmwareProgress) + Sync),
) -> FirmwareReport {
    // One tree for the walk and the reads: node ids belong to the tree that gave them.
    let dir = match pc_image::dir::DirTree::open(root) {
        Ok(d) => d,
        Err(e) => {
            let mut report = FirmwareReport::default();
            report.errors.push(
                tree::TreeError::Root {
                    path: root.display().to_string(),
                    at: 0,
                    what: e.what,
                }
                .to_string(),
            );
            return report;
        }
    };
    analyze_tree(&dir, opts, db, code, sig, progress)
}

/// Analyses firmware given as a [`pc_image::Tree`] (the partitions of firmware images, or a
/// folder): the same analysis as [`analyze_firmware_with`], reading files through the tree.
pub fn analyze_tree(
    source: &dyn pc_image::Tree,
    opts: &Options,
    db: &TrackerDb,
    code: &dyn CodeAnalyzer,
    sig: &dyn SignatureVerifier,
    progress: &(dyn Fn(FirmwareProgress) + Sync),
) -> FirmwareReport {
    let t = tree::scan_tree(source, &opts.tree);
    analyze_walked(source, t, opts, db, code, sig, progress)
}

fn analyze_walked(
    source: &dyn pc_image::Tree,
    t: FirmwareTree,
    opts: &Options,
    db: &TrackerDb,
    code: &dyn CodeAnalyzer,
    sig: &dyn SignatureVerifier,
    progress: &(dyn Fn(FirmwareProgress) + Sync),
) -> FirmwareReport {
    let mut report = FirmwareReport {
        build: crate::buildinfo::from_props(&t.prop_files),
        ..FirmwareReport::default()
    };
    report.errors.extend(t.errors.iter().map(|e| e.to_string()));
    report.api_level = t.api_level();
    report.manufacturer = t.manufacturer().map(String::from);
    progress(FirmwareProgress::Scanned { apps: t.apps.len() });
    let ctx = Context {
        code,
        sig,
        trackers: db,
        limits: opts.apps.clone(),
    };
    let total = t.apps.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut apps: Vec<AppFacts> = t
        .apps
        .par_iter()
        .map(|loc| {
            // A panic in a plugged-in analyzer must not stop the scan either.
            let f = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                analyze_app_in(source, &t.nodes, loc, &ctx)
            }))
            .unwrap_or_else(|_| AppFacts {
                path: loc.path.clone(),
                partition: loc.partition.clone(),
                privileged: loc.privileged,
                error: Some("analysis panicked".to_string()),
                ..AppFacts::default()
            });
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(FirmwareProgress::AppDone {
                path: loc.path.clone(),
                done: n,
                total,
            });
            f
        })
        .collect();
    apps.sort_by(|a, b| a.path.cmp(&b.path));

    // Platform certificate: the signer of package `android` (framework-res.apk).
    let platform: Option<Vec<String>> = apps
        .iter()
        .filter(|a| a.package == "android" && a.error.is_none())
        .find_map(|a| {
            a.signing
                .as_ref()
                .filter(|s| !s.certificates.is_empty())
                .map(|s| s.certificates.clone())
        });
    match &platform {
        Some(c) => report.platform_certificate = c.first().cloned(),
        None => report
            .errors
            .push("no signed framework-res.apk (package android): platform signing unknown".into()),
    }
    for a in &mut apps {
        if let (Some(s), Some(p)) = (a.signing.as_mut(), platform.as_ref()) {
            s.platform_signed = !s.certificates.is_empty() && s.certificates.first() == p.first();
        }
    }
    let declared = declared_permissions(&apps);
    for a in &mut apps {
        fill_grants(a, &t.permissions, &declared, t.api_level());
    }

    let risk_apps: Vec<RiskApp> = apps
        .iter()
        .filter(|a| a.error.is_none() && !a.package.is_empty())
        .map(|a| RiskApp {
            package: a.package.clone(),
            has_code: a.has_code && (!a.dex_files.is_empty() || a.odex_only),
            platform_signed: a.signing.as_ref().is_some_and(|s| s.platform_signed),
            signer_sha256: a
                .signing
                .as_ref()
                .and_then(|s| s.certificates.first().cloned()),
            granted_permissions: a.granted_at_boot.iter().cloned().collect(),
            uses_cleartext_traffic: a.cleartext_flag,
        })
        .collect();
    let uraniborg = risk::uraniborg_score(
        &risk_apps,
        report.api_level,
        UraniborgConfig::embedded(),
        opts.google_discount,
    );
    let identifiers = identifier_risk(&apps);
    report.identifier_readers = identifiers.readers.clone();
    report.risk = RiskReport {
        uraniborg,
        identifiers,
    };
    report.apps = apps;
    report.permission_config = t.permissions;
    report
}

/// Permission name → (protection level, declaring package's first signer) for permissions
/// declared by apps of the firmware (the platform's own come from the AOSP table).
fn declared_permissions(apps: &[AppFacts]) -> BTreeMap<String, (String, Option<String>)> {
    let mut m = BTreeMap::new();
    for a in apps.iter().filter(|a| a.error.is_none()) {
        for d in &a.declared_permissions {
            m.entry(d.name.clone()).or_insert((
                d.protection_level
                    .clone()
                    .unwrap_or_else(|| "normal".into()),
                a.signing
                    .as_ref()
                    .and_then(|s| s.certificates.first().cloned()),
            ));
        }
    }
    m
}

/// Fills privileged/default grants and emulates the permissions granted at first boot:
/// normal → granted; dangerous → only when default-granted; signature → when signed like the
/// declaring package (platform for AOSP permissions); privileged → also for priv-apps on the
/// allowlist and not denied; `preinstalled` flag → granted to every preinstalled app;
/// unknown permissions → not granted; `maxSdkVersion` below the firmware API level → not
/// requested.
fn fill_grants(
    a: &mut AppFacts,
    cfg: &PermissionConfig,
    declared: &BTreeMap<String, (String, Option<String>)>,
    api_level: Option<u32>,
) {
    if a.package.is_empty() {
        return;
    }
    let allow = cfg.privapp.get(&a.package);
    if let Some(e) = allow {
        a.privileged_granted = e.granted.difference(&e.denied).cloned().collect();
        a.privileged_denied = e.denied.iter().cloned().collect();
        if !a.privileged {
            a.anomalies
                .push("privapp-permissions allowlist for an app outside priv-app".into());
        }
    }
    let defaults = cfg.default_grants.get(&a.package);
    if let Some(d) = defaults {
        a.default_granted = d.iter().map(|(k, v)| (k.clone(), v.fixed)).collect();
    }
    let signer = a
        .signing
        .as_ref()
        .and_then(|s| s.certificates.first().cloned());
    let platform_signed = a.signing.as_ref().is_some_and(|s| s.platform_signed);
    let table = PermissionTable::embedded();
    let capped: BTreeMap<&str, u32> = a
        .permission_max_sdk
        .iter()
        .map(|(p, m)| (p.as_str(), *m))
        .collect();
    let mut granted = BTreeSet::new();
    for p in &a.permissions {
        if let (Some(max), Some(api)) = (capped.get(p.as_str()), api_level)
            && *max < api
        {
            continue;
        }
        let (prot, signed_like_owner) = match table.protection(p) {
            Some(prot) => (prot, platform_signed),
            None => match declared.get(p) {
                Some((lvl, owner)) => (
                    perms::Protection::parse(lvl),
                    signer.is_some() && owner.as_ref() == signer.as_ref(),
                ),
                None => continue,
            },
        };
        let in_allowlist = allow.is_some_and(|e| e.granted.contains(p) && !e.denied.contains(p));
        let by_privilege = prot.privileged() && a.privileged && in_allowlist;
        let ok = match prot.base {
            Base::Normal => true,
            Base::Dangerous => defaults.is_some_and(|d| d.contains_key(p)),
            Base::Signature | Base::SignatureOrSystem => {
                signed_like_owner || by_privilege || prot.has("preinstalled")
            }
            // Internal permissions are granted only through their flags.
            Base::Internal | Base::Unknown => by_privilege || prot.has("preinstalled"),
        };
        if ok {
            granted.insert(p.clone());
        }
    }
    a.granted_at_boot = granted.into_iter().collect();
}

fn identifier_risk(apps: &[AppFacts]) -> IdentifierRisk {
    let mut r = IdentifierRisk::default();
    for a in apps.iter().filter(|a| a.error.is_none()) {
        let requested: Vec<String> = a
            .permissions
            .iter()
            .filter(|p| perms::is_phone_identifier_permission(p))
            .cloned()
            .collect();
        let mut pre: BTreeSet<String> = a
            .privileged_granted
            .iter()
            .chain(a.default_granted.iter().map(|(p, _)| p))
            .chain(a.granted_at_boot.iter())
            .filter(|p| perms::is_phone_identifier_permission(p) && a.permissions.contains(p))
            .cloned()
            .collect();
        pre.retain(|p| !a.privileged_denied.contains(p));
        if requested.is_empty() || !a.permissions.iter().any(|p| p == perms::INTERNET) {
            continue;
        }
        let call_sites = a
            .identifier_calls
            .iter()
            .fold(0u32, |s, c| s.saturating_add(c.count));
        let apis: BTreeSet<String> = a.identifier_calls.iter().map(|c| c.api.clone()).collect();
        let entry = IdentifierReader {
            package: a.package.clone(),
            path: a.path.clone(),
            requested,
            pre_granted: pre.into_iter().collect(),
            call_sites,
            apis: apis.into_iter().collect(),
            platform_signed: a.signing.as_ref().is_some_and(|s| s.platform_signed),
            privileged: a.privileged,
        };
        if call_sites > 0 {
            r.readers.push(entry);
        } else {
            r.capable.push(entry);
        }
    }
    r
}
