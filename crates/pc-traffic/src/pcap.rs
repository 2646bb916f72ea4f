//! Packet captures: packets → flows (pc-net) → protocol analyzers (pc-proto) → matcher.

use crate::agg::LocalHits;
use crate::engine::{CaptureResult, Ctx, DestKey, DnsKey, HitField, scan_field};
use crate::model::Handshake;
use crate::model::Request;
use pc_net::{Direction, FlowId, FlowKey, FlowSink, FlowStats, PacketMeta, Transport};
use pc_proto::{AppProto, dns, gquic, http1, quic, tls};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Flow ids are numbered per transport (like tshark's tcp.stream / udp.stream).
type Fk = (Transport, FlowId);

/// DNS answers kept to name destinations; beyond this the oldest names are not replaced.
const MAX_DNS_NAMES: usize = 1_000_000;
/// Bytes kept from the end of one raw chunk so that a value split across two TCP segments
/// is still found; longer than any derived form (SHA-256 hex is 64).
const RAW_OVERLAP: usize = 160;

enum Analyzer {
    Undecided,
    Http {
        req: Box<http1::Parser>,
        resp: Box<http1::Parser>,
    },
    Tls {
        c: tls::RecordStream,
        s: tls::RecordStream,
    },
    Dns {
        c: dns::TcpFramer,
        s: dns::TcpFramer,
    },
    Quic(Box<quic::InitialState>),
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
    tail: Vec<u8>,
}

impl Flow {
    fn protocol(&self) -> &'static str {
        match (&self.analyzer, self.key.transport) {
            (Analyzer::Http { .. }, _) => "http",
            (Analyzer::Tls { .. }, _) => "tls",
            (Analyzer::Dns { .. } | Analyzer::DnsUdp, _) => "dns",
            (Analyzer::Quic(_), _) => "quic",
            (Analyzer::Gquic { .. }, _) => "gquic",
            (_, Transport::Tcp) => "tcp",
            (_, Transport::Udp) => "udp",
        }
    }
}

/// The flow sink for one capture.
pub struct Analysis<'c> {
    ctx: &'c Ctx<'c>,
    pub result: CaptureResult,
    flows: HashMap<(Transport, FlowId), Flow>,
    dns_names: HashMap<IpAddr, String>,
    scratch: Vec<u8>,
    http_out: Vec<http1::Message>,
    tls_out: Vec<tls::Event>,
}

impl<'c> Analysis<'c> {
    pub fn new(ctx: &'c Ctx<'c>, result: CaptureResult) -> Self {
        Analysis {
            ctx,
            result,
            flows: HashMap::new(),
            dns_names: HashMap::new(),
            scratch: Vec::new(),
            http_out: Vec::new(),
            tls_out: Vec::new(),
        }
    }
}

/// Scan `data` and add every hit to `hits`.
#[allow(clippy::too_many_arguments)]
fn scan_into(
    ctx: &Ctx<'_>,
    hits: &mut LocalHits,
    data: &[u8],
    skip_before: usize,
    location: &str,
    protocol: &'static str,
    encrypted: bool,
    host: Option<&str>,
    meta: &PacketMeta,
) {
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
        skip_before,
        &field,
        Some(meta.ts),
        Some(meta.frame),
        None,
    );
}

impl Analysis<'_> {
    fn http_request(&mut self, id: Fk, msg: &http1::Message, meta: &PacketMeta) {
        let ctx = self.ctx;
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        let http1::StartLine::Request { method, target, .. } = &msg.start else {
            return;
        };
        let host = msg
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string());
        if flow.http_host.is_none() {
            flow.http_host = host.as_deref().map(strip_port).map(str::to_string);
        }
        self.result.requests.push(Request {
            capture: self.result.input.path.clone(),
            phase: self.result.input.phase.clone(),
            frame: Some(meta.frame),
            entry: None,
            method: method.clone(),
            host: host.clone(),
            path: target.clone(),
            protocol: "http".into(),
            ip: Some(flow.key.server.ip().to_string()),
            port: Some(flow.key.server.port()),
            app: flow.app.as_deref().map(str::to_string),
        });
        scan_into(
            ctx,
            &mut flow.hits,
            target.as_bytes(),
            0,
            "url",
            "http",
            false,
            None,
            meta,
        );
        for (name, value) in &msg.headers {
            let lname = name.to_ascii_lowercase();
            let loc = if lname == "cookie" {
                "cookie".to_string()
            } else {
                format!("header:{lname}")
            };
            scan_into(
                ctx,
                &mut flow.hits,
                value,
                0,
                &loc,
                "http",
                false,
                None,
                meta,
            );
        }
        if !msg.body.is_empty() {
            scan_into(
                ctx,
                &mut flow.hits,
                &msg.body,
                0,
                "body",
                "http",
                false,
                None,
                meta,
            );
        }
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
                let e = self
                    .result
                    .dns
                    .entry(DnsKey {
                        name: q.name.to_ascii_lowercase(),
                        qtype: q.qtype,
                    })
                    .or_default();
                e.count += 1;
                e.transports.insert(transport);
                e.phases.insert(phase.clone());
                if let Some(flow) = self.flows.get_mut(&id) {
                    scan_into(
                        ctx,
                        &mut flow.hits,
                        q.name.as_bytes(),
                        0,
                        "dns",
                        "dns",
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
                let e = self
                    .result
                    .dns
                    .entry(DnsKey {
                        name: q.name.to_ascii_lowercase(),
                        qtype: q.qtype,
                    })
                    .or_default();
                e.transports.insert(transport);
                e.phases.insert(self.result.input.phase.clone());
                e.answers.insert(ip.to_string());
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
        protocol: &'static str,
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
                0,
                "sni",
                protocol,
                false,
                None,
                meta,
            );
        }
        if flow.handshake.is_none() {
            flow.handshake = Some(self.result.handshakes.len());
            self.result.handshakes.push(Handshake {
                capture: self.result.input.path.clone(),
                frame: meta.frame,
                protocol: protocol.to_string(),
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
            });
        }
    }

    fn raw(&mut self, id: Fk, data: &[u8], meta: &PacketMeta) {
        let ctx = self.ctx;
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        flow.cleartext_sent = true;
        let protocol = flow.protocol();
        self.scratch.clear();
        self.scratch.extend_from_slice(&flow.tail);
        let skip = self.scratch.len();
        self.scratch.extend_from_slice(data);
        scan_into(
            ctx,
            &mut flow.hits,
            &self.scratch,
            skip,
            "payload",
            protocol,
            false,
            None,
            meta,
        );
        let keep = self.scratch.len().min(RAW_OVERLAP);
        flow.tail.clear();
        flow.tail
            .extend_from_slice(&self.scratch[self.scratch.len() - keep..]);
    }

    fn tls_events(&mut self, id: Fk, dir: Direction, meta: &PacketMeta) {
        let events = std::mem::take(&mut self.tls_out);
        for ev in &events {
            match ev {
                tls::Event::ClientHello(ch) if dir == Direction::ToServer => {
                    self.client_hello(id, ch, "tls", meta)
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

fn is_h2_preface(m: &http1::Message) -> bool {
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
                tail: Vec::new(),
            },
        );
    }

    fn stream_data(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta) {
        let id = (Transport::Tcp, id);
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        if flow.app.is_none() {
            flow.app = meta.app.clone();
        }
        if matches!(flow.analyzer, Analyzer::Undecided) {
            flow.analyzer = match pc_proto::sniff_stream(data, flow.key.server.port()) {
                AppProto::Http1 => Analyzer::Http {
                    req: Box::new(http1::Parser::requests()),
                    resp: Box::new(http1::Parser::responses()),
                },
                AppProto::Tls => Analyzer::Tls {
                    c: tls::RecordStream::new(),
                    s: tls::RecordStream::new(),
                },
                AppProto::Dns => Analyzer::Dns {
                    c: dns::TcpFramer::default(),
                    s: dns::TcpFramer::default(),
                },
                AppProto::Unknown => Analyzer::Raw,
            };
            // A server that speaks first (banner) on an unknown port: keep it raw.
            if dir == Direction::ToClient && matches!(flow.analyzer, Analyzer::Http { .. }) {
                flow.analyzer = Analyzer::Raw;
            }
        }
        match &mut flow.analyzer {
            Analyzer::Http { req, resp } => {
                let mut out = std::mem::take(&mut self.http_out);
                if dir == Direction::ToServer {
                    flow.cleartext_sent = true;
                    let _ = req.push(data, &mut out);
                    let mut h2 = false;
                    for m in &out {
                        if let http1::StartLine::Request { method, target, .. } = &m.start {
                            // The HTTP/2 connection preface ("PRI * HTTP/2.0") is not a request.
                            h2 |= method == "PRI" && target == "*";
                            resp.expect_response_to(method);
                        }
                    }
                    for m in out.iter().filter(|m| !is_h2_preface(m)) {
                        self.http_request(id, m, meta);
                    }
                    if h2 && let Some(f) = self.flows.get_mut(&id) {
                        // Cleartext HTTP/2 from here on: searched as raw bytes until the HTTP/2
                        // analyzer exists.
                        f.analyzer = Analyzer::Raw;
                    }
                } else {
                    let _ = resp.push(data, &mut out);
                }
                out.clear();
                self.http_out = out;
            }
            Analyzer::Tls { c, s } => {
                let stream = if dir == Direction::ToServer { c } else { s };
                if stream.push(data, &mut self.tls_out).is_err() {
                    // Not TLS after all (or a corrupt stream): search the rest as raw bytes.
                    flow.analyzer = Analyzer::Raw;
                    self.tls_out.clear();
                    if dir == Direction::ToServer {
                        self.raw(id, data, meta);
                    }
                    return;
                }
                self.tls_events(id, dir, meta);
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

    fn stream_gap(&mut self, id: FlowId, dir: Direction, missing: u64, _meta: &PacketMeta) {
        let id = (Transport::Tcp, id);
        self.result.input.tcp_gaps += 1;
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        flow.tail.clear();
        match &mut flow.analyzer {
            Analyzer::Http { req, resp } => {
                if dir == Direction::ToServer {
                    req.gap(missing)
                } else {
                    resp.gap(missing)
                }
            }
            Analyzer::Tls { c, s } => {
                if dir == Direction::ToServer {
                    c.gap()
                } else {
                    s.gap()
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
            let ports = [flow.key.server.port(), flow.key.client.port()];
            flow.analyzer = if ports.iter().any(|p| matches!(p, 53 | 5353 | 5355)) {
                Analyzer::DnsUdp
            } else if dir == Direction::ToServer && quic::is_quic_long_header(data) {
                Analyzer::Quic(Box::new(quic::InitialState::new()))
            } else if dir == Direction::ToServer && gquic::version(data).is_some() {
                Analyzer::Gquic { seen: 0 }
            } else if dir == Direction::ToServer
                && dns::parse(data).is_ok_and(|m| dns::is_plausible_query(&m))
            {
                // DNS on a port of its own.
                Analyzer::DnsUdp
            } else {
                Analyzer::Raw
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
            Analyzer::Quic(st) => {
                if dir == Direction::ToServer
                    && let Some(init) = st.push_client_datagram(data)
                    && let Some(ch) = init.client_hello
                {
                    self.client_hello(id, &ch, "quic", meta);
                }
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
                        self.client_hello(id, &ch, "gquic", meta);
                    }
                }
            }
            _ => {
                if dir == Direction::ToServer {
                    self.raw(id, data, meta);
                    // Each datagram stands alone: no overlap across datagrams.
                    if let Some(f) = self.flows.get_mut(&id) {
                        f.tail.clear();
                    }
                }
            }
        }
    }

    fn flow_end(&mut self, id: FlowId, key: &FlowKey, stats: &FlowStats) {
        let id = (key.transport, id);
        let Some(mut flow) = self.flows.remove(&id) else {
            return;
        };
        if let Analyzer::Http { req, .. } = &mut flow.analyzer {
            let mut out = std::mem::take(&mut self.http_out);
            req.finish(&mut out);
            let meta = PacketMeta {
                frame: stats.last_frame,
                ts: stats.last_ts,
                app: flow.app.clone(),
            };
            self.flows.insert(id, flow);
            for m in &out {
                self.http_request(id, m, &meta);
            }
            out.clear();
            self.http_out = out;
            let Some(f) = self.flows.remove(&id) else {
                return;
            };
            flow = f;
        }
        let protocol = flow.protocol();
        let server_ip = key.server.ip();
        let host = flow
            .http_host
            .clone()
            .or_else(|| flow.sni.clone())
            .or_else(|| self.dns_names.get(&server_ip).cloned());
        let app = flow.app.as_deref().map(str::to_string);
        for (k, agg) in std::mem::take(&mut flow.hits) {
            let fk = crate::engine::FindingKey {
                host: k.host.clone().or_else(|| host.clone()),
                ip: Some(server_ip),
                port: Some(key.server.port()),
                app: app.clone(),
                hit: k,
            };
            self.result.findings.entry(fk).or_default().merge(agg);
        }
        let dk = DestKey {
            name: host.clone().unwrap_or_else(|| server_ip.to_string()),
            port: key.server.port(),
            protocol,
        };
        let d = self.result.destinations.entry(dk).or_default();
        d.host = host;
        d.ips.insert(server_ip);
        if let Some(s) = flow.sni {
            d.sni.insert(s);
        }
        if let Some(v) = flow.tls_version {
            d.tls_versions.insert(v);
        }
        d.flows += 1;
        d.bytes_sent += stats.bytes[0];
        d.bytes_received += stats.bytes[1];
        d.cleartext |= flow.cleartext_sent && stats.bytes[0] > 0;
        if let Some(a) = app {
            d.apps.insert(a);
        }
    }
}
