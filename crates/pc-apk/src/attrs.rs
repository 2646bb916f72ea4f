//! Resource IDs of well-known `android:` attributes.
//!
//! Source: AOSP `frameworks/base/core/res/res/values/public.xml` (the public, frozen IDs of the
//! `android` package; they never change between releases). The ones used by the fixture manifests
//! were cross-checked with `aapt dump xmltree` (Debian's aapt 10.0.0+r36).
//!
//! Android's PackageParser resolves manifest attributes through `obtainAttributes`, i.e. by
//! resource ID only: the attribute's name string and namespace do not matter. Packers and malware
//! exploit that by emptying or scrambling the name strings, so the AXML parser names attributes
//! from this table whenever their resource ID is known.

/// `(resource id, attribute name)`, sorted by id.
pub const ANDROID_ATTRS: &[(u32, &str)] = &[
    (0x0101_0000, "theme"),
    (0x0101_0001, "label"),
    (0x0101_0002, "icon"),
    (0x0101_0003, "name"),
    (0x0101_0004, "manageSpaceActivity"),
    (0x0101_0005, "allowClearUserData"),
    (0x0101_0006, "permission"),
    (0x0101_0007, "readPermission"),
    (0x0101_0008, "writePermission"),
    (0x0101_0009, "protectionLevel"),
    (0x0101_000a, "permissionGroup"),
    (0x0101_000b, "sharedUserId"),
    (0x0101_000c, "hasCode"),
    (0x0101_000d, "persistent"),
    (0x0101_000e, "enabled"),
    (0x0101_000f, "debuggable"),
    (0x0101_0010, "exported"),
    (0x0101_0011, "process"),
    (0x0101_0012, "taskAffinity"),
    (0x0101_0013, "multiprocess"),
    (0x0101_0014, "finishOnTaskLaunch"),
    (0x0101_0015, "clearTaskOnLaunch"),
    (0x0101_0016, "stateNotNeeded"),
    (0x0101_0017, "excludeFromRecents"),
    (0x0101_0018, "authorities"),
    (0x0101_0019, "syncable"),
    (0x0101_001a, "initOrder"),
    (0x0101_001b, "grantUriPermissions"),
    (0x0101_001c, "priority"),
    (0x0101_001d, "launchMode"),
    (0x0101_001e, "screenOrientation"),
    (0x0101_001f, "configChanges"),
    (0x0101_0020, "description"),
    (0x0101_0021, "targetPackage"),
    (0x0101_0022, "handleProfiling"),
    (0x0101_0023, "functionalTest"),
    (0x0101_0024, "value"),
    (0x0101_0025, "resource"),
    (0x0101_0026, "mimeType"),
    (0x0101_0027, "scheme"),
    (0x0101_0028, "host"),
    (0x0101_0029, "port"),
    (0x0101_002a, "path"),
    (0x0101_002b, "pathPrefix"),
    (0x0101_002c, "pathPattern"),
    (0x0101_002d, "action"),
    (0x0101_002e, "data"),
    (0x0101_002f, "targetClass"),
    (0x0101_0202, "targetActivity"),
    (0x0101_020c, "minSdkVersion"),
    (0x0101_021b, "versionCode"),
    (0x0101_021c, "versionName"),
    (0x0101_022b, "windowSoftInputMode"),
    (0x0101_022d, "noHistory"),
    (0x0101_0261, "sharedUserLabel"),
    (0x0101_0270, "targetSdkVersion"),
    (0x0101_0271, "maxSdkVersion"),
    (0x0101_0272, "testOnly"),
    (0x0101_027f, "backupAgent"),
    (0x0101_0280, "allowBackup"),
    (0x0101_0281, "glEsVersion"),
    (0x0101_0284, "smallScreens"),
    (0x0101_0285, "normalScreens"),
    (0x0101_0286, "largeScreens"),
    (0x0101_028e, "required"),
    (0x0101_02b7, "installLocation"),
    (0x0101_02bf, "xlargeScreens"),
    (0x0101_02d3, "hardwareAccelerated"),
    (0x0101_035a, "largeHeap"),
    (0x0101_03a7, "parentActivityName"),
    (0x0101_03a9, "isolatedProcess"),
    (0x0101_03af, "supportsRtl"),
    (0x0101_03f2, "banner"),
    (0x0101_03f4, "isGame"),
    (0x0101_048e, "multiArch"),
    (0x0101_04ea, "extractNativeLibs"),
    (0x0101_04eb, "fullBackupContent"),
    (0x0101_04ec, "usesCleartextTraffic"),
    (0x0101_04f6, "resizeableActivity"),
    (0x0101_0505, "directBootAware"),
    (0x0101_050e, "externalService"),
    (0x0101_0527, "networkSecurityConfig"),
    (0x0101_052c, "roundIcon"),
    (0x0101_0531, "visibleToInstantApps"),
    (0x0101_054b, "isolatedSplits"),
    (0x0101_054c, "targetSandboxVersion"),
    (0x0101_0572, "compileSdkVersion"),
    (0x0101_0573, "compileSdkVersionCodename"),
    (0x0101_0576, "versionCodeMajor"),
    (0x0101_057a, "appComponentFactory"),
    (0x0101_0599, "foregroundServiceType"),
    (0x0101_059a, "hasFragileUserData"),
    (0x0101_0603, "requestLegacyExternalStorage"),
];

/// The `android` namespace URI.
pub const ANDROID_NS: &str = "http://schemas.android.com/apk/res/android";

/// Well-known attribute IDs used by the manifest reader.
pub mod id {
    /// android:label
    pub const LABEL: u32 = 0x0101_0001;
    /// android:icon
    pub const ICON: u32 = 0x0101_0002;
    /// android:name
    pub const NAME: u32 = 0x0101_0003;
    /// android:permission
    pub const PERMISSION: u32 = 0x0101_0006;
    /// android:protectionLevel
    pub const PROTECTION_LEVEL: u32 = 0x0101_0009;
    /// android:sharedUserId
    pub const SHARED_USER_ID: u32 = 0x0101_000b;
    /// android:hasCode
    pub const HAS_CODE: u32 = 0x0101_000c;
    /// android:enabled
    pub const ENABLED: u32 = 0x0101_000e;
    /// android:debuggable
    pub const DEBUGGABLE: u32 = 0x0101_000f;
    /// android:exported
    pub const EXPORTED: u32 = 0x0101_0010;
    /// android:process
    pub const PROCESS: u32 = 0x0101_0011;
    /// android:mimeType
    pub const MIME_TYPE: u32 = 0x0101_0026;
    /// android:scheme
    pub const SCHEME: u32 = 0x0101_0027;
    /// android:targetActivity
    pub const TARGET_ACTIVITY: u32 = 0x0101_0202;
    /// android:minSdkVersion
    pub const MIN_SDK_VERSION: u32 = 0x0101_020c;
    /// android:versionCode
    pub const VERSION_CODE: u32 = 0x0101_021b;
    /// android:versionName
    pub const VERSION_NAME: u32 = 0x0101_021c;
    /// android:targetSdkVersion
    pub const TARGET_SDK_VERSION: u32 = 0x0101_0270;
    /// android:maxSdkVersion
    pub const MAX_SDK_VERSION: u32 = 0x0101_0271;
    /// android:allowBackup
    pub const ALLOW_BACKUP: u32 = 0x0101_0280;
    /// android:usesCleartextTraffic
    pub const USES_CLEARTEXT_TRAFFIC: u32 = 0x0101_04ec;
    /// android:networkSecurityConfig
    pub const NETWORK_SECURITY_CONFIG: u32 = 0x0101_0527;
    /// android:versionCodeMajor
    pub const VERSION_CODE_MAJOR: u32 = 0x0101_0576;
}

/// The attribute name for a well-known `android:` resource ID.
pub fn android_attr_name(id: u32) -> Option<&'static str> {
    ANDROID_ATTRS
        .binary_search_by_key(&id, |&(i, _)| i)
        .ok()
        .map(|i| ANDROID_ATTRS[i].1)
}

/// The resource ID of a well-known `android:` attribute name.
pub fn android_attr_id(name: &str) -> Option<u32> {
    ANDROID_ATTRS
        .iter()
        .find(|&&(_, n)| n == name)
        .map(|&(i, _)| i)
}
