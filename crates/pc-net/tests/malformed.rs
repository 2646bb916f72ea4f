//! Hostile input: truncation at every length, absurd length fields, garbage. Never a panic; an
//! error never changes the flow table.

mod common;

use common::*;
use pc_net::{Decoder, Limits, NetError};

const LINKTYPES: &[u32] = &[0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

fn sample_frames() -> Vec<(u32, Vec<u8>)> {
    let tcp4 = c2s(40000, 443, 1, 2, ACK | PSH, b"payload bytes");
    let tcp6 = ipv6(
        C6,
        S6,
        0,
        &[
            &[6, 0, 1, 4, 0, 0, 0, 0][..],
            &tcp_hdr(1, 2, 3, 4, SYN, b"x"),
        ]
        .concat(),
    );
    let udp4 = ipv4(C4, S4, 17, &udp_hdr(53000, 53, b"dns"), None);
    let frag6 = ipv6(
        C6,
        S6,
        44,
        &v6_frag(17, 0, true, 9, &udp_hdr(1, 2, &[0; 16])),
    );
    let frag4 = ipv4(C4, S4, 6, &[0u8; 24], Some((3, 8, true)));
    vec![
        (1, eth(0x0800, &tcp4)),
        (1, eth(0x8100, &[&[0, 1, 0x86, 0xDD][..], &tcp6].concat())),
        (113, [&[0u8; 14][..], &[0x08, 0x00], &udp4].concat()),
        (276, [&[0x86, 0xDD][..], &[0u8; 18], &frag6].concat()),
        (0, [&2u32.to_le_bytes()[..], &frag4].concat()),
        (101, tcp4),
    ]
}

#[test]
fn truncated_at_every_length() {
    for (lt, frame) in sample_frames() {
        for len in 0..=frame.len() {
            let mut dec = Decoder::new(Limits::default());
            let mut rec = Rec::default();
            let r = dec.push(lt, &frame[..len], &meta(1, 0), &mut rec);
            if let Err(e) = &r {
                assert!(rec.keys.is_empty(), "error {e} but a flow was started");
                assert!(e.at() <= len as u64, "{e} beyond the {len} bytes given");
                assert_eq!(dec.tracked_flows(), 0);
            }
            dec.finish(&mut rec);
            rec.check_balanced();
        }
    }
}

#[test]
fn huge_length_fields() {
    let mut dec = Decoder::new(Limits::default());
    let mut rec = Rec::default();
    let mut push = |lt: u32, f: &[u8]| dec.push(lt, f, &meta(1, 0), &mut rec);
    // IHL 15 (60 bytes) in a 24-byte packet.
    let mut p = c2s(1, 2, 3, 4, ACK, b"");
    p[0] = 0x4f;
    assert!(matches!(
        push(RAW, &p[..24]),
        Err(NetError::Truncated { .. })
    ));
    // IHL below 5.
    p[0] = 0x43;
    assert!(matches!(
        push(RAW, &p),
        Err(NetError::Malformed { at: 0, .. })
    ));
    // Total length 65535 with 40 bytes captured: decodes what is there.
    let mut p = c2s(1, 2, 3, 4, ACK, b"abc");
    p[2..4].copy_from_slice(&[0xff, 0xff]);
    assert!(push(RAW, &p).is_ok());
    // Total length shorter than the header.
    p[2..4].copy_from_slice(&[0, 10]);
    assert!(matches!(
        push(RAW, &p),
        Err(NetError::Malformed { at: 2, .. })
    ));
    // TCP data offset 15 with no options present.
    let mut p = c2s(1, 2, 3, 4, ACK, b"");
    p[32] = 0xf0;
    assert!(push(RAW, &p).is_err());
    // TCP data offset below 5.
    p[32] = 0x20;
    assert!(matches!(
        push(RAW, &p),
        Err(NetError::Malformed { at: 32, .. })
    ));
    // UDP length 65535 and 3.
    let mut u = ipv4(C4, S4, 17, &udp_hdr(1, 2, b"x"), None);
    u[24..26].copy_from_slice(&[0xff, 0xff]);
    assert!(push(RAW, &u).is_ok());
    u[24..26].copy_from_slice(&[0, 3]);
    assert!(matches!(
        push(RAW, &u),
        Err(NetError::Malformed { at: 24, .. })
    ));
    // IPv6 extension header claiming 2 KiB.
    let v6 = ipv6(C6, S6, 0, &[6, 255, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(push(RAW, &v6), Err(NetError::Truncated { .. })));
    // Endless extension header chain.
    let chain: Vec<u8> = (0..40).flat_map(|_| [60u8, 0, 1, 4, 0, 0, 0, 0]).collect();
    assert!(matches!(
        push(RAW, &ipv6(C6, S6, 60, &chain)),
        Err(NetError::Malformed { .. })
    ));
    // Endless VLAN tags / MPLS labels.
    let vlans: Vec<u8> = (0..40).flat_map(|_| [0u8, 1, 0x81, 0x00]).collect();
    assert!(matches!(
        push(1, &eth(0x8100, &vlans)),
        Err(NetError::Malformed { .. })
    ));
    let labels = vec![0u8; 200];
    assert!(matches!(
        push(1, &eth(0x8847, &labels)),
        Err(NetError::Malformed { .. })
    ));
    // Fragment offset at the very end of the range.
    assert!(push(RAW, &ipv4(C4, S4, 17, &[0; 64], Some((1, 65528, true)))).is_ok());
    // Wrong IP version behind an IPv4 ethertype.
    let p6 = ipv6(C6, S6, 59, &[]);
    assert!(matches!(
        push(1, &eth(0x0800, &p6)),
        Err(NetError::Malformed { at: 14, .. })
    ));
    assert!(matches!(
        push(RAW, &[0x50; 30]),
        Err(NetError::Malformed { at: 0, .. })
    ));
    assert!(push(228, &p6).is_err());
    dec.finish(&mut rec);
    rec.check_balanced();
}

/// xorshift64*: deterministic pseudo-random bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn garbage_and_mutations_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let limits = Limits {
        max_flows: 64,
        max_ooo_segments_per_direction: 8,
        max_fragment_sets: 8,
        idle_timeout_ns: 5_000,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let mut rec = Rec::default();
    let samples = sample_frames();
    for i in 0..60_000u64 {
        let ts = (i as i64) * 100 - (rng.below(1000) as i64) * 50; // wobbly clock
        if i % 2 == 0 {
            let len = rng.below(120) as usize;
            let mut f: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Make it look like IP often enough to reach the deeper layers.
            if let Some(b) = f.first_mut() {
                *b = if rng.below(2) == 0 { 0x45 } else { 0x60 };
            }
            let lt = LINKTYPES[rng.below(LINKTYPES.len() as u64) as usize];
            let _ = dec.push(if lt == 1 { RAW } else { lt }, &f, &meta(i, ts), &mut rec);
        } else {
            let (lt, mut f) = samples[rng.below(samples.len() as u64) as usize].clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(f.len() as u64) as usize;
                f[at] = rng.next() as u8;
            }
            let cut = f.len() - rng.below(8).min(f.len() as u64) as usize;
            let _ = dec.push(lt, &f[..cut], &meta(i, ts), &mut rec);
        }
        assert!(dec.tracked_flows() <= 64);
    }
    dec.finish(&mut rec);
    rec.check_balanced();
    assert_eq!(dec.buffered_bytes(), 0);
    // The input reached every layer.
    let s = dec.stats();
    assert!(
        s.decode_errors > 1000 && s.tcp_flows > 100 && s.udp_flows > 100 && s.fragments > 100,
        "{s:?}"
    );
    assert!(s.flows_evicted > 0);
}

#[test]
fn random_tcp_segments_stay_bounded() {
    // Random sequence numbers, flags and lengths on a few 4-tuples: the reassembler must neither
    // panic nor exceed its buffer limits, and every flow ends exactly once.
    let mut rng = Rng(42);
    let limits = Limits {
        max_ooo_bytes_per_direction: 4096,
        max_ooo_segments_per_direction: 16,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let mut rec = Rec::default();
    let base = rng.next() as u32;
    for i in 0..20_000u64 {
        let port = 40000 + rng.below(4) as u16;
        let seq = base.wrapping_add(rng.below(20_000) as u32);
        let flags = match rng.below(400) {
            0 => RST,
            1 | 2 => FIN | ACK,
            3 | 4 => SYN,
            5 => SYN | ACK,
            _ => ACK,
        };
        let payload = vec![b'a'; rng.below(300) as usize];
        let p = if rng.below(2) == 0 {
            c2s(port, 443, seq, 0, flags, &payload)
        } else {
            s2c(port, 443, seq, 0, flags, &payload)
        };
        dec.push(RAW, &p, &meta(i + 1, i as i64), &mut rec).unwrap();
        assert!(dec.buffered_bytes() <= 8 * (4096 + 300));
    }
    dec.finish(&mut rec);
    rec.check_balanced();
    assert_eq!(dec.buffered_bytes(), 0);
    let s = dec.stats();
    assert!(
        s.tcp_buffer_overflows > 0 && s.tcp_port_reuse > 0 && s.tcp_out_of_order_segments > 0,
        "{s:?}"
    );
}
