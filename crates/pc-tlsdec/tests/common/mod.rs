//! Captures → TCP streams → TLS records → Session, exactly as the traffic engine wires it.
#![allow(dead_code)]

#[path = "../../../pc-h2/tests/support/capture.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use pc_net::{Direction, FlowId, FlowKey, FlowSink, FlowStats, PacketMeta};
use pc_proto::tls::RecordStream;
use pc_tlsdec::keylog::KeyLog;
use pc_tlsdec::{Outcome, Plain, ResumptionCache, Session, Stats};

pub fn data(rel: &str) -> String {
    format!("{}/../../tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// What came out of one TCP connection.
#[derive(Debug)]
pub struct Conn {
    pub id: FlowId,
    pub outcome: Outcome,
    pub plains: Vec<Plain>,
    pub stats: Stats,
    pub alpn: Option<String>,
    pub version: u16,
    pub suite: Option<u16>,
    pub encrypted: [u64; 2],
    pub decrypted: [u64; 2],
}

impl Conn {
    /// All plaintext of one direction, concatenated.
    pub fn text(&self, to_server: bool) -> Vec<u8> {
        self.plains
            .iter()
            .filter(|p| p.to_server == to_server)
            .flat_map(|p| p.data.iter().copied())
            .collect()
    }
    pub fn contains(&self, to_server: bool, needle: &str) -> bool {
        let t = self.text(to_server);
        t.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

struct Flow {
    streams: [RecordStream; 2],
    session: Session,
    plains: Vec<Plain>,
}

struct Sink {
    keys: Arc<KeyLog>,
    cache: Arc<Mutex<ResumptionCache>>,
    flows: BTreeMap<FlowId, Flow>,
    done: Vec<Conn>,
}

impl FlowSink for Sink {
    fn flow_start(&mut self, id: FlowId, key: &FlowKey, _meta: &PacketMeta) {
        if key.transport != pc_net::Transport::Tcp {
            return;
        }
        self.flows.insert(
            id,
            Flow {
                streams: [RecordStream::new(), RecordStream::new()],
                session: Session::new_with(self.keys.clone(), self.cache.clone()),
                plains: Vec::new(),
            },
        );
    }
    fn stream_data(&mut self, id: FlowId, dir: Direction, data: &[u8], _meta: &PacketMeta) {
        let Some(f) = self.flows.get_mut(&id) else {
            return;
        };
        let to_server = dir == Direction::ToServer;
        let mut events = Vec::new();
        let Flow {
            streams,
            session,
            plains,
        } = f;
        let _ = streams[dir.index()].push_with(data, &mut events, |frag| {
            session.fragment(to_server, frag, plains)
        });
    }
    fn stream_gap(&mut self, id: FlowId, dir: Direction, missing: u64, _meta: &PacketMeta) {
        if let Some(f) = self.flows.get_mut(&id) {
            f.streams[dir.index()].gap_len(missing);
            f.session.gap(dir == Direction::ToServer);
        }
    }
    fn datagram(&mut self, _: FlowId, _: Direction, _: &[u8], _: &PacketMeta) {}
    fn flow_end(&mut self, id: FlowId, key: &FlowKey, _stats: &FlowStats) {
        if key.transport != pc_net::Transport::Tcp {
            return;
        }
        if let Some(f) = self.flows.remove(&id) {
            let s = &f.session;
            self.done.push(Conn {
                id,
                outcome: s.outcome(),
                stats: *s.stats(),
                alpn: s.alpn().map(str::to_owned),
                version: s.version(),
                suite: s.cipher_suite(),
                encrypted: s.encrypted_bytes(),
                decrypted: s.decrypted_bytes(),
                plains: f.plains,
            });
        }
    }
}

/// Key log text embedded in a capture's Decryption Secrets Blocks.
pub fn dsb_keys(path: &str) -> Vec<u8> {
    let mut r = pc_capture::CaptureReader::open(Path::new(path)).expect("open capture");
    while r.next_packet().expect("read").is_some() {}
    let mut out = Vec::new();
    for s in r.secrets() {
        if s.secrets_type == pc_capture::SECRETS_TLS_KEYLOG {
            out.extend_from_slice(&s.data);
            out.push(b'\n');
        }
    }
    out
}

/// Decrypt every TCP connection of a capture with `keys`; connections in order of their end.
pub fn run(path: &str, keys: KeyLog) -> Vec<Conn> {
    let mut sink = Sink {
        keys: Arc::new(keys),
        cache: ResumptionCache::shared(),
        flows: BTreeMap::new(),
        done: Vec::new(),
    };
    support::decode_capture(Path::new(path), &mut sink);
    sink.done.sort_by_key(|c| c.id);
    sink.done
}

pub fn keyfile(rel: &str) -> KeyLog {
    KeyLog::parse(&std::fs::read(data(rel)).expect("key log"))
}
