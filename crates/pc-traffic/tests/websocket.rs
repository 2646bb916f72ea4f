//! A WebSocket opened with an HTTP/1.1 upgrade: what the phone sends in its frames is searched.

use pc_detect::{Identifier, IdentifierKind};

#[path = "util/pcap.rs"]
mod pcap;
use pcap::{FIN_ACK, Pcap};
#[path = "util/run.rs"]
mod analysis;

/// A client WebSocket frame: FIN, text, masked with `key`.
fn ws_frame(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend(key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

#[test]
fn identifier_in_a_masked_websocket_frame_is_found() {
    let mut p = Pcap::new();
    let mut c = p.connect(40000, 80);
    p.send(
        &mut c,
        true,
        b"GET /socket HTTP/1.1\r\nHost: push.acme.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    p.send(
        &mut c,
        false,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    // Masked, the IMEI is not in the bytes on the wire: only unmasking finds it.
    let frame = ws_frame(
        br#"{"hello":{"imei":"356938035643809"}}"#,
        [0x37, 0xfa, 0x21, 0x3d],
    );
    assert!(!frame.windows(15).any(|w| w == b"356938035643809"));
    p.send(&mut c, true, &frame);
    p.segment(&mut c, true, FIN_ACK, b"");
    p.segment(&mut c, false, FIN_ACK, b"");

    let ids = [Identifier::text(
        IdentifierKind::Imei,
        "imei",
        "356938035643809",
    )];
    let r = analysis::analyze_bytes(&p.out, &ids);
    assert!(r.inputs[0].errors.is_empty(), "{:?}", r.inputs[0].errors);
    let f: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.location == "websocket")
        .collect();
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].host.as_deref(), Some("push.acme.example"));
    assert_eq!(f[0].protocol, pc_traffic::Protocol::Http);
    assert!(!f[0].encrypted_on_wire);
    assert_eq!(
        r.requests.len(),
        1,
        "the upgrade request is the only HTTP request"
    );
}
