//! Captures built byte by byte: both byte orders, timestamp resolutions, every packet block kind,
//! PCAPdroid attribution, and hostile input (truncation at every length, huge lengths, garbage).

use std::io::{Cursor, Write as _};
use std::path::Path;

use pc_capture::{CaptureError, CaptureFormat, CaptureReader, ErrorKind, Limits, har};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

fn reader(bytes: &[u8]) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_reader(Box::new(Cursor::new(bytes.to_vec())), "mem")
}

/// Owned copy of a packet, for collecting.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pkt {
    frame: u64,
    ts: i64,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
    interface: u32,
    offset: u64,
    app: Option<String>,
    uid: Option<i32>,
    comment: Option<String>,
}

/// Drains a reader: packets returned before the end, and the final error if any.
fn collect(bytes: &[u8]) -> (Vec<Pkt>, Option<CaptureError>) {
    let mut r = match reader(bytes) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    loop {
        match r.next_packet() {
            Ok(Some(p)) => out.push(Pkt {
                frame: p.frame,
                ts: p.ts,
                linktype: p.linktype,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
                interface: p.interface,
                offset: p.offset,
                app: p.app.as_deref().map(str::to_owned),
                uid: p.uid,
                comment: p.comment.clone(),
            }),
            Ok(None) => return (out, None),
            Err(e) => {
                // Fused after an error.
                assert!(matches!(r.next_packet(), Ok(None)));
                return (out, Some(e));
            }
        }
    }
}

fn ok(bytes: &[u8]) -> Vec<Pkt> {
    let (p, e) = collect(bytes);
    if let Some(e) = e {
        panic!("unexpected error: {e}");
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
fn pad(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn pcap_file(be: bool, magic: u32, linktype: u32, recs: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let mut v = Vec::new();
    put32(&mut v, magic, be);
    put16(&mut v, 2, be);
    put16(&mut v, 4, be);
    put32(&mut v, 0, be);
    put32(&mut v, 0, be);
    put32(&mut v, 65535, be);
    put32(&mut v, linktype, be);
    for &(sec, frac, data, orig) in recs {
        put32(&mut v, sec, be);
        put32(&mut v, frac, be);
        put32(&mut v, data.len() as u32, be);
        put32(&mut v, orig, be);
        v.extend_from_slice(data);
    }
    v
}

fn opt(be: bool, code: u16, val: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    put16(&mut v, code, be);
    put16(&mut v, val.len() as u16, be);
    v.extend_from_slice(val);
    pad(&mut v);
    v
}

fn opts(be: bool, list: &[Vec<u8>]) -> Vec<u8> {
    let mut v: Vec<u8> = list.concat();
    if !list.is_empty() {
        v.extend(opt(be, 0, &[]));
    }
    v
}

fn block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    pad(&mut b);
    let len = b.len() as u32 + 12;
    let mut v = Vec::new();
    put32(&mut v, btype, be);
    put32(&mut v, len, be);
    v.extend(b);
    put32(&mut v, len, be);
    v
}

fn shb(be: bool, options: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    put32(&mut body, 0x1a2b_3c4d, be);
    put16(&mut body, 1, be);
    put16(&mut body, 0, be);
    body.extend_from_slice(&[0xff; 8]);
    body.extend(opts(be, options));
    block(be, 0x0a0d_0d0a, &body)
}

fn idb(be: bool, linktype: u16, snaplen: u32, options: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    put16(&mut body, linktype, be);
    put16(&mut body, 0, be);
    put32(&mut body, snaplen, be);
    body.extend(opts(be, options));
    block(be, 1, &body)
}

fn epb(be: bool, if_id: u32, units: u64, data: &[u8], orig: u32, options: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    put32(&mut body, if_id, be);
    put32(&mut body, (units >> 32) as u32, be);
    put32(&mut body, units as u32, be);
    put32(&mut body, data.len() as u32, be);
    put32(&mut body, orig, be);
    body.extend_from_slice(data);
    pad(&mut body);
    body.extend(opts(be, options));
    block(be, 6, &body)
}

fn pb(be: bool, if_id: u16, units: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    put16(&mut body, if_id, be);
    put16(&mut body, 0, be);
    put32(&mut body, (units >> 32) as u32, be);
    put32(&mut body, units as u32, be);
    put32(&mut body, data.len() as u32, be);
    put32(&mut body, data.len() as u32, be);
    body.extend_from_slice(data);
    block(be, 2, &body)
}

fn spb(be: bool, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    put32(&mut body, orig, be);
    body.extend_from_slice(data);
    block(be, 3, &body)
}

fn dsb(be: bool, stype: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    put32(&mut body, stype, be);
    put32(&mut body, data.len() as u32, be);
    body.extend_from_slice(data);
    block(be, 0x0a, &body)
}

/// PCAPdroid UID-mapping custom block.
fn pcapdroid_uid_map(be: bool, uid: i32, package: &str, app: &str) -> Vec<u8> {
    let mut body = Vec::new();
    put32(&mut body, 62652, be);
    put16(&mut body, 1, be); // version
    body.push(1); // UID mapping
    body.push(0);
    put32(&mut body, uid as u32, be);
    body.push(package.len() as u8);
    body.push(app.len() as u8);
    body.extend_from_slice(package.as_bytes());
    body.extend_from_slice(app.as_bytes());
    block(be, 0x0000_0bad, &body)
}

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

fn rich_pcapng(be: bool) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(shb(
        be,
        &[opt(be, 1, b"section one"), opt(be, 4, b"test writer")],
    ));
    // if 0: ethernet, default microseconds.
    f.extend(idb(be, 1, 0, &[opt(be, 1, b"eth0 comment")]));
    // if 1: raw IP, nanoseconds, +100 s offset.
    f.extend(idb(
        be,
        101,
        0,
        &[
            opt(be, 9, &[9]),
            opt(
                be,
                14,
                &if be {
                    100i64.to_be_bytes()
                } else {
                    100i64.to_le_bytes()
                },
            ),
        ],
    ));
    // if 2: linux_sll, 2^-20 s units.
    f.extend(idb(be, 113, 0, &[opt(be, 9, &[0x80 | 20])]));
    f.extend(epb(
        be,
        0,
        1_500_000,
        b"p1",
        2,
        &[opt(be, 1, b"first"), opt(be, 1, b"second")],
    ));
    f.extend(dsb(be, 0x544c_534b, b"CLIENT_RANDOM 00 11\n"));
    f.extend(block(be, 0x0123_4567, b"unknown block body")); // skipped
    f.extend(block(be, 5, &[0; 16])); // interface statistics: skipped
    f.extend(epb(be, 1, 2_000_000_123, b"p2", 2, &[]));
    f.extend(epb(be, 2, 3 << 20, b"p3", 2, &[]));
    f.extend(pb(be, 1, 5, b"p4"));
    f.extend(spb(be, 3, b"p5\0\0"));
    // Second section: new interface list, other byte order allowed per section.
    f.extend(shb(!be, &[]));
    f.extend(idb(!be, 228, 2, &[]));
    f.extend(spb(!be, 10, b"abcdefghij")); // snaplen 2 caps the captured length
    f.extend(epb(!be, 0, 7, b"p7", 2, &[]));
    f
}

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

// ---------------------------------------------------------------------------------------------
// gzip
// ---------------------------------------------------------------------------------------------

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gz");
    e.finish().expect("gz")
}

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
