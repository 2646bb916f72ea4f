//! HAR input built by hand: lenient fields, timestamps, errors with offsets, truncation.

mod common;

use std::path::Path;

use common::*;
use pc_capture::{ErrorKind, har};

// ---------------------------------------------------------------------------------------------
// HAR
// ---------------------------------------------------------------------------------------------

#[test]
fn har_lenient_fields() {
    let doc = br#"{"log": {"creator": {"name": "x"}, "entries": [
        {"startedDateTime": "2024-01-02T03:04:05.5-01:30", "serverIPAddress": "[2001:db8::1]",
         "request": {"method": "POST", "url": "https://a.example/p", "httpVersion": "HTTP/2",
                     "headers": [{"name": "A", "value": "1"}, 7, {"name": "B"}],
                     "cookies": "nonsense",
                     "postData": {"mimeType": "application/x-www-form-urlencoded", "text": "",
                                  "params": [{"name": "k y", "value": "v&1=\u00e9"}, {"name": "z", "value": ""}]}},
         "response": {"status": "404", "headers": [],
                      "content": {"mimeType": "text/plain", "text": "aGVs\nbG8=", "encoding": "base64"}}},
        {"request": {"method": "PUT", "url": "u", "postData": {"text": "AAEC", "encoding": "base64"}},
         "response": {"status": 99999}},
        "not an object",
        {"request": {"method": "GET", "url": "v"}, "response": {"status": 200,
         "content": {"text": "not base64!", "encoding": "base64"}}}
    ]}}"#;
    let h = har::parse(doc, "doc").expect("parse");
    assert_eq!(h.creator.as_deref(), Some("x"));
    assert_eq!(h.entries.len(), 4);
    let e = &h.entries[0];
    // 2024-01-02T04:34:05.5Z
    assert_eq!(e.ts, Some(1_704_170_045_500_000_000));
    assert_eq!(e.server_ip, "2001:db8::1".parse().ok());
    assert_eq!(
        e.request.headers,
        vec![("A".into(), "1".into()), ("B".into(), String::new())]
    );
    assert!(e.request.cookies.is_empty());
    assert_eq!(
        e.request.body.as_deref(),
        Some(&b"k+y=v%261%3D%C3%A9&z="[..])
    );
    let r = e.response.as_ref().expect("resp");
    assert_eq!((r.status, r.body.as_deref()), (404, Some(&b"hello"[..])));
    assert_eq!(h.entries[1].request.body.as_deref(), Some(&[0u8, 1, 2][..]));
    assert_eq!(h.entries[1].response.as_ref().map(|r| r.status), Some(0));
    assert_eq!(h.entries[2].index, 2);
    assert_eq!(h.entries[2].request.method, "");
    let r = h.entries[3].response.as_ref().expect("resp");
    assert_eq!(r.body.as_deref(), Some(&b"not base64!"[..]));
    assert_eq!(h.entries[3].ts, None);
}

#[test]
fn har_timestamps() {
    use har::parse_timestamp as t;
    assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(t("1970-01-01T00:00:00.000000001+00:00"), Some(1));
    assert_eq!(
        t("2023-03-29T17:37:42.482-07:00"),
        Some(1_680_136_662_482_000_000)
    );
    assert_eq!(
        t("2023-03-30T00:00:54.250Z"),
        Some(1_680_134_454_250_000_000)
    );
    assert_eq!(t("2000-02-29T12:00:00+0100"), Some(951_822_000_000_000_000));
    assert_eq!(t("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
    for bad in [
        "",
        "2023",
        "2023-13-01T00:00:00Z",
        "2023-01-01T00:00:00Q",
        "2023-01-01T00:00:00.Z",
        "２０２３-01-01T00:00:00Z",
    ] {
        assert_eq!(t(bad), None, "{bad}");
    }
}

#[test]
fn har_errors_carry_offsets() {
    let e = har::parse(b"{\"log\": {\"entries\": [}", "x.har").expect_err("bad json");
    assert!(matches!(e.kind, ErrorKind::Json(_)));
    assert_eq!(e.offset, 21);
    let e = har::parse(b"\xEF\xBB\xBF{\n\"log\": x}", "bom.har").expect_err("bad json");
    assert_eq!(e.offset, 3 + 9);
    assert!(
        e.to_string()
            .starts_with("bom.har: at byte 12: invalid JSON"),
        "{e}"
    );
    let e = har::parse(b"{}", "x").expect_err("no log");
    assert!(matches!(e.kind, ErrorKind::Malformed(_)));
    let e = har::parse(b"{\"log\": {\"entries\": 5}}", "x").expect_err("entries");
    assert!(matches!(
        e.kind,
        ErrorKind::Json(_) | ErrorKind::Malformed(_)
    ));
    assert!(har::parse(b"[1,2]", "x").is_err());
    assert!(har::parse(b"\xff\xfe", "x").is_err());
    let deep = "[".repeat(100_000);
    assert!(har::parse(deep.as_bytes(), "x").is_err());
}

#[test]
fn har_truncated_at_every_length() {
    let f = std::fs::read(Path::new(DATA).join("pcap/mitmproxy/insomnia.har")).expect("read");
    for cut in 0..f.len() {
        let e = har::parse(&f[..cut], "t").expect_err("truncated JSON");
        assert!(e.offset <= cut as u64, "cut {cut}: {e}");
    }
    assert!(har::parse(&f, "t").is_ok());
}
