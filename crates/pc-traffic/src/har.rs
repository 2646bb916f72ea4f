//! HAR files: every request of every entry is searched like a decrypted HTTP request.

use crate::agg::LocalHits;
use crate::ctx::Ctx;
use crate::model::{Cut, Protocol};
use crate::request::{RequestView, Seen, Server};
use crate::result::{CaptureResult, DestKey, FindingKey};
use std::net::IpAddr;
use std::path::Path;

/// Split a URL into scheme, host, port and path (with query).
fn split_url(url: &str) -> (String, Option<String>, Option<u16>, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, p) = h.split_once(']').unwrap_or((h, ""));
        (
            h.to_string(),
            p.strip_prefix(':').and_then(|p| p.parse().ok()),
        )
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (h.to_string(), p.parse().ok())
            }
            _ => (authority.to_string(), None),
        }
    };
    let default_port = match scheme.as_str() {
        "https" | "wss" => Some(443),
        "http" | "ws" => Some(80),
        _ => None,
    };
    let host = (!host.is_empty()).then(|| host.to_ascii_lowercase());
    (
        scheme,
        host,
        port.or(default_port),
        if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        },
    )
}

/// Reading problems listed one by one per input (skipped entries, repaired text); the rest
/// are counted in one closing line, so a hostile file cannot grow the report without bound.
const MAX_LISTED: usize = 32;

pub fn analyze(ctx: &Ctx, path: &Path, result: &mut CaptureResult) {
    // One entry at a time: memory does not grow with the number of entries.
    let mut reader = match pc_capture::har::HarReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            result.input.errors.push(e.to_string());
            result.input.failed = true;
            return;
        }
    };
    result.input.compressed = reader.compressed();
    let mut listed = 0usize;
    let mut unlisted = 0u64;
    let mut note = |result: &mut CaptureResult, text: String| {
        if listed < MAX_LISTED {
            listed += 1;
            result.input.errors.push(text);
        } else {
            unlisted += 1;
        }
    };
    // Entries read to their end (searched or skipped).
    let mut complete = 0u64;
    loop {
        let item = reader.next_item();
        if let Ok(Some(_)) = item {
            complete += 1;
        }
        let entry = match item {
            Ok(Some(pc_capture::har::Item::Entry(e))) => e,
            Ok(Some(pc_capture::har::Item::Skipped(s))) => {
                // Nothing of the entry was searched: a cut, so no verdict can be a clean PASS.
                result.input.coverage.add(Cut {
                    frame: None,
                    entry: Some(s.index as u64),
                    flow: None,
                    what: format!("entry skipped: it holds more than {} bytes of text", s.max),
                    bytes: 0,
                });
                note(result, s.to_string());
                continue;
            }
            Ok(None) => break,
            Err(e) => {
                // Entries before the error were analysed; what follows never will be.
                if complete == 0 {
                    result.input.failed = true;
                } else {
                    result.input.stopped_at = Some(e.offset);
                }
                result.input.errors.push(e.to_string());
                break;
            }
        };
        for r in &entry.repairs {
            note(
                result,
                format!("{}: HAR entry {}: {r}", result.input.path, entry.index),
            );
        }
        analyze_entry(ctx, &entry, result);
    }
    result.input.har_entries = complete;
    if unlisted > 0 {
        result.input.errors.push(format!(
            "{}: {unlisted} more HAR reading problem(s) not listed",
            result.input.path
        ));
    }
}

/// Searches one entry's request and adds it to the requests and destinations.
pub(crate) fn analyze_entry(ctx: &Ctx, entry: &pc_capture::har::Entry, result: &mut CaptureResult) {
    let req = &entry.request;
    let (scheme, host, port, target) = split_url(&req.url);
    let encrypted = matches!(scheme.as_str(), "https" | "wss");
    let protocol = if encrypted {
        Protocol::Https
    } else {
        Protocol::Http
    };
    let server_ip: Option<IpAddr> = entry.server_ip;
    let idx = entry.index as u64;
    let view = RequestView {
        method: &req.method,
        host: host.as_deref(),
        target: &target,
        url: Some(&req.url),
        fields: req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect(),
        cookie_list: &req.cookies,
        body: req.body.as_deref(),
    };
    let seen = Seen {
        ts: entry.ts,
        frame: None,
        entry: Some(idx),
        protocol,
        encrypted,
    };
    let to = Server {
        ip: server_ip,
        port,
        app: None,
    };
    let mut hits = LocalHits::new();
    let stopped = view.record(ctx, result, &mut hits, seen, &to);
    // A field whose search stopped early (too many hits, or the decode budget) leaves a
    // part unread: say where, so the verdict cannot be a clean PASS on it.
    for location in stopped {
        result.input.coverage.add(Cut {
            frame: None,
            entry: Some(idx),
            flow: None,
            what: format!("{location}: search stopped early"),
            bytes: 0,
        });
    }
    for (k, agg) in hits {
        let fk = FindingKey {
            hit: k,
            host: host.clone(),
            ip: server_ip,
            port,
            app: None,
        };
        result.findings.entry(fk).or_default().merge(agg);
    }
    let dk = DestKey {
        name: host
            .clone()
            .or_else(|| server_ip.map(|i| i.to_string()))
            .unwrap_or_default(),
        port: port.unwrap_or(0),
        protocol,
    };
    let d = result.destinations.entry(dk).or_default();
    d.host = host.clone();
    if let Some(ip) = server_ip {
        d.ips.insert(ip);
    }
    d.flows += 1;
    let header_bytes: u64 = req
        .headers
        .iter()
        .map(|(n, v)| (n.len() + v.len() + 4) as u64)
        .sum();
    let body_len = req.body.as_ref().map_or(0, |b| b.len() as u64);
    let sent = body_len + header_bytes + req.url.len() as u64;
    d.bytes_sent += sent;
    d.bytes_sent_inspected += sent;
    d.bytes_received += entry
        .response
        .as_ref()
        .and_then(|r| r.body.as_ref())
        .map_or(0, |b| b.len() as u64);
    d.cleartext |= !encrypted;
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("https://Graph.Facebook.com/v12/act?x=1"),
            (
                "https".into(),
                Some("graph.facebook.com".into()),
                Some(443),
                "/v12/act?x=1".into()
            )
        );
        assert_eq!(
            split_url("http://[2001:db8::1]:8080"),
            (
                "http".into(),
                Some("2001:db8::1".into()),
                Some(8080),
                "/".into()
            )
        );
        assert_eq!(
            split_url("http://u:p@h:81/a"),
            ("http".into(), Some("h".into()), Some(81), "/a".into())
        );
    }
}
