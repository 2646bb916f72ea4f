//! What an upload is: names against first bytes, and the checks of single files.

use super::*;

#[test]
fn sniff_real_files() {
    let r = root();
    let cases: &[(&str, UploadKind)] = &[
        (
            "examples/acme-a1/captures/first-boot.pcapng",
            UploadKind::Pcapng,
        ),
        (
            "examples/acme-a1/captures/declined-idle.pcap",
            UploadKind::Pcap,
        ),
        (
            "examples/acme-a1/captures/granted-app-session.har",
            UploadKind::Har,
        ),
        ("examples/acme-a1/case.toml", UploadKind::CaseToml),
        (
            "tests/data/synthetic/tls13-h2-grpc.keys",
            UploadKind::KeyLog,
        ),
        (
            "tests/data/pcap/wireshark/tls13-rfc8446.keys",
            UploadKind::KeyLog,
        ),
        (
            "tests/data/pcap/wireshark/dns+icmp.pcapng.gz",
            UploadKind::Gzip,
        ),
        (
            "tests/data/pcap/wireshark/tls-fragmented-handshakes.pcap.gz",
            UploadKind::Gzip,
        ),
        (
            "examples/acme-a1/firmware/system/priv-app/AcmeMessaging/AcmeMessaging.apk",
            UploadKind::Apk,
        ),
    ];
    for (rel, want) in cases {
        let p = r.join(rel);
        let name = p.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(sniff_file(name, &p).expect(rel), *want, "{rel}");
        let l = check_archive(&p, *want, &BundleLimits::default()).expect(rel);
        if *want != UploadKind::Apk {
            assert_eq!(l.entries, 1, "{rel}");
        }
        assert!(l.unpacked_total > 0, "{rel}");
    }
    // The APK, checked as an APK, lists its entries.
    let apk = r.join("examples/acme-a1/firmware/system/priv-app/AcmeMessaging/AcmeMessaging.apk");
    let l = check_archive(&apk, UploadKind::Apk, &BundleLimits::default()).expect("apk");
    assert!(l.files.iter().any(|f| f == "AndroidManifest.xml"), "{l:?}");
}

#[test]
fn sniff_mismatches() {
    let zip = unhex(GOOD_ZIP);
    let e = sniff("capture.pcap", &zip).expect_err("zip as pcap");
    assert_eq!(
        e.to_string(),
        "file name 'capture.pcap' says pcap but the content starts like a ZIP archive"
    );
    assert!(e.is_client_error());

    // Pseudo-random bytes (xorshift) named case.toml.
    let mut x: u32 = 0x1234_5678;
    let random: Vec<u8> = (0..512)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let e = sniff("case.toml", &random).expect_err("random toml");
    assert!(matches!(e, BundleError::Mismatch { .. }), "{e}");
    assert!(e.to_string().contains("binary data"), "{e}");

    // Latin-1 TOML: text, but not UTF-8.
    let e = sniff("case.toml", b"[case]\ntitle = \"T\xe9l\xe9phone\"\n").expect_err("latin-1");
    assert!(matches!(e, BundleError::BadContent { .. }), "{e}");
    assert!(e.to_string().contains("not UTF-8"), "{e}");
    let e = check_bytes(
        UploadKind::CaseToml,
        b"[case]\ntitle = \"T\xe9l\"\n",
        &BundleLimits::default(),
    )
    .expect_err("latin-1 whole");
    assert!(e.to_string().contains("not UTF-8"), "{e}");

    assert!(matches!(
        sniff("Case.toml", b"[case]\n"),
        Err(BundleError::UnknownName { .. })
    ));
    assert!(matches!(
        sniff("evil.exe", b"MZ"),
        Err(BundleError::UnknownName { .. })
    ));
    assert!(matches!(
        sniff(".pcap", b"\xd4\xc3\xb2\xa1"),
        Err(BundleError::UnknownName { .. })
    ));
    assert!(matches!(
        sniff("x.har", b"not json"),
        Err(BundleError::BadContent { .. })
    ));
    assert!(matches!(
        sniff("x.har", &zip),
        Err(BundleError::Mismatch { .. })
    ));
    assert!(matches!(
        sniff("keys.txt", b"hello world\n"),
        Err(BundleError::BadContent { .. })
    ));
    assert!(matches!(
        sniff("fw.tar", &zip),
        Err(BundleError::Mismatch { .. })
    ));
    assert!(matches!(
        sniff("fw.zip", &tar_of(&[("a", b"x")])),
        Err(BundleError::Mismatch { .. })
    ));
    assert!(matches!(
        sniff("app.apk", b"PK\x05\x06"),
        Err(BundleError::Mismatch { .. })
    ));
    assert!(matches!(
        sniff("case.toml", b"no equals sign\n"),
        Err(BundleError::BadContent { .. })
    ));

    // pcap and pcapng are told apart by content: the reader takes both.
    let pcapng =
        std::fs::read(root().join("examples/acme-a1/captures/first-boot.pcapng")).expect("read");
    assert_eq!(
        sniff("boot.pcap", &pcapng[..512]).expect("pcapng"),
        UploadKind::Pcapng
    );

    // Compressed names: the decompressed start must agree too.
    let gz_zip = gz(&zip);
    let e = sniff("boot.pcap.gz", &gz_zip).expect_err("gzip zip");
    assert_eq!(
        e.to_string(),
        "file name 'boot.pcap.gz' says gzip-compressed pcap but the content starts like a ZIP \
         archive once decompressed"
    );
    let gz_pcap = gz(&pcapng);
    assert!(matches!(
        sniff("fw.tar.gz", &gz_pcap),
        Err(BundleError::Mismatch { .. })
    ));
    assert!(matches!(
        sniff("x.har.gz", &gz_pcap),
        Err(BundleError::Mismatch { .. })
    ));
    assert_eq!(
        sniff("x.pcapng.gz", &gz_pcap).expect("gz pcapng"),
        UploadKind::Gzip
    );
    assert_eq!(
        sniff("fw.tgz", &gz(&tar_of(&[("a", b"x")]))).expect("tgz"),
        UploadKind::TarGz
    );
    assert!(matches!(
        sniff("fw.tgz", &zip),
        Err(BundleError::Mismatch { .. })
    ));

    // A tar header with a broken checksum.
    let mut t = tar_of(&[("a", b"x")]);
    t[0] = b'b';
    assert!(matches!(
        sniff("fw.tar", &t),
        Err(BundleError::BadContent { .. })
    ));
    // A control character in a name is escaped in the message.
    let e = sniff("a\u{1b}[31m.exe", b"").expect_err("name");
    assert!(e.to_string().contains("\\u{1b}"), "{e}");
}

#[test]
fn single_file_checks() {
    let l = BundleLimits::default();
    let keys = b"# comment\nCLIENT_RANDOM 00ff 1122\n\nRSA Session-ID:ab Master-Key:cd\r\n";
    check_bytes(UploadKind::KeyLog, keys, &l).expect("keylog");
    let e = check_bytes(
        UploadKind::KeyLog,
        b"CLIENT_RANDOM 00 11\ngarbage here\n",
        &l,
    )
    .expect_err("bad line");
    assert_eq!(
        e.to_string(),
        "the key log upload is invalid at byte 20: line 2 is not a key log line ('LABEL <hex> \
         <hex>' or a '#' comment)"
    );
    assert!(check_bytes(UploadKind::KeyLog, b"# only a comment\n", &l).is_err());

    let e = check_bytes(UploadKind::CaseToml, b"[case]\nid = \"x\"\nbroken = \n", &l)
        .expect_err("toml");
    assert!(e.to_string().contains("line 3"), "{e}");
    check_bytes(
        UploadKind::CaseToml,
        b"\xEF\xBB\xBF[case]\nid = \"x\"\n",
        &l,
    )
    .expect("bom");

    let e = check_bytes(UploadKind::Pcap, &unhex(GOOD_ZIP), &l).expect_err("zip as pcap");
    assert!(matches!(e, BundleError::Invalid { .. }), "{e}");

    // A gzip of something that is not a capture.
    let e = check_bytes(UploadKind::Gzip, &gz(b"hello, not a capture"), &l).expect_err("gz text");
    assert!(matches!(e, BundleError::Invalid { .. }), "{e}");
    // A gzip whose trailer (CRC, size) lies.
    let mut g = gz(b"\xd4\xc3\xb2\xa1 some pcap-ish bytes");
    let n = g.len();
    g[n - 1] ^= 0xff;
    let e = check_bytes(UploadKind::Gzip, &g, &l).expect_err("lying trailer");
    assert!(matches!(e, BundleError::Corrupt { .. }), "{e}");

    assert!(matches!(
        extract_archive(
            Path::new("/nonexistent"),
            UploadKind::Pcap,
            Path::new("/tmp"),
            &l
        ),
        Err(BundleError::NotExtractable { .. })
    ));
}
