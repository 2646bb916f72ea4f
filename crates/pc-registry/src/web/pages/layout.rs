//! The page layout (head, navigation, main) and small pieces every screen uses. Pages are
//! [maud] templates: Rust expressions the compiler checks, every interpolation escaped by
//! default, no template files to find at run time; `PreEscaped` is the only way to put text in
//! unescaped, so each such spot can be found with grep. (askama, the other candidate, keeps
//! templates in separate files with their own syntax and checks them through generated code;
//! maud keeps each page beside its handler.) Pages need no JavaScript and hold no inline script,
//! as the content security policy requires.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::Role;
use crate::web::Caller;

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

/// A whole page; `head` is extra `<head>` content (such as a refresh while a run is under way).
pub fn page(title: &str, caller: &Caller, head: Option<Markup>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                @if let Some(h) = head { (h) }
                title { (title) " · phonecert" }
                // A constant of this file: no interpolated text.
                style { (PreEscaped(CSS)) }
            }
            body {
                header { (nav(caller)) }
                main { (body) }
            }
        }
    }
}

fn nav(caller: &Caller) -> Markup {
    html! {
        a.brand href="/" { "phonecert registry" }
        a href="/registry" { "Certified models" }
        a href="/registry/verify" { "Verify a certificate" }
        @match &caller.user {
            Some(u) => {
                @if u.role != Role::Public { a href="/dashboard" { "Submissions" } }
                @if u.role == Role::Admin { a href="/admin" { "Administration" } }
                a href="/account" { (u.email) " (" (u.role.as_str()) ")" }
                form method="post" action="/logout" {
                    (csrf_field(caller))
                    button #logout { "Log out" }
                }
            }
            None => a #login-link href="/login" style="margin-left:auto" { "Log in" },
        }
    }
}

/// The hidden CSRF field of a form (first in every form: multipart forms are checked by their
/// first part).
pub fn csrf_field(caller: &Caller) -> Markup {
    html! { input type="hidden" name="csrf" value=(caller.csrf()); }
}

/// A form that posts to `action` with the CSRF field and holds `fields`.
pub fn post_form(caller: &Caller, action: &str, fields: Markup) -> Markup {
    html! { form method="post" action=(action) { (csrf_field(caller)) (fields) } }
}

/// A unix time as `YYYY-MM-DD HH:MM UTC`.
pub fn when(t: i64) -> String {
    let s = pc_base::time::format_utc(t);
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

/// A table with a header row and, when `rows` is empty and `empty` given, one muted row saying it.
pub fn table(id: &str, heads: &[&str], rows: Vec<Markup>, empty: Option<&str>) -> Markup {
    html! {
        table id=(id) {
            tr { @for h in heads { th { (h) } } }
            @for r in &rows { (r) }
            @if let (true, Some(empty)) = (rows.is_empty(), empty) {
                tr { td colspan=(heads.len()) class="muted" { (empty) } }
            }
        }
    }
}
