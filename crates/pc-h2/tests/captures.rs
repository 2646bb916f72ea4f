//! Real cleartext HTTP/2 captures, compared with tshark's view in tests/data/oracle.

#[path = "support/capture.rs"]
mod support;

use pc_h2::{Connection, Message};
use pc_net::{Direction, FlowId, FlowKey, FlowSink, FlowStats, PacketMeta};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data");

/// Per-direction stream bytes of one TCP flow, in delivery order.
#[derive(Default)]
struct Flow {
    key: Option<FlowKey>,
    chunks: Vec<(bool, Vec<u8>)>,
    gaps: u64,
}

#[derive(Default)]
struct Sink {
    flows: BTreeMap<FlowId, Flow>,
}

impl FlowSink for Sink {
    fn flow_start(&mut self, id: FlowId, key: &FlowKey, _: &PacketMeta) {
        self.flows.entry(id).or_default().key = Some(key.clone());
    }
    fn stream_data(&mut self, id: FlowId, dir: Direction, data: &[u8], _: &PacketMeta) {
        let f = self.flows.entry(id).or_default();
        f.chunks.push((dir == Direction::ToServer, data.to_vec()));
    }
    fn stream_gap(&mut self, id: FlowId, _: Direction, _: u64, _: &PacketMeta) {
        self.flows.entry(id).or_default().gaps += 1;
    }
    fn datagram(&mut self, _: FlowId, _: Direction, _: &[u8], _: &PacketMeta) {}
    fn flow_end(&mut self, _: FlowId, _: &FlowKey, _: &FlowStats) {}
}

fn tcp_flows(rel: &str) -> BTreeMap<FlowId, Flow> {
    let mut sink = Sink::default();
    support::decode_capture(&Path::new(DATA).join(rel), &mut sink);
    sink.flows.retain(|_, f| {
        f.key
            .as_ref()
            .is_some_and(|k| k.transport == pc_net::Transport::Tcp)
    });
    sink.flows
}

fn oracle(rel: &str) -> Value {
    let p = Path::new(DATA).join(format!("oracle/{rel}.json"));
    serde_json::from_str(&std::fs::read_to_string(p).expect("oracle")).expect("json")
}

fn s(v: Option<&[u8]>) -> String {
    String::from_utf8_lossy(v.unwrap_or_default()).into_owned()
}

/// Run a prior-knowledge connection over every chunk; returns messages per TCP flow.
fn run(flow: &Flow, mut conn: Connection) -> Vec<Message> {
    let mut out = Vec::new();
    for (to_server, chunk) in &flow.chunks {
        conn.push(*to_server, chunk, &mut out).expect("push");
    }
    conn.finish(&mut out);
    out
}

/// (tcp stream, stream id, method, authority, path) of requests.
fn requests(msgs: &BTreeMap<FlowId, Vec<Message>>) -> Vec<(u64, u64, String, String, String)> {
    let mut v: Vec<_> = msgs
        .iter()
        .flat_map(|(id, ms)| {
            ms.iter().filter(|m| m.to_server).map(move |m| {
                (
                    *id,
                    u64::from(m.stream_id),
                    s(m.method()),
                    s(m.authority()),
                    s(m.path()),
                )
            })
        })
        .collect();
    v.sort();
    v
}

/// The rows of the oracle's list `key`, made by `row`, sorted.
fn oracle_rows<T: Ord>(o: &Value, key: &str, row: impl Fn(&Value) -> T) -> Vec<T> {
    let mut v: Vec<T> = o[key].as_array().expect("array").iter().map(row).collect();
    v.sort();
    v
}

/// (tcp stream, stream id) of one of the oracle's rows.
fn stream_of(r: &Value) -> (u64, u64) {
    (
        r["tcp_stream"].as_u64().expect("tcp_stream"),
        r["stream_id"].as_u64().expect("stream_id"),
    )
}

fn text(r: &Value, key: &str) -> String {
    r[key].as_str().unwrap_or_default().to_owned()
}

fn oracle_requests(o: &Value) -> Vec<(u64, u64, String, String, String)> {
    oracle_rows(o, "http2_requests", |r| {
        let (tcp, stream) = stream_of(r);
        (
            tcp,
            stream,
            text(r, "method"),
            text(r, "authority"),
            text(r, "path"),
        )
    })
}

/// (tcp stream, stream id, status, content-type) of responses.
fn responses(msgs: &BTreeMap<FlowId, Vec<Message>>) -> Vec<(u64, u64, u64, String)> {
    let mut v: Vec<_> = msgs
        .iter()
        .flat_map(|(id, ms)| {
            ms.iter().filter(|m| !m.to_server).map(move |m| {
                (
                    *id,
                    u64::from(m.stream_id),
                    u64::from(m.status().unwrap_or(0)),
                    s(m.header("content-type")),
                )
            })
        })
        .collect();
    v.sort();
    v
}

fn oracle_responses(o: &Value) -> Vec<(u64, u64, u64, String)> {
    oracle_rows(o, "http2_responses", |r| {
        let (tcp, stream) = stream_of(r);
        let status = r["status"].as_u64().expect("status");
        (tcp, stream, status, text(r, "content_type"))
    })
}

/// Prior-knowledge capture: every TCP flow starting with the preface.
fn prior_knowledge(rel: &str) -> BTreeMap<FlowId, Vec<Message>> {
    let flows = tcp_flows(rel);
    let mut msgs = BTreeMap::new();
    for (id, f) in &flows {
        let starts_with_preface = f
            .chunks
            .iter()
            .find(|(ts, _)| *ts)
            .is_some_and(|(_, c)| c.starts_with(&pc_h2::PREFACE[..c.len().min(24)]));
        if starts_with_preface && f.gaps == 0 {
            msgs.insert(*id, run(f, Connection::new()));
        }
    }
    assert!(!msgs.is_empty(), "{rel}: no HTTP/2 flow");
    msgs
}

#[test]
fn h2_14_headers_match_tshark() {
    let rel = "pcap/wireshark/packet-h2-14_headers.pcapng";
    let msgs = prior_knowledge(rel);
    let o = oracle(rel);
    assert_eq!(requests(&msgs), oracle_requests(&o));
    let ours = responses(&msgs);
    for r in oracle_responses(&o) {
        assert!(ours.contains(&r), "missing response {r:?} in {ours:?}");
    }
    // Every request carries the browser's headers, decoded through the dynamic table.
    for m in msgs.values().flatten().filter(|m| m.to_server) {
        assert_eq!(m.header(":scheme"), Some(&b"http"[..]));
        assert!(m.header("user-agent").is_some(), "{m:?}");
    }
}

#[test]
fn dns_over_http2_matches_tshark() {
    let rel = "pcap/suricata/dns-over-http2.pcap";
    let msgs = prior_knowledge(rel);
    let o = oracle(rel);
    assert_eq!(requests(&msgs), oracle_requests(&o));
    assert_eq!(responses(&msgs), oracle_responses(&o));
    // DoH responses are DNS messages: the answers' bodies are non-empty and complete.
    for m in msgs.values().flatten().filter(|m| !m.to_server) {
        assert!(m.complete && !m.body.is_empty(), "{m:?}");
        // DNS header: same id (0) as the query, QR bit set.
        assert_eq!(m.body.get(2).map(|b| b & 0x80), Some(0x80));
    }
}

#[test]
fn grpc_person_search_protobuf() {
    let rel = "pcap/wireshark/grpc_person_search_protobuf_with_image.pcapng.gz";
    let msgs = prior_knowledge(rel);
    let o = oracle(rel);
    assert_eq!(requests(&msgs), oracle_requests(&o));
    let ours = responses(&msgs);
    assert_eq!(ours, oracle_responses(&o));
    let all: Vec<&Message> = msgs.values().flatten().collect();
    let req = all.iter().find(|m| m.to_server).expect("request");
    let resp = all.iter().find(|m| !m.to_server).expect("response");
    // tshark: request messages carry field 1 = "Jason", "Lily".
    let names: Vec<Vec<u8>> = req
        .grpc
        .iter()
        .flat_map(|g| g.fields.iter())
        .filter(|f| f.path == "1")
        .filter_map(|f| match &f.value {
            pc_h2::protobuf::ProtoValue::Bytes(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec![b"Jason".to_vec(), b"Lily".to_vec()]);
    // Responses: Person{name=1, id=2, email=3, phones=4{number=1, type=2}, ...}.
    let fields: Vec<_> = resp.grpc.iter().flat_map(|g| g.fields.iter()).collect();
    let has = |path: &str, v: &pc_h2::protobuf::ProtoValue| {
        fields.iter().any(|f| f.path == path && &f.value == v)
    };
    use pc_h2::protobuf::ProtoValue::{Bytes, Varint};
    assert!(has("1", &Bytes(b"Jason".to_vec())));
    assert!(has("2", &Varint(1001)));
    assert!(has("3", &Bytes(b"Jason@example.com".to_vec())));
    assert!(has("4.1", &Bytes(b"87561234".to_vec())));
    assert!(has("4.1", &Bytes(b"13588886666".to_vec())));
    assert!(has("1", &Bytes(b"Lily".to_vec())));
    assert!(has("2", &Varint(1002)));
    assert!(has("4.1", &Bytes(b"18822228888".to_vec())));
    assert!(has("4.2", &Varint(2)));
    // The PNG (field 6) stays bytes.
    assert!(
        fields
            .iter()
            .any(|f| f.path == "6" && matches!(&f.value, Bytes(b) if b.starts_with(b"\x89PNG")))
    );
    assert!(resp.grpc.iter().all(|g| !g.compressed));
    assert_eq!(
        resp.trailers
            .iter()
            .find(|(n, _)| n == "grpc-status")
            .map(|(_, v)| v.as_slice()),
        Some(&b"0"[..])
    );
}

const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n";

/// End of an HTTP/1.1 header block.
fn head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

#[test]
fn h2c_upgrade_matches_tshark() {
    let rel = "pcap/suricata/http2-range.pcap";
    let flows = tcp_flows(rel);
    let mut msgs = BTreeMap::new();
    for (id, f) in &flows {
        let client: Vec<u8> = f
            .chunks
            .iter()
            .filter(|c| c.0)
            .flat_map(|c| c.1.clone())
            .collect();
        let server: Vec<u8> = f
            .chunks
            .iter()
            .filter(|c| !c.0)
            .flat_map(|c| c.1.clone())
            .collect();
        if !server.starts_with(b"HTTP/1.1 101") {
            continue;
        }
        let (Some(c), Some(sv)) = (head_end(&client), head_end(&server)) else {
            panic!("flow {id}: incomplete HTTP/1.1 upgrade");
        };
        let mut conn = Connection::after_upgrade();
        let mut out = Vec::new();
        // Interleave as captured would be ideal; per-direction order is all HTTP/2 needs.
        conn.push(true, &client[c..], &mut out).expect("client");
        conn.push(false, &server[sv..], &mut out).expect("server");
        conn.finish(&mut out);
        // The body is the requested range of the EICAR test file.
        let head = String::from_utf8_lossy(&client[..c]).into_owned();
        let range = head
            .lines()
            .find_map(|l| l.strip_prefix("Range: bytes="))
            .expect("Range header");
        let (a, b) = range.split_once('-').expect("range");
        let (a, b): (usize, usize) = (a.parse().expect("from"), b.parse().expect("to"));
        for m in &out {
            assert_eq!(m.body, &EICAR[a..=b.min(EICAR.len() - 1)]);
        }
        msgs.insert(*id, out);
    }
    let o = oracle(rel);
    assert_eq!(responses(&msgs), oracle_responses(&o));
    assert_eq!(requests(&msgs), oracle_requests(&o)); // none: the request was HTTP/1.1
    for m in msgs.values().flatten() {
        assert!(m.complete);
        assert!(m.header("content-range").is_some());
    }
}

#[test]
fn byte_by_byte_feeding_gives_the_same_messages() {
    let rel = "pcap/suricata/dns-over-http2.pcap";
    let flows = tcp_flows(rel);
    for f in flows.values() {
        let whole = run(f, Connection::new());
        let mut conn = Connection::new();
        let mut out = Vec::new();
        for (to_server, chunk) in &f.chunks {
            for b in chunk {
                conn.push(*to_server, std::slice::from_ref(b), &mut out)
                    .expect("push");
            }
        }
        conn.finish(&mut out);
        assert_eq!(out, whole);
    }
}
