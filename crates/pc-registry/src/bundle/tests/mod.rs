//! Tests of the upload checks: archives are built here (by hand, byte by byte, so hostile
//! constructions are possible) or are small fixtures made by real tools (GNU tar 1.34, Info-ZIP),
//! embedded as hex.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};

use super::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tar --format=pax -czf pax.tgz -C src .`: "./" root entry, a 126-byte path in a pax header.
const PAX_TGZ: &str = "1f8b0800000000000003eddad14edb301406e05ef729fa04ae8f8f1d938b5eec6e175cec15321209a4768952772a6f8f4155485246e4cdf1bae5ff6e4018c941e6ff0f5811db6fc5f96b5594557bdc8ad52ca49769fdf6d11b7f94d2ea15712695cda47efd3a49367ab539cff33843a7a32b5aff2829f6ba412c37857b3a543bb279467786f84ee49665ae8d546bbffa305ccd85b4d6afeadcaefff6b3c39f13dbf9f7788bb831bfcebfff7c987f52d2ae3666fe477bcf7f5bd7eeb3ef9b5a1fff70ff08d1efffe3f3d15587e87b84f73f19cde8ff14aefbbfdff0e8ffff9db8847ece3110deffca30a3ff53e8cebf37068aa689ba4778ff2b56e8ff24d0ffcbd6e5df877eae1910deffcc84fe4f6270febd19701fd154ff338dfa5f998c2cfa3f05d27ad314ee7137f8458879fa21b6ebf0794497558579f41b521c7b70ffb3548cfb9f24529dffa7fdaf68dcffca1af47f0aa4f35beaffb37067f7e11078af790c81886e21ff7ef5baff7dfe936472e1fdff58edf73542b3581fddff7d3f3ded4bd1b475a46bc0c9fc5fddff71e6ff24c0fc4f00f77fcbd6e53f76e87b26f3afc6f9d78625e67f0a6dfd7ae6e5e9c189435d56fbdd1742ae1764f0fec7cfea4759b7d1f7089fff6408efff2581fbd6651397d0dfdafb1f52e3fe3785eefc7b63a03a34ee39e21ee1fdaf32a3d0ff29e0aa75d9bafcc70e7dcf64feafdfff3086f1ff1f00000000000000000000000000408817eb5f6cbd00500000";
/// The same tree with `--format=gnu`: the long path in a `././@LongLink` header.
const GNU_TGZ: &str = "1f8b0800000000000003edd8dd4e83301806608ebd0aae00dad29f231377ce4d6c83e8225002c56c776f991c388c108d2d4cdee7a40b90b4e1e5fb56682fadc9cb387089584a88eb688dc7eb6f9a48c29424bc3f4e2951320885d3550dbad6ec9b300c1aadcdd47573e7ef54fb91ffbeaedd3d03bfc85f0ae4ef451447f153aaabe7f454bd3a9aa30f5872fe6dfe8c889b67a1cfdf0e61ea683d37369effa7fa4f17e2f6cf0726f9c8ffc7fd9f299230f47f1f56d1ff291bf77fd1efffd0ffdd5b43ff3f47e6fc1fefed3df0d5ffa7eadf9efddaffedfe8ff8b8011bafff97bc28f4c3d2ab80a50cf57fe84e4516d58dae1dcc315bff8c8fdeff13a212d4bf0f8dee53cfbaa3894a9de5c5e38ea21b6cc85b5e65ba59dff75faef0fee7c3907f5ed6e6e26a8ef9fddf387f46a944ff07000000000000f82bef955e64d200280000";
/// `zip -X -r good.zip docs/a.txt docs/`: the folder entry comes after the file inside it.
const GOOD_ZIP: &str = "504b03040a00000000006222825db390e41607000000070000000a000000646f63732f612e747874726561646d650a504b03040a00000000006222825d00000000000000000000000005000000646f63732f504b01021e030a00000000006222825db390e41607000000070000000a0000000000000001000000a48100000000646f63732f612e747874504b01021e030a00000000006222825d000000000000000000000000050000000000000000001000ed412f000000646f63732f504b050600000000020002006b000000520000000000";
/// `zip -X -y link.zip docs/a.txt docs/link` with docs/link -> /etc/passwd.
const LINK_ZIP: &str = "504b03040a00000000006222825db390e41607000000070000000a000000646f63732f612e747874726561646d650a504b03040a00000000006222825d0ab91f290b0000000b00000009000000646f63732f6c696e6b2f6574632f706173737764504b01021e030a00000000006222825db390e41607000000070000000a0000000000000001000000a48100000000646f63732f612e747874504b01021e030a00000000006222825d0ab91f290b0000000b000000090000000000000000000000ffa12f000000646f63732f6c696e6b504b050600000000020002006f000000610000000000";

/// `tar --format=gnu --owner=0 --group=0 --numeric-owner --sort=name -czf fw.tgz -C src system`
/// with system/bin/toybox, system/bin/ls -> toybox, system/bin/toybox2 a hard link to
/// system/bin/toybox and system/vendor -> /vendor.
const FIRMWARE_TGZ: &str = "1f8b0800000000000003edd5dd0a82401005e0bdee29f60ddaff799e242f8252702df2edd3d520140aa1d1c8f3ddac7833c31e678c4dacf3cb5e70522df23e9dadf1999eb523ebb53221bd271382909eb5abc135d6874aca254afda2d8e79f9d0abe6f6076fe5a298bfc17f192ff3932d548f913cdc85f0767853475d964e59da9ab01f27fe6cf76db5dc0c1b937f9d3387fab8c908aa197898de7df87be5bbb0d58c964fecdf76b7c9efff1fe77a44948bdc472daf8fc0f577ccb8b635931d598ffff37aadbff86b7addec6f307000000000000000000000080fff20057534a0c00280000";

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("fixture hex")
}

fn write_tmp(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, data).expect("write fixture");
    p
}

fn check_bytes(
    kind: UploadKind,
    data: &[u8],
    limits: &BundleLimits,
) -> Result<Listing, BundleError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_tmp(&dir, "upload", data);
    check_archive(&p, kind, limits)
}

/// Checks, then extracts into a fresh folder; both must agree. Returns the folder on success.
fn both(
    kind: UploadKind,
    data: &[u8],
    limits: &BundleLimits,
) -> Result<(Listing, tempfile::TempDir), BundleError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_tmp(&dir, "upload", data);
    let checked = check_archive(&p, kind, limits);
    let out = tempfile::tempdir().expect("tempdir");
    let extracted = extract_archive(&p, kind, out.path(), limits);
    match (checked, extracted) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "check and extract listings differ");
            Ok((b, out))
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "check and extract disagree");
            Err(b)
        }
        (a, b) => panic!("check {a:?} but extract {b:?}"),
    }
}

fn err_of(kind: UploadKind, data: &[u8]) -> BundleError {
    match both(kind, data, &BundleLimits::default()) {
        Ok((l, _)) => panic!("accepted: {l:?}"),
        Err(e) => e,
    }
}

// --- tar by hand --------------------------------------------------------------------------------

fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0w$o}\0", v, w = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

/// A POSIX ustar header; names up to 100 bytes go in `name`, longer ones are split on a '/'
/// into `prefix` as tar does.
fn header(name: &[u8], typeflag: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    if name.len() <= 100 {
        h[..name.len()].copy_from_slice(name);
    } else {
        let cut = name[..name.len() - 100].len()
            + name[name.len() - 100..]
                .iter()
                .position(|&b| b == b'/')
                .expect("splittable");
        h[345..345 + cut].copy_from_slice(&name[..cut]);
        h[..name.len() - cut - 1].copy_from_slice(&name[cut + 1..]);
    }
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    if size < 1 << 33 {
        octal(&mut h[124..136], size);
    } else {
        // GNU base-256 for sizes octal cannot hold.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut h[136..148], 0);
    h[156] = typeflag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    fix_checksum(&mut h);
    h
}

fn fix_checksum(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

fn pad(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(512) {
        v.push(0);
    }
}

fn entry(v: &mut Vec<u8>, name: &[u8], typeflag: u8, data: &[u8], link: &[u8]) {
    v.extend_from_slice(&header(name, typeflag, data.len() as u64, link));
    v.extend_from_slice(data);
    pad(v);
}

fn file(v: &mut Vec<u8>, name: &str, data: &[u8]) {
    entry(v, name.as_bytes(), b'0', data, b"");
}

fn end(v: &mut Vec<u8>) {
    v.extend_from_slice(&[0u8; 1024]);
}

fn pax(v: &mut Vec<u8>, typeflag: u8, records: &[(&str, &[u8])]) {
    let mut body = Vec::new();
    for (k, val) in records {
        let rest = k.len() + val.len() + 3;
        // The length counts its own digits.
        let mut len = rest + 1;
        while format!("{len}").len() + rest != len {
            len += 1;
        }
        body.extend_from_slice(format!("{len} {k}=").as_bytes());
        body.extend_from_slice(val);
        body.push(b'\n');
    }
    entry(v, b"./PaxHeaders/x", typeflag, &body, b"");
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    for (n, d) in files {
        file(&mut v, n, d);
    }
    end(&mut v);
    v
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("gz");
    e.finish().expect("gz")
}

// --- zip by hand --------------------------------------------------------------------------------

struct Z<'a> {
    name: &'a [u8],
    data: &'a [u8],
    deflate: bool,
    /// Unix st_mode, stored in the external attributes with a Unix "made by" host.
    mode: Option<u32>,
    /// Overrides the uncompressed size written in both headers.
    declared: Option<u32>,
}

fn z<'a>(name: &'a str, data: &'a [u8]) -> Z<'a> {
    Z {
        name: name.as_bytes(),
        data,
        deflate: false,
        mode: None,
        declared: None,
    }
}

fn zip_of(entries: &[Z<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for e in entries {
        let payload = if e.deflate {
            let mut d = DeflateEncoder::new(Vec::new(), Compression::best());
            d.write_all(e.data).expect("deflate");
            d.finish().expect("deflate")
        } else {
            e.data.to_vec()
        };
        let mut crc = flate2::Crc::new();
        crc.update(e.data);
        let method: u16 = if e.deflate { 8 } else { 0 };
        let usize_ = e.declared.unwrap_or(e.data.len() as u32);
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&method.to_le_bytes());
            v.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
            v.extend_from_slice(&crc.sum().to_le_bytes());
            v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            v.extend_from_slice(&usize_.to_le_bytes());
            v.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(e.name);
        out.extend_from_slice(&payload);
        cd.extend_from_slice(b"PK\x01\x02");
        let made_by: u16 = if e.mode.is_some() { 0x031e } else { 0x0014 };
        cd.extend_from_slice(&made_by.to_le_bytes());
        common(&mut cd);
        cd.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // comment len, disk, internal attrs
        cd.extend_from_slice(&(e.mode.unwrap_or(0) << 16).to_le_bytes());
        cd.extend_from_slice(&offset.to_le_bytes());
        cd.extend_from_slice(e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

// --- sniff --------------------------------------------------------------------------------------

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

// --- valid archives -----------------------------------------------------------------------------

#[test]
fn valid_tar_and_tgz() {
    let long = format!("system/{}/file.bin", "d".repeat(120));
    let mut t = Vec::new();
    entry(&mut t, b"./", b'5', b"", b"");
    entry(&mut t, b"system/", b'5', b"", b"");
    file(&mut t, "system/build.prop", b"ro.product.model=A1\n");
    file(&mut t, &long, &[7u8; 1000]); // ustar prefix field
    file(&mut t, "vendor/empty", b"");
    end(&mut t);
    for (kind, data) in [(UploadKind::Tar, t.clone()), (UploadKind::TarGz, gz(&t))] {
        let (l, out) = both(kind, &data, &BundleLimits::default()).expect("valid");
        assert_eq!(l.entries, 5);
        assert_eq!(l.unpacked_total, 1020);
        assert_eq!(
            l.files,
            vec![
                "system/build.prop".to_string(),
                long.clone(),
                "vendor/empty".into()
            ]
        );
        assert!(!l.files_truncated);
        assert_eq!(
            std::fs::read(out.path().join("system/build.prop")).expect("read"),
            b"ro.product.model=A1\n"
        );
        assert_eq!(
            std::fs::read(out.path().join(&long)).expect("read"),
            vec![7u8; 1000]
        );
        assert!(out.path().join("vendor").is_dir());
    }
    let mut small = BundleLimits {
        max_listed: 1,
        ..BundleLimits::default()
    };
    let l = check_bytes(UploadKind::Tar, &t, &small).expect("listing cap");
    assert_eq!(l.files.len(), 1);
    assert!(l.files_truncated);
    small.max_entries = 4;
    assert!(matches!(
        check_bytes(UploadKind::Tar, &t, &small),
        Err(BundleError::TooManyEntries { .. })
    ));
}

#[test]
fn real_gnu_tar_archives() {
    let long = format!("system/app/{}/x.txt", "L".repeat(120));
    for fixture in [PAX_TGZ, GNU_TGZ] {
        let data = unhex(fixture);
        assert_eq!(sniff("fw.tar.gz", &data).expect("sniff"), UploadKind::TarGz);
        let (l, out) = both(UploadKind::TarGz, &data, &BundleLimits::default()).expect("real tgz");
        assert_eq!(
            l.files,
            vec![
                long.clone(),
                "system/build.prop".into(),
                "vendor/empty".into()
            ]
        );
        assert_eq!(
            std::fs::read(out.path().join(&long)).expect("read"),
            b"hello\n"
        );
        // Uncompressed, as a plain tar.
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&data[..])
            .read_to_end(&mut plain)
            .expect("gunzip");
        assert_eq!(sniff("fw.tar", &plain).expect("sniff tar"), UploadKind::Tar);
        both(UploadKind::Tar, &plain, &BundleLimits::default()).expect("real tar");
    }
}

#[test]
fn valid_zips() {
    let (l, out) = both(UploadKind::Zip, &unhex(GOOD_ZIP), &BundleLimits::default()).expect("zip");
    assert_eq!(l.entries, 2);
    assert_eq!(l.files, vec!["docs/a.txt".to_string()]);
    assert_eq!(
        std::fs::read(out.path().join("docs/a.txt")).expect("read"),
        b"readme\n"
    );

    let text = "phonecert ".repeat(10_000);
    let data = zip_of(&[
        Z {
            deflate: true,
            ..z("a/b/deflated.txt", text.as_bytes())
        },
        z("a/", b""),
        z("stored.bin", b"\x00\x01\x02"),
    ]);
    let (l, out) = both(UploadKind::Zip, &data, &BundleLimits::default()).expect("built zip");
    assert_eq!(l.unpacked_total, text.len() as u64 + 3);
    assert_eq!(
        std::fs::read(out.path().join("a/b/deflated.txt")).expect("read"),
        text.as_bytes()
    );

    // A real APK extracts as a zip (deflate entries, signing block, zipalign padding).
    let apk = std::fs::read(root().join("examples/acme-a1/firmware/app/AcmeClock/AcmeClock.apk"))
        .or_else(|_| {
            std::fs::read(
                root().join("examples/acme-a1/firmware/vendor/app/AcmeClock/AcmeClock.apk"),
            )
        })
        .expect("apk");
    let (l, out) = both(UploadKind::Zip, &apk, &BundleLimits::default()).expect("apk as zip");
    assert!(l.files.iter().any(|f| f == "AndroidManifest.xml"));
    assert!(out.path().join("AndroidManifest.xml").is_file());
}

// --- paths --------------------------------------------------------------------------------------

#[test]
fn path_rules() {
    let bad: &[(&str, &str)] = &[
        ("../x", "escapes"),
        ("/abs", "absolute"),
        ("a/../../b", "escapes"),
        ("a/../b", "'..'"),
        ("C:\\x", "backslash"),
        ("c:x", "drive letter"),
        ("a\\b", "backslash"),
        ("a//b", "empty component"),
        ("a/./b", "'.'"),
        ("./../x", "escapes"),
        ("a\u{1}b", "control"),
        ("a\u{202e}txt.exe", "control"),
    ];
    for (name, why) in bad {
        for kind in [UploadKind::Tar, UploadKind::TarGz, UploadKind::Zip] {
            let data = match kind {
                UploadKind::Zip => zip_of(&[z(name, b"x")]),
                UploadKind::Tar => tar_of(&[(name, b"x")]),
                _ => gz(&tar_of(&[(name, b"x")])),
            };
            let e = err_of(kind, &data);
            assert!(
                matches!(e, BundleError::BadPath { .. }),
                "{kind} {name:?}: {e}"
            );
            assert!(e.to_string().contains(why), "{kind} {name:?}: {e}");
        }
    }
    // The message names the entry and the offset of its header.
    let mut t = Vec::new();
    file(&mut t, "a", b"");
    file(&mut t, "b", b"");
    file(&mut t, "c", b"");
    file(&mut t, "a/../../etc/passwd", b"root");
    end(&mut t);
    assert_eq!(
        err_of(UploadKind::Tar, &t).to_string(),
        "entry 'a/../../etc/passwd' at byte 1536: path escapes the archive folder"
    );
    assert_eq!(
        err_of(UploadKind::TarGz, &gz(&t)).to_string(),
        "entry 'a/../../etc/passwd' at byte 1536 of the decompressed tar: path escapes the archive folder"
    );
    // Non-UTF-8, too long, too deep.
    let mut t = Vec::new();
    entry(&mut t, b"caf\xe9", b'0', b"", b"");
    end(&mut t);
    assert!(err_of(UploadKind::Tar, &t).to_string().contains("UTF-8"));
    let limits = BundleLimits {
        max_path_len: 10,
        max_depth: 3,
        ..BundleLimits::default()
    };
    let e = both(UploadKind::Tar, &tar_of(&[("abcdefghijk", b"")]), &limits).expect_err("long");
    assert!(e.to_string().contains("longer than 10 bytes"), "{e}");
    let e = both(UploadKind::Tar, &tar_of(&[("a/b/c/d", b"")]), &limits).expect_err("deep");
    assert!(e.to_string().contains("deeper than 3"), "{e}");
    both(UploadKind::Tar, &tar_of(&[("a/b/c", b"")]), &limits).expect("3 deep is fine");
    // A pax path overrides the header name: checked, not the harmless-looking header name.
    let mut t = Vec::new();
    pax(
        &mut t,
        b'x',
        &[("path", b"../../root/.ssh/authorized_keys")],
    );
    file(&mut t, "harmless", b"key");
    end(&mut t);
    let e = err_of(UploadKind::Tar, &t);
    assert!(
        e.to_string()
            .contains("'../../root/.ssh/authorized_keys' at byte 0"),
        "{e}"
    );
    // And a GNU long name likewise.
    let mut t = Vec::new();
    entry(&mut t, b"././@LongLink", b'L', b"/etc/cron.d/x\0", b"");
    file(&mut t, "harmless", b"x");
    end(&mut t);
    assert!(err_of(UploadKind::Tar, &t).to_string().contains("absolute"));
}

fn link(path: &str, target: &str, kind: LinkKind) -> LinkRecord {
    LinkRecord {
        path: path.into(),
        target: target.into(),
        kind,
    }
}

/// Nothing at all at `rel` in `out`: no file, no folder, not even a dangling link.
fn absent(out: &tempfile::TempDir, rel: &str) {
    match std::fs::symlink_metadata(out.path().join(rel)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => panic!("{rel} exists after extraction: {other:?}"),
    }
}

/// A zip symbolic link as Info-ZIP writes one: Unix mode S_IFLNK, the target as content.
fn zlink<'a>(name: &'a str, target: &'a [u8]) -> Z<'a> {
    Z {
        mode: Some(0o120_777),
        ..z(name, target)
    }
}

#[test]
fn links_and_special_files() {
    use LinkKind::{Hard, Symbolic};
    let dl = BundleLimits::default();
    // A symbolic and a hard link: accepted, recorded with their targets, never written.
    let mut t = Vec::new();
    file(&mut t, "a", b"x");
    entry(&mut t, b"lib", b'2', b"", b"/etc");
    entry(&mut t, b"d/b", b'1', b"", b"a");
    end(&mut t);
    for (kind, data) in [(UploadKind::Tar, t.clone()), (UploadKind::TarGz, gz(&t))] {
        let (l, out) = both(kind, &data, &dl).expect("links are recorded");
        assert_eq!(l.entries, 3);
        assert_eq!(l.files, ["a"]);
        assert_eq!(
            l.links,
            [link("lib", "/etc", Symbolic), link("d/b", "a", Hard)]
        );
        assert_eq!(l.links_skipped, 2);
        assert!(!l.links_truncated);
        absent(&out, "lib");
        absent(&out, "d/b");
        // The folder a link's path implies is made, as for a file.
        assert!(
            std::fs::symlink_metadata(out.path().join("d"))
                .unwrap()
                .is_dir()
        );
        assert_eq!(std::fs::read(out.path().join("a")).unwrap(), b"x");
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 2);
    }
    let json = serde_json::to_value(link("lib", "/etc", Symbolic)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"path": "lib", "target": "/etc", "kind": "symbolic link"})
    );

    // A link holds its path like a file: nothing may go under it, nothing may share its name.
    let mut t = Vec::new();
    entry(&mut t, b"lib", b'2', b"", b"/etc");
    file(&mut t, "lib/passwd", b"root::0:0::/:/bin/sh\n");
    end(&mut t);
    assert_eq!(
        err_of(UploadKind::Tar, &t).to_string(),
        "entry 'lib/passwd' at byte 512 goes through the link 'lib'"
    );
    let mut t = Vec::new();
    entry(&mut t, b"lib", b'2', b"", b"/etc");
    entry(&mut t, b"lib/", b'5', b"", b"");
    end(&mut t);
    assert_eq!(
        err_of(UploadKind::Tar, &t).to_string(),
        "entry 'lib' at byte 512 is a folder but an earlier entry is the link 'lib'"
    );
    let mut t = Vec::new();
    file(&mut t, "a", b"x");
    entry(&mut t, b"a", b'2', b"", b"b");
    end(&mut t);
    assert_eq!(
        err_of(UploadKind::Tar, &t).to_string(),
        "entry 'a' at byte 1024 appears more than once in the archive"
    );
    let mut t = Vec::new();
    entry(&mut t, b"a", b'1', b"", b"b");
    file(&mut t, "a", b"x");
    end(&mut t);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Duplicate { .. }
    ));
    let mut t = Vec::new();
    file(&mut t, "d/f", b"x");
    entry(&mut t, b"d", b'2', b"", b"elsewhere");
    end(&mut t);
    assert_eq!(
        err_of(UploadKind::Tar, &t).to_string(),
        "entry 'd' at byte 1024 is a link but an earlier entry made a folder of 'd'"
    );

    // The link's own name is checked like any entry's.
    for (name, why) in [
        (&b"/etc/cron.d/x"[..], "absolute paths are not accepted"),
        (b"../x", "path escapes the archive folder"),
        (b"a/../b", "the path has a '..' component"),
        (
            b"bin/\xe2\x80\xaels",
            "the name contains control characters",
        ),
        (b"ls/", "a symbolic link entry's name ends with '/'"),
        (b"./", "a symbolic link entry's name ends with '/'"),
        (b".", "a symbolic link entry is named like the archive root"),
    ] {
        let mut t = Vec::new();
        entry(&mut t, name, b'2', b"", b"toybox");
        end(&mut t);
        match err_of(UploadKind::Tar, &t) {
            BundleError::BadPath { why: w, .. } => assert_eq!(w, why, "{name:?}"),
            e => panic!("{name:?}: {e}"),
        }
    }
    // The target is not a path of the archive and is never used: anything goes, recorded
    // escaped and shortened; GNU long link names and pax linkpaths are read.
    let mut t = Vec::new();
    entry(&mut t, b"up", b'2', b"", b"../../../../etc/shadow");
    entry(&mut t, b"esc", b'2', b"", b"x\x1b[2J\xe2\x80\xae");
    let long = "t/".repeat(150);
    entry(
        &mut t,
        b"././@LongLink",
        b'K',
        format!("{long}\0").as_bytes(),
        b"",
    );
    entry(&mut t, b"long", b'2', b"", b"cut");
    pax(&mut t, b'x', &[("linkpath", b"/vendor/pax")]);
    entry(&mut t, b"paxed", b'1', b"", b"ignored");
    end(&mut t);
    let (l, out) = both(UploadKind::Tar, &t, &dl).expect("any target");
    assert_eq!(l.links[0], link("up", "../../../../etc/shadow", Symbolic));
    assert_eq!(l.links[1], link("esc", "x\\u{1b}[2J\\u{202e}", Symbolic));
    assert_eq!(l.links[2].path, "long");
    assert_eq!(
        l.links[2].target,
        format!("{}…", &long[..200]),
        "shortened for display"
    );
    assert_eq!(l.links[3], link("paxed", "/vendor/pax", Hard));
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    // A link header followed by data: readers disagree on it, refused.
    let mut t = Vec::new();
    entry(&mut t, b"a", b'1', b"data", b"b");
    end(&mut t);
    assert_eq!(
        err_of(UploadKind::Tar, &t).to_string(),
        "the tar archive is damaged at byte 0: hard link entry 'a' has content"
    );
    // Links are entries: counted against max_entries, listed up to max_listed.
    let mut t = Vec::new();
    for i in 0..5 {
        entry(&mut t, format!("l{i}").as_bytes(), b'2', b"", b"t");
    }
    end(&mut t);
    let few = BundleLimits {
        max_listed: 2,
        ..BundleLimits::default()
    };
    let (l, _) = both(UploadKind::Tar, &t, &few).expect("truncated listing");
    assert_eq!((l.entries, l.links.len(), l.links_skipped), (5, 2, 5));
    assert!(l.links_truncated);
    let four = BundleLimits {
        max_entries: 4,
        ..BundleLimits::default()
    };
    assert!(matches!(
        both(UploadKind::Tar, &t, &four),
        Err(BundleError::TooManyEntries { limit: 4, .. })
    ));

    // A real Info-ZIP symlink: the target is the entry's content.
    let (l, out) = both(UploadKind::Zip, &unhex(LINK_ZIP), &dl).expect("Info-ZIP symlink");
    assert_eq!(l.files, ["docs/a.txt"]);
    assert_eq!(l.links, [link("docs/link", "/etc/passwd", Symbolic)]);
    assert_eq!((l.links_skipped, l.entries), (1, 2));
    assert_eq!(
        l.unpacked_total, 7,
        "a link's target is not unpacked content"
    );
    absent(&out, "docs/link");
    assert!(out.path().join("docs/a.txt").is_file());
    // Hand-built ones, stored and deflated; the target is not checked.
    let data = zip_of(&[
        zlink("escape", b"../../etc"),
        Z {
            deflate: true,
            ..zlink("bin/ls", b"toybox")
        },
    ]);
    let (l, out) = both(UploadKind::Zip, &data, &dl).expect("zip symlinks");
    assert_eq!(
        l.links,
        [
            link("escape", "../../etc", Symbolic),
            link("bin/ls", "toybox", Symbolic)
        ]
    );
    absent(&out, "escape");
    absent(&out, "bin/ls");
    assert!(out.path().join("bin").is_dir());
    // The target is read only up to 4 KiB.
    let max = vec![b'a'; 4096];
    let (l, _) = both(UploadKind::Zip, &zip_of(&[zlink("max", &max)]), &dl).expect("4 KiB");
    assert_eq!(l.links[0].target.chars().count(), 201);
    let big = vec![b'a'; 4097];
    let e = err_of(UploadKind::Zip, &zip_of(&[zlink("big", &big)]));
    assert!(matches!(e, BundleError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("symbolic link 'big'"), "{e}");
    // A directory that understates the size: reading stops just past what it declares.
    let huge = vec![b'a'; 1 << 20];
    let data = zip_of(&[Z {
        deflate: true,
        declared: Some(10),
        ..zlink("liar", &huge)
    }]);
    assert!(matches!(
        err_of(UploadKind::Zip, &data),
        BundleError::SizeMismatch { .. }
    ));
    // Same placement rules as in tar.
    let data = zip_of(&[zlink("lib", b"/etc"), z("lib/passwd", b"x")]);
    assert_eq!(
        err_of(UploadKind::Zip, &data).to_string(),
        "entry 'lib/passwd' at byte 37 goes through the link 'lib'"
    );
    let data = zip_of(&[z("a", b"x"), zlink("a", b"b")]);
    assert!(matches!(
        err_of(UploadKind::Zip, &data),
        BundleError::Duplicate { .. }
    ));
    let e = err_of(UploadKind::Zip, &zip_of(&[zlink("/etc/cron.d/x", b"y")]));
    assert!(e.to_string().contains("absolute"), "{e}");
    let e = err_of(UploadKind::Zip, &zip_of(&[zlink("d/", b"y")]));
    assert!(e.to_string().contains("name ends with '/'"), "{e}");

    // Devices, FIFOs, sockets and sparse files stay refused.
    for (flag, what) in [
        (b'3', "character device"),
        (b'4', "block device"),
        (b'6', "FIFO"),
    ] {
        let mut t = Vec::new();
        entry(&mut t, b"dev", flag, b"", b"");
        end(&mut t);
        match err_of(UploadKind::Tar, &t) {
            BundleError::Special { what: w, .. } => assert_eq!(w, what),
            e => panic!("{e}"),
        }
    }
    let mut t = Vec::new();
    entry(&mut t, b"sparse", b'S', b"", b"");
    end(&mut t);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Unsupported { .. }
    ));
    for (mode, what) in [
        (0o010_644, "FIFO"),
        (0o140_755, "socket"),
        (0o020_644, "character device"),
        (0o060_644, "block device"),
    ] {
        let data = zip_of(&[Z {
            mode: Some(mode),
            ..z("dev", b"")
        }]);
        match err_of(UploadKind::Zip, &data) {
            BundleError::Special { what: w, .. } => assert_eq!(w, what),
            e => panic!("{e}"),
        }
    }
    // Ordinary Unix modes are fine (and not applied).
    let data = zip_of(&[Z {
        mode: Some(0o104_755),
        ..z("setuid", b"x")
    }]);
    both(UploadKind::Zip, &data, &BundleLimits::default()).expect("regular file");
}

/// A firmware tree as GNU tar writes it, with the links Android images are full of.
#[test]
fn firmware_tree_links() {
    let (l, out) = both(
        UploadKind::TarGz,
        &unhex(FIRMWARE_TGZ),
        &BundleLimits::default(),
    )
    .expect("firmware tree");
    assert_eq!(l.entries, 6);
    assert_eq!(l.files, ["system/bin/toybox"]);
    assert_eq!(
        l.links,
        [
            link("system/bin/ls", "toybox", LinkKind::Symbolic),
            link("system/bin/toybox2", "system/bin/toybox", LinkKind::Hard),
            link("system/vendor", "/vendor", LinkKind::Symbolic),
        ]
    );
    assert_eq!(l.links_skipped, 3);
    for rel in ["system/bin/ls", "system/bin/toybox2", "system/vendor"] {
        absent(&out, rel);
    }
    assert_eq!(
        std::fs::read(out.path().join("system/bin/toybox")).unwrap(),
        b"toybox\n"
    );
}

#[test]
fn duplicates_and_collisions() {
    let dup = tar_of(&[("a/b", b"1"), ("a/b", b"2")]);
    let e = err_of(UploadKind::Tar, &dup);
    assert_eq!(
        e.to_string(),
        "entry 'a/b' at byte 1024 appears more than once in the archive"
    );
    // "./a" and "a" are the same file.
    assert!(matches!(
        err_of(UploadKind::Tar, &tar_of(&[("./a", b"1"), ("a", b"2")])),
        BundleError::Duplicate { .. }
    ));
    assert!(matches!(
        err_of(UploadKind::Zip, &zip_of(&[z("a", b"1"), z("a", b"2")])),
        BundleError::Duplicate { .. }
    ));
    let mut t = Vec::new();
    entry(&mut t, b"d/", b'5', b"", b"");
    entry(&mut t, b"d", b'5', b"", b"");
    end(&mut t);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Duplicate { .. }
    ));

    let e = err_of(UploadKind::Tar, &tar_of(&[("a", b"file"), ("a/b", b"x")]));
    assert_eq!(
        e.to_string(),
        "entry 'a/b' at byte 1024 goes through the file 'a'"
    );
    let e = err_of(UploadKind::Zip, &zip_of(&[z("a/b", b"x"), z("a", b"file")]));
    assert!(matches!(e, BundleError::Collision { .. }), "{e}");
    let e = err_of(UploadKind::Zip, &zip_of(&[z("a", b"file"), z("a/", b"")]));
    assert!(matches!(e, BundleError::Collision { .. }), "{e}");
    let e = err_of(UploadKind::Tar, &tar_of(&[("x/y/z", b"1"), ("x/y", b"2")]));
    assert!(matches!(e, BundleError::Collision { .. }), "{e}");
}

// --- bombs and lying sizes ----------------------------------------------------------------------

/// Streams `len` zero bytes after `prefix` into a gzip file (never holding them in memory).
fn gz_zeros_file(
    dir: &tempfile::TempDir,
    name: &str,
    prefix: &[u8],
    len: u64,
    suffix: &[u8],
) -> PathBuf {
    let p = dir.path().join(name);
    let f = std::fs::File::create(&p).expect("create");
    let mut e = GzEncoder::new(std::io::BufWriter::new(f), Compression::default());
    e.write_all(prefix).expect("write");
    let chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        e.write_all(&chunk[..k]).expect("write");
        left -= k as u64;
    }
    e.write_all(suffix).expect("write");
    e.finish().expect("finish").flush().expect("flush");
    p
}

#[test]
fn gzip_bombs() {
    const LEN: u64 = 50_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap_header = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0\0\0\0\0\xff\xff\0\0\x01\0\0\0";
    let p = gz_zeros_file(&dir, "bomb.pcap.gz", pcap_header, LEN, b"");
    let packed = std::fs::metadata(&p).expect("meta").len();
    assert!(packed < LEN / 500, "{packed}");
    let e = check_archive(&p, UploadKind::Gzip, &BundleLimits::default()).expect_err("bomb");
    assert!(matches!(e, BundleError::Bomb { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("archive bomb: the gzip stream expands beyond 200×"),
        "{e}"
    );
    // It is the ratio that refused it: allowed with a ratio deflate cannot reach.
    let lax = BundleLimits {
        max_ratio: 5000,
        ..BundleLimits::default()
    };
    let l = check_archive(&p, UploadKind::Gzip, &lax).expect("lax ratio");
    assert_eq!(l.unpacked_total, LEN + pcap_header.len() as u64);
    // And a size limit holds regardless of the ratio.
    let small = BundleLimits {
        max_entry_size: 10_000_000,
        ..lax.clone()
    };
    assert!(matches!(
        check_archive(&p, UploadKind::Gzip, &small),
        Err(BundleError::TooLarge { .. })
    ));

    // The same inside a tar.gz, with extraction stopping early.
    let mut tail = vec![0u8; (512 - (LEN % 512) as usize) % 512];
    tail.extend_from_slice(&[0u8; 1024]);
    let p = gz_zeros_file(
        &dir,
        "bomb.tgz",
        &header(b"zeros", b'0', LEN, b""),
        LEN,
        &tail,
    );
    let e = check_archive(&p, UploadKind::TarGz, &BundleLimits::default()).expect_err("tgz bomb");
    assert!(matches!(e, BundleError::Bomb { .. }), "{e}");
    let out = tempfile::tempdir().expect("tempdir");
    let e = extract_archive(&p, UploadKind::TarGz, out.path(), &BundleLimits::default())
        .expect_err("tgz bomb extract");
    assert!(matches!(e, BundleError::Bomb { .. }), "{e}");
    let written = std::fs::metadata(out.path().join("zeros")).map_or(0, |m| m.len());
    // The ratio is enforced on the compressed bytes really consumed: little is written.
    assert!(written < 2_000_000, "{written}");
    check_archive(&p, UploadKind::TarGz, &lax).expect("tgz lax");

    // A deflated zip entry, ratio ~1000:1, with honest sizes.
    let zeros = vec![0u8; 20_000_000];
    let data = zip_of(&[Z {
        deflate: true,
        ..z("zeros.bin", &zeros)
    }]);
    drop(zeros);
    let e = err_of(UploadKind::Zip, &data);
    assert!(
        e.to_string().starts_with(
            "archive bomb: entry 'zeros.bin' expands beyond 200× its compressed size at byte 0"
        ),
        "{e}"
    );
    // Small, very compressible files are not refused by the ratio.
    let data = zip_of(&[Z {
        deflate: true,
        ..z("small.txt", &[b'a'; 500_000])
    }]);
    both(UploadKind::Zip, &data, &BundleLimits::default()).expect("small compressible");
}

#[test]
fn lying_sizes() {
    // Directory says 100 bytes; the deflate stream holds 2 MB.
    let big = vec![b'x'; 2_000_000];
    let data = zip_of(&[Z {
        deflate: true,
        declared: Some(100),
        ..z("liar", &big)
    }]);
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_tmp(&dir, "liar.zip", &data);
    let out = tempfile::tempdir().expect("tempdir");
    let e = extract_archive(&p, UploadKind::Zip, out.path(), &BundleLimits::default())
        .expect_err("liar");
    assert!(matches!(e, BundleError::SizeMismatch { .. }), "{e}");
    assert!(e.to_string().contains("more than 100"), "{e}");
    let written = std::fs::metadata(out.path().join("liar")).map_or(0, |m| m.len());
    assert!(written <= 101, "{written}");
    // Directory says more than the stream holds.
    let data = zip_of(&[Z {
        declared: Some(50),
        deflate: true,
        ..z("short", b"abc")
    }]);
    assert!(matches!(
        err_of(UploadKind::Zip, &data),
        BundleError::SizeMismatch { .. }
    ));
    // Declared beyond the per-file limit: refused before reading.
    let limits = BundleLimits {
        max_entry_size: 1000,
        ..BundleLimits::default()
    };
    let data = zip_of(&[Z {
        declared: Some(5000),
        deflate: true,
        ..z("huge", b"abc")
    }]);
    let e = both(UploadKind::Zip, &data, &limits).expect_err("declared huge");
    assert!(matches!(e, BundleError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("declared"), "{e}");
    // Tar header claims 100 GiB.
    let mut t = header(b"huge", b'0', 100 << 30, b"").to_vec();
    t.extend_from_slice(&[0u8; 2048]);
    let e = err_of(UploadKind::Tar, &t);
    assert!(matches!(e, BundleError::TooLarge { .. }), "{e}");
    // Tar header claims more than the archive holds.
    let mut t = header(b"short", b'0', 10_000, b"").to_vec();
    t.extend_from_slice(&[1u8; 1024]);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Truncated { .. }
    ));
    // A pax size overrides the header's (as POSIX says); the entry's bytes are what it names.
    let mut t = Vec::new();
    pax(&mut t, b'x', &[("size", b"5")]);
    t.extend_from_slice(&header(b"five", b'0', 0, b""));
    t.extend_from_slice(b"12345");
    pad(&mut t);
    end(&mut t);
    let (l, out) = both(UploadKind::Tar, &t, &BundleLimits::default()).expect("pax size");
    assert_eq!(l.unpacked_total, 5);
    assert_eq!(
        std::fs::read(out.path().join("five")).expect("read"),
        b"12345"
    );
    // Total limit across entries.
    let limits = BundleLimits {
        max_unpacked_total: 1500,
        ..BundleLimits::default()
    };
    let t = tar_of(&[("a", &[1u8; 1000]), ("b", &[1u8; 1000])]);
    let e = both(UploadKind::Tar, &t, &limits).expect_err("total");
    assert!(e.to_string().contains("the unpacked archive"), "{e}");
}

// --- malformed structure ------------------------------------------------------------------------

#[test]
fn malformed_tars() {
    // No end-of-archive marker.
    let mut t = Vec::new();
    file(&mut t, "a", b"x");
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Truncated { .. }
    ));
    // Data after it.
    let mut t = tar_of(&[("a", b"x")]);
    t.extend_from_slice(&tar_of(&[("b", b"y")]));
    assert!(
        err_of(UploadKind::Tar, &t)
            .to_string()
            .contains("after the end-of-archive")
    );
    // A lone zero block is accepted.
    let mut t = Vec::new();
    file(&mut t, "a", b"x");
    t.extend_from_slice(&[0u8; 512]);
    both(UploadKind::Tar, &t, &BundleLimits::default()).expect("lone zero block");
    // Checksum.
    let mut t = tar_of(&[("a", b"x")]);
    t[100] = b'7';
    assert!(err_of(UploadKind::Tar, &t).to_string().contains("checksum"));
    // A global pax header that would rename every entry.
    let mut t = Vec::new();
    pax(&mut t, b'g', &[("path", b"x")]);
    file(&mut t, "a", b"x");
    end(&mut t);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Corrupt { .. }
    ));
    // A harmless global header is ignored.
    let mut t = Vec::new();
    pax(&mut t, b'g', &[("comment", b"made by a test")]);
    file(&mut t, "a", b"x");
    end(&mut t);
    both(UploadKind::Tar, &t, &BundleLimits::default()).expect("global comment");
    // Two names for one entry.
    let mut t = Vec::new();
    pax(&mut t, b'x', &[("path", b"one")]);
    entry(&mut t, b"././@LongLink", b'L', b"two\0", b"");
    file(&mut t, "three", b"x");
    end(&mut t);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Corrupt { .. }
    ));
    // A pax path set twice in one header.
    let mut t = Vec::new();
    pax(&mut t, b'x', &[("path", b"one"), ("path", b"two")]);
    file(&mut t, "three", b"x");
    end(&mut t);
    assert!(
        err_of(UploadKind::Tar, &t)
            .to_string()
            .contains("set twice")
    );
    // A metadata header with no entry after it.
    let mut t = Vec::new();
    pax(&mut t, b'x', &[("path", b"one")]);
    end(&mut t);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Corrupt { .. }
    ));
    // A folder with content; an unknown type.
    let mut t = Vec::new();
    entry(&mut t, b"d", b'5', b"data", b"");
    end(&mut t);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Corrupt { .. }
    ));
    let mut t = Vec::new();
    entry(&mut t, b"v", b'V', b"", b"");
    end(&mut t);
    assert!(matches!(
        err_of(UploadKind::Tar, &t),
        BundleError::Unsupported { .. }
    ));
    // GNU base-256 size.
    let mut h = header(b"b256", b'0', 0, b"");
    h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    fix_checksum(&mut h);
    let mut t = h.to_vec();
    t.extend_from_slice(b"abc");
    pad(&mut t);
    end(&mut t);
    let (l, _) = both(UploadKind::Tar, &t, &BundleLimits::default()).expect("base-256");
    assert_eq!(l.unpacked_total, 3);
}

#[test]
fn malformed_zips() {
    let good = unhex(GOOD_ZIP);
    // Prepended data (a self-extractor or a polyglot), trailing data.
    let mut data = b"#!/bin/sh\nexit 0\n".to_vec();
    data.extend_from_slice(&good);
    assert!(matches!(
        err_of(UploadKind::Zip, &data),
        BundleError::Corrupt { .. } | BundleError::Zip { .. }
    ));
    let mut data = good.clone();
    data.extend_from_slice(b"trailing");
    assert!(matches!(
        err_of(UploadKind::Zip, &data),
        BundleError::Corrupt { .. }
    ));
    // A damaged CRC.
    let mut data = good.clone();
    let i = data
        .windows(7)
        .position(|w| w == b"readme\n")
        .expect("content");
    data[i] = b'R';
    assert!(err_of(UploadKind::Zip, &data).to_string().contains("CRC"));
    // Not a zip at all.
    assert!(matches!(
        err_of(UploadKind::Zip, b"PK\x03\x04 nothing else"),
        BundleError::Truncated { .. }
    ));
    // A central directory too large to hold in memory (entries' data never is). Only what lies
    // beyond the 64 KiB end-record window counts: 1,500 names of 100 bytes make ~220 KB.
    let names: Vec<String> = (0..1_500).map(|i| format!("d/{i:098}")).collect();
    let many = zip_of(&names.iter().map(|n| z(n, b"")).collect::<Vec<_>>());
    let limits = BundleLimits {
        max_zip_directory: 100_000,
        ..BundleLimits::default()
    };
    match both(UploadKind::Zip, &many, &limits) {
        Err(e @ BundleError::ZipDirectoryTooLarge { .. }) => {
            assert!(e.to_string().contains("read in memory"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let limits = BundleLimits {
        max_zip_directory: 300_000,
        ..BundleLimits::default()
    };
    assert_eq!(
        both(UploadKind::Zip, &many, &limits)
            .expect("fits")
            .0
            .files
            .len(),
        1_500
    );
    // An APK with a traversal name is evidence: accepted by the APK check, refused as a zip.
    let data = zip_of(&[z("AndroidManifest.xml", b"x"), z("../../evil.so", b"y")]);
    check_bytes(UploadKind::Apk, &data, &BundleLimits::default()).expect("apk evidence");
    assert!(matches!(
        err_of(UploadKind::Zip, &data),
        BundleError::BadPath { .. }
    ));
}

#[test]
fn extraction_folder_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write_tmp(&dir, "t.tar", &tar_of(&[("a", b"x")]));
    let l = BundleLimits::default();
    let busy = tempfile::tempdir().expect("tempdir");
    std::fs::write(busy.path().join("existing"), b"").expect("write");
    assert!(matches!(
        extract_archive(&p, UploadKind::Tar, busy.path(), &l),
        Err(BundleError::Dest {
            why: "is not empty",
            ..
        })
    ));
    assert!(matches!(
        extract_archive(&p, UploadKind::Tar, &dir.path().join("missing"), &l),
        Err(BundleError::Dest { .. })
    ));
    #[cfg(unix)]
    {
        let target = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(target.path(), &link).expect("symlink");
        assert!(matches!(
            extract_archive(&p, UploadKind::Tar, &link, &l),
            Err(BundleError::Dest { .. })
        ));
        assert!(
            std::fs::read_dir(target.path())
                .expect("ls")
                .next()
                .is_none()
        );
    }
}

// --- truncation ---------------------------------------------------------------------------------

/// Every prefix of a valid archive is checked without panicking; the full one is accepted.
fn every_prefix(kind: UploadKind, data: &[u8], must_fail_below: usize, extract_every: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("upload");
    let l = BundleLimits::default();
    for n in 0..=data.len() {
        std::fs::write(&p, &data[..n]).expect("write");
        let r = check_archive(&p, kind, &l);
        if n == data.len() {
            r.expect("full archive");
        } else if n < must_fail_below {
            assert!(r.is_err(), "{kind} prefix {n} accepted");
        }
        if n % extract_every == 0 || n == data.len() {
            let out = tempfile::tempdir().expect("tempdir");
            let x = extract_archive(&p, kind, out.path(), &l);
            assert_eq!(
                x.is_ok(),
                check_archive(&p, kind, &l).is_ok(),
                "{kind} prefix {n}"
            );
        }
        let _ = sniff("x.tar.gz", data.get(..n.min(SNIFF_LEN)).unwrap_or_default());
        let _ = sniff("x.zip", data.get(..n.min(SNIFF_LEN)).unwrap_or_default());
    }
}

#[test]
fn truncated_archives() {
    let mut t = Vec::new();
    entry(&mut t, b"d", b'5', b"", b"");
    pax(
        &mut t,
        b'x',
        &[("path", format!("d/{}", "p".repeat(150)).as_bytes())],
    );
    file(&mut t, "ignored", b"pax named");
    file(&mut t, "d/f", &[5u8; 700]);
    end(&mut t);
    // Until the first zero block of the end marker, a prefix can never be a complete archive.
    every_prefix(UploadKind::Tar, &t, t.len() - 1023, 97);
    let tgz = gz(&t);
    every_prefix(UploadKind::TarGz, &tgz, tgz.len(), 11);
    every_prefix(UploadKind::TarGz, &unhex(GNU_TGZ), unhex(GNU_TGZ).len(), 13);
    let zip = zip_of(&[
        z("a/", b""),
        Z {
            deflate: true,
            ..z("a/b.txt", "some text ".repeat(50).as_bytes())
        },
        z("c", b"stored"),
    ]);
    every_prefix(UploadKind::Zip, &zip, zip.len(), 17);
    every_prefix(UploadKind::Zip, &unhex(GOOD_ZIP), unhex(GOOD_ZIP).len(), 7);
    let gzcap = gz(
        &std::fs::read(root().join("examples/acme-a1/captures/first-boot.pcapng")).expect("read"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("c.pcapng.gz");
    for n in 0..gzcap.len() {
        std::fs::write(&p, &gzcap[..n]).expect("write");
        assert!(
            check_archive(&p, UploadKind::Gzip, &BundleLimits::default()).is_err(),
            "gz prefix {n}"
        );
    }
}
