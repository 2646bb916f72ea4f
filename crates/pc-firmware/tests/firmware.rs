//! A synthetic firmware tree built from real fixture APKs.
mod common;

use std::fs;
use std::path::Path;
use std::sync::Mutex;

use pc_firmware::tree::AppKind;
use pc_firmware::{FirmwareProgress, IdentifierCall, analyze_firmware};

fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

fn build(root: &Path) {
    let framework = common::stored_zip(&[(
        "AndroidManifest.xml",
        &common::manifest_axml("android", &[], false),
    )]);
    put(root, "system/framework/framework-res.apk", &framework);
    put(
        root,
        "system/app/Jamendo/Jamendo.apk",
        &common::fixture("androguard/com.teleca.jamendo_35.apk"),
    );
    put(
        root,
        "system/app/Jamendo/oat/arm64/Jamendo.odex",
        b"not really odex",
    );
    put(
        root,
        "system/app/Jamendo/oat/arm64/Jamendo.vdex",
        b"not really vdex",
    );
    put(
        root,
        "system/app/Jamendo/oat/arm64/Other.odex",
        b"belongs to nobody",
    );
    put(
        root,
        "system/priv-app/SmsBypass/SmsBypass.apk",
        &common::fixture("fdroid/souch.smsbypass_9.apk"),
    );
    put(
        root,
        "product/app/A2dp/A2dp.apk",
        &common::fixture("androguard/a2dp.Vol_137.apk"),
    );
    put(
        root,
        "vendor/app/Dup/Dup.apk",
        &common::fixture("fdroid/duplicate.permisssions_9999999.apk"),
    );
    put(
        root,
        "system/app/Broken/Broken.apk",
        b"PK\x03\x04 this is not a zip at all",
    );
    put(
        root,
        "system_ext/app/Split/base.apk",
        &common::fixture("fdroid/apk.embedded_1.apk"),
    );
    put(
        root,
        "system_ext/app/Split/split_config.arm64_v8a.apk",
        &common::fixture("apksig/golden-aligned-v1-out.apk"),
    );
    let base = common::fixture("fdroid/org.sajeg.fallingblocks_3.apk");
    let split = common::fixture("apksig/golden-aligned-v2-out.apk");
    let xapk = common::stored_zip(&[
        (
            "manifest.json",
            br#"{"package_name":"org.sajeg.fallingblocks"}"#,
        ),
        ("org.sajeg.fallingblocks.apk", &base),
        ("config.en.apk", &split),
    ]);
    put(root, "product/priv-app/Bundle/game.xapk", &xapk);
    put(
        root,
        "system/build.prop",
        b"# build\nro.build.version.sdk=31\nro.product.manufacturer=TestOEM\n",
    );
    put(
        root,
        "system/etc/permissions/privapp-permissions-test.xml",
        br#"<?xml version="1.0" encoding="utf-8"?>
<permissions>
    <privapp-permissions package="souch.smsbypass">
        <permission name="android.permission.READ_PRIVILEGED_PHONE_STATE"/>
        <permission name="android.permission.INSTALL_PACKAGES"/>
        <deny-permission name="android.permission.INSTALL_PACKAGES"/>
    </privapp-permissions>
    <privapp-permissions package="com.teleca.jamendo">
        <permission name="android.permission.READ_PRIVILEGED_PHONE_STATE"/>
    </privapp-permissions>
</permissions>"#,
    );
    put(
        root,
        "vendor/etc/default-permissions/default-test.xml",
        br#"<exceptions>
  <exception package="com.teleca.jamendo">
    <permission name="android.permission.READ_PHONE_STATE" fixed="false"/>
  </exception>
  <exception package="souch.smsbypass">
    <permission name="android.permission.RECEIVE_SMS" fixed="true"/>
    <permission name="android.permission.READ_CONTACTS" fixed="false"/>
  </exception>
</exceptions>"#,
    );
    put(
        root,
        "vendor/etc/permissions/broken.xml",
        b"<permissions><privapp-permissions package=\"x\"><permission name=",
    );
    #[cfg(unix)]
    {
        // A loop inside the image and a link out of it: neither may be followed twice / at all.
        std::os::unix::fs::symlink("..", root.join("system/app/loop")).unwrap();
        std::os::unix::fs::symlink("/usr", root.join("system/outside")).unwrap();
    }
}

#[test]
fn synthetic_firmware() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    build(root);

    let tree = pc_firmware::tree::scan(root).unwrap();
    let paths: Vec<&str> = tree.apps.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "product/app/A2dp/A2dp.apk",
            "product/priv-app/Bundle/game.xapk",
            "system/app/Broken/Broken.apk",
            "system/app/Jamendo/Jamendo.apk",
            "system/framework/framework-res.apk",
            "system/priv-app/SmsBypass/SmsBypass.apk",
            "system_ext/app/Split/base.apk",
            "vendor/app/Dup/Dup.apk",
        ]
    );
    let by = |p: &str| tree.apps.iter().find(|a| a.path == p).unwrap();
    let split = by("system_ext/app/Split/base.apk");
    assert_eq!(split.kind, AppKind::SplitSet);
    assert_eq!(
        split.splits,
        vec!["system_ext/app/Split/split_config.arm64_v8a.apk"]
    );
    assert_eq!(split.partition, "system_ext");
    assert_eq!(
        by("product/priv-app/Bundle/game.xapk").kind,
        AppKind::Bundle
    );
    assert_eq!(
        by("system/app/Jamendo/Jamendo.apk").oat_files,
        vec![
            "system/app/Jamendo/oat/arm64/Jamendo.odex",
            "system/app/Jamendo/oat/arm64/Jamendo.vdex"
        ]
    );
    assert_eq!(tree.api_level(), Some(31));
    assert_eq!(tree.manufacturer(), Some("TestOEM"));
    assert!(
        tree.errors
            .iter()
            .any(|e| e.to_string().contains("broken.xml")),
        "{:?}",
        tree.errors
    );

    let mut code = common::StubCode::default();
    code.calls_for_prefix.insert(
        "Lcom/teleca/jamendo/".into(),
        IdentifierCall {
            api: "Landroid/telephony/TelephonyManager;->getDeviceId".into(),
            caller: "Lcom/teleca/jamendo/Stub;->id".into(),
            identifiers: vec!["imei".into()],
            count: 2,
            indirect: false,
        },
    );
    let mut sig = common::StubSig::default();
    sig.certs.insert("android".into(), "platformcert".into());
    sig.certs
        .insert("souch.smsbypass".into(), "platformcert".into());
    let events = Mutex::new(Vec::new());
    let report = analyze_firmware(root, &code, &sig, &|p| events.lock().unwrap().push(p));
    let events = events.into_inner().unwrap();
    assert_eq!(events[0], FirmwareProgress::Scanned { apps: 8 });
    assert_eq!(events.len(), 9);

    assert_eq!(report.apps.len(), 8);
    assert_eq!(report.api_level, Some(31));
    assert_eq!(report.platform_certificate.as_deref(), Some("platformcert"));
    let app = |p: &str| report.apps.iter().find(|a| a.path == p).unwrap();

    // The corrupt app reports an error; the others are analysed.
    let broken = app("system/app/Broken/Broken.apk");
    assert!(
        broken.error.as_deref().unwrap().starts_with("not an APK"),
        "{:?}",
        broken.error
    );
    for a in report.apps.iter().filter(|a| a.path != broken.path) {
        assert!(a.error.is_none(), "{}: {:?}", a.path, a.error);
        assert!(!a.package.is_empty());
    }

    let jam = app("system/app/Jamendo/Jamendo.apk");
    assert_eq!(jam.package, "com.teleca.jamendo");
    assert_eq!((jam.partition.as_str(), jam.privileged), ("system", false));
    assert!(!jam.dex_files.is_empty() && !jam.odex_only);
    assert_eq!(
        jam.default_granted,
        vec![("android.permission.READ_PHONE_STATE".to_string(), false)]
    );
    // Allowlisted although not in priv-app: reported, and flagged.
    assert_eq!(
        jam.privileged_granted,
        vec!["android.permission.READ_PRIVILEGED_PHONE_STATE"]
    );
    assert!(jam.anomalies.iter().any(|a| a.contains("outside priv-app")));
    // normal ACCESS_WIFI_STATE, INTERNET, WAKE_LOCK; dangerous READ_PHONE_STATE by default grant;
    // WRITE_EXTERNAL_STORAGE (dangerous, not granted) left out.
    assert_eq!(
        jam.granted_at_boot,
        vec![
            "android.permission.ACCESS_WIFI_STATE",
            "android.permission.INTERNET",
            "android.permission.READ_PHONE_STATE",
            "android.permission.WAKE_LOCK",
        ]
    );
    assert!(
        jam.cleartext_flag && jam.uses_cleartext_traffic,
        "targetSdk 8 defaults to cleartext"
    );
    assert!(
        !jam.endpoints.is_empty(),
        "jamendo's code names its API server"
    );
    assert!(jam.endpoints.iter().all(|e| !e.value.starts_with("com.")));
    assert!(!jam.signing.as_ref().unwrap().platform_signed);

    let sms = app("system/priv-app/SmsBypass/SmsBypass.apk");
    assert!(sms.privileged);
    assert!(sms.signing.as_ref().unwrap().platform_signed);
    assert_eq!(
        sms.privileged_granted,
        vec!["android.permission.READ_PRIVILEGED_PHONE_STATE"]
    );
    assert_eq!(
        sms.privileged_denied,
        vec!["android.permission.INSTALL_PACKAGES"]
    );
    assert_eq!(
        sms.default_granted,
        vec![
            ("android.permission.READ_CONTACTS".to_string(), false),
            ("android.permission.RECEIVE_SMS".to_string(), true)
        ]
    );
    assert!(
        sms.granted_at_boot
            .contains(&"android.permission.RECEIVE_SMS".to_string())
    );
    assert!(
        !sms.granted_at_boot
            .contains(&"android.permission.SEND_SMS".to_string())
    );

    let split = app("system_ext/app/Split/base.apk");
    assert_eq!(split.package, "apk.embedded");
    assert!(
        split
            .dex_files
            .iter()
            .any(|d| d.starts_with("system_ext/app/Split/split_config")),
        "{:?}",
        split.dex_files
    );
    let bundle = app("product/priv-app/Bundle/game.xapk");
    assert_eq!(bundle.package, "org.sajeg.fallingblocks");
    assert_eq!(
        bundle.splits,
        vec!["product/priv-app/Bundle/game.xapk!config.en.apk"]
    );
    assert_eq!(
        (bundle.partition.as_str(), bundle.privileged),
        ("product", true)
    );
    assert_eq!(app("vendor/app/Dup/Dup.apk").partition, "vendor");
    assert!(!app("system/framework/framework-res.apk").has_code);

    // Risk: S-GSI baseline; the only platform-signed app with code is new → 6 × 1/1.
    let u = &report.risk.uraniborg;
    assert_eq!((u.baseline.as_str(), u.baseline_exact), ("S-GSI", true));
    assert_eq!(u.platform_signature.apps, vec!["souch.smsbypass"]);
    assert_eq!(u.platform_signature.score, 6.0);
    assert!(
        !u.risky_permissions
            .apps
            .contains(&"souch.smsbypass".to_string())
    );
    assert!(
        u.risky_permissions
            .apps
            .contains(&"com.teleca.jamendo".to_string())
    );
    assert!(u.total > 6.0 && u.total <= 10.0);

    // Identifier readers: jamendo has READ_PHONE_STATE (default-granted), INTERNET and call sites.
    assert_eq!(report.identifier_readers.len(), 1);
    let r = &report.identifier_readers[0];
    assert_eq!(r.package, "com.teleca.jamendo");
    assert_eq!(r.pre_granted, vec!["android.permission.READ_PHONE_STATE"]);
    assert_eq!(r.call_sites, 2);
    // a2dp requests READ_PHONE_STATE but not INTERNET: neither reader nor capable.
    assert!(
        report
            .risk
            .identifiers
            .capable
            .iter()
            .all(|c| c.package != "a2dp.Vol")
    );

    // Deterministic output.
    let again = analyze_firmware(root, &code, &sig, &|_| {});
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
}

#[test]
fn missing_root_is_an_error() {
    let r = analyze_firmware(
        Path::new("/nonexistent/phonecert/firmware"),
        &pc_firmware::NoCode,
        &pc_firmware::NoSignatures,
        &|_| {},
    );
    assert!(r.apps.is_empty());
    assert_eq!(r.errors.len(), 1);
}
