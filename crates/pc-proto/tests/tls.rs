//! TLS record layer and hellos: real captures, synthetic splits, malformed input.

mod util;

use pc_proto::tls::{self, Event, RecordStream};

fn client_hello_msg(sni: &str, alpn: &[&str]) -> Vec<u8> {
    let mut exts = Vec::new();
    // GREASE extension first, as browsers do.
    exts.extend_from_slice(&[0x1a, 0x1a, 0, 0]);
    let mut sn = vec![0u8];
    sn.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    sn.extend_from_slice(sni.as_bytes());
    let mut l = (sn.len() as u16).to_be_bytes().to_vec();
    l.extend(sn);
    exts.extend_from_slice(&[0, 0]);
    exts.extend_from_slice(&(l.len() as u16).to_be_bytes());
    exts.extend(l);
    let mut al = Vec::new();
    for a in alpn {
        al.push(a.len() as u8);
        al.extend_from_slice(a.as_bytes());
    }
    exts.extend_from_slice(&[0, 16]);
    exts.extend_from_slice(&((al.len() + 2) as u16).to_be_bytes());
    exts.extend_from_slice(&(al.len() as u16).to_be_bytes());
    exts.extend(al);
    exts.extend_from_slice(&[0, 43, 0, 7, 6, 0x3a, 0x3a, 3, 4, 3, 3]);
    exts.extend_from_slice(&[0xfe, 0x0d, 0, 1, 0]);
    // Padding to make the hello longer than one small record.
    exts.extend_from_slice(&[0, 21, 1, 0]);
    exts.extend(std::iter::repeat_n(0u8, 256));
    let mut body = vec![3, 3];
    body.extend((0..32).map(|i| i as u8));
    body.push(32);
    body.extend(std::iter::repeat_n(0xaau8, 32));
    body.extend_from_slice(&[0, 6, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut m = vec![1];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend(body);
    m
}

fn records(ct: u8, payload: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in payload.chunks(max) {
        out.extend_from_slice(&[ct, 3, 1]);
        out.extend_from_slice(&(c.len() as u16).to_be_bytes());
        out.extend_from_slice(c);
    }
    out
}

fn check_hello(ch: &tls::ClientHello) {
    assert_eq!(ch.sni.as_deref(), Some("api.example.org"));
    assert_eq!(ch.alpn, vec!["h2".to_string(), "http/1.1".to_string()]);
    assert_eq!(ch.versions, vec![0x0304, 0x0303]);
    assert_eq!(ch.legacy_version, 0x0303);
    assert_eq!(ch.session_id.len(), 32);
    assert_eq!(ch.cipher_suites, vec![0x1301, 0x1302, 0xc02f]);
    assert!(ch.has_ech);
    assert_eq!(ch.random[31], 31);
}

#[test]
fn client_hello_fields() {
    let m = client_hello_msg("api.example.org", &["h2", "http/1.1"]);
    check_hello(&tls::parse_client_hello(&m).unwrap());
}

#[test]
fn hello_split_across_records_and_chunks() {
    let m = client_hello_msg("api.example.org", &["h2", "http/1.1"]);
    let mut app = records(23, &[0x55; 300], 300);
    app.extend(records(21, &[2, 0], 10));
    for rec_size in [1usize, 2, 3, 5, 64, 100, m.len()] {
        let mut stream = records(22, &m, rec_size);
        stream.extend_from_slice(&app);
        // Every split point into two TCP chunks.
        for cut in 0..=stream.len() {
            let mut rs = RecordStream::new();
            let mut ev = Vec::new();
            rs.push(&stream[..cut], &mut ev).unwrap();
            rs.push(&stream[cut..], &mut ev).unwrap();
            let hellos: Vec<_> = ev
                .iter()
                .filter_map(|e| {
                    if let Event::ClientHello(c) = e {
                        Some(c)
                    } else {
                        None
                    }
                })
                .collect();
            assert_eq!(hellos.len(), 1, "rec {rec_size} cut {cut}");
            check_hello(hellos[0]);
            assert_eq!(
                ev.iter()
                    .filter(|e| matches!(e, Event::ApplicationData { len: 300 }))
                    .count(),
                1
            );
            assert_eq!(ev.last(), Some(&Event::Alert));
        }
    }
    // Byte by byte.
    let stream = records(22, &m, 7);
    let mut rs = RecordStream::new();
    let mut ev = Vec::new();
    for b in &stream {
        rs.push(std::slice::from_ref(b), &mut ev).unwrap();
    }
    assert!(matches!(&ev[..], [Event::ClientHello(_)]));
}

#[test]
fn visitor_sees_every_payload_byte() {
    let m = client_hello_msg("a.b", &["h2"]);
    let mut stream = records(22, &m, 100);
    stream.extend(records(23, &[7u8; 1000], 400));
    let mut rs = RecordStream::new();
    let mut ev = Vec::new();
    let mut seen: Vec<(u8, usize, usize, bool)> = Vec::new();
    for c in stream.chunks(37) {
        rs.push_with(c, &mut ev, |f| {
            seen.push((f.header.content_type, f.offset, f.data.len(), f.last))
        })
        .unwrap();
    }
    let hs: usize = seen.iter().filter(|s| s.0 == 22).map(|s| s.2).sum();
    let app: usize = seen.iter().filter(|s| s.0 == 23).map(|s| s.2).sum();
    assert_eq!(hs, m.len());
    assert_eq!(app, 1000);
    assert_eq!(
        seen.iter().filter(|s| s.3).count(),
        m.len().div_ceil(100) + 3
    );
}

#[test]
fn ccs_then_encrypted_handshake_and_hrr() {
    let m = client_hello_msg("api.example.org", &["h2", "http/1.1"]);
    // TLS 1.2: CCS then an encrypted Finished: no parse of the ciphertext.
    let mut s = records(22, &m, 16384);
    s.extend(records(20, &[1], 10));
    s.extend(records(22, &[0x9c; 40], 100));
    let mut rs = RecordStream::new();
    let mut ev = Vec::new();
    rs.push(&s, &mut ev).unwrap();
    assert!(matches!(
        &ev[..],
        [Event::ClientHello(_), Event::ChangeCipherSpec, Event::Other]
    ));
    // TLS 1.3 HelloRetryRequest: CCS then a second, cleartext ClientHello.
    let mut s = records(22, &m, 16384);
    s.extend(records(20, &[1], 10));
    s.extend(records(22, &m, 16384));
    let mut ev = Vec::new();
    RecordStream::new().push(&s, &mut ev).unwrap();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::ClientHello(_)))
            .count(),
        2
    );
}

#[test]
fn oversized_handshake_message_is_skipped() {
    // A 100 KiB "certificate" message spanning records, then a ServerHelloDone-like message.
    let mut msg = vec![11u8];
    msg.extend_from_slice(&(100_000u32).to_be_bytes()[1..]);
    msg.extend(std::iter::repeat_n(0x30u8, 100_000));
    msg.extend_from_slice(&[14, 0, 0, 0]);
    let s = records(22, &msg, 16384);
    let mut ev = Vec::new();
    RecordStream::new().push(&s, &mut ev).unwrap();
    assert_eq!(ev, vec![Event::Other, Event::Other]);
}

#[test]
fn gaps() {
    let m = client_hello_msg("a.b", &["h2"]);
    let mut s = records(22, &m, 16384);
    let app_start = s.len();
    s.extend(records(23, &[1u8; 1000], 1000));
    s.extend(records(21, &[1, 0], 10));
    // A gap inside application data keeps the framing.
    let mut rs = RecordStream::new();
    let mut ev = Vec::new();
    rs.push(&s[..app_start + 100], &mut ev).unwrap();
    rs.gap_len(500);
    rs.push(&s[app_start + 600..], &mut ev).unwrap();
    assert_eq!(ev.last(), Some(&Event::Alert));
    // A gap without a length: resync on the next plausible header.
    let mut rs = RecordStream::new();
    let mut ev = Vec::new();
    rs.push(&s[..10], &mut ev).unwrap();
    rs.gap();
    rs.push(&s[app_start..], &mut ev).unwrap();
    assert_eq!(ev, vec![Event::ApplicationData { len: 1000 }, Event::Alert]);
}

#[test]
fn malformed() {
    let m = client_hello_msg("api.example.org", &["h2", "http/1.1"]);
    for n in 0..m.len() {
        assert!(tls::parse_client_hello(&m[..n]).is_err(), "len {n}");
    }
    // Lengths inside pointing past the end: every byte bumped.
    for i in 0..m.len() {
        let mut x = m.clone();
        x[i] = x[i].wrapping_add(0x81);
        let _ = tls::parse_client_hello(&x);
        let mut ev = Vec::new();
        let _ = RecordStream::new().push(&records(22, &x, 16384), &mut ev);
    }
    // Not TLS: one error, then silence.
    let mut rs = RecordStream::new();
    let mut ev = Vec::new();
    assert!(rs.push(b"GET / HTTP/1.1\r\n\r\n", &mut ev).is_err());
    assert!(rs.push(b"\x16\x03\x01\x00\x05hello", &mut ev).is_ok());
    assert!(ev.is_empty());
    // Record longer than allowed.
    let mut ev = Vec::new();
    let e = RecordStream::new()
        .push(&[0x17, 3, 3, 0xff, 0xff], &mut ev)
        .unwrap_err();
    assert!(matches!(e, pc_proto::ProtoError::TooLarge { .. }));
    // Handshake header with a huge length inside small records.
    let mut ev = Vec::new();
    RecordStream::new()
        .push(&records(22, &[1, 0xff, 0xff, 0xff, 1, 2, 3], 100), &mut ev)
        .unwrap();
    assert_eq!(ev, vec![Event::Other]);
    assert!(tls::parse_server_hello(&[2, 0, 0, 1, 3]).is_err());
}

fn client_server(path: &str) -> Vec<(Vec<Event>, Vec<Event>)> {
    let file = util::fixture(path);
    let file = if path.ends_with(".gz") {
        let mut d = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&file[..]), &mut d).unwrap();
        d
    } else {
        file
    };
    let streams = util::tcp_streams(&file);
    let mut out = Vec::new();
    for ((sa, sp, da, dp), (_, chunks)) in &streams {
        // Client directions: the first byte is a handshake record with a ClientHello.
        if chunks.first().and_then(|c| c.get(5)) != Some(&1) {
            continue;
        }
        let run = |chunks: &[Vec<u8>]| {
            let mut rs = RecordStream::new();
            let mut ev = Vec::new();
            for c in chunks {
                rs.push(c, &mut ev).unwrap();
            }
            ev
        };
        let c = run(chunks);
        let back = (da.clone(), *dp, sa.clone(), *sp);
        let s = streams
            .get(&back)
            .map(|(_, ch)| run(ch))
            .unwrap_or_default();
        out.push((c, s));
    }
    out
}

fn sni(ev: &[Event]) -> Vec<String> {
    ev.iter()
        .filter_map(|e| {
            if let Event::ClientHello(c) = e {
                c.sni.clone()
            } else {
                None
            }
        })
        .collect()
}

fn server_version(ev: &[Event]) -> Option<u16> {
    ev.iter().find_map(|e| {
        if let Event::ServerHello(s) = e {
            Some(s.version)
        } else {
            None
        }
    })
}

#[test]
fn capture_tls13_illustrated() {
    let conns = client_server("pcap/illustrated/tls13-capture.pcap");
    assert_eq!(conns.len(), 1);
    let (c, s) = &conns[0];
    assert_eq!(sni(c), vec!["example.ulfheim.net"]);
    assert_eq!(server_version(s), Some(0x0304));
    assert!(c.iter().any(|e| matches!(e, Event::ApplicationData { .. })));
    // The same client bytes split at every point.
    let file = util::fixture("pcap/illustrated/tls13-capture.pcap");
    let streams = util::tcp_streams(&file);
    let (stream, _) = streams
        .values()
        .find(|(s, _)| s.get(5) == Some(&1))
        .unwrap();
    for cut in 0..stream.len().min(600) {
        let mut rs = RecordStream::new();
        let mut ev = Vec::new();
        rs.push(&stream[..cut], &mut ev).unwrap();
        rs.push(&stream[cut..], &mut ev).unwrap();
        assert_eq!(sni(&ev), vec!["example.ulfheim.net"], "cut {cut}");
    }
}

#[test]
fn capture_tls12_illustrated() {
    let conns = client_server("pcap/illustrated/tls12-capture.pcap");
    let (c, s) = &conns[0];
    assert_eq!(sni(c), vec!["example.ulfheim.net"]);
    assert_eq!(server_version(s), Some(0x0303));
    assert!(c.contains(&Event::ChangeCipherSpec));
    // The encrypted Finished after CCS is not parsed as a hello.
    assert_eq!(
        c.iter()
            .filter(|e| matches!(e, Event::ClientHello(_)))
            .count(),
        1
    );
}

#[test]
fn capture_fragmented_handshakes() {
    // Wireshark's test of handshake messages fragmented over records: tshark counts 10
    // ClientHellos in each stream, none with SNI. The capture has client packets only.
    let conns = client_server("pcap/wireshark/tls-fragmented-handshakes.pcap.gz");
    assert!(conns.len() >= 10);
    for (c, s) in &conns {
        assert_eq!(
            c.iter()
                .filter(|e| matches!(e, Event::ClientHello(_)))
                .count(),
            10
        );
        assert!(sni(c).is_empty());
        assert!(s.is_empty());
    }
}

#[test]
fn capture_chacha_sni_is_address() {
    let conns = client_server("pcap/wireshark/tls12-chacha20poly1305.pcap");
    assert_eq!(conns.len(), 7);
    for (c, _) in &conns {
        assert_eq!(sni(c), vec!["10.42.0.243"]);
    }
}
