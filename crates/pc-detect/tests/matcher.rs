//! Forms, layers, dedupe, near misses and masking of the identifier matcher.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use pc_detect::{
    GeoPoint, Hit, Identifier, IdentifierKind as K, IdentifierValue, Matcher, ScanOptions, snippet,
};
use sha1::Digest;

fn id(kind: K, v: &str) -> Identifier {
    Identifier::text(kind, kind.as_str(), v)
}

fn scan(m: &Matcher, data: &[u8]) -> Vec<Hit> {
    let mut v = Vec::new();
    m.scan(data, &ScanOptions::default(), &mut |h| v.push(h.clone()));
    v
}

fn chains(hits: &[Hit]) -> Vec<Vec<&'static str>> {
    hits.iter().map(|h| h.encoding.clone()).collect()
}

/// Assert that `data` yields exactly one hit, for identifier 0, with `chain`, covering `needle`.
fn assert_single(m: &Matcher, data: &[u8], chain: &[&str], needle: &[u8]) {
    let hits = scan(m, data);
    assert_eq!(
        hits.len(),
        1,
        "hits {:?} in {:?}",
        hits,
        String::from_utf8_lossy(data)
    );
    let h = &hits[0];
    assert_eq!(h.ident, 0);
    assert_eq!(h.encoding, chain, "in {:?}", String::from_utf8_lossy(data));
    let at = data
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in data");
    // Base64 forms stop at the last character fully determined by the value (padding and the
    // final partial character are not part of the pattern).
    let slack = if chain.iter().any(|c| c.contains("base64")) {
        3
    } else {
        0
    };
    assert_eq!(h.start, at, "span of {chain:?}");
    assert!(
        h.end <= at + needle.len() && h.end + slack >= at + needle.len(),
        "span of {chain:?}"
    );
}

fn wrap(form: &[u8]) -> Vec<u8> {
    let mut d = b"POST /collect HTTP/1.1\r\nHost: t.example\r\n\r\n{\"v\":\"".to_vec();
    d.extend_from_slice(form);
    d.extend_from_slice(b"\",\"n\":1}");
    d
}

fn md5_hex(b: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(b))
}
fn sha1_hex(b: &[u8]) -> String {
    hex::encode(sha1::Sha1::digest(b))
}
fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn check_forms(kind: K, value: &str, cases: &[(&[&str], String)]) {
    let m = Matcher::new(&[id(kind, value)]);
    assert!(m.skipped().is_empty(), "{kind}: {:?}", m.skipped());
    for (chain, form) in cases {
        assert_single(&m, &wrap(form.as_bytes()), chain, form.as_bytes());
    }
}

#[test]
fn imei_forms() {
    let v = "490154203237518";
    check_forms(
        K::Imei,
        v,
        &[
            (&["plain"], v.into()),
            (&["imei14"], "49015420323751".into()),
            (&["md5-hex"], md5_hex(v.as_bytes())),
            (
                &["sha256-hex", "imei14"],
                sha256_hex(b"49015420323751").to_uppercase(),
            ),
            (&["base64"], STANDARD.encode(v)),
            (&["hex"], hex::encode(v)),
        ],
    );
    // A 14-digit IMEI gets its Luhn digit; an IMEISV yields the IMEI.
    check_forms(K::Imei, "49015420323751", &[(&["imei15"], v.into())]);
    check_forms(
        K::Imei,
        "4901542032375102",
        &[
            (&["imei15"], v.into()),
            (&["imei14"], "49015420323751".into()),
        ],
    );
}

#[test]
fn imsi_serial_custom_meid_forms() {
    let imsi = "208150123456789";
    check_forms(
        K::Imsi,
        imsi,
        &[
            (&["plain"], imsi.into()),
            (&["sha1-hex"], sha1_hex(imsi.as_bytes())),
        ],
    );
    check_forms(
        K::Serial,
        "R58M12ABCDE",
        &[
            (&["plain"], "r58m12abcde".into()),
            (&["base64"], URL_SAFE_NO_PAD.encode("R58M12ABCDE")),
        ],
    );
    check_forms(
        K::Custom,
        "my device/name",
        &[
            (&["url"], "my%20device%2Fname".into()),
            (&["url"], "my%20device%2fname".into()),
        ],
    );
    check_forms(
        K::Meid,
        "A0000012345678",
        &[
            (&["plain"], "a0000012345678".into()),
            (&["md5-hex", "upper"], md5_hex(b"A0000012345678")),
            (&["md5-hex"], md5_hex(b"a0000012345678")),
        ],
    );
}

#[test]
fn iccid_forms() {
    let v = "8933150319000012345";
    check_forms(
        K::Iccid,
        &format!("{v}F"),
        &[
            (&["plain"], v.into()),
            (&["iccid-no-check"], "893315031900001234".into()),
            (&["iccid-f"], format!("{v}F")),
            (&["bcd-swapped"], "983351309100002143F5".into()),
        ],
    );
}

#[test]
fn msisdn_forms() {
    let v = "+33612345678";
    check_forms(
        K::Msisdn,
        v,
        &[
            (&["plain"], v.into()),
            (&["e164-no-plus"], "33612345678".into()),
            (&["intl-00"], "0033612345678".into()),
            (&["national"], "0612345678".into()),
            (&["national-bare"], "612345678".into()),
            (&["url"], "%2B33612345678".into()),
            (&["url"], "%2b33612345678".into()),
            (&["sha256-hex", "e164-no-plus"], sha256_hex(b"33612345678")),
        ],
    );
    // A national number plus calling code yields the international forms.
    let mut i = id(K::Msisdn, "06 12 34 56 78");
    i.calling_code = Some("33".into());
    let m = Matcher::new(&[i]);
    assert_single(&m, &wrap(b"+33612345678"), &["plain"], b"+33612345678");
    // NANP and a 3-digit code.
    check_forms(
        K::Msisdn,
        "+14155550123",
        &[(&["national-bare"], "4155550123".into())],
    );
    check_forms(
        K::Msisdn,
        "+351912345678",
        &[(&["national-bare"], "912345678".into())],
    );
    assert_eq!(pc_detect::calling_code_of("4915112345678"), Some("49"));
    assert_eq!(pc_detect::calling_code_of("79161234567"), Some("7"));
    assert_eq!(pc_detect::calling_code_of("2348031234567"), Some("234"));
}

#[test]
fn national_number_needs_digit_boundaries() {
    let m = Matcher::new(&[id(K::Msisdn, "+33612345678")]);
    // Inside a longer number (a timestamp) the bare national number is not the phone number.
    assert!(scan(&m, b"{\"ts\":17612345678901}").is_empty());
    assert_eq!(scan(&m, b"{\"tel\":612345678}").len(), 1);
}

#[test]
fn mac_forms() {
    let v = "AA:BB:CC:11:22:33";
    let raw = [0xaa, 0xbb, 0xcc, 0x11, 0x22, 0x33];
    check_forms(
        K::WifiMac,
        v,
        &[
            (&["plain"], v.into()),
            (&["plain"], v.to_lowercase()),
            (&["mac-dash"], "aa-bb-cc-11-22-33".into()),
            (&["mac-bare"], "AABBCC112233".into()),
            (&["mac-dot"], "aabb.cc11.2233".into()),
            (&["url"], "aa%3Abb%3Acc%3A11%3A22%3A33".into()),
            (
                &["sha1-hex", "upper", "mac-bare"],
                sha1_hex(b"AABBCC112233"),
            ),
            (&["md5-hex"], md5_hex(b"aa:bb:cc:11:22:33")),
            (&["base64", "upper"], STANDARD.encode(v)),
            (&["base64", "mac-bytes"], STANDARD.encode(raw)),
        ],
    );
    check_forms(
        K::BtMac,
        "a4:50:46:0f:9e:1c",
        &[(&["mac-bare"], "A450460F9E1C".into())],
    );
    // Raw MAC bytes in a binary payload.
    let m = Matcher::new(&[id(K::BtMac, v)]);
    let mut bin = vec![0u8, 1, 2, 3];
    bin.extend_from_slice(&raw);
    bin.push(9);
    assert_single(&m, &bin, &["mac-bytes"], &raw);
}

#[test]
fn android_and_advertising_id_forms() {
    check_forms(
        K::AndroidId,
        "9774d56d682e549c",
        &[
            (&["plain"], "9774D56D682E549C".into()),
            (&["sha256-hex", "upper"], sha256_hex(b"9774D56D682E549C")),
        ],
    );
    let g = "1209d0b9-b959-42e6-b921-aa5d9d08c1af";
    let mut raw = [0u8; 16];
    hex::decode_to_slice(g.replace('-', ""), &mut raw).unwrap();
    check_forms(
        K::AdvertisingId,
        g,
        &[
            (&["plain"], g.to_uppercase()),
            (&["uuid-bare"], g.replace('-', "")),
            (&["base64"], STANDARD.encode(g)),
            (
                &["base64", "upper"],
                URL_SAFE_NO_PAD.encode(g.to_uppercase()),
            ),
            (&["base64", "uuid-bytes"], STANDARD.encode(raw)),
            (
                &["md5-hex", "upper", "uuid-bare"],
                md5_hex(g.replace('-', "").to_uppercase().as_bytes()),
            ),
        ],
    );
}

#[test]
fn email_forms() {
    let m = Matcher::new(&[id(K::Email, "John.Doe@Example.com")]);
    assert_single(
        &m,
        &wrap(b"john.doe@EXAMPLE.com"),
        &["plain"],
        b"john.doe@EXAMPLE.com",
    );
    let h = sha256_hex(b"john.doe@example.com");
    assert_single(&m, &wrap(h.as_bytes()), &["sha256-hex"], h.as_bytes());
    assert_single(
        &m,
        &wrap(b"john.doe%40example.com"),
        &["url"],
        b"john.doe%40example.com",
    );
}

#[test]
fn location_needs_both_coordinates() {
    let p = GeoPoint {
        lat: 48.856613,
        lon: 2.352222,
        radius_m: 100.0,
    };
    let m = Matcher::new(&[Identifier {
        kind: K::Location,
        name: "home".into(),
        value: IdentifierValue::Location(p),
        calling_code: None,
    }]);
    let both = b"{\"lat\":48.8566,\"lng\":2.3522,\"acc\":20}";
    let hits = scan(&m, both);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].encoding, ["decimal-4dp"]);
    assert_eq!(&both[hits[0].start..hits[0].end], b"48.8566");
    // Truncated 3 decimals, in a URL query.
    assert_eq!(scan(&m, b"GET /w?lat=48.856&lon=2.352 HTTP/1.1").len(), 1);
    // Only one coordinate, or a different hemisphere / longer number: nothing.
    assert!(scan(&m, b"{\"lat\":48.8566,\"lng\":7.1}").is_empty());
    assert!(scan(&m, b"{\"lat\":48.8566,\"lng\":-2.3522}").is_empty());
    assert!(scan(&m, b"{\"lat\":148.8566,\"lng\":12.3522}").is_empty());
    // Text form "lat,lon" is accepted; 0,0 is refused.
    let t = Matcher::new(&[id(K::Location, "48.856613, 2.352222")]);
    assert_eq!(scan(&t, both).len(), 1);
    let z = Matcher::new(&[id(K::Location, "0.0,0.1")]);
    assert_eq!(z.skipped().len(), 1);
}

#[test]
fn short_and_bad_values_are_skipped() {
    let ids = [
        id(K::Serial, "abc12"),
        id(K::Custom, "   "),
        id(K::Imei, "490154203237518"),
        id(K::Location, "north"),
    ];
    let m = Matcher::new(&ids);
    let skipped: Vec<usize> = m.skipped().iter().map(|s| s.ident).collect();
    assert_eq!(skipped, [0, 1, 3]);
    assert!(m.forms_of(0).is_empty());
    assert!(!m.forms_of(2).is_empty());
    assert!(scan(&m, b"abc12 abc12").is_empty());
    let none = Matcher::new(&[]);
    assert_eq!(none.pattern_count(), 0);
    assert!(scan(&none, b"anything").is_empty());
}

#[test]
fn base64_substring_alignments() {
    let v = "490154203237518";
    let m = Matcher::new(&[id(K::Imei, v)]);
    for k in 0..3 {
        for suffix in ["", "&x=1", "Z"] {
            let mut buf = b"pfx"[..k].to_vec();
            buf.extend_from_slice(v.as_bytes());
            buf.extend_from_slice(suffix.as_bytes());
            for enc in [STANDARD.encode(&buf), URL_SAFE_NO_PAD.encode(&buf)] {
                let data = format!("{{\"d\":\"{enc}\"}}");
                // Depth 0: found by the raw base64-substring patterns alone.
                let opts = ScanOptions {
                    max_depth: 0,
                    ..ScanOptions::default()
                };
                let hits = m.scan_collect(data.as_bytes(), &opts);
                assert_eq!(chains(&hits), [vec!["base64"]], "k={k} {data}");
                let h = &hits[0];
                let run = data.find(&enc).unwrap();
                assert!(h.start >= run && h.end <= run + enc.len());
                // Default depth: still exactly one hit (decoded layer deduplicated).
                assert_eq!(chains(&scan(&m, data.as_bytes())), [vec!["base64"]]);
            }
        }
    }
}

#[test]
fn nested_layers() {
    let v = "490154203237518";
    let m = Matcher::new(&[id(K::Imei, v)]);
    // sha1-hex, fully percent-encoded in a query, the query base64-encoded in a JSON field.
    let h = sha1_hex(v.as_bytes());
    let pct: String = h.bytes().map(|b| format!("%{b:02X}")).collect();
    let inner = format!("a=1&h={pct}&z=2");
    let b64 = STANDARD.encode(&inner);
    let data = format!("{{\"payload\":\"{b64}\"}}");
    let hits = scan(&m, data.as_bytes());
    assert_eq!(chains(&hits), [vec!["base64", "url", "sha1-hex"]]);
    let run = data.find(&b64).unwrap();
    assert!(hits[0].start >= run && hits[0].end <= run + b64.len());
    // The span is the base64 characters encoding the percent-encoded digest.
    let off = inner.find(&pct).unwrap();
    assert_eq!(hits[0].start, run + off * 8 / 6);
    // Too shallow: not found.
    let opts = ScanOptions {
        max_depth: 1,
        ..ScanOptions::default()
    };
    assert!(m.scan_collect(data.as_bytes(), &opts).is_empty());
    // No decoding budget: not found either, and the scan says it stopped short.
    let opts = ScanOptions {
        max_decoded_bytes: 0,
        ..ScanOptions::default()
    };
    assert!(m.scan_collect(data.as_bytes(), &opts).is_empty());
    assert!(m.scan(data.as_bytes(), &opts, &mut |_| {}).incomplete);
    assert!(
        !m.scan(data.as_bytes(), &ScanOptions::default(), &mut |_| {})
            .incomplete
    );

    // URL inside URL (double encoding) of a MAC, and base64 inside a URL-encoded value.
    let mm = Matcher::new(&[id(K::WifiMac, "aa:bb:cc:11:22:33")]);
    let d = b"GET /p?m=aa%253Abb%253Acc%253A11%253A22%253A33 HTTP/1.1";
    let hits = scan(&mm, d);
    assert_eq!(chains(&hits), [vec!["url", "url"]]);
    assert_eq!(
        &d[hits[0].start..hits[0].end],
        b"aa%253Abb%253Acc%253A11%253A22%253A33"
    );
    // Where the value's own base64 characters are untouched by the URL encoding, the raw
    // base64-substring form wins over the decoded layers.
    let b = STANDARD.encode("{\"mac\":\"AA:BB:CC:11:22:33\",\"x\":\"????>>>\"}");
    let q = format!("GET /p?d={} HTTP/1.1", pct_all_reserved(&b));
    assert_eq!(
        chains(&scan(&mm, q.as_bytes())),
        [vec!["base64", "upper"]],
        "{q}"
    );
    // Where a '/' inside the value's base64 is percent-encoded, only url -> base64 finds it.
    let c = Matcher::new(&[id(K::Custom, "id???abc")]);
    let b = STANDARD.encode("{\"dev\":\"id???abc\",\"n\":12}");
    let q = format!("GET /p?d={} HTTP/1.1", pct_all_reserved(&b));
    assert!(q.contains("%2F"), "{q}");
    assert_eq!(
        chains(&scan(&c, q.as_bytes())),
        [vec!["url", "base64"]],
        "{q}"
    );
}

fn pct_all_reserved(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'+' | b'/' | b'=' => format!("%{b:02X}"),
            _ => char::from(b).to_string(),
        })
        .collect()
}

#[test]
fn url_layer_span_and_dedupe() {
    let m = Matcher::new(&[
        id(K::WifiMac, "aa:bb:cc:11:22:33"),
        id(K::Imei, "490154203237518"),
    ]);
    // Plain values next to percent escapes: one hit each, not an extra "url" hit.
    let d = b"a=%7B%7D&imei=490154203237518&mac=aa%3Abb%3Acc%3A11%3A22%3A33&z=%20";
    let hits = scan(&m, d);
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(
        (hits[0].ident, hits[0].encoding.clone()),
        (1, vec!["plain"])
    );
    assert_eq!((hits[1].ident, hits[1].encoding.clone()), (0, vec!["url"]));
    assert_eq!(
        &d[hits[1].start..hits[1].end],
        b"aa%3Abb%3Acc%3A11%3A22%3A33"
    );
    // Mixed-case escapes that no pre-encoded form has: found by the url layer, exact span.
    let d = b"x=1&mac=aa%3abb:cc%3A11:22%3a33&y";
    let hits = scan(&m, d);
    assert_eq!(chains(&hits), [vec!["url"]]);
    assert_eq!(&d[hits[0].start..hits[0].end], b"aa%3abb:cc%3A11:22%3a33");
    // Repeated occurrences are each reported once.
    let d = b"490154203237518 490154203237518";
    assert_eq!(scan(&m, d).len(), 2);
}

#[test]
fn near_misses_do_not_match() {
    let ids = [
        id(K::Imei, "490154203237518"),
        id(K::Msisdn, "+33612345678"),
        id(K::WifiMac, "aa:bb:cc:11:22:33"),
        id(K::AdvertisingId, "1209d0b9-b959-42e6-b921-aa5d9d08c1af"),
    ];
    let m = Matcher::new(&ids);
    let near = [
        "490154203237519",
        "490154203238518",
        "+33612345679",
        "0612345677",
        "aa:bb:cc:11:22:34",
        "ab:bb:cc:11:22:33",
        "1209d0b9-b959-42e6-b921-aa5d9d08c1ae",
        "1209d0b9-b959-42e6-b921-aa5d9d08d1af",
    ];
    for n in near {
        for form in [n.to_string(), STANDARD.encode(n), md5_hex(n.as_bytes())] {
            let d = wrap(form.as_bytes());
            assert!(scan(&m, &d).is_empty(), "{form}: {:?}", scan(&m, &d));
        }
    }
    // The originals do match (the test above can fail).
    for i in &ids {
        let IdentifierValue::Text(t) = &i.value else {
            unreachable!()
        };
        assert_eq!(scan(&m, &wrap(t.as_bytes())).len(), 1, "{t}");
    }
}

#[test]
fn masking_never_leaks() {
    let v = "490154203237518";
    let m = Matcher::new(&[id(K::Imei, v), id(K::Msisdn, "+33612345678")]);
    let data = format!(
        "GET /t?imei={v}&tel=%2B33612345678&again={v}&h={} HTTP/1.1\r\n\x01\x02",
        md5_hex(v.as_bytes())
    );
    let hits = scan(&m, data.as_bytes());
    assert_eq!(hits.len(), 4, "{hits:?}");
    for h in &hits {
        let s = m.snippet(data.as_bytes(), h.start, h.end, false);
        assert!(
            !s.contains(v) && !s.contains("612345678") && !s.contains("%2B336"),
            "{s}"
        );
        assert!(!s.contains(&md5_hex(v.as_bytes())[..8]), "{s}");
        assert!(s.contains("[REDACTED:"), "{s}");
        // The plain function masks the hit itself.
        let p = snippet(data.as_bytes(), h.start, h.end, false);
        assert!(
            p.contains(&format!("[REDACTED:{}]", h.end - h.start)),
            "{p}"
        );
        let r = m.snippet(data.as_bytes(), h.start, h.end, true);
        assert!(r.contains(&data[h.start..h.end]), "{r}");
    }
    // Context, escaping and clamping.
    let s = snippet(b"\x00abc\nSECRET\xffxyz", 5, 11, false);
    assert_eq!(s, "\\x00abc\\n[REDACTED:6]\\xffxyz");
    let long = vec![b'a'; 200];
    let s = snippet(&long, 100, 110, false);
    assert_eq!(
        s,
        format!("...{}[REDACTED:10]{}...", "a".repeat(40), "a".repeat(40))
    );
    assert_eq!(snippet(b"abc", 10, 2, true), "abc");
    assert_eq!(snippet(b"abc", 10, 2, false), "ab[REDACTED:1]");
    assert_eq!(snippet(b"", 0, 5, false), "");
}

#[test]
fn hostile_input_does_not_panic() {
    let ids = [
        id(K::Imei, "490154203237518"),
        id(K::Email, "a.b@example.org"),
        id(K::Location, "48.8566,2.3522"),
    ];
    let m = Matcher::new(&ids);
    let opts = ScanOptions {
        max_depth: 255,
        max_decoded_bytes: 1 << 16,
    };
    // Pseudo-random bytes, base64/percent soup, deep nesting, truncations.
    let mut x: u32 = 12345;
    let mut rnd = Vec::new();
    for _ in 0..20000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        rnd.push((x >> 16) as u8);
    }
    let mut nested = b"490154203237518".to_vec();
    for i in 0..12 {
        nested = if i % 2 == 0 {
            STANDARD.encode(&nested).into_bytes()
        } else {
            nested
                .iter()
                .flat_map(|b| format!("%{b:02x}").into_bytes())
                .collect()
        };
    }
    let inputs: Vec<Vec<u8>> = vec![
        rnd.clone(),
        b"%".repeat(5000),
        b"%%%2%4%zz%ff%".repeat(300),
        b"QUJDRGFiY2Q".repeat(2000),
        nested.clone(),
        vec![0xff; 4096],
        Vec::new(),
    ];
    for d in &inputs {
        for cut in (0..d.len()).step_by(97).chain([d.len()]) {
            m.scan(&d[..cut], &opts, &mut |h| {
                assert!(h.start <= h.end && h.end <= cut);
                let _ = m.snippet(&d[..cut], h.start, h.end, false);
            });
        }
    }
    // The cap on the decoding depth holds for absurd max_depth.
    assert!(m.scan_collect(&nested, &opts).is_empty());
}
