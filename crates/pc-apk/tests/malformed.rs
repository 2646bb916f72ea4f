//! Synthetic and malformed inputs: crafted zips (Janus, duplicates, local header tricks, bombs,
//! Zip64), binary XML and resource tables built in the test, truncation and garbage everywhere.

mod common;

use common::*;
use pc_apk::arsc::ResourceTable;
use pc_apk::attrs::id;
use pc_apk::axml::{self, Value};
use pc_apk::manifest::{self, ComponentKind};
use pc_apk::zip::{Anomaly, Archive, ZipError};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/apk/{rel}")).expect("fixture")
}

/// Parses and reads every entry with a small limit; must never panic. Parsing from a file must
/// agree with parsing in memory.
fn exercise(data: &[u8]) {
    if let Ok(a) = parse_both(data) {
        for e in a.entries() {
            let _ = a.read(e, 1 << 16);
            let _ = a.raw_data(e);
        }
        let _ = manifest::from_archive(&a);
    }
}

#[test]
fn synthetic_roundtrip_stored_and_deflate() {
    let text = b"hello hello hello hello hello".repeat(20);
    let zip = build_zip(
        &[],
        &[
            ZEntry::stored("a.txt", b"abc"),
            ZEntry::deflated("b/c.txt", &text),
        ],
        b"a comment",
    );
    let a = parse_both(&zip).expect("parse");
    assert_eq!(a.entries().len(), 2);
    assert_eq!(
        a.read(a.find("a.txt").expect("a"), 100).expect("read"),
        b"abc"
    );
    assert_eq!(
        a.read(a.find("b/c.txt").expect("b"), 10_000).expect("read"),
        text
    );
    assert!(a.anomalies().is_empty(), "{:?}", a.anomalies());
    assert!(a.find("missing").is_none());
    assert_eq!(a.eocd_offset() as usize, zip.len() - 22 - 9);
}

#[test]
fn truncated_at_every_length() {
    let zip = build_zip(
        &[],
        &[
            ZEntry::stored("a", b"abc"),
            ZEntry::deflated("b", &[7u8; 3000]),
        ],
        &[],
    );
    for n in 0..zip.len() {
        let r = parse_both(&zip[..n]);
        // Without the EOCD record nothing parses.
        assert!(r.is_err(), "len {n}");
        exercise(&zip[..n]);
    }
    // A real APK truncated at every length and with its head chopped off.
    let apk = fixture("androguard/AndroidManifest_ShortName.apk");
    for n in 0..apk.len() {
        exercise(&apk[..n]);
        exercise(&apk[n..]);
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let apk = fixture("androguard/AndroidManifest_ShortName.apk");
    let mut state = 0x1234_5678u32;
    for i in 0..apk.len() {
        for v in [0x00u8, 0xff, 0x80, 0x7f] {
            let mut m = apk.clone();
            m[i] = v;
            exercise(&m);
        }
        // xorshift noise in a window
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        if i % 7 == 0 {
            let mut m = apk.clone();
            for k in i..(i + 8).min(m.len()) {
                m[k] ^= (state >> (k % 24)) as u8;
            }
            exercise(&m);
        }
    }
}

#[test]
fn eocd_garbage_and_wrong_magic() {
    assert!(matches!(parse_both(b""), Err(ZipError::NoEocd { .. })));
    assert!(matches!(
        parse_both(&[0u8; 100_000]),
        Err(ZipError::NoEocd { .. })
    ));
    let zip = build_zip(&[], &[ZEntry::stored("a", b"abc")], &[]);
    let eocd = zip.len() - 22;
    // Central directory offset past the EOCD.
    let mut m = zip.clone();
    m[eocd + 16..eocd + 20].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert!(matches!(parse_both(&m), Err(ZipError::BadEocd { .. })));
    // Central directory size huge.
    let mut m = zip.clone();
    m[eocd + 12..eocd + 16].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
    assert!(parse_both(&m).is_err());
    // Entry count huge but directory small: bounded by the directory size.
    let mut m = zip.clone();
    m[eocd + 10..eocd + 12].copy_from_slice(&0xffffu16.to_le_bytes());
    let a = parse_both(&m).expect("lenient");
    assert_eq!(a.entries().len(), 1);
    assert!(a.anomalies().iter().any(|x| matches!(
        x,
        Anomaly::EntryCountMismatch {
            declared: 65535,
            found: 1
        }
    )));
    // Wrong central directory signature.
    let mut m = zip.clone();
    let cd = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().expect("4")) as usize;
    m[cd] = b'X';
    assert!(matches!(
        parse_both(&m),
        Err(ZipError::BadCentralDirectory { .. })
    ));
    // Comment length pointing past the end, and trailing bytes after the comment.
    let mut m = zip.clone();
    m[eocd + 20] = 50;
    assert!(
        parse_both(&m)
            .expect("parse")
            .anomalies()
            .iter()
            .any(|x| matches!(x, Anomaly::CommentLengthMismatch { .. }))
    );
    let mut m = zip.clone();
    m.extend_from_slice(b"junk");
    assert!(
        parse_both(&m)
            .expect("parse")
            .anomalies()
            .iter()
            .any(|x| matches!(x, Anomaly::TrailingData { len: 4, .. }))
    );
    // EOCD beyond the 64 KiB search window is not found (as in libziparchive).
    let mut m = zip.clone();
    m.extend_from_slice(&vec![0u8; 70_000]);
    assert!(matches!(parse_both(&m), Err(ZipError::NoEocd { .. })));
}

#[test]
fn huge_declared_sizes() {
    let mut e = ZEntry::deflated("big", &[0u8; 1000]);
    e.uncompressed = 0xffff_fff0;
    let zip = build_zip(&[], &[e], &[]);
    let a = parse_both(&zip).expect("parse");
    let entry = a.find("big").expect("entry");
    assert!(matches!(
        a.read(entry, 1 << 20),
        Err(ZipError::TooLarge { .. })
    ));
    // Even with no caller limit the ratio is impossible for deflate.
    assert!(matches!(
        a.read(entry, u64::MAX),
        Err(ZipError::Bomb { .. })
    ));
    assert!(
        a.anomalies()
            .iter()
            .any(|x| matches!(x, Anomaly::SuspiciousRatio { .. }))
    );
    // Stored entry whose size runs past the central directory.
    let mut s = ZEntry::stored("s", b"abc");
    s.compressed = 0x7fff_ffff;
    s.uncompressed = 0x7fff_ffff;
    let zip = build_zip(&[], &[s], &[]);
    let a = parse_both(&zip).expect("parse");
    assert!(
        a.anomalies()
            .iter()
            .any(|x| matches!(x, Anomaly::DataOutOfBounds { .. }))
    );
    assert!(a.read(&a.entries()[0], u64::MAX).is_err());
}

#[test]
fn deflate_bomb_stops_at_the_cap() {
    // ~6.5 MB of deflate expanding to 1 GiB + 1 byte of zeros.
    let matches = (1usize << 30) / 258;
    let bomb = zero_bomb(matches);
    let full = 1 + 258 * matches as u64;
    // Sanity: the stream is valid (checked on a small version).
    let small = zero_bomb(10);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(&small[..]), &mut out)
        .expect("valid stream");
    assert_eq!(out.len(), 1 + 2580);
    assert!(out.iter().all(|&b| b == 0));

    let entry = |declared: u32| ZEntry {
        name: b"bomb".to_vec(),
        local_name: None,
        payload: bomb.clone(),
        method: 8,
        crc: 0,
        compressed: bomb.len() as u32,
        uncompressed: declared,
        flags: 0,
        local_extra: Vec::new(),
        share_local_with: None,
    };
    // Honest directory: refused before inflating anything.
    let zip = build_zip(&[], &[entry(full as u32)], &[]);
    let a = parse_both(&zip).expect("parse");
    assert!(
        matches!(a.read(&a.entries()[0], 64 << 20), Err(ZipError::TooLarge { size, .. }) if size == full)
    );
    // Lying directory (declares 4 KiB): inflation stops right after 4 KiB + 1.
    let zip = build_zip(&[], &[entry(4096)], &[]);
    let a = parse_both(&zip).expect("parse");
    assert!(matches!(
        a.read(&a.entries()[0], 64 << 20),
        Err(ZipError::Bomb { .. })
    ));
}

#[test]
fn crc_and_size_mismatch() {
    let mut e = ZEntry::deflated("x", b"some content here");
    e.crc ^= 1;
    let zip = build_zip(&[], &[e], &[]);
    let a = parse_both(&zip).expect("parse");
    assert!(matches!(
        a.read(&a.entries()[0], 1000),
        Err(ZipError::Crc { .. })
    ));
    let mut e = ZEntry::deflated("x", b"some content here");
    e.uncompressed += 5;
    let zip = build_zip(&[], &[e], &[]);
    let a = parse_both(&zip).expect("parse");
    assert!(matches!(
        a.read(&a.entries()[0], 1000),
        Err(ZipError::SizeMismatch { .. })
    ));
    let mut e = ZEntry::deflated("x", b"some content here");
    e.payload = vec![0xff; e.payload.len()];
    let zip = build_zip(&[], &[e], &[]);
    let a = parse_both(&zip).expect("parse");
    assert!(a.read(&a.entries()[0], 1000).is_err());
}

#[test]
fn duplicate_names_first_wins_and_are_reported() {
    let zip = build_zip(
        &[],
        &[
            ZEntry::stored("classes.dex", b"first"),
            ZEntry::stored("x", b"x"),
            ZEntry::stored("classes.dex", b"second"),
        ],
        &[],
    );
    let a = parse_both(&zip).expect("parse");
    assert_eq!(a.entries().len(), 3);
    let e = a.find("classes.dex").expect("found");
    assert_eq!(e.cd_index, 0);
    assert_eq!(a.read(e, 100).expect("read"), b"first");
    assert!(a.anomalies().contains(&Anomaly::DuplicateName {
        name: "classes.dex".into(),
        count: 2
    }));
    // libziparchive refuses the whole archive (kDuplicateEntry).
    assert!(a.rejected_by_android());
}

#[test]
fn local_header_mismatch() {
    let mut e = ZEntry::stored("AndroidManifest.xml", b"data");
    e.local_name = Some(b"AndroidManifest.xmX".to_vec());
    let mut f = ZEntry::stored("b", b"data");
    f.local_name = Some(b"longer-name".to_vec());
    f.local_extra = vec![0; 7]; // extra length differences alone are normal (zipalign)
    let mut g = ZEntry::stored("c", b"data");
    g.local_extra = vec![0; 3];
    let zip = build_zip(&[], &[e, f, g], &[]);
    let a = parse_both(&zip).expect("parse");
    let mism: Vec<_> = a
        .anomalies()
        .iter()
        .filter_map(|x| match x {
            Anomaly::LocalHeaderMismatch { name, what } => Some((name.as_str(), *what)),
            _ => None,
        })
        .collect();
    assert_eq!(
        mism,
        [("AndroidManifest.xml", "name"), ("b", "name length")]
    );
    // Data start follows the LOCAL lengths, so content is still readable.
    for e in a.entries() {
        assert_eq!(a.read(e, 100).expect("read"), b"data");
    }
    assert!(a.rejected_by_android());
}

#[test]
fn prepended_dex_janus() {
    let mut dex = b"dex\n035\0".to_vec();
    dex.resize(0x70, 0);
    let zip = build_zip(
        &dex,
        &[
            ZEntry::stored("AndroidManifest.xml", b"m"),
            ZEntry::deflated("classes.dex", b"real"),
        ],
        &[],
    );
    let a = parse_both(&zip).expect("parse");
    assert!(a.anomalies().contains(&Anomaly::PrependedData {
        len: 0x70,
        dex: true
    }));
    assert_eq!(
        a.read(a.find("classes.dex").expect("dex"), 100)
            .expect("read"),
        b"real"
    );
    // Android does not reject this (that is the vulnerability).
    assert!(!a.rejected_by_android());
    let zip = build_zip(b"#!/bin/sh\n", &[ZEntry::stored("a", b"m")], &[]);
    let a = parse_both(&zip).expect("parse");
    assert!(a.anomalies().contains(&Anomaly::PrependedData {
        len: 10,
        dex: false
    }));
}

#[test]
fn names_methods_flags_and_overlaps() {
    let mut enc = ZEntry::stored("secret", b"xx");
    enc.flags = 1;
    let mut weird = ZEntry::stored("lzma", b"xx");
    weird.method = 14;
    let mut shared = ZEntry::stored("alias", b"zz");
    shared.share_local_with = Some(0);
    let zip = build_zip(
        &[],
        &[
            ZEntry::stored("../../etc/passwd", b"p"),
            enc,
            weird,
            ZEntry::stored("bad\0name", b"n"),
            shared,
        ],
        &[],
    );
    let a = parse_both(&zip).expect("parse");
    let an = a.anomalies();
    assert!(an.contains(&Anomaly::NameWithPathTraversal {
        name: "../../etc/passwd".into()
    }));
    assert!(an.contains(&Anomaly::Encrypted {
        name: "secret".into()
    }));
    assert!(an.contains(&Anomaly::UnsupportedMethod {
        name: "lzma".into(),
        method: 14
    }));
    assert!(an.contains(&Anomaly::InvalidName {
        name: "bad\0name".into()
    }));
    assert!(
        an.iter()
            .any(|x| matches!(x, Anomaly::OverlappingEntries { .. })),
        "{an:?}"
    );
    assert!(matches!(
        a.read(a.find("secret").expect("e"), 10),
        Err(ZipError::Encrypted { .. })
    ));
    assert!(matches!(
        a.read(a.find("lzma").expect("e"), 10),
        Err(ZipError::UnsupportedMethod { method: 14, .. })
    ));
}

#[test]
fn zip64_records_are_honoured() {
    // Entry with saturated 32-bit fields and the real values in the Zip64 extra field.
    let content = b"zip64 content";
    let out = zip64_zip(b"", content);
    // 30-byte local header, 1-byte name, 20-byte Zip64 extra, the content; then one 46-byte
    // central entry with its name and a 28-byte Zip64 extra.
    let cd = 30 + 1 + 20 + content.len() as u64;
    let cd_size = 46 + 1 + 28;
    let a = parse_both(&out).expect("zip64");
    assert_eq!(a.central_directory_offset(), cd);
    assert_eq!(a.central_directory_size(), cd_size);
    let e = a.find("z").expect("entry");
    assert_eq!(e.uncompressed_size, content.len() as u64);
    assert_eq!(a.read(e, 100).expect("read"), content);
    assert!(a.anomalies().contains(&Anomaly::Zip64));
    for n in 0..out.len() {
        exercise(&out[..n]);
    }
}

fn manifest_axml(target_sdk: u32) -> Vec<u8> {
    // Attribute name strings are scrambled/empty: Android (and we) go by resource ID.
    let ids = [
        ("", id::NAME),
        ("x1", id::VERSION_CODE),
        ("x2", id::VERSION_NAME),
        ("", id::MIN_SDK_VERSION),
        ("", id::TARGET_SDK_VERSION),
        ("", id::LABEL),
        ("", id::EXPORTED),
        ("", id::PERMISSION),
        ("", id::PROTECTION_LEVEL),
        ("", id::SHARED_USER_ID),
        ("", id::DEBUGGABLE),
        ("", id::ALLOW_BACKUP),
        ("", id::USES_CLEARTEXT_TRAFFIC),
        ("", id::NETWORK_SECURITY_CONFIG),
        ("", id::VERSION_CODE_MAJOR),
        ("", id::HAS_CODE),
        ("", id::TARGET_ACTIVITY),
    ];
    let mut x = Axml::new(&ids, false);
    let a = ANDROID_NS;
    x.ns("android", a);
    let pkg = x.s("package");
    x.start(
        "manifest",
        &[
            ("", pkg, AV::Str("com.evil")),
            (a, 1, AV::Int(7)),
            (a, 14, AV::Int(1)),
            (a, 2, AV::Ref(0x7f01_0001)),
            (a, 9, AV::Str("android.uid.system")),
        ],
    );
    x.start(
        "uses-sdk",
        &[(a, 3, AV::Int(15)), (a, 4, AV::Int(target_sdk))],
    );
    x.end("uses-sdk");
    for p in [
        "android.permission.READ_PHONE_STATE",
        "android.permission.INTERNET",
        "android.permission.READ_PHONE_STATE",
    ] {
        x.start("uses-permission", &[(a, 0, AV::Str(p))]);
        x.end("uses-permission");
    }
    x.start(
        "uses-permission-sdk-23",
        &[(a, 0, AV::Str("android.permission.READ_SMS"))],
    );
    x.end("uses-permission-sdk-23");
    x.start(
        "permission",
        &[(a, 0, AV::Str("com.evil.PERM")), (a, 8, AV::Int(0x12))],
    );
    x.end("permission");
    x.start(
        "application",
        &[
            (a, 5, AV::Ref(0x7f01_0000)),
            (a, 10, AV::Bool(true)),
            (a, 11, AV::Bool(false)),
            (a, 12, AV::Bool(true)),
            (a, 13, AV::Ref(0x7f01_0002)),
        ],
    );
    x.start("activity", &[(a, 0, AV::Str(".Main"))]);
    x.start("intent-filter", &[]);
    x.start("action", &[(a, 0, AV::Str("android.intent.action.MAIN"))]);
    x.end("action");
    x.start(
        "category",
        &[(a, 0, AV::Str("android.intent.category.LAUNCHER"))],
    );
    x.end("category");
    x.end("intent-filter");
    x.end("activity");
    x.start(
        "activity-alias",
        &[
            (a, 0, AV::Str("Alias")),
            (a, 16, AV::Str(".Main")),
            (a, 6, AV::Bool(false)),
        ],
    );
    x.end("activity-alias");
    x.start(
        "service",
        &[
            (a, 0, AV::Str("com.other.Svc")),
            (a, 7, AV::Str("com.evil.PERM")),
        ],
    );
    x.start("intent-filter", &[]);
    x.end("intent-filter");
    x.end("service");
    x.start("receiver", &[(a, 0, AV::Str(".Rcv"))]);
    x.end("receiver");
    x.start("provider", &[(a, 0, AV::Str(".Prov"))]);
    x.end("provider");
    x.end("application");
    // Not a direct child of <manifest>: Android ignores it.
    x.start("queries", &[]);
    x.start(
        "uses-permission",
        &[(a, 0, AV::Str("android.permission.CAMERA"))],
    );
    x.end("uses-permission");
    x.end("queries");
    x.end("manifest");
    x.finish()
}

fn nsc_axml() -> Vec<u8> {
    let mut x = Axml::new(&[], true);
    let (ct, inc, src, dig) = (
        x.s("cleartextTrafficPermitted"),
        x.s("includeSubdomains"),
        x.s("src"),
        x.s("digest"),
    );
    x.start("network-security-config", &[]);
    x.start("base-config", &[("", ct, AV::Bool(true))]);
    x.start("trust-anchors", &[]);
    x.start("certificates", &[("", src, AV::Str("system"))]);
    x.end("certificates");
    x.start("certificates", &[("", src, AV::Str("user"))]);
    x.end("certificates");
    x.end("trust-anchors");
    x.end("base-config");
    x.start("domain-config", &[("", ct, AV::Bool(false))]);
    x.start("domain", &[("", inc, AV::Bool(true))]);
    x.text("example.com");
    x.end("domain");
    x.start("pin-set", &[]);
    x.start("pin", &[("", dig, AV::Str("SHA-256"))]);
    x.text("7HIpactkIAq2Y49orFOOQKurWxmmSFZhBCoQYcRhJ3Y=");
    x.end("pin");
    x.end("pin-set");
    x.start("domain-config", &[]);
    x.start("domain", &[]);
    x.text("sub.example.org");
    x.end("domain");
    x.end("domain-config");
    x.end("domain-config");
    x.start("debug-overrides", &[]);
    x.end("debug-overrides");
    x.end("network-security-config");
    x.finish()
}

fn synthetic_apk(target_sdk: u32) -> Vec<u8> {
    let arsc = build_arsc(
        1,
        &[
            ("", 0, "Evil App"),
            ("fr", 0, "Appli"),
            ("", 1, "6.6.6"),
            ("", 2, "res/xml/network_security_config.xml"),
        ],
        false,
    );
    build_zip(
        &[],
        &[
            ZEntry::deflated("AndroidManifest.xml", &manifest_axml(target_sdk)),
            ZEntry::stored("resources.arsc", &arsc),
            ZEntry::deflated("res/xml/network_security_config.xml", &nsc_axml()),
        ],
        &[],
    )
}

#[test]
fn synthetic_manifest_with_resources_and_nsc() {
    let apk = synthetic_apk(16);
    let a = Archive::parse(&apk).expect("zip");
    let full = manifest::from_archive(&a).expect("manifest");
    let m = &full.manifest;
    assert_eq!(m.package, "com.evil");
    assert_eq!(m.version_code, Some((1u64 << 32) | 7));
    assert_eq!(m.version_name.as_deref(), Some("6.6.6"));
    assert_eq!(
        m.label.as_deref(),
        Some("Evil App"),
        "default configuration preferred"
    );
    assert_eq!(
        (m.min_sdk, m.target_sdk, m.max_sdk),
        (Some(15), Some(16), None)
    );
    assert_eq!(m.shared_user_id.as_deref(), Some("android.uid.system"));
    assert_eq!(
        m.permissions,
        [
            "android.permission.READ_PHONE_STATE",
            "android.permission.INTERNET",
            "android.permission.READ_SMS"
        ]
    );
    assert_eq!(
        m.declared_permissions[0].protection_level.as_deref(),
        Some("signature|privileged")
    );
    assert!(m.debuggable);
    assert!(!m.allow_backup);
    assert!(m.has_code);
    assert_eq!(m.uses_cleartext_traffic, Some(true));
    assert!(m.cleartext_default);
    let names: Vec<(&str, ComponentKind, bool)> = m
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.kind, c.exported))
        .collect();
    assert_eq!(
        names,
        [
            ("com.evil.Main", ComponentKind::Activity, true),
            ("com.evil.Alias", ComponentKind::ActivityAlias, false),
            ("com.other.Svc", ComponentKind::Service, true),
            ("com.evil.Rcv", ComponentKind::Receiver, false),
            ("com.evil.Prov", ComponentKind::Provider, true), // target 16 < 17
        ]
    );
    assert_eq!(
        m.components[1].target_activity.as_deref(),
        Some("com.evil.Main")
    );
    assert_eq!(m.components[1].exported_explicit, Some(false));
    assert_eq!(m.components[2].permission.as_deref(), Some("com.evil.PERM"));
    assert_eq!(m.main_activity.as_deref(), Some("com.evil.Main"));
    assert_eq!(
        m.network_security_config.as_deref(),
        Some("res/xml/network_security_config.xml")
    );
    let nsc = full.network_security_config.expect("nsc");
    assert_eq!(nsc.base_cleartext_permitted, Some(true));
    assert!(nsc.trust_user_certs);
    assert!(nsc.debug_overrides);
    assert_eq!(nsc.domain_configs.len(), 2);
    assert_eq!(
        nsc.domain_configs[0].domains,
        [("example.com".to_string(), true)]
    );
    assert_eq!(nsc.domain_configs[0].cleartext_permitted, Some(false));
    assert_eq!(nsc.domain_configs[0].pins, 1);
    assert_eq!(
        nsc.domain_configs[1].domains,
        [("sub.example.org".to_string(), false)]
    );
    // Obfuscated attribute names are replaced by the canonical ones.
    let xml = axml::to_xml_string(&full.document);
    assert!(xml.contains("android:versionCode=\"7\""), "{xml}");

    // Target 17+: providers are no longer exported by default; cleartext default off at 28.
    let apk = synthetic_apk(28);
    let a = Archive::parse(&apk).expect("zip");
    let m = manifest::from_archive(&a).expect("manifest").manifest;
    assert!(
        !m.components
            .iter()
            .find(|c| c.kind == ComponentKind::Provider)
            .expect("p")
            .exported
    );
    assert_eq!(m.uses_cleartext_traffic, Some(true));
}

#[test]
fn arsc_resolution_configs_and_sparse() {
    let t = ResourceTable::parse(&build_arsc(
        1,
        &[("fr", 0, "Appli"), ("", 0, "App"), ("de", 3, "Nur")],
        false,
    ))
    .expect("arsc");
    assert_eq!(t.resolve_string(0x7f01_0000).as_deref(), Some("App"));
    // No default configuration: first one found (androguard's fallback too).
    assert_eq!(t.resolve_string(0x7f01_0003).as_deref(), Some("Nur"));
    assert_eq!(t.values(0x7f01_0000).len(), 2);
    assert!(t.resolve(0x7f01_0001).is_none());
    let s =
        ResourceTable::parse(&build_arsc(5, &[("", 0, "a"), ("", 9, "j")], true)).expect("sparse");
    assert_eq!(s.resolve_string(0x7f05_0009).as_deref(), Some("j"));
    assert_eq!(s.packages(), [(0x7f, "com.example".to_string())]);
}

#[test]
fn axml_and_arsc_truncated_and_garbage() {
    let xml = manifest_axml(20);
    assert!(axml::parse(&xml).is_ok());
    for n in 0..xml.len() {
        let _ = axml::parse(&xml[..n]);
        let mut m = xml.clone();
        m[n] ^= 0xff;
        if let Ok(doc) = axml::parse(&m) {
            let _ = manifest::from_axml(&doc, None);
            let _ = axml::to_xml_string(&doc);
        }
    }
    let arsc = build_arsc(1, &[("", 0, "Evil"), ("fr", 1, "x")], false);
    for n in 0..arsc.len() {
        if let Ok(t) = ResourceTable::parse(&arsc[..n]) {
            let _ = t.resolve(0x7f01_0000);
        }
        let mut m = arsc.clone();
        m[n] ^= 0xff;
        if let Ok(t) = ResourceTable::parse(&m) {
            let _ = t.resolve(0x7f01_0000);
            let _ = t.resolve(0x7f01_0001);
        }
    }
    assert!(matches!(
        axml::parse(b"<?xml version=\"1.0\"?><manifest/>"),
        Err(axml::AxmlError::NotBinaryXml { .. })
    ));
    assert!(axml::parse(&[0u8; 3]).is_err());
    assert!(ResourceTable::parse(b"garbage garbage").is_err());
    // Real resource tables truncated at many lengths.
    let apk = fixture("androguard/com.teleca.jamendo_35.apk");
    let a = Archive::parse(&apk).expect("zip");
    let real = a
        .read_by_name("resources.arsc", 1 << 26)
        .expect("arsc")
        .expect("read");
    let step = (real.len() / 300).max(1);
    for n in (0..real.len()).step_by(step) {
        if let Ok(t) = ResourceTable::parse(&real[..n]) {
            let _ = t.resolve_string(0x7f09_0002);
        }
    }
    let man = a
        .read_by_name("AndroidManifest.xml", 1 << 20)
        .expect("m")
        .expect("read");
    for n in 0..man.len() {
        let _ = axml::parse(&man[..n]);
    }
}

#[test]
fn axml_tricks() {
    // Element header size lies (bigger than 16): the extension is found at headerSize, as
    // ResXMLParser does. Here we only check nothing breaks and names still resolve.
    let mut x = Axml::new(&[("", id::NAME)], true);
    x.start("manifest", &[]);
    x.start("uses-permission", &[(ANDROID_NS, 0, AV::Str("p"))]);
    x.end("uses-permission");
    x.end("manifest");
    let mut data = x.finish();
    // Unknown chunk appended inside the document, and a bogus root size.
    data.extend_from_slice(&[0x77, 0x77, 8, 0, 12, 0, 0, 0, 1, 2, 3, 4]);
    data[4..8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let doc = axml::parse(&data).expect("lenient");
    let root = doc.root.as_ref().expect("root");
    assert_eq!(
        root.children[0].android_attr(id::NAME),
        Some(&Value::String("p".into()))
    );
    // Resource ID wins over the (empty) name string.
    assert_eq!(root.children[0].attrs[0].name, "name");
    assert_eq!(doc.element_count(), 2);
    // Deep nesting is capped, not a stack overflow.
    let mut x = Axml::new(&[], true);
    for _ in 0..2000 {
        x.start("a", &[]);
    }
    assert!(matches!(
        axml::parse(&x.finish()),
        Err(axml::AxmlError::Limit { .. })
    ));
}
