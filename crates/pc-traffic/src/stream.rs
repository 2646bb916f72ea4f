//! The engine as a stream: packets are pushed as they arrive (from a file or a live capture)
//! and the result comes out at the end; decided facts come out on the way as [`Event`]s.
//!
//! One capture, several cores. The thread that pushes packets decodes them (link, IP, TCP
//! reassembly: sequential by nature, and cheap) and hands each flow's events to one of N
//! workers, chosen by the flow; the workers do the costly part (TLS and QUIC decryption,
//! HTTP/1-2-3, decompression, the search). What crosses flows is kept exact:
//! - DNS names destinations. Every DNS flow is analysed on the pushing thread, in capture
//!   order, and a flow's end is handed to its worker with the name known at that moment: the
//!   same name a single thread would have used.
//! - TLS 1.2 resumption shares secrets between connections. Every TLS flow with key material
//!   goes to worker 0, so resumptions are looked up in capture order.
//! - Key material found in the capture is handed to every worker at its place in the stream.
//! - Bounded lists (requests, handshakes, cuts) are merged by the sequence number of the event
//!   that made each entry, and findings merge order-independently (see `result.rs`).
//!
//! So the result is the same for any number of workers (tests/jobs.rs checks it byte for byte).
//!
//! Memory: the queue to each worker is bounded (a few batches), so a slow worker slows the
//! reader instead of filling memory; flows waiting for their first client bytes hold at most
//! what `packets/` would hold for them anyway.

use crate::ctx::Ctx;
use crate::event::EventSink;
use crate::packets::{Analysis, MAX_EARLY_SERVER, UdpKind, tcp_is_tls, udp_kind};
use crate::result::CaptureResult;
use foldhash::HashMap;
use pc_net::{Direction, FlowId, FlowKey, FlowSink, FlowStats, PacketMeta, Transport};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Events or bytes per batch handed to a worker: large enough that the hand-over costs little
/// per packet, small enough that workers start early and queues stay small.
const BATCH_EVENTS: usize = 2048;
const BATCH_BYTES: usize = 1 << 20;
/// Events kept for a flow waiting for its route (see `Front::stream_data`).
const MAX_WAITING: usize = 256;
/// Batches queued per worker before the reader waits.
const QUEUE: usize = 4;

/// One capture being analysed. See the module documentation.
pub struct CaptureStream<'c> {
    decoder: pc_net::Decoder,
    front: Front<'c>,
    undecoded: u64,
    packets: u64,
    /// Secrets blocks of the capture already folded in (see `push_record`).
    secrets_seen: usize,
}

impl<'c> CaptureStream<'c> {
    /// A stream filling `result` (its input summary already says which input it is), with
    /// `workers` threads beside the caller's (0 or 1: everything on the caller's thread), and
    /// `keys` as the key material known from the start.
    pub fn new(
        ctx: &'c Arc<Ctx>,
        result: CaptureResult,
        keys: pc_tlsdec::keylog::KeyLog,
        workers: usize,
        events: Option<EventSink>,
    ) -> Self {
        let mut local = Analysis::new(ctx, result);
        local.out.keys = Arc::new(keys);
        local.out.events.clone_from(&events);
        let workers = if workers >= 2 {
            (0..workers)
                .map(|_| {
                    // A part names its input as the whole does (requests carry the name).
                    let part = CaptureResult {
                        input: crate::model::InputSummary {
                            path: local.out.result.input.path.clone(),
                            phase: local.out.result.input.phase.clone(),
                            consent: local.out.result.input.consent,
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    Worker::spawn(ctx.clone(), part, local.out.keys.clone(), events.clone())
                })
                // Without the threads (the system refused them) all runs here, as with one.
                .collect::<std::io::Result<Vec<_>>>()
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        CaptureStream {
            decoder: pc_net::Decoder::new(ctx.net.clone()),
            front: Front {
                local,
                seq: 0,
                workers,
                routes: HashMap::default(),
            },
            undecoded: 0,
            packets: 0,
            secrets_seen: 0,
        }
    }

    /// Analyse one record read by pc-capture: the Decryption Secrets Blocks met before it are
    /// folded in first (they unlock the connections that follow), then its frame is pushed.
    pub fn push_record(&mut self, pkt: &pc_capture::Packet<'_>) {
        for sec in pkt.secrets.get(self.secrets_seen..).unwrap_or_default() {
            self.add_secrets_block(sec.secrets_type, &sec.data);
        }
        self.secrets_seen = pkt.secrets.len();
        let meta = PacketMeta {
            frame: pkt.frame,
            ts: pkt.ts,
            app: pkt.app.clone(),
        };
        self.push(pkt.linktype, pkt.data, &meta);
    }

    /// Analyse one captured frame.
    pub fn push(&mut self, linktype: u32, data: &[u8], meta: &PacketMeta) {
        self.packets += 1;
        if self
            .decoder
            .push(linktype, data, meta, &mut self.front)
            .is_err()
        {
            self.undecoded += 1;
        }
    }

    /// More key material (a key log, or the capture's Decryption Secrets Block): connections
    /// decided from now on can use it.
    pub fn add_keys(&mut self, more: pc_tlsdec::keylog::KeyLog) {
        let mut keys = (*self.front.local.out.keys).clone();
        keys.merge(more);
        let keys = Arc::new(keys);
        self.front.local.out.keys = keys.clone();
        for w in &mut self.front.workers {
            w.send(Ev::Keys(keys.clone()), &[]);
        }
    }

    /// A Decryption Secrets Block of the capture (pcapng): counted, and its key log used from
    /// now on when it is one.
    pub fn add_secrets_block(&mut self, secrets_type: u32, data: &[u8]) {
        if secrets_type == pc_capture::SECRETS_TLS_KEYLOG {
            self.front.local.out.result.input.tls_key_log_blocks += 1;
            self.add_keys(pc_tlsdec::keylog::KeyLog::parse(data));
        }
    }

    /// Say what the input is (`pcap`, `pcapng`, `live`…) and whether it was compressed.
    pub fn set_format(&mut self, format: &str, compressed: bool) {
        let input = &mut self.front.local.out.result.input;
        input.format = format.to_string();
        input.compressed = compressed;
    }

    /// Flows currently tracked by the decoder.
    pub fn tracked_flows(&self) -> usize {
        self.decoder.tracked_flows()
    }

    /// End every flow and give the capture's result.
    pub fn finish(mut self) -> CaptureResult {
        self.decoder.finish(&mut self.front);
        let stats = self.decoder.stats().clone();
        let Front { local, workers, .. } = self.front;
        let mut result = local.out.result;
        for w in workers {
            if let Some(part) = w.join() {
                result.absorb(part);
            } else {
                result
                    .input
                    .errors
                    .push("internal error: a worker of the analysis stopped".into());
            }
        }
        for d in result.destinations.values_mut() {
            d.phases.insert(result.input.phase.clone());
            d.captures.insert(result.input.path.clone());
        }
        result.input.packets = self.packets;
        result.input.undecoded_packets = self.undecoded;
        result.input.flows_evicted_idle = stats.flows_evicted_idle;
        result.input.flows_evicted_capacity = stats.flows_evicted_capacity;
        result
    }
}

/// Where a flow's events go.
enum Route {
    Local,
    Worker(usize),
    /// Not known before the flow's first client bytes (TLS with keys or not) or first datagram
    /// (DNS or not): its events wait here.
    Waiting(Box<Waiting>),
}

#[derive(Default)]
struct Waiting {
    events: Vec<Ev>,
    data: Vec<u8>,
    early_server: usize,
}

/// The decoder's sink on the pushing thread: DNS flows are analysed here, the others routed.
struct Front<'c> {
    local: Analysis<'c>,
    seq: u64,
    workers: Vec<Worker>,
    routes: HashMap<(Transport, FlowId), Route>,
}

impl Front<'_> {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.local.out.result.seq = self.seq;
        self.seq
    }

    /// The worker of a flow that is neither DNS nor TLS with keys. Flow numbers are given in
    /// order of first packet, so consecutive flows spread over the workers.
    fn spread(&self, id: (Transport, FlowId)) -> usize {
        let t = match id.0 {
            Transport::Tcp => 0,
            Transport::Udp => 1,
        };
        ((id.1.wrapping_mul(2) + t) % self.workers.len() as u64) as usize
    }

    /// Send `ev` to the flow's worker, or keep it while the flow waits for its route.
    fn forward(&mut self, id: (Transport, FlowId), ev: Ev, data: &[u8]) {
        match self.routes.get_mut(&id) {
            Some(Route::Worker(w)) => self.workers[*w].send(ev, data),
            Some(Route::Waiting(wait)) => {
                let ev = ev.rebase(wait.data.len());
                wait.data.extend_from_slice(data);
                wait.events.push(ev);
            }
            Some(Route::Local) | None => {}
        }
    }

    /// Route a waiting flow and send it what it waited with.
    fn settle(&mut self, id: (Transport, FlowId), route: Route) {
        let Some(Route::Waiting(wait)) = self.routes.insert(id, route) else {
            return;
        };
        match self.routes.get(&id) {
            Some(Route::Worker(w)) => {
                let w = *w;
                for ev in wait.events {
                    let (a, b) = ev.range();
                    let ev = ev.rebase(0);
                    self.workers[w].send(ev, &wait.data[a..b]);
                }
            }
            _ => {
                for ev in wait.events {
                    let (a, b) = ev.range();
                    ev.apply(&mut self.local, &wait.data[a..b]);
                }
                self.local.out.result.seq = self.seq;
            }
        }
    }
}

impl FlowSink for Front<'_> {
    fn flow_start(&mut self, id: FlowId, key: &FlowKey, meta: &PacketMeta) {
        let seq = self.next_seq();
        if self.workers.is_empty() {
            return self.local.flow_start(id, key, meta);
        }
        let fk = (key.transport, id);
        if key.transport == Transport::Tcp && key.server.port() == 53 {
            // DNS over TCP needs port 53 (pc_proto::sniff_stream).
            self.routes.insert(fk, Route::Local);
            return self.local.flow_start(id, key, meta);
        }
        self.routes.insert(fk, Route::Waiting(Box::default()));
        self.forward(
            fk,
            Ev::Start(seq, id, Box::new(key.clone()), meta.clone()),
            &[],
        );
    }

    fn stream_data(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta) {
        let seq = self.next_seq();
        let fk = (Transport::Tcp, id);
        if self.workers.is_empty() || matches!(self.routes.get(&fk), Some(Route::Local)) {
            return self.local.stream_data(id, dir, data, meta);
        }
        if let Some(Route::Waiting(w)) = self.routes.get_mut(&fk) {
            // The same decision point as `Analysis::stream_data`: the client's first bytes,
            // or server bytes beyond what is kept while waiting for them.
            // A hostile flow could also send its server bytes a byte at a time, with holes
            // between: past MAX_WAITING events it is routed without waiting longer (only TLS
            // resumption order, for such a flow alone, could then depend on -j).
            let decide = dir == Direction::ToServer
                || w.early_server + data.len() > MAX_EARLY_SERVER
                || w.events.len() >= MAX_WAITING;
            if !decide {
                w.early_server += data.len();
            } else {
                let port = match &w.events.first() {
                    Some(Ev::Start(_, _, key, _)) => key.server.port(),
                    _ => 0,
                };
                let route = if !self.local.out.keys.is_empty() && tcp_is_tls(dir, data, port) {
                    Route::Worker(0)
                } else {
                    Route::Worker(self.spread(fk))
                };
                self.settle(fk, route);
            }
        }
        self.forward(
            fk,
            Ev::Data(seq, id, dir, 0, data.len(), meta.clone()),
            data,
        );
    }

    fn stream_gap(&mut self, id: FlowId, dir: Direction, missing: u64, meta: &PacketMeta) {
        let seq = self.next_seq();
        let fk = (Transport::Tcp, id);
        if self.workers.is_empty() || matches!(self.routes.get(&fk), Some(Route::Local)) {
            return self.local.stream_gap(id, dir, missing, meta);
        }
        self.forward(fk, Ev::Gap(seq, id, dir, missing, meta.clone()), &[]);
    }

    fn datagram(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta) {
        let seq = self.next_seq();
        let fk = (Transport::Udp, id);
        if self.workers.is_empty() || matches!(self.routes.get(&fk), Some(Route::Local)) {
            return self.local.datagram(id, dir, data, meta);
        }
        if let Some(Route::Waiting(w)) = self.routes.get(&fk) {
            let kind = match w.events.first() {
                Some(Ev::Start(_, _, key, _)) => udp_kind(key, dir, data),
                _ => UdpKind::Raw,
            };
            if kind == UdpKind::Dns {
                self.settle(fk, Route::Local);
                return self.local.datagram(id, dir, data, meta);
            }
            let w = self.spread(fk);
            self.settle(fk, Route::Worker(w));
        }
        self.forward(
            fk,
            Ev::Datagram(seq, id, dir, 0, data.len(), meta.clone()),
            data,
        );
    }

    fn flow_end(&mut self, id: FlowId, key: &FlowKey, stats: &FlowStats) {
        let seq = self.next_seq();
        let fk = (key.transport, id);
        if self.workers.is_empty() {
            return self.local.flow_end(id, key, stats);
        }
        if matches!(self.routes.get(&fk), Some(Route::Waiting(_))) {
            let w = self.spread(fk);
            self.settle(fk, Route::Worker(w));
        }
        match self.routes.remove(&fk) {
            Some(Route::Local) => self.local.flow_end(id, key, stats),
            Some(Route::Worker(w)) => {
                let name = self.local.dns_name(key.server.ip());
                let end = End {
                    key: key.clone(),
                    stats: stats.clone(),
                    name,
                };
                self.workers[w].send(Ev::End(seq, id, Box::new(end)), &[]);
            }
            _ => {}
        }
    }
}

struct End {
    key: FlowKey,
    stats: FlowStats,
    name: Option<String>,
}

/// One decoder event, with its sequence number; the bytes of `Data` and `Datagram` are the
/// range `start..start+len` of the batch's byte buffer.
enum Ev {
    Start(u64, FlowId, Box<FlowKey>, PacketMeta),
    Data(u64, FlowId, Direction, usize, usize, PacketMeta),
    Gap(u64, FlowId, Direction, u64, PacketMeta),
    Datagram(u64, FlowId, Direction, usize, usize, PacketMeta),
    End(u64, FlowId, Box<End>),
    Keys(Arc<pc_tlsdec::keylog::KeyLog>),
}

impl Ev {
    fn range(&self) -> (usize, usize) {
        match self {
            Ev::Data(_, _, _, s, l, _) | Ev::Datagram(_, _, _, s, l, _) => (*s, s + l),
            _ => (0, 0),
        }
    }

    /// The same event with its bytes at `at` of a buffer.
    fn rebase(self, at: usize) -> Ev {
        match self {
            Ev::Data(q, i, d, _, l, m) => Ev::Data(q, i, d, at, l, m),
            Ev::Datagram(q, i, d, _, l, m) => Ev::Datagram(q, i, d, at, l, m),
            e => e,
        }
    }

    /// Run the event on an analysis, `data` being its bytes.
    fn apply(self, a: &mut Analysis<'_>, data: &[u8]) {
        match self {
            Ev::Start(q, id, key, meta) => {
                a.out.result.seq = q;
                a.flow_start(id, &key, &meta);
            }
            Ev::Data(q, id, dir, _, _, meta) => {
                a.out.result.seq = q;
                a.stream_data(id, dir, data, &meta);
            }
            Ev::Gap(q, id, dir, missing, meta) => {
                a.out.result.seq = q;
                a.stream_gap(id, dir, missing, &meta);
            }
            Ev::Datagram(q, id, dir, _, _, meta) => {
                a.out.result.seq = q;
                a.datagram(id, dir, data, &meta);
            }
            Ev::End(q, id, end) => {
                a.out.result.seq = q;
                a.end_flow(id, &end.key, &end.stats, end.name);
            }
            Ev::Keys(keys) => a.out.keys = keys,
        }
    }
}

#[derive(Default)]
struct Batch {
    events: Vec<Ev>,
    data: Vec<u8>,
}

struct Worker {
    batch: Batch,
    tx: Option<SyncSender<Batch>>,
    /// Emptied batches come back for reuse, so steady state allocates nothing.
    spare: Receiver<Batch>,
    handle: JoinHandle<CaptureResult>,
}

impl Worker {
    fn spawn(
        ctx: Arc<Ctx>,
        part: CaptureResult,
        keys: Arc<pc_tlsdec::keylog::KeyLog>,
        events: Option<EventSink>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Batch>(QUEUE);
        let (back, spare) = sync_channel::<Batch>(QUEUE + 2);
        let work = move || {
            let mut a = Analysis::new(&ctx, part);
            a.out.keys = keys;
            a.out.events = events;
            for mut batch in rx {
                for ev in batch.events.drain(..) {
                    let (s, e) = ev.range();
                    ev.apply(&mut a, &batch.data[s..e]);
                }
                batch.data.clear();
                let _ = back.try_send(batch);
            }
            a.out.result
        };
        // Named, so that profiles and `top -H` show the workers apart from the reader.
        let handle = std::thread::Builder::new()
            .name("pc-traffic-worker".into())
            .spawn(work)?;
        Ok(Worker {
            batch: Batch::default(),
            tx: Some(tx),
            spare,
            handle,
        })
    }

    fn send(&mut self, ev: Ev, data: &[u8]) {
        let ev = ev.rebase(self.batch.data.len());
        self.batch.data.extend_from_slice(data);
        self.batch.events.push(ev);
        if self.batch.events.len() >= BATCH_EVENTS || self.batch.data.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.batch.events.is_empty() {
            return;
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, next);
        if let Some(tx) = &self.tx {
            // A worker that stopped (it cannot, short of a bug) is reported at `join`.
            let _ = tx.send(full);
        }
    }

    fn join(mut self) -> Option<CaptureResult> {
        self.flush();
        self.tx = None;
        self.handle.join().ok()
    }
}
