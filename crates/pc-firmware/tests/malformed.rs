//! Hostile inputs: errors, never panics.
mod common;

use pc_firmware::tree::PermissionConfig;
use pc_firmware::{NoSignatures, TrackerDb, analyze_apk};

#[test]
fn truncated_apks_at_every_length() {
    let code = common::StubCode::default();
    let db = TrackerDb::embedded();
    for rel in ["apksig/golden-unaligned-in.apk", "fdroid/v2.only.sig_2.apk"] {
        let apk = common::fixture(rel);
        let full = analyze_apk(rel, &apk, &code, &NoSignatures, db);
        assert!(full.error.is_none(), "{rel}: {:?}", full.error);
        for n in 0..apk.len() {
            let _ = analyze_apk(rel, &apk[..n], &code, &NoSignatures, db);
        }
        // Flipped bytes everywhere (every 7th byte).
        let mut bad = apk.clone();
        for i in (0..bad.len()).step_by(7) {
            bad[i] ^= 0xa5;
        }
        let _ = analyze_apk(rel, &bad, &code, &NoSignatures, db);
    }
}

#[test]
fn garbage_and_wrong_magic() {
    let db = TrackerDb::embedded();
    let code = common::StubCode::default();
    let mut zip_of_garbage =
        common::stored_zip(&[("AndroidManifest.xml", b"\x03\x00\x08\x00\xff\xff\xff\x7f")]);
    for input in [
        &b""[..],
        b"PK",
        b"PK\x05\x06",
        &[0xffu8; 4096],
        b"dex\n035\0",
    ] {
        let f = analyze_apk("x.apk", input, &code, &NoSignatures, db);
        assert!(f.error.is_some());
    }
    let f = analyze_apk("x.apk", &zip_of_garbage, &code, &NoSignatures, db);
    assert!(
        f.error.as_deref().unwrap().starts_with("manifest"),
        "{:?}",
        f.error
    );
    // A huge declared size in the central directory.
    let n = zip_of_garbage.len();
    zip_of_garbage[n - 10..n - 6].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        analyze_apk("x.apk", &zip_of_garbage, &code, &NoSignatures, db)
            .error
            .is_some()
    );
    // DEX with huge offsets and counts goes to the (stub) analyzer without harm.
    let mut dex = b"dex\n035\0".to_vec();
    dex.resize(0x70, 0xff);
    let manifest = common::manifest_axml("com.example.bad", &["android.permission.INTERNET"], true);
    let apk = common::stored_zip(&[
        ("AndroidManifest.xml", &manifest),
        ("classes.dex", &dex),
        ("lib/x86/libz.so", &[0xff; 64]),
    ]);
    let f = analyze_apk("x.apk", &apk, &code, &NoSignatures, db);
    assert!(f.error.is_none(), "{:?}", f.error);
    assert_eq!(f.dex_files, vec!["classes.dex"]);
    assert_eq!(f.package, "com.example.bad");
}

#[test]
fn bad_permission_files_and_databases() {
    let mut c = PermissionConfig::default();
    for input in [
        &b"<"[..],
        b"<permissions",
        b"<a b=>",
        b"\xff\xfe<\x00p\x00",
        b"<<<<>>>>",
        b"<?xml",
    ] {
        let _ = c.add_privapp_xml(input, "f");
        let _ = c.add_default_permissions_xml(input, "f");
    }
    // Deep nesting (unclosed) and many tags: bounded, linear, no panic.
    let deep =
        "<a>".repeat(150_000) + "<privapp-permissions package=\"p\">" + &"<b>".repeat(100_000);
    let mut d = PermissionConfig::default();
    let err = d.add_privapp_xml(deep.as_bytes(), "deep");
    assert!(err.is_some(), "tag limit reached");
    assert!(d.privapp["p"].granted.is_empty());
    assert!(TrackerDb::from_json(b"").is_err());
    assert!(TrackerDb::from_json(b"{\"trackers\": 5}").is_err());
    assert!(pc_firmware::perms::PermissionTable::from_json(b"{\"permissions\": []}").is_err());
    assert!(pc_firmware::risk::UraniborgConfig::from_toml("weights = 3").is_err());
}

#[test]
fn garbage_firmware_tree() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::create_dir_all(r.join("system/app/X")).unwrap();
    std::fs::write(r.join("system/app/X/X.apk"), b"").unwrap();
    std::fs::write(r.join("system/app/X/bundle.apks"), b"PK\x03\x04junk").unwrap();
    std::fs::write(
        r.join("system/app/X/empty.xapk"),
        common::stored_zip(&[("readme.txt", b"hi")]),
    )
    .unwrap();
    std::fs::create_dir_all(r.join("system/etc/permissions")).unwrap();
    std::fs::write(r.join("system/etc/permissions/x.xml"), [0xffu8; 1000]).unwrap();
    std::fs::write(r.join("system/build.prop"), [0xffu8; 100]).unwrap();
    let rep = pc_firmware::analyze_firmware(r, &pc_firmware::NoCode, &NoSignatures, &|_| {});
    assert_eq!(rep.apps.len(), 3);
    assert!(rep.apps.iter().all(|a| a.error.is_some()), "{:?}", rep.apps);
    assert_eq!(rep.risk.uraniborg.total, 0.0);
    // A tiny depth limit is reported, not fatal.
    let opts = pc_firmware::Options {
        tree: pc_firmware::tree::Limits {
            max_depth: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let rep = pc_firmware::analyze_firmware_with(
        r,
        &opts,
        TrackerDb::embedded(),
        &pc_firmware::NoCode,
        &NoSignatures,
        &|_| {},
    );
    assert!(rep.apps.is_empty());
    assert!(rep.errors.iter().any(|e| e.contains("depth")));
}
