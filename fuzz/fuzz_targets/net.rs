#![no_main]
//! The input is a sequence of pseudo-packets: 1 byte link type selector, 2 bytes length (big
//! endian), 1 byte timestamp step, then the frame. All are pushed into one decoder with small
//! limits (so eviction paths run), then finish(). The sink checks the call protocol.
use libfuzzer_sys::fuzz_target;
use pc_net::{
    Decoder, Direction, FlowId, FlowKey, FlowSink, FlowStats, Limits, PacketMeta, Transport,
};
use std::collections::BTreeSet;

const LINKTYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

#[derive(Default)]
struct Check(BTreeSet<(Transport, FlowId)>);

impl FlowSink for Check {
    fn flow_start(&mut self, id: FlowId, key: &FlowKey, _: &PacketMeta) {
        assert!(self.0.insert((key.transport, id)));
    }
    fn stream_data(&mut self, id: FlowId, _: Direction, data: &[u8], _: &PacketMeta) {
        assert!(self.0.contains(&(Transport::Tcp, id)) && !data.is_empty());
    }
    fn stream_gap(&mut self, id: FlowId, _: Direction, missing: u64, _: &PacketMeta) {
        assert!(self.0.contains(&(Transport::Tcp, id)) && missing > 0);
    }
    fn datagram(&mut self, id: FlowId, _: Direction, _: &[u8], _: &PacketMeta) {
        assert!(self.0.contains(&(Transport::Udp, id)));
    }
    fn flow_end(&mut self, id: FlowId, key: &FlowKey, _: &FlowStats) {
        assert!(self.0.remove(&(key.transport, id)));
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_flows: 16,
        max_ooo_bytes_per_direction: 2048,
        max_ooo_segments_per_direction: 8,
        max_ooo_bytes_total: 8192,
        idle_timeout_ns: 1000,
        max_fragment_sets: 4,
        max_fragments_per_datagram: 16,
        fragment_timeout_ns: 500,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let mut sink = Check::default();
    let (mut rest, mut frame, mut ts) = (data, 0u64, 0i64);
    while let [sel, l0, l1, step, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (pkt, next) = tail.split_at(len);
        frame += 1;
        ts += i64::from(*step as i8) * 10;
        let meta = PacketMeta {
            frame,
            ts,
            app: None,
        };
        let _ = dec.push(
            LINKTYPES[usize::from(*sel) % LINKTYPES.len()],
            pkt,
            &meta,
            &mut sink,
        );
        rest = next;
    }
    dec.finish(&mut sink);
    assert!(sink.0.is_empty());
    assert_eq!(dec.buffered_bytes(), 0);
});
