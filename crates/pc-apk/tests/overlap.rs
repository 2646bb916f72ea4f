//! The overlapping-entry zip bomb (David Fifield's), made in the test: detected from the
//! directory and never re-inflated.

mod common;

use common::bombs::{RawEntry, overlap_bomb};
use common::parse_both;
use pc_apk::zip::{Anomaly, Archive, ZipError};

/// Streams every entry of `zip` (as a caller would read them all) and returns what each gave:
/// bytes inflated, or the error.
fn read_all(zip: &[u8], a: &Archive<'_>) -> Vec<Result<u64, ZipError>> {
    let mut file = std::io::Cursor::new(zip);
    a.entries()
        .iter()
        .map(|e| {
            let mut r = a.open(&mut file, e, u64::MAX)?;
            std::io::copy(&mut r, &mut std::io::sink()).map_err(|err| r.error(&err))
        })
        .collect()
}

#[test]
fn overlapping_entry_bomb_inflates_its_kernel_once() {
    // 300 entries sharing one 16 MiB kernel: read one by one, a reader that re-inflates the
    // shared data produces 300 × 16 MiB ≈ 4.7 GiB from a file of a few tens of KB.
    let names: Vec<String> = (0..300).map(|i| format!("lib/arm64/l{i:03}.so")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let kernel = 16u64 << 20;
    let honest = RawEntry::deflated("AndroidManifest.xml", b"not really a manifest");
    let zip = overlap_bomb(std::slice::from_ref(&honest), &names, kernel);
    assert!(zip.len() < 200 << 10, "the bomb is small: {}", zip.len());
    let a = parse_both(&zip).expect("parses");
    let overlaps: Vec<(&str, &str)> = a
        .anomalies()
        .iter()
        .filter_map(|x| match x {
            Anomaly::OverlappingEntries { first, second } => {
                Some((first.as_str(), second.as_str()))
            }
            _ => None,
        })
        .collect();
    // Every entry after the first of the bomb runs into it; the honest entry is untouched.
    assert_eq!(overlaps.len(), names.len() - 1, "{overlaps:?}");
    assert!(overlaps.iter().all(|(first, _)| *first == names[0]));
    assert_eq!(
        overlaps.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        names[1..]
    );

    let got = read_all(&zip, &a);
    assert_eq!(got[0], Ok(honest.len));
    // The kept entry is read in full (its headers and the kernel), exactly once.
    let first = *got[1].as_ref().expect("the kept entry reads");
    assert!(first >= kernel && first < kernel + (1 << 20), "{first}");
    let inflated: u64 = got.iter().filter_map(|r| r.as_ref().ok()).sum();
    assert_eq!(inflated, honest.len + first, "nothing else was inflated");
    for (e, r) in a.entries()[2..].iter().zip(&got[2..]) {
        let kept = a.overlapped_by(e).expect("overlapping").local_header_offset;
        assert_eq!(
            r,
            &Err(ZipError::Overlapping {
                at: e.local_header_offset,
                kept
            })
        );
        // The in-memory reader refuses it the same way.
        assert!(matches!(
            a.read(e, u64::MAX),
            Err(ZipError::Overlapping { .. })
        ));
    }
}

#[test]
fn disjoint_entries_are_not_overlapping() {
    let entries = [
        RawEntry::deflated("a", &[7u8; 5000]),
        RawEntry::stored("b", b"stored"),
        RawEntry::deflated("c", b"tail"),
    ];
    let zip = common::bombs::zip_of(&entries);
    let a = parse_both(&zip).expect("parses");
    assert!(
        !a.anomalies()
            .iter()
            .any(|x| matches!(x, Anomaly::OverlappingEntries { .. })),
        "{:?}",
        a.anomalies()
    );
    let got = read_all(&zip, &a);
    assert_eq!(got, [Ok(5000), Ok(6), Ok(4)]);
}
