//! Packet captures: packets → flows (pc-net) → protocol analyzers (pc-proto) → matcher.

use crate::agg::LocalHits;
use crate::ctx::{Ctx, HitField, all, scan_field};
use crate::event::{DestinationEvent, DnsEvent, Event, EventSink, FindingEvent};
use crate::h1::{Done, ReqBody, ReqSink};
use crate::model::{Cut, Handshake, Protocol, Request};
use crate::result::{CaptureResult, DestKey, DnsKey, FindingKey};
use crate::seam::{RAW_OVERLAP, Seam};
use foldhash::HashMap;
use pc_net::{Direction, FlowId, FlowKey, FlowSink, FlowStats, PacketMeta, Transport};
use pc_proto::{AppProto, dns, gquic, http1, quic, tls};
use std::net::IpAddr;
use std::sync::Arc;

/// QUIC secrets from the capture's key log, by client random.
struct KeySource<'a>(&'a pc_tlsdec::keylog::KeyLog);

impl pc_h3::SecretSource for KeySource<'_> {
    fn secrets(&self, client_random: &[u8; 32]) -> Option<pc_h3::QuicSecrets> {
        let s = self.0.lookup(client_random)?;
        Some(pc_h3::QuicSecrets {
            client_handshake: s.client_handshake.clone(),
            server_handshake: s.server_handshake.clone(),
            client_app: s.client_traffic_0.clone(),
            server_app: s.server_traffic_0.clone(),
            client_early: s.client_early.clone(),
        })
    }
}

/// Flow ids are numbered per transport (like tshark's tcp.stream / udp.stream).
type Fk = (Transport, FlowId);

/// DNS answers kept to name destinations; beyond this the oldest names are not replaced.
const MAX_DNS_NAMES: usize = 1_000_000;
/// Server bytes kept while waiting for the client's first bytes.
pub(crate) const MAX_EARLY_SERVER: usize = 64 * 1024;

/// HTTP over one connection, whether its bytes came in clear or out of TLS.
enum HttpConn {
    /// HTTP/1.x: the requests are parsed; the responses are not (nothing the phone sends is
    /// in them), but for a `101 Switching Protocols` after an upgrade request.
    H1 {
        req: Box<http1::Parser>,
        body: Box<ReqBody>,
        /// The client asked to upgrade to cleartext HTTP/2 (`Upgrade: h2c`).
        h2c: bool,
        /// The client asked to upgrade to WebSocket.
        ws: bool,
    },
    H2(Box<pc_h2::Connection>),
    /// After `Upgrade: websocket`: the client's frames.
    Ws(Box<pc_h2::websocket::WsStream>),
    /// Not HTTP: searched as raw bytes.
    Raw,
}

impl HttpConn {
    fn h1() -> Self {
        HttpConn::H1 {
            req: Box::new(http1::Parser::requests()),
            body: Box::default(),
            h2c: false,
            ws: false,
        }
    }

    fn h2() -> Self {
        HttpConn::H2(Box::new(pc_h2::Connection::new()))
    }
}

/// What a request parser is given.
enum H1Step<'a> {
    Push(&'a [u8]),
    Gap(u64),
    Finish,
}

/// Where an HTTP/1.1 response switches to HTTP/2 after `Upgrade: h2c`: just past the headers
/// of a `101` response in `data`, if there is one.
fn after_switching_protocols(data: &[u8]) -> Option<usize> {
    let at = memchr::memmem::find(data, b" 101 ")?;
    let line = data[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    if !data[line..].starts_with(b"HTTP/1.") {
        return None;
    }
    memchr::memmem::find(&data[at..], b"\r\n\r\n").map(|e| at + e + 4)
}

/// TLS decryption state of one connection and what runs on its plaintext.
struct Decrypt {
    session: pc_tlsdec::Session,
    inner: Option<HttpConn>,
}

enum Analyzer {
    Undecided,
    Http(HttpConn),
    Tls {
        c: tls::RecordStream,
        s: tls::RecordStream,
        /// Present when key material was given for the capture.
        dec: Option<Box<Decrypt>>,
    },
    Dns {
        c: dns::TcpFramer,
        s: dns::TcpFramer,
    },
    /// QUIC: Initial packets always (SNI), everything else when the key log has the secrets.
    Quic(Box<pc_h3::Connection>),
    /// Google QUIC: the client hello is read from the first client datagrams.
    Gquic {
        seen: u8,
    },
    DnsUdp,
    Raw,
}

struct Flow {
    key: FlowKey,
    analyzer: Analyzer,
    app: Option<Arc<str>>,
    http_host: Option<String>,
    sni: Option<String>,
    tls_version: Option<String>,
    handshake: Option<usize>,
    cleartext_sent: bool,
    hits: LocalHits,
    /// Raw bytes searched so far, for values split across segments.
    seam: Seam,
    /// Pieces of what the client sent that were cut, and bytes known not searched.
    cuts: u64,
    unsearched: u64,
    /// What the server sent before the client said anything (an HTTP/2 server's SETTINGS, a
    /// banner), kept until the client's first bytes tell the protocol.
    early_server: Vec<u8>,
}

impl Flow {
    fn protocol(&self) -> Protocol {
        match (&self.analyzer, self.key.transport) {
            (Analyzer::Http(_), _) => Protocol::Http,
            (Analyzer::Tls { .. }, _) => Protocol::Tls,
            (Analyzer::Dns { .. } | Analyzer::DnsUdp, _) => Protocol::Dns,
            (Analyzer::Quic(_), _) => Protocol::Quic,
            (Analyzer::Gquic { .. }, _) => Protocol::Gquic,
            (_, Transport::Tcp) => Protocol::Tcp,
            (_, Transport::Udp) => Protocol::Udp,
        }
    }
}

/// Whether a TCP flow decided on `data` (see `stream_data`) is analysed as TLS.
pub(crate) fn tcp_is_tls(dir: Direction, data: &[u8], server_port: u16) -> bool {
    let h2 = dir == Direction::ToServer && data.starts_with(pc_h2::PREFACE);
    !h2 && pc_proto::sniff_stream(data, server_port) == AppProto::Tls
}

/// What a UDP flow carries, told from its first datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UdpKind {
    Dns,
    Quic,
    Gquic,
    Raw,
}

/// Decides a UDP flow's analyzer from its first datagram. The pipeline asks it too, to keep
/// every DNS flow on the thread that names destinations.
pub(crate) fn udp_kind(key: &FlowKey, dir: Direction, data: &[u8]) -> UdpKind {
    let ports = [key.server.port(), key.client.port()];
    if ports.iter().any(|p| matches!(p, 53 | 5353 | 5355)) {
        UdpKind::Dns
    } else if dir == Direction::ToServer && quic::is_quic_long_header(data) {
        UdpKind::Quic
    } else if dir == Direction::ToServer && gquic::version(data).is_some() {
        UdpKind::Gquic
    } else if dir == Direction::ToServer
        && dns::parse(data).is_ok_and(|m| dns::is_plausible_query(&m))
    {
        // DNS on a port of its own.
        UdpKind::Dns
    } else {
        UdpKind::Raw
    }
}

/// The flow sink for one capture.
pub struct Analysis<'c> {
    ctx: &'c Ctx,
    pub result: CaptureResult,
    flows: HashMap<(Transport, FlowId), Flow>,
    dns_names: HashMap<IpAddr, String>,
    http_done: Vec<Done>,
    tls_out: Vec<tls::Event>,
    /// TLS secrets known so far (key log files and the capture's Decryption Secrets Blocks).
    pub keys: Arc<pc_tlsdec::keylog::KeyLog>,
    /// TLS 1.2 sessions resumed by id or ticket within this capture.
    resumption: Arc<std::sync::Mutex<pc_tlsdec::ResumptionCache>>,
    /// Where decided facts go as they are decided (live capture), if anywhere.
    pub events: Option<EventSink>,
}

impl<'c> Analysis<'c> {
    pub fn new(ctx: &'c Ctx, result: CaptureResult) -> Self {
        Analysis {
            ctx,
            result,
            flows: HashMap::default(),
            dns_names: HashMap::default(),
            http_done: Vec::new(),
            tls_out: Vec::new(),
            keys: Arc::new(pc_tlsdec::keylog::KeyLog::default()),
            resumption: pc_tlsdec::ResumptionCache::shared(),
            events: None,
        }
    }
}

/// Scan `data` and add every hit to `hits`; true when the search stopped short.
#[allow(clippy::too_many_arguments)]
fn scan_into(
    ctx: &Ctx,
    hits: &mut LocalHits,
    data: &[u8],
    location: &str,
    protocol: Protocol,
    encrypted: bool,
    host: Option<&str>,
    meta: &PacketMeta,
) -> bool {
    let field = HitField {
        location,
        protocol,
        encrypted,
        host,
    };
    scan_field(
        ctx,
        hits,
        data,
        &all,
        &field,
        Some(meta.ts),
        Some(meta.frame),
        None,
    )
    .incomplete
}

/// How a flow is named in a cut.
fn flow_name(key: &FlowKey) -> String {
    let t = match key.transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    };
    format!("{t} {} -> {}", key.client, key.server)
}

impl Analysis<'_> {
    /// Note a cut in what the client of flow `id` sent: not all of it was searched.
    fn cut(&mut self, id: Fk, meta: &PacketMeta, what: String, bytes: u64) {
        let flow = self.flows.get_mut(&id).map(|f| {
            f.cuts += 1;
            f.unsearched = f.unsearched.saturating_add(bytes);
            flow_name(&f.key)
        });
        self.result.add_cut(Cut {
            frame: Some(meta.frame),
            entry: None,
            flow,
            what,
            bytes,
        });
    }

    /// An HTTP/1.x request that ended: recorded, its start line and fields searched (its body
    /// was searched as it came), and whatever of it could not be read noted as a cut.
    fn http_request(
        &mut self,
        id: Fk,
        done: &Done,
        meta: &PacketMeta,
        protocol: Protocol,
        encrypted: bool,
    ) {
        let ctx = self.ctx;
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        let msg = &done.head;
        let http1::StartLine::Request { method, target, .. } = &msg.start else {
            return;
        };
        let host = msg
            .header("host")
            .map(|v| String::from_utf8_lossy(v).trim().to_string());
        if flow.http_host.is_none() {
            flow.http_host = host.as_deref().map(strip_port).map(str::to_string);
        }
        self.result.push_request(Request {
            capture: self.result.input.path.clone(),
            phase: self.result.input.phase.clone(),
            frame: Some(meta.frame),
            entry: None,
            method: method.clone(),
            host: host.clone(),
            path: target.clone(),
            protocol,
            ip: Some(flow.key.server.ip().to_string()),
            port: Some(flow.key.server.port()),
            app: flow.app.as_deref().map(str::to_string),
        });
        let mut incomplete = done.incomplete;
        incomplete |= scan_into(
            ctx,
            &mut flow.hits,
            target.as_bytes(),
            "url",
            protocol,
            encrypted,
            None,
            meta,
        );
        for (name, value) in msg.headers.iter().chain(&done.end.trailers) {
            let lname = name.to_ascii_lowercase();
            let loc = if lname == "cookie" {
                "cookie".to_string()
            } else {
                format!("header:{lname}")
            };
            incomplete |= scan_into(
                ctx,
                &mut flow.hits,
                value,
                &loc,
                protocol,
                encrypted,
                None,
                meta,
            );
        }
        let what = if done.end.truncated {
            Some(if done.end.lost > 0 {
                format!(
                    "{method} request body incomplete: {} bytes lost in the capture",
                    done.end.lost
                )
            } else {
                format!("{method} request body cut off (stream ended or could not be parsed)")
            })
        } else if done.decode.is_cut() {
            let stop = done.decode.stop.map(|s| s.to_string()).unwrap_or_default();
            Some(format!(
                "{method} request body searched for {} decoded bytes only: {stop}",
                done.decode.decoded
            ))
        } else if incomplete {
            Some(format!(
                "{method} request: encoded values past the matcher's decoding budget not searched"
            ))
        } else {
            None
        };
        if let Some(what) = what {
            let bytes = done.end.lost.saturating_add(done.decode.encoded_unread);
            self.cut(id, meta, what, bytes);
        }
    }

    /// One step of a connection's request parser, then the requests it ended.
    #[allow(clippy::too_many_arguments)]
    fn h1_run(
        &mut self,
        id: Fk,
        req: &mut http1::Parser,
        body: &mut ReqBody,
        step: H1Step<'_>,
        meta: &PacketMeta,
        protocol: Protocol,
        encrypted: bool,
    ) -> Vec<Done> {
        let mut done = std::mem::take(&mut self.http_done);
        let ctx = self.ctx;
        let Some(flow) = self.flows.get_mut(&id) else {
            return done;
        };
        let mut sink = ReqSink {
            ctx,
            hits: &mut flow.hits,
            body,
            done: &mut done,
            field: HitField {
                location: "body",
                protocol,
                encrypted,
                host: None,
            },
            ts: Some(meta.ts),
            frame: Some(meta.frame),
        };
        let parsed = match step {
            H1Step::Push(data) => req.push_to(data, &mut sink),
            H1Step::Gap(n) => {
                req.gap_to(n, &mut sink);
                Ok(())
            }
            H1Step::Finish => {
                req.finish_to(&mut sink);
                Ok(())
            }
        };
        for d in done.iter().filter(|d| !is_h2_preface(&d.head)) {
            self.http_request(id, d, meta, protocol, encrypted);
        }
        if let Err(e) = parsed {
            self.cut(id, meta, format!("HTTP request stream: {e}"), 0);
        }
        done
    }

    /// Hand back the list `h1_run` returned, for reuse.
    fn h1_recycle(&mut self, mut done: Vec<Done>) {
        done.clear();
        self.http_done = done;
    }

    fn dns_message(&mut self, id: Fk, msg: &dns::Message, meta: &PacketMeta) {
        let ctx = self.ctx;
        let phase = self.result.input.phase.clone();
        let transport = match self.flows.get(&id) {
            Some(f) if f.key.server.port() == 5353 || f.key.client.port() == 5353 => "mdns",
            _ if id.0 == Transport::Tcp => "tcp",
            _ => "udp",
        };
        if !msg.response {
            for q in &msg.questions {
                if let Some(e) = self.result.dns_entry(DnsKey {
                    name: q.name.to_ascii_lowercase(),
                    qtype: q.qtype,
                }) {
                    e.count += 1;
                    e.transports.insert(transport);
                    e.phases.insert(phase.clone());
                }
                if let Some(flow) = self.flows.get_mut(&id) {
                    scan_into(
                        ctx,
                        &mut flow.hits,
                        q.name.as_bytes(),
                        "dns",
                        Protocol::Dns,
                        false,
                        Some(&q.name),
                        meta,
                    );
                }
            }
            return;
        }
        // Name every address in the answer after the question asked, which is what the app
        // looked up (CNAME targets are CDN names).
        let asked = msg.questions.first().map(|q| q.name.to_ascii_lowercase());
        if let (Some(sink), Some(name)) = (&self.events, &asked) {
            let answers: Vec<String> = msg
                .answers
                .iter()
                .filter_map(|rr| match rr.data {
                    dns::RData::A(a) => Some(a.to_string()),
                    dns::RData::Aaaa(a) => Some(a.to_string()),
                    _ => None,
                })
                .collect();
            if !answers.is_empty() {
                sink(Event::Dns(DnsEvent {
                    name: name.clone(),
                    answers,
                    frame: meta.frame,
                }));
            }
        }
        for rr in &msg.answers {
            let ip: IpAddr = match rr.data {
                dns::RData::A(a) => a.into(),
                dns::RData::Aaaa(a) => a.into(),
                _ => continue,
            };
            let name = asked
                .clone()
                .unwrap_or_else(|| rr.name.to_ascii_lowercase());
            if let Some(q) = msg.questions.first() {
                let phase = self.result.input.phase.clone();
                let mut answer_left_out = false;
                if let Some(e) = self.result.dns_entry(DnsKey {
                    name: q.name.to_ascii_lowercase(),
                    qtype: q.qtype,
                }) {
                    e.transports.insert(transport);
                    e.phases.insert(phase);
                    let ip = ip.to_string();
                    if e.answers.len() < crate::model::MAX_DNS_ANSWERS || e.answers.contains(&ip) {
                        e.answers.insert(ip);
                    } else {
                        answer_left_out = true;
                    }
                }
                if answer_left_out {
                    self.result.input.omitted.dns_answers += 1;
                }
            }
            if self.dns_names.len() < MAX_DNS_NAMES || self.dns_names.contains_key(&ip) {
                self.dns_names.insert(ip, name);
            }
        }
    }

    fn client_hello(
        &mut self,
        id: Fk,
        ch: &tls::ClientHello,
        protocol: Protocol,
        meta: &PacketMeta,
    ) {
        let ctx = self.ctx;
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        if flow.sni.is_none() {
            flow.sni = ch.sni.clone();
        }
        if let Some(sni) = &ch.sni {
            scan_into(
                ctx,
                &mut flow.hits,
                sni.as_bytes(),
                "sni",
                protocol,
                false,
                None,
                meta,
            );
        }
        if flow.handshake.is_none() {
            flow.handshake = Some(
                self.result.push_handshake(Handshake {
                    capture: self.result.input.path.clone(),
                    frame: meta.frame,
                    protocol,
                    server_ip: flow.key.server.ip().to_string(),
                    server_port: flow.key.server.port(),
                    sni: ch.sni.clone(),
                    alpn: ch.alpn.clone(),
                    versions_offered: ch
                        .versions
                        .iter()
                        .map(|v| tls::version_name(*v).to_string())
                        .collect(),
                    version_chosen: None,
                    decryption: None,
                    encrypted_bytes: 0,
                    decrypted_bytes: 0,
                }),
            );
        }
    }

    fn raw(&mut self, id: Fk, data: &[u8], meta: &PacketMeta) {
        let Some(protocol) = self.flows.get(&id).map(Flow::protocol) else {
            return;
        };
        self.raw_as(id, data, meta, protocol, false);
    }

    /// Search stream bytes of no known protocol, keeping a tail so that values split across
    /// chunks are found.
    fn raw_as(
        &mut self,
        id: Fk,
        data: &[u8],
        meta: &PacketMeta,
        protocol: Protocol,
        encrypted: bool,
    ) {
        let ctx = self.ctx;
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        flow.cleartext_sent |= !encrypted;
        let field = HitField {
            location: "payload",
            protocol,
            encrypted,
            host: None,
        };
        let incomplete = flow.seam.scan(
            ctx,
            &mut flow.hits,
            data,
            RAW_OVERLAP,
            &field,
            Some(meta.ts),
            Some(meta.frame),
            None,
        );
        if incomplete {
            self.cut(
                id,
                meta,
                format!("{protocol} payload: encoded values past the matcher's decoding budget not searched"),
                0,
            );
        }
    }

    /// HTTP bytes of one direction, from the wire or out of TLS.
    #[allow(clippy::too_many_arguments)]
    fn http_bytes(
        &mut self,
        id: Fk,
        dir: Direction,
        data: &[u8],
        meta: &PacketMeta,
        conn: &mut HttpConn,
        protocol: Protocol,
        encrypted: bool,
    ) {
        match conn {
            HttpConn::H1 { req, body, h2c, ws } => {
                let mut switch_at = None;
                if dir == Direction::ToServer {
                    let done =
                        self.h1_run(id, req, body, H1Step::Push(data), meta, protocol, encrypted);
                    for d in &done {
                        let upgrade = |to: &[u8]| {
                            d.head.headers.iter().any(|(n, v)| {
                                n.eq_ignore_ascii_case("upgrade")
                                    && v.windows(to.len()).any(|w| w.eq_ignore_ascii_case(to))
                            })
                        };
                        *h2c |= upgrade(b"h2c");
                        *ws |= upgrade(b"websocket");
                    }
                    self.h1_recycle(done);
                } else if *h2c || *ws {
                    // After `101 Switching Protocols` the connection speaks HTTP/2 or WebSocket.
                    switch_at = after_switching_protocols(data);
                }
                if let Some(at) = switch_at {
                    let websocket = matches!(
                        conn,
                        HttpConn::H1 {
                            ws: true,
                            h2c: false,
                            ..
                        }
                    );
                    *conn = if websocket {
                        HttpConn::Ws(Box::new(pc_h2::websocket::WsStream::new()))
                    } else {
                        HttpConn::H2(Box::new(pc_h2::Connection::after_upgrade()))
                    };
                    self.http_bytes(id, dir, &data[at..], meta, conn, protocol, encrypted);
                }
            }
            HttpConn::Ws(ws) => {
                // What the phone sends over the socket; the server's frames are not searched.
                if dir == Direction::ToServer {
                    let mut frames = Vec::new();
                    let _ = ws.push(data, &mut frames);
                    let ctx = self.ctx;
                    if let Some(flow) = self.flows.get_mut(&id) {
                        for f in &frames {
                            scan_into(
                                ctx,
                                &mut flow.hits,
                                &f.payload,
                                "websocket",
                                protocol,
                                encrypted,
                                None,
                                meta,
                            );
                        }
                    }
                }
            }
            HttpConn::H2(h2) => {
                let mut out = Vec::new();
                let _ = h2.push(dir == Direction::ToServer, data, &mut out);
                for m in &out {
                    self.h2_message(id, m, meta, encrypted);
                }
            }
            HttpConn::Raw => {
                if dir == Direction::ToServer {
                    self.raw_as(id, data, meta, protocol, encrypted);
                }
            }
        }
    }

    /// One HTTP/2 message: requests are recorded and searched (headers, body, gRPC messages
    /// and their protobuf fields, WebSocket frames the client sent).
    fn h2_message(&mut self, id: Fk, m: &pc_h2::Message, meta: &PacketMeta, encrypted: bool) {
        if !m.to_server {
            return;
        }
        let ctx = self.ctx;
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        let text = |v: Option<&[u8]>| v.map(|b| String::from_utf8_lossy(b).into_owned());
        let authority = text(m.authority());
        let path = text(m.path()).unwrap_or_default();
        if flow.http_host.is_none() {
            flow.http_host = authority.as_deref().map(strip_port).map(str::to_string);
        }
        if m.method().is_some() || !path.is_empty() {
            self.result.push_request(Request {
                capture: self.result.input.path.clone(),
                phase: self.result.input.phase.clone(),
                frame: Some(meta.frame),
                entry: None,
                method: text(m.method()).unwrap_or_default(),
                host: authority,
                path: path.clone(),
                protocol: Protocol::Http2,
                ip: Some(flow.key.server.ip().to_string()),
                port: Some(flow.key.server.port()),
                app: flow.app.as_deref().map(str::to_string),
            });
        }
        let mut incomplete = false;
        let mut scan = |hits: &mut LocalHits, data: &[u8], location: &str| {
            incomplete |= scan_into(ctx, hits, data, location, Protocol::Http2, encrypted, None, meta);
        };
        scan(&mut flow.hits, path.as_bytes(), "url");
        for (name, value) in m.headers.iter().chain(&m.trailers) {
            match name.as_str() {
                ":path" => {}
                "cookie" => scan(&mut flow.hits, value, "cookie"),
                n => scan(&mut flow.hits, value, &format!("header:{n}")),
            }
        }
        if !m.body.is_empty() {
            scan(&mut flow.hits, &m.body, "body");
        }
        for g in &m.grpc {
            if g.compressed && g.decompressed {
                scan(&mut flow.hits, &g.data, "grpc");
            }
            // Numbers travel as varints: an IMEI sent as an int64 field is only found in its
            // decimal form.
            for f in &g.fields {
                if let pc_h2::protobuf::ProtoValue::Varint(v) = f.value {
                    scan(
                        &mut flow.hits,
                        v.to_string().as_bytes(),
                        &format!("grpc:{}", f.path),
                    );
                }
            }
        }
        for w in &m.websocket {
            scan(&mut flow.hits, &w.payload, "websocket");
        }
        if m.body_truncated || incomplete {
            let what = if m.body_truncated {
                format!(
                    "HTTP/2 stream {}: request body cut (limit, reset or gap)",
                    m.stream_id
                )
            } else {
                format!(
                    "HTTP/2 stream {}: encoded values past the matcher's decoding budget not searched",
                    m.stream_id
                )
            };
            self.cut(id, meta, what, 0);
        }
    }

    /// What a decrypted QUIC connection carried: HTTP/3 requests, or raw stream bytes.
    fn h3_events(&mut self, id: Fk, events: &[pc_h3::Event], meta: &PacketMeta) {
        let ctx = self.ctx;
        for ev in events {
            match ev {
                pc_h3::Event::Request(m) => {
                    let Some(flow) = self.flows.get_mut(&id) else {
                        return;
                    };
                    let text = |n: &str| m.header(n).map(|v| v.into_owned());
                    let authority = text(":authority");
                    let path = text(":path").unwrap_or_default();
                    if flow.http_host.is_none() {
                        flow.http_host = authority.as_deref().map(strip_port).map(str::to_string);
                    }
                    self.result.push_request(Request {
                        capture: self.result.input.path.clone(),
                        phase: self.result.input.phase.clone(),
                        frame: Some(meta.frame),
                        entry: None,
                        method: text(":method").unwrap_or_default(),
                        host: authority,
                        path: path.clone(),
                        protocol: Protocol::Http3,
                        ip: Some(flow.key.server.ip().to_string()),
                        port: Some(flow.key.server.port()),
                        app: flow.app.as_deref().map(str::to_string),
                    });
                    let mut incomplete = false;
                    let mut scan = |hits: &mut LocalHits, data: &[u8], location: &str| {
                        incomplete |=
                            scan_into(ctx, hits, data, location, Protocol::Http3, true, None, meta);
                    };
                    scan(&mut flow.hits, path.as_bytes(), "url");
                    for (name, value) in &m.headers {
                        match name.as_str() {
                            ":path" => {}
                            "cookie" => scan(&mut flow.hits, value, "cookie"),
                            n => scan(&mut flow.hits, value, &format!("header:{n}")),
                        }
                    }
                    if !m.body.is_empty() {
                        scan(&mut flow.hits, &m.body, "body");
                    }
                    if m.body_truncated || incomplete {
                        let what = if m.body_truncated {
                            "HTTP/3 request body cut (limit or lost stream data)"
                        } else {
                            "HTTP/3 request: encoded values past the matcher's decoding budget not searched"
                        };
                        self.cut(id, meta, what.to_string(), 0);
                    }
                }
                pc_h3::Event::StreamData {
                    to_server: true,
                    data,
                    ..
                } => {
                    self.raw_as(id, data, meta, Protocol::Quic, true);
                }
                _ => {}
            }
        }
    }

    /// Decrypted TLS application data: HTTP/1.x, HTTP/2, or raw bytes.
    fn tls_plain(&mut self, id: Fk, plain: &[pc_tlsdec::Plain], meta: &PacketMeta) {
        for p in plain {
            let Some(flow) = self.flows.get_mut(&id) else {
                return;
            };
            let Analyzer::Tls { dec: Some(dec), .. } = &mut flow.analyzer else {
                return;
            };
            let mut conn = match dec.inner.take() {
                Some(c) => c,
                None if p.to_server => {
                    if dec.session.alpn() == Some("h2") || p.data.starts_with(pc_h2::PREFACE) {
                        HttpConn::h2()
                    } else if pc_proto::sniff_stream(&p.data, 443) == AppProto::Http1 {
                        HttpConn::h1()
                    } else {
                        HttpConn::Raw
                    }
                }
                // Wait for the client to speak first to tell the protocol.
                None => continue,
            };
            let dir = if p.to_server {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            self.http_bytes(id, dir, &p.data, meta, &mut conn, Protocol::HttpsDecrypted, true);
            if let Some(flow) = self.flows.get_mut(&id)
                && let Analyzer::Tls { dec: Some(dec), .. } = &mut flow.analyzer
            {
                dec.inner = Some(conn);
            }
        }
    }

    fn tls_events(&mut self, id: Fk, dir: Direction, meta: &PacketMeta) {
        let events = std::mem::take(&mut self.tls_out);
        for ev in &events {
            match ev {
                tls::Event::ClientHello(ch) if dir == Direction::ToServer => {
                    self.client_hello(id, ch, Protocol::Tls, meta)
                }
                tls::Event::ServerHello(sh) => {
                    let v = tls::version_name(sh.version).to_string();
                    if let Some(flow) = self.flows.get_mut(&id) {
                        flow.tls_version = Some(v.clone());
                        if let Some(h) = flow
                            .handshake
                            .and_then(|i| self.result.handshakes.get_mut(i))
                        {
                            h.version_chosen = Some(v);
                        }
                    }
                }
                _ => {}
            }
        }
        self.tls_out = events;
        self.tls_out.clear();
    }
}

fn is_h2_preface(m: &http1::Head) -> bool {
    matches!(&m.start, http1::StartLine::Request { method, target, .. } if method == "PRI" && target == "*")
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

impl FlowSink for Analysis<'_> {
    fn flow_start(&mut self, id: FlowId, key: &FlowKey, meta: &PacketMeta) {
        let id = (key.transport, id);
        match key.transport {
            Transport::Tcp => self.result.input.tcp_flows += 1,
            Transport::Udp => self.result.input.udp_flows += 1,
        }
        self.flows.insert(
            id,
            Flow {
                key: key.clone(),
                analyzer: Analyzer::Undecided,
                app: meta.app.clone(),
                http_host: None,
                sni: None,
                tls_version: None,
                handshake: None,
                cleartext_sent: false,
                hits: LocalHits::new(),
                seam: Seam::default(),
                cuts: 0,
                unsearched: 0,
                early_server: Vec::new(),
            },
        );
    }

    fn stream_data(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta) {
        let id = (Transport::Tcp, id);
        let keys = &self.keys;
        let resumption = &self.resumption;
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        if flow.app.is_none() {
            flow.app = meta.app.clone();
        }
        if matches!(flow.analyzer, Analyzer::Undecided) {
            if dir == Direction::ToClient
                && flow.early_server.len() + data.len() <= MAX_EARLY_SERVER
            {
                flow.early_server.extend_from_slice(data);
                return;
            }
            // HTTP/2 with prior knowledge starts with its connection preface.
            let h2 = dir == Direction::ToServer && data.starts_with(pc_h2::PREFACE);
            flow.analyzer = match pc_proto::sniff_stream(data, flow.key.server.port()) {
                _ if h2 => Analyzer::Http(HttpConn::h2()),
                AppProto::Http1 => Analyzer::Http(HttpConn::h1()),
                AppProto::Tls => Analyzer::Tls {
                    c: tls::RecordStream::new(),
                    s: tls::RecordStream::new(),
                    dec: (!keys.is_empty()).then(|| {
                        Box::new(Decrypt {
                            session: pc_tlsdec::Session::new_with(keys.clone(), resumption.clone()),
                            inner: None,
                        })
                    }),
                },
                AppProto::Dns => Analyzer::Dns {
                    c: dns::TcpFramer::default(),
                    s: dns::TcpFramer::default(),
                },
                AppProto::Unknown => Analyzer::Raw,
            };
            // A server that speaks first (banner) on an unknown port: keep it raw.
            if dir == Direction::ToClient && matches!(flow.analyzer, Analyzer::Http(_)) {
                flow.analyzer = Analyzer::Raw;
            }
            let early = std::mem::take(&mut flow.early_server);
            if !early.is_empty() {
                self.stream_data(id.1, Direction::ToClient, &early, meta);
                if dir == Direction::ToClient {
                    // The buffer overflowed before the client spoke: this chunk follows it.
                    self.stream_data(id.1, dir, data, meta);
                    return;
                }
            }
        }
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        match &mut flow.analyzer {
            Analyzer::Http(_) => {
                if dir == Direction::ToServer {
                    flow.cleartext_sent = true;
                }
                // Taken out while it runs: the request handler needs the flow table.
                let Analyzer::Http(mut conn) =
                    std::mem::replace(&mut flow.analyzer, Analyzer::Undecided)
                else {
                    return;
                };
                self.http_bytes(id, dir, data, meta, &mut conn, Protocol::Http, false);
                if let Some(f) = self.flows.get_mut(&id) {
                    f.analyzer = Analyzer::Http(conn);
                }
            }
            Analyzer::Tls { c, s, dec } => {
                let to_server = dir == Direction::ToServer;
                let stream = if to_server { c } else { s };
                let mut plain = Vec::new();
                let pushed = match dec {
                    Some(d) => stream.push_with(data, &mut self.tls_out, |frag| {
                        d.session.fragment(to_server, frag, &mut plain)
                    }),
                    None => stream.push(data, &mut self.tls_out),
                };
                if pushed.is_err() {
                    // Not TLS after all (or a corrupt stream): search the rest as raw bytes.
                    flow.analyzer = Analyzer::Raw;
                    self.tls_out.clear();
                    if to_server {
                        self.raw(id, data, meta);
                    }
                    return;
                }
                self.tls_events(id, dir, meta);
                if !plain.is_empty() {
                    self.tls_plain(id, &plain, meta);
                }
            }
            Analyzer::Dns { c, s } => {
                let msgs = if dir == Direction::ToServer {
                    c.push(data)
                } else {
                    s.push(data)
                };
                for m in msgs.into_iter().flatten() {
                    self.dns_message(id, &m, meta);
                }
            }
            Analyzer::Raw | Analyzer::Undecided => {
                if dir == Direction::ToServer {
                    self.raw(id, data, meta);
                }
            }
            Analyzer::Quic(_) | Analyzer::Gquic { .. } | Analyzer::DnsUdp => {}
        }
    }

    fn stream_gap(&mut self, id: FlowId, dir: Direction, missing: u64, meta: &PacketMeta) {
        let id = (Transport::Tcp, id);
        self.result.input.tcp_gaps += 1;
        let to_server = dir == Direction::ToServer;
        if to_server {
            let c = &mut self.result.input.coverage;
            c.gap_bytes_sent = c.gap_bytes_sent.saturating_add(missing);
        }
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        flow.seam.reset();
        // Lost request bytes end or cut the request they were in: taken out while it runs,
        // since the request handler needs the flow table.
        let h1 = match &mut flow.analyzer {
            Analyzer::Http(HttpConn::H1 { .. }) if to_server => Some((Protocol::Http, false)),
            Analyzer::Tls { dec: Some(d), .. } if to_server => {
                matches!(d.inner, Some(HttpConn::H1 { .. })).then_some((Protocol::HttpsDecrypted, true))
            }
            _ => None,
        };
        if let Some((protocol, encrypted)) = h1 {
            let mut analyzer = std::mem::replace(&mut flow.analyzer, Analyzer::Undecided);
            if let Analyzer::Tls { dec: Some(d), .. } = &mut analyzer {
                d.session.gap(true);
            }
            let conn = match &mut analyzer {
                Analyzer::Http(c) => Some(c),
                Analyzer::Tls { dec: Some(d), .. } => d.inner.as_mut(),
                _ => None,
            };
            if let Some(HttpConn::H1 { req, body, .. }) = conn {
                // Inside TLS the plaintext length lost is not known: resynchronise.
                let n = if encrypted { 0 } else { missing };
                let done = self.h1_run(id, req, body, H1Step::Gap(n), meta, protocol, encrypted);
                self.h1_recycle(done);
            }
            if let Analyzer::Tls { c, .. } = &mut analyzer {
                c.gap_len(missing);
            }
            if let Some(f) = self.flows.get_mut(&id) {
                f.analyzer = analyzer;
            }
            return;
        }
        match &mut flow.analyzer {
            Analyzer::Http(HttpConn::H2(h2)) => h2.gap(to_server),
            Analyzer::Tls { c, s, dec } => {
                if to_server {
                    c.gap_len(missing)
                } else {
                    s.gap_len(missing)
                }
                if let Some(d) = dec {
                    d.session.gap(to_server);
                    if let Some(HttpConn::H2(h2)) = &mut d.inner {
                        h2.gap(to_server);
                    }
                }
            }
            Analyzer::Dns { c, s } => {
                // Framing is lost: start again on the next message boundary we can find.
                if dir == Direction::ToServer {
                    *c = dns::TcpFramer::default()
                } else {
                    *s = dns::TcpFramer::default()
                }
            }
            _ => {}
        }
    }

    fn datagram(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta) {
        let id = (Transport::Udp, id);
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        if flow.app.is_none() {
            flow.app = meta.app.clone();
        }
        if matches!(flow.analyzer, Analyzer::Undecided) {
            flow.analyzer = match udp_kind(&flow.key, dir, data) {
                UdpKind::Dns => Analyzer::DnsUdp,
                UdpKind::Quic => Analyzer::Quic(Box::new(pc_h3::Connection::new())),
                UdpKind::Gquic => Analyzer::Gquic { seen: 0 },
                UdpKind::Raw => Analyzer::Raw,
            };
        }
        match &mut flow.analyzer {
            Analyzer::DnsUdp => {
                flow.cleartext_sent |= dir == Direction::ToServer;
                match dns::parse(data) {
                    Ok(m) => self.dns_message(id, &m, meta),
                    Err(_) => {
                        if dir == Direction::ToServer {
                            self.raw(id, data, meta);
                        }
                    }
                }
            }
            Analyzer::Quic(conn) => {
                let mut events = Vec::new();
                let keys = KeySource(&self.keys);
                conn.datagram(dir == Direction::ToServer, data, &keys, &mut events);
                let hello = (flow.handshake.is_none())
                    .then(|| {
                        conn.sni()
                            .map(str::to_string)
                            .map(|sni| (sni, conn.offered_alpn().to_vec(), conn.version()))
                    })
                    .flatten();
                if let Some((sni, alpn, version)) = hello {
                    let ch = tls::ClientHello {
                        sni: Some(sni),
                        alpn,
                        versions: vec![0x0304],
                        ..Default::default()
                    };
                    self.client_hello(id, &ch, Protocol::Quic, meta);
                    if let Some(h) = self
                        .flows
                        .get(&id)
                        .and_then(|f| f.handshake)
                        .and_then(|i| self.result.handshakes.get_mut(i))
                    {
                        // QUIC v1 and v2 carry TLS 1.3 and nothing else (RFC 9001 §4.2).
                        h.version_chosen = version.map(|_| "TLSv1.3".to_string());
                    }
                }
                self.h3_events(id, &events, meta);
            }
            Analyzer::Gquic { seen } => {
                // The CHLO comes in the first client packets (again after a REJ).
                if dir == Direction::ToServer && *seen < 8 {
                    *seen += 1;
                    if let Some(h) = gquic::parse_client_hello(data) {
                        let ch = tls::ClientHello {
                            sni: h.sni,
                            ..Default::default()
                        };
                        self.client_hello(id, &ch, Protocol::Gquic, meta);
                    }
                }
            }
            _ => {
                if dir == Direction::ToServer {
                    self.raw(id, data, meta);
                    // Each datagram stands alone: no overlap across datagrams.
                    if let Some(f) = self.flows.get_mut(&id) {
                        f.seam.reset();
                    }
                }
            }
        }
    }

    fn flow_end(&mut self, id: FlowId, key: &FlowKey, stats: &FlowStats) {
        let name = self.dns_name(key.server.ip());
        self.end_flow(id, key, stats, name);
    }
}

impl Analysis<'_> {
    /// The name the DNS answers seen so far give `ip`.
    pub fn dns_name(&self, ip: IpAddr) -> Option<String> {
        self.dns_names.get(&ip).cloned()
    }

    /// The flow ended: what it sent becomes findings and a destination, named by its HTTP host,
    /// its SNI or else `dns_name` (the DNS answer for its server seen before it ended; given
    /// by the caller, since with several workers the DNS flows are analysed elsewhere).
    pub fn end_flow(
        &mut self,
        id: FlowId,
        key: &FlowKey,
        stats: &FlowStats,
        dns_name: Option<String>,
    ) {
        let id = (key.transport, id);
        let Some(mut flow) = self.flows.remove(&id) else {
            return;
        };
        if let (Analyzer::Gquic { .. }, Some(h)) = (
            &flow.analyzer,
            flow.handshake
                .and_then(|i| self.result.handshakes.get_mut(i)),
        ) {
            // Google QUIC's own handshake crypto is not in any key log format.
            h.decryption = Some("unsupported: Google QUIC".to_string());
        }
        // QUIC: streams still open, and how much could be read.
        if let Analyzer::Quic(conn) = &mut flow.analyzer {
            let mut events = Vec::new();
            conn.finish(&mut events);
            let (seen, decrypted) = conn.bytes();
            let status = match conn.outcome() {
                pc_h3::Outcome::Decrypted if decrypted[0] < seen[0] => "partial".to_string(),
                pc_h3::Outcome::Decrypted => "decrypted".to_string(),
                pc_h3::Outcome::NoKey => "no key".to_string(),
                pc_h3::Outcome::UnsupportedVersion(v) => format!("unsupported version 0x{v:08x}"),
                pc_h3::Outcome::Failed(why) => format!("failed: {why}"),
            };
            self.result.input.tls_bytes += seen[0] + seen[1];
            self.result.input.tls_bytes_decrypted += decrypted[0] + decrypted[1];
            if let Some(h) = flow
                .handshake
                .and_then(|i| self.result.handshakes.get_mut(i))
            {
                h.decryption = Some(status);
                h.encrypted_bytes = seen[0] + seen[1];
                h.decrypted_bytes = decrypted[0] + decrypted[1];
            }
            let meta = PacketMeta {
                frame: stats.last_frame,
                ts: stats.last_ts,
                app: flow.app.clone(),
            };
            self.flows.insert(id, flow);
            self.h3_events(id, &events, &meta);
            let Some(f) = self.flows.remove(&id) else {
                return;
            };
            flow = f;
        }
        // HTTP/2 streams still open when the flow ends.
        let h2 = match &mut flow.analyzer {
            Analyzer::Http(HttpConn::H2(h2)) => Some((h2, false)),
            Analyzer::Tls { dec: Some(d), .. } => match &mut d.inner {
                Some(HttpConn::H2(h2)) => Some((h2, true)),
                _ => None,
            },
            _ => None,
        };
        if let Some((h2, encrypted)) = h2 {
            let mut out = Vec::new();
            h2.finish(&mut out);
            let meta = PacketMeta {
                frame: stats.last_frame,
                ts: stats.last_ts,
                app: flow.app.clone(),
            };
            self.flows.insert(id, flow);
            for m in &out {
                self.h2_message(id, m, &meta, encrypted);
            }
            let Some(f) = self.flows.remove(&id) else {
                return;
            };
            flow = f;
        }
        // Requests still open when the flow ends (bodies read until close, cut captures).
        let pending = match &flow.analyzer {
            Analyzer::Http(HttpConn::H1 { .. }) => Some((Protocol::Http, false)),
            Analyzer::Tls { dec: Some(d), .. } => {
                matches!(d.inner, Some(HttpConn::H1 { .. })).then_some((Protocol::HttpsDecrypted, true))
            }
            _ => None,
        };
        if let Some((protocol, encrypted)) = pending {
            let meta = PacketMeta {
                frame: stats.last_frame,
                ts: stats.last_ts,
                app: flow.app.clone(),
            };
            let mut analyzer = std::mem::replace(&mut flow.analyzer, Analyzer::Undecided);
            self.flows.insert(id, flow);
            let conn = match &mut analyzer {
                Analyzer::Http(c) => Some(c),
                Analyzer::Tls { dec: Some(d), .. } => d.inner.as_mut(),
                _ => None,
            };
            if let Some(HttpConn::H1 { req, body, .. }) = conn {
                let done = self.h1_run(id, req, body, H1Step::Finish, &meta, protocol, encrypted);
                self.h1_recycle(done);
            }
            let Some(f) = self.flows.remove(&id) else {
                return;
            };
            flow = f;
            flow.analyzer = analyzer;
        }
        if let Analyzer::Tls { dec, .. } = &flow.analyzer {
            // How much of this connection could be read, and if nothing, why.
            let (status, encrypted, decrypted) = match dec {
                Some(d) => {
                    let (e, x) = (d.session.encrypted_bytes(), d.session.decrypted_bytes());
                    let status = match d.session.outcome() {
                        // A key that fits one direction only (a wrong or stale secret) leaves
                        // the other unread: say so, the phone's side is what matters.
                        pc_tlsdec::Outcome::Decrypted if x[0] < e[0] => {
                            "partial: client data not decrypted".to_string()
                        }
                        pc_tlsdec::Outcome::Decrypted if x[1] < e[1] => {
                            "partial: server data not decrypted".to_string()
                        }
                        pc_tlsdec::Outcome::Decrypted => "decrypted".to_string(),
                        pc_tlsdec::Outcome::NoKey => "no key".to_string(),
                        pc_tlsdec::Outcome::UnsupportedSuite(cs) => {
                            format!("unsupported cipher suite 0x{cs:04x}")
                        }
                        pc_tlsdec::Outcome::Failed(why) => format!("failed: {why}"),
                    };
                    (status, e[0] + e[1], x[0] + x[1])
                }
                None => ("no key".to_string(), stats.bytes[0] + stats.bytes[1], 0),
            };
            self.result.input.tls_bytes += encrypted;
            self.result.input.tls_bytes_decrypted += decrypted;
            if let Some(h) = flow
                .handshake
                .and_then(|i| self.result.handshakes.get_mut(i))
            {
                h.decryption = Some(status);
                h.encrypted_bytes = encrypted;
                h.decrypted_bytes = decrypted;
            }
        }
        let protocol = flow.protocol();
        let server_ip = key.server.ip();
        let host = flow
            .http_host
            .clone()
            .or_else(|| flow.sni.clone())
            .or(dns_name);
        let app = flow.app.as_deref().map(str::to_string);
        for (k, agg) in std::mem::take(&mut flow.hits) {
            let fk = FindingKey {
                host: k.host.clone().or_else(|| host.clone()),
                ip: Some(server_ip),
                port: Some(key.server.port()),
                app: app.clone(),
                hit: k,
            };
            if let Some(sink) = &self.events {
                let id = &self.ctx.ids[fk.hit.ident];
                sink(Event::Finding(FindingEvent {
                    identifier: id.kind.as_str().to_string(),
                    identifier_name: id.name.clone(),
                    encoding: fk.hit.encoding.iter().map(|e| e.to_string()).collect(),
                    location: fk.hit.location.clone(),
                    protocol: fk.hit.protocol.to_string(),
                    encrypted_on_wire: fk.hit.encrypted,
                    host: fk.host.clone(),
                    ip: fk.ip.map(|i| i.to_string()),
                    port: fk.port,
                    app: fk.app.clone(),
                    count: agg.count,
                    frames: agg.evidence.frames.clone(),
                }));
            }
            self.result.findings.entry(fk).or_default().merge(agg);
        }
        let dk = DestKey {
            name: host.clone().unwrap_or_else(|| server_ip.to_string()),
            port: key.server.port(),
            protocol,
        };
        if let Some(sink) = &self.events {
            sink(Event::Destination(DestinationEvent {
                host: host.clone(),
                ip: server_ip.to_string(),
                port: key.server.port(),
                protocol,
                bytes_sent: stats.bytes[0],
                bytes_received: stats.bytes[1],
                app: app.clone(),
            }));
        }
        let d = self.result.destinations.entry(dk).or_default();
        // Only a name equal to the key's sets it, whichever flow comes first (see result.rs).
        if d.host.is_none() {
            d.host = host;
        }
        d.ips.insert(server_ip);
        if let Some(s) = flow.sni {
            d.sni.insert(s);
        }
        if let Some(v) = flow.tls_version {
            d.tls_versions.insert(v);
        }
        d.flows += 1;
        d.bytes_sent += stats.bytes[0];
        d.bytes_sent_inspected += match &flow.analyzer {
            Analyzer::Tls { dec: Some(dec), .. } => dec.session.decrypted_bytes()[0],
            Analyzer::Quic(conn) => conn.bytes().1[0],
            Analyzer::Tls { dec: None, .. } | Analyzer::Gquic { .. } => 0,
            _ => stats.bytes[0],
        }
        .saturating_sub(flow.unsearched);
        d.bytes_received += stats.bytes[1];
        d.cleartext |= flow.cleartext_sent && stats.bytes[0] > 0;
        d.cuts += flow.cuts;
        if let Some(a) = app {
            d.apps.insert(a);
        }
    }
}
