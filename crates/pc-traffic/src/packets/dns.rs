//! DNS on a flow (UDP, TCP, multicast): questions counted and searched, answers listed and
//! kept to name the destinations of later flows.

use super::collector::{At, Collector, scan_into};
use super::flow::FlowState;
use crate::event::{DnsEvent, Event};
use crate::model::Protocol;
use crate::result::DnsKey;
use pc_net::{PacketMeta, Transport};
use pc_proto::dns;
use std::net::IpAddr;

/// DNS answers kept to name destinations; beyond this the oldest names are not replaced.
const MAX_DNS_NAMES: usize = 1_000_000;

impl Collector<'_> {
    /// The name the DNS answers seen so far give `ip`.
    pub fn dns_name(&self, ip: IpAddr) -> Option<String> {
        self.dns_names.get(&ip).cloned()
    }

    pub fn dns_message(&mut self, flow: &mut FlowState, msg: &dns::Message, meta: &PacketMeta) {
        let phase = self.result.input.phase.clone();
        let key = &flow.key;
        let transport = if key.server.port() == 5353 || key.client.port() == 5353 {
            "mdns"
        } else if key.transport == Transport::Tcp {
            "tcp"
        } else {
            "udp"
        };
        if !msg.response {
            let at = At {
                meta,
                protocol: Protocol::Dns,
                encrypted: false,
            };
            for q in &msg.questions {
                if let Some(e) = self.result.dns_entry(DnsKey {
                    name: q.name.to_ascii_lowercase(),
                    qtype: q.qtype,
                }) {
                    e.count += 1;
                    e.transports.insert(transport);
                    e.phases.insert(phase.clone());
                }
                let name = q.name.as_bytes();
                scan_into(self.ctx, &mut flow.hits, name, "dns", at, Some(&q.name));
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
}
