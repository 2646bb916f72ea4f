//! Captures → UDP flows → pc-h3 connections, with a tiny NSS key log parser.
#![allow(dead_code)]

#[path = "../../../pc-h2/tests/support/capture.rs"]
mod support;

use pc_h3::{Connection, Event, H3Message, QuicSecrets, SecretSource};
use pc_net::{Direction, FlowId, FlowKey, FlowSink, FlowStats, PacketMeta};
use std::collections::BTreeMap;
use std::path::Path;

pub fn data(rel: &str) -> String {
    format!("{}/../../tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// NSS key log: client random → secrets.
#[derive(Default)]
pub struct KeyLog(BTreeMap<[u8; 32], QuicSecrets>);

impl KeyLog {
    pub fn parse(text: &[u8]) -> KeyLog {
        let mut k = KeyLog::default();
        for line in String::from_utf8_lossy(text).lines() {
            let mut it = line.split_whitespace();
            let (Some(label), Some(cr), Some(secret)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            // Some key logs (this corpus's h3-29 DSB) end lines with a stray backslash.
            let secret = secret.trim_end_matches(|c: char| !c.is_ascii_hexdigit());
            let (Ok(cr), Ok(secret)) = (hex::decode(cr), hex::decode(secret)) else {
                continue;
            };
            let Ok(cr) = <[u8; 32]>::try_from(cr) else {
                continue;
            };
            let e = k.0.entry(cr).or_default();
            let slot = match label {
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut e.client_handshake,
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut e.server_handshake,
                "CLIENT_TRAFFIC_SECRET_0" => &mut e.client_app,
                "SERVER_TRAFFIC_SECRET_0" => &mut e.server_app,
                "CLIENT_EARLY_TRAFFIC_SECRET" => &mut e.client_early,
                _ => continue,
            };
            *slot = Some(secret);
        }
        k
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl SecretSource for KeyLog {
    fn secrets(&self, client_random: &[u8; 32]) -> Option<QuicSecrets> {
        self.0.get(client_random).cloned()
    }
}

#[derive(Default)]
struct Sink {
    /// Datagrams in capture order: flow, to_server, payload.
    datagrams: Vec<(FlowId, bool, Vec<u8>)>,
}

impl FlowSink for Sink {
    fn flow_start(&mut self, _: FlowId, _: &FlowKey, _: &PacketMeta) {}
    fn stream_data(&mut self, _: FlowId, _: Direction, _: &[u8], _: &PacketMeta) {}
    fn stream_gap(&mut self, _: FlowId, _: Direction, _: u64, _: &PacketMeta) {}
    fn datagram(&mut self, id: FlowId, dir: Direction, data: &[u8], _: &PacketMeta) {
        self.datagrams
            .push((id, dir == Direction::ToServer, data.to_vec()));
    }
    fn flow_end(&mut self, _: FlowId, _: &FlowKey, _: &FlowStats) {}
}

/// One UDP flow, decoded.
pub struct Conn {
    pub id: FlowId,
    pub conn: Connection,
    pub events: Vec<Event>,
}

impl Conn {
    pub fn requests(&self) -> Vec<&H3Message> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Request(m) => Some(m),
                _ => None,
            })
            .collect()
    }
    pub fn responses(&self) -> Vec<&H3Message> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Response(m) => Some(m),
                _ => None,
            })
            .collect()
    }
    /// Raw stream bytes of one direction, concatenated per stream.
    pub fn raw(&self, to_server: bool) -> BTreeMap<u64, Vec<u8>> {
        let mut m: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for e in &self.events {
            if let Event::StreamData {
                stream_id,
                to_server: t,
                data,
            } = e
                && *t == to_server
            {
                m.entry(*stream_id).or_default().extend_from_slice(data);
            }
        }
        m
    }
}

/// The UDP datagrams of a capture, in order: (flow, to_server, payload).
pub fn datagrams(capture: &str) -> Vec<(FlowId, bool, Vec<u8>)> {
    let mut sink = Sink::default();
    support::decode_capture(Path::new(&data(capture)), &mut sink);
    sink.datagrams
}

/// Decode every UDP flow of a capture. Secrets come from the capture's Decryption Secrets
/// Blocks plus `keylog` (a file path relative to tests/data) if given.
pub fn run(capture: &str, keylog: Option<&str>) -> Vec<Conn> {
    let mut sink = Sink::default();
    let r = support::decode_capture(Path::new(&data(capture)), &mut sink);
    let mut text = Vec::new();
    for s in r.secrets() {
        text.extend_from_slice(&s.data);
        text.push(b'\n');
    }
    if let Some(k) = keylog {
        text.extend(std::fs::read(data(k)).expect("key log"));
    }
    let keys = KeyLog::parse(&text);
    let mut conns: BTreeMap<FlowId, Conn> = BTreeMap::new();
    for (id, to_server, d) in &sink.datagrams {
        let c = conns.entry(*id).or_insert_with(|| Conn {
            id: *id,
            conn: Connection::new(),
            events: Vec::new(),
        });
        c.conn.datagram(*to_server, d, &keys, &mut c.events);
    }
    for c in conns.values_mut() {
        c.conn.finish(&mut c.events);
    }
    conns.into_values().collect()
}

/// The oracle JSON of a capture, as text.
pub fn oracle(capture: &str) -> String {
    std::fs::read_to_string(data(&format!("oracle/pcap/{capture}.json"))).expect("oracle")
}
