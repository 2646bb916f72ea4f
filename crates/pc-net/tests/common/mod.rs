//! Test helpers: a tiny pcap / pcapng reader, a recording sink and packet builders.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use pc_net::{
    Decoder, DecoderStats, Direction, FlowId, FlowKey, FlowSink, FlowStats, Limits, PacketMeta,
    Transport,
};

pub fn fixture(rel: &str) -> String {
    format!("{}/../../tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// One captured frame.
pub struct Frame {
    pub linktype: u32,
    pub ts: i64,
    pub data: Vec<u8>,
}

/// Read a pcap or pcapng file (gzip-compressed if the name ends in .gz).
pub fn read_capture(path: &str) -> Vec<Frame> {
    let mut raw = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if path.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        raw = out;
    }
    if raw.len() >= 4 && raw[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        read_pcapng(&raw)
    } else {
        read_pcap(&raw)
    }
}

fn read_pcap(d: &[u8]) -> Vec<Frame> {
    let magic = u32::from_le_bytes(d[..4].try_into().unwrap());
    let (le, nanos) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        m => panic!("not a pcap: {m:x}"),
    };
    let u32at = |o: usize| {
        let b: [u8; 4] = d[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let linktype = u32at(20) & 0x0fff_ffff;
    let mut out = Vec::new();
    let mut o = 24;
    while o + 16 <= d.len() {
        let (sec, frac, cap) = (u32at(o), u32at(o + 4), u32at(o + 8) as usize);
        o += 16;
        let data = d[o..(o + cap).min(d.len())].to_vec();
        o += cap;
        let ts = i64::from(sec) * 1_000_000_000 + i64::from(frac) * if nanos { 1 } else { 1000 };
        out.push(Frame { linktype, ts, data });
    }
    out
}

fn read_pcapng(d: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut le = true;
    let mut ifaces: Vec<(u32, i64)> = Vec::new(); // (linktype, units per second)
    let mut o = 0;
    while o + 12 <= d.len() {
        let u32at = |p: usize, le: bool| {
            let b: [u8; 4] = d[p..p + 4].try_into().unwrap();
            if le {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        };
        if d[o..o + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            le = d[o + 8..o + 12] == [0x4d, 0x3c, 0x2b, 0x1a];
            ifaces.clear();
        }
        let btype = u32at(o, le);
        let blen = u32at(o + 4, le) as usize;
        assert!(blen >= 12 && o + blen <= d.len(), "bad pcapng block");
        let body = &d[o + 8..o + blen - 4];
        match btype {
            1 => {
                let lt = if le {
                    u16::from_le_bytes([body[0], body[1]])
                } else {
                    u16::from_be_bytes([body[0], body[1]])
                };
                let mut res = 1_000_000i64;
                let mut p = 8;
                while p + 4 <= body.len() {
                    let code = if le {
                        u16::from_le_bytes([body[p], body[p + 1]])
                    } else {
                        u16::from_be_bytes([body[p], body[p + 1]])
                    };
                    let len = if le {
                        u16::from_le_bytes([body[p + 2], body[p + 3]])
                    } else {
                        u16::from_be_bytes([body[p + 2], body[p + 3]])
                    } as usize;
                    if code == 0 {
                        break;
                    }
                    if code == 9 && len == 1 {
                        let v = body[p + 4];
                        res = if v & 0x80 != 0 {
                            1i64 << (v & 0x7f)
                        } else {
                            10i64.pow(u32::from(v))
                        };
                    }
                    p += 4 + len.div_ceil(4) * 4;
                }
                ifaces.push((u32::from(lt), res));
            }
            6 => {
                let iface = u32at(o + 8, le) as usize;
                let ts = (u64::from(u32at(o + 12, le)) << 32) | u64::from(u32at(o + 16, le));
                let cap = u32at(o + 20, le) as usize;
                let data = body[20..20 + cap].to_vec();
                let (lt, res) = ifaces[iface];
                let ts = (i128::from(ts) * 1_000_000_000 / i128::from(res)) as i64;
                out.push(Frame {
                    linktype: lt,
                    ts,
                    data,
                });
            }
            3 => {
                let (lt, _) = ifaces[0];
                let orig = u32at(o + 8, le) as usize;
                let data = body[4..(4 + orig).min(body.len())].to_vec();
                out.push(Frame {
                    linktype: lt,
                    ts: 0,
                    data,
                });
            }
            _ => {}
        }
        o += blen;
    }
    out
}

/// Delivered bytes, or the size of a gap.
pub type Piece = Result<Vec<u8>, u64>;

/// Records everything a decoder reports and checks the call protocol as it goes.
#[derive(Default)]
pub struct Rec {
    pub keys: BTreeMap<(Transport, FlowId), FlowKey>,
    pub ended: BTreeMap<(Transport, FlowId), FlowStats>,
    live: BTreeSet<(Transport, FlowId)>,
    /// TCP stream bytes per (flow, direction index).
    pub streams: BTreeMap<(FlowId, usize), Vec<u8>>,
    /// Stream pieces as delivered, with gaps as `Err(missing)`.
    pub pieces: BTreeMap<(FlowId, usize), Vec<Piece>>,
    pub gaps: Vec<(FlowId, Direction, u64)>,
    pub datagrams: Vec<(FlowId, Direction, Vec<u8>)>,
    /// Order of calls, compact.
    pub log: Vec<String>,
    /// Frames of the packets that completed data, per (flow, dir).
    pub data_frames: BTreeMap<(FlowId, usize), Vec<u64>>,
}

impl FlowSink for Rec {
    fn flow_start(&mut self, id: FlowId, key: &FlowKey, _meta: &PacketMeta) {
        let k = (key.transport, id);
        assert!(!self.keys.contains_key(&k), "flow {k:?} started twice");
        self.keys.insert(k, key.clone());
        self.live.insert(k);
        self.log.push(format!("start {:?} {id}", key.transport));
    }
    fn stream_data(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta) {
        assert!(
            self.live.contains(&(Transport::Tcp, id)),
            "data for dead TCP flow {id}"
        );
        assert!(!data.is_empty(), "empty stream_data");
        self.streams
            .entry((id, dir.index()))
            .or_default()
            .extend_from_slice(data);
        self.pieces
            .entry((id, dir.index()))
            .or_default()
            .push(Ok(data.to_vec()));
        self.data_frames
            .entry((id, dir.index()))
            .or_default()
            .push(meta.frame);
    }
    fn stream_gap(&mut self, id: FlowId, dir: Direction, missing: u64, _meta: &PacketMeta) {
        assert!(
            self.live.contains(&(Transport::Tcp, id)),
            "gap for dead TCP flow {id}"
        );
        assert!(missing > 0, "empty gap");
        self.gaps.push((id, dir, missing));
        self.pieces
            .entry((id, dir.index()))
            .or_default()
            .push(Err(missing));
    }
    fn datagram(&mut self, id: FlowId, dir: Direction, data: &[u8], _meta: &PacketMeta) {
        assert!(
            self.live.contains(&(Transport::Udp, id)),
            "datagram for dead UDP flow {id}"
        );
        self.datagrams.push((id, dir, data.to_vec()));
    }
    fn flow_end(&mut self, id: FlowId, key: &FlowKey, stats: &FlowStats) {
        let k = (key.transport, id);
        assert!(
            self.live.remove(&k),
            "flow_end for {k:?} without a live flow_start"
        );
        assert_eq!(self.keys.get(&k), Some(key), "flow_end key differs");
        self.ended.insert(k, stats.clone());
        self.log.push(format!("end {:?} {id}", key.transport));
    }
}

impl Rec {
    pub fn count(&self, t: Transport) -> usize {
        self.keys.keys().filter(|(tt, _)| *tt == t).count()
    }
    pub fn stream(&self, id: FlowId, dir: Direction) -> &[u8] {
        self.streams
            .get(&(id, dir.index()))
            .map_or(&[], |v| v.as_slice())
    }
    /// Every started flow has ended, and TCP/UDP ids are 0..n.
    pub fn check_balanced(&self) {
        assert!(self.live.is_empty(), "flows never ended: {:?}", self.live);
        assert_eq!(self.keys.len(), self.ended.len());
        for t in [Transport::Tcp, Transport::Udp] {
            let ids: Vec<FlowId> = self
                .keys
                .keys()
                .filter(|(tt, _)| *tt == t)
                .map(|(_, i)| *i)
                .collect();
            assert_eq!(
                ids,
                (0..ids.len() as u64).collect::<Vec<_>>(),
                "{t:?} ids not sequential"
            );
        }
    }
}

pub fn meta(frame: u64, ts: i64) -> PacketMeta {
    PacketMeta {
        frame,
        ts,
        app: None,
    }
}

/// Decode a whole capture with default limits.
pub fn run_capture(path: &str) -> (Rec, DecoderStats, usize) {
    run_capture_with(path, Limits::default())
}

pub fn run_capture_with(path: &str, limits: Limits) -> (Rec, DecoderStats, usize) {
    let frames = read_capture(path);
    let mut dec = Decoder::new(limits);
    let mut rec = Rec::default();
    let mut errors = 0;
    for (i, f) in frames.iter().enumerate() {
        if dec
            .push(f.linktype, &f.data, &meta(i as u64 + 1, f.ts), &mut rec)
            .is_err()
        {
            errors += 1;
        }
    }
    dec.finish(&mut rec);
    rec.check_balanced();
    (rec, dec.stats().clone(), errors)
}

// ---- packet builders (no checksums: the decoder does not verify them) ----

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

pub fn tcp_hdr(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push(5 << 4);
    t.push(flags);
    t.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

pub fn udp_hdr(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// IPv4 header + payload; `frag` = (id, byte offset, more fragments).
pub fn ipv4(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    payload: &[u8],
    frag: Option<(u16, u16, bool)>,
) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    let (id, off, mf) = frag.unwrap_or((0, 0, false));
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&((off / 8) | if mf { 0x2000 } else { 0 }).to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// IPv6 header; `next` is the first next-header value, `payload` includes any extension headers.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.push(next);
    p.push(64);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// IPv6 fragment extension header followed by fragment data.
pub fn v6_frag(next: u8, off: u16, more: bool, id: u32, data: &[u8]) -> Vec<u8> {
    let mut f = vec![next, 0];
    f.extend_from_slice(&(off | u16::from(more)).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(data);
    f
}

pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut e = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    e.extend_from_slice(&ethertype.to_be_bytes());
    e.extend_from_slice(payload);
    e
}

pub const C4: [u8; 4] = [10, 0, 0, 1];
pub const S4: [u8; 4] = [93, 184, 216, 34];
pub const C6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const S6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Raw IPv4 TCP packet from client (C4:cport) to server (S4:sport) or back.
pub fn c2s(cport: u16, sport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    ipv4(
        C4,
        S4,
        6,
        &tcp_hdr(cport, sport, seq, ack, flags, payload),
        None,
    )
}
pub fn s2c(cport: u16, sport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    ipv4(
        S4,
        C4,
        6,
        &tcp_hdr(sport, cport, seq, ack, flags, payload),
        None,
    )
}

/// LINKTYPE_RAW.
pub const RAW: u32 = 101;

/// Push raw-IP packets (frame numbers from 1, 1 ms apart) and finish.
pub fn run_raw(limits: Limits, pkts: &[Vec<u8>]) -> (Rec, DecoderStats) {
    let mut dec = Decoder::new(limits);
    let mut rec = Rec::default();
    for (i, p) in pkts.iter().enumerate() {
        dec.push(
            RAW,
            p,
            &meta(i as u64 + 1, 1_000_000_000 + i as i64 * 1_000_000),
            &mut rec,
        )
        .expect("decodes");
    }
    dec.finish(&mut rec);
    rec.check_balanced();
    (rec, dec.stats().clone())
}
