//! DNS parsing: real captures (UDP and out-of-order TCP), compression loops, malformed input.

mod util;

use pc_proto::dns::{self, RData, TcpFramer};
use std::net::Ipv4Addr;

/// A response for `www.example.com` with a CNAME and an A record, using compression.
fn response() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
    m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    // CNAME www.example.com -> cdn.example.com (pointer to "example.com" at 16)
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 6]);
    m.extend_from_slice(b"\x03cdn\xc0\x10");
    // A cdn.example.com (pointer to the CNAME target at 45)
    m.extend_from_slice(&[0xc0, 45, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
    m
}

#[test]
fn compressed_response() {
    let m = dns::parse(&response()).unwrap();
    assert_eq!(m.id, 0x1234);
    assert!(m.response);
    assert_eq!(m.rcode, 0);
    assert_eq!(m.questions[0].name, "www.example.com");
    assert_eq!(m.questions[0].qtype, 1);
    assert_eq!(m.answers[0].data, RData::Cname("cdn.example.com".into()));
    assert_eq!(m.answers[1].name, "cdn.example.com");
    assert_eq!(m.answers[1].ttl, 60);
    assert_eq!(m.answers[1].data, RData::A(Ipv4Addr::new(192, 0, 2, 7)));
    assert_eq!(m.addresses().len(), 1);
    assert_eq!(dns::type_name(65), "HTTPS");
    assert_eq!(dns::type_name(9999), "UNKNOWN");
}

#[test]
fn compression_loops_and_bad_pointers() {
    let hdr = [0u8, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    // Pointer to itself.
    let mut m = hdr.to_vec();
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert!(dns::parse(&m).is_err());
    // Two pointers pointing at each other (forward one rejected).
    let mut m = hdr.to_vec();
    m.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    assert!(dns::parse(&m).is_err());
    // Pointer beyond the end, reserved label types.
    for tail in [&[0xc0u8, 0xff][..], &[0x40, 0], &[0x80, 0], &[0x3f, b'a']] {
        let mut m = hdr.to_vec();
        m.extend_from_slice(tail);
        assert!(dns::parse(&m).is_err());
    }
    // Long backward pointer chains: question k is one label plus a pointer to question k-1.
    let chain = |label: &[u8], n: usize| {
        let mut m = hdr.to_vec();
        m[5] = n as u8;
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        let mut prev = 12usize;
        for _ in 1..n {
            let here = m.len();
            m.push(label.len() as u8);
            m.extend_from_slice(label);
            m.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8, 0, 1, 0, 1]);
            prev = here;
        }
        dns::parse(&m)
    };
    let m = chain(b"b", 64).unwrap();
    assert_eq!(m.questions[63].name.len(), 63 * 2 + 1);
    // Names over 255 bytes are refused.
    assert!(chain(b"bbbbbbbbb", 30).is_err());
    // Names with dots and odd bytes in labels are escaped, not confused.
    let mut m = hdr.to_vec();
    m.extend_from_slice(b"\x03a.b\x02\x00\xff\x00\x00\x01\x00\x01");
    assert_eq!(
        dns::parse(&m).unwrap().questions[0].name,
        "a\\.b.\\000\\255"
    );
}

#[test]
fn malformed() {
    let r = response();
    for n in 0..r.len() {
        assert!(dns::parse(&r[..n]).is_err(), "len {n}");
    }
    for i in 0..r.len() {
        for v in [0u8, 0x3f, 0xc0, 0xff] {
            let mut x = r.clone();
            x[i] = v;
            let _ = dns::parse(&x);
        }
    }
    // Huge counts fail fast.
    let m = [0u8, 1, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    assert!(dns::parse(&m).is_err());
    // TCP framing: split at every point, with a bad message in the middle.
    let mut stream = Vec::new();
    for msg in [&r[..], &[1, 2, 3][..], &r[..]] {
        stream.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        stream.extend_from_slice(msg);
    }
    for cut in 0..=stream.len() {
        let mut f = TcpFramer::default();
        let mut res = f.push(&stream[..cut]);
        res.extend(f.push(&stream[cut..]));
        assert_eq!(res.len(), 3);
        assert!(res[0].is_ok() && res[1].is_err() && res[2].is_ok());
    }
    let mut f = TcpFramer::new();
    assert!(f.push(&[0xff, 0xff, 0, 0]).is_empty());
}

fn udp_messages(path: &str) -> Vec<dns::Message> {
    util::udp(&util::fixture(path))
        .iter()
        .filter_map(|(_, d)| dns::parse(d).ok())
        .collect()
}

#[test]
fn capture_dns_port() {
    // tshark: us.pool.ntp.org, 15 distinct A answers over two queries.
    let msgs = udp_messages("pcap/wireshark/dns_port.pcap");
    let queries: Vec<_> = msgs.iter().filter(|m| !m.response).collect();
    assert_eq!(queries.len(), 2);
    assert!(
        queries
            .iter()
            .all(|q| q.questions[0].name == "us.pool.ntp.org" && q.questions[0].qtype == 1)
    );
    let mut ips: Vec<String> = msgs
        .iter()
        .filter(|m| m.response)
        .flat_map(|m| m.addresses())
        .map(|(_, ip)| ip.to_string())
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 15);
    assert!(ips.contains(&"207.234.209.181".to_string()));
}

#[test]
fn capture_https_record() {
    let msgs = udp_messages("pcap/zeek/dns-https.pcap");
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].questions[0].name, "cloudflare.com");
    assert_eq!(dns::type_name(msgs[0].questions[0].qtype), "HTTPS");
    let RData::Svcb(s) = &msgs[1].answers[0].data else {
        panic!("{:?}", msgs[1].answers)
    };
    assert_eq!(s.priority, 1);
    assert_eq!(s.target, "");
    assert!(s.alpn.iter().any(|a| a == "h2"), "{s:?}");
    assert!(
        !s.ipv4_hints.is_empty() && !s.ipv6_hints.is_empty(),
        "{s:?}"
    );
    assert_eq!(
        msgs[1].addresses().len(),
        s.ipv4_hints.len() + s.ipv6_hints.len()
    );
}

#[test]
fn capture_tcp_out_of_order() {
    // tshark: example.com -> 93.184.216.34 over TCP, the length prefix in its own segment.
    let file = util::fixture("pcap/wireshark/dns-ooo.pcap");
    let streams = util::tcp_streams(&file);
    let (_, chunks) = streams.iter().find(|(ep, _)| ep.1 == 53).unwrap().1;
    let mut f = TcpFramer::default();
    let msgs: Vec<_> = chunks.iter().flat_map(|c| f.push(c)).collect();
    assert_eq!(msgs.len(), 1);
    let m = msgs[0].as_ref().unwrap();
    assert_eq!(m.questions[0].name, "example.com");
    assert_eq!(m.answers[0].data, RData::A(Ipv4Addr::new(93, 184, 216, 34)));
}

#[test]
fn capture_android_cnames() {
    let msgs = udp_messages("pcap/ndpi/android.pcap");
    let chain: Vec<(String, String)> = msgs
        .iter()
        .flat_map(|m| m.answers.iter())
        .filter_map(|r| {
            if let RData::Cname(t) = &r.data {
                Some((r.name.clone(), t.clone()))
            } else {
                None
            }
        })
        .collect();
    assert!(chain.contains(&(
        "captive.apple.com".into(),
        "captive-cidr.origin-apple.com.akadns.net".into()
    )));
    let addrs: Vec<String> = msgs
        .iter()
        .filter(|m| {
            m.questions
                .first()
                .is_some_and(|q| q.name == "time.android.com")
        })
        .flat_map(|m| m.addresses())
        .map(|(_, ip)| ip.to_string())
        .collect();
    assert!(addrs.contains(&"216.239.35.12".to_string()), "{addrs:?}");
}

#[test]
fn sniffing() {
    use pc_proto::{AppProto, sniff_stream};
    assert_eq!(
        sniff_stream(b"\x16\x03\x01\x02\x00\x01", 8080),
        AppProto::Tls
    );
    assert_eq!(sniff_stream(b"GET / HTTP/1.1\r\n", 443), AppProto::Http1);
    assert_eq!(sniff_stream(b"POST /x HTTP/1.1\r\n", 5000), AppProto::Http1);
    assert_eq!(
        sniff_stream(b"GETX / HTTP/1.1\r\n", 5000),
        AppProto::Unknown
    );
    let mut q = (response().len() as u16).to_be_bytes().to_vec();
    q.extend(response());
    q[4] = 1; // query
    assert_eq!(sniff_stream(&q, 53), AppProto::Dns);
    assert_eq!(sniff_stream(&q, 5353), AppProto::Unknown);
    // Too short: the port decides unless the bytes contradict it.
    assert_eq!(sniff_stream(b"\x16", 443), AppProto::Tls);
    assert_eq!(sniff_stream(b"", 443), AppProto::Tls);
    assert_eq!(sniff_stream(b"G", 80), AppProto::Http1);
    assert_eq!(sniff_stream(b"SSH-2.0-x", 443), AppProto::Unknown);
    assert_eq!(sniff_stream(b"\x16\x03\x09", 443), AppProto::Unknown);
}
