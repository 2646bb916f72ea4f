//! Per-app facts: one APK, bundle or split set analysed on its own (the firmware-wide pass over a
//! tree is in [`crate::firmware`]).
//!
//! DEX analysis and signature verification live in other crates (pc-dex, pc-apksig); they are
//! plugged in through [`CodeAnalyzer`] and [`SignatureVerifier`].
//!
//! # Memory per app
//!
//! What one app's analysis holds at once is bounded, whatever its archives claim:
//!
//! * the APK file itself (at most [`Limits::max_apk_size`]; for a bundle, the bundle and the
//!   APKs taken from it);
//! * **one** inflated entry at a time: each `classes*.dex` is inflated, handed to the
//!   [`CodeAnalyzer`] and dropped before the next; native libraries and `resources.arsc` are
//!   then inflated, scanned for endpoints and dropped one by one. Each entry is capped
//!   ([`Limits::max_dex_size`], [`Limits::max_native_size`], [`Limits::max_resources_size`]),
//!   and the entry's declared size is checked *before* anything is allocated (the zip reader
//!   refuses a stream that inflates past what it declares);
//! * a **total decompressed budget** per app ([`Limits::max_inflated_total`], 1 GiB by
//!   default) over everything inflated from its archives (bundle APKs, DEX files, native
//!   libraries, `resources.arsc`): an entry that does not fit in what is left is not inflated
//!   and becomes an anomaly naming the file, its offset, its size and the budget; the entries
//!   read before it are analysed as usual, and the other apps are not affected;
//! * overlapping zip entries (the overlapping-entry zip bomb) are anomalies and are never
//!   inflated (see `pc_apk::zip`), so no byte of an archive is inflated twice;
//! * the facts kept from the code: the [`DexCode`](crate::DexCode) analyzer keeps at most
//!   [`crate::adapters::MAX_CODE_TEXT`] bytes of class names and strings per app and says when
//!   it stopped.
//!
//! With the defaults an app's analysis peaks at roughly the APK's size plus its largest
//! inflated entry (≤ 256 MiB) plus its facts; apps run in parallel (one per rayon thread).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use pc_apk::manifest::{self, Component, DeclaredPermission};
use pc_apk::zip::{Archive, Entry};

use crate::endpoints::{Endpoint, EndpointExtractor, EndpointSet};
use crate::trackers::{TrackerDb, TrackerHit};
use crate::tree::{AppKind, AppLocation};

/// Bounds applied while analysing apps.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest APK or bundle file read.
    pub max_apk_size: u64,
    /// Largest DEX file read from an APK.
    pub max_dex_size: u64,
    /// Most bytes inflated from one app's archives in all (bundle APKs, DEX files, native
    /// libraries, `resources.arsc`); see the module docs.
    pub max_inflated_total: u64,
    /// Most DEX files per app.
    pub max_dex_files: usize,
    /// Largest native library scanned.
    pub max_native_size: u64,
    /// Most native libraries scanned per app.
    pub max_native_libs: usize,
    /// Largest `resources.arsc` scanned for endpoints.
    pub max_resources_size: u64,
    /// Most APKs taken from one bundle.
    pub max_bundle_apks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_apk_size: 2 << 30,
            max_dex_size: 256 << 20,
            max_inflated_total: 1 << 30,
            max_dex_files: 256,
            max_native_size: 256 << 20,
            max_native_libs: 256,
            max_resources_size: 256 << 20,
            max_bundle_apks: 256,
        }
    }
}

/// An identifier-reading call site (from the code analyzer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct IdentifierCall {
    /// The API called, e.g. `Landroid/telephony/TelephonyManager;->getImei`.
    pub api: String,
    /// The calling method, e.g. `Lcom/oem/Tracker;->collect`.
    pub caller: String,
    /// Identifiers the API returns (`imei`, `imsi`, `iccid`, `phone_number`, ...).
    pub identifiers: Vec<String>,
    /// Number of call sites.
    pub count: u32,
    /// Called by name through reflection (`const-string "getDeviceId"` and `Method.invoke` in
    /// the caller), not through a method reference. Absent from JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub indirect: bool,
}

/// What the code analyzer found in an app's DEX files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeFacts {
    /// Class names (descriptors, slash or dot form). For Exodus parity include every class
    /// defined, and the types dexdump prints for them (superclass, interfaces, field and
    /// method types).
    pub class_names: Vec<String>,
    /// String constants.
    pub strings: Vec<String>,
    /// Identifier-reading call sites.
    pub identifier_calls: Vec<IdentifierCall>,
    /// What the analyzer left out (a DEX that does not parse, a limit reached): reported as
    /// the app's anomalies.
    pub notes: Vec<String>,
    /// Bytes of class names and strings kept so far, for the analyzer's own bound (see
    /// [`crate::adapters::MAX_CODE_TEXT`]).
    pub text_bytes: u64,
}

/// DEX analysis seam (implemented with pc-dex).
///
/// The app's DEX files are given one at a time, in load order, so that only one is ever held
/// (see the module docs): [`CodeAnalyzer::add_dex`] for each, then [`CodeAnalyzer::finish`].
pub trait CodeAnalyzer: Sync {
    /// Adds what DEX file `name` (e.g. `classes2.dex`, `split.apk!classes.dex`) holds to
    /// `facts`. The bytes are dropped when it returns.
    fn add_dex(&self, name: &str, dex: &[u8], facts: &mut CodeFacts);

    /// Called once after the app's last DEX file (to merge what the files gave).
    fn finish(&self, _facts: &mut CodeFacts) {}
}

/// A code analyzer that finds nothing (when no DEX support is wanted).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCode;

impl CodeAnalyzer for NoCode {
    fn add_dex(&self, _: &str, _: &[u8], _: &mut CodeFacts) {}
}

/// Signing facts of one APK.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SigningSummary {
    /// Android would accept the signature.
    pub verified: bool,
    /// `(scheme, verified)`, e.g. `("v2", true)`.
    pub schemes: Vec<(String, bool)>,
    /// SHA-256 (lower-case hex) of the signer certificates, first signer first.
    pub certificates: Vec<String>,
    /// Same signer as the firmware's `framework-res.apk` (package `android`); filled by
    /// [`analyze_firmware`].
    pub platform_signed: bool,
    /// Name of the public AOSP test key it is signed with, if any.
    pub test_key: Option<String>,
    /// Signed with an Android debug certificate (`CN=Android Debug`).
    pub debug_cert: bool,
}

/// Signature verification seam (implemented with pc-apksig).
pub trait SignatureVerifier: Sync {
    /// Verifies `apk` as Android would for `min_sdk`.
    fn verify(&self, apk: &[u8], archive: &Archive<'_>, min_sdk: Option<u32>) -> SigningSummary;
}

/// A verifier that verifies nothing (reports unsigned).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSignatures;

impl SignatureVerifier for NoSignatures {
    fn verify(&self, _: &[u8], _: &Archive<'_>, _: Option<u32>) -> SigningSummary {
        SigningSummary::default()
    }
}

/// Everything known about one app.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AppFacts {
    /// Path relative to the firmware root (base APK or bundle).
    pub path: String,
    /// Split APKs (relative paths, or `bundle!entry`).
    pub splits: Vec<String>,
    /// Partition.
    pub partition: String,
    /// Under `priv-app`.
    pub privileged: bool,
    /// Package name.
    pub package: String,
    /// versionCode.
    pub version_code: Option<u64>,
    /// versionName.
    pub version_name: Option<String>,
    /// minSdkVersion.
    pub min_sdk: Option<u32>,
    /// targetSdkVersion.
    pub target_sdk: Option<u32>,
    /// sharedUserId.
    pub shared_user_id: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Requested permissions.
    pub permissions: Vec<String>,
    /// Requested permissions limited by `maxSdkVersion` on every request: `(name, max)`.
    pub permission_max_sdk: Vec<(String, u32)>,
    /// Privileged permissions allowlisted for it (granted minus denied) by
    /// `etc/permissions/*.xml`.
    pub privileged_granted: Vec<String>,
    /// Privileged permissions explicitly denied.
    pub privileged_denied: Vec<String>,
    /// Runtime permissions granted by `etc/default-permissions/*.xml` (`(name, fixed)`).
    pub default_granted: Vec<(String, bool)>,
    /// Permissions granted at first boot (emulated, see `docs/risk-score.md`).
    pub granted_at_boot: Vec<String>,
    /// Permissions the app declares.
    pub declared_permissions: Vec<DeclaredPermission>,
    /// Exported components.
    pub components: Vec<Component>,
    /// Has an activity the launcher shows (action MAIN, category LAUNCHER): an app the user
    /// sees, as opposed to a provider, service or overlay.
    pub launcher: bool,
    /// Basic functions of the phone it provides (`data/rules/basic-functions.toml`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<crate::functions::AppFunction>,
    /// `android:debuggable`.
    pub debuggable: bool,
    /// `android:allowBackup`.
    pub allow_backup: bool,
    /// `android:hasCode`.
    pub has_code: bool,
    /// Effective base cleartext policy: the network security config's base-config when one is
    /// declared, else the manifest attribute, else `targetSdk < 28`.
    pub uses_cleartext_traffic: bool,
    /// `ApplicationInfo.FLAG_USES_CLEARTEXT_TRAFFIC` (manifest only; what Uraniborg reads).
    pub cleartext_flag: bool,
    /// Domains for which the network security config permits cleartext.
    pub cleartext_domains: Vec<String>,
    /// The parsed network security config.
    pub network_security_config: Option<manifest::nsc::NetworkSecurityConfig>,
    /// Signing facts.
    pub signing: Option<SigningSummary>,
    /// Identifier-reading call sites.
    pub identifier_calls: Vec<IdentifierCall>,
    /// Trackers the app embeds, as exodus-core decides them: a class of its code matches the
    /// tracker's code signature. (Hosts matching a network signature are annotated on
    /// `endpoints`, not claimed here.)
    pub trackers: Vec<TrackerHit>,
    /// Endpoints.
    pub endpoints: Vec<Endpoint>,
    /// DEX files analysed (`classes.dex`, `split.apk!classes2.dex`, ...).
    pub dex_files: Vec<String>,
    /// Pre-optimised files beside the APK.
    pub oat_files: Vec<String>,
    /// No DEX inside the APK but odex/vdex beside it: the code was not analysed.
    pub odex_only: bool,
    /// Things an honest build would not produce.
    pub anomalies: Vec<String>,
    /// Why the app could not be analysed (the other fields are partial).
    pub error: Option<String>,
}

/// Everything an app analysis needs besides the bytes.
pub struct Context<'a> {
    /// Code analyzer.
    pub code: &'a dyn CodeAnalyzer,
    /// Signature verifier.
    pub sig: &'a dyn SignatureVerifier,
    /// Tracker signatures.
    pub trackers: &'a TrackerDb,
    /// Limits.
    pub limits: Limits,
}

/// Drop the app's own version name read as an IPv4 literal ("2.12.9.2"), and give IP
/// literals their country.
fn locate_endpoints(mut endpoints: Vec<Endpoint>, version_name: Option<&str>) -> Vec<Endpoint> {
    use crate::endpoints::EndpointKind::{Ipv4, Ipv6};
    endpoints.retain(|e| !(e.kind == Ipv4 && Some(e.value.as_str()) == version_name));
    for e in &mut endpoints {
        if matches!(e.kind, Ipv4 | Ipv6)
            && let (Some(geo), Ok(ip)) = (geo(), e.value.parse::<std::net::IpAddr>())
        {
            e.country = geo.country(ip);
        }
    }
    endpoints
}

/// The embedded country database, opened once for all apps.
fn geo() -> Option<&'static pc_detect::geo::GeoDb> {
    static GEO: std::sync::OnceLock<Option<pc_detect::geo::GeoDb>> = std::sync::OnceLock::new();
    GEO.get_or_init(|| pc_detect::geo::GeoDb::embedded().ok())
        .as_ref()
}

fn dex_index(name: &str) -> Option<u32> {
    // Android loads classes.dex, classes2.dex, classes3.dex, ... from the APK root.
    let mid = name.strip_prefix("classes")?.strip_suffix(".dex")?;
    if mid.is_empty() {
        Some(1)
    } else if mid.bytes().all(|b| b.is_ascii_digit()) && !mid.starts_with('0') {
        mid.parse().ok().filter(|&n| n >= 2)
    } else {
        None
    }
}

/// Analyses one APK (with optional splits) without firmware context.
pub fn analyze_apk(
    path: &str,
    bytes: &[u8],
    code: &dyn CodeAnalyzer,
    sig: &dyn SignatureVerifier,
    db: &TrackerDb,
) -> AppFacts {
    let ctx = Context {
        code,
        sig,
        trackers: db,
        limits: Limits::default(),
    };
    analyze_apk_with(path, bytes, &ctx)
}

/// [`analyze_apk`] with the given analyzers and limits.
pub fn analyze_apk_with(path: &str, bytes: &[u8], ctx: &Context<'_>) -> AppFacts {
    let mut f = AppFacts {
        path: path.to_string(),
        ..AppFacts::default()
    };
    let mut budget = Budget::new(ctx.limits.max_inflated_total);
    analyze_parts(&mut f, bytes, &[], ctx, &mut budget);
    f
}

/// What is left of an app's decompressed budget ([`Limits::max_inflated_total`]).
struct Budget {
    total: u64,
    left: u64,
}

impl Budget {
    fn new(total: u64) -> Budget {
        Budget { total, left: total }
    }

    /// Takes `entry`'s declared size (what the zip reader lets it inflate to at most) from the
    /// budget before it is read, or says why it is not read.
    fn take(&mut self, entry: &Entry<'_>) -> Result<(), String> {
        let size = entry.uncompressed_size;
        if size > self.left {
            return Err(format!(
                "entry at {} declares {size} bytes, more than the {} left of the app's \
                 decompressed budget ({} bytes)",
                entry.local_header_offset, self.left, self.total
            ));
        }
        self.left -= size;
        Ok(())
    }
}

/// Inflates `entry` of `arch` when it is at most `limit` bytes and fits in `budget`, or says
/// why not — checked in that order before anything is allocated, so that an entry the zip
/// reader refuses anyway (overlapping, too large) costs no budget.
fn read_entry(
    arch: &Archive<'_>,
    entry: &Entry<'_>,
    limit: u64,
    budget: &mut Budget,
) -> Result<Vec<u8>, String> {
    if let Some(kept) = arch.overlapped_by(entry) {
        return Err(pc_apk::zip::ZipError::Overlapping {
            at: entry.local_header_offset,
            kept: kept.local_header_offset,
        }
        .to_string());
    }
    if entry.uncompressed_size > limit {
        return Err(format!(
            "{} bytes > limit {limit} (entry at {})",
            entry.uncompressed_size, entry.local_header_offset
        ));
    }
    budget.take(entry)?;
    arch.read(entry, limit).map_err(|e| e.to_string())
}

/// Analyses an app from its base APK and splits; `budget` is what is left of its decompressed
/// budget (a bundle has already spent some on the APKs taken from it).
fn analyze_parts(
    f: &mut AppFacts,
    base: &[u8],
    splits: &[(String, Vec<u8>)],
    ctx: &Context<'_>,
    budget: &mut Budget,
) {
    let archive = match Archive::parse(base) {
        Ok(a) => a,
        Err(e) => {
            f.error = Some(format!("not an APK: {e}"));
            return;
        }
    };
    for a in archive.anomalies().iter().take(100) {
        f.anomalies.push(format!("zip: {a:?}"));
    }
    let mut m = match manifest::from_archive(&archive) {
        Ok(m) => m,
        Err(e) => {
            f.error = Some(format!("manifest: {e}"));
            return;
        }
    };
    let mf = &m.manifest;
    f.package = mf.package.clone();
    f.version_code = mf.version_code;
    f.version_name = mf.version_name.clone();
    f.min_sdk = mf.min_sdk;
    f.target_sdk = mf.target_sdk;
    f.shared_user_id = mf.shared_user_id.clone();
    f.label = mf.label.clone();
    f.permissions = mf.permissions.clone();
    f.permission_max_sdk = mf
        .permissions
        .iter()
        .filter_map(|p| {
            let uses = mf.uses_permissions.iter().filter(|u| &u.name == p);
            // Requested without a cap anywhere → not capped.
            uses.map(|u| u.max_sdk)
                .try_fold(0u32, |acc, m| m.map(|m| acc.max(m)))
                .map(|m| (p.clone(), m))
        })
        .collect();
    f.declared_permissions = mf.declared_permissions.clone();
    f.components = mf
        .components
        .iter()
        .filter(|c| c.exported)
        .cloned()
        .collect();
    f.launcher = mf.main_activity.is_some();
    f.functions = crate::functions::FunctionRules::embedded().functions_of(&mf.components);
    f.debuggable = mf.debuggable;
    f.allow_backup = mf.allow_backup;
    f.has_code = mf.has_code;
    f.cleartext_flag = mf.cleartext_default;
    let target = mf.effective_target_sdk();
    f.uses_cleartext_traffic = match &m.network_security_config {
        Some(n) => n.base_cleartext_permitted.unwrap_or(target < 28),
        None => mf.cleartext_default,
    };
    if let Some(n) = &m.network_security_config {
        let mut d: BTreeSet<String> = BTreeSet::new();
        for dc in n
            .domain_configs
            .iter()
            .filter(|dc| dc.cleartext_permitted == Some(true))
        {
            d.extend(dc.domains.iter().map(|(name, _)| name.clone()));
        }
        f.cleartext_domains = d.into_iter().collect();
    } else if mf.network_security_config.is_some() {
        f.anomalies
            .push("network security config declared but not readable".to_string());
    }
    if mf.debuggable {
        f.anomalies.push("debuggable".to_string());
    }
    f.anomalies
        .extend(m.anomalies.iter().map(|a| format!("manifest: {a}")));
    let (has_code, min_sdk) = (mf.has_code, mf.min_sdk);
    // The document and the resource table are no longer needed: not held while inflating.
    f.network_security_config = m.network_security_config.take();

    drop(m);

    // The archives of the app: base, then splits (only their directories are held).
    let lim = &ctx.limits;
    let mut parts: Vec<(String, Archive<'_>)> = Vec::new();
    for (name, bytes) in splits {
        match Archive::parse(bytes) {
            Ok(a) => parts.push((format!("{name}!"), a)),
            Err(e) => f.anomalies.push(format!("split {name}: not a zip: {e}")),
        }
    }
    let all = std::iter::once(("", &archive)).chain(parts.iter().map(|(p, a)| (p.as_str(), a)));
    let all: Vec<(&str, &Archive<'_>)> = all.collect();

    // DEX files one at a time: inflate, analyse, drop (module docs).
    let mut code = CodeFacts::default();
    let mut dex_count = 0usize;
    'parts: for &(prefix, arch) in &all {
        let mut dexes: Vec<(u32, &Entry<'_>)> = arch
            .entries()
            .iter()
            .filter_map(|e| dex_index(&e.name).map(|i| (i, e)))
            .collect();
        dexes.sort_by_key(|(i, _)| *i);
        dexes.dedup_by_key(|(i, _)| *i);
        for (_, e) in dexes {
            if dex_count >= lim.max_dex_files {
                f.anomalies.push(format!(
                    "too many dex files: {} analysed, the rest not read",
                    lim.max_dex_files
                ));
                break 'parts;
            }
            let name = format!("{prefix}{}", e.name);
            match read_entry(arch, e, lim.max_dex_size, budget) {
                Ok(bytes) => {
                    dex_count += 1;
                    ctx.code.add_dex(&name, &bytes, &mut code);
                    f.dex_files.push(name);
                }
                Err(why) => f.anomalies.push(format!("{name}: not read: {why}")),
            }
        }
    }
    ctx.code.finish(&mut code);
    f.anomalies.append(&mut code.notes);
    if f.dex_files.is_empty() && has_code && !f.oat_files.is_empty() {
        f.odex_only = true;
    }
    let mut calls = std::mem::take(&mut code.identifier_calls);
    calls.sort();
    f.identifier_calls = calls;

    let ex = EndpointExtractor::with_classes(code.class_names.iter().map(String::as_str));
    let mut eps = EndpointSet::default();
    ex.scan_strings(code.strings.iter().map(String::as_str), "dex", &mut eps);
    drop(std::mem::take(&mut code.strings));
    // Native libraries and resources.arsc one at a time too: inflate, scan, drop.
    let mut libs = 0usize;
    let mut libs_capped = false;
    for &(prefix, arch) in &all {
        for e in arch.entries() {
            let n = &e.name;
            let (limit, source) = if n.starts_with("lib/") && n.ends_with(".so") {
                if libs >= lim.max_native_libs {
                    libs_capped = true;
                    continue;
                }
                (lim.max_native_size, format!("native:{prefix}{n}"))
            } else if n == "resources.arsc" {
                (lim.max_resources_size, "resource".to_string())
            } else {
                continue;
            };
            let name = format!("{prefix}{n}");
            match read_entry(arch, e, limit, budget) {
                Ok(b) => {
                    if source.starts_with("native:") {
                        libs += 1;
                    }
                    ex.scan_binary(&b, &source, &mut eps);
                }
                Err(why) => f
                    .anomalies
                    .push(format!("{name}: not scanned for endpoints: {why}")),
            }
        }
    }
    if libs_capped {
        f.anomalies.push(format!(
            "too many native libraries: {} scanned for endpoints, the rest not read",
            lim.max_native_libs
        ));
    }
    // Claims as exodus-core makes them: code signatures only. A host the strings mention is
    // annotated with the trackers whose network signature it matches, never claimed.
    f.trackers = ctx
        .trackers
        .match_classes(code.class_names.iter().map(String::as_str));
    f.endpoints = locate_endpoints(eps.into_vec(), f.version_name.as_deref());
    crate::endpoints::annotate_trackers(&mut f.endpoints, ctx.trackers.list());

    f.signing = Some(ctx.sig.verify(base, &archive, min_sdk));
}

fn read_file(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("open: {e}"))?;
    let len = file.metadata().map_err(|e| format!("stat: {e}"))?.len();
    if len > max {
        return Err(format!("file too large (at 0): {len} bytes > limit {max}"));
    }
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 30));
    file.take(max)
        .read_to_end(&mut buf)
        .map_err(|e| format!("read: {e}"))?;
    Ok(buf)
}

fn is_base_entry(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    !(file.starts_with("split_") || file.starts_with("config.") || file.contains(".split"))
}

/// Analyses one app located in a firmware folder (reads its files under `root`).
pub fn analyze_app(root: &Path, loc: &AppLocation, ctx: &Context<'_>) -> AppFacts {
    analyze_app_from(loc, ctx, &|rel, max| read_file(&root.join(rel), max))
}

/// Analyses one app of a walked tree (a folder or firmware images): its files are read
/// through the nodes the walk recorded.
pub fn analyze_app_in(
    tree: &dyn pc_image::Tree,
    nodes: &std::collections::BTreeMap<String, pc_image::NodeId>,
    loc: &AppLocation,
    ctx: &Context<'_>,
) -> AppFacts {
    analyze_app_from(loc, ctx, &|rel, max| {
        let id = nodes
            .get(rel)
            .ok_or_else(|| format!("open: {rel} is not in the tree walked"))?;
        tree.read(*id, max).map_err(|e| e.to_string())
    })
}

/// Reads a file of the app (relative path, size limit).
type ReadFn<'a> = dyn Fn(&str, u64) -> Result<Vec<u8>, String> + 'a;

fn analyze_app_from(loc: &AppLocation, ctx: &Context<'_>, read: &ReadFn<'_>) -> AppFacts {
    let mut f = AppFacts {
        path: loc.path.clone(),
        splits: loc.splits.clone(),
        partition: loc.partition.clone(),
        privileged: loc.privileged,
        oat_files: loc.oat_files.clone(),
        ..AppFacts::default()
    };
    let max = ctx.limits.max_apk_size;
    let mut budget = Budget::new(ctx.limits.max_inflated_total);
    let bytes = match read(&loc.path, max) {
        Ok(b) => b,
        Err(e) => {
            f.error = Some(e);
            return f;
        }
    };
    match loc.kind {
        AppKind::Apk => analyze_parts(&mut f, &bytes, &[], ctx, &mut budget),
        AppKind::SplitSet => {
            let mut splits = Vec::new();
            for s in &loc.splits {
                match read(s, max) {
                    Ok(b) => splits.push((s.clone(), b)),
                    Err(e) => f.anomalies.push(format!("split {s}: {e}")),
                }
            }
            analyze_parts(&mut f, &bytes, &splits, ctx, &mut budget);
        }
        AppKind::Bundle => {
            let archive = match Archive::parse(&bytes) {
                Ok(a) => a,
                Err(e) => {
                    f.error = Some(format!("bundle is not a zip: {e}"));
                    return f;
                }
            };
            let mut apks: Vec<(String, Vec<u8>)> = Vec::new();
            for e in archive.entries() {
                if !e.name.to_ascii_lowercase().ends_with(".apk") {
                    continue;
                }
                if apks.len() >= ctx.limits.max_bundle_apks {
                    f.anomalies.push("too many APKs in bundle".to_string());
                    break;
                }
                // The APKs of a bundle are held together (splits need their base): they count
                // against the same budget as what is inflated from them.
                match read_entry(&archive, e, max, &mut budget) {
                    Ok(b) => apks.push((e.name.clone(), b)),
                    Err(why) => f
                        .anomalies
                        .push(format!("bundle entry {}: not read: {why}", e.name)),
                }
            }
            drop(bytes);
            let base_i = apks
                .iter()
                .position(|(n, _)| n == "base.apk" || n.ends_with("/base.apk"))
                .or_else(|| apks.iter().position(|(n, _)| is_base_entry(n)));
            let Some(bi) = base_i else {
                f.error = Some("bundle holds no base APK".to_string());
                return f;
            };
            let base = apks.remove(bi);
            f.splits = apks
                .iter()
                .map(|(n, _)| format!("{}!{n}", loc.path))
                .collect();
            let splits: Vec<(String, Vec<u8>)> = apks
                .into_iter()
                .map(|(n, b)| (format!("{}!{n}", loc.path), b))
                .collect();
            analyze_parts(&mut f, &base.1, &splits, ctx, &mut budget);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dex_names() {
        assert_eq!(dex_index("classes.dex"), Some(1));
        assert_eq!(dex_index("classes2.dex"), Some(2));
        assert_eq!(dex_index("classes1.dex"), None);
        assert_eq!(dex_index("classes02.dex"), None);
        assert_eq!(dex_index("assets/classes.dex"), None);
        assert_eq!(dex_index("classesx.dex"), None);
    }

    #[test]
    fn garbage_apk_is_an_error_not_a_panic() {
        let db = TrackerDb::embedded();
        for data in [&b""[..], b"PK\x03\x04garbage", &[0u8; 100]] {
            let f = analyze_apk("x.apk", data, &NoCode, &NoSignatures, db);
            assert!(f.error.is_some());
        }
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;
    use crate::endpoints::EndpointKind;

    fn ep(kind: EndpointKind, value: &str) -> Endpoint {
        Endpoint {
            kind,
            value: value.into(),
            sources: vec!["dex".into()],
            country: None,
            tracker_network: vec![],
        }
    }

    #[test]
    fn ip_literals_get_a_country_and_the_version_name_is_not_an_ip() {
        let out = locate_endpoints(
            vec![
                ep(EndpointKind::Ipv4, "8.8.8.8"),
                ep(EndpointKind::Ipv4, "2.12.9.2"),
                ep(EndpointKind::Ipv4, "10.0.0.1"),
                ep(EndpointKind::Host, "example.org"),
            ],
            Some("2.12.9.2"),
        );
        let got: Vec<_> = out
            .iter()
            .map(|e| (e.value.as_str(), e.country.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("8.8.8.8", Some("US")),
                ("10.0.0.1", None),
                ("example.org", None)
            ]
        );
    }
}
