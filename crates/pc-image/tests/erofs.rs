//! The EROFS reader against its oracle and against hostile images.
//!
//! Oracle: each `tests/data/images/erofs/<img>.listing` was written by
//! `scripts/make-erofs-fixtures.sh` from `fsck.erofs --extract` (erofs-utils, an independent
//! reader): every path with its kind, size and sha256, or its link target. The reader's walk
//! must print the same text. Hostile images (truncated, bytes flipped, a folder naming itself,
//! huge sizes) must give `Ok` or an `Err` naming the image, never a panic or a hang.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pc_image::erofs::Erofs;
use pc_image::{FileSource, ImageError, Kind, MemSource, NodeId, Tree};
use sha2::{Digest, Sha256};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/images/erofs");

fn images() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(DATA)
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "erofs"))
        .collect();
    v.sort();
    v
}

fn open_file(p: &Path) -> Erofs {
    let src = FileSource::open(p, &p.display().to_string()).expect("open");
    Erofs::open(Arc::new(src)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Walks the tree into the oracle's listing format; bounded (each folder once).
fn listing(t: &dyn Tree, max: u64) -> Result<String, ImageError> {
    let mut rows: Vec<(Vec<u8>, String)> = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<(String, NodeId)> = vec![(String::new(), t.root())];
    while let Some((dir, id)) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for e in t.list(id)? {
            let path = if dir.is_empty() {
                e.name.clone()
            } else {
                format!("{dir}/{}", e.name)
            };
            let line = match &e.kind {
                Kind::Dir => {
                    stack.push((path.clone(), e.id));
                    format!("d\t{path}")
                }
                Kind::File { size } => {
                    let data = t.read(e.id, max)?;
                    assert_eq!(data.len() as u64, *size, "{path}: size");
                    format!("f\t{path}\t{size}\t{}", hex::encode(Sha256::digest(&data)))
                }
                Kind::Symlink(target) => format!("l\t{path}\t{target}"),
                Kind::Other => format!("o\t{path}"),
            };
            rows.push((path.into_bytes(), line));
        }
    }
    rows.sort();
    Ok(rows.into_iter().map(|r| r.1 + "\n").collect())
}

#[test]
fn every_fixture_matches_fsck_extract() {
    let mut checked = 0;
    for img in images() {
        let oracle = img.with_extension("listing");
        let Ok(want) = std::fs::read_to_string(&oracle) else {
            continue; // no oracle (see SOURCES.md): read by `go_erofs_images_read` instead
        };
        let fs = open_file(&img);
        let got = listing(&fs, u64::MAX).unwrap_or_else(|e| panic!("{}: {e}", img.display()));
        assert_eq!(got, want, "{}", img.display());
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures with an oracle");
}

/// go-erofs' images use features erofs-utils 1.5 cannot read (XATTR_PREFIXES, and 0x20), so
/// their content is checked against what go-erofs' own tests (`TestBasic`) say they hold.
#[test]
fn go_erofs_images_hold_what_go_erofs_says() {
    let seq = |n: usize| [1u8, 2, 3, 4, 5, 6, 7, 8].repeat(128 * n);
    for name in ["go-basic-default.erofs", "go-basic-chunk-4096.erofs"] {
        let fs = open_file(&Path::new(DATA).join(name));
        let file = |p: &str| {
            let e = fs
                .lookup(p)
                .unwrap()
                .unwrap_or_else(|| panic!("{name}: {p} missing"));
            fs.read(e.id, 1 << 20)
                .unwrap_or_else(|err| panic!("{name}: {p}: {err}"))
        };
        assert_eq!(file("in-root.txt"), b"root file content\n");
        assert_eq!(file("usr/lib/testdir/emptyfile"), b"");
        assert_eq!(file("usr/lib/testdir/13k-zeros.raw"), vec![0; 13 * 1024]);
        assert_eq!(file("usr/lib/testdir/16k-zeros.raw"), vec![0; 16 * 1024]);
        assert_eq!(file("usr/lib/testdir/5k-sequence.raw"), seq(5));
        assert_eq!(file("usr/lib/testdir/16k-sequence.raw"), seq(16));
        assert_eq!(file("usr/lib/testdir/case/file.txt"), b"lower case dir\n");
        assert_eq!(file("usr/lib/testdir/CASE/file.txt"), b"upper case dir\n");
        assert_eq!(file("usr/lib/testdir/case.txt"), b"lower case file\n");
        assert_eq!(file("usr/lib/testdir/CASE.txt"), b"upper case file\n");
        let dir = |p: &str| fs.list(fs.lookup(p).unwrap().unwrap().id).unwrap();
        assert_eq!(dir("usr/lib/testdir/emptydir").len(), 0);
        let lots = dir("usr/lib/testdir/lotsoffiles");
        assert_eq!(lots.len(), 5000, "{name}");
        assert!(
            lots.windows(2)
                .all(|w| w[0].name.as_bytes() < w[1].name.as_bytes())
        );
        assert!(fs.lookup("not-exists.txt").unwrap().is_none());
        listing(&fs, u64::MAX).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(DATA).join(name)).expect("fixture")
}

/// Opens and walks an image held in memory with a small limit; the result must be Ok or an
/// error naming the image.
fn walk_hostile(data: Vec<u8>) -> Result<String, ImageError> {
    let fs = Erofs::open(Arc::new(MemSource::new("hostile", data)))?;
    listing(&fs, 1 << 20)
}

fn check_error(r: Result<String, ImageError>) -> bool {
    match r {
        Ok(_) => false,
        Err(e) => {
            assert_eq!(e.image, "hostile");
            assert!(!e.what.is_empty());
            true
        }
    }
}

#[test]
fn truncated_images_fail_cleanly() {
    for name in [
        "synth-lz4hc.erofs",
        "synth-chunk.erofs",
        "synth-lz4hc-big-ztail-ext.erofs",
    ] {
        let full = fixture(name);
        let mut errors = 0;
        let step = full.len() / 97;
        for cut in (0..full.len())
            .step_by(step.max(1))
            .chain([1024, 1100, 1151, 1152, 4096])
        {
            if check_error(walk_hostile(full[..cut].to_vec())) {
                errors += 1;
            }
        }
        assert!(
            errors > 50,
            "{name}: only {errors} truncations gave an error"
        );
    }
}

#[test]
fn flipped_bytes_never_panic() {
    for name in [
        "synth-lz4hc.erofs",
        "synth-lz4.erofs",
        "synth-lz4hc-big.erofs",
        "synth-chunk.erofs",
        "synth-plain.erofs",
        "synth-lz4hc-big-ztail-ext.erofs",
        "synth-lz4hc-legacy.erofs",
        "go-basic-default.erofs",
    ] {
        let full = fixture(name);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let rounds: usize = std::env::var("EROFS_FLIPS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(400);
        for round in 0..rounds {
            let mut d = full.clone();
            for _ in 0..(1 + round % 4) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Superblock; the front (metadata of most images); anywhere (metadata placed
                // after the data, as with ztailpacking).
                let at = match round % 4 {
                    0 => 1024 + (x % 128) as usize,
                    1 | 2 => (x % (full.len().min(64 << 10) as u64)) as usize,
                    _ => (x % full.len() as u64) as usize,
                };
                d[at] ^= (x >> 32) as u8 | 1;
            }
            let _ = check_error(walk_hostile(d));
        }
    }
}

#[test]
fn superblock_errors_name_the_problem() {
    let full = fixture("synth-lz4hc.erofs");
    let mut d = full.clone();
    d[1024] ^= 1;
    let e = walk_hostile(d).unwrap_err();
    assert_eq!(e.offset, 1024);
    assert!(e.what.contains("magic"), "{e}");
    let mut d = full.clone();
    d[1024 + 80] |= 0x80; // 48BIT
    let e = walk_hostile(d).unwrap_err();
    assert!(e.what.contains("48BIT"), "{e}");
    let mut d = full.clone();
    d[1024 + 83] |= 0x40; // an unknown feature bit
    let e = walk_hostile(d).unwrap_err();
    assert!(e.what.contains("unknown incompatible"), "{e}");
    let mut d = full;
    d[1024 + 12] = 30;
    assert!(walk_hostile(d).unwrap_err().what.contains("block size"));
}

/// Byte positions of directory entries (12 bytes: nid, name offset, type) naming `nid` as a
/// folder: found by pattern, so the test does not share the reader's arithmetic.
fn dirents_of(d: &[u8], nid: u64) -> Vec<usize> {
    let pat = nid.to_le_bytes();
    (0..d.len().saturating_sub(12))
        .filter(|&p| d[p..p + 8] == pat && d[p + 10] == 2 && d[p + 11] == 0)
        .collect()
}

#[test]
fn a_folder_naming_itself_is_an_error_not_a_loop() {
    let full = fixture("synth-plain.erofs");
    let fs = Erofs::open(Arc::new(MemSource::new("hostile", full.clone()))).unwrap();
    let root = fs.root();
    let etc = fs.lookup("etc").unwrap().unwrap().id;
    let hits = dirents_of(&full, etc.0);
    assert!(!hits.is_empty());
    for p in hits {
        let mut d = full.clone();
        d[p..p + 8].copy_from_slice(&root.0.to_le_bytes());
        let r = walk_hostile(d);
        if let Err(e) = &r {
            assert!(e.what.contains("own folder") || !e.what.is_empty(), "{e}");
        }
    }
    // A deep folder pointing back at the root: the walk ends (each folder once).
    let d23 = fs
        .lookup(
            &(0..23)
                .map(|i| format!("d{i:02}"))
                .collect::<Vec<_>>()
                .join("/"),
        )
        .unwrap()
        .unwrap()
        .id;
    for p in dirents_of(&full, d23.0) {
        let mut d = full.clone();
        d[p..p + 8].copy_from_slice(&root.0.to_le_bytes());
        let _ = walk_hostile(d);
    }
}

#[test]
fn huge_sizes_are_refused_before_allocating() {
    for name in [
        "synth-plain.erofs",
        "synth-lz4hc.erofs",
        "synth-chunk.erofs",
    ] {
        let full = fixture(name);
        let fs = Erofs::open(Arc::new(MemSource::new("hostile", full.clone()))).unwrap();
        let want = 256 * 1024u32;
        let path = if name == "synth-chunk.erofs" {
            "mixed.bin"
        } else {
            "big/mixed.bin"
        };
        let e = fs.lookup(path).unwrap().unwrap();
        assert_eq!(e.kind, Kind::File { size: want.into() });
        let e = fs.read(e.id, 1000).unwrap_err();
        assert!(e.what.contains("more than"), "{e}");
        // Compact inodes hold the size at +8: every candidate inode of that size gets 4 GiB.
        let mut hit = false;
        for p in
            (0..full.len() - 32).filter(|p| p % 32 == 8 && full[*p..*p + 4] == want.to_le_bytes())
        {
            let mut d = full.clone();
            d[p..p + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
            let fs = Erofs::open(Arc::new(MemSource::new("hostile", d))).unwrap();
            if let Ok(Some(e)) = fs.lookup(path)
                && e.kind == (Kind::File { size: 0xFFFF_FFF0 })
            {
                hit = true;
                assert!(
                    fs.read(e.id, u64::MAX).is_err(),
                    "{name}: 4 GiB read from a small image"
                );
            }
        }
        assert!(hit, "{name}: the size field was not found");
    }
}

#[test]
fn reads_run_in_parallel() {
    let fs = open_file(&Path::new(DATA).join("synth-lz4hc-big.erofs"));
    let want = listing(&fs, u64::MAX).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_eq!(listing(&fs, u64::MAX).unwrap(), want));
        }
    });
}

/// An algorithm the reader does not decode (here MicroLZMA, set in a file's map header) is an
/// error for that file only, naming the algorithm; the rest of the image still reads.
#[test]
fn an_unsupported_algorithm_fails_that_file_only() {
    let mut d = fixture("synth-lz4hc.erofs");
    let fs = Erofs::open(Arc::new(MemSource::new("hostile", d.clone()))).unwrap();
    let nid = fs.lookup("big/mixed.bin").unwrap().unwrap().id.0;
    // Compact inode (32 bytes, no xattrs with --all-root), then the 8-byte map header whose
    // byte 6 holds the algorithms (low nibble: head1).
    let meta = u64::from(u32::from_le_bytes(
        d[1024 + 40..1024 + 44].try_into().unwrap(),
    )) << 12;
    let hdr = (meta + nid * 32 + 32).div_ceil(8) * 8;
    assert_eq!(d[hdr as usize + 6] & 15, 0, "lz4 expected in the fixture");
    d[hdr as usize + 6] |= 1;
    let fs = Erofs::open(Arc::new(MemSource::new("hostile", d))).unwrap();
    let e = fs.lookup("big/mixed.bin").unwrap().unwrap();
    let err = fs.read(e.id, u64::MAX).unwrap_err();
    assert!(
        err.what.contains("lzma") && err.what.contains("not supported"),
        "{err}"
    );
    assert!(err.offset > 0);
    let other = fs.lookup("big/text-tail.txt").unwrap().unwrap();
    assert_eq!(fs.read(other.id, u64::MAX).unwrap().len(), 10123);
}
