//! What a capture under analysis reports as soon as it is decided, for live capture: a flow's
//! findings and destination when the flow ends, a DNS answer when it arrives.
//!
//! Events are a preview: they come from whichever worker decided them, in no fixed order
//! between flows, and carry neither country nor network owner (looked up once, for the
//! report). The report built at the end is the record; it is the same as in batch mode.

use crate::model::Protocol;
use serde::Serialize;
use std::sync::Arc;

/// Receives events, from any of the pipeline's threads.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// One decided fact.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Finding(FindingEvent),
    Destination(DestinationEvent),
    Dns(DnsEvent),
}

/// Identifiers one flow sent in one form and field (the part of a report finding one flow
/// contributes).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FindingEvent {
    pub identifier: String,
    pub identifier_name: String,
    pub encoding: Vec<String>,
    pub location: String,
    pub protocol: Protocol,
    pub encrypted_on_wire: bool,
    pub host: Option<String>,
    pub ip: Option<String>,
    pub port: Option<u16>,
    pub app: Option<String>,
    pub count: u64,
    /// Frames of the first transmissions.
    pub frames: Vec<u64>,
}

/// A flow that ended, and where it went.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DestinationEvent {
    pub host: Option<String>,
    pub ip: String,
    pub port: u16,
    pub protocol: Protocol,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub app: Option<String>,
    /// Trackers whose Exodus network signature `host` (or the SNI) matches, as in the report.
    pub tracker_network: Vec<String>,
}

/// A DNS answer: the name asked and the addresses given.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DnsEvent {
    pub name: String,
    pub answers: Vec<String>,
    pub frame: u64,
}
