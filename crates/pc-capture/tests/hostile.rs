//! Hostile capture input: gzip layers, wrong magic and garbage, truncation at every length of
//! real and built captures, flipped bytes.

mod common;

use std::io::Write as _;
use std::path::Path;

use common::*;
use pc_capture::{CaptureFormat, ErrorKind};

// ---------------------------------------------------------------------------------------------
// gzip
// ---------------------------------------------------------------------------------------------

#[test]
fn gzip_is_transparent() {
    let f = rich_pcapng(false);
    let z = gz(&f);
    let mut r = reader(&z).expect("open");
    assert!(r.compressed());
    assert_eq!(r.format(), CaptureFormat::PcapNg);
    let mut n = 0;
    while r.next_packet().expect("ok").is_some() {
        n += 1;
    }
    assert_eq!(n, 7);
    assert_eq!(r.bytes_read(), z.len() as u64);
    assert_eq!(r.position(), f.len() as u64);
    assert_eq!(ok(&z), ok(&f));
    // Multi-member gzip (concatenated streams) reads as one file.
    let p = pcap_file(false, 0xa1b2_c3d4, 1, &[(1, 0, b"a", 1), (2, 0, b"b", 1)]);
    let mut multi = gz(&p[..30]);
    multi.extend(gz(&p[30..]));
    assert_eq!(ok(&multi).len(), 2);
}

#[test]
fn gzip_of_garbage_and_broken_gzip() {
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let e = reader(&gz(&garbage)).expect_err("garbage");
    assert!(
        matches!(e.kind, ErrorKind::BadMagic) && e.offset == 0,
        "{e}"
    );
    let e = reader(&gz(b"")).expect_err("empty");
    assert!(matches!(e.kind, ErrorKind::Truncated));
    let mut bad = vec![0x1f, 0x8b];
    bad.extend_from_slice(&garbage[..100]);
    let e = reader(&bad).expect_err("broken gzip");
    assert!(matches!(e.kind, ErrorKind::Io(_)), "{e}");
    // A gzip stream cut short in the middle of the packets.
    let f = rich_pcapng(false);
    let z = gz(&f);
    for cut in [10, z.len() / 2, z.len() - 9, z.len() - 1] {
        let (_, e) = collect(&z[..cut]);
        assert!(e.is_some(), "cut at {cut}");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_magic_garbage_and_empty() {
    let e = reader(b"").expect_err("empty");
    assert!(matches!(e.kind, ErrorKind::Truncated) && e.offset == 0);
    let e = reader(b"\xd4\xc3").expect_err("short");
    assert!(matches!(e.kind, ErrorKind::Truncated));
    let e = reader(b"GET / HTTP/1.1\r\n\r\n").expect_err("text");
    assert!(matches!(e.kind, ErrorKind::BadMagic) && e.offset == 0);
    let e = reader(b"\xEF\xBB\xBF  {\"log\":{}}").expect_err("har");
    assert!(matches!(e.kind, ErrorKind::NotPackets));
    // pcap magic, short header.
    let e = reader(&0xa1b2_c3d4u32.to_le_bytes()).expect_err("short hdr");
    assert!(matches!(e.kind, ErrorKind::Truncated) && e.offset == 0);
    // Pseudo-random garbage behind each magic: never panics, always ends.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..3000 {
        let len = (round * 7) % 700;
        let mut buf: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Bias towards small numbers so that lengths are sometimes plausible.
                if x.is_multiple_of(3) {
                    (x >> 8) as u8 & 0x0f
                } else {
                    (x >> 8) as u8
                }
            })
            .collect();
        let prefix: &[u8] = match round % 5 {
            0 => &[0xd4, 0xc3, 0xb2, 0xa1],
            1 => &[0xa1, 0xb2, 0x3c, 0x4d],
            2 => &[
                0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0,
            ],
            3 => &[
                0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0x1c, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1,
            ],
            _ => &[],
        };
        buf.splice(0..0, prefix.iter().copied());
        let (p, e) = collect(&buf);
        if let Some(e) = e {
            assert!(e.offset <= buf.len() as u64);
        }
        assert!(p.iter().all(|q| q.offset < buf.len() as u64));
    }
}

/// Block boundaries of a little-endian pcapng file, and (offset, end) of its packet blocks.
fn pcapng_layout(f: &[u8]) -> (Vec<u64>, Vec<(u64, u64)>) {
    let mut at = 0usize;
    let mut bounds = vec![0];
    let mut packets = Vec::new();
    while at + 8 <= f.len() {
        let t = u32::from_le_bytes(f[at..at + 4].try_into().expect("4"));
        let l = u32::from_le_bytes(f[at + 4..at + 8].try_into().expect("4")) as usize;
        if matches!(t, 2 | 3 | 6) {
            packets.push((at as u64, (at + l) as u64));
        }
        at += l;
        bounds.push(at as u64);
    }
    assert_eq!(at, f.len());
    (bounds, packets)
}

/// Every prefix of a valid capture: the complete packets come out, then either a clean end
/// (cut on a record boundary) or `Truncated` naming the record that was cut.
fn check_every_truncation(f: &[u8], bounds: &[u64], packets: &[(u64, u64)], header_end: u64) {
    let full = ok(f);
    assert_eq!(full.len(), packets.len());
    for cut in 0..f.len() {
        let (p, e) = collect(&f[..cut]);
        let cut = cut as u64;
        let expect: Vec<_> = full
            .iter()
            .zip(packets)
            .filter(|(_, (_, end))| *end <= cut)
            .map(|(q, _)| q.clone())
            .collect();
        assert_eq!(p, expect, "cut at {cut}");
        if cut < header_end {
            let e = e.unwrap_or_else(|| panic!("cut at {cut}: header incomplete"));
            assert!(matches!(e.kind, ErrorKind::Truncated), "cut at {cut}: {e}");
            assert_eq!(e.offset, 0);
        } else if bounds.contains(&cut) {
            assert!(e.is_none(), "cut at {cut}: clean end expected, got {e:?}");
        } else {
            let e = e.unwrap_or_else(|| panic!("cut at {cut}: error expected"));
            assert!(matches!(e.kind, ErrorKind::Truncated), "cut at {cut}: {e}");
            let start = bounds
                .iter()
                .copied()
                .filter(|&b| b < cut)
                .max()
                .expect("bound");
            assert_eq!(e.offset, start, "cut at {cut}");
        }
    }
}

#[test]
fn real_pcap_truncated_at_every_length() {
    let f = std::fs::read(Path::new(DATA).join("pcap/wireshark/dns-ooo.pcap")).expect("read");
    let mut bounds = vec![24u64];
    let mut packets = Vec::new();
    let mut at = 24usize;
    while at < f.len() {
        let incl = u32::from_le_bytes(f[at + 8..at + 12].try_into().expect("4")) as usize;
        packets.push((at as u64, (at + 16 + incl) as u64));
        at += 16 + incl;
        bounds.push(at as u64);
    }
    assert_eq!(packets.len(), 4);
    check_every_truncation(&f, &bounds, &packets, 24);
}

#[test]
fn real_pcapng_truncated_at_every_length() {
    for rel in [
        "pcap/wireshark/dtls12-aes128ccm8-dsb.pcapng",
        "pcap/wireshark/http-brotli.pcapng",
    ] {
        let f = std::fs::read(Path::new(DATA).join(rel)).expect("read");
        let (bounds, packets) = pcapng_layout(&f);
        assert!(!packets.is_empty());
        check_every_truncation(&f, &bounds, &packets, bounds[1]);
    }
}

/// Decompressed bytes a cut gzip stream gives before it fails.
fn gunzip_available(z: &[u8]) -> usize {
    use std::io::Read as _;
    let mut d = flate2::read::MultiGzDecoder::new(z);
    let mut buf = [0u8; 512];
    let mut n = 0;
    while let Ok(k @ 1..) = d.read(&mut buf) {
        n += k;
    }
    n
}

#[test]
fn gzip_cut_in_its_first_4_kib_keeps_the_packets_before_the_cut() {
    for rel in [
        "pcap/wireshark/tls-fragmented-handshakes.pcap.gz",
        "pcap/wireshark/dhe1.pcapng.gz",
    ] {
        let z = std::fs::read(Path::new(DATA).join(rel)).expect("read");
        let plain = {
            use std::io::Read as _;
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&z[..])
                .read_to_end(&mut out)
                .expect("fixture gunzip");
            out
        };
        let full = ok(&plain);
        // Stored blocks: compressed offsets track decompressed ones, so cuts land all over
        // the first 4 KiB of the capture.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        enc.write_all(&plain).expect("gz");
        let stored = enc.finish().expect("gz");
        let mut some = 0;
        for cut in [300, 700, 1200, 2000, 3000, 4000] {
            // Short of the 8-byte trailer, so every cut is a cut.
            for z in [&stored[..], &z[..]].map(|z| &z[..cut.min(z.len() - 9)]) {
                let avail = gunzip_available(z) as u64;
                let (p, e) = collect(z);
                let e = e.unwrap_or_else(|| panic!("{rel}: cut at {cut}: no error"));
                assert!(e.offset <= avail, "{rel}: cut {cut}: {e} past {avail}");
                assert_eq!(p[..], full[..p.len()], "{rel}: cut {cut}");
                // Every packet whose record ends before the cut (the next one starts) is there.
                let whole = full.windows(2).filter(|w| w[1].offset <= avail).count();
                assert!(p.len() >= whole, "{rel}: cut {cut}: {} of {whole}", p.len());
                if avail < 4096 && whole > 0 {
                    some += 1;
                }
            }
        }
        assert!(
            some > 0,
            "{rel}: no cut inside the first 4 KiB had a whole packet"
        );
    }
}

#[test]
fn real_gzip_truncated_at_every_length() {
    let z = std::fs::read(Path::new(DATA).join("pcap/wireshark/dhe1.pcapng.gz")).expect("read");
    let full = ok(&z);
    for cut in 0..z.len() {
        let (p, e) = collect(&z[..cut]);
        assert!(p.len() <= full.len());
        assert_eq!(p[..], full[..p.len()]);
        // The gzip trailer (CRC, size) is the last 8 bytes: any shorter prefix must fail.
        assert!(e.is_some(), "cut at {cut}");
    }
}

#[test]
fn real_captures_with_flipped_bytes_never_panic() {
    for rel in [
        "pcap/wireshark/dtls12-aes128ccm8-dsb.pcapng",
        "pcap/wireshark/dns-ooo.pcap",
    ] {
        let f = std::fs::read(Path::new(DATA).join(rel)).expect("read");
        for i in 0..f.len() {
            for mask in [0xffu8, 0x80, 0x01] {
                let mut g = f.clone();
                g[i] ^= mask;
                let (p, e) = collect(&g);
                assert!(p.len() <= 64, "{rel}: byte {i}");
                if let Some(e) = e {
                    assert!(e.offset < g.len() as u64, "{rel}: byte {i}: {e}");
                }
            }
        }
    }
}
