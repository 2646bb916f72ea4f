//! Decrypted QUIC frames fed straight to a connection: HTTP/3 messages, gaps, resets, raw
//! streams, memory budgets, hostile frames and datagrams.

use super::*;

fn vi(v: u64) -> Vec<u8> {
    if v < 64 {
        vec![v as u8]
    } else if v < 16384 {
        (0x4000u16 | v as u16).to_be_bytes().to_vec()
    } else {
        ((0xc0u64 << 56) | v).to_be_bytes().to_vec()
    }
}

/// A STREAM frame with offset and length.
fn stream(sid: u64, off: u64, data: &[u8], fin: bool) -> Vec<u8> {
    let mut f = vec![0x0e | u8::from(fin)];
    f.extend(vi(sid));
    f.extend(vi(off));
    f.extend(vi(data.len() as u64));
    f.extend_from_slice(data);
    f
}

fn h3_frame(ty: u64, payload: &[u8]) -> Vec<u8> {
    let mut f = vi(ty);
    f.extend(vi(payload.len() as u64));
    f.extend_from_slice(payload);
    f
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn conn(alpn: &str) -> Connection {
    let mut c = Connection::new();
    c.alpn = Some(alpn.into());
    c
}

/// HTTP/3 over decrypted frames: a request whose field section needs dynamic table
/// entries that arrive later on the encoder stream, STREAM frames out of order, DATA split
/// across frames, and a response with a static-only field section.
#[test]
fn h3_request_blocked_then_decoded() {
    let mut c = conn("h3");
    let mut out = Vec::new();
    // Server control stream (3): SETTINGS with QPACK_MAX_TABLE_CAPACITY 220, so the
    // client may use a dynamic table.
    let mut ctl = vec![0x00];
    ctl.extend(h3_frame(0x04, &h("01 40dc 06 4400")));
    c.frames(1, Level::OneRtt, &stream(3, 0, &ctl, false), &mut out);
    // Request stream 0: HEADERS needing two inserts, then DATA "hello world".
    let mut req = h3_frame(0x01, &h("0381 10 11"));
    req.extend(h3_frame(0x00, b"hello "));
    req.extend(h3_frame(0x00, b"world"));
    let (a, b) = req.split_at(7);
    let mut p = stream(0, 7, b, true);
    p.extend(stream(0, 0, a, false));
    p.extend([0x00, 0x00, 0x01]); // PADDING, PING
    c.frames(0, Level::OneRtt, &p, &mut out);
    assert!(out.is_empty(), "blocked: {out:?}");
    // Client encoder stream (2): the inserts, split across two packets.
    let mut enc = vec![0x02];
    enc.extend(h(
        "3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468",
    ));
    c.frames(0, Level::OneRtt, &stream(2, 0, &enc[..9], false), &mut out);
    assert!(out.is_empty());
    c.frames(0, Level::OneRtt, &stream(2, 9, &enc[9..], false), &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let Event::Request(m) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(m.stream_id, 0);
    assert_eq!(m.header(":authority").as_deref(), Some("www.example.com"));
    assert_eq!(m.header(":path").as_deref(), Some("/sample/path"));
    assert_eq!(m.body, b"hello world");
    assert!(m.complete && !m.body_truncated);
    // Response: :status 200 (static 25), retransmitted once.
    let resp = h3_frame(0x01, &h("0000 d9"));
    let f = stream(0, 0, &resp, true);
    c.frames(1, Level::OneRtt, &f, &mut out);
    c.frames(1, Level::OneRtt, &f, &mut out);
    assert_eq!(out.len(), 2, "{out:?}");
    let Event::Response(r) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(r.header(":status").as_deref(), Some("200"));
    c.finish(&mut out);
    assert_eq!(out.len(), 2);
}

/// Lost bytes in the middle of a DATA frame: the body is marked truncated, parsing goes
/// on; a reset stream still reports what it had.
#[test]
fn h3_gap_and_reset() {
    let mut c = Connection::with_limits(Limits {
        max_stream_pending: 16,
        ..Limits::default()
    });
    c.alpn = Some("h3".into());
    let mut out = Vec::new();
    let mut req = h3_frame(0x01, &h("0000 d1 51 02 2f78"));
    // Offset of the fourth body byte (after the 2-byte DATA frame header).
    let data_at = req.len() as u64 + 2 + 3;
    req.extend(h3_frame(0x00, &[b'a'; 40]));
    // Header and the first 3 DATA bytes arrive, then data beyond a hole larger than the
    // per-stream buffer.
    c.frames(
        0,
        Level::OneRtt,
        &stream(0, 0, &req[..data_at as usize], false),
        &mut out,
    );
    c.frames(
        0,
        Level::OneRtt,
        &stream(
            0,
            data_at + 10,
            &req[data_at as usize + 10..data_at as usize + 20],
            false,
        ),
        &mut out,
    );
    c.frames(
        0,
        Level::OneRtt,
        &stream(0, data_at + 25, &req[data_at as usize + 25..], true),
        &mut out,
    );
    c.finish(&mut out);
    assert_eq!(out.len(), 1, "{out:?}");
    let Event::Request(m) = &out[0] else { panic!() };
    assert_eq!(m.header(":method").as_deref(), Some("GET"));
    assert_eq!(m.header(":path").as_deref(), Some("/x"));
    assert!(m.body_truncated && !m.complete);
    assert_eq!(m.body.len(), 3 + 10 + (40 - 3 - 25));
    assert!(c.stats().gap_bytes > 0);

    // RESET_STREAM on stream 4 after its headers.
    let mut out = Vec::new();
    c.frames(
        0,
        Level::OneRtt,
        &stream(4, 0, &h3_frame(0x01, &h("0000 d1")), false),
        &mut out,
    );
    let mut rst = vec![0x04];
    rst.extend(vi(4));
    rst.extend(vi(0x10c));
    rst.extend(vi(5));
    c.frames(0, Level::OneRtt, &rst, &mut out);
    assert_eq!(out.len(), 1);
    let Event::Request(m) = &out[0] else { panic!() };
    assert_eq!(m.stream_id, 4);
    assert!(!m.complete);
}

/// Other ALPNs: raw stream bytes in order; every other frame type is skipped correctly.
#[test]
fn raw_streams_and_all_frame_types() {
    let mut c = conn("ping/1.0");
    let mut out = Vec::new();
    let mut p = Vec::new();
    p.extend(h("02 05 00 01 00")); // ACK
    p.extend(h("03 05 00 01 00 01 02 01 01 01")); // ACK_ECN with one range
    p.extend(h("05 04 00")); // STOP_SENDING
    p.extend(h("07 02 aabb")); // NEW_TOKEN
    p.extend(h("10 01 11 00 01 12 01 13 01 14 01 15 00 01 16 01 17 01")); // flow control
    p.extend(h("18 01 00 04 01020304 00112233445566778899aabbccddeeff")); // NEW_CONNECTION_ID
    p.extend(h("19 00 1a 0001020304050607 1b 0001020304050607")); // RETIRE, PATH_*
    p.extend(h("30 ")); // DATAGRAM without length would eat the rest: use 0x31 first
    p.pop();
    p.extend(h("31 02 abcd 1e")); // DATAGRAM with length, HANDSHAKE_DONE
    p.extend(stream(0, 2, b"ng", true));
    p.extend(h("0b 00 02 7069")); // STREAM with LEN and FIN bits only: "pi", offset 0
    p.extend(h("1c 00 00 00 1d 00 02 6f6b")); // CONNECTION_CLOSE both kinds
    p.extend(h("40ff 00")); // unknown frame type: stops parsing
    p.extend(stream(4, 0, b"never", true));
    c.frames(0, Level::OneRtt, &p, &mut out);
    c.finish(&mut out);
    assert_eq!(
        out,
        vec![Event::StreamData {
            stream_id: 0,
            to_server: true,
            data: b"ping".to_vec()
        }]
    );
    // The NEW_CONNECTION_ID from the client names a DCID for server-to-client packets.
    assert!(c.cids[1].contains(&vec![1, 2, 3, 4]));
}

/// Unfinished messages share one byte budget: the second body is cut, and declaring a huge
/// HEADERS frame costs nothing until its bytes arrive.
#[test]
fn h3_memory_budget() {
    let mut c = Connection::with_limits(Limits {
        max_h3_buffered: 100,
        ..Limits::default()
    });
    c.alpn = Some("h3".into());
    let mut out = Vec::new();
    for sid in [0u64, 4] {
        let mut req = h3_frame(0x01, &h("0000 d1"));
        req.extend(h3_frame(0x00, &[b'z'; 80]));
        c.frames(0, Level::OneRtt, &stream(sid, 0, &req, false), &mut out);
    }
    // A HEADERS frame declaring 60 000 bytes, with 3 sent.
    c.frames(
        0,
        Level::OneRtt,
        &stream(8, 0, &h("01 80 00 ea 60 00 00 d1"), false),
        &mut out,
    );
    c.finish(&mut out);
    let bodies: Vec<(usize, bool)> = out
        .iter()
        .map(|e| match e {
            Event::Request(m) => (m.body.len(), m.body_truncated),
            _ => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(bodies[0], (80, false));
    assert!(bodies[1].0 < 80 && bodies[1].1, "{bodies:?}");
    assert_eq!(bodies.len(), 2);
}

#[test]
fn hostile_frames_do_not_panic() {
    let mut c = conn("h3");
    let mut out = Vec::new();
    for p in [
        h("08"),                           // STREAM with nothing
        h("0e 00 ffffffffffffffff 01 00"), // offset beyond 2^62
        h("0e 00 bfffffffffffffff 01 00"), // offset 2^62-1 plus one byte
        h("0f 00 00 bfffffffffffffff"),    // length larger than the packet
        h("06 00 ffffffffffffffff"),       // CRYPTO length huge
        h("02 00 00 bfffffffffffffff 00"), // ACK range count huge
        h("18 00 00 ff"),                  // NEW_CONNECTION_ID length 255
        h("1c 00 00 bfffffffffffffff"),    // reason length huge
        h("0e 02 00 03 00 04 ff"),         // uni stream type then a frame header only
    ] {
        c.frames(0, Level::OneRtt, &p, &mut out);
        c.frames(1, Level::OneRtt, &p, &mut out);
    }
    // Many streams: bounded.
    let mut c = Connection::with_limits(Limits {
        max_streams: 4,
        ..Limits::default()
    });
    c.alpn = Some("h3".into());
    for sid in 0..100u64 {
        c.frames(0, Level::OneRtt, &stream(sid * 4, 5, b"x", false), &mut out);
    }
    assert_eq!(c.streams.len(), 4);
    assert_eq!(c.stats().frames_dropped, 96);
    c.finish(&mut out);
}

/// The fuzzing entry point over pseudo-random inputs of every mode.
#[test]
fn exercise_garbage() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..3000usize {
        let len = i % 400;
        let mut d = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            d.push(x as u8);
        }
        if let Some(b) = d.first_mut() {
            *b = (i % 256) as u8;
        }
        exercise(&d);
    }
}

#[test]
fn malformed_datagrams_do_not_panic() {
    struct NoKeys;
    impl SecretSource for NoKeys {
        fn secrets(&self, _: &[u8; 32]) -> Option<QuicSecrets> {
            None
        }
    }
    let mut c = Connection::new();
    let mut out = Vec::new();
    for d in [
        h(""),
        h("c0"),
        h("c000000001"),
        h("c000000001 ff"),                        // DCID length 255
        h("c000000001 08 0001020304050607 ff"),    // SCID length 255
        h("c000000001 00 00 ffffffffffffffff"),    // token length huge
        h("c000000001 00 00 00 bfffffffffffffff"), // packet length huge
        h("c000000001 00 00 00 05 0102"),          // packet length beyond datagram
        h("c000000000 0400"),                      // version negotiation
        h("f0ff00001d 00 00 00 10 00112233445566778899aabbccddeeff"),
        h("cf51303530 00 00"),    // Google QUIC Q050
        h("40 0011223344556677"), // short header, unknown connection
    ] {
        c.datagram(true, &d, &NoKeys, &mut out);
        c.datagram(false, &d, &NoKeys, &mut out);
    }
    c.finish(&mut out);
    assert!(out.is_empty());
    assert!(c.stats().malformed > 0);
}
