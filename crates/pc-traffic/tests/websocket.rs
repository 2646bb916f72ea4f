//! A WebSocket opened with an HTTP/1.1 upgrade: what the phone sends in its frames is searched.

use pc_detect::{Identifier, IdentifierKind};
use pc_traffic::{Input, Options, analyze};

/// A minimal pcap writer for one TCP conversation (Ethernet, IPv4, TCP; checksums left zero,
/// which capture readers accept as "not computed").
struct Pcap {
    out: Vec<u8>,
    seq: [u32; 2],
    t: u32,
}

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [203, 0, 113, 9];

impl Pcap {
    fn new() -> Self {
        let mut out = Vec::new();
        for v in [
            0xa1b2c3d4u32.to_le_bytes().to_vec(),
            2u16.to_le_bytes().to_vec(),
            4u16.to_le_bytes().to_vec(),
        ] {
            out.extend(v);
        }
        out.extend([0u8; 8]);
        out.extend(65535u32.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        Pcap {
            out,
            seq: [1000, 5000],
            t: 0,
        }
    }

    fn segment(&mut self, from_client: bool, flags: u8, payload: &[u8]) {
        let (src, dst, sport, dport) = if from_client {
            (CLIENT, SERVER, 40000u16, 80u16)
        } else {
            (SERVER, CLIENT, 80, 40000)
        };
        let d = usize::from(!from_client);
        let ack = self.seq[1 - d];
        let mut tcp = Vec::new();
        tcp.extend(sport.to_be_bytes());
        tcp.extend(dport.to_be_bytes());
        tcp.extend(self.seq[d].to_be_bytes());
        tcp.extend(ack.to_be_bytes());
        tcp.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend(payload);
        self.seq[d] = self.seq[d].wrapping_add(payload.len() as u32 + u32::from(flags & 0x03 != 0));
        let mut ip = vec![0x45, 0];
        ip.extend(((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend([0, 1, 0x40, 0, 64, 6, 0, 0]);
        ip.extend(src);
        ip.extend(dst);
        ip.extend(tcp);
        let mut frame = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        frame.extend(ip);
        self.t += 1;
        self.out.extend(1_782_000_000u32.to_le_bytes());
        self.out.extend(self.t.to_le_bytes());
        self.out.extend((frame.len() as u32).to_le_bytes());
        self.out.extend((frame.len() as u32).to_le_bytes());
        self.out.extend(frame);
    }
}

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
    p.segment(true, 0x02, b"");
    p.segment(false, 0x12, b"");
    p.segment(true, 0x10, b"");
    p.segment(
        true,
        0x18,
        b"GET /socket HTTP/1.1\r\nHost: push.acme.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    p.segment(
        false,
        0x18,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    // Masked, the IMEI is not in the bytes on the wire: only unmasking finds it.
    let frame = ws_frame(
        br#"{"hello":{"imei":"356938035643809"}}"#,
        [0x37, 0xfa, 0x21, 0x3d],
    );
    assert!(!frame.windows(15).any(|w| w == b"356938035643809"));
    p.segment(true, 0x18, &frame);
    p.segment(true, 0x11, b"");
    p.segment(false, 0x11, b"");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ws.pcap");
    std::fs::write(&path, &p.out).unwrap();
    let input = Input {
        path,
        phase: "p".into(),
        consent: pc_case::Consent::None,
        keylogs: vec![],
    };
    let ids = [Identifier::text(
        IdentifierKind::Imei,
        "imei",
        "356938035643809",
    )];
    let r = analyze(&[input], &ids, &Options::default(), &|_| {}).unwrap();
    assert!(r.inputs[0].errors.is_empty(), "{:?}", r.inputs[0].errors);
    let f: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.location == "websocket")
        .collect();
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].host.as_deref(), Some("push.acme.example"));
    assert_eq!(f[0].protocol, "http");
    assert!(!f[0].encrypted_on_wire);
    assert_eq!(
        r.requests.len(),
        1,
        "the upgrade request is the only HTTP request"
    );
}
