//! Whether a destination is on the local network only: the cleartext rule judges what leaves
//! for the internet, and a phone's DHCP, SSDP, mDNS or NetBIOS chatter never does. Reported
//! apart rather than silently dropped, so a reviewer sees what was left aside and why.

use crate::catalogue::LocalService;
use crate::evidence::DestFact;
use std::net::IpAddr;

/// Why `d` never leaves the local network, or `None` when it may (or its addresses are not
/// known: a destination known only by name is judged).
pub(super) fn local_network(d: &DestFact, services: &[LocalService]) -> Option<String> {
    let ips: Vec<IpAddr> = d.ips.iter().filter_map(|s| s.parse().ok()).collect();
    if ips.is_empty() || ips.len() != d.ips.len() {
        return None;
    }
    if ips.iter().all(|ip| link_scope(ip).is_some()) {
        let scope = link_scope(&ips[0]).unwrap_or("local");
        let service = services.iter().find(|s| s.ports.contains(&d.port));
        return Some(match service {
            Some(s) => format!("{} to a {scope} address", s.name),
            None => format!("to a {scope} address"),
        });
    }
    let service = services.iter().find(|s| s.ports.contains(&d.port))?;
    ips.iter()
        .all(not_global)
        .then(|| format!("{} to a private address on the local network", service.name))
}

/// Addresses no router forwards: link-local, multicast and broadcast.
fn link_scope(ip: &IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v) if v.is_broadcast() => Some("broadcast"),
        // The capture keeps no netmask; a private address ending in .255 is the broadcast of
        // its /24 (LAN discovery: Dropbox, Spotify, NetBIOS), and if the network is wider it
        // is still a host of the local network, never the internet.
        IpAddr::V4(v) if v.is_private() && v.octets()[3] == 255 => Some("subnet broadcast"),
        IpAddr::V4(v) if v.is_multicast() => Some("multicast"),
        IpAddr::V4(v) if v.is_link_local() => Some("link-local"),
        // 0.0.0.0 is the unconfigured source of a DHCP discover, never a server.
        IpAddr::V4(v) if v.is_unspecified() => Some("unspecified"),
        IpAddr::V6(v) if v.is_multicast() => Some("multicast"),
        IpAddr::V6(v) if v.is_unicast_link_local() => Some("link-local"),
        IpAddr::V6(v) if v.is_unspecified() => Some("unspecified"),
        _ => None,
    }
}

/// Addresses of the local network: the above plus private (RFC 1918), shared (RFC 6598),
/// loopback and unique-local IPv6 (RFC 4193), where a subnet broadcast such as 192.168.1.255
/// also falls.
fn not_global(ip: &IpAddr) -> bool {
    if link_scope(ip).is_some() || ip.is_loopback() {
        return true;
    }
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            v.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v) => v.is_unique_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(ips: &[&str], port: u16) -> DestFact {
        DestFact {
            index: 0,
            host: None,
            ips: ips.iter().map(|s| s.to_string()).collect(),
            port,
            protocol: "udp".into(),
            country: None,
            countries: vec![],
            bytes_sent: 1,
            bytes_sent_inspected: 1,
            cleartext_data_sent: true,
            tls_versions: vec![],
            phases: vec![],
            apps: vec![],
            tracker_network: vec![],
        }
    }

    fn services() -> Vec<LocalService> {
        vec![
            LocalService {
                name: "DHCP".into(),
                ports: vec![67, 68],
            },
            LocalService {
                name: "NetBIOS".into(),
                ports: vec![137, 138],
            },
        ]
    }

    #[test]
    fn broadcast_multicast_and_link_local_stay_local() {
        let s = services();
        assert_eq!(
            local_network(&dest(&["255.255.255.255"], 67), &s).as_deref(),
            Some("DHCP to a broadcast address")
        );
        assert!(local_network(&dest(&["239.255.255.250"], 1900), &s).is_some());
        assert!(local_network(&dest(&["ff02::fb"], 5353), &s).is_some());
        assert!(local_network(&dest(&["fe80::1"], 547), &s).is_some());
        assert!(local_network(&dest(&["169.254.3.4"], 80), &s).is_some());
        assert_eq!(
            local_network(&dest(&["192.168.2.255"], 17500), &s).as_deref(),
            Some("to a subnet broadcast address")
        );
        // .255 of a public network is an ordinary internet host.
        assert!(local_network(&dest(&["203.0.113.255"], 17500), &s).is_none());
    }

    #[test]
    fn local_services_on_private_addresses_stay_local_elsewhere_they_are_judged() {
        let s = services();
        assert!(local_network(&dest(&["192.168.1.255"], 137), &s).is_some());
        assert!(local_network(&dest(&["10.0.0.1"], 67), &s).is_some());
        // A private address on another port may be a proxy to the internet: judged.
        assert!(local_network(&dest(&["192.168.1.10"], 8080), &s).is_none());
        // A local service's port on a public address is not local.
        assert!(local_network(&dest(&["8.8.8.8"], 137), &s).is_none());
        // Any global address among several: judged.
        assert!(local_network(&dest(&["224.0.0.251", "8.8.8.8"], 5353), &s).is_none());
        // Known only by name (HAR): judged.
        assert!(local_network(&dest(&[], 67), &s).is_none());
        assert!(local_network(&dest(&["not-an-ip"], 67), &s).is_none());
    }
}
