//! RFC 6455 framing.

use pc_h2::H2Error;
use pc_h2::websocket::{WsFrame, WsStream};
use std::io::Write;

fn ws(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => f.push(m | n as u8),
        n @ 126..=65535 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

fn parse(data: &[u8]) -> Result<Vec<WsFrame>, H2Error> {
    let mut s = WsStream::new();
    let mut out = Vec::new();
    s.push(data, &mut out)?;
    Ok(out)
}

#[test]
fn frames_masking_fragmentation_and_control() {
    let big = vec![b'z'; 70_000];
    let mut d = ws(false, false, 1, b"imei=3569", Some([1, 2, 3, 4]));
    d.extend(ws(true, false, 9, b"ping", None)); // control inside a fragmented message
    d.extend(ws(true, false, 0, b"38035643809", Some([9, 9, 9, 9])));
    d.extend(ws(true, false, 2, &big, None));
    d.extend(ws(true, false, 2, &big[..300], Some([0xff; 4])));
    d.extend(ws(true, false, 8, &[0x03, 0xe8], None));
    let all = parse(&d).expect("parse");
    assert_eq!(all.len(), 6);
    assert_eq!(
        (all[0].fin, all[0].opcode, &all[0].payload[..]),
        (false, 1, &b"imei=3569"[..])
    );
    assert_eq!(all[1].opcode, 9);
    assert_eq!(all[2].payload, b"38035643809");
    assert_eq!(all[3].payload, big);
    assert_eq!(all[4].payload.len(), 300);
    assert_eq!(all[5].opcode, 8);
    // Byte at a time gives the same frames.
    let mut s = WsStream::new();
    let mut out = Vec::new();
    for b in &d {
        s.push(std::slice::from_ref(b), &mut out).expect("push");
    }
    assert_eq!(out, all);
    assert_eq!(s.buffered(), 0);
}

#[test]
fn permessage_deflate_is_inflated() {
    let deflate = |data: &[u8], c: &mut flate2::write::DeflateEncoder<Vec<u8>>| {
        c.write_all(data).expect("write");
        c.flush().expect("flush");
        let mut out = std::mem::take(c.get_mut());
        // Strip the 00 00 ff ff sync-flush tail (RFC 7692 §7.2.1).
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    };
    let mut c = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let m1 = deflate(
        b"{\"gaid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\"}",
        &mut c,
    );
    // Second message uses the shared window (context takeover).
    let m2 = deflate(
        b"{\"gaid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\"}",
        &mut c,
    );
    let mut d = ws(true, true, 1, &m1, Some([5, 6, 7, 8]));
    let (a, b) = m2.split_at(m2.len() / 2);
    d.extend(ws(false, true, 1, a, None));
    d.extend(ws(true, false, 0, b, None));
    let f = parse(&d).expect("parse");
    assert_eq!(
        f[0].payload,
        b"{\"gaid\":\"38400000-8cf0-11bd-b23e-10b96e40000d\"}"
    );
    let joined: Vec<u8> = f[1..].iter().flat_map(|f| f.payload.clone()).collect();
    assert_eq!(joined, f[0].payload);
    assert!(f.iter().all(|f| f.compressed));
    // Not deflate at all: kept raw.
    let f = parse(&ws(true, true, 2, &[0xff; 10], None)).expect("parse");
    assert_eq!(f[0].payload, [0xff; 10]);
}

#[test]
fn malformed_frames() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("continuation first", ws(true, false, 0, b"x", None)),
        ("reserved opcode", ws(true, false, 3, b"x", None)),
        ("rsv2", vec![0xa1, 0x00]),
        ("control too long", ws(true, false, 9, &[0; 126], None)),
        ("fragmented control", ws(false, false, 8, b"", None)),
        (
            "64-bit length high bit",
            vec![0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "length over the cap",
            vec![0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0],
        ),
        ("new message inside a fragmented one", {
            let mut d = ws(false, false, 1, b"a", None);
            d.extend(ws(true, false, 1, b"b", None));
            d
        }),
    ];
    for (what, d) in &cases {
        let mut s = WsStream::new();
        let mut out = Vec::new();
        assert!(s.push(d, &mut out).is_err(), "{what}");
        assert!(matches!(
            s.push(b"\x81\x00", &mut out),
            Err(H2Error::Abandoned { .. })
        ));
    }
    // A cap below the frame size.
    let mut s = WsStream::with_max_payload(10);
    assert!(matches!(
        s.push(&ws(true, false, 2, &[0; 11], None), &mut Vec::new()),
        Err(H2Error::TooLarge { .. })
    ));
    // Truncated frames wait for more; garbage never panics.
    let d = ws(true, false, 2, &[7; 300], Some([1, 2, 3, 4]));
    for n in 0..d.len() {
        assert!(parse(&d[..n]).expect("partial").is_empty());
    }
    let mut x = 12345u32;
    for _ in 0..2000 {
        let g: Vec<u8> = (0..64)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let _ = parse(&g);
    }
}
