//! What the analyzers of one capture record into: the capture's result, the DNS names seen,
//! the key material, the event sink, and the few ways every analyzer records (a search, a
//! cut, raw bytes).
//!
//! The collector never looks a flow up: the protocol code hands it the flow's state
//! ([`FlowState`]) it is working on, taken from the table once.

use super::flow::FlowState;
use crate::agg::LocalHits;
use crate::ctx::{Ctx, HitField, all, scan_field};
use crate::event::EventSink;
use crate::h1::Done;
use crate::model::{Cut, Protocol};
use crate::result::CaptureResult;
use crate::seam::RAW_OVERLAP;
use foldhash::HashMap;
use pc_net::PacketMeta;
use pc_proto::tls;
use std::net::IpAddr;
use std::sync::Arc;

/// Everything of one capture but its flow table.
pub struct Collector<'c> {
    pub ctx: &'c Ctx,
    pub result: CaptureResult,
    /// Names the DNS answers seen so far give addresses (see `dns.rs`).
    pub dns_names: HashMap<IpAddr, String>,
    /// Buffers reused from packet to packet.
    pub http_done: Vec<Done>,
    pub tls_out: Vec<tls::Event>,
    /// TLS secrets known so far (key log files and the capture's Decryption Secrets Blocks).
    pub keys: Arc<pc_tlsdec::keylog::KeyLog>,
    /// TLS 1.2 sessions resumed by id or ticket within this capture.
    pub resumption: Arc<std::sync::Mutex<pc_tlsdec::ResumptionCache>>,
    /// Where decided facts go as they are decided (live capture), if anywhere.
    pub events: Option<EventSink>,
}

/// Where the bytes being analysed come from: their packet, and the protocol and protection
/// they had on the wire (what a finding in them is reported with).
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub meta: &'a PacketMeta,
    pub protocol: Protocol,
    pub encrypted: bool,
}

/// Search `data` as field `location` and add every hit to `hits`; true when the search
/// stopped short.
pub fn scan_into(
    ctx: &Ctx,
    hits: &mut LocalHits,
    data: &[u8],
    location: &str,
    at: At<'_>,
    host: Option<&str>,
) -> bool {
    let field = HitField {
        location,
        protocol: at.protocol,
        encrypted: at.encrypted,
        host,
    };
    let (ts, frame) = (Some(at.meta.ts), Some(at.meta.frame));
    scan_field(ctx, hits, data, &all, &field, ts, frame, None).incomplete
}

impl<'c> Collector<'c> {
    pub fn new(ctx: &'c Ctx, result: CaptureResult) -> Self {
        Collector {
            ctx,
            result,
            dns_names: HashMap::default(),
            http_done: Vec::new(),
            tls_out: Vec::new(),
            keys: Arc::new(pc_tlsdec::keylog::KeyLog::default()),
            resumption: pc_tlsdec::ResumptionCache::shared(),
            events: None,
        }
    }

    /// Note a cut in what the client of `flow` sent: not all of it was searched.
    pub fn cut(&mut self, flow: &mut FlowState, meta: &PacketMeta, what: String, bytes: u64) {
        flow.cuts += 1;
        flow.unsearched = flow.unsearched.saturating_add(bytes);
        self.result.add_cut(Cut {
            frame: Some(meta.frame),
            entry: None,
            flow: Some(super::flow::flow_name(&flow.key)),
            what,
            bytes,
        });
    }

    /// Search stream bytes of no known protocol, keeping a tail so that values split across
    /// chunks are found.
    pub fn raw(&mut self, flow: &mut FlowState, data: &[u8], at: At<'_>) {
        flow.cleartext_sent |= !at.encrypted;
        let field = HitField {
            location: "payload",
            protocol: at.protocol,
            encrypted: at.encrypted,
            host: None,
        };
        let incomplete = flow.seam.scan(
            self.ctx,
            &mut flow.hits,
            data,
            RAW_OVERLAP,
            &field,
            Some(at.meta.ts),
            Some(at.meta.frame),
            None,
        );
        if incomplete {
            let what = format!(
                "{} payload: encoded values past the matcher's decoding budget not searched",
                at.protocol
            );
            self.cut(flow, at.meta, what, 0);
        }
    }
}
