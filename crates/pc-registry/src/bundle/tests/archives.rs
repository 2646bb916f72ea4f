//! Valid archives, entry paths, links and special files, duplicates and collisions.

use super::*;

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
