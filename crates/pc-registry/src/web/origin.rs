//! Which names the service answers to, which origins may post to it, and who the client is.
//!
//! * **Host** (DNS-rebinding defence): a page of `evil.example` whose name the attacker points at
//!   the lab's address afterwards is same-origin to the browser, which then sends
//!   `Host: evil.example`. So every request's `Host` must name this service: the configured
//!   public URL (`--public-url`), or, when none is configured and the service listens on a
//!   loopback address, a loopback name (`localhost`, `127.x.y.z`, `[::1]`) with the listening
//!   port. Other requests are answered 421 (`/healthz` excepted: load balancers check it by
//!   address, and it tells nothing).
//! * **Origin**: state-changing requests of browser sessions must come from this service's own
//!   origin, compared as scheme, host and port (`http://registry` is not `https://registry`).
//! * **Client address**: the peer address, or, when the peer is a configured trusted proxy,
//!   the nearest address in `X-Forwarded-For` that is not one (login throttling and connection
//!   limits count clients, and behind a proxy every peer is the proxy).

use std::net::{IpAddr, SocketAddr};

use crate::RegistryError;

/// A URL scheme the service can be reached by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS (a proxy in front terminates it).
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A web origin: scheme, host (lower case, IPv6 in brackets) and port (explicit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Scheme.
    pub scheme: Scheme,
    /// Host name or address literal.
    pub host: String,
    /// Port (the scheme's default when the URL names none).
    pub port: u16,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.port == self.scheme.default_port() {
            write!(f, "{}://{}", self.scheme.as_str(), self.host)
        } else {
            write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
        }
    }
}

/// Host and port of an authority (`name`, `name:8080`, `[::1]:8080`), the host lower-cased;
/// `None` when malformed (user info, empty host, bad port, stray characters).
fn parse_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, rest) = v6.split_once(']')?;
        h.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match rest {
            "" => None,
            r => Some(r.strip_prefix(':')?),
        };
        (format!("[{}]", h.to_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_lowercase(), Some(p)),
            None => (authority.to_lowercase(), None),
        }
    };
    let host_ok = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    if !host_ok {
        return None;
    }
    let port = match port {
        None => default_port,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    Some((host, port))
}

impl Origin {
    /// The origin of a URL (`https://registry.lab.example`, `http://10.0.0.5:8080/`); a path
    /// beyond `/`, a query or user info are refused: the public URL is an origin.
    pub fn parse_public_url(url: &str) -> Result<Origin, RegistryError> {
        let bad = |why| RegistryError::Invalid {
            field: "public URL",
            why,
        };
        let origin = Origin::of_url(url.trim()).ok_or(bad(
            "expected http://HOST[:PORT] or https://HOST[:PORT], without user, path or query",
        ))?;
        let rest = url.trim().split_once("://").map_or("", |(_, r)| r);
        let path = rest.find('/').map_or("", |i| rest.get(i..).unwrap_or(""));
        if !(path.is_empty() || path == "/") {
            return Err(bad("the public URL is an origin: no path"));
        }
        Ok(origin)
    }

    /// The origin of an absolute http(s) URL (the `Origin` header, or a `Referer`).
    pub fn of_url(url: &str) -> Option<Origin> {
        let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
            (Scheme::Http, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (Scheme::Https, r)
        } else {
            return None;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.contains('@') {
            return None;
        }
        let (host, port) = parse_authority(authority, scheme.default_port())?;
        Some(Origin { scheme, host, port })
    }
}

/// Which `Host` headers the service answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPolicy {
    /// Only the configured public URL's host and port; its scheme is the only accepted origin's.
    Public(Origin),
    /// No public URL and a loopback listener: loopback names with the listening port, over
    /// plain HTTP (what a browser on the same machine uses).
    Loopback {
        /// The listening port.
        port: u16,
    },
}

fn is_loopback_name(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|a| a.is_loopback())
}

impl HostPolicy {
    /// The policy for a listener: the public URL when one is given, else loopback names when
    /// listening on loopback; `None` (the service must not start) when listening elsewhere with
    /// no public URL, since nothing then says which names are the service's.
    pub fn for_listener(listen: SocketAddr, public: Option<Origin>) -> Option<HostPolicy> {
        match public {
            Some(o) => Some(HostPolicy::Public(o)),
            None if listen.ip().is_loopback() => Some(HostPolicy::Loopback {
                port: listen.port(),
            }),
            None => None,
        }
    }

    /// The origin a request with this `Host` header belongs to, if the service answers it.
    pub fn origin_for_host(&self, host_header: &str) -> Option<Origin> {
        match self {
            HostPolicy::Public(o) => {
                let (host, port) = parse_authority(host_header, o.scheme.default_port())?;
                (host == o.host && port == o.port).then(|| o.clone())
            }
            HostPolicy::Loopback { port } => {
                let (host, p) = parse_authority(host_header, Scheme::Http.default_port())?;
                (p == *port && is_loopback_name(&host)).then_some(Origin {
                    scheme: Scheme::Http,
                    host,
                    port: p,
                })
            }
        }
    }

    /// What the service answers to, for error messages.
    pub fn describe(&self) -> String {
        match self {
            HostPolicy::Public(o) => o.to_string(),
            HostPolicy::Loopback { port } => format!("http://localhost:{port} (loopback names)"),
        }
    }
}

/// The address of the client of a request that came from `peer`: `peer` itself unless it is a
/// trusted proxy, then the right-most `X-Forwarded-For` address that is not a trusted proxy
/// (entries further left are whatever the client claimed). A malformed entry stops the walk
/// at the last address known good.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = forwarded_for.rev().flat_map(|v| v.rsplit(','));
    for hop in hops {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}
