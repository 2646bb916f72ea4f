//! report.html: one self-contained, offline page (inline CSS and SVG, no scripts, no external
//! assets) with the decision, every requirement with its evidence, a data-flow picture, an
//! identifier × destination matrix and a per-phase timeline. Printable.

use crate::audit::{AuditReport, RequirementResult};
use crate::evidence::{FindingFact, TrafficEvidence};
use crate::outcome::Verdict;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Most nodes drawn per column of the data-flow picture.
const MAX_NODES: usize = 40;
/// Most destination columns in the matrix.
const MAX_MATRIX_COLS: usize = 40;
/// Most transmissions drawn per phase in the timeline.
const MAX_TIMELINE: usize = 500;

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
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

fn badge(v: Verdict) -> String {
    format!("<span class=\"b {}\">{}</span>", vclass(v), v.as_str())
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

/// Renders report.html.
pub fn report_html(r: &AuditReport) -> String {
    let mut h = String::with_capacity(64 << 10);
    let c = &r.case;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>phonecert audit: {} {}</title>\n<style>{CSS}</style></head><body>\n",
        esc(&c.manufacturer),
        esc(&c.model)
    );
    let _ = write!(
        h,
        "<h1>Audit of {} {}</h1>\n<table class=\"meta\">\
<tr><td>Case</td><td>{}{}</td></tr>\
<tr><td>Lab</td><td>{}</td></tr>\
<tr><td>Build fingerprint</td><td><code>{}</code></td></tr>\
<tr><td>Firmware digest</td><td><code>{}</code></td></tr>\
<tr><td>Catalogue</td><td>{} {} ({})</td></tr>\
<tr><td>Generated</td><td>{} by {} {}</td></tr></table>\n",
        esc(&c.manufacturer),
        esc(&c.model),
        esc(c.id.as_deref().unwrap_or("-")),
        c.title
            .as_deref()
            .map(|t| format!(": {}", esc(t)))
            .unwrap_or_default(),
        esc(c.lab.as_deref().unwrap_or("-")),
        esc(c.build_fingerprint.as_deref().unwrap_or("-")),
        esc(r
            .firmware_digest
            .as_deref()
            .unwrap_or("no firmware analysed")),
        esc(&r.catalogue.id),
        esc(&r.catalogue.version),
        esc(&r.catalogue.date),
        esc(&r.generated),
        esc(&r.tool.name),
        esc(&r.tool.version),
    );
    let d = r.summary.decision.as_str();
    let _ = write!(
        h,
        "<div class=\"decision {d}\">Decision: {}</div>\n<p>",
        d.replace('_', " ")
    );
    for (v, n) in &r.summary.counts {
        let _ = write!(h, "{} {n} &nbsp; ", badge(*v));
    }
    h.push_str("</p>\n");
    if !r.summary.blocking.is_empty() {
        let _ = writeln!(
            h,
            "<p>Mandatory requirements not PASS: {}</p>",
            esc(&r.summary.blocking.join(", "))
        );
    }
    for w in &r.warnings {
        let _ = writeln!(h, "<p class=\"review\">Warning: {}</p>", esc(w));
    }

    h.push_str("<h2>Requirements</h2>\n<table><tr><th>Requirement</th><th>Level</th><th>Automatic</th><th>Reviewed</th><th>Verdict</th></tr>\n");
    for res in &r.results {
        requirement_row(&mut h, res);
    }
    h.push_str("</table>\n");

    if let Some(t) = &r.traffic {
        h.push_str("<h2>Data flows</h2>\n<p class=\"muted\">App → destination → country for every destination contacted; red dashed lines carried cleartext application data, bold destinations received identifiers.</p>\n");
        flow_svg(&mut h, t);
        h.push_str("<h2>Identifiers × destinations</h2>\n");
        matrix(&mut h, t);
        h.push_str("<h2>Timeline of transmissions</h2>\n");
        timeline(&mut h, t);
        h.push_str("<h2>Coverage by phase</h2>\n<table><tr><th>Phase</th><th>Consent</th><th>Captures usable</th><th>Packets</th><th>HAR entries</th><th>Bytes sent</th><th>Uninspected TLS/QUIC</th></tr>\n");
        for p in t.phases.values() {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}%</td></tr>",
                esc(&p.phase),
                p.consent.map_or("?", pc_case::Consent::as_str),
                p.usable_inputs,
                p.captures_declared.max(p.inputs),
                p.packets,
                p.har_entries,
                p.bytes_sent,
                p.uninspected_ratio() * 100.0
            );
        }
        h.push_str("</table>\n");
    }
    if let Some(f) = &r.firmware {
        let _ = writeln!(
            h,
            "<h2>Pre-installed apps ({})</h2>\n<p>Risk score: {}</p>",
            f.apps.len(),
            f.risk_total.map_or("not scored".into(), |t| format!(
                "{t:.3} of {:.1}",
                f.risk_max.unwrap_or(10.0)
            ))
        );
        h.push_str("<details><summary>Show apps</summary><table><tr><th>Package</th><th>Version</th><th>Partition</th><th>Flags</th><th>Reads</th><th>Trackers</th></tr>\n");
        for a in &f.apps {
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
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(a.key()),
                esc(&format!(
                    "{} {}",
                    a.version_name.as_deref().unwrap_or(""),
                    a.version_code.map(|v| format!("({v})")).unwrap_or_default()
                )),
                esc(&a.partition),
                esc(&flags.join(", ")),
                esc(&reads.into_iter().collect::<Vec<_>>().join(", ")),
                esc(&a.trackers.join(", "))
            );
        }
        h.push_str("</table></details>\n");
    }

    h.push_str(
        "<h2>Unit identifiers</h2>\n<table><tr><th>Name</th><th>Kind</th><th>Value</th></tr>\n",
    );
    for i in &c.identifiers {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&i.name),
            esc(&i.kind),
            esc(&i.value)
        );
    }
    let _ = writeln!(
        h,
        "</table><p class=\"muted\">Identifier values are {}.</p>",
        if r.reveal {
            "shown in full (reveal)"
        } else {
            "masked"
        }
    );
    h.push_str("<h2>Inputs</h2>\n<table><tr><th>Kind</th><th>Path</th><th>SHA-256</th></tr>\n");
    for i in &r.inputs {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(&i.kind),
            esc(&i.path),
            esc(i.sha256.as_deref().or(i.error.as_deref()).unwrap_or("-"))
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

fn requirement_row(h: &mut String, res: &RequirementResult) {
    let review = res
        .review
        .as_ref()
        .map_or("-".to_string(), |rv| badge(rv.verdict));
    let _ = write!(
        h,
        "<tr id=\"{id}\"><td><strong>{id}</strong> {title}<br><span class=\"muted\">{refs}</span>\
<details><summary>{summary}</summary><ul class=\"ev\">",
        id = esc(&res.requirement),
        title = esc(&res.title),
        refs = esc(&res.references.join(" · ")),
        summary = esc(&res.automatic.summary),
    );
    for e in &res.automatic.evidence {
        let _ = write!(h, "<li>{}</li>", esc(&e.description));
    }
    if res.automatic.evidence.is_empty() {
        h.push_str("<li class=\"muted\">no evidence items</li>");
    }
    h.push_str("</ul></details>");
    if let Some(rv) = &res.review {
        let _ = write!(
            h,
            "<div class=\"review\">Reviewed {} by {} on {}: {}</div>",
            rv.verdict,
            esc(&rv.reviewer),
            esc(&rv.date),
            esc(&rv.reason)
        );
    }
    let _ = writeln!(
        h,
        "</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        res.level.as_str(),
        badge(res.automatic.verdict),
        review,
        badge(res.verdict)
    );
}

/// The data-flow picture of a report (inline SVG), for pages that show a report's summary.
pub fn data_flow_svg(r: &AuditReport) -> Option<String> {
    let t = r.traffic.as_ref()?;
    let mut h = String::new();
    flow_svg(&mut h, t);
    Some(h)
}

fn flow_svg(h: &mut String, t: &TrafficEvidence) {
    let receivers: BTreeSet<&str> = t.findings.iter().map(FindingFact::target).collect();
    let mut apps: BTreeSet<String> = BTreeSet::new();
    let mut hosts: BTreeSet<String> = BTreeSet::new();
    let mut countries: BTreeSet<String> = BTreeSet::new();
    // (app, host) → cleartext; (host, country) → cleartext
    let mut e1: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut e2: BTreeMap<(String, String), bool> = BTreeMap::new();
    for d in &t.destinations {
        let host = d.name();
        let country = d.country.clone().unwrap_or_else(|| "??".into());
        let app_list: Vec<String> = if d.apps.is_empty() {
            vec!["(unattributed)".into()]
        } else {
            d.apps.clone()
        };
        for a in app_list {
            apps.insert(a.clone());
            *e1.entry((a, host.clone())).or_default() |= d.cleartext_data_sent;
        }
        hosts.insert(host.clone());
        countries.insert(country.clone());
        *e2.entry((host, country)).or_default() |= d.cleartext_data_sent;
    }
    if hosts.is_empty() {
        h.push_str("<p class=\"muted\">No destination was contacted.</p>\n");
        return;
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
    let _ = writeln!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 760 {height}\" width=\"100%\" role=\"img\" aria-label=\"data flows\">\
<text x=\"{x1}\" y=\"14\" font-weight=\"bold\">App</text><text x=\"{x2}\" y=\"14\" font-weight=\"bold\">Destination</text><text x=\"{x3}\" y=\"14\" font-weight=\"bold\">Country</text>"
    );
    for ((a, ho), clear) in &e1 {
        if let (Some(i), Some(j)) = (pos(&apps, a), pos(&hosts, ho)) {
            line(h, x1 + 230, y(i), x2 - 5, y(j), *clear);
        }
    }
    for ((ho, cc), clear) in &e2 {
        if let (Some(i), Some(j)) = (pos(&hosts, ho), pos(&countries, cc)) {
            line(h, x2 + 230, y(i), x3 - 5, y(j), *clear);
        }
    }
    for (i, a) in apps.iter().enumerate() {
        let _ = write!(
            h,
            "<text x=\"{x1}\" y=\"{}\">{}</text>",
            y(i) + 4,
            esc(&short(a, 38))
        );
    }
    for (i, ho) in hosts.iter().enumerate() {
        let bold = if receivers.contains(ho.as_str()) {
            " font-weight=\"bold\" fill=\"#b00020\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<text x=\"{x2}\" y=\"{}\"{bold}>{}</text>",
            y(i) + 4,
            esc(&short(ho, 38))
        );
    }
    for (i, cc) in countries.iter().enumerate() {
        let _ = write!(h, "<text x=\"{x3}\" y=\"{}\">{}</text>", y(i) + 4, esc(cc));
    }
    h.push_str("</svg>\n");
    if more_a + more_h + more_c > 0 {
        let _ = writeln!(
            h,
            "<p class=\"muted\">Not drawn: {more_a} app(s), {more_h} destination(s), {more_c} country(ies).</p>"
        );
    }
}

fn line(h: &mut String, x1: usize, y1: usize, x2: usize, y2: usize, clear: bool) {
    let style = if clear {
        "stroke=\"#b00020\" stroke-width=\"1.6\" stroke-dasharray=\"5,3\""
    } else {
        "stroke=\"#7a8ca3\" stroke-width=\"1\""
    };
    let _ = write!(
        h,
        "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" {style}/>"
    );
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

fn matrix(h: &mut String, t: &TrafficEvidence) {
    if t.findings.is_empty() {
        h.push_str("<p>No identifier was found in the traffic.</p>\n");
        return;
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
    h.push_str("<table class=\"mx\"><tr><th class=\"r\">identifier</th>");
    for (d, _) in &cols {
        let _ = write!(
            h,
            "<th><span class=\"mono\">{}</span></th>",
            esc(&short(d, 30))
        );
    }
    h.push_str("</tr>\n");
    for id in ids {
        let _ = write!(h, "<tr><th class=\"r\">{}</th>", esc(id));
        for (d, _) in &cols {
            match cells.get(&(id, *d)) {
                Some((n, true)) => {
                    let _ = write!(h, "<td class=\"c\" title=\"cleartext\">{n} ⚠</td>");
                }
                Some((n, false)) => {
                    let _ = write!(h, "<td class=\"e\">{n}</td>");
                }
                None => h.push_str("<td></td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table><p class=\"muted\">Cells count occurrences; ⚠ red cells were readable on the wire.</p>\n");
    if more > 0 {
        let _ = writeln!(
            h,
            "<p class=\"muted\">{more} more destination(s) not shown.</p>"
        );
    }
}

fn timeline(h: &mut String, t: &TrafficEvidence) {
    let mut by_phase: BTreeMap<&str, Vec<&FindingFact>> = BTreeMap::new();
    for f in &t.findings {
        by_phase.entry(f.phase.as_str()).or_default().push(f);
    }
    if by_phase.is_empty() {
        h.push_str("<p>No transmission of an identifier to show.</p>\n");
        return;
    }
    for (phase, mut fs) in by_phase {
        fs.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.index.cmp(&b.index)));
        let consent = fs
            .first()
            .and_then(|f| f.consent)
            .map_or("?", pc_case::Consent::as_str);
        let _ = writeln!(
            h,
            "<h3>{} <span class=\"muted\">(consent {consent})</span></h3>",
            esc(phase)
        );
        let times: Vec<Option<i64>> = fs.iter().map(|f| f.first_seen).collect();
        let known: Vec<i64> = times.iter().flatten().copied().collect();
        if let (Some(&lo), Some(&hi)) = (known.iter().min(), known.iter().max()) {
            let span = (hi.saturating_sub(lo)).max(1) as f64;
            let _ = write!(
                h,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 760 46\" width=\"100%\" role=\"img\" aria-label=\"timeline\">\
<line x1=\"20\" y1=\"22\" x2=\"740\" y2=\"22\" stroke=\"#999\"/>"
            );
            for (f, tm) in fs.iter().zip(&times).take(MAX_TIMELINE) {
                if let Some(tm) = tm {
                    let x = 20.0 + 720.0 * ((tm.saturating_sub(lo)) as f64 / span);
                    let color = if f.cleartext { "#b00020" } else { "#234" };
                    let _ = write!(
                        h,
                        "<circle cx=\"{x:.1}\" cy=\"22\" r=\"4\" fill=\"{color}\"><title>{}</title></circle>",
                        esc(&f.describe())
                    );
                }
            }
            let _ = writeln!(
                h,
                "<text x=\"20\" y=\"42\">{}</text><text x=\"740\" y=\"42\" text-anchor=\"end\">+{:.1} s</text></svg>",
                esc(&fs
                    .first()
                    .and_then(|f| f.first_seen)
                    .map(pc_base::time::rfc3339_nanos)
                    .unwrap_or_default()),
                (hi.saturating_sub(lo)) as f64 / 1e9
            );
        }
        h.push_str("<table><tr><th>First seen</th><th>Identifier</th><th>Destination</th><th>How</th><th>Evidence</th></tr>\n");
        for f in fs.iter().take(MAX_TIMELINE) {
            let _ = writeln!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{} {} {}{}</td><td class=\"mono\">#{} {}</td></tr>",
                esc(&f
                    .first_seen
                    .map_or_else(|| "-".into(), pc_base::time::rfc3339_nanos)),
                esc(&f.name),
                esc(f.target()),
                esc(&f.protocol),
                esc(&f.location),
                esc(&f.encoding.join("/")),
                if f.cleartext {
                    " <span class=\"b fail\">cleartext</span>"
                } else {
                    ""
                },
                f.index,
                esc(&f.snippet)
            );
        }
        h.push_str("</table>\n");
    }
}
