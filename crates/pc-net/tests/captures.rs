//! Real captures against tshark's view of them (tests/data/oracle/pcap/**.json).

mod common;

use common::{fixture, run_capture};
use pc_net::{Direction, Transport};

/// `"name": <number>` from an oracle JSON file.
fn oracle_count(rel: &str, field: &str) -> u64 {
    let path = fixture(&format!("oracle/pcap/{rel}.json"));
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let pat = format!("\"{field}\": ");
    let at = json
        .find(&pat)
        .unwrap_or_else(|| panic!("{field} not in {path}"))
        + pat.len();
    let digits: String = json[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// Captures whose TCP and UDP flow counts must equal tshark's `tcp.stream` / `udp.stream` counts.
const CAPTURES: &[&str] = &[
    "ndpi/android.pcap",
    "ndpi/doh.pcapng",
    "ndpi/facebook.pcap",
    "ndpi/googledns_android10.pcap",
    "ndpi/instagram.pcap",
    "ndpi/iphone.pcap",
    "ndpi/tls_ech.pcapng",
    "ndpi/whatsapp.pcap",
    "ndpi/youtube_quic.pcap",
    "suricata/dns-over-http2.pcap",
    "suricata/http2-range.pcap",
    "suricata/quic-ietf.pcap",
    "suricata/quic-v2.pcap",
    "illustrated/quic-capture.pcap",
    "illustrated/tls12-capture.pcap",
    "illustrated/tls13-capture.pcap",
    "wireshark/dhcp-nanosecond.pcap",
    "wireshark/dhe1.pcapng.gz",
    "wireshark/dns+icmp.pcapng.gz",
    "wireshark/dns-ooo.pcap",
    "wireshark/dns_port.pcap",
    "wireshark/dtls12-aes128ccm8-dsb.pcapng",
    "wireshark/empty.pcap",
    "wireshark/grpc_person_search_protobuf_with_image.pcapng.gz",
    "wireshark/http-brotli.pcapng",
    "wireshark/http-ooo.pcap",
    "wireshark/http.pcap",
    "wireshark/http2-brotli.pcapng",
    "wireshark/http2-data-reassembly.pcap",
    "wireshark/http2_follow_multistream.pcapng",
    "wireshark/many_interfaces.pcapng.1",
    "wireshark/packet-h2-14_headers.pcapng",
    "wireshark/quic-fragmented-handshakes.pcapng.gz",
    "wireshark/quic_follow_multistream.pcapng",
    "wireshark/rsasnakeoil2.pcap",
    "wireshark/tls-fragmented-handshakes.pcap.gz",
    "wireshark/tls12-chacha20poly1305.pcap",
    "wireshark/tls12-dsb.pcapng",
    "wireshark/tls13-rfc8446.pcap",
    "zeek/curl-8.1.2-dev-http3-www-google-de.pcap",
    "zeek/dns-https.pcap",
    "zeek/quicv2-http3-443.pcap",
];

#[test]
fn flow_counts_match_tshark() {
    let mut bad = Vec::new();
    for rel in CAPTURES {
        let (rec, stats, errors) = run_capture(&fixture(&format!("pcap/{rel}")));
        // See icmp_quoted_tcp_is_not_a_flow for the one capture where tshark's stream count
        // includes TCP headers quoted in ICMP errors.
        let field = if *rel == "ndpi/instagram.pcap" {
            "tcp_conversation_count"
        } else {
            "tcp_stream_count"
        };
        let want_tcp = oracle_count(rel, field);
        let want_udp = oracle_count(rel, "udp_stream_count");
        let frames = oracle_count(rel, "frame_count");
        assert_eq!(stats.packets, frames, "{rel}: frames read");
        let (tcp, udp) = (
            rec.count(Transport::Tcp) as u64,
            rec.count(Transport::Udp) as u64,
        );
        if (tcp, udp) != (want_tcp, want_udp) {
            bad.push(format!(
                "{rel}: tcp {tcp} (tshark {want_tcp}), udp {udp} (tshark {want_udp})"
            ));
        }
        assert_eq!(errors, 0, "{rel}: decode errors {stats:?}");
        assert_eq!(stats.tcp_flows, tcp);
        assert_eq!(stats.udp_flows, udp);
    }
    assert!(bad.is_empty(), "flow counts differ:\n{}", bad.join("\n"));
}

#[test]
fn http_ooo_requests_in_order() {
    let (rec, stats, _) = run_capture(&fixture("pcap/wireshark/http-ooo.pcap"));
    assert_eq!(rec.count(Transport::Tcp), 1);
    let key = &rec.keys[&(Transport::Tcp, 0)];
    assert_eq!(key.server.port(), 80);
    let client = String::from_utf8_lossy(rec.stream(0, Direction::ToServer)).into_owned();
    let mut at = 0;
    for req in ["PUT /1 ", "GET /2 ", "PUT /3 ", "PUT /4 ", "PUT /5 "] {
        let found = client[at..]
            .find(req)
            .unwrap_or_else(|| panic!("{req} not after byte {at} in {client:?}"));
        at += found + req.len();
    }
    assert_eq!(client.matches("HTTP/1.1\r\n").count(), 5);
    // Sequence numbers 100..387 are all present: the reassembled stream has no holes.
    assert_eq!(client.len(), 287);
    assert!(rec.gaps.is_empty(), "{:?}", rec.gaps);
    assert!(stats.tcp_out_of_order_segments > 0);
    assert!(stats.tcp_retransmitted_segments > 0);
}

#[test]
fn dns_ooo_reassembles_tcp_dns() {
    // Only the server side was captured (SYN+ACK first); the first byte of the response arrives
    // after the rest of it.
    let (rec, stats, _) = run_capture(&fixture("pcap/wireshark/dns-ooo.pcap"));
    assert_eq!(rec.count(Transport::Tcp), 1);
    assert_eq!(stats.tcp_out_of_order_segments, 1);
    assert!(rec.gaps.is_empty());
    assert_eq!(rec.stream(0, Direction::ToClient).len(), 58);
    assert_eq!(
        &rec.stream(0, Direction::ToClient)[..4],
        &[0x00, 0x38, 0xe0, 0x9f]
    );
    assert_eq!(rec.keys[&(Transport::Tcp, 0)].server.port(), 53);
    // DNS over TCP: each message is prefixed by its 2-byte length; the stream must parse exactly.
    for dir in [Direction::ToServer, Direction::ToClient] {
        let s = rec.stream(0, dir);
        let mut p = 0;
        let mut msgs = 0;
        while p + 2 <= s.len() {
            p += 2 + usize::from(u16::from_be_bytes([s[p], s[p + 1]]));
            msgs += 1;
        }
        if !s.is_empty() {
            assert_eq!(p, s.len(), "{dir:?}: DNS framing broken");
            assert!(msgs >= 1);
        }
    }
}

#[test]
fn null_linktype_capture() {
    let frames = common::read_capture(&fixture("pcap/suricata/http2-range.pcap"));
    assert_eq!(frames[0].linktype, 0);
    let (rec, stats, _) = run_capture(&fixture("pcap/suricata/http2-range.pcap"));
    assert_eq!(rec.count(Transport::Tcp), 5);
    assert_eq!(stats.non_ip, 0);
    // Each client stream starts with an HTTP/1.1 request; flows 0, 2 and 4 then upgrade to h2c
    // and continue with the HTTP/2 preface.
    for id in 0..5 {
        let s = rec.stream(id, Direction::ToServer);
        assert!(s.starts_with(b"GET /eicar HTTP/1.1\r\n"), "flow {id}");
        let preface = s
            .windows(24)
            .any(|w| w == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert_eq!(preface, id % 2 == 0, "flow {id}");
        assert_eq!(rec.keys[&(Transport::Tcp, id)].server.port(), 8080);
        assert!(
            rec.stream(id, Direction::ToClient)
                .starts_with(b"HTTP/1.1 "),
            "flow {id}"
        );
    }
}

#[test]
fn tls_client_hello_at_stream_start() {
    // Every TLS connection with a captured handshake starts with a handshake record.
    let (rec, _, _) = run_capture(&fixture("pcap/ndpi/android.pcap"));
    let mut hellos = 0;
    for (&(t, id), key) in &rec.keys {
        if t == Transport::Tcp && key.server.port() == 443 && rec.ended[&(t, id)].saw_syn {
            let s = rec.stream(id, Direction::ToServer);
            if !s.is_empty() {
                assert_eq!(&s[..3], &[0x16, 0x03, 0x01], "flow {id} {key:?}");
                hellos += 1;
            }
        }
    }
    assert!(hellos > 0);
}

#[test]
fn icmp_quoted_tcp_is_not_a_flow() {
    // instagram.pcap: tshark counts 33 tcp.streams but 30 TCP conversations; the 3 extra
    // streams are TCP headers quoted inside ICMP port-unreachable errors (frames 341, 342, 417,
    // 418, 439), which are not connections.
    let rel = "ndpi/instagram.pcap";
    let (rec, stats, _) = run_capture(&fixture(&format!("pcap/{rel}")));
    assert_eq!(
        rec.count(Transport::Tcp) as u64,
        oracle_count(rel, "tcp_conversation_count")
    );
    assert_eq!(oracle_count(rel, "tcp_stream_count"), 33);
    assert_eq!(
        rec.count(Transport::Udp) as u64,
        oracle_count(rel, "udp_stream_count")
    );
    assert_eq!(stats.other_ip, 5);
    assert_eq!(stats.tcp_port_reuse, 0);
}

#[test]
fn flow_stats_consistent() {
    let (rec, stats, _) = run_capture(&fixture("pcap/ndpi/whatsapp.pcap"));
    let mut pk = 0;
    for ((t, _), s) in &rec.ended {
        assert!(s.first_frame <= s.last_frame);
        assert!(s.first_ts <= s.last_ts);
        assert!(s.packets[0] + s.packets[1] >= 1);
        if *t == Transport::Tcp {
            pk += s.packets[0] + s.packets[1];
        }
    }
    assert_eq!(pk, stats.tcp_packets);
    let delivered: usize = rec.streams.values().map(Vec::len).sum();
    assert_eq!(delivered as u64, stats.tcp_delivered_bytes);
}
