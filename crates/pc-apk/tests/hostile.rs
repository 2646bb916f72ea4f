//! Hostile resource files made in the tests: string pools whose lengths lie, and an oversize
//! `resources.arsc`.

mod common;

use common::bombs::RawEntry;
use common::{AV, Axml, ZEntry, build_arsc, build_zip};
use pc_apk::arsc::ResourceTable;
use pc_apk::axml::{self, Anomaly as AxmlAnomaly, Value};
use pc_apk::manifest::{self, MAX_ARSC_SIZE, ManifestAnomaly};
use pc_apk::zip::Archive;

/// Binary XML whose element `<a>` has attribute `v` = `victim`, followed in the pool by
/// `neighbour`; the victim's declared length is then raised by `extra` so it claims the
/// neighbour's bytes. Returns the document and the victim's length-prefix offset.
fn lying_axml(utf8: bool, extra: u16) -> (Vec<u8>, usize) {
    let mut x = Axml::new(&[], utf8);
    let v = x.s("v");
    x.start("a", &[("", v, AV::Str("victim"))]);
    x.text("neighbour-secret");
    x.end("a");
    let data = x.finish();
    let needle: Vec<u8> = if utf8 {
        [&[6u8, 6][..], b"victim"].concat()
    } else {
        let mut n = 6u16.to_le_bytes().to_vec();
        n.extend("victim".encode_utf16().flat_map(|u| u.to_le_bytes()));
        n
    };
    let at = data
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("victim in the pool");
    let mut data = data;
    if utf8 {
        // Byte length (the second prefix byte; both stay under 0x80).
        data[at + 1] += extra as u8;
        data[at] += extra as u8;
    } else {
        let n = 6 + extra;
        data[at..at + 2].copy_from_slice(&n.to_le_bytes());
    }
    (data, at)
}

#[test]
fn axml_string_with_false_length_does_not_read_its_neighbours() {
    for utf8 in [true, false] {
        // Honest first: no anomaly.
        let (honest, _) = lying_axml(utf8, 0);
        let doc = axml::parse(&honest).expect("honest");
        assert!(doc.anomalies.is_empty(), "{:?}", doc.anomalies);

        let (data, at) = lying_axml(utf8, 30);
        let doc = axml::parse(&data).expect("read anyway");
        let root = doc.root.as_ref().expect("root");
        assert_eq!(
            root.attrs[0].value,
            Value::String("victim".into()),
            "utf8={utf8}: cut at its slot, nothing of the next strings"
        );
        let xml = axml::to_xml_string(&doc);
        assert_eq!(xml.matches("neighbour-secret").count(), 1, "{xml}");
        let past: Vec<&AxmlAnomaly> = doc
            .anomalies
            .iter()
            .filter(|a| matches!(a, AxmlAnomaly::StringPastSlot { .. }))
            .collect();
        assert_eq!(past.len(), 1, "utf8={utf8}: {:?}", doc.anomalies);
        let AxmlAnomaly::StringPastSlot {
            at: got_at,
            declared,
            slot,
            ..
        } = past[0]
        else {
            unreachable!()
        };
        assert_eq!(*got_at, at as u64, "utf8={utf8}: offset of the string");
        assert_eq!(*declared, 36);
        assert!(*slot < *declared, "{slot}");
    }
}

#[test]
fn axml_many_lying_strings_are_counted_not_all_listed() {
    // Every string claims 0x7f bytes: each is one anomaly, at most MAX_STRING_ANOMALIES listed.
    let mut x = Axml::new(&[], true);
    let v = x.s("v");
    x.start("a", &[("", v, AV::Str("x"))]);
    for i in 0..40 {
        x.text(&format!("t{i}"));
    }
    x.end("a");
    let mut data = x.finish();
    // The pool: header 28 bytes at offset 8, then the offsets, then the strings.
    let count = u32::from_le_bytes(data[16..20].try_into().expect("4")) as usize;
    let strings_at = 8 + u32::from_le_bytes(data[28..32].try_into().expect("4")) as usize;
    for i in 0..count {
        let o = 36 + 4 * i;
        let off = u32::from_le_bytes(data[o..o + 4].try_into().expect("4")) as usize;
        data[strings_at + off + 1] = 0x7f;
    }
    let doc = axml::parse(&data).expect("read anyway");
    let listed = doc
        .anomalies
        .iter()
        .filter(|a| matches!(a, AxmlAnomaly::StringPastSlot { .. }))
        .count();
    assert_eq!(listed, axml::MAX_STRING_ANOMALIES);
    assert!(
        doc.anomalies.contains(&AxmlAnomaly::StringsPastSlot {
            count: count as u64
        }),
        "{:?}",
        doc.anomalies
    );
}

#[test]
fn arsc_string_with_false_length_is_an_anomaly() {
    let arsc = build_arsc(1, &[("", 0, "Label"), ("", 1, "Other-secret")], false);
    let t = ResourceTable::parse(&arsc).expect("honest");
    assert!(t.anomalies().is_empty());
    // The global pool is UTF-8 in build_arsc: "Label" is 5 bytes; claim 20.
    let needle = [&[5u8, 5][..], b"Label"].concat();
    let at = arsc
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("label");
    let mut bad = arsc.clone();
    bad[at] = 20;
    bad[at + 1] = 20;
    let t = ResourceTable::parse(&bad).expect("read anyway");
    assert!(
        matches!(
            t.anomalies(),
            [AxmlAnomaly::StringPastSlot { at: a, declared: 20, .. }] if *a == at as u64
        ),
        "{:?}",
        t.anomalies()
    );
}

/// A manifest whose label is a reference into resources.arsc.
fn manifest_with_label_ref() -> Vec<u8> {
    let ids = [("", pc_apk::attrs::id::LABEL)];
    let mut x = Axml::new(&ids, true);
    x.ns("android", common::ANDROID_NS);
    let pkg = x.s("package");
    x.start("manifest", &[("", pkg, AV::Str("com.example"))]);
    x.start(
        "application",
        &[(common::ANDROID_NS, 0, AV::Ref(0x7f01_0000))],
    );
    x.end("application");
    x.end("manifest");
    x.finish()
}

#[test]
fn oversize_resources_arsc_is_an_anomaly_with_size_and_limit() {
    let arsc = build_arsc(1, &[("", 0, "Label")], false);
    // Honest: resolved, no anomaly.
    let zip = build_zip(
        &[],
        &[
            ZEntry::deflated("AndroidManifest.xml", &manifest_with_label_ref()),
            ZEntry::deflated("resources.arsc", &arsc),
        ],
        &[],
    );
    let a = Archive::parse(&zip).expect("zip");
    let m = manifest::from_archive(&a).expect("manifest");
    assert_eq!(m.manifest.label.as_deref(), Some("Label"));
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);

    // A resources.arsc declaring more than MAX_ARSC_SIZE: the table padded with zeros past
    // the limit, deflated so the test holds only the compressed form while building it.
    let big = MAX_ARSC_SIZE + 1;
    let padded = RawEntry::padded("resources.arsc", &arsc, big);
    let zip = common::bombs::zip_of(&[
        RawEntry::deflated("AndroidManifest.xml", &manifest_with_label_ref()),
        padded,
    ]);
    let a = Archive::parse(&zip).expect("zip");
    let m = manifest::from_archive(&a).expect("manifest still read");
    assert_eq!(m.manifest.package, "com.example");
    assert!(m.resources.is_none());
    match &m.anomalies[..] {
        [ManifestAnomaly::Unread { file, why }] => {
            assert_eq!(file, "resources.arsc");
            assert!(why.contains(&big.to_string()), "{why}");
            assert!(why.contains(&MAX_ARSC_SIZE.to_string()), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // The same through the file reader.
    let mut f = std::io::Cursor::new(&zip);
    let m2 = manifest::from_file(&a, &mut f).expect("manifest");
    assert_eq!(m2.anomalies, m.anomalies);
    let s = m.anomalies[0].to_string();
    assert!(s.starts_with("resources.arsc: not read"), "{s}");
}
