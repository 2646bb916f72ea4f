//! Page layout and small HTML helpers. Everything interpolated goes through [`esc`]; pages
//! need no JavaScript.

pub use pc_certify::html::esc;

use super::Caller;
use crate::Role;

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#1d3557;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}\
header a{color:#fff;text-decoration:none}header .brand{font-weight:700;margin-right:1em}\
header form{margin-left:auto}main{max-width:1100px;margin:1.2em auto;padding:0 1.2em}\
table{border-collapse:collapse;width:100%;background:#fff;margin:.6em 0 1.2em}\
th,td{border:1px solid #d8dde3;padding:.35em .5em;text-align:left;vertical-align:top}\
th{background:#eef1f5}section{background:#fff;border:1px solid #d8dde3;padding:.8em 1em;margin:0 0 1.2em}\
.PASS,.valid,.issued,.done,.pass{color:#106b21;font-weight:600}.FAIL,.invalid,.revoked,.failed,.fail{color:#b00020;font-weight:600}\
.INCONCLUSIVE,.NOT_TESTED,.superseded,.unknown,.inconclusive{color:#8a5a00;font-weight:600}.muted{color:#5c6670}\
.error{background:#fde8ea;border:1px solid #b00020;padding:.6em 1em}.notice{background:#e8f4ea;border:1px solid #106b21;padding:.6em 1em}\
input,select,textarea,button{font:inherit}textarea{width:100%}label{display:block;margin:.3em 0}\
progress{width:20em}pre{white-space:pre-wrap;word-break:break-all;background:#f0f2f5;padding:.6em}\
@media print{header,form,.noprint{display:none}body{background:#fff}}";

/// A whole page.
pub fn page(title: &str, caller: &Caller, body: &str) -> String {
    page_with_head(title, caller, body, "")
}

/// A whole page with extra `<head>` content (such as a refresh while a run is under way).
pub fn page_with_head(title: &str, caller: &Caller, body: &str, head: &str) -> String {
    let mut nav = String::from("<a class=\"brand\" href=\"/\">phonecert registry</a>");
    nav.push_str("<a href=\"/registry\">Certified models</a><a href=\"/registry/verify\">Verify a certificate</a>");
    match &caller.user {
        Some(u) => {
            if u.role != Role::Public {
                nav.push_str("<a href=\"/dashboard\">Submissions</a>");
            }
            if u.role == Role::Admin {
                nav.push_str("<a href=\"/admin\">Administration</a>");
            }
            nav.push_str(&format!(
                "<a href=\"/account\">{} ({})</a><form method=\"post\" action=\"/logout\">{}<button id=\"logout\">Log out</button></form>",
                esc(&u.email),
                u.role.as_str(),
                csrf_field(caller)
            ));
        }
        None => nav
            .push_str("<a href=\"/login\" id=\"login-link\" style=\"margin-left:auto\">Log in</a>"),
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">{head}\
         <title>{} · phonecert</title><style>{CSS}</style></head>\
         <body><header>{nav}</header><main>{body}</main></body></html>",
        esc(title)
    )
}

/// The hidden CSRF field of a form.
pub fn csrf_field(caller: &Caller) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(caller.csrf())
    )
}

/// A unix time as `YYYY-MM-DD HH:MM UTC`.
pub fn when(t: i64) -> String {
    let s = pc_certify::time::format_utc(t);
    format!(
        "{} {} UTC",
        s.get(..10).unwrap_or(""),
        s.get(11..16).unwrap_or("")
    )
}

/// Percent-encodes a path segment or query value.
pub fn url(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
