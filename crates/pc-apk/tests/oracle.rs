//! Agreement with androguard 4.1.4 (tests/data/oracle/apk/**.apk.json) on every fixture APK.
//! Where we deliberately differ, the difference is pinned in a named test below that explains
//! what Android does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pc_apk::manifest::{self, ComponentKind};
use pc_apk::zip::Archive;
use serde_json::Value as J;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

fn apks() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut items: Vec<_> = std::fs::read_dir(dir)
            .expect("read fixture dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        items.sort();
        for p in items {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "apk") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&Path::new(DATA).join("apk"), &mut v);
    assert!(v.len() >= 30, "fixtures missing: {}", v.len());
    v
}

fn oracle(apk: &Path) -> J {
    let rel = apk
        .strip_prefix(Path::new(DATA).join("apk"))
        .expect("under apk/");
    let p = Path::new(DATA)
        .join("oracle/apk")
        .join(format!("{}.json", rel.display()));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let j: J = serde_json::from_str(&text).expect("oracle json");
    j["androguard"].clone()
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn strs(j: &J) -> BTreeSet<String> {
    j.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn opt_str(j: &J) -> Option<String> {
    j.as_str().map(String::from)
}

/// Values androguard leaves as an unresolved resource reference ("@7F050026").
fn is_ref(s: &str) -> bool {
    s.starts_with('@')
}

#[test]
fn zip_entries_and_dex_names_match_androguard() {
    for apk in apks() {
        let data = std::fs::read(&apk).expect("read apk");
        let o = oracle(&apk);
        let a = Archive::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", name(&apk)));
        assert!(!a.entries().is_empty(), "{}", name(&apk));
        // androguard: re.match(r"classes(\d*)\.dex", name) over the file list.
        let dex: BTreeSet<String> = a
            .entries()
            .iter()
            .map(|e| e.name.clone())
            .filter(|n| {
                n.strip_prefix("classes")
                    .and_then(|r| r.split_once(".dex"))
                    .is_some_and(|(d, _)| d.chars().all(|c| c.is_ascii_digit()))
            })
            .collect();
        assert_eq!(dex, strs(&o["dex_names"]), "{}", name(&apk));
        // Every entry decompresses with a correct CRC and size.
        for e in a.entries() {
            let out = a
                .read(e, 1 << 30)
                .unwrap_or_else(|err| panic!("{} {}: {err}", name(&apk), e.name));
            assert_eq!(out.len() as u64, e.uncompressed_size);
        }
        // Real APKs: no anomaly Android would reject.
        assert!(
            !a.rejected_by_android(),
            "{}: {:?}",
            name(&apk),
            a.anomalies()
        );
        let manifest_present = a.find("AndroidManifest.xml").is_some();
        assert_eq!(
            manifest_present,
            o["is_valid_apk"].as_bool() == Some(true),
            "{}",
            name(&apk)
        );
    }
}

#[test]
fn zip_entries_match_unzip_listing() {
    // The central directory order and sizes, cross-checked against the entry data itself:
    // data_offset + compressed_size never crosses the central directory.
    for apk in apks() {
        let data = std::fs::read(&apk).expect("read apk");
        let a = Archive::parse(&data).expect("parse");
        for (i, e) in a.entries().iter().enumerate() {
            assert_eq!(e.cd_index, i);
            assert!(e.local_header_ok, "{} {}", name(&apk), e.name);
            assert!(e.data_offset + e.compressed_size <= a.central_directory_offset());
        }
        assert!(a.central_directory_offset() + a.central_directory_size() <= a.eocd_offset());
    }
}

#[test]
fn manifest_matches_androguard() {
    let mut checked = 0;
    for apk in apks() {
        let data = std::fs::read(&apk).expect("read apk");
        let o = oracle(&apk);
        let n = name(&apk);
        let a = Archive::parse(&data).expect("parse");
        if o["is_valid_apk"].as_bool() != Some(true) {
            assert!(manifest::from_archive(&a).is_err(), "{n}");
            continue;
        }
        let full = manifest::from_archive(&a).unwrap_or_else(|e| panic!("{n}: {e}"));
        let m = &full.manifest;
        assert_eq!(
            Some(m.package.clone()),
            opt_str(&o["package"]),
            "{n} package"
        );
        assert_eq!(
            m.version_code.map(|v| v.to_string()),
            opt_str(&o["version_code"]),
            "{n} version_code"
        );
        match opt_str(&o["version_name"]) {
            // androguard does not resolve references here; see version_name_reference_is_resolved.
            Some(v) if is_ref(&v) => {
                assert!(m.version_name.as_deref().is_some_and(|s| !is_ref(s)), "{n}")
            }
            v => assert_eq!(m.version_name, v, "{n} version_name"),
        }
        assert_eq!(
            m.min_sdk.map(|v| v.to_string()),
            opt_str(&o["min_sdk"]),
            "{n} min_sdk"
        );
        assert_eq!(
            m.target_sdk.map(|v| v.to_string()),
            opt_str(&o["target_sdk"]),
            "{n} target_sdk"
        );
        match opt_str(&o["max_sdk"]) {
            Some(v) if is_ref(&v) => {} // see max_sdk_reference_is_resolved
            v => assert_eq!(m.max_sdk.map(|v| v.to_string()), v, "{n} max_sdk"),
        }
        // androguard 4.1.4 lists only <uses-permission>; see uses_permission_sdk_23_counts.
        let ours: BTreeSet<String> = m
            .uses_permissions
            .iter()
            .filter(|p| !p.sdk23)
            .map(|p| p.name.clone())
            .collect();
        if n == "org.sajeg.fallingblocks_3.apk" {
            // See permissions_resolved_by_resource_id.
            assert!(strs(&o["permissions"]).is_subset(&ours), "{n}");
        } else {
            assert_eq!(ours, strs(&o["permissions"]), "{n} permissions");
        }
        let declared: BTreeSet<String> = m
            .declared_permissions
            .iter()
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(
            declared,
            strs(&o["declared_permissions"]),
            "{n} declared_permissions"
        );
        let kind = |k: &[ComponentKind]| -> BTreeSet<String> {
            m.components
                .iter()
                .filter(|c| k.contains(&c.kind))
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(
            kind(&[ComponentKind::Activity]),
            strs(&o["activities"]),
            "{n} activities"
        );
        assert_eq!(
            kind(&[ComponentKind::Service]),
            strs(&o["services"]),
            "{n} services"
        );
        assert_eq!(
            kind(&[ComponentKind::Receiver]),
            strs(&o["receivers"]),
            "{n} receivers"
        );
        assert_eq!(
            kind(&[ComponentKind::Provider]),
            strs(&o["providers"]),
            "{n} providers"
        );
        assert_eq!(
            m.main_activity,
            opt_str(&o["main_activity"]),
            "{n} main_activity"
        );
        match opt_str(&o["app_name"]) {
            Some(l) if !l.is_empty() && !is_ref(&l) => {
                assert_eq!(m.label.as_deref(), Some(l.as_str()), "{n} label")
            }
            _ => {}
        }
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
}

fn load(rel: &str) -> manifest::ApkManifest {
    let data = std::fs::read(Path::new(DATA).join("apk").join(rel)).expect("read");
    let a = Archive::parse(&data).expect("parse");
    manifest::from_archive(&a).expect("manifest")
}

/// androguard reports versionName "@7F050026" for org.dyndns.fules.ck. Android resolves it:
/// PackageParser reads versionName with `TypedArray.getNonConfigurationString`, and the
/// TypedArray has already resolved references through the resource table; `aapt dump badging`
/// (the platform tool) prints versionName='v1.6pre2'. We follow Android.
#[test]
fn version_name_reference_is_resolved() {
    assert_eq!(
        load("fdroid/org.dyndns.fules.ck_20.apk")
            .manifest
            .version_name
            .as_deref(),
        Some("v1.6pre2")
    );
    assert_eq!(
        load("fdroid/souch.smsbypass_9.apk")
            .manifest
            .version_name
            .as_deref(),
        Some("0.9")
    );
}

/// souch.smsbypass declares `maxSdkVersion="@integer/..."`; androguard reports the raw
/// "@7F050022". We resolve integer references through resources.arsc as Android's TypedArray
/// would (Android itself ignores uses-sdk maxSdkVersion since 2.0.1).
#[test]
fn max_sdk_reference_is_resolved() {
    let m = load("fdroid/souch.smsbypass_9.apk");
    let raw = m
        .document
        .root
        .as_ref()
        .and_then(|r| r.children.iter().find(|c| c.name == "uses-sdk"))
        .and_then(|s| {
            s.attr_by_id(pc_apk::attrs::id::MAX_SDK_VERSION)
                .map(|a| a.value.clone())
        });
    assert_eq!(raw, Some(pc_apk::axml::Value::Reference(0x7f05_0022)));
    let res = m.resources.as_ref().expect("resources");
    // The resource is the string "18"; TypedArray.getInt converts it (XmlUtils.convertValueToInt).
    let resolved = res.resolve(0x7f05_0022);
    assert_eq!(
        resolved,
        Some(pc_apk::arsc::ResValue::Simple(pc_apk::axml::Value::String(
            "18".into()
        )))
    );
    assert_eq!(m.manifest.max_sdk, Some(18));
}

/// org.sajeg.fallingblocks (Godot export) writes two `<uses-permission>` whose `android:name`
/// attribute carries the namespace string "android" instead of the namespace URI. androguard
/// matches attributes by namespace URI and so reports no permission; Android matches manifest
/// attributes by resource ID (0x01010003), and `aapt dump badging` lists both permissions.
#[test]
fn permissions_resolved_by_resource_id() {
    let m = load("fdroid/org.sajeg.fallingblocks_3.apk");
    assert_eq!(
        m.manifest.permissions,
        [
            "android.permission.VIBRATE",
            "android.permission.WRITE_USER_DICTIONARY"
        ]
    );
    let root = m.document.root.as_ref().expect("root");
    let up = root
        .children
        .iter()
        .find(|c| c.name == "uses-permission")
        .expect("uses-permission");
    assert_eq!(up.attrs[0].namespace.as_deref(), Some("android"));
    assert_eq!(up.attrs[0].resource_id, Some(0x0101_0003));
}

/// androguard 4.1.4 `get_permissions` only collects `<uses-permission>`; Android's PackageParser
/// also requests `<uses-permission-sdk-23>` (and the older `-sdk-m` spelling) on API 23+.
/// `aapt dump badging` lists them as `uses-permission-sdk-23:`.
#[test]
fn uses_permission_sdk_23_counts() {
    let m = load("fdroid/duplicate.permisssions_9999999.apk").manifest;
    let sdk23: Vec<&str> = m
        .uses_permissions
        .iter()
        .filter(|p| p.sdk23)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        sdk23,
        [
            "android.permission.REQUEST_IGNORE_BATTERY_OPTIMIZATIONS",
            "android.permission.REQUEST_INSTALL_PACKAGES"
        ]
    );
    assert!(
        m.permissions
            .iter()
            .any(|p| p == "android.permission.REQUEST_INSTALL_PACKAGES")
    );
    // De-duplicated, first appearance order: INTERNET is declared twice.
    assert_eq!(
        m.permissions
            .iter()
            .filter(|p| *p == "android.permission.INTERNET")
            .count(),
        1
    );
    assert_eq!(
        m.uses_permissions
            .iter()
            .filter(|p| p.name == "android.permission.INTERNET")
            .count(),
        2
    );
    assert_eq!(m.permissions[0], "android.permission.INTERNET");
}

/// AndroidManifest_ShortName.apk: androguard leaves the label as "@7F060000" because the
/// reference does not exist in the table (aapt says the same: "No known package when getting
/// value for resource number"). We report no label rather than a fake one.
#[test]
fn short_name_apk_unresolvable_label() {
    let m = load("androguard/AndroidManifest_ShortName.apk");
    assert_eq!(m.manifest.package, "com.android.galaxy4");
    assert_eq!(m.manifest.label, None);
    assert_eq!(
        m.manifest
            .components
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        [
            "com.android.galaxy4.Galaxy4",
            "com.android.galaxy4.Galaxy4Wallpaper"
        ]
    );
}

/// Invalid.apk is a valid APK for androguard (and for us); CertChain.apk and multidex.apk have
/// no manifest at all (androguard: is_valid_apk false).
#[test]
fn invalid_and_manifestless_apks() {
    let m = load("androguard/Invalid.apk").manifest;
    assert_eq!(m.package, "re.androguard.android.invalid");
    assert_eq!(m.label.as_deref(), Some("Invalid"));
    for rel in ["androguard/CertChain.apk", "androguard/multidex.apk"] {
        let data = std::fs::read(Path::new(DATA).join("apk").join(rel)).expect("read");
        let a = Archive::parse(&data).expect("still a zip");
        assert!(matches!(
            manifest::from_archive(&a),
            Err(manifest::ManifestError::Missing { .. })
        ));
    }
}

#[test]
fn effective_exported_and_flags() {
    let m = load("appium/settings_apk-debug.apk").manifest;
    assert!(m.components.iter().any(|c| c.exported));
    for c in &m.components {
        match c.exported_explicit {
            Some(e) => assert_eq!(c.exported, e),
            None if c.kind != ComponentKind::Provider => {
                assert_eq!(c.exported, c.has_intent_filter)
            }
            None => {}
        }
    }
    assert_eq!(m.declared_permissions.len(), 1);
    assert_eq!(
        m.declared_permissions[0].protection_level.as_deref(),
        Some("signature")
    );
    assert_eq!(
        m.cleartext_default,
        m.uses_cleartext_traffic
            .unwrap_or(m.effective_target_sdk() < 28)
    );
}

#[test]
fn xml_rendering_contains_manifest() {
    let m = load("androguard/TestActivity_signed_both.apk");
    let xml = pc_apk::axml::to_xml_string(&m.document);
    assert!(xml.contains("<manifest"), "{xml}");
    assert!(xml.contains("package=\"tests.androguard\""), "{xml}");
    assert!(xml.contains("android:name="), "{xml}");
}
