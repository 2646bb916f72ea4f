//! The HAR reader as a stream: entries one at a time with their offsets, the per-entry limit,
//! lossy text with repairs reported where they are, gzip, and hostile documents (truncation,
//! wrong types, deep nesting, trailing bytes). Every document is built here.

use std::io::{Cursor, Write as _};

use pc_capture::ErrorKind;
use pc_capture::har::{self, HarLimits, HarReader, Item, RepairKind};

fn reader(doc: &[u8], limits: HarLimits) -> HarReader {
    HarReader::from_reader(Box::new(Cursor::new(doc.to_vec())), "t.har", limits).expect("open")
}

/// Every item, and the error that ended the reading if any.
fn drain(doc: &[u8], limits: HarLimits) -> (Vec<Item>, Option<pc_capture::CaptureError>) {
    let mut r = reader(doc, limits);
    let mut items = Vec::new();
    loop {
        match r.next_item() {
            Ok(Some(i)) => items.push(i),
            Ok(None) => return (items, None),
            Err(e) => {
                // Fused after an error.
                assert!(matches!(r.next_item(), Ok(None)));
                return (items, Some(e));
            }
        }
    }
}

fn entry(url: &str) -> String {
    format!(r#"{{"request": {{"method": "GET", "url": "{url}"}}, "response": {{"status": 200}}}}"#)
}

fn doc(entries: &[String], tail: &str) -> String {
    format!(
        r#"{{"log": {{"version": "1.2", "entries": [{}]{tail}}}}}"#,
        entries.join(", ")
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gz");
    enc.finish().expect("gz")
}

#[test]
fn entries_come_one_at_a_time_with_their_offsets() {
    let urls = ["http://a/1", "https://b/2", "http://c/3"];
    let entries: Vec<String> = urls.iter().map(|u| entry(u)).collect();
    // creator after entries, as HAR allows.
    let text = doc(&entries, r#", "creator": {"name": "late", "version": "1"}"#);
    let mut r = reader(text.as_bytes(), HarLimits::default());
    assert_eq!(r.creator(), None);
    for (i, url) in urls.iter().enumerate() {
        let Some(Item::Entry(e)) = r.next_item().expect("item") else {
            panic!("entry {i}");
        };
        assert_eq!((e.index, e.request.url.as_str()), (i, *url));
        let at = usize::try_from(e.offset).expect("offset");
        assert!(text[at..].starts_with(&entries[i]), "entry {i} at {at}");
        assert!(e.repairs.is_empty());
        assert_eq!(r.entries_seen(), i + 1);
    }
    assert!(r.next_item().expect("end").is_none());
    assert_eq!(r.creator(), Some("late"));
    assert_eq!(r.position(), text.len() as u64);
    // The iterator gives the same.
    let n = reader(text.as_bytes(), HarLimits::default())
        .map(|i| i.expect("item"))
        .filter(|i| matches!(i, Item::Entry(_)))
        .count();
    assert_eq!(n, 3);
}

#[test]
fn an_entry_over_the_limit_is_skipped_and_reading_goes_on() {
    let limits = HarLimits {
        max_entry: 1000,
        ..HarLimits::default()
    };
    let big_url = format!("http://big/{}", "x".repeat(2000));
    let big_header = format!(
        r#"{{"request": {{"url": "http://h/", "headers": [{}]}}}}"#,
        vec![r#"{"name": "a", "value": "b"}"#; 200].join(",")
    );
    let entries = vec![
        entry("http://a/0"),
        entry(&big_url),
        entry("http://a/2"),
        big_header,
        entry("http://a/4"),
    ];
    let text = doc(&entries, "");
    let (items, err) = drain(text.as_bytes(), limits);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(items.len(), 5);
    for (i, item) in items.iter().enumerate() {
        match (i, item) {
            (0 | 2 | 4, Item::Entry(e)) => assert_eq!(e.request.url, format!("http://a/{i}")),
            (1 | 3, Item::Skipped(s)) => {
                assert_eq!((s.index, s.max, s.path.as_str()), (i, 1000, "t.har"));
                let at = usize::try_from(s.offset).expect("offset");
                assert!(text[at..].starts_with(&entries[i]), "{s}");
                let msg = s.to_string();
                assert!(
                    msg.starts_with(&format!("t.har: at byte {at}: HAR entry {i} skipped")),
                    "{msg}"
                );
            }
            _ => panic!("item {i}: {item:?}"),
        }
    }
    // The whole-file API keeps them apart too.
    let h = har::parse(text.as_bytes(), "t.har").expect("parse");
    assert_eq!((h.entries.len(), h.skipped.len()), (5, 0));
}

#[test]
fn fields_the_reader_does_not_use_cost_nothing() {
    let limits = HarLimits {
        max_entry: 1000,
        ..HarLimits::default()
    };
    // A megabyte of initiator stack and timings beside a small request.
    let stack = vec![r#"{"functionName": "f", "url": "https://x/y.js", "lineNumber": 1}"#; 16_000]
        .join(",");
    let e = format!(
        r#"{{"_initiator": {{"stack": {{"callFrames": [{stack}]}}}}, "request": {{"url": "http://k/"}}, "timings": {{"wait": 1.5}}}}"#
    );
    assert!(e.len() > 1_000_000);
    let (items, err) = drain(doc(&[e], "").as_bytes(), limits);
    assert!(err.is_none());
    assert!(matches!(&items[..], [Item::Entry(x)] if x.request.url == "http://k/"));
}

#[test]
fn gzip_streams_like_plain() {
    let entries: Vec<String> = (0..500).map(|i| entry(&format!("http://h/{i}"))).collect();
    let text = doc(&entries, r#", "creator": {"name": "gz"}"#);
    let plain = har::parse(text.as_bytes(), "p").expect("plain");
    let gz = gzip(text.as_bytes());
    let mut r = reader(&gz, HarLimits::default());
    assert!(r.compressed());
    let mut n = 0;
    while let Some(item) = r.next_item().expect("item") {
        let Item::Entry(e) = item else { panic!() };
        assert_eq!(*e, plain.entries[n]);
        n += 1;
    }
    assert_eq!((n, r.creator()), (500, Some("gz")));
    // A file on disk, gzip-compressed, through the path API.
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("x.har.gz");
    std::fs::write(&p, &gz).expect("write");
    assert_eq!(har::read(&p).expect("read"), plain);
    // Cut inside the gzip stream: the entries before the cut, then an error.
    let cut = &gz[..gz.len() / 2];
    let (items, err) = drain(cut, HarLimits::default());
    assert!(!items.is_empty() && items.len() < 500, "{}", items.len());
    assert!(err.is_some());
}

#[test]
fn invalid_utf8_is_decoded_lossily_and_reported_where() {
    let mut text = Vec::new();
    text.extend_from_slice(br#"{"log": {"entries": ["#);
    text.extend_from_slice(entry("http://ok/").as_bytes());
    text.extend_from_slice(b", ");
    let second = text.len();
    text.extend_from_slice(b"{\"request\": {\"url\": ");
    let url_at = text.len();
    text.extend_from_slice(b"\"http://h/a\xffb\", \"method\": \"G\xc3\"");
    text.extend_from_slice(b", \"postData\": {\"text\": \"imei=3569\xfe38035643809\"}}}]}}");
    let (items, err) = drain(&text, HarLimits::default());
    assert!(err.is_none(), "{err:?}");
    let [Item::Entry(a), Item::Entry(b)] = &items[..] else {
        panic!("{items:?}")
    };
    assert!(a.repairs.is_empty());
    assert_eq!(b.offset, second as u64);
    assert_eq!(b.request.url, "http://h/a\u{FFFD}b");
    assert_eq!(b.request.method, "G\u{FFFD}");
    // The body keeps the bytes the phone sent.
    assert_eq!(
        b.request.body.as_deref(),
        Some(&b"imei=3569\xfe38035643809"[..])
    );
    assert_eq!(b.repairs.len(), 1);
    let r = b.repairs[0];
    assert_eq!(
        (r.kind, r.count, r.offset),
        (RepairKind::InvalidUtf8, 3, url_at as u64)
    );
    assert!(r.to_string().contains(&format!("at byte {url_at}")), "{r}");
    // Once the first entry is read the file used to be rejected whole: it no longer is.
    assert_eq!(har::parse(&text, "t").expect("lossy").entries.len(), 2);
}

#[test]
fn lone_surrogates_are_decoded_lossily_and_reported_where() {
    let head = r#"{"log": {"entries": [{"request": {"url": "http://h/", "headers": [{"name": "x", "value": "#;
    let text =
        format!(r#"{head}"a\ud800b"}}, {{"name": "y", "value": "\udc00\ud83d\ude00"}}]}}}}]}}}}"#);
    let (items, err) = drain(text.as_bytes(), HarLimits::default());
    assert!(err.is_none(), "{err:?}");
    let [Item::Entry(e)] = &items[..] else {
        panic!("{items:?}")
    };
    assert_eq!(
        e.request.headers,
        vec![
            ("x".into(), "a\u{FFFD}b".into()),
            ("y".into(), "\u{FFFD}😀".into())
        ]
    );
    assert_eq!(e.repairs.len(), 1);
    let r = e.repairs[0];
    assert_eq!(
        (r.kind, r.count, r.offset),
        (RepairKind::LoneSurrogate, 2, head.len() as u64)
    );
}

#[test]
fn truncated_documents_keep_the_entries_before_the_cut() {
    let entries: Vec<String> = (0..6).map(|i| entry(&format!("http://h/{i}"))).collect();
    let text = doc(&entries, r#", "creator": {"name": "c"}"#);
    let bytes = text.as_bytes();
    for cut in 0..bytes.len() {
        let (items, err) = drain(&bytes[..cut], HarLimits::default());
        let err = err.unwrap_or_else(|| panic!("cut at {cut} read as complete"));
        assert!(err.offset <= cut as u64, "cut {cut}: {err}");
        // Exactly the entries that end before the cut.
        let whole = entries
            .iter()
            .scan(0, |from, e| {
                let at = text[*from..].find(e.as_str())? + *from;
                *from = at + e.len();
                Some(at + e.len())
            })
            .filter(|&end| end <= cut)
            .count();
        assert_eq!(items.len(), whole, "cut {cut}");
    }
    let (items, err) = drain(bytes, HarLimits::default());
    assert!(err.is_none() && items.len() == 6);
}

#[test]
fn wrong_types_degrade_to_absent() {
    let text = r#"{"log": {"creator": 5, "entries": [
        5, null, [], "s",
        {"request": 7, "response": "r"},
        {"request": {"method": 1, "url": ["u"], "headers": {"name": "a"}, "cookies": [1, {"name": 2, "value": true}],
                     "postData": {"text": 12, "params": "x"}},
         "response": {"status": true, "headers": [null], "content": {"text": {"a": 1}}},
         "startedDateTime": [], "serverIPAddress": {}}
    ]}}"#;
    let h = har::parse(text.as_bytes(), "t").expect("lenient");
    assert_eq!(h.creator, None);
    assert_eq!(h.entries.len(), 6);
    assert!(h.entries[..5].iter().all(|e| e.request.url.is_empty()));
    let e = &h.entries[5];
    assert_eq!(
        (e.request.method.as_str(), e.request.url.as_str()),
        ("1", "")
    );
    assert!(e.request.headers.is_empty());
    assert_eq!(e.request.cookies, vec![("2".into(), "true".into())]);
    assert_eq!(e.request.body.as_deref(), Some(&b"12"[..]));
    let r = e.response.as_ref().expect("response");
    assert_eq!((r.status, r.body.as_ref()), (0, None));
    assert_eq!((e.started.as_ref(), e.server_ip), (None, None));
    // What the document itself must be.
    for (bad, what) in [
        (&br#"{"log": [], "x": 1}"#[..], "no log"),
        (br#"{"log": {"entries": {}}}"#, "entries not an array"),
        (br#"{"log": {"entries": "x"}}"#, "entries a string"),
        (br#"[{"log": {"entries": []}}]"#, "top level an array"),
        (br#"{"log": {"entries": []}} {}"#, "trailing document"),
        (br#"{"log": {"entries": []},}"#, "trailing comma"),
        (
            br#"{"log": {"entries": [{},]}}"#,
            "trailing comma in entries",
        ),
        (br#"{"log": {"entries": [] "x": 1}}"#, "missing comma"),
        (b"", "empty"),
    ] {
        let e = har::parse(bad, "t").expect_err(what);
        assert!(
            matches!(
                e.kind,
                ErrorKind::Json(_) | ErrorKind::Malformed(_) | ErrorKind::Truncated
            ),
            "{what}: {e}"
        );
    }
}

#[test]
fn nesting_is_bounded_without_recursion() {
    // Far past any stack a recursive reader could take, in a field the reader skips, in one it
    // reads, and as an entry.
    for depth in [20_000usize, 1_000_000] {
        for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
            let deep = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            for text in [
                format!(r#"{{"log": {{"entries": [{{"_x": {deep}}}]}}}}"#),
                format!(r#"{{"log": {{"entries": [{{"request": {{"headers": {deep}}}}}]}}}}"#),
                format!(r#"{{"log": {{"entries": [{deep}]}}}}"#),
                format!(r#"{{"other": {deep}, "log": {{"entries": []}}}}"#),
            ] {
                let e = har::parse(text.as_bytes(), "t").expect_err("too deep");
                assert!(matches!(e.kind, ErrorKind::Json(_)), "{e}");
                assert!(e.to_string().contains("nested too deep"), "{e}");
            }
        }
    }
    // Deep but under the bound reads.
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let text =
        format!(r#"{{"log": {{"entries": [{{"_x": {deep}, "request": {{"url": "u"}}}}]}}}}"#);
    let h = har::parse(text.as_bytes(), "t").expect("deep but bounded");
    assert_eq!(h.entries[0].request.url, "u");
}

#[test]
fn size_limit_stops_after_the_entries_before_it() {
    let entries: Vec<String> = (0..100).map(|i| entry(&format!("http://h/{i}"))).collect();
    let text = doc(&entries, "");
    let max = text.len() as u64 / 2;
    let limits = HarLimits {
        max_size: max,
        ..HarLimits::default()
    };
    for bytes in [text.as_bytes().to_vec(), gzip(text.as_bytes())] {
        let (items, err) = drain(&bytes, limits);
        let err = err.expect("over the limit");
        assert!(
            matches!(err.kind, ErrorKind::Oversized { max: m, .. } if m == max),
            "{err}"
        );
        assert_eq!(err.offset, max);
        assert!(items.len() > 40 && items.len() < 50, "{}", items.len());
    }
}
