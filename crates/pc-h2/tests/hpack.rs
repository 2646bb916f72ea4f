//! RFC 7541 Appendix C examples, and malformed header blocks.

use pc_h2::H2Error;
use pc_h2::hpack::{Decoder, encode};

fn fields(list: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| {
            (
                String::from_utf8(n.clone()).expect("utf8"),
                String::from_utf8(v.clone()).expect("utf8"),
            )
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
}

fn run(dec: &mut Decoder, hex_block: &str, want: &[(&str, &str)], size: usize) {
    let block = hex::decode(hex_block).expect("hex");
    let got = dec.decode(&block).expect("decode");
    assert_eq!(fields(&got), pairs(want));
    assert_eq!(dec.table_size(), size);
}

const REQ1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];

#[test]
fn c3_requests_without_huffman() {
    let mut d = Decoder::new(4096);
    run(&mut d, "828684410f7777772e6578616d706c652e636f6d", REQ1, 57);
    run(&mut d, "828684be58086e6f2d6361636865", REQ2, 110);
    run(
        &mut d,
        "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
        REQ3,
        164,
    );
    assert_eq!(d.table_len(), 3);
    assert_eq!(
        d.entry(62),
        Some((&b"custom-key"[..], &b"custom-value"[..]))
    );
}

#[test]
fn c4_requests_with_huffman() {
    let mut d = Decoder::new(4096);
    run(&mut d, "828684418cf1e3c2e5f23a6ba0ab90f4ff", REQ1, 57);
    run(&mut d, "828684be5886a8eb10649cbf", REQ2, 110);
    run(
        &mut d,
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
        REQ3,
        164,
    );
}

const RESP1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ("location", "https://www.example.com"),
    ("content-encoding", "gzip"),
    (
        "set-cookie",
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    ),
];

#[test]
fn c5_responses_with_eviction() {
    let mut d = Decoder::new(256);
    run(
        &mut d,
        "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
        RESP1,
        222,
    );
    run(&mut d, "4803333037c1c0bf", RESP2, 222);
    assert_eq!(d.table_len(), 4);
    run(
        &mut d,
        "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
        RESP3,
        215,
    );
    assert_eq!(d.table_len(), 3);
}

#[test]
fn c6_responses_with_huffman_and_eviction() {
    let mut d = Decoder::new(256);
    run(
        &mut d,
        "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
        RESP1,
        222,
    );
    run(&mut d, "4883640effc1c0bf", RESP2, 222);
    run(
        &mut d,
        "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
        RESP3,
        215,
    );
}

#[test]
fn huffman_round_trip_all_bytes() {
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    for len in [0, 1, 2, 7, 100, all.len()] {
        let mut block = Vec::new();
        encode::literal(&mut block, b"x-bin", &all[..len], false, true);
        let got = Decoder::new(4096).decode(&block).expect("decode");
        assert_eq!(got, vec![(b"x-bin".to_vec(), all[..len].to_vec())]);
    }
}

#[test]
fn size_updates_and_limits() {
    let mut d = Decoder::new(4096);
    let mut b = Vec::new();
    encode::literal(&mut b, b"a", b"1", true, false);
    encode::literal(&mut b, b"b", b"2", true, false);
    d.decode(&b).expect("decode");
    assert_eq!(d.table_len(), 2);
    // Shrinking to 34 bytes keeps only the newest entry (1 + 1 + 32).
    let mut b = Vec::new();
    encode::size_update(&mut b, 34);
    encode::indexed(&mut b, 62);
    assert_eq!(
        d.decode(&b).expect("decode"),
        vec![(b"b".to_vec(), b"2".to_vec())]
    );
    assert_eq!(d.table_len(), 1);
    // Index 63 is gone now.
    let mut b = Vec::new();
    encode::indexed(&mut b, 63);
    assert!(matches!(d.decode(&b), Err(H2Error::Malformed { .. })));
    // Above the ceiling.
    let mut b = Vec::new();
    encode::size_update(&mut b, 4097);
    assert!(matches!(d.decode(&b), Err(H2Error::TooLarge { .. })));
    d.set_max_table_size(8192);
    d.decode(&b).expect("allowed after SETTINGS");
    // Update after a field.
    let mut b = Vec::new();
    encode::indexed(&mut b, 2);
    encode::size_update(&mut b, 0);
    assert!(matches!(d.decode(&b), Err(H2Error::Malformed { .. })));
    // Size 0 empties the table.
    let mut b = Vec::new();
    encode::size_update(&mut b, 0);
    d.decode(&b).expect("decode");
    assert_eq!((d.table_len(), d.table_size()), (0, 0));
    // An entry larger than the table is not added and empties it.
    let mut d = Decoder::new(40);
    let mut b = Vec::new();
    encode::literal(&mut b, b"k", b"v", true, false);
    encode::literal(&mut b, b"big", &[b'x'; 20], true, false);
    d.decode(&b).expect("decode");
    assert_eq!(d.table_len(), 0);
    // Header list cap.
    let mut d = Decoder::new(4096);
    d.set_max_header_list_size(100);
    let mut b = Vec::new();
    encode::literal(&mut b, b"k", &[b'v'; 80], false, false);
    assert!(matches!(d.decode(&b), Err(H2Error::TooLarge { .. })));
}

#[test]
fn malformed_blocks() {
    let cases: &[(&str, &[u8])] = &[
        ("index 0", &[0x80]),
        ("index beyond static table", &[0xbe]),
        (
            "integer overflow",
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ),
        (
            "integer with endless zero continuation",
            &[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        ),
        ("truncated integer", &[0xff, 0x80]),
        ("string longer than block", &[0x40, 0x05, b'a']),
        ("huge string length", &[0x40, 0x7f, 0xff, 0xff, 0xff, 0x0f]),
        // 'a' is 00011 then 11111111 pad: more than 7 padding bits.
        ("huffman padding too long", &[0x40, 0x82, 0x1f, 0xff, 0x00]),
        // 'a' then padding with a zero bit.
        ("huffman padding not ones", &[0x40, 0x81, 0x18, 0x00]),
        // EOS is 30 ones.
        ("huffman EOS", &[0x40, 0x84, 0xff, 0xff, 0xff, 0xfc, 0x00]),
        ("literal with missing value", &[0x40, 0x01, b'a']),
        ("size update truncated", &[0x3f]),
    ];
    for (what, block) in cases {
        let r = Decoder::new(4096).decode(block);
        assert!(r.is_err(), "{what}: {r:?}");
    }
    // Every prefix of a valid block either decodes (at a field boundary) or errors.
    let block = hex::decode("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf").expect("hex");
    for n in 0..block.len() {
        let _ = Decoder::new(4096).decode(&block[..n]);
    }
}
