//! Schema-less protobuf decoding.

use pc_h2::H2Error;
use pc_h2::protobuf::{ProtoValue, decode};

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(n: u64, wt: u64, out: &mut Vec<u8>) {
    varint(n << 3 | wt, out);
}

fn bytes(n: u64, b: &[u8], out: &mut Vec<u8>) {
    field(n, 2, out);
    varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

#[test]
fn all_wire_types_and_nesting() {
    let mut inner2 = Vec::new();
    bytes(2, b"+33612345678", &mut inner2);
    let mut inner = Vec::new();
    field(1, 0, &mut inner);
    varint(150, &mut inner);
    bytes(3, &inner2, &mut inner);
    let mut m = Vec::new();
    bytes(1, &inner, &mut m);
    field(2, 1, &mut m);
    m.extend_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    field(3, 5, &mut m);
    m.extend_from_slice(&0xdead_beefu32.to_le_bytes());
    field(536_870_911, 0, &mut m);
    varint(u64::MAX, &mut m);
    bytes(4, b"Hi", &mut m); // printable text: not expanded even though it parses
    let f = decode(&m, 8).expect("decode");
    let got: Vec<(&str, u8)> = f.iter().map(|f| (f.path.as_str(), f.wire_type)).collect();
    assert_eq!(
        got,
        [
            ("1", 2),
            ("1.1", 0),
            ("1.3", 2),
            ("1.3.2", 2),
            ("2", 1),
            ("3", 5),
            ("536870911", 0),
            ("4", 2)
        ]
    );
    assert_eq!(f[1].value, ProtoValue::Varint(150));
    assert_eq!(f[3].value, ProtoValue::Bytes(b"+33612345678".to_vec()));
    assert_eq!(f[4].value, ProtoValue::Fixed64(0x0102_0304_0506_0708));
    assert_eq!(f[5].value, ProtoValue::Fixed32(0xdead_beef));
    assert_eq!(f[6].value, ProtoValue::Varint(u64::MAX));
    // Depth 1 expands one level only; depth 0 none.
    let paths = |d| -> Vec<String> {
        decode(&m, d)
            .expect("decode")
            .into_iter()
            .map(|f| f.path)
            .collect()
    };
    assert!(paths(1).contains(&"1.3".to_owned()) && !paths(1).contains(&"1.3.2".to_owned()));
    assert!(!paths(0).iter().any(|p| p.contains('.')));
    assert!(decode(&[], 4).expect("empty").is_empty());
}

#[test]
fn malformed_messages() {
    let cases: &[(&str, &[u8])] = &[
        ("truncated varint", &[0x08, 0x80]),
        (
            "varint over 64 bits",
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
            ],
        ),
        (
            "varint over 10 bytes",
            &[
                0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
            ],
        ),
        ("length past the end", &[0x0a, 0x05, b'a']),
        (
            "huge length",
            &[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ),
        ("field number 0", &[0x00, 0x01]),
        ("group wire type", &[0x0b, 0x0c]),
        ("wire type 7", &[0x0f]),
        ("truncated fixed64", &[0x09, 1, 2, 3]),
        ("truncated fixed32", &[0x0d, 1]),
        (
            "field number too large",
            &[0x80, 0x80, 0x80, 0x80, 0x20, 0x00],
        ),
    ];
    for (what, b) in cases {
        let r = decode(b, 16);
        assert!(r.is_err(), "{what}: {r:?}");
    }
    assert!(matches!(
        decode(&[0x0a, 0x05, b'a'], 1),
        Err(H2Error::Truncated { at: 0, .. })
    ));
    // A bad nested value stays bytes; the outer message is fine.
    let f = decode(&[0x0a, 0x02, 0x08, 0x80], 16).expect("outer ok");
    assert_eq!(f.len(), 1);
}

#[test]
fn deep_nesting_is_bounded() {
    // 10 000 levels of field 1 wrapping: decoding expands only `max_depth` levels.
    let mut m = vec![0x08, 0x01];
    for _ in 0..10_000 {
        let mut outer = Vec::new();
        bytes(1, &m, &mut outer);
        m = outer;
    }
    let f = decode(&m, 32).expect("decode");
    assert_eq!(f.len(), 33);
    assert_eq!(f.last().map(|f| f.path.split('.').count()), Some(33));
    // Many fields: the count is capped.
    let many: Vec<u8> = std::iter::repeat_n([0x08u8, 0x01], 200_000)
        .flatten()
        .collect();
    assert!(matches!(decode(&many, 1), Err(H2Error::TooLarge { .. })));
    // Every prefix of a nested message: no panic.
    for n in 0..200 {
        let _ = decode(&m[..n], 64);
    }
}
