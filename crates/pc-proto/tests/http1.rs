//! HTTP/1.x parsing: synthetic streams (pipelining, chunked split at every byte, codings,
//! bombs, HEAD/304, resync) and real captures.

mod util;

use pc_proto::http1::{Limits, Message, Parser, StartLine};
use util::{br, gzip, raw_deflate, zlib, zstd};

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(size) {
        out.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
    out
}

fn parse_all(p: &mut Parser, chunks: &[&[u8]]) -> Vec<Message> {
    let mut out = Vec::new();
    for c in chunks {
        p.push(c, &mut out).unwrap();
    }
    p.finish(&mut out);
    out
}

fn target(m: &Message) -> &str {
    match &m.start {
        StartLine::Request { target, .. } => target,
        _ => panic!("not a request"),
    }
}
fn status(m: &Message) -> u16 {
    match &m.start {
        StartLine::Response { status, .. } => *status,
        _ => panic!("not a response"),
    }
}

const JSON: &[u8] =
    br#"{"imei":"356938035643809","msisdn":"+33612345678","iccid":"8933150319000000000"}"#;

#[test]
fn pipelined_requests() {
    let mut s = Vec::new();
    s.extend_from_slice(b"GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n");
    s.extend_from_slice(
        b"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world",
    );
    s.extend_from_slice(b"\r\nPUT /c HTTP/1.0\nHost: h\nContent-Length: 3\n\nabc");
    let out = parse_all(&mut Parser::requests(), &[&s]);
    assert_eq!(out.len(), 3);
    assert_eq!(target(&out[0]), "/a?x=1");
    assert_eq!(out[0].header("host"), Some(&b"example.com"[..]));
    assert_eq!(out[1].body, b"hello world");
    assert_eq!(out[2].body, b"abc");
    assert_eq!(out[2].offset as usize, s.len() - 46);
    // Every split point gives the same messages.
    for cut in 0..=s.len() {
        let o = parse_all(&mut Parser::requests(), &[&s[..cut], &s[cut..]]);
        assert_eq!(o, out, "cut {cut}");
    }
    let bytes: Vec<&[u8]> = s.chunks(1).collect();
    assert_eq!(parse_all(&mut Parser::requests(), &bytes), out);
    // Many small messages in one push.
    let many = s.repeat(5000);
    assert_eq!(parse_all(&mut Parser::requests(), &[&many]).len(), 15000);
}

#[test]
fn chunked_every_boundary_with_every_coding() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("gzip", gzip(JSON)),
        ("deflate", zlib(JSON)),
        ("deflate", raw_deflate(JSON)),
        ("br", br(JSON)),
        ("zstd", zstd(JSON)),
        ("identity", JSON.to_vec()),
        ("gzip, br", br(&gzip(JSON))),
    ];
    for (enc, encoded) in cases {
        let mut s = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: {enc}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .into_bytes();
        s.extend(chunked(&encoded, 7));
        s.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        for cut in 0..=s.len() {
            let mut p = Parser::responses();
            let out = parse_all(&mut p, &[&s[..cut], &s[cut..]]);
            assert_eq!(out.len(), 2, "{enc} cut {cut}");
            assert_eq!(out[0].body, JSON, "{enc} cut {cut}");
            assert_eq!(out[0].body_wire_len, encoded.len() as u64);
            assert_eq!(out[0].decode_error, None);
            assert!(!out[0].body_truncated);
            assert_eq!(out[0].header("x-trailer"), Some(&b"yes"[..]));
            assert_eq!(status(&out[1]), 204);
        }
        // Byte by byte.
        let mut p = Parser::responses();
        let mut out = Vec::new();
        for b in &s {
            p.push(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].body, JSON);
    }
}

#[test]
fn head_304_1xx_and_until_close() {
    let mut p = Parser::responses();
    for m in ["HEAD", "GET", "GET", "GET"] {
        p.expect_response_to(m);
    }
    let s = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\
HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    let out = parse_all(&mut p, &[s]);
    let st: Vec<u16> = out.iter().map(status).collect();
    assert_eq!(st, vec![200, 100, 304, 200, 200]);
    assert!(out[0].body.is_empty() && out[2].body.is_empty());
    assert_eq!(out[3].body, b"ok");
    assert_eq!(out[4].body, b"until the end");
    assert!(!out[4].body_truncated);
}

#[test]
fn upgrade_and_connect_become_tunnels() {
    let mut p = Parser::responses();
    p.expect_response_to("GET");
    let mut out = Vec::new();
    p.push(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x12\x04\x00",
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    assert!(p.is_tunnel());
    let mut q = Parser::requests();
    let out = parse_all(&mut q, &[b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x02\x00"]);
    assert_eq!(out.len(), 1);
    assert_eq!(target(&out[0]), "example.com:443");
}

#[test]
fn bombs_are_capped() {
    // 64 MiB of zeros compresses to ~64 KiB of gzip: ratio ~1000.
    let zeros = vec![0u8; 64 * 1024 * 1024];
    for (enc, data) in [
        ("gzip", gzip(&zeros)),
        ("br", br(&zeros)),
        ("zstd", zstd(&zeros)),
    ] {
        let mut s = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: {enc}\r\nContent-Length: {}\r\n\r\n",
            data.len()
        )
        .into_bytes();
        s.extend_from_slice(&data);
        let limits = Limits {
            max_decompressed_bytes: 8 * 1024 * 1024,
            max_ratio: 20,
            ..Limits::default()
        };
        let mut p = Parser::responses().with_limits(limits.clone());
        let out = parse_all(&mut p, &[&s]);
        let m = &out[0];
        let allowed = (data.len() * 20)
            .max(limits.ratio_free_bytes)
            .min(limits.max_decompressed_bytes);
        assert_eq!(m.body.len(), allowed, "{enc}");
        assert!(m.body_truncated && m.decode_error.is_some(), "{enc}");
        // The plain function refuses outright.
        assert!(pc_proto::body::decompress(enc, &data, 1 << 20).is_err());
    }
}

#[test]
fn body_limit_and_corrupt_coding() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let s = b"POST / HTTP/1.1\r\nContent-Length: 30\r\n\r\n012345678901234567890123456789GET /next HTTP/1.1\r\n\r\n";
    let out = parse_all(&mut Parser::requests().with_limits(limits), &[s]);
    assert_eq!(out[0].body, b"0123456789");
    assert_eq!(out[0].body_wire_len, 30);
    assert!(out[0].body_truncated);
    assert_eq!(target(&out[1]), "/next");
    // A corrupt gzip body keeps its raw bytes and says why.
    let s = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello";
    let out = parse_all(&mut Parser::responses(), &[s]);
    assert_eq!(out[0].body, b"hello");
    assert!(out[0].decode_error.is_some());
    // A truncated gzip body yields the prefix it holds.
    let big: Vec<u8> = (0..100_000u32)
        .flat_map(|i| i.to_string().into_bytes())
        .collect();
    let g = gzip(&big);
    let mut s = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        g.len()
    )
    .into_bytes();
    s.extend_from_slice(&g[..g.len() / 2]);
    let out = parse_all(&mut Parser::responses(), &[&s]);
    assert!(out[0].body_truncated);
    assert!(!out[0].body.is_empty() && big.starts_with(&out[0].body));
}

#[test]
fn gaps_and_resync() {
    let s = b"POST /a HTTP/1.1\r\nContent-Length: 20\r\n\r\n01234567890123456789GET /b HTTP/1.1\r\n\r\n";
    // A gap inside a body of known length keeps the framing.
    let mut p = Parser::requests();
    let mut out = Vec::new();
    p.push(&s[..45], &mut out).unwrap();
    p.gap(10);
    p.push(&s[55..], &mut out).unwrap();
    assert_eq!(out.len(), 2);
    assert!(out[0].body_truncated);
    assert_eq!(out[0].body_wire_len, 20);
    assert_eq!(target(&out[1]), "/b");
    // A gap in the head: resync on the next request line.
    let mut p = Parser::requests();
    let mut out = Vec::new();
    p.push(b"GET /lost HTTP/1.1\r\nHo", &mut out).unwrap();
    p.gap(100);
    p.push(b"st: x\r\n\r\nGET /found HTTP/1.1\r\n\r\n", &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(target(&out[0]), "/found");
    // Garbage: an error, then the next request is found.
    let mut p = Parser::requests();
    let mut out = Vec::new();
    assert!(
        p.push(
            b"\x00\x01garbage line\r\n\r\nmore\r\nGET /ok HTTP/1.1\r\n\r\n",
            &mut out
        )
        .is_err()
    );
    assert_eq!(out.len(), 1);
    assert_eq!(target(&out[0]), "/ok");
}

#[test]
fn gives_up_after_many_errors() {
    let limits = Limits {
        max_errors: 3,
        ..Limits::default()
    };
    let mut p = Parser::requests().with_limits(limits);
    let mut out = Vec::new();
    let mut errs = 0;
    for _ in 0..20 {
        if p.push(
            b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            &mut out,
        )
        .is_err()
        {
            errs += 1;
        }
    }
    assert_eq!(errs, 4);
    assert!(out.len() <= 4);
}

#[test]
fn malformed_and_huge() {
    let s = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    for n in 0..s.len() {
        let mut out = Vec::new();
        let mut p = Parser::requests();
        let _ = p.push(&s[..n], &mut out);
        p.finish(&mut out);
        let mut r = Parser::responses();
        let _ = r.push(&s[..n], &mut out);
        r.finish(&mut out);
    }
    // Header section over the limit.
    let mut big = b"GET / HTTP/1.1\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70_000));
    let mut out = Vec::new();
    let e = Parser::requests().push(&big, &mut out).unwrap_err();
    assert!(matches!(e, pc_proto::ProtoError::TooLarge { .. }));
    // Too many fields.
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..300 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(Parser::requests().push(&many, &mut out).is_err());
    // Huge lengths: counted, never allocated.
    let mut out = Vec::new();
    let mut p = Parser::requests();
    p.push(
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\nabc",
        &mut out,
    )
    .unwrap();
    p.push(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nxyz",
        &mut out,
    )
    .unwrap();
    p.finish(&mut out);
    assert_eq!(out.len(), 1);
    assert!(out[0].body_truncated);
    let mut p = Parser::requests();
    assert!(
        p.push(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
            &mut out
        )
        .is_err()
    );
    // Pseudo-random garbage in both directions.
    let mut x = 0x9e37_79b9u32;
    let mut p = Parser::requests();
    let mut r = Parser::responses();
    for _ in 0..2000 {
        let mut d = vec![0u8; 97];
        for b in &mut d {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            const ALPHABET: &[u8] = b"GET /HTTP1.\r\n: 0123456789abcdef;chunked";
            *b = ALPHABET[x as usize % ALPHABET.len()];
        }
        let _ = p.push(&d, &mut out);
        let _ = r.push(&d, &mut out);
    }
}

/// Requests and responses of every HTTP connection in a capture.
fn capture(path: &str) -> Vec<(Vec<Message>, Vec<Message>)> {
    let file = util::fixture(path);
    let streams = util::tcp_streams(&file);
    let mut out = Vec::new();
    for ((sa, sp, da, dp), (_, chunks)) in &streams {
        if pc_proto::sniff_stream(&chunks[0], *dp) != pc_proto::AppProto::Http1 {
            continue;
        }
        let mut req = Parser::requests();
        let mut reqs = Vec::new();
        for c in chunks {
            let _ = req.push(c, &mut reqs);
        }
        req.finish(&mut reqs);
        let mut resp = Parser::responses();
        for m in &reqs {
            if let StartLine::Request { method, .. } = &m.start {
                resp.expect_response_to(method);
            }
        }
        let mut resps = Vec::new();
        if let Some((_, ch)) = streams.get(&(da.clone(), *dp, sa.clone(), *sp)) {
            for c in ch {
                let _ = resp.push(c, &mut resps);
            }
        }
        resp.finish(&mut resps);
        out.push((reqs, resps));
    }
    out
}

#[test]
fn capture_head_request() {
    let c = capture("pcap/wireshark/http.pcap");
    assert_eq!(c.len(), 1);
    let m = &c[0].0[0];
    assert!(matches!(&m.start, StartLine::Request { method, .. } if method == "HEAD"));
    assert_eq!(target(m), "/v4/iuident.cab?0307011208");
    assert_eq!(m.header("Host"), Some(&b"windowsupdate.microsoft.com"[..]));
    assert_eq!(
        m.header("User-Agent"),
        Some(&b"Industry Update Control"[..])
    );
}

#[test]
fn capture_brotli_response() {
    let c = capture("pcap/wireshark/http-brotli.pcapng");
    let (reqs, resps) = &c[0];
    assert_eq!(target(&reqs[0]), "/test.txt");
    let r = &resps[0];
    assert_eq!(status(r), 200);
    assert_eq!(r.content_encoding, vec!["br".to_string()]);
    assert_eq!(r.decode_error, None);
    assert!(
        r.body_wire_len < r.body.len() as u64,
        "decoded body is larger"
    );
    assert!(std::str::from_utf8(&r.body).is_ok());
}

#[test]
fn capture_out_of_order_and_android() {
    let c = capture("pcap/wireshark/http-ooo.pcap");
    let targets: Vec<&str> = c[0].0.iter().map(target).collect();
    assert_eq!(targets, vec!["/1", "/2", "/3", "/4", "/5"]);

    let c = capture("pcap/ndpi/android.pcap");
    let mut hosts: Vec<String> = c
        .iter()
        .flat_map(|(r, _)| r.iter())
        .map(|m| String::from_utf8_lossy(m.header("host").unwrap()).into_owned())
        .collect();
    hosts.sort();
    assert_eq!(
        hosts,
        vec![
            "captive.apple.com",
            "check.googlezip.net",
            "check.googlezip.net",
            "check.googlezip.net"
        ]
    );
    let statuses: Vec<u16> = c.iter().flat_map(|(_, r)| r.iter()).map(status).collect();
    assert_eq!(statuses.len(), 4);
}

#[test]
fn capture_h2c_upgrade() {
    // Requests then 101 Switching Protocols to h2c: the rest is HTTP/2, not parsed.
    let c = capture("pcap/suricata/http2-range.pcap");
    let ups: usize = c
        .iter()
        .flat_map(|(_, r)| r.iter())
        .filter(|m| status(m) == 101)
        .count();
    assert!(ups >= 1);
}
