//! HTTP on a flow, in clear or out of TLS or QUIC: HTTP/1.x requests as they stream (and the
//! switch to HTTP/2 or WebSocket after `101 Switching Protocols`), HTTP/2 messages, HTTP/3
//! requests. Each request goes through [`RequestView::record`], like a HAR entry's.

use super::collector::{At, Collector, scan_into};
use super::flow::{FlowState, HttpConn};
use crate::ctx::HitField;
use crate::h1::{Done, ReqBody, ReqSink};
use crate::model::Protocol;
use crate::request::{RequestView, Seen, Server, fields};
use pc_net::{Direction, PacketMeta};
use pc_proto::http1;

/// What a request parser is given.
pub enum H1Step<'a> {
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

fn is_h2_preface(m: &http1::Head) -> bool {
    matches!(&m.start, http1::StartLine::Request { method, target, .. } if method == "PRI" && target == "*")
}

impl Collector<'_> {
    /// A request of `flow` seen at `at`: recorded and searched; the flow is named after it
    /// if nothing named it before. Says whether a search stopped short.
    fn request(&mut self, flow: &mut FlowState, view: &RequestView<'_>, at: At<'_>) -> bool {
        if flow.http_host.is_none() {
            flow.http_host = view.destination_name();
        }
        let seen = Seen {
            ts: Some(at.meta.ts),
            frame: Some(at.meta.frame),
            entry: None,
            protocol: at.protocol,
            encrypted: at.encrypted,
        };
        let to = Server {
            ip: Some(flow.key.server.ip()),
            port: Some(flow.key.server.port()),
            app: flow.app.as_deref(),
        };
        !view
            .record(self.ctx, &mut self.result, &mut flow.hits, seen, &to)
            .is_empty()
    }

    /// An HTTP/1.x request that ended: recorded, its start line and fields searched (its body
    /// was searched as it came), and whatever of it could not be read noted as a cut.
    fn http_request(&mut self, flow: &mut FlowState, done: &Done, at: At<'_>) {
        let msg = &done.head;
        let http1::StartLine::Request { method, target, .. } = &msg.start else {
            return;
        };
        let host = msg
            .header("host")
            .map(|v| String::from_utf8_lossy(v).trim().to_string());
        let view = RequestView {
            method,
            host: host.as_deref(),
            target,
            fields: fields(msg.headers.iter().chain(&done.end.trailers)),
            url: None,
            cookie_list: &[],
            body: None,
        };
        let incomplete = self.request(flow, &view, at) || done.incomplete;
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
            self.cut(flow, at.meta, what, bytes);
        }
    }

    /// One step of a connection's request parser; the requests it ended are recorded, and
    /// handed back (for the upgrade check) in a list to give back to [`Self::h1_recycle`].
    pub fn h1_run(
        &mut self,
        flow: &mut FlowState,
        req: &mut http1::Parser,
        body: &mut ReqBody,
        step: H1Step<'_>,
        at: At<'_>,
    ) -> Vec<Done> {
        let mut done = std::mem::take(&mut self.http_done);
        let mut sink = ReqSink {
            ctx: self.ctx,
            hits: &mut flow.hits,
            body,
            done: &mut done,
            field: HitField {
                location: "body",
                protocol: at.protocol,
                encrypted: at.encrypted,
                host: None,
            },
            ts: Some(at.meta.ts),
            frame: Some(at.meta.frame),
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
            self.http_request(flow, d, at);
        }
        if let Err(e) = parsed {
            self.cut(flow, at.meta, format!("HTTP request stream: {e}"), 0);
        }
        done
    }

    /// Hand back the list `h1_run` returned, for reuse.
    pub fn h1_recycle(&mut self, mut done: Vec<Done>) {
        done.clear();
        self.http_done = done;
    }

    /// Run an HTTP/1.x connection's parser one step, if `conn` is one.
    pub fn h1_step(
        &mut self,
        flow: &mut FlowState,
        conn: &mut HttpConn,
        step: H1Step<'_>,
        at: At<'_>,
    ) {
        if let HttpConn::H1 { req, body, .. } = conn {
            let done = self.h1_run(flow, req, body, step, at);
            self.h1_recycle(done);
        }
    }

    /// HTTP bytes of one direction, from the wire or out of TLS.
    pub fn http_bytes(
        &mut self,
        flow: &mut FlowState,
        dir: Direction,
        data: &[u8],
        conn: &mut HttpConn,
        at: At<'_>,
    ) {
        match conn {
            HttpConn::H1 { req, body, h2c, ws } => {
                let mut switch_at = None;
                if dir == Direction::ToServer {
                    let done = self.h1_run(flow, req, body, H1Step::Push(data), at);
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
                if let Some(after) = switch_at {
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
                    self.http_bytes(flow, dir, &data[after..], conn, at);
                }
            }
            HttpConn::Ws(ws) => {
                // What the phone sends over the socket; the server's frames are not searched.
                if dir == Direction::ToServer {
                    let mut frames = Vec::new();
                    let _ = ws.push(data, &mut frames);
                    for f in &frames {
                        scan_into(self.ctx, &mut flow.hits, &f.payload, "websocket", at, None);
                    }
                }
            }
            HttpConn::H2(h2) => {
                let mut out = Vec::new();
                let _ = h2.push(dir == Direction::ToServer, data, &mut out);
                for m in &out {
                    self.h2_message(flow, m, at.meta, at.encrypted);
                }
            }
            HttpConn::Raw => {
                if dir == Direction::ToServer {
                    self.raw(flow, data, at);
                }
            }
        }
    }

    /// One HTTP/2 message: requests are recorded and searched (headers, body, gRPC messages
    /// and their protobuf fields, WebSocket frames the client sent).
    pub fn h2_message(
        &mut self,
        flow: &mut FlowState,
        m: &pc_h2::Message,
        meta: &PacketMeta,
        encrypted: bool,
    ) {
        if !m.to_server {
            return;
        }
        let text = |v: Option<&[u8]>| v.map(|b| String::from_utf8_lossy(b).into_owned());
        let authority = text(m.authority());
        let method = text(m.method()).unwrap_or_default();
        let path = text(m.path()).unwrap_or_default();
        let view = RequestView {
            method: &method,
            host: authority.as_deref().map(str::trim),
            target: &path,
            fields: fields(m.headers.iter().chain(&m.trailers)),
            url: None,
            cookie_list: &[],
            body: Some(&m.body),
        };
        let at = At {
            meta,
            protocol: Protocol::Http2,
            encrypted,
        };
        let mut incomplete = self.request(flow, &view, at);
        let mut scan = |data: &[u8], location: &str| {
            incomplete |= scan_into(self.ctx, &mut flow.hits, data, location, at, None);
        };
        for g in &m.grpc {
            if g.compressed && g.decompressed {
                scan(&g.data, "grpc");
            }
            // Numbers travel as varints: an IMEI sent as an int64 field is only found in its
            // decimal form.
            for f in &g.fields {
                if let pc_h2::protobuf::ProtoValue::Varint(v) = f.value {
                    scan(v.to_string().as_bytes(), &format!("grpc:{}", f.path));
                }
            }
        }
        for w in &m.websocket {
            scan(&w.payload, "websocket");
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
            self.cut(flow, meta, what, 0);
        }
    }

    /// What a decrypted QUIC connection carried: HTTP/3 requests, or raw stream bytes.
    pub fn h3_events(&mut self, flow: &mut FlowState, events: &[pc_h3::Event], meta: &PacketMeta) {
        for ev in events {
            match ev {
                pc_h3::Event::Request(m) => {
                    let text = |n: &str| m.header(n).map(|v| v.into_owned());
                    let authority = text(":authority");
                    let method = text(":method").unwrap_or_default();
                    let path = text(":path").unwrap_or_default();
                    let view = RequestView {
                        method: &method,
                        host: authority.as_deref().map(str::trim),
                        target: &path,
                        fields: fields(&m.headers),
                        url: None,
                        cookie_list: &[],
                        body: Some(&m.body),
                    };
                    let at = At {
                        meta,
                        protocol: Protocol::Http3,
                        encrypted: true,
                    };
                    let incomplete = self.request(flow, &view, at);
                    if m.body_truncated || incomplete {
                        let what = if m.body_truncated {
                            "HTTP/3 request body cut (limit or lost stream data)"
                        } else {
                            "HTTP/3 request: encoded values past the matcher's decoding budget not searched"
                        };
                        self.cut(flow, meta, what.to_string(), 0);
                    }
                }
                pc_h3::Event::StreamData {
                    to_server: true,
                    data,
                    ..
                } => {
                    let at = At {
                        meta,
                        protocol: Protocol::Quic,
                        encrypted: true,
                    };
                    self.raw(flow, data, at);
                }
                _ => {}
            }
        }
    }
}
