//! Memory of the HAR reader does not grow with the number of entries: a 2-million-entry HAR
//! (written here, as a stream, gzip-compressed) is read with the process's peak resident memory
//! under a fixed bound. Alone in its test binary, so that no other test shares the peak.
//!
//! The peak is the kernel's (`VmHWM` in /proc/self/status): a counting global allocator would
//! need `unsafe`, which the workspace forbids. Holding every entry at once takes well over a
//! gigabyte here (1.4 GiB when this test keeps them in a Vec), far past the bound.

use std::io::{BufWriter, Write as _};

use pc_capture::har::{HarReader, Item};

const ENTRIES: usize = 2_000_000;
/// Peak resident memory allowed for the whole test process, writer and reader included.
const PEAK_MAX_KIB: u64 = 64 * 1024;

/// Peak resident set size of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value")
}

#[test]
fn two_million_entries_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("big.har.gz");
    {
        let file = std::fs::File::create(&path).expect("create");
        let mut gz =
            flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
        gz.write_all(br#"{"log": {"version": "1.2", "entries": ["#)
            .expect("write");
        for i in 0..ENTRIES {
            let sep = if i == 0 { "" } else { "," };
            write!(
                gz,
                r#"{sep}{{"startedDateTime": "2024-01-01T00:00:00Z", "request": {{"method": "GET", "url": "http://h{}.example/{i}", "headers": [{{"name": "a", "value": "{i}"}}]}}, "response": {{"status": 200}}}}"#,
                i % 97
            )
            .expect("write");
        }
        gz.write_all(br#"], "creator": {"name": "test"}}}"#)
            .expect("write");
        gz.finish().expect("gz").flush().expect("flush");
    }
    let before = peak_rss_kib();
    let mut reader = HarReader::open(&path).expect("open");
    let mut n = 0usize;
    let mut url_bytes = 0usize;
    while let Some(item) = reader.next_item().expect("item") {
        let Item::Entry(e) = item else {
            panic!("entry {n} skipped")
        };
        assert_eq!(e.index, n);
        url_bytes += e.request.url.len();
        n += 1;
    }
    let after = peak_rss_kib();
    eprintln!("{n} entries: peak RSS {after} KiB ({before} KiB before reading)");
    assert_eq!(n, ENTRIES);
    assert_eq!(reader.creator(), Some("test"));
    // More text went through than the bound: holding it would not fit.
    assert!(url_bytes as u64 > PEAK_MAX_KIB * 1024 / 2, "{url_bytes}");
    assert!(
        after < PEAK_MAX_KIB,
        "peak RSS {after} KiB (before reading {before} KiB) over {PEAK_MAX_KIB} KiB"
    );
}
