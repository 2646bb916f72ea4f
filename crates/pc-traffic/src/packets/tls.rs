//! TLS and QUIC on a flow: the client hello's facts (SNI searched, a handshake listed), the
//! version chosen, decrypted TLS records handed to HTTP, and how much of a connection could
//! be read once it ends.

use super::collector::{At, Collector, scan_into};
use super::flow::{Decrypt, FlowState, HttpConn};
use crate::model::{Handshake, Protocol};
use pc_net::{Direction, FlowStats, PacketMeta};
use pc_proto::{AppProto, tls};

/// QUIC secrets from the capture's key log, by client random.
pub struct KeySource<'a>(pub &'a pc_tlsdec::keylog::KeyLog);

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

impl Collector<'_> {
    pub fn client_hello(
        &mut self,
        flow: &mut FlowState,
        ch: &tls::ClientHello,
        protocol: Protocol,
        meta: &PacketMeta,
    ) {
        if flow.sni.is_none() {
            flow.sni = ch.sni.clone();
        }
        if let Some(sni) = &ch.sni {
            let at = At {
                meta,
                protocol,
                encrypted: false,
            };
            scan_into(self.ctx, &mut flow.hits, sni.as_bytes(), "sni", at, None);
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

    /// The handshake listed for `flow`, if it was listed.
    pub fn handshake_of(&mut self, flow: &FlowState) -> Option<&mut Handshake> {
        flow.handshake
            .and_then(|i| self.result.handshakes.get_mut(i))
    }

    /// Decrypted TLS application data: HTTP/1.x, HTTP/2, or raw bytes.
    pub fn tls_plain(
        &mut self,
        flow: &mut FlowState,
        dec: &mut Decrypt,
        plain: &[pc_tlsdec::Plain],
        meta: &PacketMeta,
    ) {
        for p in plain {
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
            let at = At {
                meta,
                protocol: Protocol::HttpsDecrypted,
                encrypted: true,
            };
            self.http_bytes(flow, dir, &p.data, &mut conn, at);
            dec.inner = Some(conn);
        }
    }

    /// The handshake messages the record layer just gave.
    pub fn tls_events(&mut self, flow: &mut FlowState, dir: Direction, meta: &PacketMeta) {
        let events = std::mem::take(&mut self.tls_out);
        for ev in &events {
            match ev {
                tls::Event::ClientHello(ch) if dir == Direction::ToServer => {
                    self.client_hello(flow, ch, Protocol::Tls, meta)
                }
                tls::Event::ServerHello(sh) => {
                    let v = tls::version_name(sh.version).to_string();
                    flow.tls_version = Some(v.clone());
                    if let Some(h) = self.handshake_of(flow) {
                        h.version_chosen = Some(v);
                    }
                }
                _ => {}
            }
        }
        self.tls_out = events;
        self.tls_out.clear();
    }

    /// A TLS connection ended: how much of it could be read, and if nothing, why.
    pub fn tls_end(&mut self, flow: &FlowState, dec: Option<&Decrypt>, stats: &FlowStats) {
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
        self.decryption(flow, status, encrypted, decrypted);
    }

    /// A QUIC connection ended: its last HTTP/3 events, and how much of it could be read.
    pub fn quic_end(
        &mut self,
        flow: &mut FlowState,
        conn: &mut pc_h3::Connection,
        meta: &PacketMeta,
    ) {
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
        self.decryption(flow, status, seen[0] + seen[1], decrypted[0] + decrypted[1]);
        self.h3_events(flow, &events, meta);
    }

    /// Count a connection's protected bytes and say on its handshake how they went.
    fn decryption(&mut self, flow: &FlowState, status: String, encrypted: u64, decrypted: u64) {
        self.result.input.tls_bytes += encrypted;
        self.result.input.tls_bytes_decrypted += decrypted;
        if let Some(h) = self.handshake_of(flow) {
            h.decryption = Some(status);
            h.encrypted_bytes = encrypted;
            h.decrypted_bytes = decrypted;
        }
    }
}
