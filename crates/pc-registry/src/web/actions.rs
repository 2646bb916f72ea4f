//! Every action of the service, with its authorization. Pages and the API call these and only
//! render the result, so a rule is written once and holds for both. Which operations a caller
//! may do on a submission or certificate is decided by [`super::allowed`], which both these
//! actions (to authorise) and the pages (to choose their forms) ask.
//!
//! Roles: `admin` (everything), `engineer` (submissions and runs of every manufacturer),
//! `reviewer` (reads everything, overrides verdicts, decides, issues and revokes certificates),
//! `manufacturer` (its own company's submissions: create, upload, run, read), `public` (the
//! public registry only, like an anonymous visitor).
//!
//! Every action also states what it [`Need`]s from the caller's authentication, so an API
//! token does only what its scope allows (`ci`: upload, start runs and follow them; `read`:
//! read; `full`: all but tokens), whatever its account's role would allow.

use serde::Serialize;
use tokio::io::AsyncRead;

use super::allowed::{self, Op, Ops, Subject, SubmissionFacts};
use super::{AppState, Auth, Caller, WebError};
use crate::audit::AuditEntry;
use crate::auth::{Scope, TokenInfo, UserInfo};
use crate::bundle::links_counted;
use crate::certs::Verification;
use crate::workflow::{
    CertificateRecord, Manufacturer, Override, ResultRow, ReviewDecision, Submission,
    SubmissionArtifact,
};
use crate::{AuditCheck, PublicCertificate, Role, Run, RunState, StoredArtifact, User, unix_now};

/// Result of an action.
pub type ActionResult<T> = Result<T, WebError>;

/// What an action needs from the way its caller authenticated (a browser session may do
/// whatever the account's role allows; a token only what its scope adds up to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Who the caller is (`/api/v1/me`): every token, so CI can check its own.
    Identity,
    /// Following a run: its state and outcome (a CI pipeline waits for the run it started).
    RunState,
    /// Reading submissions, runs' files and reports, and lists.
    Read,
    /// Uploading files into a submission and starting its runs.
    Ci,
    /// Creating submissions.
    Submit,
    /// Everything else: reviewing, certifying, administration.
    Manage,
    /// Managing API tokens: a logged-in session only, never a token.
    Session,
}

/// True when a caller authenticated like this may do what `need` says.
pub fn permits(auth: &Auth, need: Need) -> bool {
    match auth {
        Auth::Anonymous | Auth::Session { .. } => true,
        Auth::Token { scope } => match scope {
            Scope::Ci => matches!(need, Need::Identity | Need::RunState | Need::Ci),
            Scope::Read => matches!(need, Need::Identity | Need::RunState | Need::Read),
            Scope::Full => need != Need::Session,
        },
    }
}

/// The logged-in user, if the way they authenticated permits `need`; 401 / 403 otherwise.
pub fn user(c: &Caller, need: Need) -> ActionResult<&User> {
    let u = c.user.as_ref().ok_or(WebError::Unauthenticated)?;
    if permits(&c.auth, need) {
        return Ok(u);
    }
    Err(WebError::Denied(match &c.auth {
        Auth::Token { .. } if need == Need::Session => {
            "API tokens cannot manage tokens: log in (POST /api/v1/session) to do that".into()
        }
        Auth::Token { scope } => format!(
            "this API token's scope ({}) does not allow this: make one with the scope it needs",
            scope.as_str()
        ),
        _ => "not allowed".into(),
    }))
}

/// The logged-in user if their role is one of `roles` and their authentication permits
/// `need`; 401 / 403 otherwise.
pub fn require<'a>(c: &'a Caller, roles: &[Role], need: Need) -> ActionResult<&'a User> {
    let u = user(c, need)?;
    if roles.contains(&u.role) {
        Ok(u)
    } else {
        Err(WebError::Forbidden)
    }
}

/// Every role that works with submissions (a manufacturer only with its own).
const MEMBERS: &[Role] = &[
    Role::Admin,
    Role::Engineer,
    Role::Reviewer,
    Role::Manufacturer,
];
/// Roles that create submissions, upload and start runs.
pub(super) const SUBMITTERS: &[Role] = &[Role::Admin, Role::Engineer, Role::Manufacturer];
/// Roles that review, decide and certify.
pub(super) const DECIDERS: &[Role] = &[Role::Admin, Role::Reviewer];

/// Audit log entry, written for every change.
async fn log(
    st: &AppState,
    actor: &User,
    action: &str,
    object: &str,
    detail: &str,
) -> ActionResult<()> {
    st.store.audit(&actor.email, action, object, detail).await?;
    Ok(())
}

/// Logs in; returns the user, session cookie value and CSRF token. Refused (429, with the
/// seconds to wait) while failed logins from the client slow it down (`login_limit`); the
/// password is then not checked at all.
pub async fn login(
    st: &AppState,
    client: &str,
    email: &str,
    password: &str,
) -> ActionResult<(User, String, String)> {
    let key = crate::login_limit::client_key(client);
    let attempt = match st.store.begin_login(email, &key).await? {
        Ok(a) => a,
        Err(wait) => return Err(WebError::TooMany(wait)),
    };
    match st.store.verify_login(email, password).await? {
        Some(u) => {
            st.store.login_succeeded(attempt).await?;
            let (cookie, csrf) = st.store.create_session(&u).await?;
            log(st, &u, "session.login", &u.id, client).await?;
            Ok((u, cookie, csrf))
        }
        // The attempt stays recorded: it is a failure.
        None => Err(WebError::Bad("wrong e-mail or password".into())),
    }
}

/// Logs out (ends the session, if the caller has one).
pub async fn logout(st: &AppState, c: &Caller) -> ActionResult<()> {
    if let super::Auth::Session { cookie, .. } = &c.auth {
        st.store.delete_session(cookie).await?;
    }
    Ok(())
}

/// Creates an API token for the caller (from a logged-in session); returns (id, secret).
pub async fn create_token(
    st: &AppState,
    c: &Caller,
    label: &str,
    scope: Scope,
) -> ActionResult<(String, String)> {
    let u = user(c, Need::Session)?;
    let (id, secret) = st.store.create_token(&u.id, label, scope, None).await?;
    log(
        st,
        u,
        "token.create",
        &id,
        &format!("{} ({})", label.trim(), scope.as_str()),
    )
    .await?;
    Ok((id, secret))
}

/// The caller's tokens.
pub async fn list_tokens(st: &AppState, c: &Caller) -> ActionResult<Vec<TokenInfo>> {
    let u = user(c, Need::Session)?;
    Ok(st.store.list_tokens(&u.id).await?)
}

/// Revokes one of the caller's tokens.
pub async fn revoke_token(st: &AppState, c: &Caller, id: &str) -> ActionResult<()> {
    let u = user(c, Need::Session)?;
    if !st.store.revoke_token(&u.id, id).await? {
        return Err(WebError::NotFound("token"));
    }
    log(st, u, "token.revoke", id, "").await
}

/// Every account (admin).
pub async fn list_users(st: &AppState, c: &Caller) -> ActionResult<Vec<UserInfo>> {
    require(c, &[Role::Admin], Need::Manage)?;
    Ok(st.store.list_users().await?)
}

/// Creates an account (admin). `manufacturer` is a manufacturer's name, for that role.
pub async fn create_user(
    st: &AppState,
    c: &Caller,
    email: &str,
    password: &str,
    role: &str,
    manufacturer: Option<&str>,
) -> ActionResult<User> {
    let admin = require(c, &[Role::Admin], Need::Manage)?;
    let role: Role = role.parse()?;
    Ok(st
        .store
        .add_account(&admin.email, email, password, role, manufacturer)
        .await?)
}

/// Manufacturers: all for staff, its own for a manufacturer account.
pub async fn list_manufacturers(st: &AppState, c: &Caller) -> ActionResult<Vec<Manufacturer>> {
    let u = require(c, MEMBERS, Need::Read)?;
    let all = st.store.list_manufacturers().await?;
    Ok(match (&u.role, &u.manufacturer_id) {
        (Role::Manufacturer, Some(m)) => all.into_iter().filter(|x| &x.id == m).collect(),
        (Role::Manufacturer, None) => Vec::new(),
        _ => all,
    })
}

/// Creates a manufacturer (admin, engineer).
pub async fn create_manufacturer(
    st: &AppState,
    c: &Caller,
    name: &str,
) -> ActionResult<Manufacturer> {
    let u = require(c, &[Role::Admin, Role::Engineer], Need::Manage)?;
    let id = st.store.create_manufacturer(name).await?;
    log(st, u, "manufacturer.create", &id, name.trim()).await?;
    Ok(Manufacturer {
        id,
        name: name.trim().to_owned(),
    })
}

/// Submissions the caller may see.
pub async fn list_submissions(st: &AppState, c: &Caller) -> ActionResult<Vec<Submission>> {
    let u = require(c, MEMBERS, Need::Read)?;
    Ok(match u.role {
        Role::Manufacturer => match &u.manufacturer_id {
            Some(m) => st.store.list_submissions(Some(m)).await?,
            None => Vec::new(),
        },
        _ => st.store.list_submissions(None).await?,
    })
}

/// A submission if the caller may see it (a manufacturer's account sees only its own; others'
/// are reported as not found, so their existence does not leak).
pub async fn visible_submission(st: &AppState, c: &Caller, id: &str) -> ActionResult<Submission> {
    submission_for(st, c, id, Need::Read).await
}

/// [`visible_submission`] for an action that needs `need` (a CI token uploads into a
/// submission it may not read).
async fn submission_for(
    st: &AppState,
    c: &Caller,
    id: &str,
    need: Need,
) -> ActionResult<Submission> {
    let u = require(c, MEMBERS, need)?;
    let s = st
        .store
        .submission(id)
        .await?
        .ok_or(WebError::NotFound("submission"))?;
    if u.role == Role::Manufacturer
        && u.manufacturer_id.as_deref() != Some(s.manufacturer_id.as_str())
    {
        return Err(WebError::NotFound("submission"));
    }
    Ok(s)
}

/// Creates a submission. Manufacturer accounts create them for their own company only (the
/// `manufacturer` given must be theirs or empty).
pub async fn create_submission(
    st: &AppState,
    c: &Caller,
    manufacturer: &str,
    model: &str,
    firmware: &str,
    fingerprint: &str,
) -> ActionResult<Submission> {
    allowed::check(c, Op::CreateSubmission, &Subject::Lab)?;
    let u = require(c, SUBMITTERS, Need::Submit)?;
    let m = match (u.role, &u.manufacturer_id) {
        (Role::Manufacturer, Some(own)) => {
            let own = st
                .store
                .manufacturer(own)
                .await?
                .ok_or(WebError::Forbidden)?;
            if !manufacturer.trim().is_empty() && manufacturer.trim() != own.name {
                return Err(WebError::Forbidden);
            }
            own
        }
        (Role::Manufacturer, None) => return Err(WebError::Forbidden),
        _ => st
            .store
            .manufacturer_by_name(manufacturer)
            .await?
            .ok_or_else(|| {
                WebError::Bad(format!(
                    "no manufacturer named {:?}: an administrator or engineer creates it first",
                    manufacturer.trim()
                ))
            })?,
    };
    let id = st
        .store
        .create_submission_for(&m.id, model, firmware, fingerprint, &u.id)
        .await?;
    log(
        st,
        u,
        "submission.create",
        &id,
        &format!("{} {} {}", m.name, model.trim(), firmware.trim()),
    )
    .await?;
    st.store
        .submission(&id)
        .await?
        .ok_or(WebError::NotFound("submission"))
}

/// Everything shown about a submission.
#[derive(Debug, Clone, Serialize)]
pub struct SubmissionView {
    /// The submission.
    pub submission: Submission,
    /// Its files.
    pub files: Vec<SubmissionArtifact>,
    /// Its runs, newest first.
    pub runs: Vec<Run>,
    /// The latest finished run's results, with overrides applied.
    pub latest: Option<RunView>,
    /// Reviewers' decisions, newest first.
    pub reviews: Vec<ReviewDecision>,
    /// Certificates, newest first.
    pub certificates: Vec<CertificateRecord>,
    /// What the caller may do with it (for the page's forms; not part of the API's answer).
    #[serde(skip)]
    pub allowed: Ops,
}

/// The facts [`allowed`] decides on, from a submission's lists.
fn facts(
    s: &Submission,
    files: &[SubmissionArtifact],
    runs: &[Run],
    reviews: &[ReviewDecision],
) -> SubmissionFacts {
    let done = runs.iter().find(|r| r.state == RunState::Done);
    SubmissionFacts {
        state: s.state,
        has_files: !files.is_empty(),
        run_active: runs
            .iter()
            .any(|r| matches!(r.state, RunState::Queued | RunState::Running)),
        has_done_run: done.is_some(),
        approved: match (reviews.first(), done) {
            (Some(r), Some(d)) => r.decision == "approve" && r.run_id.as_deref() == Some(&d.id),
            _ => false,
        },
    }
}

/// Checks that the caller may do `op` on submission `s` in its current state.
async fn check_on(st: &AppState, c: &Caller, op: Op, s: &Submission) -> ActionResult<()> {
    let f = facts(
        s,
        &st.store.submission_artifacts(&s.id).await?,
        &st.store.runs_of(&s.id).await?,
        &st.store.reviews_of(&s.id).await?,
    );
    allowed::check(c, op, &Subject::Submission(&f))
}

/// A finished run's results.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// The run.
    pub run: Run,
    /// pass / fail / inconclusive and summary.
    pub outcome: Option<(String, String)>,
    /// Per requirement: the result and its effective verdict.
    pub results: Vec<EffectiveResult>,
    /// Overrides, oldest first.
    pub overrides: Vec<Override>,
    /// Output files.
    pub files: Vec<String>,
    /// Number of identifier transmissions found.
    pub findings: i64,
}

/// A requirement's result with the verdict that counts.
#[derive(Debug, Clone, Serialize)]
pub struct EffectiveResult {
    /// The automatic result.
    #[serde(flatten)]
    pub result: ResultRow,
    /// The latest override's verdict, else the automatic one.
    pub verdict: String,
    /// Set when a reviewer changed it.
    pub overridden_by: Option<String>,
}

async fn run_view(st: &AppState, run: Run) -> ActionResult<RunView> {
    let results = st.store.run_results(&run.id).await?;
    let overrides = st.store.overrides(&run.id).await?;
    let results = results
        .into_iter()
        .map(|r| {
            let o = overrides
                .iter()
                .rev()
                .find(|o| o.requirement == r.requirement);
            EffectiveResult {
                verdict: o.map_or_else(|| r.automatic.clone(), |o| o.verdict.clone()),
                overridden_by: o.map(|o| o.reviewer.clone()),
                result: r,
            }
        })
        .collect();
    Ok(RunView {
        outcome: st.store.run_outcome(&run.id).await?,
        files: st
            .store
            .run_outputs(&run.id)
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
        findings: st.store.count_findings(&run.id).await?,
        results,
        overrides,
        run,
    })
}

/// A submission with everything about it.
pub async fn get_submission(st: &AppState, c: &Caller, id: &str) -> ActionResult<SubmissionView> {
    let submission = visible_submission(st, c, id).await?;
    let runs = st.store.runs_of(id).await?;
    let latest = match runs.iter().find(|r| r.state == RunState::Done) {
        Some(r) => Some(run_view(st, r.clone()).await?),
        None => None,
    };
    let files = st.store.submission_artifacts(id).await?;
    let reviews = st.store.reviews_of(id).await?;
    let allowed = allowed::allowed(
        c,
        &Subject::Submission(&facts(&submission, &files, &runs, &reviews)),
    );
    Ok(SubmissionView {
        certificates: st.store.certificates_of(id).await?,
        files,
        reviews,
        runs,
        latest,
        submission,
        allowed,
    })
}

/// Uploads a file into a submission (streamed, checked, stored by SHA-256).
pub async fn upload<R: AsyncRead + Unpin>(
    st: &AppState,
    c: &Caller,
    id: &str,
    name: &str,
    body: R,
) -> ActionResult<StoredArtifact> {
    let u = require(c, SUBMITTERS, Need::Ci)?.clone();
    let s = submission_for(st, c, id, Need::Ci).await?;
    check_on(st, c, Op::Upload, &s).await?;
    let art = st
        .store
        .add_submission_upload(id, name, body, &st.config.bundle)
        .await?;
    let links = match art.links_skipped {
        0 => String::new(),
        n => format!(", {} recorded, not extracted", links_counted(n)),
    };
    log(
        st,
        &u,
        "submission.upload",
        id,
        &format!("{name} sha256:{} {} bytes{links}", art.sha256, art.size),
    )
    .await?;
    Ok(art)
}

/// Queues an audit run of a submission against an embedded catalogue (default: the baseline).
pub async fn start_run(
    st: &AppState,
    c: &Caller,
    id: &str,
    catalogue: Option<&str>,
) -> ActionResult<Run> {
    let u = require(c, SUBMITTERS, Need::Ci)?.clone();
    let s = submission_for(st, c, id, Need::Ci).await?;
    check_on(st, c, Op::StartRun, &s).await?;
    let catalogue = catalogue
        .filter(|n| !n.is_empty())
        .unwrap_or("phonecert-baseline");
    if !pc_certify::EMBEDDED.iter().any(|(n, _)| *n == catalogue) {
        return Err(WebError::Bad(format!(
            "no catalogue {catalogue}: choose one of {}",
            pc_certify::EMBEDDED.map(|(n, _)| n).join(", ")
        )));
    }
    // The store queues at most one run at a time even when two requests pass the check at once.
    let Some(run_id) = st.store.request_run(id, &u.id, catalogue).await? else {
        return Err(WebError::Conflict(
            "a run of this submission is already under way".into(),
        ));
    };
    log(
        st,
        &u,
        "run.request",
        &run_id,
        &format!("{id} catalogue {catalogue}"),
    )
    .await?;
    st.store
        .get_run(&run_id)
        .await?
        .ok_or(WebError::NotFound("run"))
}

/// A run the caller may see (only through its submission).
async fn visible_run(
    st: &AppState,
    c: &Caller,
    run_id: &str,
    need: Need,
) -> ActionResult<(Submission, Run)> {
    require(c, MEMBERS, need)?;
    let run = st
        .store
        .get_run(run_id)
        .await?
        .ok_or(WebError::NotFound("run"))?;
    let s = match submission_for(st, c, &run.submission_id, need).await {
        Err(WebError::NotFound(_)) => return Err(WebError::NotFound("run")),
        other => other?,
    };
    Ok((s, run))
}

/// A run and, once done, its results; only for callers who may see its submission.
pub async fn get_run(
    st: &AppState,
    c: &Caller,
    run_id: &str,
) -> ActionResult<(Submission, RunView)> {
    let (s, run) = visible_run(st, c, run_id, Need::RunState).await?;
    Ok((s, run_view(st, run).await?))
}

/// A run's output file (report.json, report.html, report.sarif), opened for streaming, and
/// its media type.
pub async fn run_file(
    st: &AppState,
    c: &Caller,
    run_id: &str,
    name: &str,
) -> ActionResult<(tokio::fs::File, &'static str)> {
    visible_run(st, c, run_id, Need::Read).await?;
    let media = match name {
        "report.json" => "application/json",
        "report.html" => "text/html; charset=utf-8",
        "report.sarif" => "application/sarif+json",
        _ => return Err(WebError::NotFound("file")),
    };
    let sha = st
        .store
        .run_outputs(run_id)
        .await?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .ok_or(WebError::NotFound("file"))?;
    Ok((st.store.open_artifact(&sha).await?, media))
}

/// The latest finished run of a submission, for reviewing.
async fn latest_done(st: &AppState, id: &str) -> ActionResult<Run> {
    st.store
        .runs_of(id)
        .await?
        .into_iter()
        .find(|r| r.state == RunState::Done)
        .ok_or_else(|| WebError::Conflict("no finished run to review".into()))
}

/// A reviewer overrides one requirement's verdict of the latest finished run, with a reason.
pub async fn override_verdict(
    st: &AppState,
    c: &Caller,
    id: &str,
    requirement: &str,
    verdict: &str,
    reason: &str,
) -> ActionResult<Override> {
    let u = require(c, DECIDERS, Need::Manage)?.clone();
    let s = submission_for(st, c, id, Need::Manage).await?;
    check_on(st, c, Op::Override, &s).await?;
    let run = latest_done(st, id).await?;
    let oid = st
        .store
        .add_override(id, &run.id, requirement, verdict, reason, &u.id)
        .await?;
    log(
        st,
        &u,
        "verdict.override",
        &oid,
        &format!("{requirement} -> {verdict}: {}", reason.trim()),
    )
    .await?;
    st.store
        .overrides(&run.id)
        .await?
        .into_iter()
        .find(|o| o.id == oid)
        .ok_or(WebError::NotFound("override"))
}

/// A reviewer's decision on the latest finished run: approve, reject or changes.
pub async fn decide(
    st: &AppState,
    c: &Caller,
    id: &str,
    decision: &str,
    comment: &str,
) -> ActionResult<ReviewDecision> {
    let u = require(c, DECIDERS, Need::Manage)?.clone();
    let s = submission_for(st, c, id, Need::Manage).await?;
    check_on(st, c, Op::Decide, &s).await?;
    let run = latest_done(st, id).await?;
    if decision == "approve" {
        let report = crate::certs::reviewed_report(&st.store, &run.id).await?;
        if report.summary.decision != pc_certify::Decision::Certifiable {
            return Err(WebError::Conflict(format!(
                "cannot approve: mandatory requirements not PASS: {}",
                report.summary.blocking.join(", ")
            )));
        }
    }
    st.store
        .add_review(id, &run.id, &u.id, decision, comment)
        .await?;
    log(st, &u, "submission.decide", id, decision).await?;
    st.store
        .reviews_of(id)
        .await?
        .into_iter()
        .next()
        .ok_or(WebError::NotFound("review"))
}

/// Issues the certificate of an approved submission.
pub async fn issue_certificate(
    st: &AppState,
    c: &Caller,
    id: &str,
) -> ActionResult<CertificateRecord> {
    let u = require(c, DECIDERS, Need::Manage)?.clone();
    let s = submission_for(st, c, id, Need::Manage).await?;
    check_on(st, c, Op::Issue, &s).await?;
    let cert = crate::certs::issue(&st.store, &st.key, &st.config.issue, id, &u).await?;
    log(st, &u, "certificate.issue", &cert.number, id).await?;
    Ok(cert)
}

/// Revokes a certificate with a reason.
pub async fn revoke(
    st: &AppState,
    c: &Caller,
    number: &str,
    reason: &str,
) -> ActionResult<CertificateRecord> {
    let u = require(c, DECIDERS, Need::Manage)?.clone();
    // The store's update revokes only an issued certificate (checking the reason first), so
    // two requests at once cannot both revoke; when it did not, the rules say why.
    if !st.store.revoke_certificate(number, reason).await? {
        let current = st
            .store
            .certificate(number)
            .await?
            .ok_or(WebError::NotFound("certificate"))?;
        let state = current.state.to_string();
        allowed::check(c, Op::Revoke, &Subject::Certificate(&state))?;
        return Err(WebError::Conflict(format!("the certificate is {state}")));
    }
    log(st, &u, "certificate.revoke", number, reason.trim()).await?;
    st.store
        .certificate(number)
        .await?
        .ok_or(WebError::NotFound("certificate"))
}

/// A certificate as the public sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicCertificateView {
    /// Registry facts.
    #[serde(flatten)]
    pub record: CertificateRecord,
    /// The signed content.
    pub payload: Option<pc_certify::CertificatePayload>,
}

/// A certificate by number (public).
pub async fn public_certificate(
    st: &AppState,
    number: &str,
) -> ActionResult<PublicCertificateView> {
    if number.len() > 64 {
        return Err(WebError::NotFound("certificate"));
    }
    let record = st
        .store
        .certificate(number)
        .await?
        .ok_or(WebError::NotFound("certificate"))?;
    // Checked at its own expiry time, so the page also shows the content of expired ones.
    let at = pc_base::time::parse_utc(&record.not_after).unwrap_or(0);
    let payload = pc_certify::verify(&record.jws, &st.key.public, at).ok();
    Ok(PublicCertificateView { record, payload })
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The public registry: by exact manufacturer / model, or by a search text.
pub async fn public_search(
    st: &AppState,
    manufacturer: Option<&str>,
    model: Option<&str>,
    q: Option<&str>,
) -> ActionResult<Vec<PublicCertificate>> {
    let long = |s: Option<&str>| s.is_some_and(|s| s.len() > crate::store::MAX_NAME_LEN);
    if long(manufacturer) || long(model) || long(q) {
        return Err(WebError::Bad("search text too long".into()));
    }
    Ok(match nonempty(q) {
        Some(q) => st.store.search_certificates(q).await?,
        None => {
            st.store
                .list_public_certificates(nonempty(manufacturer), nonempty(model))
                .await?
        }
    })
}

/// Verifies a pasted certificate (public).
pub async fn verify(st: &AppState, text: &str) -> ActionResult<Verification> {
    if text.len() > pc_certify::cert::MAX_CERT_BYTES {
        return Err(WebError::TooLarge(
            "a certificate is at most 256 KiB".into(),
        ));
    }
    Ok(crate::certs::verify_certificate(&st.store, &st.key, text, unix_now()).await?)
}

/// The audit log (admin): a page of entries after `after`, and the state of the hash chain.
pub async fn audit_log(
    st: &AppState,
    c: &Caller,
    after: i64,
) -> ActionResult<(Vec<AuditEntry>, AuditCheck)> {
    require(c, &[Role::Admin], Need::Manage)?;
    Ok((
        st.store.audit_entries(after, 500).await?,
        st.store.verify_audit_chain().await?,
    ))
}
