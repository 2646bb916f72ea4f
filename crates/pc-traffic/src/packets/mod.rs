//! Packets of one capture (pcap or pcapng, read by pc-capture, or pushed live): flows
//! (pc-net) → protocol analyzers (pc-proto, pc-tlsdec, pc-h2, pc-h3) → the matcher.
//!
//! [`Analysis`] is the [`FlowSink`]: it keeps the flow table ([`flow`]) and dispatches each
//! flow's bytes to the protocol code (`http.rs`, `tls.rs`, `dns.rs`), which records into the
//! [`Collector`] with the flow's state handed to it. A flow is taken out of the table once,
//! when it ends, and everything its end gives is computed from that one value.

mod collector;
mod dns;
mod flow;
mod http;
mod tls;

pub(crate) use flow::{MAX_EARLY_SERVER, UdpKind, tcp_is_tls, udp_kind};

use crate::ctx::Ctx;
use crate::event::{DestinationEvent, Event, FindingEvent};
use crate::model::Protocol;
use crate::result::{CaptureResult, DestKey, FindingKey};
use collector::At;
pub(crate) use collector::Collector;
use flow::{Analyzer, Decrypt, Flow, FlowState, FlowTable, HttpConn};
use http::H1Step;
use pc_net::{Direction, FlowId, FlowKey, FlowSink, FlowStats, PacketMeta, Transport};
use pc_proto::{AppProto, dns as pdns, gquic, tls as ptls};

/// The flow sink for one capture.
pub struct Analysis<'c> {
    flows: FlowTable,
    pub out: Collector<'c>,
}

impl<'c> Analysis<'c> {
    pub fn new(ctx: &'c Ctx, result: CaptureResult) -> Self {
        Analysis {
            flows: FlowTable::default(),
            out: Collector::new(ctx, result),
        }
    }

    /// The name the DNS answers seen so far give `ip`.
    pub fn dns_name(&self, ip: std::net::IpAddr) -> Option<String> {
        self.out.dns_name(ip)
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
        let Some(flow) = self.flows.remove(&(key.transport, id)) else {
            return;
        };
        self.out.flow_ended(flow, key, stats, dns_name);
    }
}

impl Collector<'_> {
    /// See [`Analysis::end_flow`].
    fn flow_ended(
        &mut self,
        mut flow: Flow,
        key: &FlowKey,
        stats: &FlowStats,
        dns_name: Option<String>,
    ) {
        let meta = PacketMeta {
            frame: stats.last_frame,
            ts: stats.last_ts,
            app: flow.st.app.clone(),
        };
        let st = &mut flow.st;
        match &mut flow.analyzer {
            Analyzer::Gquic { .. } => {
                if let Some(h) = self.handshake_of(st) {
                    // Google QUIC's own handshake crypto is not in any key log format.
                    h.decryption = Some("unsupported: Google QUIC".to_string());
                }
            }
            // QUIC: streams still open, and how much could be read.
            Analyzer::Quic(conn) => self.quic_end(st, conn, &meta),
            _ => {}
        }
        // HTTP/2 streams still open when the flow ends.
        if let Some((h2, encrypted)) = flow.analyzer.h2() {
            let mut out = Vec::new();
            h2.finish(&mut out);
            for m in &out {
                self.h2_message(st, m, &meta, encrypted);
            }
        }
        // Requests still open when the flow ends (bodies read until close, cut captures).
        if let Some((conn, protocol, encrypted)) = flow.analyzer.h1() {
            let at = At {
                meta: &meta,
                protocol,
                encrypted,
            };
            self.h1_step(st, conn, H1Step::Finish, at);
        }
        if let Analyzer::Tls { dec, .. } = &flow.analyzer {
            self.tls_end(st, dec.as_deref(), stats);
        }
        let protocol = flow.protocol();
        self.findings_and_destination(flow, key, stats, protocol, dns_name);
    }

    /// What an ended flow sent, as findings and a destination.
    fn findings_and_destination(
        &mut self,
        flow: Flow,
        key: &FlowKey,
        stats: &FlowStats,
        protocol: Protocol,
        dns_name: Option<String>,
    ) {
        let FlowState {
            app,
            http_host,
            sni,
            tls_version,
            cleartext_sent,
            hits,
            cuts,
            unsearched,
            ..
        } = flow.st;
        let server_ip = key.server.ip();
        let host = http_host.or_else(|| sni.clone()).or(dns_name);
        let app = app.as_deref().map(str::to_string);
        for (k, agg) in hits {
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
                    protocol: fk.hit.protocol,
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
                tracker_network: pc_detect::trackers::TrackerList::embedded()
                    .network_names(host.iter().chain(sni.iter()).map(String::as_str)),
            }));
        }
        let d = self.result.destinations.entry(dk).or_default();
        // Only a name equal to the key's sets it, whichever flow comes first (see result.rs).
        if d.host.is_none() {
            d.host = host;
        }
        d.ips.insert(server_ip);
        if let Some(s) = sni {
            d.sni.insert(s);
        }
        if let Some(v) = tls_version {
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
        .saturating_sub(unsearched);
        d.bytes_received += stats.bytes[1];
        d.cleartext |= cleartext_sent && stats.bytes[0] > 0;
        d.cuts += cuts;
        if let Some(a) = app {
            d.apps.insert(a);
        }
    }
}

impl FlowSink for Analysis<'_> {
    fn flow_start(&mut self, id: FlowId, key: &FlowKey, meta: &PacketMeta) {
        match key.transport {
            Transport::Tcp => self.out.result.input.tcp_flows += 1,
            Transport::Udp => self.out.result.input.udp_flows += 1,
        }
        self.flows.insert((key.transport, id), Flow::new(key, meta));
    }

    fn stream_data(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta) {
        let out = &mut self.out;
        let Some(flow) = self.flows.get_mut(&(Transport::Tcp, id)) else {
            return;
        };
        if flow.st.app.is_none() {
            flow.st.app = meta.app.clone();
        }
        if matches!(flow.analyzer, Analyzer::Undecided) {
            if dir == Direction::ToClient
                && flow.st.early_server.len() + data.len() <= MAX_EARLY_SERVER
            {
                flow.st.early_server.extend_from_slice(data);
                return;
            }
            flow.analyzer = decide_tcp(out, &flow.st.key, dir, data);
            let early = std::mem::take(&mut flow.st.early_server);
            if !early.is_empty() {
                self.stream_data(id, Direction::ToClient, &early, meta);
                // This chunk follows what the server sent first (when the server's bytes
                // overflowed the buffer, this chunk is the server's too).
                return self.stream_data(id, dir, data, meta);
            }
        }
        let to_server = dir == Direction::ToServer;
        let protocol = flow.protocol();
        let st = &mut flow.st;
        let raw = At {
            meta,
            protocol,
            encrypted: false,
        };
        match &mut flow.analyzer {
            Analyzer::Http(conn) => {
                st.cleartext_sent |= to_server;
                let at = At {
                    protocol: Protocol::Http,
                    ..raw
                };
                out.http_bytes(st, dir, data, conn, at);
            }
            Analyzer::Tls { c, s, dec } => {
                let stream = if to_server { c } else { s };
                let mut plain = Vec::new();
                let pushed = match dec {
                    Some(d) => stream.push_with(data, &mut out.tls_out, |frag| {
                        d.session.fragment(to_server, frag, &mut plain)
                    }),
                    None => stream.push(data, &mut out.tls_out),
                };
                if pushed.is_err() {
                    // Not TLS after all (or a corrupt stream): search the rest as raw bytes.
                    flow.analyzer = Analyzer::Raw;
                    out.tls_out.clear();
                    if to_server {
                        let at = At {
                            protocol: Protocol::Tcp,
                            ..raw
                        };
                        out.raw(st, data, at);
                    }
                    return;
                }
                out.tls_events(st, dir, meta);
                if let Some(d) = dec
                    && !plain.is_empty()
                {
                    out.tls_plain(st, d, &plain, meta);
                }
            }
            Analyzer::Dns { c, s } => {
                let msgs = if to_server {
                    c.push(data)
                } else {
                    s.push(data)
                };
                for m in msgs.into_iter().flatten() {
                    out.dns_message(st, &m, meta);
                }
            }
            Analyzer::Raw | Analyzer::Undecided => {
                if to_server {
                    out.raw(st, data, raw);
                }
            }
            Analyzer::Quic(_) | Analyzer::Gquic { .. } | Analyzer::DnsUdp => {}
        }
    }

    fn stream_gap(&mut self, id: FlowId, dir: Direction, missing: u64, meta: &PacketMeta) {
        let out = &mut self.out;
        out.result.input.tcp_gaps += 1;
        let to_server = dir == Direction::ToServer;
        if to_server {
            let c = &mut out.result.input.coverage;
            c.gap_bytes_sent = c.gap_bytes_sent.saturating_add(missing);
        }
        let Some(flow) = self.flows.get_mut(&(Transport::Tcp, id)) else {
            return;
        };
        let st = &mut flow.st;
        st.seam.reset();
        // Lost request bytes end or cut the request they were in.
        if to_server && flow.analyzer.h1().is_some() {
            if let Analyzer::Tls { dec: Some(d), .. } = &mut flow.analyzer {
                d.session.gap(true);
            }
            if let Some((conn, protocol, encrypted)) = flow.analyzer.h1() {
                // Inside TLS the plaintext length lost is not known: resynchronise.
                let n = if encrypted { 0 } else { missing };
                let at = At {
                    meta,
                    protocol,
                    encrypted,
                };
                out.h1_step(st, conn, H1Step::Gap(n), at);
            }
            if let Analyzer::Tls { c, .. } = &mut flow.analyzer {
                c.gap_len(missing);
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
                if to_server {
                    *c = pdns::TcpFramer::default()
                } else {
                    *s = pdns::TcpFramer::default()
                }
            }
            _ => {}
        }
    }

    fn datagram(&mut self, id: FlowId, dir: Direction, data: &[u8], meta: &PacketMeta) {
        let out = &mut self.out;
        let Some(flow) = self.flows.get_mut(&(Transport::Udp, id)) else {
            return;
        };
        if flow.st.app.is_none() {
            flow.st.app = meta.app.clone();
        }
        if matches!(flow.analyzer, Analyzer::Undecided) {
            flow.analyzer = match udp_kind(&flow.st.key, dir, data) {
                UdpKind::Dns => Analyzer::DnsUdp,
                UdpKind::Quic => Analyzer::Quic(Box::new(pc_h3::Connection::new())),
                UdpKind::Gquic => Analyzer::Gquic { seen: 0 },
                UdpKind::Raw => Analyzer::Raw,
            };
        }
        let to_server = dir == Direction::ToServer;
        let raw = At {
            meta,
            protocol: flow.protocol(),
            encrypted: false,
        };
        let st = &mut flow.st;
        match &mut flow.analyzer {
            Analyzer::DnsUdp => {
                st.cleartext_sent |= to_server;
                match pdns::parse(data) {
                    Ok(m) => out.dns_message(st, &m, meta),
                    Err(_) if to_server => out.raw(st, data, raw),
                    Err(_) => {}
                }
            }
            Analyzer::Quic(conn) => {
                let mut events = Vec::new();
                let keys = tls::KeySource(&out.keys);
                conn.datagram(to_server, data, &keys, &mut events);
                let hello = (st.handshake.is_none())
                    .then(|| {
                        conn.sni()
                            .map(str::to_string)
                            .map(|sni| (sni, conn.offered_alpn().to_vec(), conn.version()))
                    })
                    .flatten();
                if let Some((sni, alpn, version)) = hello {
                    let ch = ptls::ClientHello {
                        sni: Some(sni),
                        alpn,
                        versions: vec![0x0304],
                        ..Default::default()
                    };
                    out.client_hello(st, &ch, Protocol::Quic, meta);
                    if let Some(h) = out.handshake_of(st) {
                        // QUIC v1 and v2 carry TLS 1.3 and nothing else (RFC 9001 §4.2).
                        h.version_chosen = version.map(|_| "TLSv1.3".to_string());
                    }
                }
                out.h3_events(st, &events, meta);
            }
            Analyzer::Gquic { seen } => {
                // The CHLO comes in the first client packets (again after a REJ).
                if to_server && *seen < 8 {
                    *seen += 1;
                    if let Some(h) = gquic::parse_client_hello(data) {
                        let ch = ptls::ClientHello {
                            sni: h.sni,
                            ..Default::default()
                        };
                        out.client_hello(st, &ch, Protocol::Gquic, meta);
                    }
                }
            }
            _ => {
                if to_server {
                    out.raw(st, data, raw);
                    // Each datagram stands alone: no overlap across datagrams.
                    st.seam.reset();
                }
            }
        }
    }

    fn flow_end(&mut self, id: FlowId, key: &FlowKey, stats: &FlowStats) {
        let name = self.dns_name(key.server.ip());
        self.end_flow(id, key, stats, name);
    }
}

/// A TCP flow's analyzer, decided on its first bytes (the client's, or the server's when
/// they overflowed the early buffer).
fn decide_tcp(out: &Collector<'_>, key: &FlowKey, dir: Direction, data: &[u8]) -> Analyzer {
    // HTTP/2 with prior knowledge starts with its connection preface.
    let h2 = dir == Direction::ToServer && data.starts_with(pc_h2::PREFACE);
    let analyzer = match pc_proto::sniff_stream(data, key.server.port()) {
        _ if h2 => Analyzer::Http(HttpConn::h2()),
        AppProto::Http1 => Analyzer::Http(HttpConn::h1()),
        AppProto::Tls => Analyzer::Tls {
            c: ptls::RecordStream::new(),
            s: ptls::RecordStream::new(),
            dec: (!out.keys.is_empty()).then(|| {
                Box::new(Decrypt {
                    session: pc_tlsdec::Session::new_with(out.keys.clone(), out.resumption.clone()),
                    inner: None,
                })
            }),
        },
        AppProto::Dns => Analyzer::Dns {
            c: pdns::TcpFramer::default(),
            s: pdns::TcpFramer::default(),
        },
        AppProto::Unknown => Analyzer::Raw,
    };
    // A server that speaks first (banner) on an unknown port: keep it raw.
    if dir == Direction::ToClient && matches!(analyzer, Analyzer::Http(_)) {
        Analyzer::Raw
    } else {
        analyzer
    }
}

#[cfg(test)]
mod tests;
