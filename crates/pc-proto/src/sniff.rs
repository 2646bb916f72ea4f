//! Choosing the analyzer for a TCP connection from its first client bytes.

/// The application protocol of a stream, as far as this crate can analyze it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppProto {
    /// HTTP/1.0 or HTTP/1.1.
    Http1,
    /// TLS (any version; also DNS-over-TLS and HTTPS).
    Tls,
    /// DNS over TCP (two-byte length prefixed messages).
    Dns,
    /// Anything else.
    Unknown,
}

/// Request methods recognised at the start of an HTTP/1.x stream (RFC 9110 plus WebDAV and
/// a few common extensions).
pub(crate) const HTTP_METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"PUT",
    b"HEAD",
    b"DELETE",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
    b"SEARCH",
    b"PURGE",
    b"MKCALENDAR",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"M-SEARCH",
    b"UNSUBSCRIBE",
];

/// Does `data` start with a known HTTP method followed by a space? `None` when `data` is a
/// strict prefix of such a start (too short to say).
pub(crate) fn starts_with_method(data: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for m in HTTP_METHODS {
        let n = m.len();
        if data.len() > n {
            if &data[..n] == *m && data[n] == b' ' {
                return Some(true);
            }
        } else if m.starts_with(data) {
            undecided = true;
        }
    }
    if undecided { None } else { Some(false) }
}

fn looks_like_tls(d: &[u8]) -> Option<bool> {
    // Handshake record, version 3.x (SSL 3.0 to TLS 1.3 all use 0x0300..0x0304 on the wire).
    match d {
        [] => None,
        [0x16] | [0x16, 0x03] => None,
        [0x16, 0x03, minor, ..] => Some(*minor <= 0x04),
        _ => Some(false),
    }
}

fn looks_like_dns_tcp(d: &[u8]) -> bool {
    // Length prefix then a query header: opcode QUERY..UPDATE, QR clear, a few questions.
    if d.len() < 2 + 12 {
        return false;
    }
    let len = u16::from_be_bytes([d[0], d[1]]) as usize;
    let flags = u16::from_be_bytes([d[4], d[5]]);
    let qd = u16::from_be_bytes([d[6], d[7]]);
    let opcode = (flags >> 11) & 0xf;
    len >= 12 && opcode <= 5 && qd <= 16
}

/// Which analyzer fits a TCP stream, judged from the client's first bytes; the server port only
/// breaks ties when the bytes are too few to tell.
pub fn sniff_stream(client_first_bytes: &[u8], server_port: u16) -> AppProto {
    let d = client_first_bytes;
    let tls = looks_like_tls(d);
    if tls == Some(true) {
        return AppProto::Tls;
    }
    let http = starts_with_method(d);
    if http == Some(true) {
        return AppProto::Http1;
    }
    if server_port == 53 && looks_like_dns_tcp(d) {
        return AppProto::Dns;
    }
    // Too few bytes to judge from the content: fall back on the well-known port, but only if
    // the content does not contradict it.
    match server_port {
        443 | 853 | 8443 | 993 | 995 | 465 | 5223 | 5228 if tls != Some(false) => AppProto::Tls,
        80 | 8080 | 8000 | 3128 if http != Some(false) => AppProto::Http1,
        53 if d.len() < 14 => AppProto::Dns,
        _ => AppProto::Unknown,
    }
}
