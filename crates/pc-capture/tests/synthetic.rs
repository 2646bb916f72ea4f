//! Captures built byte by byte: both byte orders, timestamp resolutions, every packet block kind
//! and PCAPdroid attribution (the builders are in `common`; hostile input in `hostile.rs`, HAR in
//! `har_synthetic.rs`).

mod common;

use std::io::Cursor;

use common::*;
use pc_capture::{CaptureFormat, CaptureReader, ErrorKind, Limits};

// ---------------------------------------------------------------------------------------------
// pcap
// ---------------------------------------------------------------------------------------------

#[test]
fn pcap_both_byte_orders_and_resolutions() {
    for be in [false, true] {
        for (magic, frac_ns) in [(0xa1b2_c3d4u32, 1000i64), (0xa1b2_3c4d, 1)] {
            let f = pcap_file(
                be,
                magic,
                101,
                &[
                    (1_700_000_000, 123_456, b"abcd", 60),
                    (1_700_000_001, 7, b"", 0),
                ],
            );
            let p = ok(&f);
            assert_eq!(p.len(), 2);
            assert_eq!(p[0].ts, 1_700_000_000 * 1_000_000_000 + 123_456 * frac_ns);
            assert_eq!(p[1].ts, 1_700_000_001 * 1_000_000_000 + 7 * frac_ns);
            assert_eq!(p[0].data, b"abcd");
            assert_eq!((p[0].orig_len, p[0].linktype, p[0].offset), (60, 101, 24));
            assert_eq!((p[1].frame, p[1].offset), (2, 24 + 16 + 4));
        }
    }
}

#[test]
fn pcap_linktype_fcs_bits_are_masked() {
    let f = pcap_file(false, 0xa1b2_c3d4, 0x1000_0000 | 1, &[(0, 0, b"x", 1)]);
    assert_eq!(ok(&f)[0].linktype, 1);
}

#[test]
fn pcap_kuznetzov_variant() {
    let mut f = pcap_file(false, 0xa1b2_cd34, 1, &[]);
    f.extend_from_slice(&5u32.to_le_bytes());
    f.extend_from_slice(&6u32.to_le_bytes());
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&[0; 8]); // ifindex, protocol, pkt_type, pad
    f.extend_from_slice(b"xyz");
    let p = ok(&f);
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].ts, p[0].data.as_slice()),
        (5_000_006_000, &b"xyz"[..])
    );
}

#[test]
fn pcap_huge_record_length_is_oversized_after_good_packets() {
    let mut f = pcap_file(false, 0xa1b2_c3d4, 1, &[(1, 0, b"good", 4)]);
    let bad_at = f.len() as u64;
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    f.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    let (p, e) = collect(&f);
    assert_eq!(p.len(), 1);
    let e = e.expect("error");
    assert_eq!(e.offset, bad_at);
    assert!(
        matches!(e.kind, ErrorKind::Oversized { len: 0xffff_fff0, max } if max == 256 * 1024),
        "{e}"
    );
    assert_eq!(e.to_string(), format!("mem: at byte {bad_at}: {}", e.kind));
    // One byte over the limit is refused, the limit itself is accepted.
    let big = vec![0u8; 256 * 1024];
    assert_eq!(
        ok(&pcap_file(false, 0xa1b2_c3d4, 1, &[(0, 0, &big, 0)])).len(),
        1
    );
    let bigger = vec![0u8; 256 * 1024 + 1];
    let (_, e) = collect(&pcap_file(false, 0xa1b2_c3d4, 1, &[(0, 0, &bigger, 0)]));
    assert!(matches!(e.expect("err").kind, ErrorKind::Oversized { .. }));
}

#[test]
fn pcap_truncated_last_record() {
    let f = pcap_file(
        false,
        0xa1b2_c3d4,
        1,
        &[(1, 0, b"one", 3), (2, 0, b"two!", 4)],
    );
    let last = 24 + 16 + 3;
    let (p, e) = collect(&f[..f.len() - 1]);
    assert_eq!(p.len(), 1);
    let e = e.expect("truncated");
    assert!(matches!(e.kind, ErrorKind::Truncated));
    assert_eq!(e.offset, last);
}

#[test]
fn custom_limits_apply() {
    let f = pcap_file(false, 0xa1b2_c3d4, 1, &[(1, 0, b"0123456789", 10)]);
    let limits = Limits {
        max_record: 8,
        ..Limits::default()
    };
    let mut r = CaptureReader::with_limits(Box::new(Cursor::new(f)), "lim", limits).expect("open");
    let e = r.next_packet().expect_err("limit");
    assert!(matches!(e.kind, ErrorKind::Oversized { len: 10, max: 8 }));
}

// ---------------------------------------------------------------------------------------------
// pcapng
// ---------------------------------------------------------------------------------------------

#[test]
fn pcapng_rich_both_byte_orders() {
    for be in [false, true] {
        let f = rich_pcapng(be);
        let r = reader(&f).expect("open");
        assert_eq!(r.format(), CaptureFormat::PcapNg);
        assert!(!r.compressed());
        // Section comment is available right after open.
        assert_eq!(r.comments(), &["section one".to_owned()]);
        drop(r);
        let p = ok(&f);
        let frames: Vec<u64> = p.iter().map(|x| x.frame).collect();
        assert_eq!(frames, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(p[0].ts, 1_500_000_000);
        assert_eq!(p[0].linktype, 1);
        assert_eq!(p[0].comment.as_deref(), Some("first\nsecond"));
        assert_eq!(p[1].ts, 2_000_000_123 + 100_000_000_000);
        assert_eq!((p[1].linktype, p[1].interface), (101, 1));
        assert_eq!(p[2].ts, 3_000_000_000);
        assert_eq!(p[2].linktype, 113);
        assert_eq!(
            (p[3].ts, p[3].interface, p[3].data.as_slice()),
            (100_000_000_005, 1, &b"p4"[..])
        );
        assert_eq!(
            (p[4].ts, p[4].data.as_slice(), p[4].orig_len),
            (0, &b"p5\0"[..], 3)
        );
        assert_eq!(
            (p[5].linktype, p[5].data.as_slice(), p[5].orig_len),
            (228, &b"ab"[..], 10)
        );
        assert_eq!((p[6].ts, p[6].data.as_slice()), (7_000, &b"p7"[..]));
        assert!(p.iter().all(|x| x.app.is_none() && x.uid.is_none()));
        // Offsets point at the blocks.
        for x in &p {
            let at = x.offset as usize;
            assert!(at.is_multiple_of(4));
            assert!(matches!(
                f[at..at + 4],
                [6, 0, 0, 0]
                    | [0, 0, 0, 6]
                    | [2, 0, 0, 0]
                    | [0, 0, 0, 2]
                    | [3, 0, 0, 0]
                    | [0, 0, 0, 3]
            ));
        }
        let mut r = reader(&f).expect("open");
        while r.next_packet().expect("ok").is_some() {}
        assert_eq!(r.secrets().len(), 1);
        assert_eq!(r.secrets()[0].secrets_type, pc_capture::SECRETS_TLS_KEYLOG);
        assert_eq!(r.secrets()[0].data, b"CLIENT_RANDOM 00 11\n");
        assert_eq!(
            r.comments(),
            &["section one".to_owned(), "eth0 comment".to_owned()]
        );
        assert_eq!(r.frames(), 7);
        assert_eq!(r.position(), f.len() as u64);
    }
}

#[test]
fn pcapng_undefined_interface_is_an_error() {
    let mut f = shb(false, &[]);
    f.extend(idb(false, 1, 0, &[]));
    f.extend(epb(false, 0, 0, b"ok", 2, &[]));
    let at = f.len() as u64;
    f.extend(epb(false, 1, 0, b"bad", 3, &[]));
    let (p, e) = collect(&f);
    assert_eq!(p.len(), 1);
    let e = e.expect("err");
    assert_eq!(e.offset, at);
    assert!(matches!(e.kind, ErrorKind::Malformed(_)), "{e}");
    // A new section forgets the previous interfaces.
    let mut g = shb(false, &[]);
    g.extend(idb(false, 1, 0, &[]));
    g.extend(shb(false, &[]));
    g.extend(epb(false, 0, 0, b"x", 1, &[]));
    assert!(matches!(
        collect(&g).1.expect("err").kind,
        ErrorKind::Malformed(_)
    ));
}

#[test]
fn pcapng_bad_lengths() {
    let base = {
        let mut f = shb(false, &[]);
        f.extend(idb(false, 1, 0, &[]));
        f
    };
    let at = base.len() as u64;
    let with = |tail: &[u8]| {
        let mut f = base.clone();
        f.extend_from_slice(tail);
        collect(&f).1.expect("error")
    };
    // Huge block length.
    let mut t = Vec::new();
    put32(&mut t, 6, false);
    put32(&mut t, 0xffff_fff0, false);
    t.extend_from_slice(&[0; 64]);
    let e = with(&t);
    assert_eq!(e.offset, at);
    assert!(
        matches!(
            e.kind,
            ErrorKind::Oversized {
                len: 0xffff_fff0,
                ..
            }
        ),
        "{e}"
    );
    // Huge unknown block: skipped without buffering, then truncated.
    let mut t = Vec::new();
    put32(&mut t, 0x0777_0000, false);
    put32(&mut t, 0xffff_fff0, false);
    let e = with(&t);
    assert!(
        matches!(e.kind, ErrorKind::Truncated) && e.offset == at,
        "{e}"
    );
    // Huge captured length inside a normal block.
    let mut b = epb(false, 0, 0, b"abcd", 4, &[]);
    b[20..24].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let e = with(&b);
    assert!(
        matches!(
            e.kind,
            ErrorKind::Oversized {
                len: 0x7fff_ffff,
                ..
            }
        ) && e.offset == at,
        "{e}"
    );
    // Captured length beyond the block.
    let mut b = epb(false, 0, 0, b"abcd", 4, &[]);
    b[20..24].copy_from_slice(&100u32.to_le_bytes());
    assert!(matches!(with(&b).kind, ErrorKind::Malformed(_)));
    // Length not a multiple of 4, too small, trailer mismatch.
    let mut b = epb(false, 0, 0, b"abcd", 4, &[]);
    b[4] += 1;
    assert!(matches!(with(&b).kind, ErrorKind::Malformed(_)));
    let mut b = epb(false, 0, 0, b"abcd", 4, &[]);
    b[4..8].copy_from_slice(&8u32.to_le_bytes());
    assert!(matches!(with(&b).kind, ErrorKind::Malformed(_)));
    let mut b = epb(false, 0, 0, b"abcd", 4, &[]);
    let n = b.len();
    b[n - 4] ^= 0x40;
    assert!(matches!(with(&b).kind, ErrorKind::Malformed(_)));
    // Secrets length beyond the block.
    let mut b = dsb(false, 1, b"abcd");
    b[12..16].copy_from_slice(&0xffff_0000u32.to_le_bytes());
    assert!(matches!(with(&b).kind, ErrorKind::Malformed(_)));
    // Options that overrun the block are ignored, not fatal.
    let mut b = epb(false, 0, 0, b"abcd", 4, &[opt(false, 1, b"hello")]);
    let optlen_at = 8 + 20 + 4 + 2;
    b[optlen_at..optlen_at + 2].copy_from_slice(&0xfff0u16.to_le_bytes());
    let mut f = base.clone();
    f.extend(b);
    let p = ok(&f);
    assert_eq!((p.len(), p[0].comment.clone()), (1, None));
}

#[test]
fn pcapng_bad_byte_order_magic_and_version() {
    let mut f = shb(false, &[]);
    f[8..12].copy_from_slice(b"junk");
    assert!(matches!(
        collect(&f).1.expect("e").kind,
        ErrorKind::Malformed(_)
    ));
    let mut f = shb(false, &[]);
    f[12..14].copy_from_slice(&2u16.to_le_bytes());
    assert!(matches!(
        collect(&f).1.expect("e").kind,
        ErrorKind::Malformed(_)
    ));
}

// ---------------------------------------------------------------------------------------------
// PCAPdroid
// ---------------------------------------------------------------------------------------------

/// A PCAPdroid "pcap with trailer" frame: zero-MAC Ethernet header, the IP packet, alignment
/// padding, then magic, uid, 20-byte app name and FCS.
fn pcapdroid_frame(ip: &[u8], uid: i32, app: &str) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(if ip[0] >> 4 == 4 {
        &[0x08, 0x00]
    } else {
        &[0x86, 0xdd]
    });
    f.extend_from_slice(ip);
    while !f.len().is_multiple_of(4) {
        f.push(0);
    }
    f.extend_from_slice(&0x0107_2021u32.to_be_bytes());
    f.extend_from_slice(&uid.to_be_bytes());
    let mut name = [0u8; 20];
    name[..app.len()].copy_from_slice(app.as_bytes());
    f.extend_from_slice(&name);
    let mut crc = flate2::Crc::new();
    crc.update(&f);
    f.extend_from_slice(&crc.sum().to_le_bytes());
    f
}

fn ipv4(total_len: u16) -> Vec<u8> {
    let mut ip = vec![0u8; usize::from(total_len)];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total_len.to_be_bytes());
    ip[9] = 17;
    ip
}

#[test]
fn pcapdroid_trailer_is_stripped_and_names_the_app() {
    let ip4 = ipv4(41); // 14 + 41 = 55: one byte of padding before the trailer
    let mut ip6 = vec![0u8; 48];
    ip6[0] = 0x60;
    ip6[4..6].copy_from_slice(&8u16.to_be_bytes());
    let f4 = pcapdroid_frame(&ip4, 10_123, "com.example.app");
    let f6 = pcapdroid_frame(&ip6, 1000, "a-twenty-char-name!!");
    let plain = {
        let mut e = vec![0xaa; 12];
        e.extend_from_slice(&[0x08, 0x00]);
        e.extend(ipv4(40));
        e
    };
    let f = pcap_file(
        false,
        0xa1b2_c3d4,
        1,
        &[
            (1, 0, &f4, f4.len() as u32),
            (2, 0, &f6, f6.len() as u32),
            (3, 0, &plain, plain.len() as u32),
            (4, 0, &f4, f4.len() as u32),
        ],
    );
    let p = ok(&f);
    assert_eq!(p[0].data.len(), 14 + 41);
    assert_eq!(&p[0].data[14..], ip4.as_slice());
    assert_eq!(p[0].orig_len, 55);
    assert_eq!(p[0].app.as_deref(), Some("com.example.app"));
    assert_eq!(p[0].uid, Some(10_123));
    assert_eq!(&p[1].data[14..], ip6.as_slice());
    assert_eq!(p[1].app.as_deref(), Some("a-twenty-char-name!!"));
    assert_eq!(p[1].uid, Some(1000));
    assert_eq!(p[2].data, plain);
    assert_eq!((p[2].app.clone(), p[2].uid), (None, None));
    assert_eq!(p[3].app.as_deref(), Some("com.example.app"));
    // Not on other link types.
    let g = pcap_file(false, 0xa1b2_c3d4, 101, &[(1, 0, &f4, f4.len() as u32)]);
    let q = ok(&g);
    assert_eq!((q[0].data.len(), q[0].app.clone()), (f4.len(), None));
}

#[test]
fn pcapdroid_pcapng_uid_comments() {
    for be in [false, true] {
        let ip = ipv4(28);
        let mut f = shb(be, &[]);
        f.extend(idb(be, 101, 0, &[]));
        f.extend(pcapdroid_uid_map(be, 10_123, "com.example.app", "Example"));
        f.extend(pcapdroid_uid_map(be, 1000, "", "Android System"));
        // A custom block of another vendor is ignored.
        let mut other = Vec::new();
        put32(&mut other, 12345, be);
        other.extend_from_slice(b"whatever");
        f.extend(block(be, 0x0000_0bad, &other));
        f.extend(epb(be, 0, 1, &ip, 28, &[opt(be, 1, b"u-10123")]));
        f.extend(epb(be, 0, 2, &ip, 28, &[opt(be, 1, b"u-1000")]));
        f.extend(epb(be, 0, 3, &ip, 28, &[opt(be, 1, b"u--1")]));
        f.extend(epb(be, 0, 4, &ip, 28, &[opt(be, 1, b"just a note")]));
        let p = ok(&f);
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].app.as_deref(), Some("com.example.app"));
        assert_eq!(p[0].uid, Some(10_123));
        assert_eq!(p[0].comment.as_deref(), Some("u-10123"));
        assert_eq!(p[1].app.as_deref(), Some("Android System"));
        assert_eq!((p[2].app.clone(), p[2].uid), (None, Some(-1)));
        assert_eq!((p[3].app.clone(), p[3].uid), (None, None));
        assert_eq!(p[0].data, ip);
        let mut r = reader(&f).expect("open");
        while r.next_packet().expect("ok").is_some() {}
        assert_eq!(r.apps().len(), 2);
    }
}
