//! The flow table's entries: what is known about one connection while it lasts (its
//! analyzer, where it goes, what it sent so far), and how a flow's protocol is decided from
//! its first bytes.
//!
//! The analyzer and the rest of a flow's state are two fields, so that the protocol code can
//! run an analyzer and record into the flow's state at once, without taking either out.

use crate::agg::LocalHits;
use crate::h1::ReqBody;
use crate::model::Protocol;
use crate::seam::Seam;
use foldhash::HashMap;
use pc_net::{Direction, FlowId, FlowKey, PacketMeta, Transport};
use pc_proto::{AppProto, dns, gquic, http1, quic, tls};
use std::sync::Arc;

/// Flow ids are numbered per transport (like tshark's tcp.stream / udp.stream).
pub type Fk = (Transport, FlowId);

/// The flows of one capture still open.
pub type FlowTable = HashMap<Fk, Flow>;

/// Server bytes kept while waiting for the client's first bytes.
pub(crate) const MAX_EARLY_SERVER: usize = 64 * 1024;

/// HTTP over one connection, whether its bytes came in clear or out of TLS.
pub enum HttpConn {
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
    pub fn h1() -> Self {
        HttpConn::H1 {
            req: Box::new(http1::Parser::requests()),
            body: Box::default(),
            h2c: false,
            ws: false,
        }
    }

    pub fn h2() -> Self {
        HttpConn::H2(Box::new(pc_h2::Connection::new()))
    }
}

/// TLS decryption state of one connection and what runs on its plaintext.
pub struct Decrypt {
    pub session: pc_tlsdec::Session,
    pub inner: Option<HttpConn>,
}

pub enum Analyzer {
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

impl Analyzer {
    /// The HTTP/1.x connection running on this flow, in clear or inside TLS, with the
    /// protocol and protection its requests are reported with.
    pub fn h1(&mut self) -> Option<(&mut HttpConn, Protocol, bool)> {
        match self {
            Analyzer::Http(c @ HttpConn::H1 { .. }) => Some((c, Protocol::Http, false)),
            Analyzer::Tls { dec: Some(d), .. } => match &mut d.inner {
                Some(c @ HttpConn::H1 { .. }) => Some((c, Protocol::HttpsDecrypted, true)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The HTTP/2 connection running on this flow, and whether it is inside TLS.
    pub fn h2(&mut self) -> Option<(&mut pc_h2::Connection, bool)> {
        match self {
            Analyzer::Http(HttpConn::H2(h2)) => Some((h2, false)),
            Analyzer::Tls { dec: Some(d), .. } => match &mut d.inner {
                Some(HttpConn::H2(h2)) => Some((h2, true)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// One connection of the table.
pub struct Flow {
    pub analyzer: Analyzer,
    pub st: FlowState,
}

/// What is known about a flow besides its analyzer.
pub struct FlowState {
    pub key: FlowKey,
    pub app: Option<Arc<str>>,
    pub http_host: Option<String>,
    pub sni: Option<String>,
    pub tls_version: Option<String>,
    pub handshake: Option<usize>,
    pub cleartext_sent: bool,
    pub hits: LocalHits,
    /// Raw bytes searched so far, for values split across segments.
    pub seam: Seam,
    /// Pieces of what the client sent that were cut, and bytes known not searched.
    pub cuts: u64,
    pub unsearched: u64,
    /// What the server sent before the client said anything (an HTTP/2 server's SETTINGS, a
    /// banner), kept until the client's first bytes tell the protocol.
    pub early_server: Vec<u8>,
}

impl Flow {
    pub fn new(key: &FlowKey, meta: &PacketMeta) -> Self {
        Flow {
            analyzer: Analyzer::Undecided,
            st: FlowState {
                key: key.clone(),
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
        }
    }

    pub fn protocol(&self) -> Protocol {
        match (&self.analyzer, self.st.key.transport) {
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

/// How a flow is named in a cut.
pub fn flow_name(key: &FlowKey) -> String {
    let t = match key.transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    };
    format!("{t} {} -> {}", key.client, key.server)
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
