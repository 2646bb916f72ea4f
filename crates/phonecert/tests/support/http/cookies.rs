//! The client's cookie jar: what `Set-Cookie` stored, sent back on matching paths until it
//! expires (enough of RFC 6265 for the registry's session cookie).

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub(super) struct Cookie {
    pub(super) name: String,
    pub(super) value: String,
    pub(super) path: String,
}

/// Name, value and path of each cookie, the way a browser keeps them for one host. Domain,
/// Secure and SameSite are ignored: the tests only ever talk to one loopback server.
#[derive(Default, Debug)]
pub(super) struct Jar {
    pub(super) cookies: Vec<Cookie>,
}

impl Jar {
    pub(super) fn store(&mut self, set_cookie: &str, request_path: &str) {
        let mut attrs = set_cookie.split(';');
        let Some((name, value)) = attrs.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim().to_string(), value.trim().to_string());
        // RFC 6265 default path: the request path up to its last '/'.
        let mut path = match request_path.rfind('/') {
            Some(0) | None => "/".to_string(),
            Some(i) => request_path[..i].to_string(),
        };
        let mut expired = false;
        for attr in attrs {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("path") && v.starts_with('/') {
                path = v.to_string();
            } else if k.eq_ignore_ascii_case("max-age") {
                expired = v.parse::<i64>().map(|s| s <= 0).unwrap_or(false);
            } else if k.eq_ignore_ascii_case("expires") {
                expired |= http_date(v).is_some_and(|t| t <= now_unix());
            }
        }
        self.cookies.retain(|c| !(c.name == name && c.path == path));
        if !expired {
            self.cookies.push(Cookie { name, value, path });
        }
    }

    pub(super) fn header_for(&self, request_path: &str) -> Option<String> {
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| path_matches(&c.path, request_path))
            .collect();
        // Longer paths first, as browsers send them.
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        (!matching.is_empty()).then(|| {
            matching
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Parses an IMF-fixdate (`Thu, 01 Jan 1970 00:00:00 GMT`) to Unix seconds; enough for
/// servers that clear a cookie with a past `Expires`.
fn http_date(s: &str) -> Option<i64> {
    let f: Vec<&str> = s.split_whitespace().collect();
    if f.len() < 5 {
        return None;
    }
    let day: i64 = f[1].parse().ok()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| f[2].eq_ignore_ascii_case(m))? as i64
        + 1;
    let year: i64 = f[3].parse().ok()?;
    let hms: Vec<i64> = f[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, sec] = hms[..] else { return None };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + sec)
}
