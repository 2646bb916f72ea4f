//! The facts phonecert needs from `AndroidManifest.xml`, read with Android's rules
//! (PackageParser / ParsingPackageUtils): `android:` attributes by resource ID, tags by name,
//! `uses-permission*` and `<permission>` only as direct children of `<manifest>`, components only
//! as direct children of the first `<application>`.

use crate::arsc::{ResValue, ResourceTable};
use crate::attrs::id;
use crate::axml::{Document, Element, Value};
use std::io::{Read, Seek};

use crate::zip::{Archive, Entry, ZipError};

/// Largest `AndroidManifest.xml` read by [`from_archive`].
pub const MAX_MANIFEST_SIZE: u64 = 16 << 20;
/// Largest `resources.arsc` read by [`from_archive`].
pub const MAX_ARSC_SIZE: u64 = 256 << 20;
/// Largest network security config read by [`from_archive`].
pub const MAX_NSC_SIZE: u64 = 4 << 20;

/// Errors while extracting the manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The root element is not `<manifest>`.
    #[error("root element is not <manifest> (at {at})")]
    NotManifest {
        /// Always 0 (the document root).
        at: u64,
    },
    /// The archive has no `AndroidManifest.xml`.
    #[error("no AndroidManifest.xml in the archive (at {at})")]
    Missing {
        /// End of central directory offset.
        at: u64,
    },
    /// Zip error reading the manifest.
    #[error("reading AndroidManifest.xml: {0}")]
    Zip(#[from] ZipError),
    /// Binary XML error.
    #[error("parsing AndroidManifest.xml: {0}")]
    Axml(#[from] crate::axml::AxmlError),
}

/// Component kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum ComponentKind {
    /// `<activity>`
    Activity,
    /// `<activity-alias>`
    ActivityAlias,
    /// `<service>`
    Service,
    /// `<receiver>`
    Receiver,
    /// `<provider>`
    Provider,
}

/// An application component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Component {
    /// Kind.
    pub kind: ComponentKind,
    /// Fully qualified class name (".Foo" and "Foo" become package + ".Foo").
    pub name: String,
    /// Effective exported state: the explicit attribute, else true iff it has intent filters
    /// (providers: true iff the effective target SDK is below 17).
    pub exported: bool,
    /// The explicit `android:exported`, if present.
    pub exported_explicit: Option<bool>,
    /// `android:permission`.
    pub permission: Option<String>,
    /// Has at least one `<intent-filter>`.
    pub has_intent_filter: bool,
    /// `android:enabled` (default true).
    pub enabled: bool,
    /// For activity aliases: the fully qualified `android:targetActivity`.
    pub target_activity: Option<String>,
    /// What it answers to (at most [`MAX_INTENT_FILTERS`] filters, each of at most
    /// [`MAX_FILTER_ENTRIES`] names per list): which basic function of the phone an app
    /// provides is read from these. Not serialized: reports carry the functions derived from
    /// them, with the filter that decided each.
    #[serde(skip)]
    pub intent_filters: Vec<IntentFilter>,
}

/// Most intent filters kept per component; a crafted manifest cannot grow the facts further.
pub const MAX_INTENT_FILTERS: usize = 32;
/// Most actions (categories, schemes, MIME types) kept per intent filter.
pub const MAX_FILTER_ENTRIES: usize = 64;

/// One `<intent-filter>`: its actions, categories and `<data>` schemes and MIME types.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IntentFilter {
    pub actions: Vec<String>,
    pub categories: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schemes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mime_types: Vec<String>,
}

/// A `<permission>` the app declares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeclaredPermission {
    /// Permission name.
    pub name: String,
    /// `android:protectionLevel` decoded like `PermissionInfo.protectionToString`
    /// (e.g. "signature|privileged").
    pub protection_level: Option<String>,
}

/// A `<uses-permission>` or `<uses-permission-sdk-23>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UsesPermission {
    /// Permission name.
    pub name: String,
    /// `android:maxSdkVersion`: the permission is only requested up to that API level.
    pub max_sdk: Option<u32>,
    /// Declared with `<uses-permission-sdk-23>` (or the older `-sdk-m`): only requested on
    /// API 23 and later.
    pub sdk23: bool,
}

/// The manifest facts.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Manifest {
    /// `package`.
    pub package: String,
    /// `versionCode` combined with `versionCodeMajor` (major << 32 | code as u32).
    pub version_code: Option<u64>,
    /// `versionName` (resolved when a resource reference and a table is given).
    pub version_name: Option<String>,
    /// `uses-sdk minSdkVersion` (numeric; codenames are left out).
    pub min_sdk: Option<u32>,
    /// `uses-sdk targetSdkVersion`.
    pub target_sdk: Option<u32>,
    /// `uses-sdk maxSdkVersion` (ignored by Android since 2.0.1, reported for completeness).
    pub max_sdk: Option<u32>,
    /// `sharedUserId`.
    pub shared_user_id: Option<String>,
    /// Application label (resolved via the resource table, default configuration).
    pub label: Option<String>,
    /// Unique permission names from `uses-permission` and `uses-permission-sdk-23`, in order of
    /// first appearance.
    pub permissions: Vec<String>,
    /// Every `uses-permission*` element, in order (duplicates kept).
    pub uses_permissions: Vec<UsesPermission>,
    /// `<permission>` elements.
    pub declared_permissions: Vec<DeclaredPermission>,
    /// Activities, aliases, services, receivers, providers in document order.
    pub components: Vec<Component>,
    /// `application android:debuggable`.
    pub debuggable: bool,
    /// `application android:allowBackup` (default true).
    pub allow_backup: bool,
    /// Explicit `application android:usesCleartextTraffic`.
    pub uses_cleartext_traffic: Option<bool>,
    /// Effective cleartext default without a network security config: the explicit attribute,
    /// else true iff the effective target SDK is below 28.
    pub cleartext_default: bool,
    /// `application android:networkSecurityConfig` resolved to a file path.
    pub network_security_config: Option<String>,
    /// The raw resource ID of `networkSecurityConfig`, when it is a reference.
    pub network_security_config_ref: Option<u32>,
    /// `application android:hasCode` (default true).
    pub has_code: bool,
    /// First activity or alias with a MAIN action and LAUNCHER category.
    pub main_activity: Option<String>,
}

impl Manifest {
    /// Target SDK as Android applies it: targetSdkVersion, else minSdkVersion, else 1.
    pub fn effective_target_sdk(&self) -> u32 {
        self.target_sdk.or(self.min_sdk).unwrap_or(1)
    }

    /// Components of one kind.
    pub fn components_of(&self, kind: ComponentKind) -> impl Iterator<Item = &Component> {
        self.components.iter().filter(move |c| c.kind == kind)
    }
}

fn as_bool(v: Option<&Value>, res: Option<&ResourceTable>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        Value::String(s) => match s.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Value::Reference(r) => match res?.resolve(*r)? {
            ResValue::Simple(v) => as_bool(Some(&v), None),
            ResValue::Complex { .. } => None,
        },
        _ => None,
    }
}

fn as_int(v: Option<&Value>, res: Option<&ResourceTable>) -> Option<i64> {
    match v? {
        Value::Int(i) => Some(*i),
        Value::String(s) => s.trim().parse().ok(),
        Value::Reference(r) => match res?.resolve(*r)? {
            ResValue::Simple(v) => as_int(Some(&v), None),
            ResValue::Complex { .. } => None,
        },
        _ => None,
    }
}

/// A string attribute as `TypedArray.getNonConfigurationString` sees it: strings as is,
/// references resolved (default configuration), other types coerced to text.
fn as_string(v: Option<&Value>, res: Option<&ResourceTable>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Reference(r) => match res?.resolve(*r)? {
            ResValue::Simple(Value::Reference(_)) | ResValue::Complex { .. } => None,
            ResValue::Simple(v) => as_string(Some(&v), None),
        },
        Value::Null => None,
        v @ (Value::Int(_) | Value::Float(_) | Value::Bool(_)) => Some(v.to_display()),
        _ => None,
    }
}

fn as_u32(v: Option<&Value>, res: Option<&ResourceTable>) -> Option<u32> {
    as_int(v, res).and_then(|i| u32::try_from(i).ok())
}

/// PackageParser's `buildClassName`: ".Foo" and "Foo" → package + ".Foo".
pub fn qualify(package: &str, name: &str) -> String {
    if name.starts_with('.') {
        format!("{package}{name}")
    } else if !name.contains('.') {
        format!("{package}.{name}")
    } else {
        name.to_string()
    }
}

const PROTECTION_FLAGS: &[(u32, &str)] = &[
    (0x10, "privileged"),
    (0x20, "development"),
    (0x40, "appop"),
    (0x80, "pre23"),
    (0x100, "installer"),
    (0x200, "verifier"),
    (0x400, "preinstalled"),
    (0x800, "setup"),
    (0x1000, "instant"),
    (0x2000, "runtime"),
    (0x4000, "oem"),
    (0x8000, "vendorPrivileged"),
    (0x10000, "textClassifier"),
    (0x20000, "wellbeing"),
    (0x40000, "documenter"),
    (0x80000, "configurator"),
    (0x100000, "incidentReportApprover"),
    (0x200000, "appPredictor"),
    (0x400000, "module"),
    (0x800000, "companion"),
    (0x1000000, "retailDemo"),
    (0x2000000, "recents"),
    (0x4000000, "role"),
    (0x8000000, "knownSigner"),
];

/// Decodes `android:protectionLevel` flags like AOSP `PermissionInfo.protectionToString`.
pub fn protection_to_string(level: u32) -> String {
    let mut s = match level & 0xf {
        0 => "normal".to_string(),
        1 => "dangerous".to_string(),
        2 => "signature".to_string(),
        3 => "signatureOrSystem".to_string(),
        4 => "internal".to_string(),
        b => format!("????({b})"),
    };
    let mut rest = level & !0xf;
    for &(bit, name) in PROTECTION_FLAGS {
        if rest & bit != 0 {
            s.push('|');
            s.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        s.push_str(&format!("|0x{rest:x}"));
    }
    s
}

fn intent_filters(el: &Element, res: Option<&ResourceTable>) -> Vec<IntentFilter> {
    el.children_named("intent-filter")
        .take(MAX_INTENT_FILTERS)
        .map(|f| {
            let names = |tag: &str, attr: u32| -> Vec<String> {
                f.children_named(tag)
                    .filter_map(|c| as_string(c.android_attr(attr), res))
                    .take(MAX_FILTER_ENTRIES)
                    .collect()
            };
            IntentFilter {
                actions: names("action", id::NAME),
                categories: names("category", id::NAME),
                schemes: names("data", id::SCHEME),
                mime_types: names("data", id::MIME_TYPE),
            }
        })
        .collect()
}

fn has_main_launcher(el: &Element) -> bool {
    el.children_named("intent-filter").any(|f| {
        let has = |tag: &str, val: &str| {
            f.children_named(tag)
                .any(|c| as_string(c.android_attr(id::NAME), None).as_deref() == Some(val))
        };
        has("action", "android.intent.action.MAIN")
            && has("category", "android.intent.category.LAUNCHER")
    })
}

/// Extracts the manifest facts. `resources` resolves references (label, versionName, NSC path).
pub fn from_axml(
    doc: &Document,
    resources: Option<&ResourceTable>,
) -> Result<Manifest, ManifestError> {
    let root = doc
        .root
        .as_ref()
        .ok_or(ManifestError::NotManifest { at: 0 })?;
    if root.name != "manifest" {
        return Err(ManifestError::NotManifest { at: 0 });
    }
    let res = resources;
    let mut m = Manifest {
        package: root
            .plain_attr("package")
            .and_then(|v| as_string(Some(v), None))
            .unwrap_or_default(),
        ..Default::default()
    };
    let code = as_int(root.android_attr(id::VERSION_CODE), res);
    let major = as_int(root.android_attr(id::VERSION_CODE_MAJOR), res);
    m.version_code = match (code, major) {
        (None, None) => None,
        (c, mj) => Some(
            ((mj.unwrap_or(0) as u64 & 0xffff_ffff) << 32) | (c.unwrap_or(0) as u64 & 0xffff_ffff),
        ),
    };
    m.version_name = as_string(root.android_attr(id::VERSION_NAME), res);
    m.shared_user_id = as_string(root.android_attr(id::SHARED_USER_ID), res);
    if let Some(sdk) = root.children_named("uses-sdk").next() {
        m.min_sdk = as_u32(sdk.android_attr(id::MIN_SDK_VERSION), res);
        m.target_sdk = as_u32(sdk.android_attr(id::TARGET_SDK_VERSION), res);
        m.max_sdk = as_u32(sdk.android_attr(id::MAX_SDK_VERSION), res);
    }
    for c in &root.children {
        let sdk23 = match c.name.as_str() {
            "uses-permission" => false,
            "uses-permission-sdk-23" | "uses-permission-sdk-m" => true,
            _ => continue,
        };
        let Some(name) = as_string(c.android_attr(id::NAME), None) else {
            continue;
        };
        if !m.permissions.contains(&name) {
            m.permissions.push(name.clone());
        }
        m.uses_permissions.push(UsesPermission {
            name,
            max_sdk: as_u32(c.android_attr(id::MAX_SDK_VERSION), res),
            sdk23,
        });
    }
    for c in root.children_named("permission") {
        let Some(name) = as_string(c.android_attr(id::NAME), None) else {
            continue;
        };
        let protection_level = match c.android_attr(id::PROTECTION_LEVEL) {
            Some(Value::String(s)) => Some(s.clone()),
            v => as_int(v, res).map(|i| protection_to_string(i as u32)),
        };
        m.declared_permissions.push(DeclaredPermission {
            name,
            protection_level,
        });
    }
    let target = m.effective_target_sdk();
    m.allow_backup = true;
    m.has_code = true;
    if let Some(app) = root.children_named("application").next() {
        m.label = as_string(app.android_attr(id::LABEL), res);
        m.debuggable = as_bool(app.android_attr(id::DEBUGGABLE), res).unwrap_or(false);
        m.allow_backup = as_bool(app.android_attr(id::ALLOW_BACKUP), res).unwrap_or(true);
        m.has_code = as_bool(app.android_attr(id::HAS_CODE), res).unwrap_or(true);
        m.uses_cleartext_traffic = as_bool(app.android_attr(id::USES_CLEARTEXT_TRAFFIC), res);
        match app.android_attr(id::NETWORK_SECURITY_CONFIG) {
            Some(Value::Reference(r)) => {
                m.network_security_config_ref = Some(*r);
                m.network_security_config = res.and_then(|t| t.resolve_string(*r));
            }
            Some(Value::String(s)) => m.network_security_config = Some(s.clone()),
            _ => {}
        }
        for c in &app.children {
            let kind = match c.name.as_str() {
                "activity" => ComponentKind::Activity,
                "activity-alias" => ComponentKind::ActivityAlias,
                "service" => ComponentKind::Service,
                "receiver" => ComponentKind::Receiver,
                "provider" => ComponentKind::Provider,
                _ => continue,
            };
            let Some(raw) = as_string(c.android_attr(id::NAME), None) else {
                continue;
            };
            let name = qualify(&m.package, &raw);
            let has_intent_filter = c.children_named("intent-filter").next().is_some();
            let exported_explicit = as_bool(c.android_attr(id::EXPORTED), res);
            let exported = exported_explicit.unwrap_or(if kind == ComponentKind::Provider {
                target < 17
            } else {
                has_intent_filter
            });
            let enabled = as_bool(c.android_attr(id::ENABLED), res).unwrap_or(true);
            let target_activity = (kind == ComponentKind::ActivityAlias)
                .then(|| as_string(c.android_attr(id::TARGET_ACTIVITY), None))
                .flatten()
                .map(|t| qualify(&m.package, &t));
            if m.main_activity.is_none()
                && matches!(kind, ComponentKind::Activity | ComponentKind::ActivityAlias)
                && has_main_launcher(c)
            {
                m.main_activity = Some(name.clone());
            }
            m.components.push(Component {
                kind,
                name,
                exported,
                exported_explicit,
                permission: as_string(c.android_attr(id::PERMISSION), res),
                has_intent_filter,
                enabled,
                target_activity,
                intent_filters: intent_filters(c, res),
            });
        }
    }
    m.cleartext_default = m.uses_cleartext_traffic.unwrap_or(target < 28);
    Ok(m)
}

/// Everything [`from_archive`] found.
#[derive(Debug, Clone)]
pub struct ApkManifest {
    /// The manifest facts.
    pub manifest: Manifest,
    /// The parsed manifest tree (for evidence).
    pub document: Document,
    /// `resources.arsc`, when present and parseable.
    pub resources: Option<ResourceTable>,
    /// The network security config, when declared and readable.
    pub network_security_config: Option<nsc::NetworkSecurityConfig>,
    /// What could not be read, or was read with tricks, in the files above.
    pub anomalies: Vec<ManifestAnomaly>,
}

/// A problem met while reading the manifest's files; the facts are still given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ManifestAnomaly {
    /// `file` is in the archive but was not used (too large, corrupt, not parseable): what it
    /// would resolve (labels, version names, the network security config) stays unresolved.
    Unread {
        /// Entry name.
        file: String,
        /// Why, with the byte offset.
        why: String,
    },
    /// `file` was read, but aapt would not have written it so.
    Binary {
        /// Entry name.
        file: String,
        /// What was seen.
        anomaly: crate::axml::Anomaly,
    },
}

impl std::fmt::Display for ManifestAnomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestAnomaly::Unread { file, why } => write!(f, "{file}: not read: {why}"),
            ManifestAnomaly::Binary { file, anomaly } => write!(f, "{file}: {anomaly:?}"),
        }
    }
}

/// Reads `AndroidManifest.xml`, `resources.arsc` and the network security config from an APK
/// parsed in memory. A broken, oversize or missing `resources.arsc` is tolerated (references
/// stay unresolved, and [`ApkManifest::anomalies`] says why when it is present).
pub fn from_archive(archive: &Archive<'_>) -> Result<ApkManifest, ManifestError> {
    from_entries(archive, &mut |e, limit| archive.read(e, limit))
}

/// [`from_archive`] for an archive parsed from `file` ([`Archive::parse_file`]): each file is
/// read from disk when needed, one at a time.
pub fn from_file<R: Read + Seek>(
    archive: &Archive<'_>,
    file: &mut R,
) -> Result<ApkManifest, ManifestError> {
    from_entries(archive, &mut |e, limit| archive.read_from(file, e, limit))
}

type ReadEntry<'r> = dyn FnMut(&Entry<'_>, u64) -> Result<Vec<u8>, ZipError> + 'r;

fn from_entries(
    archive: &Archive<'_>,
    read: &mut ReadEntry<'_>,
) -> Result<ApkManifest, ManifestError> {
    let entry = archive
        .find("AndroidManifest.xml")
        .ok_or(ManifestError::Missing {
            at: archive.eocd_offset(),
        })?;
    let bytes = read(entry, MAX_MANIFEST_SIZE)?;
    let document = crate::axml::parse(&bytes)?;
    drop(bytes);
    let mut anomalies: Vec<ManifestAnomaly> = Vec::new();
    let binary = |file: &str, list: &[crate::axml::Anomaly], out: &mut Vec<ManifestAnomaly>| {
        out.extend(list.iter().map(|a| ManifestAnomaly::Binary {
            file: file.to_string(),
            anomaly: a.clone(),
        }));
    };
    binary("AndroidManifest.xml", &document.anomalies, &mut anomalies);
    let unread = |file: &str, why: String, out: &mut Vec<ManifestAnomaly>| {
        out.push(ManifestAnomaly::Unread {
            file: file.to_string(),
            why,
        });
    };
    let resources = match archive.find("resources.arsc") {
        None => None,
        Some(e) => match read(e, MAX_ARSC_SIZE) {
            Ok(b) => match ResourceTable::parse(&b) {
                Ok(t) => {
                    binary("resources.arsc", t.anomalies(), &mut anomalies);
                    Some(t)
                }
                Err(err) => {
                    unread("resources.arsc", err.to_string(), &mut anomalies);
                    None
                }
            },
            Err(err) => {
                unread("resources.arsc", err.to_string(), &mut anomalies);
                None
            }
        },
    };
    let manifest = from_axml(&document, resources.as_ref())?;
    let mut network_security_config = None;
    if let Some(p) = manifest.network_security_config.as_deref()
        && let Some(e) = archive.find(p)
    {
        match read(e, MAX_NSC_SIZE).map(|b| crate::axml::parse(&b)) {
            Ok(Ok(d)) => {
                binary(p, &d.anomalies, &mut anomalies);
                network_security_config = Some(nsc::from_axml(&d));
            }
            Ok(Err(err)) => unread(p, err.to_string(), &mut anomalies),
            Err(err) => unread(p, err.to_string(), &mut anomalies),
        }
    }
    Ok(ApkManifest {
        manifest,
        document,
        resources,
        network_security_config,
        anomalies,
    })
}

/// Network security configuration (`res/xml/network_security_config.xml`, compiled).
pub mod nsc {
    use crate::axml::{Document, Element, Value};

    /// A `<domain-config>` (nested ones are flattened, in document order).
    #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
    pub struct DomainConfig {
        /// `(domain, includeSubdomains)`.
        pub domains: Vec<(String, bool)>,
        /// `cleartextTrafficPermitted`, if set.
        pub cleartext_permitted: Option<bool>,
        /// Its trust anchors include `src="user"`.
        pub trust_user_certs: bool,
        /// Number of `<pin>` elements.
        pub pins: usize,
    }

    /// The parsed configuration.
    #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
    pub struct NetworkSecurityConfig {
        /// `base-config cleartextTrafficPermitted`.
        pub base_cleartext_permitted: Option<bool>,
        /// Domain configurations.
        pub domain_configs: Vec<DomainConfig>,
        /// A `<debug-overrides>` element exists (effective only in debuggable builds).
        pub debug_overrides: bool,
        /// `base-config` trusts user-installed CAs.
        pub trust_user_certs: bool,
    }

    fn attr_bool(el: &Element, name: &str) -> Option<bool> {
        match el.attrs.iter().find(|a| a.name == name).map(|a| &a.value)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.trim().parse().ok(),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }

    fn attr_str(el: &Element, name: &str) -> Option<String> {
        match el.attrs.iter().find(|a| a.name == name).map(|a| &a.value)? {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn trusts_user(el: &Element) -> bool {
        el.children_named("trust-anchors")
            .flat_map(|t| t.children_named("certificates"))
            .any(|c| attr_str(c, "src").as_deref().map(str::trim) == Some("user"))
    }

    fn domain_configs(el: &Element, out: &mut Vec<DomainConfig>) {
        for dc in el.children_named("domain-config") {
            if out.len() >= 10_000 {
                return;
            }
            let domains = dc
                .children_named("domain")
                .map(|d| {
                    (
                        d.text.as_deref().unwrap_or("").trim().to_string(),
                        attr_bool(d, "includeSubdomains").unwrap_or(false),
                    )
                })
                .collect();
            out.push(DomainConfig {
                domains,
                cleartext_permitted: attr_bool(dc, "cleartextTrafficPermitted"),
                trust_user_certs: trusts_user(dc),
                pins: dc
                    .children_named("pin-set")
                    .map(|p| p.children_named("pin").count())
                    .sum(),
            });
            domain_configs(dc, out);
        }
    }

    /// Reads the configuration; unknown or missing parts are left at their defaults.
    pub fn from_axml(doc: &Document) -> NetworkSecurityConfig {
        let mut c = NetworkSecurityConfig::default();
        let Some(root) = doc
            .root
            .as_ref()
            .filter(|r| r.name == "network-security-config")
        else {
            return c;
        };
        if let Some(base) = root.children_named("base-config").next() {
            c.base_cleartext_permitted = attr_bool(base, "cleartextTrafficPermitted");
            c.trust_user_certs = trusts_user(base);
        }
        c.debug_overrides = root.children_named("debug-overrides").next().is_some();
        domain_configs(root, &mut c.domain_configs);
        c
    }
}
