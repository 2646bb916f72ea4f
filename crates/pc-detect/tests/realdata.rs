//! The ReportHAR capture with known identifiers (tests/data/leak/README.md).

use pc_detect::{Identifier, IdentifierKind as K, Matcher, ScanOptions};

const HAR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/leak/reporthar_android_second-run.har"
);
const GAID: &str = "1209d0b9-b959-42e6-b921-aa5d9d08c1af";
const ANON: &str = "XZ9dd82044-772f-4b99-b17b-208e9c3cc38b";

fn matcher() -> Matcher {
    Matcher::new(&[
        Identifier::text(K::AdvertisingId, "advertising_id", GAID),
        Identifier::text(K::Custom, "fb_anon_id", ANON),
        Identifier::text(K::Custom, "branch_fp", "1172860168313205995"),
        Identifier::text(K::Imei, "imei", "490154203237518"),
    ])
}

#[test]
fn finds_known_identifiers_in_har() {
    let data = std::fs::read(HAR).expect("fixture");
    let m = matcher();
    let hits = m.scan_collect(&data, &ScanOptions::default());
    let count = |i: usize| hits.iter().filter(|h| h.ident == i).count();
    // Every textual occurrence, once (grep -o counts on the fixture).
    assert_eq!(count(0), 14);
    assert_eq!(count(1), 6);
    assert_eq!(count(2), 3);
    assert_eq!(count(3), 0, "the emulator's IMEI is not in this capture");
    for h in &hits {
        let want = [GAID, ANON, "1172860168313205995"][h.ident];
        assert_eq!(&data[h.start..h.end], want.as_bytes());
        assert_eq!(h.encoding, ["plain"]);
    }
    // The anon_id travels in URL-encoded form bodies (they carry %XX escapes); the value itself
    // needs no escaping, so the url layer's view of it is the same place and is deduplicated.
    let in_form = hits
        .iter()
        .filter(|h| h.ident == 1)
        .filter(|h| data[..h.start].ends_with(b"&anon_id="))
        .count();
    assert_eq!(in_form, 3);
    // Masked evidence does not reveal the values.
    for h in &hits {
        let s = m.snippet(&data, h.start, h.end, false);
        assert!(!s.contains(GAID) && !s.contains(ANON) && !s.contains("1172860168313205995"));
    }
}

/// The real form bodies, as they travel when nested as a URL-encoded parameter (e.g. a
/// redirect or a batched request): now the ids are only found through the url layer.
#[test]
fn finds_ids_through_url_layer_in_nested_har_bodies() {
    let data = std::fs::read(HAR).expect("fixture");
    let text = String::from_utf8(data).expect("HAR is UTF-8");
    let m = matcher();
    let mut url_hits = [0usize; 2];
    for line in text
        .lines()
        .filter(|l| l.contains("\"text\": \"") && l.contains("anon_id="))
    {
        let body = line
            .split("\"text\": \"")
            .nth(1)
            .unwrap()
            .trim_end_matches(['"', ',']);
        // Encode everything but alphanumerics, as strict encoders (encodeURIComponent-like
        // plus '-') do.
        let enc: String = body
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let payload = format!("GET /batch?req={enc} HTTP/1.1\r\n\r\n");
        for h in m.scan_collect(payload.as_bytes(), &ScanOptions::default()) {
            if h.ident < 2 {
                assert_eq!(h.encoding[0], "url", "{h:?}");
                url_hits[h.ident] += 1;
            }
        }
    }
    assert!(url_hits[0] >= 3 && url_hits[1] >= 3, "{url_hits:?}");
}
