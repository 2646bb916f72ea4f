//! A submission's page: its files, runs, the latest run's verdicts with the reviewers'
//! overrides, the data-flow picture, reviews and certificates, and the forms the caller may use.

use axum::extract::{Extension, Path, Query, State};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::layout::{csrf_field, page, post_form, table, url, when};
use super::{PageResult, render};
use crate::RunState;
use crate::web::actions::{self as act, RunView, SubmissionView};
use crate::web::allowed::Op;
use crate::web::{AppState, Caller};

const VERDICTS: [&str; 5] = [
    "PASS",
    "FAIL",
    "INCONCLUSIVE",
    "NOT_APPLICABLE",
    "NOT_TESTED",
];

#[derive(Deserialize)]
pub(super) struct SubmissionQuery {
    /// Links in the archives just uploaded (set by the upload's redirect).
    #[serde(default)]
    links: u64,
}

pub(super) async fn show(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<SubmissionQuery>,
) -> PageResult {
    let v = act::get_submission(&st, &c, &id).await?;
    let s = &v.submission;
    // The data-flow picture, from the run's report. Overrides do not change the picture, and a
    // report too large to parse on every view (the page refreshes itself) is left to report.html.
    let mut svg = None;
    if let Some(lv) = &v.latest
        && let Ok(report) = crate::certs::stored_report(&st.store, &lv.run.id, 16 << 20).await
    {
        svg = pc_certify::html::data_flow_svg(&report);
    }
    let active = v
        .runs
        .iter()
        .any(|r| matches!(r.state, RunState::Queued | RunState::Running));
    let body = html! {
        h1 { (s.manufacturer) " " (s.model) " " span.muted { "firmware " (s.firmware) } }
        p {
            "State: " strong #state class=(s.state) { (s.state) } " · created " (when(s.created_at))
            @if !s.fingerprint.is_empty() { " · " code { (s.fingerprint) } }
        }
        (files(&c, &v, q.links))
        (runs(&c, &v))
        @if let Some(lv) = &v.latest { (verdicts(&c, &v, lv)) }
        @if let Some(svg) = svg {
            section #data-flows {
                h2 { "Data flows" }
                p.muted { "App → destination → country; red dashed lines carried cleartext, bold destinations received identifiers." }
                // pc-certify's picture escapes every name it draws.
                (PreEscaped(svg))
            }
        }
        (review(&c, &v))
    };
    // No JavaScript: the page reloads itself while a run is under way.
    let head = active.then(|| html! { meta http-equiv="refresh" content="2"; });
    render(page(
        &format!("{} {}", s.manufacturer, s.model),
        &c,
        head,
        body,
    ))
}

fn files(c: &Caller, v: &SubmissionView, links: u64) -> Markup {
    let rows = v
        .files
        .iter()
        .map(|f| html! { tr { td { (f.name) } td { (f.media_type) } td { (f.size) } td { code { (f.sha256) } } } })
        .collect();
    html! {
        section {
            h2 { "Files" }
            (table("files", &["Name", "Type", "Size", "SHA-256"], rows, Some("Nothing uploaded yet.")))
            @if links > 0 {
                p.notice #links-skipped {
                    "The upload held " (crate::bundle::links_counted(links))
                    ": recorded, not extracted (the audit sees files and folders only)."
                }
            }
            @if v.allowed.has(Op::Upload) {
                // The CSRF field first: it is read from the body's first part, never the URL.
                form method="post" enctype="multipart/form-data" action={ "/submissions/" (v.submission.id) "/files" } {
                    (csrf_field(c))
                    label {
                        "Add files: case.toml, captures (pcap, pcapng, HAR, gzip), key logs, APKs, or the whole case as .tar, .tar.gz or .zip "
                        input #file type="file" name="file" multiple required;
                    }
                    button #upload { "Upload" }
                }
            }
        }
    }
}

fn runs(c: &Caller, v: &SubmissionView) -> Markup {
    let rows = v
        .runs
        .iter()
        .map(|r| {
            html! { tr.run {
                td { a href={ "/runs/" (r.id) "/files/report.html" } { (r.id.get(..8).unwrap_or("")) } }
                td class={ (r.state.as_str()) " run-state" } { (r.state.as_str()) }
                td { progress max="1000" value=(r.progress) { (r.progress / 10) "%" } " " (r.progress / 10) "%" }
                td { (r.attempts) }
                td { (r.started_at.map(when).unwrap_or_default()) }
                td { (r.finished_at.map(when).unwrap_or_default()) }
                td { (r.error.as_deref().unwrap_or("")) }
            } }
        })
        .collect();
    let heads = [
        "Run", "State", "Progress", "Attempts", "Started", "Finished", "Error",
    ];
    html! {
        section {
            h2 { "Runs" }
            (table("runs", &heads, rows, Some("No run yet.")))
            @if v.allowed.has(Op::StartRun) {
                (post_form(c, &format!("/submissions/{}/runs", v.submission.id), html! {
                    label { "Catalogue " select #run-catalogue name="catalogue" {
                        @for (n, _) in pc_certify::EMBEDDED { option value=(n) { (n) } }
                    } }
                    " " button #start-run { "Start audit run" }
                }))
            }
        }
    }
}

fn verdicts(c: &Caller, v: &SubmissionView, lv: &RunView) -> Markup {
    let can_override = v.allowed.has(Op::Override);
    let rid = &lv.run.id;
    let (outcome, summary) = lv.outcome.clone().unwrap_or_default();
    let overrides = lv
        .overrides
        .iter()
        .map(|o| {
            html! { tr {
                td { (when(o.created_at)) } td { (o.requirement) } td class=(o.verdict) { (o.verdict) }
                td { (o.reason) } td { (o.reviewer) }
            } }
        })
        .collect::<Vec<_>>();
    html! {
        section {
            h2 { "Verdicts of run " (rid.get(..8).unwrap_or("")) }
            p {
                "Automatic outcome: " strong #outcome class=(outcome) { (outcome.to_uppercase()) }
                " — " (summary) " · " (lv.findings) " identifier transmissions found · reports: "
                a #report-html href={ "/runs/" (rid) "/files/report.html" } { "HTML" } ", "
                a href={ "/runs/" (rid) "/files/report.json" } { "JSON" } ", "
                a href={ "/runs/" (rid) "/files/report.sarif" } { "SARIF" }
            }
            table #verdicts {
                tr {
                    th { "Requirement" } th { "Level" } th { "Automatic" } th { "Verdict" } th { "Why" }
                    @if can_override { th.noprint { "Override" } }
                }
                @for r in &lv.results {
                    tr id={ "req-" (r.result.requirement) } {
                        td { strong { (r.result.requirement) } br; (r.result.title) }
                        td { (r.result.level) }
                        td class=(r.result.automatic) { (r.result.automatic) }
                        td class={ (r.verdict) " verdict" } {
                            (r.verdict)
                            @if let Some(w) = &r.overridden_by { br; span.muted { "by " (w) } }
                        }
                        td { (r.result.summary) }
                        @if can_override {
                            td.noprint {
                                (post_form(c, &format!("/submissions/{}/overrides", v.submission.id), html! {
                                    input type="hidden" name="requirement" value=(r.result.requirement);
                                    select name="verdict" {
                                        @for o in VERDICTS { option value=(o) selected[o == r.verdict] { (o) } }
                                    }
                                    " "
                                    input name="reason" placeholder="reason (required)" required;
                                    button.override { "Override" }
                                }))
                            }
                        }
                    }
                }
            }
            @if !overrides.is_empty() {
                h3 { "Overrides" }
                (table("overrides", &["When", "Requirement", "Verdict", "Reason", "Reviewer"], overrides, None))
            }
        }
    }
}

fn review(c: &Caller, v: &SubmissionView) -> Markup {
    let sid = &v.submission.id;
    let reviews = v
        .reviews
        .iter()
        .map(|r| html! { tr { td { (when(r.created_at)) } td { (r.decision) } td { (r.comment) } td { (r.reviewer) } } })
        .collect::<Vec<_>>();
    html! {
        section {
            h2 { "Review and certificate" }
            @if !reviews.is_empty() {
                (table("reviews", &["When", "Decision", "Comment", "Reviewer"], reviews, None))
            }
            @if v.allowed.has(Op::Decide) {
                (post_form(c, &format!("/submissions/{sid}/decision"), html! {
                    label { "Decision " select #decision name="decision" {
                        option value="approve" { "approve" }
                        option value="changes" { "changes needed" }
                        option value="reject" { "reject" }
                    } }
                    label { "Comment " input #comment name="comment" size="60"; }
                    button #decide { "Record decision" }
                }))
            }
            @if v.allowed.has(Op::Issue) {
                (post_form(c, &format!("/submissions/{sid}/certificate"), html! { button #issue { "Issue the certificate" } }))
            }
            @for cert in &v.certificates {
                p {
                    "Certificate " a.certificate href={ "/certificates/" (url(&cert.number)) } { (cert.number) }
                    " " span class=(cert.state) { (cert.state) }
                }
            }
        }
    }
}
