//! What a traffic analysis reports: findings, destinations, requests, DNS and inputs.
//!
//! Every list is sorted so that two runs over the same inputs give byte-identical JSON.

use pc_case::Consent;
use serde::{Serialize, Serializer};
use std::fmt;

/// The protocol a finding, destination, request or handshake was seen in.
///
/// The variants are in the alphabetical order of their names, so that sorting by the enum
/// sorts as the names did when they were strings (report order rests on it; a test checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// DNS over UDP or TCP (and multicast DNS).
    Dns,
    /// Google QUIC (its own handshake; only the client hello is read).
    Gquic,
    /// HTTP/1.x in clear (a capture, or an `http://` HAR entry).
    Http,
    /// HTTP/2, in clear (h2c) or out of decrypted TLS.
    Http2,
    /// HTTP/3 out of decrypted QUIC.
    Http3,
    /// An `https://` HAR entry (recorded by an intercepting proxy).
    Https,
    /// HTTP/1.x out of TLS decrypted with the capture's key material.
    HttpsDecrypted,
    /// IETF QUIC.
    Quic,
    /// TCP of no known protocol.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// UDP of no known protocol.
    Udp,
}

impl Protocol {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Dns => "dns",
            Protocol::Gquic => "gquic",
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Http3 => "http3",
            Protocol::Https => "https",
            Protocol::HttpsDecrypted => "https-decrypted",
            Protocol::Quic => "quic",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Udp => "udp",
        }
    }

    /// Every protocol, in order.
    pub const ALL: [Protocol; 11] = [
        Protocol::Dns,
        Protocol::Gquic,
        Protocol::Http,
        Protocol::Http2,
        Protocol::Http3,
        Protocol::Https,
        Protocol::HttpsDecrypted,
        Protocol::Quic,
        Protocol::Tcp,
        Protocol::Tls,
        Protocol::Udp,
    ];
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Times are Unix nanoseconds in memory and RFC 3339 text (`…T…​.nnnnnnnnnZ`) in reports.
pub mod rfc3339_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(ns) => s.serialize_some(&pc_base::time::rfc3339_nanos(*ns)),
            None => s.serialize_none(),
        }
    }

    /// For the formats that read a report's times back (an audit's evidence).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => pc_base::time::parse_rfc3339_nanos(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text:?}"))),
        }
    }
}

/// One identifier seen leaving the phone, aggregated over every place it was seen with the same
/// form, field, destination, capture and phase.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// The identifier's kind (`imei`, `msisdn`, …).
    pub identifier: String,
    /// The identifier's name in the case (`imei2`, or a custom name).
    pub identifier_name: String,
    /// The chain of forms, outermost first (`["url", "sha1-hex"]`).
    pub encoding: Vec<String>,
    /// The field it was found in: `url`, `header:<name>`, `cookie`, `body`, `dns`, `sni`, `payload`.
    #[serde(rename = "where")]
    pub location: String,
    pub protocol: Protocol,
    /// True when the bytes were protected by TLS/QUIC on the wire (seen here only because the
    /// capture was decrypted, e.g. a HAR from an intercepting proxy).
    pub encrypted_on_wire: bool,
    pub host: Option<String>,
    pub ip: Option<String>,
    pub port: Option<u16>,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub org: Option<String>,
    /// Unix nanoseconds of the first and last occurrence.
    #[serde(with = "rfc3339_opt")]
    pub first_seen: Option<i64>,
    #[serde(with = "rfc3339_opt")]
    pub last_seen: Option<i64>,
    pub count: u64,
    pub capture: String,
    pub phase: String,
    pub consent: Consent,
    pub app: Option<String>,
    pub evidence: Evidence,
}

/// Where a finding can be checked: frame numbers (pcap) or HAR entry indexes, and a context
/// snippet with the identifier masked unless `--reveal`.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<u64>,
    /// How many occurrences the frame/entry lists leave out (they keep the first few only).
    #[serde(skip_serializing_if = "is_zero")]
    pub more: u64,
    pub snippet: String,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A host the phone contacted, whether or not anything was found in what it sent there.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Destination {
    /// Domain name from HTTP Host, TLS/QUIC SNI or DNS; null when none is known.
    pub host: Option<String>,
    pub ips: Vec<String>,
    pub port: u16,
    pub protocol: Protocol,
    pub sni: Vec<String>,
    pub country: Option<String>,
    /// Every country of `ips` (CDNs answer from several).
    pub countries: Vec<String>,
    pub asn: Option<u32>,
    pub org: Option<String>,
    pub flows: u64,
    pub bytes_sent: u64,
    /// Of `bytes_sent`, what the analysis could read: everything for cleartext protocols and
    /// decrypted HTTPS recordings, the decrypted TLS records for TLS with keys, 0 for TLS/QUIC
    /// without keys.
    pub bytes_sent_inspected: u64,
    pub bytes_received: u64,
    /// Whether the phone sent application data that was not encrypted (HTTP, raw TCP/UDP, DNS).
    pub cleartext_data_sent: bool,
    /// Pieces of what the phone sent here that were cut or could not be decoded, so not
    /// searched whole (see the input's `coverage`).
    pub cuts: u64,
    pub tls_versions: Vec<String>,
    pub phases: Vec<String>,
    pub apps: Vec<String>,
    pub captures: Vec<String>,
    /// Trackers this destination belongs to: `host` or an SNI matches their Exodus network
    /// signature (`data/trackers/exodus_trackers.json`), by tracker id.
    pub tracker_network: Vec<String>,
}

/// One HTTP request seen.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    pub capture: String,
    pub phase: String,
    /// Frame that completed the request (pcap), or null for HAR.
    pub frame: Option<u64>,
    /// HAR entry index, or null for pcap.
    pub entry: Option<u64>,
    pub method: String,
    pub host: Option<String>,
    pub path: String,
    pub protocol: Protocol,
    pub ip: Option<String>,
    pub port: Option<u16>,
    pub app: Option<String>,
}

/// A DNS name the phone asked for.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DnsQuery {
    pub name: String,
    pub qtype: String,
    /// Queries seen (0 when only the response was captured).
    pub count: u64,
    /// `udp`, `tcp`, or `mdns` (multicast DNS on port 5353, seen by the local network only).
    pub transports: Vec<String>,
    pub answers: Vec<String>,
    pub phases: Vec<String>,
}

/// A TLS or QUIC handshake's cleartext facts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Handshake {
    pub capture: String,
    pub frame: u64,
    pub protocol: Protocol,
    pub server_ip: String,
    pub server_port: u16,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub versions_offered: Vec<String>,
    pub version_chosen: Option<String>,
    /// `decrypted`, `no key`, `unsupported cipher suite 0x…`, `failed: …` (TLS over TCP), or
    /// null when decryption does not apply.
    pub decryption: Option<String>,
    /// Bytes of the connection's TLS records (ciphertext), and how many of them were decrypted.
    pub encrypted_bytes: u64,
    pub decrypted_bytes: u64,
}

/// One input file and what reading it gave.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct InputSummary {
    pub path: String,
    pub format: String,
    pub compressed: bool,
    pub phase: String,
    pub consent: Consent,
    pub bytes: u64,
    pub packets: u64,
    pub har_entries: u64,
    pub tcp_flows: u64,
    pub udp_flows: u64,
    pub undecoded_packets: u64,
    /// Flows ended before the capture did to keep memory bounded: idle longer than the idle
    /// timeout, or the oldest ones when the flow table was full. Their bytes were analysed; a
    /// later packet of one starts a new flow.
    pub flows_evicted_idle: u64,
    pub flows_evicted_capacity: u64,
    pub tcp_gaps: u64,
    pub tls_key_log_blocks: u64,
    /// TLS record bytes seen, and how many were decrypted with the key material given.
    pub tls_bytes: u64,
    pub tls_bytes_decrypted: u64,
    /// Errors met while reading (file and byte offset); what came before them was analysed.
    pub errors: Vec<String>,
    /// Whether the input could not be read at all.
    pub failed: bool,
    /// Byte offset at which reading stopped before the end of the file (a broken or cut
    /// capture): the input is only partly usable, what follows was never analysed.
    pub stopped_at: Option<u64>,
    /// What the analysis could not search, and where.
    pub coverage: Coverage,
    /// Entries of the report's lists left out for this input once their bound was reached
    /// (the bytes were still searched; only the listing stops).
    pub omitted: Omitted,
}

/// Per input, the report lists at most [`MAX_REQUESTS`] requests, [`MAX_HANDSHAKES`] handshakes
/// and [`MAX_DNS_QUERIES`] distinct DNS questions (each with at most [`MAX_DNS_ANSWERS`]
/// addresses): memory stays bounded on a capture of millions of connections. What is left out
/// is counted here. Findings are never left out, and destinations carry every TLS version
/// negotiated, so no verdict depends on these lists being whole.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Omitted {
    pub requests: u64,
    pub handshakes: u64,
    pub dns_queries: u64,
    pub dns_answers: u64,
}

pub const MAX_REQUESTS: usize = 200_000;
pub const MAX_HANDSHAKES: usize = 200_000;
pub const MAX_DNS_QUERIES: usize = 100_000;
pub const MAX_DNS_ANSWERS: usize = 256;

/// What the analysis of one input could not search: every cut, skipped range and parse stop
/// in what the phone sent. A requirement whose evidence has cuts is never a PASS.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Coverage {
    /// Pieces of what the phone sent (request bodies, messages, stream bytes) that were cut by
    /// a limit, lost in part, or could not be decoded: an identifier in the part not read
    /// would not have been found.
    pub cuts: u64,
    /// Bytes the phone sent that are known not to have been searched because of those cuts
    /// (a lower bound: how much of a cut body was never read is not always known).
    pub bytes_not_searched: u64,
    /// Bytes the phone sent that the capture lost (TCP gaps), whatever they carried.
    pub gap_bytes_sent: u64,
    /// The first cuts, with where they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first_cuts: Vec<Cut>,
}

/// One cut: where, what, and how many bytes were not searched (0 when unknown).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cut {
    /// Frame (pcap) at which the cut was noticed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    /// HAR entry index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// The connection, as `tcp 10.0.0.2:51234 -> 93.184.216.34:80`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    pub what: String,
    pub bytes: u64,
}

/// Cuts kept with their place per input; the rest are counted.
pub const MAX_CUTS_LISTED: usize = 32;

impl Coverage {
    /// Record one cut.
    pub fn add(&mut self, cut: Cut) {
        self.cuts += 1;
        self.bytes_not_searched = self.bytes_not_searched.saturating_add(cut.bytes);
        if self.first_cuts.len() < MAX_CUTS_LISTED {
            self.first_cuts.push(cut);
        }
    }
}

/// Which identifiers were searched, and which were skipped (too short to search safely).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SearchSummary {
    pub identifiers: Vec<String>,
    pub patterns: usize,
    pub skipped: Vec<String>,
}

/// The whole result of `phonecert traffic`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrafficReport {
    pub tool: String,
    pub findings: Vec<Finding>,
    pub destinations: Vec<Destination>,
    pub requests: Vec<Request>,
    pub dns: Vec<DnsQuery>,
    pub handshakes: Vec<Handshake>,
    pub inputs: Vec<InputSummary>,
    pub search: SearchSummary,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports sort by protocol (requests, handshakes, destinations): the enum must sort as
    /// the names do, or the order of a report would change with the type.
    #[test]
    fn protocols_sort_as_their_names() {
        let mut by_name = Protocol::ALL;
        by_name.sort_by_key(|p| p.as_str());
        assert_eq!(by_name, Protocol::ALL);
        let mut by_enum = Protocol::ALL;
        by_enum.reverse();
        by_enum.sort();
        assert_eq!(by_enum, Protocol::ALL);
    }

    /// Times are numbers in memory and the same RFC 3339 text as before in the JSON.
    #[test]
    fn times_and_types_serialize_as_text() {
        let f = Finding {
            identifier: "imei".into(),
            identifier_name: "imei".into(),
            encoding: vec![],
            location: "url".into(),
            protocol: Protocol::HttpsDecrypted,
            encrypted_on_wire: true,
            host: None,
            ip: None,
            port: None,
            country: None,
            asn: None,
            org: None,
            first_seen: Some(1_782_000_000_123_456_789),
            last_seen: None,
            count: 1,
            capture: "c".into(),
            phase: "p".into(),
            consent: Consent::Declined,
            app: None,
            evidence: Evidence::default(),
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["protocol"], "https-decrypted");
        assert_eq!(v["consent"], "declined");
        assert_eq!(v["first_seen"], "2026-06-21T00:00:00.123456789Z");
        assert!(v["last_seen"].is_null());
    }
}
