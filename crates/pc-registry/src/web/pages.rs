//! Server-rendered pages. Forms post back and are answered with a redirect (303), so the
//! application works without JavaScript; a page with a run under way refreshes itself.

use std::fmt::Write;

use axum::extract::{DefaultBodyLimit, Extension, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::actions::{self as act, SubmissionView};
use super::api::{StreamRead, report_response, session_cookie};
use super::ui::{csrf_field, esc, page, page_with_head, url, when};
use super::{AppState, Auth, Caller, WebError};
use crate::{Role, RunState};

/// An error as a page (a redirect to the login page when not logged in).
#[derive(Debug)]
pub struct PageError(pub WebError);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.0 == WebError::Unauthenticated {
            return Redirect::to("/login").into_response();
        }
        let anon = Caller {
            user: None,
            auth: Auth::Anonymous,
            client: String::new(),
        };
        let body = format!(
            "<h1>{}</h1><p class=\"error\" id=\"error\">{}</p><p><a href=\"/\">Home</a></p>",
            self.0.status().as_u16(),
            esc(&self.0.message())
        );
        (
            self.0.status(),
            axum::response::Html(page("Error", &anon, &body)),
        )
            .into_response()
    }
}

impl From<WebError> for PageError {
    fn from(e: WebError) -> Self {
        PageError(e)
    }
}

type PageResult = Result<Response, PageError>;

fn html(s: String) -> PageResult {
    Ok(axum::response::Html(s).into_response())
}

fn see_other(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/dashboard", get(dashboard))
        .route("/submissions", post(create_submission))
        .route("/submissions/{id}", get(submission))
        .route(
            "/submissions/{id}/files",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/submissions/{id}/runs", post(start_run))
        .route("/submissions/{id}/overrides", post(override_verdict))
        .route("/submissions/{id}/decision", post(decide))
        .route("/submissions/{id}/certificate", post(issue))
        .route("/runs/{id}/files/{name}", get(run_file))
        .route("/certificates/{number}", get(certificate))
        .route(
            "/certificates/{number}/certificate.json",
            get(certificate_json),
        )
        .route("/certificates/{number}/revoke", post(revoke))
        .route("/registry", get(registry))
        .route("/registry/verify", get(verify_form).post(verify))
        .route("/lab.pub", get(lab_pub))
        .route("/account", get(account))
        .route("/account/tokens", post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
        .route("/admin", get(admin))
        .route("/admin/users", post(create_user))
        .route("/admin/manufacturers", post(create_manufacturer))
        .route("/admin/audit", get(audit))
}

async fn home(Extension(c): Extension<Caller>) -> PageResult {
    match &c.user {
        Some(u) if u.role != Role::Public => see_other("/dashboard"),
        _ => see_other("/registry"),
    }
}

fn login_page(c: &Caller, error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" id=\"error\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Log in",
        c,
        &format!(
            "<h1>Log in</h1>{err}<section><form method=\"post\" action=\"/login\">\
             <label>E-mail <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required></label>\
             <label>Password <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <button id=\"login\">Log in</button></form></section>\
             <p class=\"muted\">The public registry and certificate verification need no account.</p>"
        ),
    )
}

async fn login_form(Extension(c): Extension<Caller>) -> PageResult {
    html(login_page(&c, None))
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<LoginForm>,
) -> PageResult {
    match act::login(&st, &c.client, &f.email, &f.password).await {
        Ok((u, cookie, _)) => {
            let to = if u.role == Role::Public {
                "/registry"
            } else {
                "/dashboard"
            };
            let mut r = Redirect::to(to).into_response();
            if let Ok(v) = session_cookie(
                &cookie,
                st.config.secure_cookies,
                crate::auth::SESSION_TTL_SECS,
            )
            .parse()
            {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            Ok(r)
        }
        Err(e @ (WebError::Bad(_) | WebError::TooMany(_))) => {
            let status = e.status();
            Ok((
                status,
                axum::response::Html(login_page(&c, Some(&e.message()))),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(State(st): State<AppState>, Extension(c): Extension<Caller>) -> PageResult {
    act::logout(&st, &c).await?;
    let mut r = Redirect::to("/registry").into_response();
    if let Ok(v) = session_cookie("", st.config.secure_cookies, 0).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

async fn dashboard(State(st): State<AppState>, Extension(c): Extension<Caller>) -> PageResult {
    let subs = act::list_submissions(&st, &c).await?;
    let u = act::user(&c, act::Need::Read)?;
    let mut b = String::from("<h1>Submissions</h1>");
    if matches!(u.role, Role::Admin | Role::Engineer | Role::Manufacturer) {
        let manufacturer = if u.role == Role::Manufacturer {
            String::new()
        } else {
            let opts: String = act::list_manufacturers(&st, &c)
                .await?
                .iter()
                .map(|m| format!("<option>{}</option>", esc(&m.name)))
                .collect();
            format!(
                "<label>Manufacturer <select id=\"manufacturer\" name=\"manufacturer\">{opts}</select></label>"
            )
        };
        let _ = write!(
            b,
            "<section><h2>New submission</h2><form method=\"post\" action=\"/submissions\">{}{manufacturer}\
             <label>Device model <input id=\"model\" name=\"model\" required></label>\
             <label>Firmware version <input id=\"firmware\" name=\"firmware\" required></label>\
             <label>Build fingerprint (optional) <input id=\"fingerprint\" name=\"fingerprint\" size=\"80\"></label>\
             <button id=\"create-submission\">Create submission</button></form></section>",
            csrf_field(&c)
        );
    }
    b.push_str("<table id=\"submissions\"><tr><th>Manufacturer</th><th>Model</th><th>Firmware</th><th>State</th><th>Created</th></tr>");
    for s in &subs {
        let _ = write!(
            b,
            "<tr><td>{}</td><td><a href=\"/submissions/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.manufacturer),
            esc(&s.id),
            esc(&s.model),
            esc(&s.firmware),
            esc(s.state.as_str()),
            when(s.created_at)
        );
    }
    if subs.is_empty() {
        b.push_str("<tr><td colspan=\"5\" class=\"muted\">No submissions yet.</td></tr>");
    }
    b.push_str("</table>");
    html(page("Submissions", &c, &b))
}

#[derive(Deserialize)]
struct SubmissionForm {
    #[serde(default)]
    manufacturer: String,
    model: String,
    firmware: String,
    #[serde(default)]
    fingerprint: String,
}

async fn create_submission(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<SubmissionForm>,
) -> PageResult {
    let s = act::create_submission(
        &st,
        &c,
        &f.manufacturer,
        &f.model,
        &f.firmware,
        &f.fingerprint,
    )
    .await?;
    see_other(&format!("/submissions/{}", s.id))
}

fn verdict_options(selected: &str) -> String {
    [
        "PASS",
        "FAIL",
        "INCONCLUSIVE",
        "NOT_APPLICABLE",
        "NOT_TESTED",
    ]
    .iter()
    .map(|v| {
        format!(
            "<option value=\"{v}\"{}>{v}</option>",
            if *v == selected { " selected" } else { "" }
        )
    })
    .collect()
}

#[derive(Deserialize)]
struct SubmissionQuery {
    /// Links in the archives just uploaded (set by the upload's redirect).
    #[serde(default)]
    links: u64,
}

async fn submission(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<SubmissionQuery>,
) -> PageResult {
    let v: SubmissionView = act::get_submission(&st, &c, &id).await?;
    let u = act::user(&c, act::Need::Read)?;
    let s = &v.submission;
    let sid = esc(&s.id);
    let can_submit = matches!(u.role, Role::Admin | Role::Engineer | Role::Manufacturer);
    let can_decide = matches!(u.role, Role::Admin | Role::Reviewer);
    let active = v
        .runs
        .iter()
        .any(|r| matches!(r.state, RunState::Queued | RunState::Running));
    let mut b = format!(
        "<h1>{} {} <span class=\"muted\">firmware {}</span></h1>\
         <p>State: <strong id=\"state\" class=\"{}\">{}</strong> · created {}{}</p>",
        esc(&s.manufacturer),
        esc(&s.model),
        esc(&s.firmware),
        esc(s.state.as_str()),
        esc(s.state.as_str()),
        when(s.created_at),
        if s.fingerprint.is_empty() {
            String::new()
        } else {
            format!(" · <code>{}</code>", esc(&s.fingerprint))
        }
    );
    // Files.
    b.push_str("<section><h2>Files</h2><table id=\"files\"><tr><th>Name</th><th>Type</th><th>Size</th><th>SHA-256</th></tr>");
    for f in &v.files {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&f.name),
            esc(&f.media_type),
            f.size,
            esc(&f.sha256)
        );
    }
    if v.files.is_empty() {
        b.push_str("<tr><td colspan=\"4\" class=\"muted\">Nothing uploaded yet.</td></tr>");
    }
    b.push_str("</table>");
    if q.links > 0 {
        let _ = write!(
            b,
            "<p class=\"notice\" id=\"links-skipped\">The upload held {}: recorded, not extracted (the audit sees files and folders only).</p>",
            crate::bundle::links_counted(q.links)
        );
    }
    if can_submit && !matches!(s.state.as_str(), "testing" | "closed") {
        let _ = write!(
            b,
            // The CSRF field first: it is read from the body's first part (`csrf`), never the URL.
            "<form method=\"post\" enctype=\"multipart/form-data\" action=\"/submissions/{sid}/files\">{}\
             <label>Add files: case.toml, captures (pcap, pcapng, HAR, gzip), key logs, APKs, or the whole case as .tar, .tar.gz or .zip \
             <input id=\"file\" type=\"file\" name=\"file\" multiple required></label>\
             <button id=\"upload\">Upload</button></form>",
            csrf_field(&c)
        );
    }
    b.push_str("</section>");
    // Runs.
    b.push_str("<section><h2>Runs</h2><table id=\"runs\"><tr><th>Run</th><th>State</th><th>Progress</th><th>Attempts</th><th>Started</th><th>Finished</th><th>Error</th></tr>");
    for r in &v.runs {
        let state = r.state.as_str();
        let _ = write!(
            b,
            "<tr class=\"run\"><td><a href=\"/runs/{0}/files/report.html\">{1}</a></td><td class=\"{2} run-state\">{2}</td>\
             <td><progress max=\"1000\" value=\"{3}\">{4}%</progress> {4}%</td><td>{5}</td><td>{6}</td><td>{7}</td><td>{8}</td></tr>",
            esc(&r.id),
            esc(r.id.get(..8).unwrap_or("")),
            state,
            r.progress,
            r.progress / 10,
            r.attempts,
            r.started_at.map(when).unwrap_or_default(),
            r.finished_at.map(when).unwrap_or_default(),
            esc(r.error.as_deref().unwrap_or(""))
        );
    }
    if v.runs.is_empty() {
        b.push_str("<tr><td colspan=\"7\" class=\"muted\">No run yet.</td></tr>");
    }
    b.push_str("</table>");
    if can_submit && !active && !s.state.is_closed() && !v.files.is_empty() {
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/submissions/{sid}/runs\">{}<button id=\"start-run\">Start audit run</button></form>",
            csrf_field(&c)
        );
    }
    b.push_str("</section>");
    // Latest results.
    if let Some(lv) = &v.latest {
        let rid = esc(&lv.run.id);
        let (outcome, summary) = lv.outcome.clone().unwrap_or_default();
        let _ = write!(
            b,
            "<section><h2>Verdicts of run {}</h2><p>Automatic outcome: <strong id=\"outcome\" class=\"{}\">{}</strong> — {} · {} identifier transmissions found · \
             reports: <a id=\"report-html\" href=\"/runs/{rid}/files/report.html\">HTML</a>, <a href=\"/runs/{rid}/files/report.json\">JSON</a>, <a href=\"/runs/{rid}/files/report.sarif\">SARIF</a></p>",
            esc(lv.run.id.get(..8).unwrap_or("")),
            esc(&outcome),
            esc(&outcome.to_uppercase()),
            esc(&summary),
            lv.findings
        );
        b.push_str("<table id=\"verdicts\"><tr><th>Requirement</th><th>Level</th><th>Automatic</th><th>Verdict</th><th>Why</th>");
        if can_decide && !s.state.is_closed() {
            b.push_str("<th class=\"noprint\">Override</th>");
        }
        b.push_str("</tr>");
        for r in &lv.results {
            let req = esc(&r.result.requirement);
            let _ = write!(
                b,
                "<tr id=\"req-{req}\"><td><strong>{req}</strong><br>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"{} verdict\">{}{}</td><td>{}</td>",
                esc(&r.result.title),
                esc(&r.result.level),
                esc(&r.result.automatic),
                esc(&r.result.automatic),
                esc(&r.verdict),
                esc(&r.verdict),
                r.overridden_by
                    .as_ref()
                    .map(|w| format!("<br><span class=\"muted\">by {}</span>", esc(w)))
                    .unwrap_or_default(),
                esc(&r.result.summary)
            );
            if can_decide && !s.state.is_closed() {
                let _ = write!(
                    b,
                    "<td class=\"noprint\"><form method=\"post\" action=\"/submissions/{sid}/overrides\">{}\
                     <input type=\"hidden\" name=\"requirement\" value=\"{req}\">\
                     <select name=\"verdict\">{}</select> <input name=\"reason\" placeholder=\"reason (required)\" required>\
                     <button class=\"override\">Override</button></form></td>",
                    csrf_field(&c),
                    verdict_options(&r.verdict)
                );
            }
            b.push_str("</tr>");
        }
        b.push_str("</table>");
        if !lv.overrides.is_empty() {
            b.push_str("<h3>Overrides</h3><table id=\"overrides\"><tr><th>When</th><th>Requirement</th><th>Verdict</th><th>Reason</th><th>Reviewer</th></tr>");
            for o in &lv.overrides {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                    when(o.created_at),
                    esc(&o.requirement),
                    esc(&o.verdict),
                    esc(&o.verdict),
                    esc(&o.reason),
                    esc(&o.reviewer)
                );
            }
            b.push_str("</table>");
        }
        b.push_str("</section>");
        // The data-flow picture, from the run's report. Overrides do not change the picture, and a report too large to parse on every
        // view (the page refreshes itself) is left to report.html.
        if let Ok(report) = crate::certs::stored_report(&st.store, &lv.run.id, 16 << 20).await
            && let Some(svg) = pc_certify::html::data_flow_svg(&report)
        {
            let _ = write!(
                b,
                "<section id=\"data-flows\"><h2>Data flows</h2><p class=\"muted\">App → destination → country; red dashed lines carried cleartext, bold destinations received identifiers.</p>{svg}</section>"
            );
        }
    }
    // Review and certificate.
    b.push_str("<section><h2>Review and certificate</h2>");
    if !v.reviews.is_empty() {
        b.push_str("<table id=\"reviews\"><tr><th>When</th><th>Decision</th><th>Comment</th><th>Reviewer</th></tr>");
        for r in &v.reviews {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                when(r.created_at),
                esc(&r.decision),
                esc(&r.comment),
                esc(&r.reviewer)
            );
        }
        b.push_str("</table>");
    }
    if can_decide && v.latest.is_some() && !s.state.is_closed() {
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/submissions/{sid}/decision\">{}\
             <label>Decision <select id=\"decision\" name=\"decision\"><option value=\"approve\">approve</option>\
             <option value=\"changes\">changes needed</option><option value=\"reject\">reject</option></select></label>\
             <label>Comment <input id=\"comment\" name=\"comment\" size=\"60\"></label>\
             <button id=\"decide\">Record decision</button></form>",
            csrf_field(&c)
        );
        let approved = v.reviews.first().is_some_and(|r| r.decision == "approve");
        if approved {
            let _ = write!(
                b,
                "<form method=\"post\" action=\"/submissions/{sid}/certificate\">{}<button id=\"issue\">Issue the certificate</button></form>",
                csrf_field(&c)
            );
        }
    }
    for cert in &v.certificates {
        let _ = write!(
            b,
            "<p>Certificate <a class=\"certificate\" href=\"/certificates/{0}\">{1}</a> <span class=\"{2}\">{2}</span></p>",
            url(&cert.number),
            esc(&cert.number),
            esc(&cert.state)
        );
    }
    b.push_str("</section>");
    let head = if active {
        // No JavaScript: the page reloads itself while a run is under way.
        "<meta http-equiv=\"refresh\" content=\"2\">"
    } else {
        ""
    };
    html(page_with_head(
        &format!("{} {}", s.manufacturer, s.model),
        &c,
        &b,
        head,
    ))
}

async fn upload(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    mut mp: Multipart,
) -> PageResult {
    let mut n = 0;
    let mut links = 0u64;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(WebError::Bad(format!("upload cut off or malformed: {e}")).into()),
        };
        let Some(name) = field.file_name().map(base_name) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let art = act::upload(&st, &c, &id, &name, StreamRead::new(field)).await?;
        links = links.saturating_add(art.links_skipped);
        n += 1;
    }
    if n == 0 {
        return Err(WebError::Bad("choose at least one file to upload".into()).into());
    }
    if links > 0 {
        return see_other(&format!("/submissions/{}?links={links}", url(&id)));
    }
    see_other(&format!("/submissions/{}", url(&id)))
}

/// Browsers send a bare name, old ones a full client path: keep the last component.
fn base_name(s: &str) -> String {
    s.rsplit(['/', '\\']).next().unwrap_or("").to_owned()
}

async fn start_run(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    act::start_run(&st, &c, &id).await?;
    see_other(&format!("/submissions/{}", url(&id)))
}

#[derive(Deserialize)]
struct OverrideForm {
    requirement: String,
    verdict: String,
    reason: String,
}

async fn override_verdict(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Form(f): Form<OverrideForm>,
) -> PageResult {
    act::override_verdict(&st, &c, &id, &f.requirement, &f.verdict, &f.reason).await?;
    see_other(&format!(
        "/submissions/{}#req-{}",
        url(&id),
        url(&f.requirement)
    ))
}

#[derive(Deserialize)]
struct DecisionForm {
    decision: String,
    #[serde(default)]
    comment: String,
}

async fn decide(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> PageResult {
    act::decide(&st, &c, &id, &f.decision, &f.comment).await?;
    see_other(&format!("/submissions/{}", url(&id)))
}

async fn issue(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let cert = act::issue_certificate(&st, &c, &id).await?;
    see_other(&format!("/certificates/{}", url(&cert.number)))
}

async fn run_file(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, name)): Path<(String, String)>,
) -> PageResult {
    let (file, media) = act::run_file(&st, &c, &id, &name).await?;
    Ok(report_response(file, media))
}

async fn certificate(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(number): Path<String>,
) -> PageResult {
    let v = act::public_certificate(&st, &number).await?;
    let r = &v.record;
    let num = esc(&r.number);
    let mut b = format!(
        "<h1>Certificate {num}</h1><p>State: <strong id=\"cert-state\" class=\"{0}\">{0}</strong>{1}</p>",
        esc(&r.state),
        r.reason
            .as_ref()
            .map(|x| format!(" — {}", esc(x)))
            .unwrap_or_default()
    );
    b.push_str("<table id=\"certificate\">");
    let mut row = |k: &str, v: &str| {
        let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    };
    row("Manufacturer", &r.manufacturer);
    row("Model", &r.model);
    row("Firmware", &r.firmware);
    row("Issued", &when(r.issued_at));
    row("Valid until", &r.not_after);
    if let Some(p) = &v.payload {
        row("Issued by", &p.lab);
        row("Serial", &p.serial);
        row(
            "Build fingerprint",
            p.device.build_fingerprint.as_deref().unwrap_or(""),
        );
        row(
            "Firmware digest",
            &format!("{} ({} apps)", p.firmware_digest, p.firmware_apps),
        );
        row(
            "Requirements",
            &format!("{} {}", p.catalogue.id, p.catalogue.version),
        );
        let verdicts: Vec<String> = p
            .verdicts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        row("Verdicts", &verdicts.join(", "));
        if !p.reviewed.is_empty() {
            row("Set by reviewers", &p.reviewed.join(", "));
        }
    }
    if let Some(s) = &r.superseded_by {
        row("Superseded by", s);
    }
    b.push_str("</table>");
    let _ = write!(
        b,
        "<section><h2>Verify it yourself</h2><p>This certificate is signed (Ed25519, JWS). Anyone can check it offline \
         with the lab's public key, <a href=\"/lab.pub\">lab.pub</a> (key id <code>{}</code>):</p>\
         <pre>phonecert verify certificate.json --key lab.pub</pre>\
         <p><a id=\"download\" href=\"/certificates/{}/certificate.json\">Download certificate.json</a> · \
         or paste it into <a href=\"/registry/verify\">the verification page</a>.</p>\
         <details><summary>The signed certificate</summary><pre id=\"jws\">{}</pre></details></section>",
        esc(&st.key.key_id),
        url(&r.number),
        esc(&r.jws)
    );
    if c.user
        .as_ref()
        .is_some_and(|u| matches!(u.role, Role::Admin | Role::Reviewer))
        && r.state == "issued"
    {
        let _ = write!(
            b,
            "<section class=\"noprint\"><h2>Revoke</h2><form method=\"post\" action=\"/certificates/{}/revoke\">{}\
             <label>Reason <input id=\"revoke-reason\" name=\"reason\" size=\"60\" required></label><button id=\"revoke\">Revoke</button></form></section>",
            url(&r.number),
            csrf_field(&c)
        );
    }
    html(page(&format!("Certificate {}", r.number), &c, &b))
}

async fn certificate_json(State(st): State<AppState>, Path(number): Path<String>) -> PageResult {
    let v = act::public_certificate(&st, &number).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"certificate.json\"",
            ),
        ],
        v.record.jws,
    )
        .into_response())
}

#[derive(Deserialize)]
struct ReasonForm {
    reason: String,
}

async fn revoke(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(number): Path<String>,
    Form(f): Form<ReasonForm>,
) -> PageResult {
    act::revoke(&st, &c, &number, &f.reason).await?;
    see_other(&format!("/certificates/{}", url(&number)))
}

#[derive(Deserialize)]
struct RegistryQuery {
    q: Option<String>,
}

async fn registry(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<RegistryQuery>,
) -> PageResult {
    let text = q.q.unwrap_or_default();
    let list = if text.trim().is_empty() {
        act::public_search(&st, None, None, None).await?
    } else {
        act::public_search(&st, None, None, Some(&text)).await?
    };
    let mut b = format!(
        "<h1>Certified models</h1><form method=\"get\" action=\"/registry\">\
         <label>Manufacturer or model <input id=\"q\" name=\"q\" value=\"{}\"></label><button id=\"search\">Search</button></form>\
         <table id=\"registry\"><tr><th>Manufacturer</th><th>Model</th><th>Firmware</th><th>Certificate</th><th>State</th><th>Issued</th></tr>",
        esc(&text)
    );
    for r in &list {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/certificates/{}\">{}</a></td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&r.manufacturer),
            esc(&r.model),
            esc(&r.firmware),
            url(&r.number),
            esc(&r.number),
            esc(&r.state),
            esc(&r.state),
            when(r.issued_at)
        );
    }
    if list.is_empty() {
        b.push_str("<tr><td colspan=\"6\" class=\"muted\">No certificate matches.</td></tr>");
    }
    b.push_str("</table>");
    html(page("Certified models", &c, &b))
}

fn verify_page(c: &Caller, result: Option<&crate::certs::Verification>) -> String {
    let mut b = String::from("<h1>Verify a certificate</h1>");
    if let Some(v) = result {
        let _ = write!(
            b,
            "<section><p>Result: <strong id=\"verify-status\" class=\"{0}\">{0}</strong></p><p id=\"verify-message\">{1}</p>",
            esc(&v.status),
            esc(&v.message)
        );
        if let Some(p) = &v.payload {
            let _ = write!(
                b,
                "<p>{} {} — serial <code>{}</code>, issued {} by {}, valid until {}</p>",
                esc(&p.device.manufacturer),
                esc(&p.device.model),
                esc(&p.serial),
                esc(&p.issued),
                esc(&p.lab),
                esc(&p.not_after)
            );
        }
        b.push_str("</section>");
    }
    let _ = write!(
        b,
        "<section><form method=\"post\" enctype=\"multipart/form-data\" action=\"/registry/verify\">{}\
         <label>Paste certificate.json <textarea id=\"certificate\" name=\"certificate\" rows=\"10\"></textarea></label>\
         <label>or upload it <input id=\"certificate-file\" type=\"file\" name=\"file\"></label>\
         <button id=\"verify\">Verify</button></form></section>\
         <p class=\"muted\">Verification checks the lab's signature, the validity dates and the registry's record \
         (revoked or superseded certificates are not valid). Offline: <code>phonecert verify certificate.json --key lab.pub</code> \
         with <a href=\"/lab.pub\">the lab's public key</a>.</p>",
        csrf_field(c)
    );
    page("Verify a certificate", c, &b)
}

async fn verify_form(Extension(c): Extension<Caller>) -> PageResult {
    html(verify_page(&c, None))
}

async fn verify(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    mut mp: Multipart,
) -> PageResult {
    let mut text = String::new();
    let max = pc_certify::cert::MAX_CERT_BYTES;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(WebError::Bad(format!("form malformed: {e}")).into()),
        };
        let mut buf = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(ch)) => {
                    if buf.len() + ch.len() > max {
                        return Err(
                            WebError::TooLarge("a certificate is at most 256 KiB".into()).into(),
                        );
                    }
                    buf.extend_from_slice(&ch);
                }
                Ok(None) => break,
                Err(e) => return Err(WebError::Bad(format!("form malformed: {e}")).into()),
            }
        }
        let part = String::from_utf8_lossy(&buf);
        if !part.trim().is_empty() && text.trim().is_empty() {
            text = part.into_owned();
        }
    }
    if text.trim().is_empty() {
        return Err(WebError::Bad("paste or upload a certificate".into()).into());
    }
    let v = act::verify(&st, &text).await?;
    let status = if v.valid {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, axum::response::Html(verify_page(&c, Some(&v)))).into_response())
}

async fn lab_pub(State(st): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lab.pub\"",
            ),
        ],
        st.key.public_pem.clone(),
    )
        .into_response()
}

async fn account_page(st: &AppState, c: &Caller, new_token: Option<&str>) -> PageResult {
    let u = act::user(c, act::Need::Read)?;
    let tokens = act::list_tokens(st, c).await?;
    let mut b = format!(
        "<h1>Your account</h1><p>{} — role <strong>{}</strong></p>",
        esc(&u.email),
        u.role.as_str()
    );
    if let Some(t) = new_token {
        let _ = write!(
            b,
            "<p class=\"notice\">New API token (shown once, store it now): <code id=\"new-token\">{}</code><br>\
             Use it as <code>Authorization: Bearer …</code> with the API (<a href=\"/api/v1/openapi.json\">OpenAPI</a>).</p>",
            esc(t)
        );
    }
    b.push_str("<section><h2>API tokens</h2><table id=\"tokens\"><tr><th>Label</th><th>Scope</th><th>Created</th><th>State</th><th></th></tr>");
    for t in &tokens {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.label),
            t.scope.as_str(),
            when(t.created_at),
            if t.revoked_at.is_some() {
                "revoked"
            } else {
                "active"
            },
            if t.revoked_at.is_none() {
                format!(
                    "<form method=\"post\" action=\"/account/tokens/{}/revoke\">{}<button>Revoke</button></form>",
                    esc(&t.id),
                    csrf_field(c)
                )
            } else {
                String::new()
            }
        );
    }
    let _ = write!(
        b,
        "</table><form method=\"post\" action=\"/account/tokens\">{}<label>Label <input id=\"token-label\" name=\"label\" required placeholder=\"CI pre-checks\"></label>\
         <label>Scope <select id=\"token-scope\" name=\"scope\"><option value=\"ci\" selected>ci: upload, start and follow runs</option>\
         <option value=\"read\">read: submissions, runs, reports</option><option value=\"full\">full: all your role allows</option></select></label>\
         <button id=\"create-token\">Create token</button></form></section>",
        csrf_field(c)
    );
    html(page("Account", c, &b))
}

async fn account(State(st): State<AppState>, Extension(c): Extension<Caller>) -> PageResult {
    account_page(&st, &c, None).await
}

#[derive(Deserialize)]
struct LabelForm {
    label: String,
    /// `ci` (the default), `read` or `full`.
    #[serde(default)]
    scope: Option<String>,
}

async fn create_token(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<LabelForm>,
) -> PageResult {
    let scope = match f.scope.as_deref() {
        None | Some("") => crate::auth::Scope::Ci,
        Some(s) => s.parse().map_err(WebError::from)?,
    };
    let (_, secret) = act::create_token(&st, &c, &f.label, scope).await?;
    account_page(&st, &c, Some(&secret)).await
}

async fn revoke_token(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    act::revoke_token(&st, &c, &id).await?;
    see_other("/account")
}

async fn admin(State(st): State<AppState>, Extension(c): Extension<Caller>) -> PageResult {
    let users = act::list_users(&st, &c).await?;
    let ms = act::list_manufacturers(&st, &c).await?;
    let mut b = String::from(
        "<h1>Administration</h1><section><h2>Accounts</h2><table id=\"users\"><tr><th>E-mail</th><th>Role</th><th>Manufacturer</th><th>State</th></tr>",
    );
    for u in &users {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.user.email),
            u.user.role.as_str(),
            esc(u.manufacturer.as_deref().unwrap_or("")),
            if u.disabled { "disabled" } else { "active" }
        );
    }
    let opts: String = ms
        .iter()
        .map(|m| format!("<option value=\"{0}\">{0}</option>", esc(&m.name)))
        .collect();
    let _ = write!(
        b,
        "</table><form method=\"post\" action=\"/admin/users\">{}\
         <label>E-mail <input id=\"new-email\" name=\"email\" type=\"email\" required></label>\
         <label>Password (12 characters or more) <input id=\"new-password\" name=\"password\" type=\"password\" minlength=\"12\" required></label>\
         <label>Role <select id=\"new-role\" name=\"role\"><option value=\"engineer\">engineer</option><option value=\"reviewer\">reviewer</option><option value=\"manufacturer\">manufacturer</option><option value=\"admin\">admin</option><option value=\"public\">public</option></select></label>\
         <label>Manufacturer (for manufacturer accounts) <select name=\"manufacturer\"><option value=\"\"></option>{opts}</select></label>\
         <button id=\"create-user\">Create account</button></form></section>\
         <section><h2>Manufacturers</h2><ul id=\"manufacturers\">{}</ul>\
         <form method=\"post\" action=\"/admin/manufacturers\">{}<label>Name <input id=\"new-manufacturer\" name=\"name\" required></label>\
         <button id=\"create-manufacturer\">Add manufacturer</button></form></section><p><a href=\"/admin/audit\">Audit log</a></p>",
        csrf_field(&c),
        ms.iter()
            .map(|m| format!("<li>{}</li>", esc(&m.name)))
            .collect::<String>(),
        csrf_field(&c)
    );
    html(page("Administration", &c, &b))
}

#[derive(Deserialize)]
struct UserForm {
    email: String,
    password: String,
    role: String,
    #[serde(default)]
    manufacturer: String,
}

async fn create_user(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<UserForm>,
) -> PageResult {
    let m = Some(f.manufacturer.as_str()).filter(|m| !m.trim().is_empty());
    act::create_user(&st, &c, &f.email, &f.password, &f.role, m).await?;
    see_other("/admin")
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
}

async fn create_manufacturer(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<NameForm>,
) -> PageResult {
    act::create_manufacturer(&st, &c, &f.name).await?;
    // Engineers add manufacturers from the dashboard's needs but have no admin page.
    let to = match c.user.as_ref().map(|u| u.role) {
        Some(Role::Admin) => "/admin",
        _ => "/dashboard",
    };
    see_other(to)
}

#[derive(Deserialize)]
struct AfterQuery {
    #[serde(default)]
    after: i64,
}

async fn audit(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<AfterQuery>,
) -> PageResult {
    let (entries, chain) = act::audit_log(&st, &c, q.after).await?;
    let state = match chain {
        crate::AuditCheck::Intact { entries } => {
            format!("<p class=\"notice\">Hash chain intact over {entries} entries.</p>")
        }
        crate::AuditCheck::Broken { at_seq } => format!(
            "<p class=\"error\">Hash chain broken at entry {at_seq}: the log was altered outside the application.</p>"
        ),
    };
    let mut b = format!(
        "<h1>Audit log</h1>{state}<table id=\"audit\"><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>On</th><th>Detail</th></tr>"
    );
    for e in &entries {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.seq,
            when(e.at),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.object),
            esc(&e.detail)
        );
    }
    b.push_str("</table>");
    if let Some(last) = entries.last() {
        let _ = write!(
            b,
            "<p><a href=\"/admin/audit?after={}\">Next page</a></p>",
            last.seq
        );
    }
    html(page("Audit log", &c, &b))
}
