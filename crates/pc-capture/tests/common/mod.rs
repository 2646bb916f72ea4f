//! Shared by the synthetic capture tests: reading a capture from memory into owned packets, and
//! the byte-by-byte builders of pcap, pcapng, PCAPdroid and gzip input.
#![allow(dead_code)]

use std::io::{Cursor, Write as _};

use pc_capture::{CaptureError, CaptureReader};

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

pub fn reader(bytes: &[u8]) -> Result<CaptureReader, CaptureError> {
    CaptureReader::from_reader(Box::new(Cursor::new(bytes.to_vec())), "mem")
}

/// Owned copy of a packet, for collecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkt {
    pub frame: u64,
    pub ts: i64,
    pub linktype: u32,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub interface: u32,
    pub offset: u64,
    pub app: Option<String>,
    pub uid: Option<i32>,
    pub comment: Option<String>,
}

/// Drains a reader: packets returned before the end, and the final error if any.
pub fn collect(bytes: &[u8]) -> (Vec<Pkt>, Option<CaptureError>) {
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

pub fn ok(bytes: &[u8]) -> Vec<Pkt> {
    let (p, e) = collect(bytes);
    if let Some(e) = e {
        panic!("unexpected error: {e}");
    }
    p
}

pub fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
pub fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}
pub fn pad(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

pub fn pcap_file(be: bool, magic: u32, linktype: u32, recs: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
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

pub fn opt(be: bool, code: u16, val: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    put16(&mut v, code, be);
    put16(&mut v, val.len() as u16, be);
    v.extend_from_slice(val);
    pad(&mut v);
    v
}

pub fn opts(be: bool, list: &[Vec<u8>]) -> Vec<u8> {
    let mut v: Vec<u8> = list.concat();
    if !list.is_empty() {
        v.extend(opt(be, 0, &[]));
    }
    v
}

pub fn block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
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

pub fn shb(be: bool, options: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    put32(&mut body, 0x1a2b_3c4d, be);
    put16(&mut body, 1, be);
    put16(&mut body, 0, be);
    body.extend_from_slice(&[0xff; 8]);
    body.extend(opts(be, options));
    block(be, 0x0a0d_0d0a, &body)
}

pub fn idb(be: bool, linktype: u16, snaplen: u32, options: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    put16(&mut body, linktype, be);
    put16(&mut body, 0, be);
    put32(&mut body, snaplen, be);
    body.extend(opts(be, options));
    block(be, 1, &body)
}

pub fn epb(
    be: bool,
    if_id: u32,
    units: u64,
    data: &[u8],
    orig: u32,
    options: &[Vec<u8>],
) -> Vec<u8> {
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

pub fn pb(be: bool, if_id: u16, units: u64, data: &[u8]) -> Vec<u8> {
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

pub fn spb(be: bool, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    put32(&mut body, orig, be);
    body.extend_from_slice(data);
    block(be, 3, &body)
}

pub fn dsb(be: bool, stype: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    put32(&mut body, stype, be);
    put32(&mut body, data.len() as u32, be);
    body.extend_from_slice(data);
    block(be, 0x0a, &body)
}

/// PCAPdroid UID-mapping custom block.
pub fn pcapdroid_uid_map(be: bool, uid: i32, package: &str, app: &str) -> Vec<u8> {
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

pub fn rich_pcapng(be: bool) -> Vec<u8> {
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

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gz");
    e.finish().expect("gz")
}
