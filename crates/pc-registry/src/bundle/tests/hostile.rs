//! Hostile archives: bombs, lying sizes, malformed structure, extraction folder misuse and
//! truncation at every length.

use super::*;

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
