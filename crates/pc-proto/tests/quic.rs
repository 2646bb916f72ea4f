//! Recognising client Initial packets (decryption is tested in pc-h3).

mod util;

use pc_proto::quic;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// RFC 9001 A.2 and RFC 9369 A.2 Initial headers (v1 type 0, v2 type 1), padded as sent.
#[test]
fn rfc_initial_headers_are_recognised() {
    for hdr in [
        "c300000001088394c8f03e5157080000449e00000002",
        "d36b3343cf088394c8f03e5157080000449e00000002",
    ] {
        let mut d = h(hdr);
        d.resize(1200, 0);
        assert!(quic::is_quic_long_header(&d), "{hdr}");
    }
    // The v1 type bits under the v2 version (a Retry there), a short header, an unknown
    // version, an over-long connection id: not client Initials.
    for hdr in [
        "c36b3343cf088394c8f03e5157080000449e00000002",
        "4300000001088394c8f03e5157080000449e00000002",
        "c3000000ff088394c8f03e5157080000449e00000002",
        "c30000000115",
    ] {
        let mut d = h(hdr);
        d.resize(1200, 0);
        assert!(!quic::is_quic_long_header(&d), "{hdr}");
    }
}

#[test]
fn versions_with_initial_salts() {
    assert_eq!(quic::initial_salt(quic::VERSION_2).map(|s| s.1), Some(true));
    assert_eq!(
        quic::initial_salt(quic::VERSION_1).map(|s| s.1),
        Some(false)
    );
    assert!(quic::initial_salt(quic::VERSION_DRAFT29).is_some());
    assert_ne!(
        quic::initial_salt(quic::VERSION_DRAFT29),
        quic::initial_salt(quic::VERSION_1)
    );
    assert!(quic::initial_salt(0x5130_3433).is_none(), "gQUIC Q043");
    assert_eq!(quic::version_name(quic::VERSION_DRAFT29), "draft-29");
}

/// The first client datagram of real QUIC captures is recognised.
#[test]
fn captures_start_with_a_client_initial() {
    for path in [
        "pcap/suricata/quic-ietf.pcap",
        "pcap/illustrated/quic-capture.pcap",
        "pcap/suricata/quic-v2.pcap",
        "pcap/zeek/curl-8.1.2-dev-http3-www-google-de.pcap",
    ] {
        let dgrams = util::udp(&util::fixture(path));
        assert!(
            dgrams.iter().any(|(_, d)| quic::is_quic_long_header(d)),
            "{path}"
        );
    }
}

/// Truncated at every length and random bytes: never a panic.
#[test]
fn malformed_datagrams() {
    let mut d = h("c300000001088394c8f03e5157080000449e00000002");
    d.resize(1200, 0);
    for n in 0..40 {
        assert_eq!(quic::is_quic_long_header(&d[..n]), n >= 15, "len {n}");
    }
    let mut x = 0x1234_5678u32;
    for _ in 0..200 {
        let mut d = vec![0u8; 64];
        for b in &mut d {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let _ = quic::is_quic_long_header(&d);
    }
}
