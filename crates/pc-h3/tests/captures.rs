//! Real captures: decryption with logged secrets, stream reassembly, HTTP/3.

mod common;

use common::run;
use pc_h3::{Outcome, VERSION_1, VERSION_DRAFT29};

#[test]
fn illustrated_quic_ping_pong() {
    let conns = run(
        "pcap/illustrated/quic-capture.pcap",
        Some("pcap/illustrated/quic-keylog.txt"),
    );
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c.conn.outcome(), Outcome::Decrypted);
    assert_eq!(c.conn.version(), Some(VERSION_1));
    assert_eq!(c.conn.sni(), Some("example.ulfheim.net"));
    assert_eq!(
        c.conn.suite().map(|s| s.id),
        Some(0x1301),
        "TLS_AES_128_GCM_SHA256"
    );
    assert_eq!(c.conn.alpn(), Some("ping/1.0"));
    let up = c.raw(true);
    let down = c.raw(false);
    assert_eq!(up.get(&0).map(Vec::as_slice), Some(&b"ping"[..]));
    assert_eq!(down.get(&0).map(Vec::as_slice), Some(&b"pong"[..]));
    let s = c.conn.stats();
    assert_eq!(s.packets_undecrypted, 0, "{s:?}");
    // tshark: 12 packets with frames (its other 2 "packets" are random padding after the
    // client's Initial packets).
    assert_eq!(s.packets, 12, "{s:?}");
    assert_eq!(s.packets_decrypted, 12, "{s:?}");
    let (seen, dec) = c.conn.bytes();
    assert!(dec[0] > 0 && dec[0] < seen[0], "{seen:?} {dec:?}");
    assert_eq!(dec[1], seen[1]);
}

/// Every message whose content-length header is present carries exactly that many body bytes.
fn check_content_length(m: &pc_h3::H3Message) {
    if let Some(cl) = m.header("content-length") {
        let cl: usize = cl.parse().expect("numeric content-length");
        assert_eq!(m.body.len(), cl, "stream {}", m.stream_id);
        assert!(!m.body_truncated);
    }
}

/// h3-29 to www.youtube.com, secrets in the capture's Decryption Secrets Block. tshark 4.0
/// decrypts all 906 QUIC packets and sees HTTP/3 HEADERS on the client bidirectional streams
/// 0, 4, …, 84 but does not decode QPACK; the header values checked here are what the
/// decoded QPACK says (dynamic table included), cross-checked for consistency.
#[test]
fn multistream_h3_29_youtube() {
    let conns = run("pcap/wireshark/quic_follow_multistream.pcapng", None);
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c.conn.outcome(), Outcome::Decrypted);
    assert_eq!(c.conn.version(), Some(VERSION_DRAFT29));
    assert_eq!(c.conn.sni(), Some("www.youtube.com"));
    assert_eq!(c.conn.alpn(), Some("h3-29"));
    let s = c.conn.stats();
    assert_eq!((s.packets, s.packets_decrypted), (906, 906), "{s:?}");
    assert_eq!(s.qpack_errors, 0);
    assert_eq!(s.gap_bytes, 0);

    let reqs = c.requests();
    let ids: Vec<u64> = reqs.iter().map(|m| m.stream_id).collect();
    assert_eq!(ids, (0..22).map(|i| i * 4).collect::<Vec<u64>>());
    for m in &reqs {
        assert!(m.complete, "stream {}", m.stream_id);
        assert_eq!(m.header(":authority").as_deref(), Some("www.youtube.com"));
        assert_eq!(m.header(":scheme").as_deref(), Some("https"));
        assert!(m.header(":path").is_some_and(|p| p.starts_with('/')));
        assert!(
            m.header("user-agent")
                .is_some_and(|u| u.contains("Chrome/90"))
        );
        check_content_length(m);
    }
    let get = |sid: u64| reqs.iter().find(|m| m.stream_id == sid).unwrap();
    assert_eq!(get(0).header(":method").as_deref(), Some("POST"));
    assert_eq!(
        get(0).header(":path").as_deref(),
        Some("/youtubei/v1/guide?key=AIzaSyAO_FJ2SlqU8Q4STEHLGCilw_Y9_11qcW8")
    );
    assert_eq!(get(0).body.len(), 1722);
    assert!(get(0).body.starts_with(b"{"), "JSON body");
    assert_eq!(get(40).header(":path").as_deref(), Some("/sw.js"));
    assert_eq!(get(40).header(":method").as_deref(), Some("GET"));
    assert!(get(40).body.is_empty());
    // Later requests rely on dynamic table entries inserted for earlier ones.
    assert!(
        get(80)
            .header("referer")
            .is_some_and(|r| r.ends_with("/results?search_query=sharkfest+TCP"))
    );

    let resps = c.responses();
    assert_eq!(resps.len(), 22);
    for m in &resps {
        assert!(m.complete, "stream {}", m.stream_id);
        assert_eq!(m.header(":status").as_deref(), Some("200"));
        check_content_length(m);
    }
    // The player script is the largest response (~470 KB).
    let big = resps.iter().find(|m| m.stream_id == 28).unwrap();
    assert!(big.body.len() > 400_000 && !big.body_truncated);
}

/// 17 connections from a browser session: every handshake spread over several packets.
#[test]
fn fragmented_handshakes() {
    let conns = run("pcap/wireshark/quic-fragmented-handshakes.pcapng.gz", None);
    assert_eq!(conns.len(), 17);
    let c = &conns[0];
    // tshark: 19 packets in this flow, one a Retry; all others decrypt.
    assert_eq!(c.conn.outcome(), Outcome::Decrypted);
    assert_eq!(c.conn.sni(), Some("localhost"));
    assert_eq!(c.conn.alpn(), Some("h3-29"));
    let s = c.conn.stats();
    assert_eq!(
        (s.packets, s.packets_decrypted, s.packets_undecrypted),
        (19, 18, 0)
    );
    let reqs = c.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header(":path").as_deref(), Some("/"));
    assert_eq!(reqs[0].header(":authority").as_deref(), Some("localhost"));
    let resps = c.responses();
    assert_eq!(resps.len(), 1);
    assert_eq!(resps[0].header(":status").as_deref(), Some("404"));
    check_content_length(resps[0]);
    assert!(resps[0].body.starts_with(b"<html>"));
    // The second flow's ClientHello spans two Initial packets and has no SNI (tshark agrees).
    let c1 = &conns[1];
    assert!(c1.conn.client_random().is_some());
    assert_eq!(c1.conn.sni(), None);
    // The other flows: one Initial each, SNI as tshark reports it.
    let oracle = common::oracle("wireshark/quic-fragmented-handshakes.pcapng.gz");
    for c in &conns[2..] {
        let sni = c.conn.sni().expect("SNI");
        assert!(oracle.contains(&format!("\"{sni}\"")), "{sni}");
        assert!(matches!(c.conn.outcome(), Outcome::Failed(_)));
    }
}

/// No secrets: NoKey, but the SNI from the Initial is still known.
#[test]
fn curl_google_without_keys() {
    let conns = run("pcap/zeek/curl-8.1.2-dev-http3-www-google-de.pcap", None);
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c.conn.outcome(), Outcome::NoKey);
    assert_eq!(c.conn.sni(), Some("www.google.de"));
    assert_eq!(c.conn.version(), Some(VERSION_1));
    assert!(c.events.is_empty());
    let (seen, dec) = c.conn.bytes();
    assert!(seen[0] > 0 && seen[1] > 0);
    // Only Initial packets open.
    assert!(dec[0] < seen[0] && dec[1] < seen[1]);
}

/// QUIC v2 without keys: version recognised, Initial packets opened with the v2 salt/labels.
#[test]
fn quic_v2_without_keys() {
    let conns = run("pcap/zeek/quicv2-http3-443.pcap", None);
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    assert_eq!(c.conn.version(), Some(pc_h3::VERSION_2));
    assert_eq!(c.conn.outcome(), Outcome::NoKey);
    assert!(c.conn.stats().packets_decrypted > 0);
}

/// Real datagrams truncated at (nearly) every length, or with one byte flipped, after the
/// intact ones before them: never a panic, and no more output than intact packets give.
#[test]
fn damaged_real_datagrams() {
    let keys = common::KeyLog::parse(
        &std::fs::read(common::data("pcap/illustrated/quic-keylog.txt")).unwrap(),
    );
    let dgs = common::datagrams("pcap/illustrated/quic-capture.pcap");
    assert_eq!(dgs.len(), 8);
    for i in 0..dgs.len() {
        let d = &dgs[i].2;
        let lens = (0..d.len()).filter(|n| *n < 64 || n % 13 == 0 || d.len() - n < 24);
        for n in lens {
            for flip in [None, Some(n)] {
                let mut c = pc_h3::Connection::new();
                let mut out = Vec::new();
                for (_, to_server, full) in &dgs[..i] {
                    c.datagram(*to_server, full, &keys, &mut out);
                }
                let before = c.stats().packets_decrypted;
                let mut damaged = d[..n].to_vec();
                if let Some(at) = flip {
                    damaged = d.clone();
                    damaged[at] ^= 0x40;
                }
                c.datagram(dgs[i].1, &damaged, &keys, &mut out);
                c.finish(&mut out);
                let after = c.stats().packets_decrypted;
                if flip.is_none() {
                    // A truncated datagram can still hold complete coalesced packets.
                    assert!(after - before <= 2, "{i} {n}");
                }
                assert!(out.len() <= 2);
            }
        }
    }
}

/// Client Initials of other stacks, without keys: the ClientHello inside (SNI, ALPN) is read
/// from the Initial packets alone (tshark: SNI msquic.net; the v2 clients connect to an
/// address and send no server_name).
#[test]
fn client_hellos_from_initials() {
    let conns = run("pcap/suricata/quic-ietf.pcap", None);
    assert!(conns.iter().any(|c| c.conn.sni() == Some("msquic.net")));
    for path in [
        "pcap/suricata/quic-v2.pcap",
        "pcap/zeek/quicv2-http3-443.pcap",
    ] {
        let conns = run(path, None);
        let c = conns
            .iter()
            .find(|c| c.conn.client_random().is_some())
            .expect(path);
        assert_eq!(c.conn.version(), Some(pc_h3::VERSION_2), "{path}");
        assert_eq!(c.conn.sni(), None, "{path}");
        assert_eq!(c.conn.offered_alpn(), ["h3".to_string()], "{path}");
    }
}
