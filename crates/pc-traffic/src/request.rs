//! One HTTP request as every source gives it (an HTTP/1 head, an HTTP/2 or HTTP/3 field
//! list, a HAR entry), and the one way a request is recorded and searched.
//!
//! The four sources used to do this each in their own way, and the copies had drifted: header
//! names were lowercased for HTTP/1 and HAR only, a HAR's `:path` pseudo-header was searched a
//! second time beside the URL, an HTTP/3 stream without `:method` or `:path` was listed as a
//! request, and the destination's name kept the case it was sent in. Here they are one.

use crate::agg::LocalHits;
use crate::ctx::{Ctx, HitField, all, scan_field};
use crate::model::{Protocol, Request};
use crate::result::CaptureResult;
use std::net::IpAddr;

/// A request's parts, borrowed from whichever source parsed it.
pub struct RequestView<'a> {
    pub method: &'a str,
    /// `Host` or `:authority` as sent (trimmed), or a HAR URL's host.
    pub host: Option<&'a str>,
    /// The request target (path and query), listed as the request's path.
    pub target: &'a str,
    /// The whole URL, when the source has it (a HAR): searched as `url` instead of the target.
    pub url: Option<&'a str>,
    /// Header and trailer fields in order, pseudo-headers included (`:path` is `target`).
    pub fields: Vec<(&'a str, &'a [u8])>,
    /// Cookies a HAR lists apart, searched when no `Cookie` header carries them.
    pub cookie_list: &'a [(String, String)],
    /// The body, when the source has it whole (HTTP/1 bodies are searched as they stream).
    pub body: Option<&'a [u8]>,
}

/// Where a request was seen and how it travelled.
#[derive(Clone, Copy)]
pub struct Seen {
    pub ts: Option<i64>,
    pub frame: Option<u64>,
    pub entry: Option<u64>,
    pub protocol: Protocol,
    pub encrypted: bool,
}

/// Where a request went.
pub struct Server<'a> {
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
    pub app: Option<&'a str>,
}

impl RequestView<'_> {
    /// Whether this is a request at all (an HTTP/2 or /3 stream without `:method` and
    /// `:path` is not).
    pub fn is_request(&self) -> bool {
        !self.method.is_empty() || !self.target.is_empty()
    }

    /// The name the request gives its destination: the host without its port, lowercased
    /// (names are case-insensitive, and DNS names are kept lowercase).
    pub fn destination_name(&self) -> Option<String> {
        self.host.map(|h| strip_port(h).to_ascii_lowercase())
    }

    /// List the request (within the per-input bound) and search its URL, fields, cookies and
    /// body into `hits`. Returns the fields whose search stopped short.
    pub fn record(
        &self,
        ctx: &Ctx,
        result: &mut CaptureResult,
        hits: &mut LocalHits,
        seen: Seen,
        to: &Server<'_>,
    ) -> Vec<String> {
        if self.is_request() {
            result.push_request(Request {
                capture: result.input.path.clone(),
                phase: result.input.phase.clone(),
                frame: seen.frame,
                entry: seen.entry,
                method: self.method.to_string(),
                host: self.host.map(str::to_string),
                path: self.target.to_string(),
                protocol: seen.protocol,
                ip: to.ip.map(|i| i.to_string()),
                port: to.port,
                app: to.app.map(str::to_string),
            });
        }
        let mut stopped = Vec::new();
        let mut scan = |data: &[u8], location: &str| {
            let field = HitField {
                location,
                protocol: seen.protocol,
                encrypted: seen.encrypted,
                host: None,
            };
            let s = scan_field(
                ctx, hits, data, &all, &field, seen.ts, seen.frame, seen.entry,
            );
            if s.incomplete {
                stopped.push(location.to_string());
            }
        };
        scan(self.url.unwrap_or(self.target).as_bytes(), "url");
        let mut cookie_header = false;
        for &(name, value) in &self.fields {
            let name = name.to_ascii_lowercase();
            match name.as_str() {
                ":path" => {}
                "cookie" => {
                    cookie_header = true;
                    scan(value, "cookie");
                }
                n => scan(value, &format!("header:{n}")),
            }
        }
        if !cookie_header {
            for (name, value) in self.cookie_list {
                scan(format!("{name}={value}").as_bytes(), "cookie");
            }
        }
        if let Some(body) = self.body.filter(|b| !b.is_empty()) {
            scan(body, "body");
        }
        stopped
    }
}

/// Fields as the parsers keep them, borrowed.
pub fn fields<'a>(
    list: impl IntoIterator<Item = &'a (String, Vec<u8>)>,
) -> Vec<(&'a str, &'a [u8])> {
    list.into_iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect()
}

/// The host of a `Host` or `:authority` value, without its port.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .map(|h| h.trim_start_matches('['))
            .unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}
