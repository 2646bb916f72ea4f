//! report.html: one self-contained, offline page (inline CSS and SVG, no scripts, no external
//! assets) with the decision, every requirement with its evidence, a data-flow picture, an
//! identifier × destination matrix and a per-phase timeline. Printable.
//!
//! Written with maud rather than `format!` strings: the templates are checked when the crate
//! compiles (an unclosed element does not build), and every value spliced in is HTML-escaped
//! unless wrapped in `PreEscaped`, which this crate uses only for its own style sheets, so a
//! missed escape (an XSS in a report about hostile traffic) cannot be written by accident.

use crate::audit::{AuditReport, RequirementResult};
use crate::evidence::{FindingFact, TrafficEvidence};
use crate::outcome::Verdict;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::{BTreeMap, BTreeSet};

/// Most nodes drawn per column of the data-flow picture.
const MAX_NODES: usize = 40;
/// Most destination columns in the matrix.
const MAX_MATRIX_COLS: usize = 40;
/// Most transmissions drawn per phase in the timeline.
const MAX_TIMELINE: usize = 500;

/// The finished page as text. Control characters other than newline and tab (which captured
/// traffic may carry into snippets and names) are not valid in HTML: they become U+FFFD.
pub(crate) fn page_text(m: Markup) -> String {
    let s = m.into_string();
    if !s.chars().any(is_bad_control) {
        return s;
    }
    s.chars()
        .map(|c| if is_bad_control(c) { '\u{FFFD}' } else { c })
        .collect()
}

fn is_bad_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

fn vclass(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inc",
        Verdict::NotApplicable => "na",
        Verdict::NotTested => "nt",
    }
}

fn badge(v: Verdict) -> Markup {
    html! { span class={ "b " (vclass(v)) } { (v.as_str()) } }
}

const CSS: &str = r#"
:root { --pass:#0a6b2d; --fail:#b00020; --inc:#a15c00; --na:#555; --nt:#6a3d9a; }
body { font: 10.5pt/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:#111; margin: 0 auto; max-width: 70em; padding: 1em 1.5em; }
h1 { font-size: 1.5em; margin: .2em 0; } h2 { font-size: 1.2em; border-bottom: 2px solid #234; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: .25em .4em; text-align: left; vertical-align: top; }
th { background: #f0f3f7; }
code, .mono { font: 9pt ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
.b { display: inline-block; padding: 0 .45em; border-radius: .3em; color: #fff; font-weight: 600; font-size: .85em; white-space: nowrap; }
.b.pass { background: var(--pass); } .b.fail { background: var(--fail); } .b.inc { background: var(--inc); }
.b.na { background: var(--na); } .b.nt { background: var(--nt); }
.decision { font-size: 1.3em; font-weight: 700; padding: .6em 1em; border-radius: .4em; color: #fff; margin: .8em 0; }
.decision.CERTIFIABLE { background: var(--pass); } .decision.NOT_CERTIFIABLE { background: var(--fail); } .decision.INCOMPLETE { background: var(--inc); }
.meta td:first-child { width: 13em; color: #444; }
details summary { cursor: pointer; color: #234; }
ul.ev { margin: .3em 0 .3em 1.2em; padding: 0; } ul.ev li { margin: .1em 0; }
.review { background: #fff8e6; border-left: 3px solid var(--inc); padding: .2em .5em; margin: .3em 0; }
.mx td, .mx th { text-align: center; font-size: .85em; } .mx th.r { text-align: left; }
.mx td.c { background: #fde0e4; color: var(--fail); font-weight: 700; } .mx td.e { background: #e4f1e8; }
svg text { font: 10px system-ui, sans-serif; }
.muted { color: #666; }
@media print {
  body { max-width: none; padding: 0; font-size: 9pt; }
  details { display: block; } details > summary { display: none; }
  details:not([open]) > *:not(summary) { display: block; }
  h2 { page-break-after: avoid; } tr, svg, .review { page-break-inside: avoid; }
  .decision, .b, .mx td.c, .mx td.e { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The `<head>` of a standalone page: UTF-8, a phone-sized viewport, its title and its own
/// constant style sheet (the only unescaped text, and it is ours).
pub(crate) fn page_head(title: &str, css: &'static str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            style { (PreEscaped(css)) }
        }
    }
}

/// Renders report.html.
pub fn report_html(r: &AuditReport) -> String {
    let c = &r.case;
    let d = r.summary.decision.as_str();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            (page_head(&format!("phonecert audit: {} {}", c.manufacturer, c.model), CSS))
            body {
                h1 { "Audit of " (c.manufacturer) " " (c.model) }
                table class="meta" {
                    tr { td { "Case" } td { (c.id.as_deref().unwrap_or("-")) @if let Some(t) = &c.title { ": " (t) } } }
                    tr { td { "Lab" } td { (c.lab.as_deref().unwrap_or("-")) } }
                    tr { td { "Build fingerprint" } td { code { (c.build_fingerprint.as_deref().unwrap_or("-")) } } }
                    tr { td { "Firmware digest" } td { code { (r.firmware_digest.as_deref().unwrap_or("no firmware analysed")) } } }
                    tr { td { "Catalogue" } td { (r.catalogue.id) " " (r.catalogue.version) " (" (r.catalogue.date) ")" } }
                    tr { td { "Generated" } td { (r.generated) " by " (r.tool.name) " " (r.tool.version) } }
                }
                div class={ "decision " (d) } { "Decision: " (d.replace('_', " ")) }
                p {
                    @for (v, n) in &r.summary.counts {
                        (badge(*v)) " " (n) " \u{a0} "
                    }
                }
                @if !r.summary.blocking.is_empty() {
                    p { "Mandatory requirements not PASS: " (r.summary.blocking.join(", ")) }
                }
                @for w in &r.warnings {
                    p class="review" { "Warning: " (w) }
                }
                h2 { "Requirements" }
                table {
                    tr { th { "Requirement" } th { "Level" } th { "Automatic" } th { "Reviewed" } th { "Verdict" } }
                    @for res in &r.results { (requirement_row(res)) }
                }
                @if let Some(t) = &r.traffic {
                    h2 { "Data flows" }
                    p class="muted" { "App → destination → country for every destination contacted; red dashed lines carried cleartext application data to the internet, grey dotted lines cleartext that stays on the local network (DHCP, SSDP, mDNS, broadcast), bold destinations received identifiers." }
                    (flow_svg(t, &local_destinations(r)))
                    (tracker_destinations(t))
                    h2 { "Identifiers × destinations" }
                    (matrix(t))
                    h2 { "Timeline of transmissions" }
                    (timeline(t))
                    h2 { "Coverage by phase" }
                    table {
                        tr { th { "Phase" } th { "Consent" } th { "Captures usable" } th { "Packets" } th { "HAR entries" } th { "Bytes sent" } th { "Uninspected TLS/QUIC" } }
                        @for p in t.phases.values() {
                            tr {
                                td { (p.phase) }
                                td { (p.consent.map_or("?", pc_case::Consent::as_str)) }
                                td { (p.usable_inputs) " / " (p.captures_declared.max(p.inputs)) }
                                td { (p.packets) }
                                td { (p.har_entries) }
                                td { (p.bytes_sent) }
                                td { (format!("{:.0}%", p.uninspected_ratio() * 100.0)) }
                            }
                        }
                    }
                }
                @if let Some(f) = &r.firmware {
                    h2 { "Pre-installed apps (" (f.apps.len()) ")" }
                    p { "Risk score: " (f.risk_total.map_or("not scored".into(), |t| format!("{t:.3} of {:.1}", f.risk_max.unwrap_or(10.0)))) }
                    details {
                        summary { "Show apps" }
                        table {
                            tr { th { "Package" } th { "Version" } th { "Partition" } th { "Flags" } th { "Reads" } th { "Trackers" } }
                            @for a in &f.apps { (app_row(a)) }
                        }
                    }
                }
                h2 { "Unit identifiers" }
                table {
                    tr { th { "Name" } th { "Kind" } th { "Value" } }
                    @for i in &c.identifiers {
                        tr { td { (i.name) } td { (i.kind) } td { code { (i.value) } } }
                    }
                }
                p class="muted" { "Identifier values are " (if r.reveal { "shown in full (reveal)" } else { "masked" }) "." }
                h2 { "Inputs" }
                table {
                    tr { th { "Kind" } th { "Path" } th { "SHA-256" } }
                    @for i in &r.inputs {
                        tr {
                            td { (i.kind) }
                            td { code { (i.path) } }
                            td { code { (i.sha256.as_deref().or(i.error.as_deref()).unwrap_or("-")) } }
                        }
                    }
                }
            }
        }
    };
    page_text(page)
}

fn app_row(a: &crate::evidence::AppFact) -> Markup {
    let mut flags = Vec::new();
    if a.privileged {
        flags.push("priv-app".to_string());
    }
    if a.platform_signed {
        flags.push("platform-signed".into());
    }
    if a.debuggable {
        flags.push("DEBUGGABLE".into());
    }
    if a.allows_cleartext {
        flags.push("cleartext".into());
    }
    if let Some(k) = &a.test_key {
        flags.push(format!("TEST KEY {k}"));
    }
    if let Some(e) = &a.error {
        flags.push(format!("error: {e}"));
    }
    let reads: BTreeSet<&str> = a
        .identifier_calls
        .iter()
        .flat_map(|c| c.identifiers.iter().map(String::as_str))
        .collect();
    html! {
        tr {
            td { code { (a.key()) } }
            td {
                (a.version_name.as_deref().unwrap_or("")) " "
                (a.version_code.map(|v| format!("({v})")).unwrap_or_default())
            }
            td { (a.partition) }
            td { (flags.join(", ")) }
            td { (reads.into_iter().collect::<Vec<_>>().join(", ")) }
            td { (a.trackers.join(", ")) }
        }
    }
}

fn requirement_row(res: &RequirementResult) -> Markup {
    html! {
        tr id=(res.requirement) {
            td {
                strong { (res.requirement) } " " (res.title) br;
                span class="muted" { (res.references.join(" · ")) }
                details {
                    summary { (res.automatic.summary) }
                    ul class="ev" {
                        @for e in &res.automatic.evidence { li { (e.description) } }
                        @if res.automatic.evidence.is_empty() {
                            li class="muted" { "no evidence items" }
                        }
                    }
                }
                @if let Some(rv) = &res.review {
                    div class="review" {
                        "Reviewed " (rv.verdict) " by " (rv.reviewer) " on " (rv.date) ": " (rv.reason)
                    }
                }
            }
            td { (res.level.as_str()) }
            td { (badge(res.automatic.verdict)) }
            td {
                @match &res.review {
                    Some(rv) => (badge(rv.verdict)),
                    None => "-",
                }
            }
            td { (badge(res.verdict)) }
        }
    }
}

/// The data-flow picture of a report (inline SVG), for pages that show a report's summary.
pub fn data_flow_svg(r: &AuditReport) -> Option<String> {
    let t = r.traffic.as_ref()?;
    Some(page_text(flow_svg(t, &local_destinations(r))))
}

/// Destinations whose cleartext a check left aside as local-network only (DHCP, SSDP, ...):
/// drawn apart from the cleartext that left for the internet.
fn local_destinations(r: &AuditReport) -> BTreeSet<usize> {
    r.results
        .iter()
        .flat_map(|x| &x.automatic.evidence)
        .filter(|e| e.kind == crate::checks::LOCAL_NETWORK)
        .filter_map(|e| e.destination)
        .collect()
}

/// How an edge of the picture carried data; the worst of its destinations wins.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Carried {
    #[default]
    Protected,
    LocalCleartext,
    Cleartext,
}

fn flow_svg(t: &TrafficEvidence, local: &BTreeSet<usize>) -> Markup {
    let receivers: BTreeSet<&str> = t.findings.iter().map(FindingFact::target).collect();
    let mut apps: BTreeSet<String> = BTreeSet::new();
    let mut hosts: BTreeSet<String> = BTreeSet::new();
    let mut countries: BTreeSet<String> = BTreeSet::new();
    // (app, host) → how; (host, country) → how
    let mut e1: BTreeMap<(String, String), Carried> = BTreeMap::new();
    let mut e2: BTreeMap<(String, String), Carried> = BTreeMap::new();
    for d in &t.destinations {
        let how = match (d.cleartext_data_sent, local.contains(&d.index)) {
            (false, _) => Carried::Protected,
            (true, true) => Carried::LocalCleartext,
            (true, false) => Carried::Cleartext,
        };
        let host = d.name();
        let country = d.country.clone().unwrap_or_else(|| "??".into());
        let app_list: Vec<String> = if d.apps.is_empty() {
            vec!["(unattributed)".into()]
        } else {
            d.apps.clone()
        };
        for a in app_list {
            apps.insert(a.clone());
            let e = e1.entry((a, host.clone())).or_default();
            *e = (*e).max(how);
        }
        hosts.insert(host.clone());
        countries.insert(country.clone());
        let e = e2.entry((host, country)).or_default();
        *e = (*e).max(how);
    }
    if hosts.is_empty() {
        return html! { p class="muted" { "No destination was contacted." } };
    }
    let cap = |s: BTreeSet<String>| -> (Vec<String>, usize) {
        let n = s.len();
        (
            s.into_iter().take(MAX_NODES).collect(),
            n.saturating_sub(MAX_NODES),
        )
    };
    let (apps, more_a) = cap(apps);
    let (hosts, more_h) = cap(hosts);
    let (countries, more_c) = cap(countries);
    let rows = apps.len().max(hosts.len()).max(countries.len());
    let row_h = 18usize;
    let height = rows * row_h + 40;
    let (x1, x2, x3) = (10usize, 330usize, 650usize);
    let y = |i: usize| 30 + i * row_h;
    let pos = |v: &[String], k: &str| v.iter().position(|x| x == k);
    // Both columns of edges: (from column, to column, edges).
    let edges = [
        (&apps, &hosts, x1, x2, &e1),
        (&hosts, &countries, x2, x3, &e2),
    ];
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 760 " (height) } width="100%" role="img" aria-label="data flows" {
            text x=(x1) y="14" font-weight="bold" { "App" }
            text x=(x2) y="14" font-weight="bold" { "Destination" }
            text x=(x3) y="14" font-weight="bold" { "Country" }
            @for (from, to, xa, xb, es) in edges {
                @for ((a, b), clear) in es {
                    @if let (Some(i), Some(j)) = (pos(from, a), pos(to, b)) {
                        (line(xa + 230, y(i), xb - 5, y(j), *clear))
                    }
                }
            }
            @for (i, a) in apps.iter().enumerate() {
                text x=(x1) y=(y(i) + 4) { (short(a, 38)) }
            }
            @for (i, ho) in hosts.iter().enumerate() {
                @if receivers.contains(ho.as_str()) {
                    text x=(x2) y=(y(i) + 4) font-weight="bold" fill="#b00020" { (short(ho, 38)) }
                } @else {
                    text x=(x2) y=(y(i) + 4) { (short(ho, 38)) }
                }
            }
            @for (i, cc) in countries.iter().enumerate() {
                text x=(x3) y=(y(i) + 4) { (cc) }
            }
        }
        @if more_a + more_h + more_c > 0 {
            p class="muted" { "Not drawn: " (more_a) " app(s), " (more_h) " destination(s), " (more_c) " country(ies)." }
        }
    }
}

/// Destinations that belong to a tracker (host or SNI matches its Exodus network signature).
fn tracker_destinations(t: &TrafficEvidence) -> Markup {
    let rows: Vec<_> = t
        .destinations
        .iter()
        .filter(|d| !d.tracker_network.is_empty())
        .collect();
    if rows.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Tracker destinations (" (rows.len()) ")" }
        p class="muted" { "Destinations contacted whose host name matches a tracker's Exodus network signature." }
        table {
            tr { th { "Destination" } th { "Port" } th { "Protocol" } th { "Tracker" } th { "Apps" } th { "Phases" } }
            @for d in rows {
                tr {
                    td { (d.name()) }
                    td { (d.port) }
                    td { (d.protocol) }
                    td { (d.tracker_network.join(", ")) }
                    td { (d.apps.join(", ")) }
                    td { (d.phases.join(", ")) }
                }
            }
        }
    }
}

fn line(x1: usize, y1: usize, x2: usize, y2: usize, how: Carried) -> Markup {
    html! {
        @if how == Carried::Cleartext {
            line x1=(x1) y1=(y1) x2=(x2) y2=(y2) stroke="#b00020" stroke-width="1.6" stroke-dasharray="5,3" {}
        } @else if how == Carried::LocalCleartext {
            line x1=(x1) y1=(y1) x2=(x2) y2=(y2) stroke="#9a9a9a" stroke-width="1" stroke-dasharray="1,3" {}
        } @else {
            line x1=(x1) y1=(y1) x2=(x2) y2=(y2) stroke="#7a8ca3" stroke-width="1" {}
        }
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('…');
        o
    }
}

fn matrix(t: &TrafficEvidence) -> Markup {
    if t.findings.is_empty() {
        return html! { p { "No identifier was found in the traffic." } };
    }
    // (identifier, destination) → (count, any cleartext)
    let mut cells: BTreeMap<(&str, &str), (u64, bool)> = BTreeMap::new();
    let mut dests: BTreeMap<&str, u64> = BTreeMap::new();
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    for f in &t.findings {
        let c = cells.entry((f.name.as_str(), f.target())).or_default();
        c.0 = c.0.saturating_add(f.count);
        c.1 |= f.cleartext;
        *dests.entry(f.target()).or_default() += f.count;
        ids.insert(f.name.as_str());
    }
    let mut cols: Vec<(&str, u64)> = dests.into_iter().collect();
    cols.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let more = cols.len().saturating_sub(MAX_MATRIX_COLS);
    cols.truncate(MAX_MATRIX_COLS);
    html! {
        table class="mx" {
            tr {
                th class="r" { "identifier" }
                @for (d, _) in &cols { th { span class="mono" { (short(d, 30)) } } }
            }
            @for id in ids {
                tr {
                    th class="r" { (id) }
                    @for (d, _) in &cols {
                        @match cells.get(&(id, *d)) {
                            Some((n, true)) => td class="c" title="cleartext" { (n) " ⚠" },
                            Some((n, false)) => td class="e" { (n) },
                            None => td {},
                        }
                    }
                }
            }
        }
        p class="muted" { "Cells count occurrences; ⚠ red cells were readable on the wire." }
        @if more > 0 {
            p class="muted" { (more) " more destination(s) not shown." }
        }
    }
}

fn timeline(t: &TrafficEvidence) -> Markup {
    let mut by_phase: BTreeMap<&str, Vec<&FindingFact>> = BTreeMap::new();
    for f in &t.findings {
        by_phase.entry(f.phase.as_str()).or_default().push(f);
    }
    if by_phase.is_empty() {
        return html! { p { "No transmission of an identifier to show." } };
    }
    let parts: Vec<Markup> = by_phase
        .into_iter()
        .map(|(phase, mut fs)| {
        fs.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.index.cmp(&b.index)));
        let consent = fs
            .first()
            .and_then(|f| f.consent)
            .map_or("?", pc_case::Consent::as_str);
        let times: Vec<Option<i64>> = fs.iter().map(|f| f.first_seen).collect();
        let known: Vec<i64> = times.iter().flatten().copied().collect();
        let range = known.iter().min().zip(known.iter().max());
        let part = html! {
            h3 { (phase) " " span class="muted" { "(consent " (consent) ")" } }
            @if let Some((&lo, &hi)) = range {
                svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 760 46" width="100%" role="img" aria-label="timeline" {
                    line x1="20" y1="22" x2="740" y2="22" stroke="#999" {}
                    @for (f, tm) in fs.iter().zip(&times).take(MAX_TIMELINE) {
                        @if let Some(tm) = tm {
                            circle cx=(format!("{:.1}", 20.0 + 720.0 * ((tm.saturating_sub(lo)) as f64 / (hi.saturating_sub(lo)).max(1) as f64))) cy="22" r="4" fill=(if f.cleartext { "#b00020" } else { "#234" }) {
                                title { (f.describe()) }
                            }
                        }
                    }
                    text x="20" y="42" { (fs.first().and_then(|f| f.first_seen).map(pc_base::time::rfc3339_nanos).unwrap_or_default()) }
                    text x="740" y="42" text-anchor="end" { (format!("+{:.1} s", (hi.saturating_sub(lo)) as f64 / 1e9)) }
                }
            }
            table {
                tr { th { "First seen" } th { "Identifier" } th { "Destination" } th { "How" } th { "Evidence" } }
                @for f in fs.iter().take(MAX_TIMELINE) {
                    tr {
                        td class="mono" { (f.first_seen.map_or_else(|| "-".into(), pc_base::time::rfc3339_nanos)) }
                        td { (f.name) }
                        td class="mono" { (f.target()) }
                        td {
                            (f.protocol) " " (f.location) " " (f.encoding.join("/"))
                            @if f.cleartext { " " span class="b fail" { "cleartext" } }
                        }
                        td class="mono" { "#" (f.index) " " (f.snippet) }
                    }
                }
            }
        };
        part
    })
    .collect();
    html! { @for part in &parts { (part) } }
}
