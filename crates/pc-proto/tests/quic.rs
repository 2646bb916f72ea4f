//! QUIC Initial decryption: RFC 9001 / RFC 9369 Appendix A vectors and real captures.

mod util;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aead::AeadInPlace;
use pc_proto::quic::{self, InitialState};

const DCID: &str = "8394c8f03e515708";

/// RFC 9001 A.2 (also RFC 9369 A.2): the unprotected client Initial payload, a CRYPTO frame
/// with the ClientHello, padded to 1162 bytes.
const CLIENT_PAYLOAD: &str = "\
060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868\
04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578\
616d706c652e636f6dff01000100000a00080006001d00170018001000070005\
04616c706e000500050100000000003300260024001d00209370b2c9caa47fba\
baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400\
0d0010000e0403050306030203080408050806002d00020101001c0002400100\
3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000\
75300901100f088394c8f03e51570806048000ffff";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Protect a packet as a sender would (RFC 9001 §5.3, §5.4), with the library's keys; the
/// result is compared with the RFC's published bytes.
fn protect(
    keys: &quic::InitialKeys,
    header: &[u8],
    pn_offset: usize,
    pn: u64,
    payload: &[u8],
) -> Vec<u8> {
    let aead = aes_gcm::Aes128Gcm::new_from_slice(&keys.key).unwrap();
    let mut nonce = keys.iv;
    for (n, b) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= b;
    }
    let mut ct = payload.to_vec();
    let tag = aead
        .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&nonce), header, &mut ct)
        .unwrap();
    ct.extend_from_slice(&tag);
    let pn_len = (header[0] & 3) as usize + 1;
    let sample = &ct[4 - pn_len..4 - pn_len + 16];
    let hp = aes::Aes128::new_from_slice(&keys.hp).unwrap();
    let mut mask = aes::Block::clone_from_slice(sample);
    hp.encrypt_block(&mut mask);
    let mut pkt = header.to_vec();
    pkt[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        pkt[pn_offset + i] ^= mask[1 + i];
    }
    pkt.extend_from_slice(&ct);
    pkt
}

fn rfc_packet(version: u32, header: &str) -> Vec<u8> {
    let keys = quic::client_initial_keys(version, &h(DCID)).unwrap();
    let mut payload = h(CLIENT_PAYLOAD);
    payload.resize(1162, 0);
    protect(&keys, &h(header), 18, 2, &payload)
}

fn check_example_com(init: &quic::Initial, version: u32) {
    assert_eq!(init.version, version);
    assert_eq!(init.dcid, h(DCID));
    assert!(init.scid.is_empty());
    let ch = init.client_hello.as_ref().expect("ClientHello");
    assert_eq!(ch.sni.as_deref(), Some("example.com"));
    assert_eq!(ch.alpn, vec!["alpn".to_string()]);
    assert_eq!(ch.versions, vec![0x0304]);
    assert_eq!(ch.cipher_suites, vec![0x1301, 0x1302]);
    assert!(ch.extensions.contains(&0x39), "QUIC transport parameters");
}

#[test]
fn rfc9001_keys_and_client_initial() {
    let k = quic::client_initial_keys(quic::VERSION_1, &h(DCID)).unwrap();
    assert_eq!(k.key.to_vec(), h("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(k.iv.to_vec(), h("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(k.hp.to_vec(), h("9f50449e04a0e810283a1e9933adedd2"));

    let pkt = rfc_packet(
        quic::VERSION_1,
        "c300000001088394c8f03e5157080000449e00000002",
    );
    assert_eq!(pkt.len(), 1200);
    // The protected packet as published in RFC 9001 A.2 (its start and end).
    assert!(pkt.starts_with(&h(
        "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    )));
    assert!(pkt.ends_with(&h(
        "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934"
    )));

    assert!(quic::is_quic_long_header(&pkt));
    let mut st = InitialState::new();
    let init = st.push_client_datagram(&pkt).expect("complete ClientHello");
    check_example_com(&init, quic::VERSION_1);
    // Reported once only.
    assert!(st.push_client_datagram(&pkt).is_none());
}

#[test]
fn rfc9369_v2_keys_and_client_initial() {
    let k = quic::client_initial_keys(quic::VERSION_2, &h(DCID)).unwrap();
    assert_eq!(k.key.to_vec(), h("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(k.iv.to_vec(), h("91f73e2351d8fa91660e909f"));
    assert_eq!(k.hp.to_vec(), h("45b95e15235d6f45a6b19cbcb0294ba9"));

    let pkt = rfc_packet(
        quic::VERSION_2,
        "d36b3343cf088394c8f03e5157080000449e00000002",
    );
    assert!(pkt.starts_with(&h(
        "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    )));
    assert!(pkt.ends_with(&h(
        "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb199a37ddec600545473cfb5a05e08d0b20\
         9973b2172b4d21fb69745a262ccde96ba18b2faa745b6fe189cf772a9f84cbfc"
    )));
    let mut st = InitialState::new();
    let init = st.push_client_datagram(&pkt).expect("complete ClientHello");
    check_example_com(&init, quic::VERSION_2);
}

#[test]
fn crypto_split_over_packets_and_out_of_order() {
    // The same ClientHello cut into three CRYPTO frames sent in two datagrams, last part first,
    // with PING and ACK frames in between.
    let payload = h(CLIENT_PAYLOAD);
    let crypto = &payload[4..]; // skip frame type 06, offset 00, length 40f1
    assert_eq!(crypto.len(), 0xf1);
    let frame = |off: usize, data: &[u8]| {
        let mut f = vec![
            0x06,
            0x40 | (off >> 8) as u8,
            off as u8,
            0x40 | (data.len() >> 8) as u8,
            data.len() as u8,
        ];
        f.extend_from_slice(data);
        f
    };
    let keys = quic::client_initial_keys(quic::VERSION_1, &h(DCID)).unwrap();
    let packet = |pn: u8, frames: Vec<u8>| {
        let mut p = frames;
        p.resize(1100, 0);
        let len = p.len() + 1 + 16;
        let mut hdr = h("c000000001088394c8f03e515708050102030405");
        hdr.push(0);
        hdr.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8, pn]);
        let pn_off = hdr.len() - 1;
        protect(&keys, &hdr, pn_off, pn as u64, &p)
    };
    let mut f1 = frame(200, &crypto[200..]);
    f1.push(0x01);
    f1.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x00]);
    f1.extend(frame(0, &crypto[..100]));
    let f2 = frame(100, &crypto[100..200]);
    let mut st = InitialState::new();
    assert!(st.push_client_datagram(&packet(0, f1)).is_none());
    let init = st.push_client_datagram(&packet(1, f2)).expect("complete");
    assert_eq!(init.scid, h("0102030405"));
    assert_eq!(
        init.client_hello.unwrap().sni.as_deref(),
        Some("example.com")
    );
}

fn first_ch(path: &str) -> (u32, pc_proto::tls::ClientHello) {
    let file = util::fixture(path);
    let dgrams = util::udp(&file);
    let client = dgrams
        .iter()
        .find(|(_, d)| quic::is_quic_long_header(d))
        .expect("a client Initial")
        .0
        .clone();
    let mut st = InitialState::new();
    for (ep, d) in &dgrams {
        if *ep == client
            && let Some(init) = st.push_client_datagram(d)
        {
            return (init.version, init.client_hello.expect("ClientHello"));
        }
    }
    panic!("no ClientHello in {path}");
}

fn first_sni(path: &str) -> (u32, Option<String>, Vec<String>) {
    let (v, ch) = first_ch(path);
    (v, ch.sni, ch.alpn)
}

#[test]
fn capture_quic_ietf_msquic() {
    // tshark: SNI msquic.net
    let (v, sni, _) = first_sni("pcap/suricata/quic-ietf.pcap");
    assert_eq!(v, quic::VERSION_1);
    assert_eq!(sni.as_deref(), Some("msquic.net"));
}

#[test]
fn capture_quic_illustrated() {
    // tshark: SNI example.ulfheim.net
    let (_, sni, _) = first_sni("pcap/illustrated/quic-capture.pcap");
    assert_eq!(sni.as_deref(), Some("example.ulfheim.net"));
}

#[test]
fn capture_quic_v2() {
    // tshark 4.0 does not decrypt v2 (its oracle has no SNI); the AEAD tag authenticates our
    // result. These clients (connecting to an address) send no server_name extension.
    for path in [
        "pcap/suricata/quic-v2.pcap",
        "pcap/zeek/quicv2-http3-443.pcap",
    ] {
        let (v, ch) = first_ch(path);
        assert_eq!(v, quic::VERSION_2, "{path}");
        assert_eq!(ch.sni, None, "{path}");
        assert!(!ch.extensions.contains(&0), "{path}");
        assert_eq!(ch.alpn, vec!["h3".to_string()], "{path}");
        assert_eq!(ch.versions, vec![0x0304], "{path}");
        assert!(
            ch.extensions.contains(&0x39),
            "{path}: quic_transport_parameters"
        );
    }
}

#[test]
fn capture_google_http3() {
    let (_, sni, alpn) = first_sni("pcap/zeek/curl-8.1.2-dev-http3-www-google-de.pcap");
    assert_eq!(sni.as_deref(), Some("www.google.de"));
    assert!(alpn.iter().any(|a| a == "h3"));
}

#[test]
fn malformed_datagrams() {
    let pkt = rfc_packet(
        quic::VERSION_1,
        "c300000001088394c8f03e5157080000449e00000002",
    );
    // Truncated at every length: never a panic, never a result.
    for n in 0..pkt.len() {
        let mut st = InitialState::new();
        assert!(st.push_client_datagram(&pkt[..n]).is_none(), "len {n}");
        let _ = quic::is_quic_long_header(&pkt[..n]);
    }
    // Any flipped bit in the protected part fails authentication.
    for i in [0usize, 20, 30, 500, 1199] {
        let mut p = pkt.clone();
        p[i] ^= 0x10;
        let mut st = InitialState::new();
        assert!(st.push_client_datagram(&p).is_none(), "flip at {i}");
    }
    // Garbage and huge length fields.
    let mut st = InitialState::new();
    for d in [
        vec![0xc0, 0, 0, 0, 1, 0xff],
        vec![
            0xc0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff,
        ],
        vec![0xc0, 0, 0, 0, 1, 0, 0, 0x00, 0x7f, 0xff],
        vec![0xff; 1500],
        vec![0; 1500],
    ] {
        assert!(st.push_client_datagram(&d).is_none());
    }
    // Deterministic pseudo-random datagrams.
    let mut x = 0x1234_5678u32;
    for _ in 0..200 {
        let mut d = vec![0u8; 1250];
        for b in &mut d {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        d[0] = 0xc0;
        d[1..5].copy_from_slice(&1u32.to_be_bytes());
        let _ = st.push_client_datagram(&d);
    }
}
