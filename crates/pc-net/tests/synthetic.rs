//! Synthetic packets for the cases real captures rarely show.

mod common;

use common::*;
use pc_net::{Decoder, Direction, Limits, NetError, Transport};

const CS: Direction = Direction::ToServer;
const SC: Direction = Direction::ToClient;

/// A handshake between C4:40000 and S4:443 with ISNs 1000 (client) and 5000 (server).
fn handshake() -> Vec<Vec<u8>> {
    vec![
        c2s(40000, 443, 1000, 0, SYN, b""),
        s2c(40000, 443, 5000, 1001, SYN | ACK, b""),
        c2s(40000, 443, 1001, 5001, ACK, b""),
    ]
}

#[test]
fn basic_connection() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK | PSH, b"hello "));
    p.push(c2s(40000, 443, 1007, 5001, ACK | PSH, b"world"));
    p.push(s2c(40000, 443, 5001, 1012, ACK | PSH, b"HI"));
    p.push(c2s(40000, 443, 1012, 5003, FIN | ACK, b""));
    p.push(s2c(40000, 443, 5003, 1013, FIN | ACK, b""));
    p.push(c2s(40000, 443, 1013, 5004, ACK, b"")); // late ACK: absorbed, not a new flow
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(rec.count(Transport::Tcp), 1);
    let key = &rec.keys[&(Transport::Tcp, 0)];
    assert_eq!(key.client.to_string(), "10.0.0.1:40000");
    assert_eq!(key.server.to_string(), "93.184.216.34:443");
    assert_eq!(rec.stream(0, CS), b"hello world");
    assert_eq!(rec.stream(0, SC), b"HI");
    let s = &rec.ended[&(Transport::Tcp, 0)];
    assert_eq!(s.packets, [5, 3]);
    assert_eq!(s.bytes, [11, 2]);
    assert_eq!((s.first_frame, s.last_frame), (1, 8));
    assert!(s.saw_syn && s.saw_fin_or_rst);
    assert_eq!(s.gaps, 0);
    // The flow ended at the second FIN, before the late ACK.
    assert_eq!(rec.log, ["start Tcp 0", "end Tcp 0"]);
    assert_eq!(stats.tcp_packets_after_close, 1);
    assert_eq!(stats.tcp_delivered_bytes, 13);
}

#[test]
fn ended_at_fin_not_at_finish() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, FIN | ACK, b"bye"));
    p.push(s2c(40000, 443, 5001, 1005, FIN | ACK, b""));
    let mut dec = Decoder::new(Limits::default());
    let mut rec = Rec::default();
    for (i, pkt) in p.iter().enumerate() {
        dec.push(RAW, pkt, &meta(i as u64 + 1, 0), &mut rec)
            .unwrap();
    }
    assert_eq!(rec.ended.len(), 1, "ended before finish()");
    assert_eq!(rec.stream(0, CS), b"bye");
    dec.finish(&mut rec);
    rec.check_balanced();
}

#[test]
fn out_of_order() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1011, 5001, ACK, b"CCCCC"));
    p.push(c2s(40000, 443, 1006, 5001, ACK, b"BBBBB"));
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"AAAAA"));
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(rec.stream(0, CS), b"AAAAABBBBBCCCCC");
    assert!(rec.gaps.is_empty());
    assert_eq!(stats.tcp_out_of_order_segments, 2);
    // The missing first segment completed everything: all three pieces carry its frame number.
    assert_eq!(rec.data_frames[&(0, 0)], [6, 6, 6]);
}

#[test]
fn retransmission_delivered_once() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"12345"));
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"12345"));
    p.push(c2s(40000, 443, 1006, 5001, ACK, b"678"));
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"12345678")); // repacketised retransmission
    p.push(c2s(40000, 443, 1009, 5001, ACK, b"9"));
    p.push(c2s(40000, 443, 1009, 5001, ACK, b"9"));
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(rec.stream(0, CS), b"123456789");
    assert_eq!(stats.tcp_retransmitted_segments, 3);
}

#[test]
fn overlap_keeps_first_seen_bytes() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"aaaaaaaaaa")); // 1001..1011
    p.push(c2s(40000, 443, 1006, 5001, ACK, b"XXXXXXXXXXbbbbb")); // 1006..1021, overlaps 1006..1011
    // Out of order: buffered 1031..1036 first, then 1021..1041 arrives overlapping it.
    p.push(c2s(40000, 443, 1031, 5001, ACK, b"ddddd"));
    p.push(c2s(40000, 443, 1026, 5001, ACK, b"YYYYYYYYYYYYYYYeeeee")); // 1026..1046
    p.push(c2s(40000, 443, 1016, 5001, ACK, b"cccccccccc")); // 1016..1026, 1016..1021 already sent
    let (rec, _) = run_raw(Limits::default(), &p);
    let want = [
        &b"aaaaaaaaaa"[..],
        b"XXXXX",
        b"bbbbb",
        b"ccccc",
        b"YYYYY",
        b"ddddd",
        b"YYYYY",
        b"eeeee",
    ]
    .concat();
    assert_eq!(rec.stream(0, CS), &want[..]);
    assert!(rec.gaps.is_empty());
}

#[test]
fn in_order_segment_does_not_overwrite_buffered_bytes() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1006, 5001, ACK, b"first"));
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"0123456789"));
    let (rec, _) = run_raw(Limits::default(), &p);
    assert_eq!(rec.stream(0, CS), b"01234first");
}

#[test]
fn missing_segment_gap_at_fin() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"AAAA"));
    // 1005..1105 never captured.
    p.push(c2s(40000, 443, 1105, 5001, ACK, b"CCCC"));
    p.push(c2s(40000, 443, 1109, 5001, FIN | ACK, b""));
    p.push(s2c(40000, 443, 5001, 1110, FIN | ACK, b""));
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(
        rec.pieces[&(0, 0)],
        [Ok(b"AAAA".to_vec()), Err(100), Ok(b"CCCC".to_vec())]
    );
    assert_eq!(rec.gaps, [(0, CS, 100)]);
    let s = &rec.ended[&(Transport::Tcp, 0)];
    assert_eq!((s.gaps, s.gap_bytes), (1, 100));
    assert_eq!((stats.tcp_gaps, stats.tcp_gap_bytes), (1, 100));
    // The flow ended at the FINs, not at finish().
    assert_eq!(rec.ended[&(Transport::Tcp, 0)].last_frame, 7);
}

#[test]
fn missing_segment_gap_at_buffer_limit() {
    let limits = Limits {
        max_ooo_segments_per_direction: 3,
        ..Limits::default()
    };
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"A"));
    // 1002 missing; then five segments pile up behind the hole.
    for i in 0..5u32 {
        p.push(c2s(40000, 443, 1003 + i, 5001, ACK, &[b'0' + i as u8]));
    }
    let mut dec = Decoder::new(limits);
    let mut rec = Rec::default();
    for (i, pkt) in p.iter().enumerate() {
        dec.push(RAW, pkt, &meta(i as u64 + 1, 0), &mut rec)
            .unwrap();
    }
    // The 4th buffered segment overflowed the buffer: the gap was declared and data flowed on
    // before finish().
    assert_eq!(rec.stream(0, CS), b"A01234");
    assert_eq!(rec.gaps, [(0, CS, 1)]);
    assert_eq!(dec.stats().tcp_buffer_overflows, 1);
    assert_eq!(dec.buffered_bytes(), 0);
    dec.finish(&mut rec);
    rec.check_balanced();
}

#[test]
fn byte_limit_and_global_limit() {
    let limits = Limits {
        max_ooo_bytes_per_direction: 100,
        max_ooo_bytes_total: 150,
        ..Limits::default()
    };
    let mut p = handshake();
    // Hole at 1001, then 60 + 60 bytes: the second overflows the per-direction limit.
    p.push(c2s(40000, 443, 1011, 5001, ACK, &[b'x'; 60]));
    p.push(c2s(40000, 443, 1071, 5001, ACK, &[b'y'; 60]));
    let (rec, stats) = run_raw(limits, &p);
    assert_eq!(rec.gaps, [(0, CS, 10)]);
    assert_eq!(rec.stream(0, CS).len(), 120);
    assert_eq!(stats.tcp_buffer_overflows, 1);
}

#[test]
fn gap_at_finish_without_fin() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"AB"));
    p.push(c2s(40000, 443, 1010, 5001, ACK, b"Z"));
    let (rec, _) = run_raw(Limits::default(), &p);
    assert_eq!(
        rec.pieces[&(0, 0)],
        [Ok(b"AB".to_vec()), Err(7), Ok(b"Z".to_vec())]
    );
}

#[test]
fn unseen_data_before_fin_is_a_gap() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"AB"));
    // FIN at 1020: 1003..1020 never seen.
    p.push(c2s(40000, 443, 1020, 5001, FIN | ACK, b""));
    p.push(s2c(40000, 443, 5001, 1021, FIN | ACK, b""));
    let (rec, _) = run_raw(Limits::default(), &p);
    assert_eq!(rec.gaps, [(0, CS, 17)]);
}

#[test]
fn rst_ends_flow() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"A"));
    p.push(c2s(40000, 443, 1005, 5001, ACK, b"E"));
    p.push(s2c(40000, 443, 5001, 0, RST, b""));
    p.push(c2s(40000, 443, 1006, 5001, ACK, b"late"));
    let mut dec = Decoder::new(Limits::default());
    let mut rec = Rec::default();
    for (i, pkt) in p.iter().enumerate() {
        dec.push(RAW, pkt, &meta(i as u64 + 1, 0), &mut rec)
            .unwrap();
    }
    assert_eq!(rec.ended.len(), 1);
    assert_eq!(
        rec.pieces[&(0, 0)],
        [Ok(b"A".to_vec()), Err(3), Ok(b"E".to_vec())]
    );
    assert_eq!(
        rec.count(Transport::Tcp),
        1,
        "late packet after RST is not a new flow"
    );
    assert_eq!(dec.buffered_bytes(), 0);
    dec.finish(&mut rec);
    rec.check_balanced();
}

#[test]
fn mid_stream_pickup_and_server_by_port() {
    // No handshake; the first packet seen is from the server (443) to the client.
    let p = vec![
        s2c(51000, 443, 7000, 3000, ACK, b"resp1"),
        c2s(51000, 443, 3000, 7005, ACK, b"req2"),
        s2c(51000, 443, 7005, 3004, ACK, b"resp2"),
    ];
    let (rec, _) = run_raw(Limits::default(), &p);
    let key = &rec.keys[&(Transport::Tcp, 0)];
    assert_eq!(key.server.port(), 443);
    assert_eq!(key.client.port(), 51000);
    assert_eq!(rec.stream(0, SC), b"resp1resp2");
    assert_eq!(rec.stream(0, CS), b"req2");
    assert!(!rec.ended[&(Transport::Tcp, 0)].saw_syn);
}

#[test]
fn mid_stream_unknown_ports_first_sender_is_client() {
    let p = vec![
        s2c(51000, 40001, 7000, 3000, ACK, b"x"),
        c2s(51000, 40001, 3000, 7001, ACK, b"y"),
    ];
    let (rec, _) = run_raw(Limits::default(), &p);
    let key = &rec.keys[&(Transport::Tcp, 0)];
    assert_eq!(key.client.to_string(), "93.184.216.34:40001");
    assert_eq!(rec.stream(0, CS), b"x");
}

#[test]
fn listed_high_port_is_server() {
    let p = vec![s2c(50000, 5228, 7000, 3000, ACK, b"x")];
    let (rec, _) = run_raw(Limits::default(), &p);
    assert_eq!(rec.keys[&(Transport::Tcp, 0)].server.port(), 5228);
}

#[test]
fn syn_ack_sender_is_server() {
    // Capture starts at the SYN+ACK from a high port.
    let p = vec![
        s2c(80, 45000, 9000, 101, SYN | ACK, b""),
        c2s(80, 45000, 101, 9001, ACK, b"GET"),
    ];
    let (rec, _) = run_raw(Limits::default(), &p);
    let key = &rec.keys[&(Transport::Tcp, 0)];
    assert_eq!(key.server.port(), 45000);
    assert_eq!(rec.stream(0, CS), b"GET");
}

#[test]
fn syn_payload_delivered() {
    let p = vec![
        c2s(40000, 443, 1000, 0, SYN, b"TFO"),
        c2s(40000, 443, 1004, 0, ACK, b"more"),
    ];
    let (rec, _) = run_raw(Limits::default(), &p);
    assert_eq!(rec.stream(0, CS), b"TFOmore");
}

#[test]
fn seq_wraparound() {
    let isn = 0xFFFF_FFF8u32;
    let p = vec![
        c2s(40000, 443, isn, 0, SYN, b""),
        s2c(40000, 443, 77, isn.wrapping_add(1), SYN | ACK, b""),
        c2s(40000, 443, isn.wrapping_add(1), 78, ACK, b"0123"), // ..0xFFFFFFFD
        c2s(40000, 443, 5, 78, ACK, b"CDEF"),                   // after the wrap, out of order
        c2s(40000, 443, isn.wrapping_add(5), 78, ACK, b"456789AB"), // crosses 2^32
        c2s(40000, 443, 1, 78, ACK, b"89AB"),                   // retransmission after wrap
    ];
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(rec.stream(0, CS), b"0123456789ABCDEF");
    assert!(rec.gaps.is_empty());
    assert_eq!(stats.tcp_retransmitted_segments, 1);
}

#[test]
fn truncated_segment_delivers_prefix_and_gap() {
    let mut p = handshake();
    let full = c2s(40000, 443, 1001, 5001, ACK, b"0123456789");
    p.push(full[..full.len() - 4].to_vec()); // caplen < len: last 4 bytes not captured
    p.push(c2s(40000, 443, 1011, 5001, ACK, b"next"));
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(
        rec.pieces[&(0, 0)],
        [Ok(b"012345".to_vec()), Err(4), Ok(b"next".to_vec())]
    );
    assert_eq!(stats.truncated, 1);
}

#[test]
fn port_reuse_new_syn_new_flow() {
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"one"));
    p.push(c2s(40000, 443, 1004, 5001, FIN | ACK, b""));
    p.push(s2c(40000, 443, 5001, 1005, FIN | ACK, b""));
    p.push(c2s(40000, 443, 1005, 5002, ACK, b""));
    p.push(c2s(40000, 443, 1000, 0, SYN, b"")); // retransmitted old SYN: same ISN, same flow
    p.push(c2s(40000, 443, 9000, 0, SYN, b"")); // new ISN: new flow
    p.push(s2c(40000, 443, 3000, 9001, SYN | ACK, b""));
    p.push(c2s(40000, 443, 9001, 3001, ACK, b"two"));
    // Another new connection while the previous is still open (tshark splits here too).
    p.push(c2s(40000, 443, 20000, 0, SYN, b""));
    p.push(c2s(40000, 443, 20001, 0, ACK, b"three"));
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(rec.count(Transport::Tcp), 3);
    assert_eq!(rec.stream(0, CS), b"one");
    assert_eq!(rec.stream(1, CS), b"two");
    assert_eq!(rec.stream(2, CS), b"three");
    assert_eq!(stats.tcp_port_reuse, 2);
    assert_eq!(
        rec.log,
        [
            "start Tcp 0",
            "end Tcp 0",
            "start Tcp 1",
            "end Tcp 1",
            "start Tcp 2",
            "end Tcp 2"
        ]
    );
}

#[test]
fn udp_flows_and_server_side() {
    let dns_q = ipv4(C4, S4, 17, &udp_hdr(53000, 53, b"query"), None);
    let dns_r = ipv4(S4, C4, 17, &udp_hdr(53, 53000, b"answer"), None);
    let dhcp = ipv4(
        [0, 0, 0, 0],
        [255, 255, 255, 255],
        17,
        &udp_hdr(68, 67, b"discover"),
        None,
    );
    let dhcp_offer = ipv4(
        S4,
        [255, 255, 255, 255],
        17,
        &udp_hdr(67, 68, b"offer"),
        None,
    );
    // Unknown ports: the first packet's destination is the server.
    let p2p = ipv4(S4, C4, 17, &udp_hdr(40000, 41000, b"x"), None);
    let quic = ipv6(C6, S6, 17, &udp_hdr(50000, 443, b"initial"));
    let (rec, stats) = run_raw(
        Limits::default(),
        &[dns_r.clone(), dns_q, dns_r, dhcp, dhcp_offer, p2p, quic],
    );
    assert_eq!(rec.count(Transport::Udp), 5);
    assert_eq!(
        rec.keys[&(Transport::Udp, 0)].server.to_string(),
        "93.184.216.34:53"
    );
    assert_eq!(rec.keys[&(Transport::Udp, 1)].server.port(), 67);
    assert_eq!(rec.keys[&(Transport::Udp, 2)].server.port(), 67);
    assert_eq!(
        rec.keys[&(Transport::Udp, 3)].server.to_string(),
        "10.0.0.1:41000"
    );
    assert_eq!(
        rec.keys[&(Transport::Udp, 4)].server.to_string(),
        "[2001:db8::2]:443"
    );
    let d: Vec<_> = rec
        .datagrams
        .iter()
        .filter(|d| d.0 == 0)
        .map(|d| (d.1, d.2.clone()))
        .collect();
    assert_eq!(
        d,
        [
            (SC, b"answer".to_vec()),
            (CS, b"query".to_vec()),
            (SC, b"answer".to_vec())
        ]
    );
    assert_eq!(rec.ended[&(Transport::Udp, 0)].packets, [1, 2]);
    assert_eq!(stats.udp_packets, 7);
}

#[test]
fn ipv4_fragments_out_of_order_and_overlapping() {
    let payload: Vec<u8> = (0..100u8).collect();
    let udp = udp_hdr(5000, 53, &payload); // 108 bytes
    let f = |off: usize, end: usize, mf: bool| {
        ipv4(C4, S4, 17, &udp[off..end], Some((7, off as u16, mf)))
    };
    let mut over = udp[16..40].to_vec();
    over.iter_mut().for_each(|b| *b = 0xEE); // overlapping bytes arriving later must lose
    let p = vec![
        f(96, 108, false),
        f(40, 96, true),
        ipv4(C4, S4, 17, &over, Some((7, 16, true))),
        f(0, 48, true), // overlaps the fragment at 40
    ];
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(stats.fragments, 4);
    assert_eq!(stats.reassembled_datagrams, 1);
    assert_eq!(rec.datagrams.len(), 1);
    let got = &rec.datagrams[0].2;
    // 0..16 and 40..100 are the original bytes; 16..40 of the UDP datagram came first as 0xEE.
    assert_eq!(&got[..8], &payload[..8]);
    assert!(got[8..32].iter().all(|&b| b == 0xEE));
    assert_eq!(&got[32..], &payload[32..]);
}

#[test]
fn ipv4_fragment_limits() {
    // Too many datagrams in progress: the oldest are dropped; nothing panics or leaks.
    let limits = Limits {
        max_fragment_sets: 4,
        ..Limits::default()
    };
    let mut p = Vec::new();
    for id in 0..20u16 {
        p.push(ipv4(C4, S4, 17, &[0u8; 16], Some((id, 0, true))));
    }
    // A complete datagram still reassembles afterwards.
    let udp = udp_hdr(5000, 53, b"0123456789abcdef");
    p.push(ipv4(C4, S4, 17, &udp[..16], Some((999, 0, true))));
    p.push(ipv4(C4, S4, 17, &udp[16..], Some((999, 16, false))));
    // Larger than max_fragment_bytes: dropped.
    p.push(ipv4(C4, S4, 17, &[0u8; 8], Some((1000, 65528, false))));
    // Two different last fragments: dropped.
    p.push(ipv4(C4, S4, 17, &[0u8; 16], Some((1001, 16, false))));
    p.push(ipv4(C4, S4, 17, &[0u8; 8], Some((1001, 24, false))));
    let (rec, stats) = run_raw(limits, &p);
    assert_eq!(rec.datagrams.len(), 1);
    assert_eq!(rec.datagrams[0].2, b"0123456789abcdef");
    assert!(stats.fragments_dropped >= 16 + 2, "{stats:?}");
}

#[test]
fn too_many_fragments_per_datagram() {
    let limits = Limits {
        max_fragments_per_datagram: 8,
        ..Limits::default()
    };
    let p: Vec<Vec<u8>> = (0..20u16)
        .map(|i| ipv4(C4, S4, 17, &[1u8; 8], Some((5, i * 8, true))))
        .collect();
    let (rec, stats) = run_raw(limits, &p);
    assert!(rec.datagrams.is_empty());
    assert!(stats.fragments_dropped >= 1);
}

#[test]
fn fragment_timeout() {
    let mut dec = Decoder::new(Limits::default());
    let mut rec = Rec::default();
    let udp = udp_hdr(5000, 53, b"0123456789abcdef");
    let s = 1_000_000_000i64;
    dec.push(
        RAW,
        &ipv4(C4, S4, 17, &udp[..16], Some((1, 0, true))),
        &meta(1, 0),
        &mut rec,
    )
    .unwrap();
    // 60 s later the first half is gone: the second half alone completes nothing.
    dec.push(
        RAW,
        &ipv4(C4, S4, 17, &udp[16..], Some((1, 16, false))),
        &meta(3, 60 * s),
        &mut rec,
    )
    .unwrap();
    dec.finish(&mut rec);
    assert!(rec.datagrams.is_empty());
    assert_eq!(dec.stats().fragments_dropped, 2);
}

#[test]
fn ipv6_fragments_and_extension_headers() {
    // TCP SYN with data, carried in two IPv6 fragments after a hop-by-hop header, out of order;
    // the fragmentable part starts with a destination-options header.
    let tcp = tcp_hdr(40000, 443, 1000, 0, SYN, &[b'z'; 40]); // 60 bytes
    let mut fragmentable = vec![6, 0, 1, 4, 0, 0, 0, 0]; // dest options (PadN), next = TCP
    fragmentable.extend_from_slice(&tcp); // 68 bytes
    let hbh = |next: u8| vec![next, 0, 1, 4, 0, 0, 0, 0];
    let frag = |off: usize, end: usize, more: bool| {
        let mut pl = hbh(44);
        pl.extend_from_slice(&v6_frag(
            60,
            off as u16,
            more,
            0xdead_beef,
            &fragmentable[off..end],
        ));
        ipv6(C6, S6, 0, &pl)
    };
    let p = vec![frag(32, 68, false), frag(0, 32, true), frag(0, 32, true)];
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(stats.reassembled_datagrams, 1);
    assert_eq!(stats.fragments, 3);
    assert_eq!(rec.count(Transport::Tcp), 1);
    assert_eq!(
        rec.keys[&(Transport::Tcp, 0)].server.to_string(),
        "[2001:db8::2]:443"
    );
    assert_eq!(rec.stream(0, CS), &[b'z'; 40][..]);
}

#[test]
fn ipv6_atomic_fragment_and_udp() {
    let udp = udp_hdr(5353, 5353, b"mdns");
    let p = vec![ipv6(C6, S6, 44, &v6_frag(17, 0, false, 1, &udp))];
    let (rec, stats) = run_raw(Limits::default(), &p);
    assert_eq!(rec.datagrams.len(), 1);
    assert_eq!(rec.datagrams[0].2, b"mdns");
    assert_eq!(stats.fragments, 0);
}

/// The same TCP payload behind different link layers.
#[test]
fn link_layers() {
    let ip4 = c2s(40000, 80, 1, 0, ACK, b"GET");
    let ip6 = ipv6(C6, S6, 6, &tcp_hdr(40001, 80, 1, 0, ACK, b"GET"));
    let mut cases: Vec<(u32, Vec<u8>)> = vec![
        (1, eth(0x0800, &ip4)),
        (1, eth(0x86DD, &ip6)),
        (1, eth(0x8100, &[&[0, 5, 0x08, 0x00][..], &ip4].concat())),
        (
            1,
            eth(
                0x88A8,
                &[&[0, 5, 0x81, 0x00, 0, 6, 0x86, 0xDD][..], &ip6].concat(),
            ),
        ),
        (
            1,
            eth(
                60,
                &[&[0xAA, 0xAA, 3, 0, 0, 0, 0x08, 0x00][..], &ip4].concat(),
            ),
        ), // 802.3 + SNAP
        (1, eth(0x8847, &[&[0, 0, 0x11, 64][..], &ip4].concat())), // MPLS
        (
            1,
            eth(
                0x8864,
                &[&[0x11, 0, 0, 1, 0, 0, 0x00, 0x21][..], &ip4].concat(),
            ),
        ), // PPPoE
        (101, ip4.clone()),
        (12, ip6.clone()),
        (14, ip4.clone()),
        (228, ip4.clone()),
        (229, ip6.clone()),
    ];
    let sll = |proto: u16, ip: &[u8]| {
        [
            &[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0][..],
            &proto.to_be_bytes(),
            ip,
        ]
        .concat()
    };
    cases.push((113, sll(0x0800, &ip4)));
    cases.push((113, sll(0x86DD, &ip6)));
    let sll2 = |proto: u16, ip: &[u8]| {
        [
            &proto.to_be_bytes()[..],
            &[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0],
            ip,
        ]
        .concat()
    };
    cases.push((276, sll2(0x0800, &ip4)));
    cases.push((276, sll2(0x86DD, &ip6)));
    for lt in [0u32, 108] {
        cases.push((lt, [&2u32.to_le_bytes()[..], &ip4].concat()));
        cases.push((lt, [&2u32.to_be_bytes()[..], &ip4].concat()));
        for af in [24u32, 28, 30] {
            cases.push((lt, [&af.to_le_bytes()[..], &ip6].concat()));
            cases.push((lt, [&af.to_be_bytes()[..], &ip6].concat()));
        }
    }
    for (i, (lt, frame)) in cases.iter().enumerate() {
        let mut dec = Decoder::new(Limits::default());
        let mut rec = Rec::default();
        dec.push(*lt, frame, &meta(1, 0), &mut rec)
            .unwrap_or_else(|e| panic!("case {i} (linktype {lt}): {e}"));
        dec.finish(&mut rec);
        assert_eq!(rec.stream(0, CS), b"GET", "case {i} (linktype {lt})");
        assert_eq!(rec.keys[&(Transport::Tcp, 0)].server.port(), 80);
    }
}

#[test]
fn non_ip_and_unsupported() {
    let mut dec = Decoder::new(Limits::default());
    let mut rec = Rec::default();
    let arp = eth(0x0806, &[0u8; 28]);
    dec.push(1, &arp, &meta(1, 0), &mut rec).unwrap();
    dec.push(0, &[99, 0, 0, 0, 0x45], &meta(2, 0), &mut rec)
        .unwrap(); // unknown AF
    let e = dec
        .push(147, &[0u8; 40], &meta(3, 0), &mut rec)
        .unwrap_err();
    assert_eq!(e, NetError::UnsupportedLinkType { linktype: 147 });
    let icmp = ipv4(C4, S4, 1, &[8, 0, 0, 0], None);
    dec.push(RAW, &icmp, &meta(4, 0), &mut rec).unwrap();
    let s = dec.stats();
    assert_eq!(
        (
            s.non_ip,
            s.unsupported_linktype,
            s.decode_errors,
            s.other_ip
        ),
        (2, 1, 1, 1)
    );
    dec.finish(&mut rec);
    assert!(rec.keys.is_empty());
}

#[test]
fn idle_eviction() {
    let s = 1_000_000_000i64;
    let limits = Limits {
        idle_timeout_ns: 60 * s,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let mut rec = Rec::default();
    let q = ipv4(C4, S4, 17, &udp_hdr(53000, 53, b"q"), None);
    let mut p = handshake();
    p.push(c2s(40000, 443, 1001, 5001, ACK, b"A"));
    p.push(c2s(40000, 443, 1003, 5001, ACK, b"C")); // hole at 1002
    for (i, pkt) in p.iter().enumerate() {
        dec.push(RAW, pkt, &meta(i as u64 + 1, i as i64 * s), &mut rec)
            .unwrap();
    }
    dec.push(RAW, &q, &meta(10, 10 * s), &mut rec).unwrap();
    assert!(rec.ended.is_empty());
    // An undecodable packet much later changes nothing.
    dec.push(RAW, &q[..10], &meta(11, 500 * s), &mut rec)
        .unwrap_err();
    assert!(rec.ended.is_empty());
    // 2 minutes later: the UDP flow is idle, so the packet starts a new one; the idle TCP flow
    // is swept right after.
    dec.push(RAW, &q, &meta(12, 130 * s), &mut rec).unwrap();
    let want = [
        "start Tcp 0",
        "start Udp 0",
        "end Udp 0",
        "start Udp 1",
        "end Tcp 0",
    ];
    assert_eq!(rec.log, want);
    assert_eq!(
        rec.pieces[&(0, 0)],
        [Ok(b"A".to_vec()), Err(1), Ok(b"C".to_vec())]
    );
    assert_eq!(dec.stats().flows_evicted_idle, 2);
    assert_eq!(dec.buffered_bytes(), 0);
    dec.finish(&mut rec);
    rec.check_balanced();
}

#[test]
fn capacity_eviction() {
    let limits = Limits {
        max_flows: 32,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let mut rec = Rec::default();
    for i in 0..1000u16 {
        let pkt = ipv4(C4, S4, 17, &udp_hdr(20000 + i, 53, b"q"), None);
        dec.push(RAW, &pkt, &meta(u64::from(i) + 1, i64::from(i)), &mut rec)
            .unwrap();
        assert!(dec.tracked_flows() <= 32);
    }
    assert!(dec.stats().flows_evicted_capacity > 900);
    // The oldest went first.
    assert_eq!(
        rec.log[..3],
        [
            "start Udp 0".to_string(),
            "start Udp 1".into(),
            "start Udp 2".into()
        ]
    );
    let first_end = rec.log.iter().position(|l| l.starts_with("end")).unwrap();
    assert_eq!(rec.log[first_end], "end Udp 0");
    dec.finish(&mut rec);
    rec.check_balanced();
    assert_eq!(rec.count(Transport::Udp), 1000);
}

#[test]
fn finish_order_and_reuse_after_finish() {
    let p = [
        ipv4(C4, S4, 17, &udp_hdr(1111, 53, b"a"), None),
        c2s(40000, 443, 1000, 0, SYN, b""),
        ipv4(C4, S4, 17, &udp_hdr(2222, 53, b"b"), None),
        c2s(40001, 443, 1000, 0, SYN, b""),
    ];
    let (rec, _) = run_raw(Limits::default(), &p);
    assert_eq!(
        rec.log,
        [
            "start Udp 0",
            "start Tcp 0",
            "start Udp 1",
            "start Tcp 1",
            "end Udp 0",
            "end Tcp 0",
            "end Udp 1",
            "end Tcp 1"
        ]
    );
}

#[test]
fn app_metadata_passed_through() {
    let mut dec = Decoder::new(Limits::default());
    let mut rec = AppRec::default();
    let m = pc_net::PacketMeta {
        frame: 1,
        ts: 0,
        app: Some("com.example".into()),
    };
    dec.push(RAW, &c2s(40000, 443, 1000, 0, SYN, b""), &m, &mut rec)
        .unwrap();
    dec.finish(&mut rec);
    assert_eq!(rec.0, ["start com.example"]);
}

#[derive(Default)]
struct AppRec(Vec<String>);
impl pc_net::FlowSink for AppRec {
    fn flow_start(&mut self, _: u64, _: &pc_net::FlowKey, meta: &pc_net::PacketMeta) {
        self.0
            .push(format!("start {}", meta.app.as_deref().unwrap_or("-")));
    }
    fn stream_data(&mut self, _: u64, _: Direction, _: &[u8], _: &pc_net::PacketMeta) {}
    fn stream_gap(&mut self, _: u64, _: Direction, _: u64, _: &pc_net::PacketMeta) {}
    fn datagram(&mut self, _: u64, _: Direction, _: &[u8], _: &pc_net::PacketMeta) {}
    fn flow_end(&mut self, _: u64, _: &pc_net::FlowKey, _: &pc_net::FlowStats) {}
}
