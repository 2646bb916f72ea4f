//! The JSON API under `/api/v1`. Every page action has its endpoint here. Each handler carries
//! its `#[utoipa::path]` (route, parameters, body type, answers, `x-roles`), from which
//! [`super::openapi`] generates the document served at `/api/v1/openapi.json`.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncRead, ReadBuf};
use utoipa::{IntoParams, ToSchema};

use super::actions as act;
use super::openapi::{FileBody, StoredArtifactDoc};
use super::{AppState, Caller, SESSION_COOKIE, WebError};

/// An error as JSON: `{"error": "…"}` with the matching status.
#[derive(Debug)]
pub struct ApiError(pub WebError);

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, for people.
    error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.0.message(),
        };
        let mut r = (self.0.status(), Json(body)).into_response();
        if let Some(secs) = self.0.retry_after() {
            r.headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        if self.0 == WebError::Unauthenticated {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"phonecert\""),
            );
        }
        r
    }
}

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError(e)
    }
}

impl From<crate::RegistryError> for ApiError {
    fn from(e: crate::RegistryError) -> Self {
        ApiError(e.into())
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok<T: serde::Serialize>(v: T) -> ApiResult {
    Ok(Json(v).into_response())
}

fn created<T: serde::Serialize>(v: T) -> ApiResult {
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// The API's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/session", post(login).delete(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route(
            "/api/v1/manufacturers",
            get(list_manufacturers).post(create_manufacturer),
        )
        .route(
            "/api/v1/submissions",
            get(list_submissions).post(create_submission),
        )
        .route("/api/v1/submissions/{id}", get(get_submission))
        .route(
            "/api/v1/submissions/{id}/files/{name}",
            put(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/submissions/{id}/runs", post(start_run))
        .route("/api/v1/submissions/{id}/overrides", post(override_verdict))
        .route("/api/v1/submissions/{id}/decision", post(decide))
        .route("/api/v1/submissions/{id}/certificate", post(issue))
        .route("/api/v1/runs/{id}", get(get_run))
        .route("/api/v1/runs/{id}/files/{name}", get(run_file))
        .route("/api/v1/certificates/{number}/revoke", post(revoke))
        .route("/api/v1/audit-log", get(audit_log))
        .route("/api/v1/public/certificates", get(public_certificates))
        .route(
            "/api/v1/public/certificates/{number}",
            get(public_certificate),
        )
        .route("/api/v1/public/verify", post(verify))
        .route("/api/v1/public/lab-key", get(lab_key))
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    summary = "Ready when the database answers",
    responses((status = 200, description = "success")),
    security(()),
    extensions(("x-roles" = json!(["anyone"]))),
)]
pub(super) async fn healthz(State(st): State<AppState>) -> Response {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    summary = "This document",
    responses((status = 200, description = "success")),
    security(()),
    extensions(("x-roles" = json!(["anyone"]))),
)]
pub(super) async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::document(),
    )
        .into_response()
}

/// Also the pages' forms' fields, where a page posts the same thing.
#[derive(Deserialize, ToSchema)]
pub(super) struct LoginBody {
    pub(super) email: String,
    pub(super) password: String,
}

/// The session cookie: HttpOnly (no script reads it), SameSite=Strict (not sent on
/// cross-site requests), Secure unless configured off.
pub(crate) fn session_cookie(value: &str, secure: bool, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "accounts",
    summary = "Log in: sets the session cookie, returns the CSRF token",
    request_body = LoginBody,
    responses((status = 200, description = "success"), (status = 429, description = "too many failed logins from this address (for this account or overall): wait Retry-After seconds", body = ErrorBody)),
    security(()),
    extensions(("x-roles" = json!(["anyone"]))),
)]
pub(super) async fn login(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<LoginBody>,
) -> ApiResult {
    let (u, cookie, csrf) = act::login(&st, &c.client, &b.email, &b.password).await?;
    let mut r = Json(json!({ "user": u, "csrf_token": csrf })).into_response();
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

#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "accounts",
    summary = "Log out (without a session, nothing to end: allowed all the same)",
    responses((status = 204, description = "success")),
    extensions(("x-roles" = json!(["anyone"]))),
)]
pub(super) async fn logout(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    act::logout(&st, &c).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = session_cookie("", st.config.secure_cookies, 0).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "accounts",
    summary = "The caller's account and CSRF token",
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["any account"]))),
)]
pub(super) async fn me(Extension(c): Extension<Caller>) -> ApiResult {
    let u = act::user(&c, act::Need::Identity)?;
    let (auth, scope) = match &c.auth {
        super::Auth::Token { scope } => ("token", Some(scope.as_str())),
        _ => ("session", None),
    };
    ok(json!({ "user": u, "csrf_token": c.csrf(), "auth": auth, "scope": scope }))
}

/// A token's scope as the API names it (parsed into [`crate::auth::Scope`], whose errors the
/// answer carries).
#[derive(ToSchema)]
#[schema(default = "ci")]
#[allow(dead_code)]
enum ScopeName {
    #[schema(rename = "ci")]
    Ci,
    #[schema(rename = "read")]
    Read,
    #[schema(rename = "full")]
    Full,
}

#[derive(Deserialize, ToSchema)]
pub(super) struct TokenBody {
    label: String,
    /// `ci` (the default), `read` or `full`.
    #[serde(default)]
    #[schema(value_type = Option<ScopeName>)]
    scope: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "accounts",
    summary = "The caller's API tokens (from a logged-in session only)",
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["any account"]))),
)]
pub(super) async fn list_tokens(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    ok(act::list_tokens(&st, &c).await?)
}

#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "accounts",
    summary = "Create an API token (the secret is shown once); from a logged-in session only, never with a token",
    request_body = TokenBody,
    responses((status = 201, description = "success")),
    extensions(("x-roles" = json!(["any account"]))),
)]
pub(super) async fn create_token(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<TokenBody>,
) -> ApiResult {
    let scope = match b.scope.as_deref() {
        None => crate::auth::Scope::Ci,
        Some(s) => s.parse()?,
    };
    let (id, token) = act::create_token(&st, &c, &b.label, scope).await?;
    created(json!({ "id": id, "token": token, "scope": scope }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "accounts",
    summary = "Revoke one of the caller's tokens",
    params(("id" = String, Path, description = "token id")),
    responses((status = 204, description = "success")),
    extensions(("x-roles" = json!(["any account"]))),
)]
pub(super) async fn revoke_token(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    act::revoke_token(&st, &c, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "accounts",
    summary = "Every account",
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["admin"]))),
)]
pub(super) async fn list_users(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    ok(act::list_users(&st, &c).await?)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct UserBody {
    email: String,
    password: String,
    role: String,
    manufacturer: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "accounts",
    summary = "Create an account",
    request_body = UserBody,
    responses((status = 201, description = "success")),
    extensions(("x-roles" = json!(["admin"]))),
)]
pub(super) async fn create_user(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<UserBody>,
) -> ApiResult {
    created(
        act::create_user(
            &st,
            &c,
            &b.email,
            &b.password,
            &b.role,
            b.manufacturer.as_deref(),
        )
        .await?,
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/manufacturers",
    tag = "registry",
    summary = "Manufacturers (a manufacturer account sees its own)",
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["admin", "engineer", "reviewer", "manufacturer (own)"]))),
)]
pub(super) async fn list_manufacturers(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    ok(act::list_manufacturers(&st, &c).await?)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct NameBody {
    pub(super) name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/manufacturers",
    tag = "registry",
    summary = "Add a manufacturer",
    request_body = NameBody,
    responses((status = 201, description = "success")),
    extensions(("x-roles" = json!(["admin", "engineer"]))),
)]
pub(super) async fn create_manufacturer(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<NameBody>,
) -> ApiResult {
    created(act::create_manufacturer(&st, &c, &b.name).await?)
}

#[utoipa::path(
    get,
    path = "/api/v1/submissions",
    tag = "registry",
    summary = "Submissions the caller may see",
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["admin", "engineer", "reviewer", "manufacturer (own)"]))),
)]
pub(super) async fn list_submissions(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    ok(act::list_submissions(&st, &c).await?)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct SubmissionBody {
    #[serde(default)]
    pub(super) manufacturer: String,
    pub(super) model: String,
    pub(super) firmware: String,
    #[serde(default)]
    pub(super) fingerprint: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/submissions",
    tag = "registry",
    summary = "Create a submission (a manufacturer account: for its own company)",
    request_body = SubmissionBody,
    responses((status = 201, description = "success")),
    extensions(("x-roles" = json!(["admin", "engineer", "manufacturer (own)"]))),
)]
pub(super) async fn create_submission(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<SubmissionBody>,
) -> ApiResult {
    created(
        act::create_submission(
            &st,
            &c,
            &b.manufacturer,
            &b.model,
            &b.firmware,
            &b.fingerprint,
        )
        .await?,
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/submissions/{id}",
    tag = "registry",
    summary = "A submission: files, runs, latest verdicts, overrides, reviews, certificates",
    params(("id" = String, Path, description = "submission id")),
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["admin", "engineer", "reviewer", "manufacturer (own)"]))),
)]
pub(super) async fn get_submission(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    ok(act::get_submission(&st, &c, &id).await?)
}

/// Reads a stream of byte chunks (a request body, a multipart field) as an `AsyncRead`, so
/// uploads go to disk chunk by chunk and are never held in memory.
pub struct StreamRead<S> {
    stream: S,
    buf: Bytes,
}

impl<S> StreamRead<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        StreamRead {
            stream,
            buf: Bytes::new(),
        }
    }
}

impl<S, E> AsyncRead for StreamRead<S>
where
    S: futures_core::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.buf.is_empty() {
                let n = out.remaining().min(this.buf.len());
                out.put_slice(&this.buf.split_to(n));
                return Poll::Ready(Ok(()));
            }
            match Pin::new(&mut this.stream).poll_next(cx) {
                Poll::Ready(Some(Ok(b))) => this.buf = b,
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(std::io::Error::other(e.to_string())));
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[utoipa::path(
    put,
    path = "/api/v1/submissions/{id}/files/{name}",
    tag = "registry",
    summary = "Upload a file (streamed; type checked against name and content; archives checked for bombs and escaping paths, their links recorded but never extracted; stored by SHA-256)",
    params(("id" = String, Path, description = "submission id"), ("name" = String, Path, description = "file name within the submission")),
    request_body(content = FileBody, content_type = "application/octet-stream"),
    responses((status = 201, description = "stored", body = StoredArtifactDoc), (status = 413, description = "larger than the upload limit, or than the room left in the submission's quota", body = ErrorBody), (status = 422, description = "refused by the checks: name and content disagree, archive bomb, escaping path, special file …", body = ErrorBody)),
    extensions(("x-roles" = json!(["admin", "engineer", "manufacturer (own)"]))),
)]
pub(super) async fn upload(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, name)): Path<(String, String)>,
    body: Body,
) -> ApiResult {
    let reader = StreamRead::new(body.into_data_stream());
    created(act::upload(&st, &c, &id, &name, reader).await?)
}

#[utoipa::path(
    post,
    path = "/api/v1/submissions/{id}/runs",
    tag = "registry",
    summary = "Queue an audit run",
    params(
        ("id" = String, Path, description = "submission id"),
        RunQuery,
    ),
    responses((status = 202, description = "success")),
    extensions(("x-roles" = json!(["admin", "engineer", "manufacturer (own)"]))),
)]
pub(super) async fn start_run(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
) -> ApiResult {
    Ok((
        StatusCode::ACCEPTED,
        Json(act::start_run(&st, &c, &id, q.catalogue.as_deref()).await?),
    )
        .into_response())
}

/// Which catalogue a run audits against (the query of `POST .../runs`, the field of the page's
/// form).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RunQuery {
    /// An embedded catalogue: phonecert-baseline (default), en-18031-2, taics-ts-0029,
    /// cn-preload.
    pub(super) catalogue: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub(super) struct OverrideBody {
    pub(super) requirement: String,
    pub(super) verdict: String,
    pub(super) reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/submissions/{id}/overrides",
    tag = "registry",
    summary = "Override a requirement's verdict of the latest finished run, with a reason",
    params(("id" = String, Path, description = "submission id")),
    request_body = OverrideBody,
    responses((status = 201, description = "success")),
    extensions(("x-roles" = json!(["admin", "reviewer"]))),
)]
pub(super) async fn override_verdict(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<OverrideBody>,
) -> ApiResult {
    created(act::override_verdict(&st, &c, &id, &b.requirement, &b.verdict, &b.reason).await?)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct DecisionBody {
    pub(super) decision: String,
    #[serde(default)]
    pub(super) comment: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/submissions/{id}/decision",
    tag = "registry",
    summary = "Record a decision on the latest finished run: approve, changes, reject",
    params(("id" = String, Path, description = "submission id")),
    request_body = DecisionBody,
    responses((status = 201, description = "success")),
    extensions(("x-roles" = json!(["admin", "reviewer"]))),
)]
pub(super) async fn decide(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<DecisionBody>,
) -> ApiResult {
    created(act::decide(&st, &c, &id, &b.decision, &b.comment).await?)
}

#[utoipa::path(
    post,
    path = "/api/v1/submissions/{id}/certificate",
    tag = "registry",
    summary = "Issue the certificate of an approved, certifiable submission",
    params(("id" = String, Path, description = "submission id")),
    responses((status = 201, description = "success")),
    extensions(("x-roles" = json!(["admin", "reviewer"]))),
)]
pub(super) async fn issue(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    created(act::issue_certificate(&st, &c, &id).await?)
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "registry",
    summary = "A run: state, progress, results",
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["admin", "engineer", "reviewer", "manufacturer (own)"]))),
)]
pub(super) async fn get_run(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let (_, view) = act::get_run(&st, &c, &id).await?;
    ok(view)
}

#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/files/{name}",
    tag = "registry",
    summary = "A run's report.json, report.html or report.sarif",
    params(("id" = String, Path, description = "run id"), ("name" = String, Path, description = "report.json, report.html or report.sarif")),
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["admin", "engineer", "reviewer", "manufacturer (own)"]))),
)]
pub(super) async fn run_file(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult {
    let (file, media) = act::run_file(&st, &c, &id, &name).await?;
    Ok(report_response(file, media))
}

/// A stored report, streamed from its file. Reports are self-contained pages, shown
/// sandboxed (no scripts, no requests) so a hostile string that slipped into one could do
/// nothing.
pub(crate) fn report_response(file: tokio::fs::File, media: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, media),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
            ),
        ],
        file_body(file),
    )
        .into_response()
}

/// A body read from a file in chunks; a read error ends the body (the client sees it cut).
fn file_body(file: tokio::fs::File) -> Body {
    use tokio::io::AsyncReadExt;
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(chunks)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct ReasonBody {
    pub(super) reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/certificates/{number}/revoke",
    tag = "registry",
    summary = "Revoke a certificate, with a reason",
    params(("number" = String, Path, description = "certificate number")),
    request_body = ReasonBody,
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["admin", "reviewer"]))),
)]
pub(super) async fn revoke(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(number): Path<String>,
    Json(b): Json<ReasonBody>,
) -> ApiResult {
    ok(act::revoke(&st, &c, &number, &b.reason).await?)
}

#[derive(Deserialize, IntoParams)]
pub(super) struct AuditQuery {
    #[serde(default)]
    after: i64,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit-log",
    tag = "registry",
    summary = "Audit log entries after ?after=SEQ, and the state of its hash chain",
    params(AuditQuery),
    responses((status = 200, description = "success")),
    extensions(("x-roles" = json!(["admin"]))),
)]
pub(super) async fn audit_log(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<AuditQuery>,
) -> ApiResult {
    let (entries, chain) = act::audit_log(&st, &c, q.after).await?;
    ok(json!({ "entries": entries, "chain": chain }))
}

#[derive(Deserialize, IntoParams)]
pub(super) struct SearchQuery {
    manufacturer: Option<String>,
    model: Option<String>,
    q: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/public/certificates",
    tag = "public",
    summary = "The public registry: ?manufacturer=&model= (exact) or ?q= (search)",
    params(SearchQuery),
    responses((status = 200, description = "success")),
    security(()),
    extensions(("x-roles" = json!(["anyone"]))),
)]
pub(super) async fn public_certificates(
    State(st): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> ApiResult {
    ok(act::public_search(
        &st,
        q.manufacturer.as_deref(),
        q.model.as_deref(),
        q.q.as_deref(),
    )
    .await?)
}

#[utoipa::path(
    get,
    path = "/api/v1/public/certificates/{number}",
    tag = "public",
    summary = "A certificate with its signed content",
    params(("number" = String, Path, description = "certificate number")),
    responses((status = 200, description = "success")),
    security(()),
    extensions(("x-roles" = json!(["anyone"]))),
)]
pub(super) async fn public_certificate(
    State(st): State<AppState>,
    Path(number): Path<String>,
) -> ApiResult {
    ok(act::public_certificate(&st, &number).await?)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct VerifyBody {
    certificate: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/public/verify",
    tag = "public",
    summary = "Verify a certificate: signature, dates and the registry's record",
    request_body = VerifyBody,
    responses((status = 200, description = "success")),
    security(()),
    extensions(("x-roles" = json!(["anyone"]))),
)]
pub(super) async fn verify(State(st): State<AppState>, body: Bytes) -> ApiResult {
    // Accepts {"certificate": "…"} or the certificate file itself as the body.
    let text = String::from_utf8_lossy(&body);
    let cert = serde_json::from_str::<VerifyBody>(&text)
        .map(|b| b.certificate)
        .unwrap_or_else(|_| text.into_owned());
    ok(act::verify(&st, &cert).await?)
}

#[utoipa::path(
    get,
    path = "/api/v1/public/lab-key",
    tag = "public",
    summary = "The lab's public key (SPKI PEM), for offline verification",
    responses((status = 200, description = "success")),
    security(()),
    extensions(("x-roles" = json!(["anyone"]))),
)]
pub(super) async fn lab_key(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        st.key.public_pem.clone(),
    )
        .into_response()
}
