//! Link layers, IPv4/IPv6 with fragment reassembly, TCP stream reassembly and UDP flows.
//!
//! [`Decoder::push`] takes captured link-layer frames one at a time and reports to a
//! [`FlowSink`]: per TCP connection the in-order byte stream of each direction (with a
//! [`FlowSink::stream_gap`] wherever bytes were never captured), per UDP 4-tuple the datagrams.
//! Nothing here knows application protocols. Memory is bounded by [`Limits`]: idle and surplus
//! flows are evicted, out-of-order and fragment buffers are capped.
//!
//! Flow numbering follows tshark's `tcp.stream` / `udp.stream`: TCP and UDP are numbered
//! separately from 0 in order of each flow's first packet, and a SYN with a new initial sequence
//! number on a known 4-tuple starts a new TCP flow (port reuse). Unlike tshark, TCP headers
//! quoted inside ICMP errors are not flows.
//!
//! Client and server: the sender of a SYN is the client, the sender of a SYN+ACK the server.
//! Without a handshake the side with a service port (below 1024, or a known one such as 443,
//! 5228, 8080) is the server, otherwise the sender of the first packet is the client.
//!
//! A TCP direction's stream starts at its SYN, or at the first data segment seen. Retransmitted
//! and overlapping bytes are delivered once (the first copy seen wins). A hole becomes a
//! [`FlowSink::stream_gap`] when the out-of-order buffer fills, when both FINs (or a RST) have
//! been seen, at eviction and at [`Decoder::finish`]; the data after it is still delivered.
//! Bytes cut off by the capture's snap length are reported as a gap right away.
#![forbid(unsafe_code)]

mod frag;
mod ip;
mod link;
mod tcp;

use foldhash::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use tcp::SeqNumber;

use ip::{PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};

/// Capture time in nanoseconds since the Unix epoch.
pub type Timestamp = i64;

/// Transport protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// TCP: reassembled byte streams.
    Tcp,
    /// UDP: datagrams.
    Udp,
}

/// Direction of data within a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// 0 for [`Direction::ToServer`], 1 for [`Direction::ToClient`] (the index into
    /// [`FlowStats::packets`] and [`FlowStats::bytes`]).
    #[must_use]
    pub const fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// The other direction.
    #[must_use]
    pub const fn reverse(self) -> Self {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

/// Who talks to whom, with which transport.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The endpoint that opened the connection (or the best guess, see the crate docs).
    pub client: SocketAddr,
    /// The endpoint that accepted it.
    pub server: SocketAddr,
    /// TCP or UDP.
    pub transport: Transport,
}

/// Flow number: sequential from 0 per transport, in order of each flow's first packet.
pub type FlowId = u64;

/// Per-packet information passed through to the sink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// Frame number in the capture (1-based, as tshark counts).
    pub frame: u64,
    /// Capture time.
    pub ts: Timestamp,
    /// The app that sent the packet, when the capture says so (pcapng comments, PCAPdroid).
    pub app: Option<Arc<str>>,
}

/// Counters of one flow, reported at [`FlowSink::flow_end`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Packets `[to_server, to_client]`.
    pub packets: [u64; 2],
    /// Transport payload bytes seen `[to_server, to_client]` (retransmissions included).
    pub bytes: [u64; 2],
    /// Capture time of the first packet.
    pub first_ts: Timestamp,
    /// Capture time of the last packet.
    pub last_ts: Timestamp,
    /// Frame number of the first packet.
    pub first_frame: u64,
    /// Frame number of the last packet.
    pub last_frame: u64,
    /// Number of holes reported with [`FlowSink::stream_gap`].
    pub gaps: u64,
    /// Bytes missing in those holes.
    pub gap_bytes: u64,
    /// A SYN was seen (the connection was captured from its start).
    pub saw_syn: bool,
    /// A FIN or RST was seen.
    pub saw_fin_or_rst: bool,
}

/// Receives the flows a [`Decoder`] reconstructs.
pub trait FlowSink {
    /// A new flow; its first packet is `meta`.
    fn flow_start(&mut self, id: FlowId, key: &FlowKey, meta: &PacketMeta);
    /// In-order TCP stream bytes for one direction. `meta` is the packet that completed this data.
    fn stream_data(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta);
    /// Bytes that will never arrive (lost / not captured); the stream continues after them.
    fn stream_gap(&mut self, id: FlowId, dir: Direction, missing: u64, meta: &PacketMeta);
    /// One UDP datagram payload.
    fn datagram(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta);
    /// The flow ended (FIN/RST both sides drained, idle eviction, capacity eviction, or finish()).
    fn flow_end(&mut self, id: FlowId, key: &FlowKey, stats: &FlowStats);
}

/// Bounds on the decoder's memory and on how long it waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Flows tracked at once; beyond it the least recently active are ended in batches.
    /// An open flow costs about 4 KiB with its analysis (measured with
    /// bench/make-many-connections.py), so the default keeps a capture of millions of open
    /// connections under 512 MiB; a phone rarely has more than a few hundred open at once.
    pub max_flows: usize,
    /// Out-of-order bytes buffered per TCP direction before the first hole is declared a gap.
    pub max_ooo_bytes_per_direction: usize,
    /// Out-of-order segments buffered per TCP direction before the first hole is declared a gap.
    pub max_ooo_segments_per_direction: usize,
    /// Out-of-order bytes buffered over all flows together.
    pub max_ooo_bytes_total: usize,
    /// A flow without packets for this long (capture time) is ended.
    pub idle_timeout_ns: i64,
    /// Largest reassembled IP payload; larger fragmented datagrams are dropped.
    pub max_fragment_bytes: usize,
    /// Datagrams being reassembled at once; beyond it the oldest is dropped.
    pub max_fragment_sets: usize,
    /// Fragments per datagram (tiny-fragment floods).
    pub max_fragments_per_datagram: usize,
    /// An incomplete datagram is dropped this long after its first fragment.
    pub fragment_timeout_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 65_536,
            max_ooo_bytes_per_direction: 4 << 20,
            max_ooo_segments_per_direction: 512,
            max_ooo_bytes_total: 256 << 20,
            idle_timeout_ns: 600 * 1_000_000_000,
            // The largest IPv4 or IPv6 (non-jumbo) payload.
            max_fragment_bytes: 65_536,
            max_fragment_sets: 1024,
            max_fragments_per_datagram: 256,
            // Linux's ipfrag_time.
            fragment_timeout_ns: 30 * 1_000_000_000,
        }
    }
}

/// What the decoder saw, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames pushed.
    pub packets: u64,
    /// Captured bytes pushed.
    pub bytes: u64,
    /// Well-formed frames without IP (ARP, LLDP, …).
    pub non_ip: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    /// IP packets that are neither TCP nor UDP (ICMP, …).
    pub other_ip: u64,
    /// Packets with fewer bytes captured than their headers announce.
    pub truncated: u64,
    /// Frames that returned an error (including unsupported link types).
    pub decode_errors: u64,
    pub unsupported_linktype: u64,
    pub fragments: u64,
    pub reassembled_datagrams: u64,
    /// Fragmented datagrams given up on (inconsistent, over a limit, timed out, unfinished).
    pub fragments_dropped: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    pub tcp_flows: u64,
    pub udp_flows: u64,
    /// Flows ended early: idle plus capacity.
    pub flows_evicted: u64,
    pub flows_evicted_idle: u64,
    pub flows_evicted_capacity: u64,
    /// SYNs that started a new flow on a 4-tuple already in use.
    pub tcp_port_reuse: u64,
    pub tcp_gaps: u64,
    pub tcp_gap_bytes: u64,
    /// TCP stream bytes delivered to the sink.
    pub tcp_delivered_bytes: u64,
    /// Segments carrying only bytes already delivered.
    pub tcp_retransmitted_segments: u64,
    pub tcp_out_of_order_segments: u64,
    /// Segments too far ahead of the stream to belong to it.
    pub tcp_out_of_window_segments: u64,
    /// Holes skipped because an out-of-order buffer was full.
    pub tcp_buffer_overflows: u64,
    /// Data segments after the direction's FIN.
    pub tcp_after_fin_segments: u64,
    /// Packets of connections already ended (late ACKs, retransmissions after RST).
    pub tcp_packets_after_close: u64,
}

/// Why a frame could not be decoded. Offsets are bytes from the start of the frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("unsupported link type {linktype}")]
    UnsupportedLinkType { linktype: u32 },
    #[error("truncated {what} at byte {at}")]
    Truncated { at: u64, what: &'static str },
    #[error("malformed {what} at byte {at}")]
    Malformed { at: u64, what: &'static str },
}

impl NetError {
    /// Byte offset in the frame where decoding failed.
    #[must_use]
    pub fn at(&self) -> u64 {
        match self {
            NetError::UnsupportedLinkType { .. } => 0,
            NetError::Truncated { at, .. } | NetError::Malformed { at, .. } => *at,
        }
    }
}

/// TCP ports that mark the server side of a connection seen without its handshake, besides all
/// ports below 1024.
const TCP_SERVICE_PORTS: &[u16] = &[
    1080, 1883, 3000, 3128, 4433, 5222, 5223, 5228, 5229, 5230, 5269, 5443, 8000, 8008, 8080, 8088,
    8400, 8443, 8883, 8888, 9443, 50051,
];
/// UDP ports that mark the server side, besides all ports below 1024.
const UDP_SERVICE_PORTS: &[u16] = &[
    1900, 3478, 3479, 4433, 4500, 5349, 5353, 5355, 8443, 19302, 19303, 19304, 19305, 19306, 19307,
    19308, 19309,
];

/// How strongly a port suggests a server: 2 below 1024, 1 for listed ports, else 0.
fn port_rank(transport: Transport, port: u16) -> u8 {
    let list = match transport {
        Transport::Tcp => TCP_SERVICE_PORTS,
        Transport::Udp => UDP_SERVICE_PORTS,
    };
    if port != 0 && port < 1024 {
        2
    } else if list.contains(&port) {
        1
    } else {
        0
    }
}

/// Without a handshake: is the destination of this first packet the server?
fn server_is_dst(transport: Transport, sport: u16, dport: u16) -> bool {
    let (rs, rd) = (port_rank(transport, sport), port_rank(transport, dport));
    if rs != rd {
        return rd > rs;
    }
    // DHCP / DHCPv6 use well-known ports on both ends.
    !matches!((sport, dport), (67, 68) | (547, 546))
}

/// Direction-independent identity of a 4-tuple: the lower endpoint first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ConnKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    transport: Transport,
}

impl ConnKey {
    /// The key and whether the source is its `lo` endpoint.
    fn new(src: (IpAddr, u16), dst: (IpAddr, u16), transport: Transport) -> (Self, bool) {
        if src <= dst {
            (
                ConnKey {
                    lo: src,
                    hi: dst,
                    transport,
                },
                true,
            )
        } else {
            (
                ConnKey {
                    lo: dst,
                    hi: src,
                    transport,
                },
                false,
            )
        }
    }
}

struct Flow {
    id: FlowId,
    /// Creation order over both transports, for deterministic ordering of endings.
    order: u64,
    key: FlowKey,
    client_is_lo: bool,
    stats: FlowStats,
    app: Option<Arc<str>>,
    /// Latest capture time seen (timestamps may step back; idleness uses the maximum).
    last_seen: Timestamp,
    /// `flow_end` was called; the entry stays to absorb the connection's late packets.
    ended: bool,
    /// tshark's per-direction base sequence numbers, used to detect port reuse.
    base_seq: [Option<SeqNumber>; 2],
    tcp: Option<Box<tcp::Conn>>,
}

impl Flow {
    fn dir(&self, src_is_lo: bool) -> Direction {
        if src_is_lo == self.client_is_lo {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    fn last_meta(&self) -> PacketMeta {
        PacketMeta {
            frame: self.stats.last_frame,
            ts: self.stats.last_ts,
            app: self.app.clone(),
        }
    }

    fn touch(&mut self, dir: Direction, payload: usize, meta: &PacketMeta) {
        let s = &mut self.stats;
        s.packets[dir.index()] += 1;
        s.bytes[dir.index()] += payload as u64;
        s.last_ts = meta.ts;
        s.last_frame = meta.frame;
        self.last_seen = self.last_seen.max(meta.ts);
        if self.app.is_none() && meta.app.is_some() {
            self.app.clone_from(&meta.app);
        }
    }

    /// No packet for longer than the idle timeout before `now`.
    fn is_idle(&self, now: Timestamp, limits: &Limits) -> bool {
        now.saturating_sub(self.last_seen) > limits.idle_timeout_ns.max(0)
    }

    /// End the flow for idleness (if it has not ended already).
    fn evict_idle(&mut self, core: &mut Core, sink: &mut dyn FlowSink) {
        if !self.ended {
            core.stats.flows_evicted += 1;
            core.stats.flows_evicted_idle += 1;
            let meta = self.last_meta();
            self.close(&meta, core, sink);
        }
    }

    /// Deliver what is buffered, then report the end (once).
    fn close(&mut self, meta: &PacketMeta, core: &mut Core, sink: &mut dyn FlowSink) {
        if self.ended {
            return;
        }
        if let Some(mut conn) = self.tcp.take() {
            let mut out = tcp::Out {
                id: self.id,
                meta,
                sink: &mut *sink,
                fstats: &mut self.stats,
                core,
            };
            conn.flush(&mut out);
        }
        self.ended = true;
        sink.flow_end(self.id, &self.key, &self.stats);
    }
}

/// State shared by all flows.
pub(crate) struct Core {
    limits: Limits,
    stats: DecoderStats,
    /// Out-of-order bytes buffered over all TCP flows.
    ooo_bytes: usize,
}

/// Turns captured frames into flows. See the crate documentation.
pub struct Decoder {
    core: Core,
    flows: HashMap<ConnKey, Flow>,
    frags: frag::Reassembler,
    next_id: [FlowId; 2],
    next_order: u64,
    next_sweep_ts: Timestamp,
    since_sweep: u64,
}

/// Flows evicted per capacity eviction, as a fraction of `max_flows`: evicting in batches keeps
/// the cost of finding the oldest flows amortised over many new flows.
const EVICT_BATCH_DIVISOR: usize = 16;

impl Decoder {
    /// A decoder with the given limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Decoder {
            core: Core {
                limits,
                stats: DecoderStats::default(),
                ooo_bytes: 0,
            },
            flows: HashMap::default(),
            frags: frag::Reassembler::default(),
            next_id: [0; 2],
            next_order: 0,
            next_sweep_ts: Timestamp::MIN,
            since_sweep: 0,
        }
    }

    /// Decode one captured packet. Never panics; undecodable packets return Err and change
    /// nothing (except the error counters). A fragment that completes a datagram whose transport
    /// header is malformed returns that error too.
    pub fn push(
        &mut self,
        linktype: u32,
        data: &[u8],
        meta: &PacketMeta,
        sink: &mut dyn FlowSink,
    ) -> Result<(), NetError> {
        self.core.stats.packets += 1;
        self.core.stats.bytes += data.len() as u64;
        let r = self.decode(linktype, data, meta, sink);
        match &r {
            // Sweeping only after good packets keeps errors free of side effects; a flow's own
            // idleness is checked exactly when its next packet arrives.
            Ok(()) => self.maybe_sweep(meta.ts, sink),
            Err(e) => {
                self.core.stats.decode_errors += 1;
                if matches!(e, NetError::UnsupportedLinkType { .. }) {
                    self.core.stats.unsupported_linktype += 1;
                }
            }
        }
        r
    }

    /// Flush everything (deliver remaining buffered data, noting gaps) and end all flows, in
    /// order of their first packet (so in FlowId order per transport). The decoder is then
    /// empty; flow numbering continues if more packets are pushed.
    pub fn finish(&mut self, sink: &mut dyn FlowSink) {
        self.core.stats.fragments_dropped += self.frags.clear();
        let mut flows: Vec<Flow> = self.flows.drain().map(|(_, f)| f).collect();
        flows.sort_unstable_by_key(|f| f.order);
        for mut f in flows {
            let meta = f.last_meta();
            f.close(&meta, &mut self.core, sink);
        }
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> &DecoderStats {
        &self.core.stats
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.core.limits
    }

    /// Flows currently tracked (including ended TCP connections kept to absorb late packets).
    #[must_use]
    pub fn tracked_flows(&self) -> usize {
        self.flows.len()
    }

    /// Out-of-order TCP bytes currently buffered.
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.core.ooo_bytes
    }

    fn decode(
        &mut self,
        linktype: u32,
        data: &[u8],
        meta: &PacketMeta,
        sink: &mut dyn FlowSink,
    ) -> Result<(), NetError> {
        let Some((net, off)) = link::locate_ip(linktype, data)? else {
            self.core.stats.non_ip += 1;
            return Ok(());
        };
        let ip = ip::parse(net, data, off)?;
        if ip.v6 {
            self.core.stats.ipv6 += 1;
        } else {
            self.core.stats.ipv4 += 1;
        }
        let Some(fr) = ip.frag else {
            return self.transport(
                ip.src, ip.dst, ip.proto, ip.payload, ip.claimed, ip.at, meta, sink,
            );
        };
        self.core.stats.fragments += 1;
        if ip.payload.len() < ip.claimed {
            self.core.stats.truncated += 1;
        }
        let key = frag::FragKey {
            src: ip.src,
            dst: ip.dst,
            id: fr.id,
            proto: if ip.v6 { 0 } else { ip.proto },
        };
        let (outcome, evicted) = self.frags.add(
            key,
            fr.offset,
            fr.more,
            ip.proto,
            ip.payload,
            ip.claimed,
            meta.ts,
            &self.core.limits,
        );
        self.core.stats.fragments_dropped += evicted;
        match outcome {
            frag::Outcome::Pending => Ok(()),
            frag::Outcome::Dropped => {
                self.core.stats.fragments_dropped += 1;
                Ok(())
            }
            frag::Outcome::Complete { proto, buf } => {
                self.core.stats.reassembled_datagrams += 1;
                let r = if ip.v6 {
                    ip::v6_reassembled(proto, &buf).and_then(|(proto, pos)| {
                        let payload = buf.get(pos..).unwrap_or_default();
                        self.transport(
                            ip.src,
                            ip.dst,
                            proto,
                            payload,
                            payload.len(),
                            ip.at,
                            meta,
                            sink,
                        )
                    })
                } else {
                    self.transport(ip.src, ip.dst, proto, &buf, buf.len(), ip.at, meta, sink)
                };
                self.frags.recycle(buf);
                r
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transport(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        payload: &[u8],
        claimed: usize,
        at: usize,
        meta: &PacketMeta,
        sink: &mut dyn FlowSink,
    ) -> Result<(), NetError> {
        match proto {
            PROTO_TCP => {
                let t = ip::parse_tcp(payload, claimed, at)?;
                if t.payload.len() < t.claimed {
                    self.core.stats.truncated += 1;
                }
                self.on_tcp(src, dst, &t, meta, sink);
            }
            PROTO_UDP => {
                let u = ip::parse_udp(payload, claimed, at)?;
                if u.payload.len() < u.claimed {
                    self.core.stats.truncated += 1;
                }
                self.on_udp(src, dst, &u, meta, sink);
            }
            _ => self.core.stats.other_ip += 1,
        }
        Ok(())
    }

    fn on_tcp(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        t: &ip::Tcp<'_>,
        meta: &PacketMeta,
        sink: &mut dyn FlowSink,
    ) {
        self.core.stats.tcp_packets += 1;
        let (ck, src_is_lo) = ConnKey::new((src, t.sport), (dst, t.dport), Transport::Tcp);
        let syn_ack = t.flags & (TCP_SYN | TCP_ACK);
        let seq = SeqNumber(t.seq);
        if let Some(f) = self.flows.get_mut(&ck) {
            let dir = f.dir(src_is_lo);
            // tshark: a SYN whose sequence number differs from the direction's base sequence
            // number starts a new conversation on the same 4-tuple.
            let reuse = syn_ack == TCP_SYN && f.base_seq[dir.index()].is_some_and(|b| b != seq);
            let idle = f.is_idle(meta.ts, &self.core.limits);
            if !reuse && !idle {
                tcp_packet(f, src_is_lo, t, meta, &mut self.core, sink);
                return;
            }
            if idle {
                f.evict_idle(&mut self.core, sink);
            } else {
                self.core.stats.tcp_port_reuse += 1;
                f.close(meta, &mut self.core, sink);
            }
        }
        let server_is_dst = match syn_ack {
            TCP_SYN => true,
            x if x == TCP_SYN | TCP_ACK => false,
            _ => server_is_dst(Transport::Tcp, t.sport, t.dport),
        };
        self.new_flow(ck.clone(), src_is_lo, server_is_dst, meta, sink);
        if let Some(f) = self.flows.get_mut(&ck) {
            tcp_packet(f, src_is_lo, t, meta, &mut self.core, sink);
        }
    }

    fn on_udp(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        u: &ip::Udp<'_>,
        meta: &PacketMeta,
        sink: &mut dyn FlowSink,
    ) {
        self.core.stats.udp_packets += 1;
        let (ck, src_is_lo) = ConnKey::new((src, u.sport), (dst, u.dport), Transport::Udp);
        let live = match self.flows.get_mut(&ck) {
            Some(f) if f.is_idle(meta.ts, &self.core.limits) => {
                f.evict_idle(&mut self.core, sink);
                false
            }
            Some(_) => true,
            None => false,
        };
        if !live {
            let server_is_dst = server_is_dst(Transport::Udp, u.sport, u.dport);
            self.new_flow(ck.clone(), src_is_lo, server_is_dst, meta, sink);
        }
        if let Some(f) = self.flows.get_mut(&ck) {
            let dir = f.dir(src_is_lo);
            f.touch(dir, u.payload.len(), meta);
            sink.datagram(f.id, dir, u.payload, meta);
        }
    }

    /// Start a flow, evicting first if the table is full.
    #[allow(clippy::too_many_arguments)]
    fn new_flow(
        &mut self,
        ck: ConnKey,
        src_is_lo: bool,
        server_is_dst: bool,
        meta: &PacketMeta,
        sink: &mut dyn FlowSink,
    ) {
        if !self.flows.contains_key(&ck) && self.flows.len() >= self.core.limits.max_flows.max(1) {
            self.evict_capacity(sink);
        }
        let transport = ck.transport;
        let ti = transport as usize;
        let id = self.next_id[ti];
        self.next_id[ti] += 1;
        self.next_order += 1;
        // The key holds both ends; `src_is_lo` says which one sent this packet.
        let (src, dst) = if src_is_lo {
            (ck.lo, ck.hi)
        } else {
            (ck.hi, ck.lo)
        };
        let (src, dst) = (SocketAddr::new(src.0, src.1), SocketAddr::new(dst.0, dst.1));
        let (client, server, client_is_lo) = if server_is_dst {
            (src, dst, src_is_lo)
        } else {
            (dst, src, !src_is_lo)
        };
        let key = FlowKey {
            client,
            server,
            transport,
        };
        match transport {
            Transport::Tcp => self.core.stats.tcp_flows += 1,
            Transport::Udp => self.core.stats.udp_flows += 1,
        }
        sink.flow_start(id, &key, meta);
        let flow = Flow {
            id,
            order: self.next_order,
            key,
            client_is_lo,
            stats: FlowStats {
                first_ts: meta.ts,
                last_ts: meta.ts,
                first_frame: meta.frame,
                last_frame: meta.frame,
                ..FlowStats::default()
            },
            app: meta.app.clone(),
            last_seen: meta.ts,
            ended: false,
            base_seq: [None; 2],
            tcp: (transport == Transport::Tcp).then(Box::default),
        };
        self.flows.insert(ck, flow);
    }

    /// End the least recently active flows (ended connections first) to make room.
    fn evict_capacity(&mut self, sink: &mut dyn FlowSink) {
        let batch = (self.core.limits.max_flows / EVICT_BATCH_DIVISOR).max(1);
        let mut v: Vec<(bool, Timestamp, u64, &ConnKey)> = self
            .flows
            .iter()
            .map(|(k, f)| (!f.ended, f.last_seen, f.order, k))
            .collect();
        if batch < v.len() {
            v.select_nth_unstable_by_key(batch - 1, |&(live, ts, order, _)| (live, ts, order));
            v.truncate(batch);
        }
        let mut victims: Vec<(u64, ConnKey)> =
            v.into_iter().map(|(_, _, o, k)| (o, k.clone())).collect();
        victims.sort_unstable_by_key(|&(o, _)| o);
        for (_, k) in victims {
            if let Some(mut f) = self.flows.remove(&k)
                && !f.ended
            {
                self.core.stats.flows_evicted += 1;
                self.core.stats.flows_evicted_capacity += 1;
                let meta = f.last_meta();
                f.close(&meta, &mut self.core, sink);
            }
        }
    }

    /// Now and then (capture time), end idle flows and drop stale fragments. The sweep is also
    /// spaced by packet count so its cost stays amortised whatever the timestamps do.
    fn maybe_sweep(&mut self, now: Timestamp, sink: &mut dyn FlowSink) {
        self.since_sweep += 1;
        if now < self.next_sweep_ts {
            return;
        }
        let tracked = (self.flows.len() + self.frags.len()) as u64;
        if self.since_sweep < tracked / 16 {
            return;
        }
        self.since_sweep = 0;
        let idle = self.core.limits.idle_timeout_ns.max(0);
        let frag_timeout = self.core.limits.fragment_timeout_ns.max(0);
        let interval = (idle.min(frag_timeout) / 8).max(1_000_000_000);
        self.next_sweep_ts = now.saturating_add(interval);
        self.core.stats.fragments_dropped += self.frags.expire(now.saturating_sub(frag_timeout));
        let mut victims: Vec<(u64, ConnKey)> = self
            .flows
            .iter()
            .filter(|(_, f)| f.is_idle(now, &self.core.limits))
            .map(|(k, f)| (f.order, k.clone()))
            .collect();
        victims.sort_unstable_by_key(|&(o, _)| o);
        for (_, k) in victims {
            if let Some(mut f) = self.flows.remove(&k) {
                f.evict_idle(&mut self.core, sink);
            }
        }
    }
}

/// One TCP packet of a known flow.
fn tcp_packet(
    f: &mut Flow,
    src_is_lo: bool,
    t: &ip::Tcp<'_>,
    meta: &PacketMeta,
    core: &mut Core,
    sink: &mut dyn FlowSink,
) {
    if f.ended {
        f.last_seen = f.last_seen.max(meta.ts);
        core.stats.tcp_packets_after_close += 1;
        return;
    }
    let dir = f.dir(src_is_lo);
    let (di, ri) = (dir.index(), dir.reverse().index());
    let seq = SeqNumber(t.seq);
    // Base sequence numbers as tshark sets them (for port-reuse detection).
    if f.base_seq[di].is_none() {
        f.base_seq[di] = Some(if t.flags & TCP_SYN != 0 {
            seq
        } else {
            seq.add(u32::MAX)
        });
    }
    if f.base_seq[ri].is_none() && t.flags & TCP_ACK != 0 {
        f.base_seq[ri] = Some(SeqNumber(t.ack).add(u32::MAX));
    }
    f.touch(dir, t.payload.len(), meta);
    f.stats.saw_syn |= t.flags & TCP_SYN != 0;
    f.stats.saw_fin_or_rst |= t.flags & (TCP_FIN | TCP_RST) != 0;
    let Some(conn) = f.tcp.as_mut() else { return };
    let seg = tcp::Segment {
        seq: t.seq,
        flags: t.flags,
        payload: t.payload,
        claimed: t.claimed,
    };
    let mut out = tcp::Out {
        id: f.id,
        meta,
        sink: &mut *sink,
        fstats: &mut f.stats,
        core: &mut *core,
    };
    if conn.segment(dir, &seg, &mut out) == tcp::Verdict::Close {
        f.close(meta, core, sink);
    }
}
