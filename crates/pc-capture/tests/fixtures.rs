//! Real captures and HAR files, checked against tshark's / Python's view in tests/data/oracle.

use std::path::{Path, PathBuf};

use pc_capture::{CaptureFormat, CaptureReader, ErrorKind, SECRETS_TLS_KEYLOG, har, sniff};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

fn data(rel: &str) -> PathBuf {
    Path::new(DATA).join(rel)
}

fn oracle(rel: &str) -> Value {
    let p = data(&format!("oracle/{rel}.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("oracle JSON")
}

/// The entries of `dir` as (path, file name), sorted by path.
fn sorted_entries(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            (p, name)
        })
        .collect()
}

/// Every capture under tests/data/pcap (pcap, pcapng, .gz, many_interfaces.pcapng.1).
fn captures() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for (dir, dir_name) in sorted_entries(&data("pcap")) {
        for (f, name) in sorted_entries(&dir) {
            if name.contains(".pcap") {
                out.push((format!("pcap/{dir_name}/{name}"), f));
            }
        }
    }
    out
}

struct Drained {
    frames: u64,
    secrets: Vec<(u32, usize)>,
    format: CaptureFormat,
    compressed: bool,
    bytes_read: u64,
    timestamps: Vec<i64>,
    linktypes: Vec<u32>,
    interfaces: Vec<u32>,
}

fn drain(path: &Path) -> Drained {
    let mut r = CaptureReader::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut frames = 0;
    let mut timestamps = Vec::new();
    let mut linktypes = Vec::new();
    let mut interfaces = Vec::new();
    let mut last_offset = None;
    while let Some(p) = r.next_packet().unwrap_or_else(|e| panic!("{e}")) {
        frames += 1;
        assert_eq!(p.frame, frames, "frames are numbered 1, 2, ...");
        assert!(p.data.len() as u64 <= 256 * 1024);
        assert!(last_offset < Some(p.offset), "offsets increase");
        last_offset = Some(p.offset);
        timestamps.push(p.ts);
        linktypes.push(p.linktype);
        interfaces.push(p.interface);
    }
    // Fused after the end.
    assert!(r.next_packet().expect("fused").is_none());
    Drained {
        frames,
        secrets: r
            .secrets()
            .iter()
            .map(|s| (s.secrets_type, s.data.len()))
            .collect(),
        format: r.format(),
        compressed: r.compressed(),
        bytes_read: r.bytes_read(),
        timestamps,
        linktypes,
        interfaces,
    }
}

#[test]
fn frame_counts_match_tshark() {
    let caps = captures();
    assert!(caps.len() >= 40, "fixtures found: {}", caps.len());
    for (rel, path) in caps {
        let o = oracle(&rel);
        let d = drain(&path);
        assert_eq!(
            Some(d.frames),
            o["frame_count"].as_u64(),
            "{rel}: frame count"
        );
        let expect_format = if rel.contains(".pcapng") {
            CaptureFormat::PcapNg
        } else {
            CaptureFormat::Pcap
        };
        assert_eq!(d.format, expect_format, "{rel}");
        assert_eq!(d.compressed, rel.ends_with(".gz"), "{rel}");
        let s = sniff(&path).expect("sniff");
        assert_eq!((s.format, s.compressed), (d.format, d.compressed), "{rel}");
        // bytes_read counts the (possibly compressed) file itself.
        let size = std::fs::metadata(&path).expect("meta").len();
        assert_eq!(d.bytes_read, size, "{rel}: bytes_read at the end");
        // The oracle counts Decryption Secrets Blocks for pcapng files.
        if let Some(n) = o["pcapng_decryption_secrets_blocks"].as_u64() {
            assert_eq!(d.secrets.len() as u64, n, "{rel}: DSB count");
        } else {
            assert!(d.secrets.is_empty(), "{rel}");
        }
        assert!(d.secrets.iter().all(|&(_, len)| len > 0), "{rel}");
    }
}

#[test]
fn tls_key_logs_from_dsb() {
    for rel in [
        "pcap/wireshark/tls12-dsb.pcapng",
        "pcap/wireshark/http2_follow_multistream.pcapng",
    ] {
        let mut r = CaptureReader::open(&data(rel)).expect("open");
        while r.next_packet().expect("packet").is_some() {}
        assert!(!r.secrets().is_empty(), "{rel}");
        for s in r.secrets() {
            assert_eq!(s.secrets_type, SECRETS_TLS_KEYLOG, "{rel}");
            let text = String::from_utf8_lossy(&s.data);
            assert!(
                text.contains("CLIENT_RANDOM") || text.contains("TRAFFIC_SECRET"),
                "{rel}: key log lines"
            );
        }
    }
}

#[test]
fn nanosecond_pcap_keeps_nanoseconds() {
    let d = drain(&data("pcap/wireshark/dhcp-nanosecond.pcap"));
    assert_eq!(d.frames, 4);
    // First record header: ts_sec 1102274184, ts_nsec 317453000 (little-endian, magic a1b23c4d).
    assert_eq!(d.timestamps[0], 1_102_274_184_317_453_000);
    assert!(d.timestamps.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn microsecond_pcap_timestamps() {
    let path = data("pcap/wireshark/http.pcap");
    let bytes = std::fs::read(&path).expect("read");
    let sec = u32::from_le_bytes(bytes[24..28].try_into().expect("4"));
    let usec = u32::from_le_bytes(bytes[28..32].try_into().expect("4"));
    let d = drain(&path);
    assert_eq!(
        d.timestamps[0],
        i64::from(sec) * 1_000_000_000 + i64::from(usec) * 1000
    );
}

#[test]
fn many_interfaces_keep_their_link_types() {
    let d = drain(&data("pcap/wireshark/many_interfaces.pcapng.1"));
    assert_eq!(d.frames, 64);
    let mut ifs = d.interfaces.clone();
    ifs.sort_unstable();
    ifs.dedup();
    assert!(ifs.len() > 1, "several interfaces used: {ifs:?}");
    assert!(d.linktypes.iter().all(|&l| l != 0 || ifs.contains(&0)));
}

#[test]
fn empty_pcap_is_clean_eof() {
    let d = drain(&data("pcap/wireshark/empty.pcap"));
    assert_eq!(d.frames, 0);
}

#[test]
fn har_opens_as_har_not_packets() {
    let p = data("pcap/mitmproxy/chrome.har");
    assert_eq!(
        pc_capture::sniff_format(&p).expect("sniff"),
        CaptureFormat::Har
    );
    let p = data("pcap/mitmproxy/with-bom.har");
    assert_eq!(
        pc_capture::sniff_format(&p).expect("sniff"),
        CaptureFormat::Har
    );
    let e = CaptureReader::open(&p).expect_err("HAR is not a capture");
    assert!(matches!(e.kind, ErrorKind::NotPackets));
}

fn check_har(rel: &str, oracle_rel: &str) {
    let o = oracle(oracle_rel);
    let h = har::read(&data(rel)).unwrap_or_else(|e| panic!("{e}"));
    let entries = o["entries"].as_array().expect("entries");
    assert_eq!(
        Some(h.entries.len() as u64),
        o["entry_count"].as_u64(),
        "{rel}"
    );
    assert_eq!(h.entries.len(), entries.len(), "{rel}");
    assert_eq!(h.creator.as_deref(), o["creator"]["name"].as_str(), "{rel}");
    for (e, x) in h.entries.iter().zip(entries) {
        assert_eq!(Some(e.index as u64), x["index"].as_u64(), "{rel}");
        assert_eq!(
            Some(e.request.method.as_str()),
            x["method"].as_str(),
            "{rel}"
        );
        assert_eq!(Some(e.request.url.as_str()), x["url"].as_str(), "{rel}");
        let status = e.response.as_ref().map(|r| u64::from(r.status));
        assert_eq!(status, x["status"].as_u64(), "{rel} entry {}", e.index);
        // post_mime_type is null when the request has no postData.
        assert_eq!(
            e.request.mime_type.as_deref(),
            x["post_mime_type"].as_str(),
            "{rel} entry {}",
            e.index
        );
        assert!(
            e.started.is_some() && e.ts.is_some(),
            "{rel}: startedDateTime"
        );
    }
}

#[test]
fn har_files_match_oracle() {
    let dir = data("pcap/mitmproxy");
    let mut n = 0;
    for (_, name) in sorted_entries(&dir) {
        if name.ends_with(".har") {
            check_har(
                &format!("pcap/mitmproxy/{name}"),
                &format!("pcap/mitmproxy/{name}"),
            );
            n += 1;
        }
    }
    assert_eq!(n, 8);
}

#[test]
fn har_with_bom_matches_without() {
    let bom = std::fs::read(data("pcap/mitmproxy/with-bom.har")).expect("read");
    assert_eq!(&bom[..3], b"\xEF\xBB\xBF");
    let a = har::parse(&bom, "with-bom.har").expect("bom");
    let b = har::parse(&bom[3..], "no-bom").expect("no bom");
    // Offsets count the BOM: every entry is 3 bytes further in the file that has one.
    assert!(!a.entries.is_empty());
    for (x, y) in a.entries.iter().zip(&b.entries) {
        assert_eq!(x.offset, y.offset + 3);
    }
    let unplaced = |mut h: har::Har| {
        h.entries.iter_mut().for_each(|e| e.offset = 0);
        h
    };
    let (a, b) = (unplaced(a), unplaced(b));
    assert_eq!(a, b);
    let post = unplaced(har::read(&data("pcap/mitmproxy/postdata.har")).expect("postdata"));
    assert_eq!(a, post, "with-bom.har is postdata.har with a BOM");
    assert!(
        a.entries[0]
            .request
            .body
            .as_ref()
            .is_some_and(|b| !b.is_empty())
    );
}

#[test]
fn leak_har_matches_oracle() {
    let o = oracle("leak/reporthar_android_second-run.har");
    let h = har::read(&data("leak/reporthar_android_second-run.har")).expect("read");
    let reqs = o["requests"].as_array().expect("requests");
    assert_eq!(Some(h.entries.len() as u64), o["request_count"].as_u64());
    for (e, x) in h.entries.iter().zip(reqs) {
        assert_eq!(Some(e.index as u64), x["index"].as_u64());
        assert_eq!(Some(e.request.method.as_str()), x["method"].as_str());
        assert_eq!(Some(e.request.url.as_str()), x["url"].as_str());
        assert_eq!(e.started.as_deref(), x["started"].as_str());
        let ip = x["server_ip"].as_str().and_then(|s| s.parse().ok());
        assert_eq!(e.server_ip, ip);
        let body_len = e.request.body.as_ref().map_or(0, Vec::len) as u64;
        assert_eq!(
            Some(body_len),
            x["body_length"].as_u64(),
            "entry {}",
            e.index
        );
        assert!(e.response.is_some());
    }
    // 2023-04-07T13:04:57.078662+00:00
    assert_eq!(h.entries[0].ts, Some(1_680_872_697_078_662_000));
    // The GAID of the README appears in a form body.
    let gaid = b"1209d0b9-b959-42e6-b921-aa5d9d08c1af";
    assert!(h.entries.iter().any(|e| {
        e.request
            .body
            .as_ref()
            .is_some_and(|b| b.windows(gaid.len()).any(|w| w == gaid))
    }));
}

#[test]
fn har_base64_response_bodies_are_decoded() {
    let raw: Value =
        serde_json::from_slice(&std::fs::read(data("pcap/mitmproxy/chrome.har")).expect("read"))
            .expect("json");
    let h = har::read(&data("pcap/mitmproxy/chrome.har")).expect("read");
    let mut checked = 0;
    for (e, x) in h
        .entries
        .iter()
        .zip(raw["log"]["entries"].as_array().expect("entries"))
    {
        let c = &x["response"]["content"];
        if c["encoding"].as_str() == Some("base64") {
            let text = c["text"].as_str().expect("text");
            let body = e
                .response
                .as_ref()
                .and_then(|r| r.body.as_ref())
                .expect("body");
            use base64::Engine as _;
            let expect = base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("fixture base64");
            assert_eq!(body, &expect);
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn gzip_har_is_read() {
    use std::io::Write as _;
    let plain = std::fs::read(data("pcap/mitmproxy/insomnia.har")).expect("read");
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("x.har.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&plain).expect("gz");
    std::fs::write(&p, enc.finish().expect("gz")).expect("write");
    let a = har::read(&p).expect("gz har");
    let b = har::parse(&plain, "plain").expect("plain");
    assert_eq!(a, b);
    assert_eq!(sniff(&p).expect("sniff").format, CaptureFormat::Har);
    // Size cap, compressed and not.
    let e = har::read_limited(&p, 100).expect_err("too big");
    assert!(
        matches!(e.kind, ErrorKind::Oversized { max: 100, .. }),
        "{e}"
    );
    let e = har::read_limited(&data("pcap/mitmproxy/insomnia.har"), 100).expect_err("too big");
    assert!(
        matches!(e.kind, ErrorKind::Oversized { max: 100, .. }),
        "{e}"
    );
}
