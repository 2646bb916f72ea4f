//! Archives parsed from a file with only their end in memory (`Tail` + `Archive::parse_file`)
//! must read exactly as they do in memory: on every real APK of the fixtures, and on crafted
//! archives whose end records lie far from the end of the file.

mod common;

use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use common::*;
use pc_apk::zip::{Anomaly, Archive, Tail, ZipError};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/apk");

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("fixture folder") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_fixture_reads_the_same_from_its_file() {
    let mut all = Vec::new();
    files(Path::new(DATA), &mut all);
    let mut zips = 0;
    let mut far = 0;
    for p in &all {
        let data = std::fs::read(p).expect("read");
        let mem = Archive::parse(&data);
        let mut f = File::open(p).expect("open");
        match Tail::read(&mut f, 256 << 20) {
            Ok(tail) => {
                assert_file_agrees(&mem, &tail, &mut f, &data);
                if mem.is_ok() {
                    zips += 1;
                }
                if tail.offset() > 0 {
                    far += 1;
                    // Only the end is held.
                    assert!(tail.len() < data.len(), "{}", p.display());
                }
            }
            Err(e) => assert_eq!(mem.err(), Some(e), "{}", p.display()),
        }
    }
    assert!(zips >= 30, "only {zips} fixtures parsed");
    assert!(
        far >= 5,
        "only {far} fixtures were large enough to test the tail"
    );
}

/// A 100 KB prefix (a Janus-style DEX) and a full-length comment: the local headers and the
/// central directory are all outside the first window Tail::read looks at.
#[test]
fn end_records_far_from_the_end() {
    let mut prefix = b"dex\n035\0".to_vec();
    prefix.resize(100_000, 0);
    let comment = vec![b'c'; 65_535];
    let text = b"phonecert ".repeat(500);
    let zip = build_zip(
        &prefix,
        &[
            ZEntry::stored("a.txt", b"abc"),
            ZEntry::deflated("b/c.txt", &text),
        ],
        &comment,
    );
    let mut cur = Cursor::new(&zip[..]);
    let tail = Tail::read(&mut cur, u64::MAX).expect("tail");
    // From the central directory on: the prefix and the entries' data stay on disk.
    assert!(tail.offset() > 100_000);
    let a = parse_both(&zip).expect("parse");
    assert!(a.anomalies().contains(&Anomaly::PrependedData {
        len: 100_000,
        dex: true
    }));
    let f = Archive::parse_file(&tail, &mut cur, Default::default()).expect("file");
    let e = f.find("b/c.txt").expect("entry");
    let (at, len) = f.data_range(e).expect("range");
    assert_eq!(&zip[at as usize..(at + len) as usize], &deflate(&text)[..]);
    // Cut anywhere in the end records, the central directory or the last data: same answer.
    let cd = a.central_directory_offset() as usize;
    for n in (cd - 50..zip.len())
        .step_by(97)
        .chain(zip.len() - 30..zip.len())
    {
        let _ = parse_both(&zip[..n]);
    }
}

#[test]
fn zip64_record_far_from_the_end() {
    let content = b"zip64 content";
    for pad in [0, 70_000, 200_000] {
        let zip = zip64_zip(&vec![0; pad], content);
        let a = parse_both(&zip).expect("zip64");
        assert!(a.anomalies().contains(&Anomaly::Zip64));
        let e = a.find("z").expect("entry");
        assert_eq!(a.read(e, 100).expect("read"), content);
        for n in zip.len().saturating_sub(200)..zip.len() {
            let _ = parse_both(&zip[..n]);
        }
        // A full-length comment puts the Zip64 record, then the directory before it, outside
        // the first window: Tail::read needs all its rounds.
        let mut commented = zip.clone();
        let n = commented.len();
        commented[n - 2..].copy_from_slice(&u16::MAX.to_le_bytes());
        commented.resize(n + usize::from(u16::MAX), b'c');
        let a = parse_both(&commented).expect("zip64 with a comment");
        assert_eq!(
            a.read(a.find("z").expect("entry"), 100).expect("read"),
            content
        );
        let tail = Tail::read(&mut Cursor::new(&commented[..]), u64::MAX).expect("tail");
        assert_eq!(tail.offset(), a.central_directory_offset());
    }
}

#[test]
fn a_large_central_directory_is_read_whole_and_bounded() {
    // 2,000 entries with 60-byte names: a central directory of ~210 KB, larger than the window.
    let entries: Vec<ZEntry> = (0..2_000)
        .map(|i| ZEntry::stored(&format!("res/{i:056}"), b"x"))
        .collect();
    let zip = build_zip(b"", &entries, b"");
    let a = parse_both(&zip).expect("parse");
    assert_eq!(a.entries().len(), 2_000);
    let cd = a.central_directory_offset();
    let held = zip.len() as u64 - cd;
    assert!(held > 150_000);
    let mut cur = Cursor::new(&zip[..]);
    assert_eq!(Tail::read(&mut cur, held).expect("tail").offset(), cd);
    // One byte less than the directory and its end record: refused, not read.
    assert_eq!(
        Tail::read(&mut cur, held - 1).err(),
        Some(ZipError::TooLarge {
            at: cd,
            size: held,
            limit: held - 1
        })
    );
}

#[test]
fn hostile_end_records_from_a_file() {
    let mut prefix = vec![0u8; 80_000];
    prefix[..4].copy_from_slice(b"PK\x05\x06");
    let zip = build_zip(&prefix, &[ZEntry::stored("a", b"1")], b"");
    // The directory offset pointed at the start (where a fake EOCD sits), size unchanged: the
    // directory would run past its end record.
    let mut bad = zip.clone();
    let n = bad.len();
    bad[n - 6..n - 2].copy_from_slice(&0u32.to_le_bytes());
    let e = parse_both(&bad).expect_err("refused");
    assert!(
        matches!(
            e,
            ZipError::BadCentralDirectory { .. } | ZipError::BadEocd { .. }
        ),
        "{e}"
    );
    // A Zip64 locator pointing past itself.
    let mut z = zip64_zip(&vec![0; 70_000], b"c");
    let n = z.len();
    let loc = n - 22 - 20;
    z[loc + 8..loc + 16].copy_from_slice(&(n as u64).to_le_bytes());
    assert_eq!(
        parse_both(&z).expect_err("refused"),
        ZipError::BadEocd {
            at: loc as u64,
            what: "zip64 locator points nowhere"
        }
    );
    // Garbage, empty, shorter than an end record.
    for junk in [&b""[..], b"PK", &[0xffu8; 100_000][..]] {
        assert!(parse_both(junk).is_err());
    }
}
