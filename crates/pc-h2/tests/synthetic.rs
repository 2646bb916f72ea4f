//! Connections built in the test: every frame type, HPACK state across frames, limits, and
//! malformed input.

use pc_h2::hpack::encode;
use pc_h2::{Connection, Event, H2Error, Limits, Message, PREFACE};
use std::io::Write;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut f = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const PRIORITY: u8 = 2;
const RST: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const CONTINUATION: u8 = 9;
const ES: u8 = 0x1;
const EH: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIO: u8 = 0x20;

/// A header block of literals without indexing.
fn block(fields: &[(&str, &str)], huffman: bool) -> Vec<u8> {
    let mut b = Vec::new();
    for (n, v) in fields {
        encode::literal(&mut b, n.as_bytes(), v.as_bytes(), false, huffman);
    }
    b
}

fn req(path: &str) -> Vec<u8> {
    block(
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "example.com"),
            (":path", path),
        ],
        true,
    )
}

fn client_start() -> Vec<u8> {
    let mut c = PREFACE.to_vec();
    c.extend(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
    c
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// Feed client then server bytes in one go; finish.
fn run(client: &[u8], server: &[u8]) -> (Vec<Message>, Vec<Event>) {
    let mut c = Connection::new();
    let mut out = Vec::new();
    c.push(true, client, &mut out).expect("client");
    c.push(false, server, &mut out).expect("server");
    c.finish(&mut out);
    (out, c.take_events())
}

/// A conversation exercising most frame types.
fn conversation() -> (Vec<u8>, Vec<u8>) {
    let mut c = client_start();
    // Request 1: header block split over HEADERS (padded, with priority) + 2 CONTINUATIONs.
    let b = req("/one?imei=356938035643809");
    let (a, rest) = b.split_at(5);
    let (m, z) = rest.split_at(7);
    let mut p = vec![3u8]; // pad length
    p.extend_from_slice(&[0, 0, 0, 0, 16]); // priority: dependency + weight
    p.extend_from_slice(a);
    p.extend_from_slice(&[0, 0, 0]);
    c.extend(frame(HEADERS, PADDED | PRIO | ES, 1, &p));
    c.extend(frame(CONTINUATION, 0, 1, m));
    c.extend(frame(CONTINUATION, EH, 1, z));
    // Request 3 with a padded gzip body, interleaved with frames that carry nothing.
    let mut h = req("/upload");
    encode::literal(&mut h, b"content-encoding", b"gzip", true, false);
    c.extend(frame(HEADERS, EH, 3, &h));
    c.extend(frame(PRIORITY, 0, 3, &[0, 0, 0, 1, 5]));
    let body = gzip(b"advertising_id=38400000-8cf0-11bd-b23e-10b96e40000d");
    let (b1, b2) = body.split_at(10);
    let mut d = vec![4u8];
    d.extend_from_slice(b1);
    d.extend_from_slice(&[0; 4]);
    c.extend(frame(DATA, PADDED, 3, &d));
    c.extend(frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]));
    c.extend(frame(PING, 0, 0, &[1; 8]));
    c.extend(frame(0x42, 0xff, 3, b"unknown frame type"));
    c.extend(frame(DATA, ES, 3, b2));
    // Request 5: the same custom header again, by index (dynamic table entry 62).
    let mut h = req("/again");
    encode::indexed(&mut h, 62);
    c.extend(frame(HEADERS, EH | ES, 5, &h));

    let mut s = frame(SETTINGS, 0, 0, &[]);
    s.extend(frame(SETTINGS, 1, 0, &[]));
    // Response 1: 100 Continue, then 200 with a body and trailers.
    s.extend(frame(HEADERS, EH, 1, &block(&[(":status", "100")], false)));
    s.extend(frame(
        HEADERS,
        EH,
        1,
        &block(&[(":status", "200"), ("content-type", "text/plain")], true),
    ));
    s.extend(frame(DATA, 0, 1, b"hello "));
    s.extend(frame(DATA, 0, 1, b"world"));
    s.extend(frame(
        HEADERS,
        EH | ES,
        1,
        &block(&[("x-trailer", "t")], false),
    ));
    // Push: promise stream 2 for "/pushed", with the path added to the server's table.
    let mut pp = 2u32.to_be_bytes().to_vec();
    encode::indexed(&mut pp, 2);
    encode::indexed(&mut pp, 6);
    encode::literal(&mut pp, b":authority", b"example.com", false, false);
    encode::literal(&mut pp, b":path", b"/pushed", true, true);
    s.extend(frame(PUSH_PROMISE, EH, 3, &pp));
    s.extend(frame(
        HEADERS,
        EH | ES,
        3,
        &block(&[(":status", "204")], false),
    ));
    // Pushed response refers to the promise's table entry (index 62 = :path /pushed).
    let mut ph = block(&[(":status", "200")], false);
    encode::indexed(&mut ph, 62);
    ph.push(0x40 | 31); // content-type, incremental indexing, static name index 31
    encode::string(&mut ph, b"text/css", false);
    s.extend(frame(HEADERS, EH, 2, &ph));
    s.extend(frame(DATA, ES, 2, b"body{}"));
    s.extend(frame(RST, 0, 5, &[0, 0, 0, 8]));
    s.extend(frame(
        GOAWAY,
        0,
        0,
        &[0, 0, 0, 5, 0, 0, 0, 0, b'b', b'y', b'e'],
    ));
    (c, s)
}

fn hdr<'a>(m: &'a Message, n: &str) -> &'a str {
    std::str::from_utf8(m.header(n).unwrap_or_default()).expect("utf8")
}

fn find(out: &[Message], id: u32, to_server: bool) -> &Message {
    out.iter()
        .find(|m| m.stream_id == id && m.to_server == to_server)
        .unwrap_or_else(|| panic!("no message {id} {to_server} in {out:#?}"))
}

#[test]
fn conversation_with_every_frame_type() {
    let (c, s) = conversation();
    let (out, events) = run(&c, &s);
    let r1 = find(&out, 1, true);
    assert_eq!(hdr(r1, ":path"), "/one?imei=356938035643809");
    assert_eq!(hdr(r1, ":authority"), "example.com");
    assert!(r1.complete && r1.body.is_empty());
    let r3 = find(&out, 3, true);
    assert!(r3.body_decoded);
    assert_eq!(
        r3.body,
        b"advertising_id=38400000-8cf0-11bd-b23e-10b96e40000d"
    );
    let r5 = find(&out, 5, true);
    assert_eq!(hdr(r5, "content-encoding"), "gzip");
    assert_eq!(hdr(r5, ":path"), "/again");
    let s1 = find(&out, 1, false);
    assert_eq!(s1.status(), Some(200));
    assert_eq!(s1.body, b"hello world");
    assert_eq!(s1.trailers, vec![("x-trailer".to_owned(), b"t".to_vec())]);
    let push = find(&out, 2, true);
    assert_eq!(push.promised_by, Some(3));
    assert_eq!(hdr(push, ":path"), "/pushed");
    assert_eq!(hdr(push, ":method"), "GET");
    let s2 = find(&out, 2, false);
    assert_eq!(hdr(s2, ":path"), "/pushed");
    assert_eq!(hdr(s2, "content-type"), "text/css");
    assert_eq!(s2.body, b"body{}");
    assert_eq!(find(&out, 3, false).status(), Some(204));
    // 7 messages: requests 1, 3, 5, push 2; responses 1, 3, 2. No extra flushes.
    assert_eq!(out.len(), 7, "{out:#?}");
    assert!(out.iter().all(|m| m.complete));
    assert!(events.contains(&Event::Reset {
        to_server: false,
        stream_id: 5,
        error_code: 8
    }));
    assert!(events.contains(&Event::GoAway {
        to_server: false,
        last_stream_id: 5,
        error_code: 0
    }));
    assert!(
        !events.iter().any(|e| matches!(e, Event::Violation { .. })),
        "{events:?}"
    );
}

#[test]
fn every_split_point_gives_the_same_messages() {
    let (c, s) = conversation();
    let (whole, _) = run(&c, &s);
    for k in 0..=c.len().max(s.len()) {
        let mut conn = Connection::new();
        let mut out = Vec::new();
        // Interleave the two directions' halves.
        let (c1, c2) = c.split_at(k.min(c.len()));
        let (s1, s2) = s.split_at(k.min(s.len()));
        for (dir, part) in [(true, c1), (false, s1), (true, c2), (false, s2)] {
            conn.push(dir, part, &mut out).expect("push");
        }
        conn.finish(&mut out);
        let mut a: Vec<_> = out.iter().map(|m| format!("{m:?}")).collect();
        let mut b: Vec<_> = whole.iter().map(|m| format!("{m:?}")).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b, "split at {k}");
    }
    // One byte at a time.
    let mut conn = Connection::new();
    let mut out = Vec::new();
    for b in &c {
        conn.push(true, std::slice::from_ref(b), &mut out)
            .expect("push");
    }
    for b in &s {
        conn.push(false, std::slice::from_ref(b), &mut out)
            .expect("push");
    }
    conn.finish(&mut out);
    assert_eq!(out, whole);
}

#[test]
fn many_interleaved_streams() {
    let mut c = client_start();
    let n = 200u32;
    for i in 0..n {
        c.extend(frame(HEADERS, EH, 2 * i + 1, &req(&format!("/s{i}"))));
    }
    for round in 0..3 {
        for i in (0..n).rev() {
            let flags = if round == 2 { ES } else { 0 };
            c.extend(frame(
                DATA,
                flags,
                2 * i + 1,
                format!("{i}:{round};").as_bytes(),
            ));
        }
    }
    let (out, _) = run(&c, &[]);
    assert_eq!(out.len(), n as usize);
    for i in 0..n {
        let m = find(&out, 2 * i + 1, true);
        assert_eq!(hdr(m, ":path"), format!("/s{i}"));
        assert_eq!(m.body, format!("{i}:0;{i}:1;{i}:2;").as_bytes());
        assert!(m.complete);
    }
    // With a cap of 10 open streams the oldest are flushed (incomplete) and reported.
    let limits = Limits {
        max_streams: 10,
        ..Limits::default()
    };
    let mut conn = Connection::with_limits(limits);
    let mut out = Vec::new();
    conn.push(true, &c, &mut out).expect("push");
    conn.finish(&mut out);
    assert!(conn.open_streams() == 0);
    let dropped = conn
        .take_events()
        .iter()
        .filter(|e| matches!(e, Event::StreamDropped { .. }))
        .count();
    assert!(dropped >= (n - 10) as usize, "{dropped}");
    let paths: std::collections::BTreeSet<_> = out
        .iter()
        .filter(|m| !m.headers.is_empty())
        .map(|m| hdr(m, ":path").to_owned())
        .collect();
    assert_eq!(paths.len(), n as usize, "every request reported");
    // DATA for a dropped stream is still reported (without headers) so its body is searched.
    assert!(
        out.iter()
            .any(|m| m.headers.is_empty() && !m.body.is_empty())
    );
    assert!(out.iter().any(|m| !m.complete));
}

#[test]
fn settings_raise_the_peer_table_size() {
    // The server's encoder grows its table to 8000 bytes: allowed only because the client
    // announced SETTINGS_HEADER_TABLE_SIZE = 8192.
    let mut resp = Vec::new();
    encode::size_update(&mut resp, 8000);
    encode::literal(&mut resp, b":status", b"200", true, false);
    let mut s = frame(SETTINGS, 0, 0, &[]);
    s.extend(frame(HEADERS, EH | ES, 1, &resp));
    let mut c = PREFACE.to_vec();
    c.extend(frame(SETTINGS, 0, 0, &[0, 1, 0, 0, 0x20, 0]));
    c.extend(frame(HEADERS, EH | ES, 1, &req("/")));
    let (out, _) = run(&c, &s);
    assert_eq!(find(&out, 1, false).status(), Some(200));

    let mut conn = Connection::new();
    let mut out = Vec::new();
    conn.push(true, PREFACE, &mut out).expect("preface");
    let e = conn
        .push(false, &s, &mut out)
        .expect_err("size update above 4096");
    assert!(matches!(e, H2Error::TooLarge { .. }), "{e:?}");
    assert!(!conn.is_active(false) && conn.is_active(true));
    // The direction is dead: later bytes are ignored without error.
    conn.push(false, &s, &mut out).expect("ignored");

    // The same through the HTTP2-Settings header of an upgrade.
    let mut conn = Connection::after_upgrade();
    conn.client_settings(&[0, 1, 0, 0, 0x20, 0])
        .expect("settings");
    let mut out = Vec::new();
    conn.push(false, &s, &mut out).expect("server");
    assert_eq!(find(&out, 1, false).status(), Some(200));
}

#[test]
fn upgrade_with_and_without_client_preface() {
    let mut s = frame(SETTINGS, 0, 0, &[]);
    s.extend(frame(HEADERS, EH, 1, &block(&[(":status", "200")], false)));
    s.extend(frame(DATA, ES, 1, b"upgraded"));
    s.extend(frame(
        HEADERS,
        EH | ES,
        3,
        &block(&[(":status", "404")], false),
    ));
    for with_preface in [true, false] {
        let mut c = if with_preface {
            PREFACE.to_vec()
        } else {
            Vec::new()
        };
        c.extend(frame(SETTINGS, 0, 0, &[]));
        c.extend(frame(HEADERS, EH | ES, 3, &req("/next")));
        let mut conn = Connection::after_upgrade();
        let mut out = Vec::new();
        for b in &c {
            conn.push(true, std::slice::from_ref(b), &mut out)
                .expect("client");
        }
        conn.push(false, &s, &mut out).expect("server");
        conn.finish(&mut out);
        assert_eq!(out.len(), 3, "{out:#?}");
        assert_eq!(find(&out, 1, false).body, b"upgraded");
        assert_eq!(hdr(find(&out, 3, true), ":path"), "/next");
        assert!(!out.iter().any(|m| m.stream_id == 1 && m.to_server));
    }
}

#[test]
fn grpc_gzip_messages() {
    // field 1 = "356938035643809", field 2 = { field 1 = 7 }
    let pb = b"\x0a\x0f356938035643809\x12\x02\x08\x07".to_vec();
    let z = gzip(&pb);
    let mut body = vec![1u8];
    body.extend_from_slice(&(z.len() as u32).to_be_bytes());
    body.extend_from_slice(&z);
    body.push(0);
    body.extend_from_slice(&(pb.len() as u32).to_be_bytes());
    body.extend_from_slice(&pb);
    let mut h = block(
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "api"),
            (":path", "/svc/Call"),
            ("content-type", "application/grpc+proto"),
            ("grpc-encoding", "gzip"),
        ],
        false,
    );
    encode::literal(&mut h, b"te", b"trailers", false, false);
    let mut c = client_start();
    c.extend(frame(HEADERS, EH, 1, &h));
    c.extend(frame(DATA, 0, 1, &body[..7]));
    c.extend(frame(DATA, ES, 1, &body[7..]));
    let (out, _) = run(&c, &[]);
    let m = find(&out, 1, true);
    assert_eq!(m.grpc.len(), 2);
    for g in &m.grpc {
        assert_eq!(g.data, pb);
        let paths: Vec<_> = g.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["1", "2", "2.1"]);
        assert_eq!(
            g.fields[0].value,
            pc_h2::protobuf::ProtoValue::Bytes(b"356938035643809".to_vec())
        );
    }
    assert!(m.grpc[0].compressed && m.grpc[0].decompressed && !m.grpc[1].compressed);
}

#[test]
fn websocket_over_extended_connect() {
    let h = block(
        &[
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":authority", "chat"),
            (":path", "/ws"),
        ],
        false,
    );
    let mut ws = vec![0x81, 0x80 | 5, 1, 2, 3, 4];
    ws.extend(
        b"hello"
            .iter()
            .zip([1u8, 2, 3, 4].iter().cycle())
            .map(|(a, k)| a ^ k),
    );
    let mut c = client_start();
    c.extend(frame(HEADERS, EH, 1, &h));
    c.extend(frame(DATA, 0, 1, &ws[..3]));
    c.extend(frame(DATA, ES, 1, &ws[3..]));
    let mut s = frame(HEADERS, EH, 1, &block(&[(":status", "200")], false));
    s.extend(frame(DATA, 0, 1, &[0x82, 3, 9, 8, 7]));
    let (out, _) = run(&c, &s);
    let m = find(&out, 1, true);
    assert_eq!(m.websocket.len(), 1);
    assert_eq!((m.websocket[0].opcode, m.websocket[0].fin), (1, true));
    assert_eq!(m.websocket[0].payload, b"hello");
    let r = find(&out, 1, false);
    assert!(!r.complete);
    assert_eq!(r.websocket[0].payload, [9, 8, 7]);
}

#[test]
fn reset_and_gap_flush_partial_messages() {
    let mut c = client_start();
    c.extend(frame(HEADERS, EH, 1, &req("/partial")));
    c.extend(frame(DATA, 0, 1, b"half"));
    c.extend(frame(HEADERS, EH, 3, &req("/cut")));
    let mut conn = Connection::new();
    let mut out = Vec::new();
    conn.push(true, &c, &mut out).expect("push");
    assert!(out.is_empty());
    conn.push(false, &frame(RST, 0, 1, &[0, 0, 0, 8]), &mut out)
        .expect("rst");
    assert_eq!(out.len(), 1);
    assert!(!out[0].complete);
    assert_eq!(out[0].body, b"half");
    conn.gap(true);
    conn.push(true, &frame(DATA, ES, 3, b"lost"), &mut out)
        .expect("ignored after gap");
    assert_eq!(out.len(), 1);
    conn.finish(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(hdr(&out[1], ":path"), "/cut");
    assert!(out[1].body.is_empty() && !out[1].complete);
    assert!(conn.take_events().contains(&Event::Gap { to_server: true }));
}

#[test]
fn body_limits() {
    let limits = Limits {
        max_body: 10,
        ..Limits::default()
    };
    let mut c = client_start();
    let mut h = req("/big");
    encode::literal(&mut h, b"content-encoding", b"gzip", false, false);
    c.extend(frame(HEADERS, EH, 1, &h));
    c.extend(frame(DATA, ES, 1, &gzip(&[b'a'; 1000])));
    c.extend(frame(HEADERS, EH, 3, &req("/raw")));
    c.extend(frame(DATA, 0, 3, b"0123456789"));
    c.extend(frame(DATA, ES, 3, b"abc"));
    let mut conn = Connection::with_limits(limits);
    let mut out = Vec::new();
    conn.push(true, &c, &mut out).expect("push");
    // The compressed body itself is over 10 bytes: kept cut, decoded output cut too.
    let m = find(&out, 1, true);
    assert!(m.body_truncated && m.body.len() <= 10);
    let m = find(&out, 3, true);
    assert!(m.body_truncated);
    assert_eq!(m.body, b"0123456789");
}

#[test]
fn malformed_connections_error_without_panic() {
    let one = |c: &[u8]| {
        let mut conn = Connection::new();
        let mut out = Vec::new();
        let r = conn.push(true, c, &mut out);
        conn.finish(&mut out);
        r
    };
    // Wrong preface.
    assert!(matches!(
        one(b"GET / HTTP/1.1\r\n\r\n"),
        Err(H2Error::Malformed { .. })
    ));
    // Frame length above the limit.
    let mut c = PREFACE.to_vec();
    c.extend([0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0]);
    let limits = Limits {
        max_frame_size: 16384,
        ..Limits::default()
    };
    let mut conn = Connection::with_limits(limits);
    let e = conn.push(true, &c, &mut Vec::new()).expect_err("too large");
    assert!(matches!(e, H2Error::TooLarge { at: 24, .. }), "{e:?}");
    // HPACK index out of range.
    let mut c = client_start();
    c.extend(frame(HEADERS, EH, 1, &[0xff, 0x10]));
    assert!(one(&c).is_err());
    // Integer overflow in HPACK.
    let mut c = client_start();
    c.extend(frame(HEADERS, EH, 1, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    assert!(one(&c).is_err());
    // CONTINUATION without HEADERS; HEADERS interrupted by DATA.
    let mut c = client_start();
    c.extend(frame(CONTINUATION, EH, 1, &req("/")));
    assert!(one(&c).is_err());
    let mut c = client_start();
    c.extend(frame(HEADERS, 0, 1, &req("/")));
    c.extend(frame(DATA, 0, 1, b"x"));
    assert!(one(&c).is_err());
    // Padding longer than the frame.
    let mut c = client_start();
    c.extend(frame(HEADERS, EH | PADDED, 1, &[200, 0x82]));
    assert!(one(&c).is_err());
    // Header block over the cap across CONTINUATIONs.
    let limits = Limits {
        max_header_list: 64,
        ..Limits::default()
    };
    let mut c = client_start();
    c.extend(frame(HEADERS, 0, 1, &[0; 40]));
    c.extend(frame(CONTINUATION, 0, 1, &[0; 40]));
    let mut conn = Connection::with_limits(limits);
    assert!(matches!(
        conn.push(true, &c, &mut Vec::new()),
        Err(H2Error::TooLarge { .. })
    ));
    // DATA padding and stream 0 problems are only violations.
    let mut c = client_start();
    c.extend(frame(DATA, PADDED, 1, &[9, 1]));
    c.extend(frame(DATA, 0, 0, b"x"));
    c.extend(frame(SETTINGS, 0, 0, &[1, 2, 3]));
    let mut conn = Connection::new();
    conn.push(true, &c, &mut Vec::new())
        .expect("violations only");
    assert_eq!(
        conn.take_events()
            .iter()
            .filter(|e| matches!(e, Event::Violation { .. }))
            .count(),
        3
    );
}

#[test]
fn truncated_and_garbage_input_never_panics() {
    let (c, s) = conversation();
    for n in 0..c.len() {
        let mut conn = Connection::new();
        let mut out = Vec::new();
        let _ = conn.push(true, &c[..n], &mut out);
        let _ = conn.push(false, &s[..n.min(s.len())], &mut out);
        conn.finish(&mut out);
    }
    // Deterministic pseudo-random garbage, after a valid preface and raw.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..300 {
        let len = 1 + (round * 37) % 400;
        let mut g = if round % 2 == 0 {
            PREFACE.to_vec()
        } else {
            Vec::new()
        };
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            g.push(x as u8);
        }
        let mut conn = Connection::new();
        let mut out = Vec::new();
        let _ = conn.push(true, &g, &mut out);
        let _ = conn.push(false, &g[g.len() / 2..], &mut out);
        conn.finish(&mut out);
        // Flipped bytes of a valid conversation.
        let mut m = c.clone();
        let i = (x as usize) % m.len();
        m[i] ^= (x >> 8) as u8 | 1;
        let mut conn = Connection::new();
        let _ = conn.push(true, &m, &mut out);
        let _ = conn.push(false, &s, &mut out);
        conn.finish(&mut out);
    }
}

#[test]
fn connection_budget_flushes_oldest_streams() {
    let limits = Limits {
        max_buffered: 1000,
        ..Limits::default()
    };
    let mut c = client_start();
    for i in 0..10u32 {
        let mut h = req(&format!("/s{i}"));
        encode::literal(&mut h, b"cookie", &[b'c'; 300], false, false);
        c.extend(frame(HEADERS, EH, 2 * i + 1, &h));
    }
    let mut conn = Connection::with_limits(limits);
    let mut out = Vec::new();
    conn.push(true, &c, &mut out).expect("push");
    // Each stream holds 516 bytes of headers (RFC 7541 sizes): only one fits at a time.
    assert_eq!(out.len(), 9, "{out:#?}");
    assert!(
        out.iter()
            .all(|m| !m.complete && m.header("cookie").is_some())
    );
    assert_eq!(hdr(&out[0], ":path"), "/s0");
    assert_eq!(conn.open_streams(), 1);
    conn.finish(&mut out);
    assert_eq!(out.len(), 10);
}
