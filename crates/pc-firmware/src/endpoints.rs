//! Network endpoints (URLs, host names, IP literals) found in an app's strings and native
//! libraries.
//!
//! Rules, chosen to keep false positives low:
//! * **URL**: a known scheme (`http`, `https`, `ws`, `wss`, `ftp`, `ftps`, `sftp`, `rtsp`,
//!   `mqtt`, `mqtts`, `tcp`, `udp`, `ssl`, `tls`), not preceded by a letter or digit, then
//!   `://` and an authority whose host is a valid host name (with a known TLD), an IPv4
//!   literal or a bracketed IPv6 literal. The URL runs to the first whitespace, quote, `<`,
//!   `>`, backslash, backtick, `{`, `}`, `|`, `^` or control character. Templates such as
//!   `http://%s/` are rejected (no valid host). The URL's host is also reported as a host.
//!   XML namespace URLs (`http://schemas.android.com/…`, `http://www.w3.org/…`) are skipped.
//! * **Bare host name** (no scheme): at least two dot-separated labels of `[a-z0-9-]`
//!   (1..=63 bytes, no leading/trailing `-`, total ≤ 253), not touching other name characters;
//!   the last label must be in the TLD list (`data/trackers/tlds.txt`, from the Public Suffix
//!   List). Rejected when it looks like code rather than a host:
//!   - any label starts with an upper-case letter (`com.example.R`, `Foo.bar`);
//!   - its first label is a generic reverse-DNS root used by Java packages (`com`, `org`,
//!     `net`, `edu`, `gov`, `android`, `androidx`, `java`, `javax`, `kotlin`, ...): real host
//!     names do not start with these (country-code roots such as `de.` are left to the
//!     class-name check, since `de.wikipedia.org` is a real host);
//!   - it is a class name, or a package prefix of a class name, of the app's code (the
//!     caller passes the class names, see [`EndpointExtractor::with_classes`]);
//!   - its TLD is a generic TLD outside a short list of legacy and popular ones
//!     (`BARE_GTLDS`; every two-letter country code is accepted): `.name`, `.java`,
//!     `.properties`, `.support`, `.google` are words of Java property keys and file names
//!     (`user.name`, `package-info.java`), not hosts in practice;
//!   - its TLD is also a common file extension (`so`, `zip`, `mov`, `py`, `sh`, `pl`, `md`,
//!     `rs`, `cc`, `ps`) — `libfoo.so`, `README.md`.
//! * **IPv4**: four decimal octets 0..=255 without leading zeros, not touching digits, dots
//!   or letters, first octet not 0 (`0.x.y.z` is mostly a version number).
//! * **IPv6**: a run of hex digits, `:` and `.` that `std` parses as IPv6 with at least two
//!   colons, not the unspecified address `::`, and with at least one group of 3+ hex digits
//!   or 6+ colons (so `a::b` or C++ `std::` style tokens are not addresses).
//! * **Native libraries**: only printable ASCII runs of at least [`MIN_NATIVE_RUN`] bytes are
//!   examined, each run with the rules above.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// Embedded TLD list (`data/trackers/tlds.txt`).
const TLDS: &str = include_str!("../../../data/trackers/tlds.txt");

/// Minimum printable run scanned in native code.
pub const MIN_NATIVE_RUN: usize = 6;
/// Longest string or run examined (longer ones are cut).
pub const MAX_STRING: usize = 64 * 1024;
/// Longest URL kept.
pub const MAX_URL: usize = 2048;
/// Most endpoints kept per set.
pub const MAX_ENDPOINTS: usize = 100_000;
/// Most sources kept per endpoint.
pub const MAX_SOURCES: usize = 64;

const SCHEMES: &[&str] = &[
    "https", "http", "wss", "ws", "ftps", "ftp", "sftp", "rtsp", "mqtts", "mqtt", "tcp", "udp",
    "ssl", "tls",
];
const JAVA_ROOTS: &[&str] = &[
    "com",
    "org",
    "net",
    "edu",
    "gov",
    "mil",
    "int",
    "android",
    "androidx",
    "java",
    "javax",
    "kotlin",
    "kotlinx",
    "dalvik",
    "sun",
    "junit",
    "okhttp3",
    "retrofit2",
];
const FILE_EXT_TLDS: &[&str] = &["so", "zip", "mov", "py", "sh", "pl", "md", "rs", "cc", "ps"];
/// Generic TLDs accepted for bare host names (besides every two-letter country code): the
/// legacy ones and a few popular new ones that are not common words of Java property keys or
/// file names (`.name`, `.java`, `.properties`, `.support`, `.read`, ... are left out).
const BARE_GTLDS: &[&str] = &[
    "com", "net", "org", "edu", "gov", "mil", "int", "arpa", "info", "biz", "mobi", "asia", "tel",
    "pro", "aero", "coop", "museum", "travel", "jobs", "cat", "app", "dev", "cloud", "xyz",
    "online", "site", "top", "tech", "store", "shop", "club", "vip", "link", "network", "digital",
    "games", "media",
];
/// XML namespace URLs are identifiers, not endpoints.
const NAMESPACE_URLS: &[&str] = &[
    "http://schemas.android.com/",
    "http://www.w3.org/",
    "http://xml.org/sax/",
    "http://ns.adobe.com/",
    "http://java.sun.com/xml/",
    "http://apache.org/xml/",
    "http://xmlpull.org/",
];

/// The kind of endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// A URL with a scheme.
    Url,
    /// A host name.
    Host,
    /// An IPv4 literal.
    Ipv4,
    /// An IPv6 literal.
    Ipv6,
}

/// One endpoint and where it was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    /// Kind.
    pub kind: EndpointKind,
    /// The URL, host (lower case) or address.
    pub value: String,
    /// Sources, sorted: `dex`, `resource`, `native:<lib path>`, ...
    pub sources: Vec<String>,
    /// Country of an IP literal (ISO 3166 alpha-2), from the offline GeoIP database.
    pub country: Option<String>,
    /// For a host name: the trackers whose Exodus network signature it matches, by id. Only
    /// a hint (the signatures are broad: any `*.google.com` is "Google Ads"); whether the
    /// app embeds a tracker is decided by code signatures (`AppFacts::trackers`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tracker_network: Vec<String>,
}

/// Fills [`Endpoint::tracker_network`] of the host names from `list`'s network signatures.
pub fn annotate_trackers(endpoints: &mut [Endpoint], list: &pc_detect::trackers::TrackerList) {
    for e in endpoints
        .iter_mut()
        .filter(|e| e.kind == EndpointKind::Host)
    {
        e.tracker_network = list.network_names([e.value.as_str()]);
    }
}

/// A deduplicating collection of endpoints.
#[derive(Debug, Clone, Default)]
pub struct EndpointSet {
    map: BTreeMap<(EndpointKind, String), BTreeSet<String>>,
}

impl EndpointSet {
    fn add(&mut self, kind: EndpointKind, value: String, source: &str) {
        let key = (kind, value);
        if !self.map.contains_key(&key) && self.map.len() >= MAX_ENDPOINTS {
            return;
        }
        let s = self.map.entry(key).or_default();
        if s.len() < MAX_SOURCES {
            s.insert(source.to_string());
        }
    }

    /// Number of distinct endpoints.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Host names (from URLs and bare), for network signature matching.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.map
            .keys()
            .filter(|(k, _)| *k == EndpointKind::Host)
            .map(|(_, v)| v.as_str())
    }

    /// Sorted by kind, then value.
    pub fn into_vec(self) -> Vec<Endpoint> {
        self.map
            .into_iter()
            .map(|((kind, value), s)| Endpoint {
                kind,
                value,
                sources: s.into_iter().collect(),
                country: None,
                tracker_network: Vec::new(),
            })
            .collect()
    }
}

fn tlds() -> &'static HashSet<&'static str> {
    static T: OnceLock<HashSet<&'static str>> = OnceLock::new();
    T.get_or_init(|| {
        TLDS.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether `tld` (lower case) is in the embedded TLD list.
pub fn is_known_tld(tld: &str) -> bool {
    tlds().contains(tld)
}

/// Extracts endpoints; optionally knows the app's class names to reject them as hosts.
#[derive(Debug, Clone, Default)]
pub struct EndpointExtractor {
    /// Class names and their package prefixes, dot form.
    code_names: HashSet<String>,
}

fn host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'
}

fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    for p in &parts {
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let a: Ipv4Addr = s.parse().ok()?;
    (a.octets()[0] != 0).then_some(a)
}

fn plausible_ipv6(s: &str) -> Option<Ipv6Addr> {
    let colons = s.bytes().filter(|&b| b == b':').count();
    if colons < 2 {
        return None;
    }
    let a: Ipv6Addr = s.parse().ok()?;
    if a.is_unspecified() {
        return None;
    }
    let long_group = s
        .split(':')
        .any(|g| g.len() >= 3 && g.bytes().all(|b| b.is_ascii_hexdigit()));
    (long_group || colons >= 6).then_some(a)
}

impl EndpointExtractor {
    /// An extractor without code knowledge.
    pub fn new() -> Self {
        Self::default()
    }

    /// An extractor that rejects the app's class names and their packages as host names.
    /// Names may be descriptors (`Lcom/a/B;`), slash or dot form.
    pub fn with_classes<'a>(classes: impl Iterator<Item = &'a str>) -> Self {
        let mut code_names = HashSet::new();
        for c in classes.take(5_000_000) {
            let c = c
                .strip_prefix('L')
                .and_then(|x| x.strip_suffix(';'))
                .unwrap_or(c);
            let dotted = c.replace('/', ".").to_ascii_lowercase();
            let dotted = dotted.split('$').next().unwrap_or_default().to_string();
            let mut end = dotted.len();
            while let Some(pre) = dotted.get(..end) {
                code_names.insert(pre.to_string());
                match pre.rfind('.') {
                    Some(p) => end = p,
                    None => break,
                }
            }
        }
        EndpointExtractor { code_names }
    }

    /// A bare host candidate, validated; returns it in lower case.
    fn host(&self, cand: &str, bare: bool) -> Option<String> {
        let cand = cand.trim_end_matches('.');
        if cand.len() > 253 || cand.is_empty() {
            return None;
        }
        let labels: Vec<&str> = cand.split('.').collect();
        if labels.len() < 2 || !labels.iter().all(|l| valid_label(l)) {
            return None;
        }
        let tld = labels.last()?.to_ascii_lowercase();
        if !tld.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') || !is_known_tld(&tld) {
            return None;
        }
        let lower = cand.to_ascii_lowercase();
        if bare {
            if labels
                .iter()
                .any(|l| l.bytes().next().is_some_and(|b| b.is_ascii_uppercase()))
            {
                return None;
            }
            let first = labels.first()?.to_ascii_lowercase();
            if JAVA_ROOTS.contains(&first.as_str()) || FILE_EXT_TLDS.contains(&tld.as_str()) {
                return None;
            }
            if tld.len() != 2 && !BARE_GTLDS.contains(&tld.as_str()) {
                return None;
            }
            if self.code_names.contains(&lower) {
                return None;
            }
        }
        Some(lower)
    }

    /// Finds endpoints in one string.
    pub fn scan_str(&self, s: &str, source: &str, out: &mut EndpointSet) {
        let s = match s.get(..MAX_STRING) {
            Some(x) => x,
            None if s.len() > MAX_STRING => {
                let mut cut = MAX_STRING;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                &s[..cut]
            }
            None => s,
        };
        let b = s.as_bytes();
        // URL spans, so bare-host scanning does not report their pieces twice.
        let mut covered: Vec<(usize, usize)> = Vec::new();
        for m in memchr::memmem::find_iter(b, b"://") {
            let mut st = m;
            while st > 0 && b[st - 1].is_ascii_alphabetic() && m - st < 8 {
                st -= 1;
            }
            let scheme = s[st..m].to_ascii_lowercase();
            let Some(scheme) = SCHEMES.iter().find(|sc| scheme.ends_with(*sc)) else {
                continue;
            };
            let st = m - scheme.len();
            if st > 0 && b[st - 1].is_ascii_alphanumeric() {
                continue;
            }
            let mut end = m + 3;
            while end < b.len()
                && end - st < MAX_URL
                && !b[end].is_ascii_whitespace()
                && !b[end].is_ascii_control()
                && !matches!(
                    b[end],
                    b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`' | b'{' | b'}' | b'|' | b'^'
                )
            {
                end += 1;
            }
            let url = s[st..end].trim_end_matches(['.', ',', ')', ';', ']']);
            if NAMESPACE_URLS.iter().any(|n| url.starts_with(n)) {
                covered.push((st, st + url.len()));
                continue;
            }
            let after = &url[(m + 3 - st).min(url.len())..];
            let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
            let hostport = authority.rsplit('@').next().unwrap_or_default();
            let host_ok = if let Some(v6) = hostport.strip_prefix('[') {
                let inner = v6.split(']').next().unwrap_or_default();
                inner.parse::<Ipv6Addr>().ok().map(|a| {
                    out.add(EndpointKind::Ipv6, a.to_string(), source);
                })
            } else {
                let h = hostport.split(':').next().unwrap_or_default();
                if let Some(a) = parse_ipv4(h) {
                    out.add(EndpointKind::Ipv4, a.to_string(), source);
                    Some(())
                } else {
                    self.host(h, false).map(|h| {
                        out.add(EndpointKind::Host, h, source);
                    })
                }
            };
            if host_ok.is_some() {
                out.add(EndpointKind::Url, url.to_string(), source);
                covered.push((st, st + url.len()));
            }
        }
        // Bare host names and IP literals: maximal runs of host characters.
        let mut i = 0;
        while i < b.len() {
            if !host_byte(b[i]) && b[i] != b':' {
                i += 1;
                continue;
            }
            let st = i;
            while i < b.len() && (host_byte(b[i]) || b[i] == b':') {
                i += 1;
            }
            if covered.iter().any(|&(a, z)| st < z && i > a) {
                continue;
            }
            let tok = &s[st..i];
            if tok.contains(':') {
                let t = tok.trim_matches(|c: char| !c.is_ascii_hexdigit() && c != ':');
                if let Some(a) = plausible_ipv6(t) {
                    out.add(EndpointKind::Ipv6, a.to_string(), source);
                    continue;
                }
            }
            for part in tok.split(':') {
                let part = part.trim_matches(|c: char| c == '.' || c == '-' || c == '_');
                if part.contains('_') {
                    continue;
                }
                if let Some(a) = parse_ipv4(part) {
                    out.add(EndpointKind::Ipv4, a.to_string(), source);
                } else if let Some(h) = self.host(part, true) {
                    out.add(EndpointKind::Host, h, source);
                }
            }
        }
    }

    /// Finds endpoints in many strings (DEX strings, resource strings).
    pub fn scan_strings<'a>(
        &self,
        strings: impl Iterator<Item = &'a str>,
        source: &str,
        out: &mut EndpointSet,
    ) {
        for s in strings {
            self.scan_str(s, source, out);
        }
    }

    /// Finds endpoints in the printable ASCII runs (≥ [`MIN_NATIVE_RUN`] bytes) of binary
    /// data such as a native library.
    pub fn scan_binary(&self, data: &[u8], source: &str, out: &mut EndpointSet) {
        let mut i = 0;
        while i < data.len() {
            if !(0x20..0x7f).contains(&data[i]) {
                i += 1;
                continue;
            }
            let st = i;
            while i < data.len() && (0x20..0x7f).contains(&data[i]) {
                i += 1;
            }
            if i - st >= MIN_NATIVE_RUN {
                // Printable ASCII is valid UTF-8.
                if let Ok(run) = std::str::from_utf8(&data[st..i]) {
                    self.scan_str(run, source, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> Vec<(EndpointKind, String)> {
        let mut out = EndpointSet::default();
        EndpointExtractor::new().scan_str(s, "dex", &mut out);
        out.into_vec()
            .into_iter()
            .map(|e| (e.kind, e.value))
            .collect()
    }

    #[test]
    fn positives() {
        use EndpointKind::*;
        assert_eq!(
            scan("see https://api.example.com/v1?q=1, then"),
            vec![
                (Url, "https://api.example.com/v1?q=1".into()),
                (Host, "api.example.com".into())
            ]
        );
        assert_eq!(
            scan("\"ws://10.0.0.1:8080/x\""),
            vec![
                (Url, "ws://10.0.0.1:8080/x".into()),
                (Ipv4, "10.0.0.1".into())
            ]
        );
        assert_eq!(
            scan("http://[2001:db8::1]:80/"),
            vec![
                (Url, "http://[2001:db8::1]:80/".into()),
                (Ipv6, "2001:db8::1".into())
            ]
        );
        assert_eq!(
            scan("host=tracker.adjust.io"),
            vec![(Host, "tracker.adjust.io".into())]
        );
        assert_eq!(scan("8.8.8.8"), vec![(Ipv4, "8.8.8.8".into())]);
        assert_eq!(
            scan("dns fe80::1ff:fe23:4567:890a"),
            vec![(Ipv6, "fe80::1ff:fe23:4567:890a".into())]
        );
        assert_eq!(
            scan("HTTPS://Example.COM"),
            vec![
                (Url, "HTTPS://Example.COM".into()),
                (Host, "example.com".into())
            ]
        );
    }

    #[test]
    fn negatives() {
        for s in [
            "com.google.android.gms.ads",
            "org.apache.http.client",
            "android.intent.action.MAIN",
            "com.example.R$string",
            "Foo.bar",
            "libnative.so",
            "README.md",
            "version 1.2.3",
            "0.0.0.0",
            "1.2.3.4.5",
            "999.1.1.1",
            "01.2.3.4",
            "std::vector",
            "a::b",
            "::",
            "12:30:45",
            "http://%s/path",
            "file.notatld",
            "javax.crypto.Cipher",
            "user.name",
            "package-info.java",
            "s.properties",
            "jdk.xml.dtd.support",
            "http://schemas.android.com/apk/res/android",
        ] {
            assert_eq!(scan(s), vec![], "{s}");
        }
        // Class names of the app itself are not hosts.
        let ex =
            EndpointExtractor::with_classes(["Lus/acme/app/Main;", "de.foo.Bar$1"].into_iter());
        let mut out = EndpointSet::default();
        ex.scan_str("us.acme.app", "dex", &mut out);
        assert!(out.is_empty());
        ex.scan_str("de.foo", "dex", &mut out);
        assert!(out.is_empty());
        ex.scan_str("acme.app", "dex", &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn native_runs() {
        let mut data =
            b"\x00\x01GLIBC_2.2.5\x00libc.so.6\x00\x7fhttps://telemetry.vendor.cn/up\x00ab.cn\x00"
                .to_vec();
        data.extend(std::iter::repeat_n(0xffu8, 100));
        let mut out = EndpointSet::default();
        EndpointExtractor::new().scan_binary(&data, "native:lib/arm64-v8a/libx.so", &mut out);
        let v = out.into_vec();
        let vals: Vec<&str> = v.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(
            vals,
            vec!["https://telemetry.vendor.cn/up", "telemetry.vendor.cn"]
        );
        assert_eq!(
            v[0].sources,
            vec!["native:lib/arm64-v8a/libx.so".to_string()]
        );
    }
}
