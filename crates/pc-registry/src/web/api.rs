//! The JSON API under `/api/v1`, described by `openapi.json` (served at
//! `/api/v1/openapi.json`). Every page action has its endpoint here.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, ReadBuf};

use super::actions as act;
use super::{AppState, Caller, SESSION_COOKIE, WebError};

/// The OpenAPI 3.1 description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// An error as JSON: `{"error": "…"}` with the matching status.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0.status(), Json(json!({ "error": self.0.message() }))).into_response();
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

async fn healthz(State(st): State<AppState>) -> Response {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

/// The session cookie: HttpOnly (no script reads it), SameSite=Strict (not sent on
/// cross-site requests), Secure unless configured off.
pub(crate) fn session_cookie(value: &str, secure: bool, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

async fn login(
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

async fn logout(State(st): State<AppState>, Extension(c): Extension<Caller>) -> ApiResult {
    act::logout(&st, &c).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = session_cookie("", st.config.secure_cookies, 0).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

async fn me(Extension(c): Extension<Caller>) -> ApiResult {
    let u = act::user(&c, act::Need::Identity)?;
    let (auth, scope) = match &c.auth {
        super::Auth::Token { scope } => ("token", Some(scope.as_str())),
        _ => ("session", None),
    };
    ok(json!({ "user": u, "csrf_token": c.csrf(), "auth": auth, "scope": scope }))
}

#[derive(Deserialize)]
struct TokenBody {
    label: String,
    /// `ci` (the default), `read` or `full`.
    #[serde(default)]
    scope: Option<String>,
}

async fn list_tokens(State(st): State<AppState>, Extension(c): Extension<Caller>) -> ApiResult {
    ok(act::list_tokens(&st, &c).await?)
}

async fn create_token(
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

async fn revoke_token(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    act::revoke_token(&st, &c, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_users(State(st): State<AppState>, Extension(c): Extension<Caller>) -> ApiResult {
    ok(act::list_users(&st, &c).await?)
}

#[derive(Deserialize)]
struct UserBody {
    email: String,
    password: String,
    role: String,
    manufacturer: Option<String>,
}

async fn create_user(
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

async fn list_manufacturers(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    ok(act::list_manufacturers(&st, &c).await?)
}

#[derive(Deserialize)]
struct NameBody {
    name: String,
}

async fn create_manufacturer(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<NameBody>,
) -> ApiResult {
    created(act::create_manufacturer(&st, &c, &b.name).await?)
}

async fn list_submissions(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    ok(act::list_submissions(&st, &c).await?)
}

#[derive(Deserialize)]
struct SubmissionBody {
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

async fn get_submission(
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

async fn upload(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, name)): Path<(String, String)>,
    body: Body,
) -> ApiResult {
    let reader = StreamRead::new(body.into_data_stream());
    created(act::upload(&st, &c, &id, &name, reader).await?)
}

async fn start_run(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    Ok((
        StatusCode::ACCEPTED,
        Json(act::start_run(&st, &c, &id).await?),
    )
        .into_response())
}

#[derive(Deserialize)]
struct OverrideBody {
    requirement: String,
    verdict: String,
    reason: String,
}

async fn override_verdict(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<OverrideBody>,
) -> ApiResult {
    created(act::override_verdict(&st, &c, &id, &b.requirement, &b.verdict, &b.reason).await?)
}

#[derive(Deserialize)]
struct DecisionBody {
    decision: String,
    #[serde(default)]
    comment: String,
}

async fn decide(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Json(b): Json<DecisionBody>,
) -> ApiResult {
    created(act::decide(&st, &c, &id, &b.decision, &b.comment).await?)
}

async fn issue(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    created(act::issue_certificate(&st, &c, &id).await?)
}

async fn get_run(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let (_, view) = act::get_run(&st, &c, &id).await?;
    ok(view)
}

async fn run_file(
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

#[derive(Deserialize)]
struct ReasonBody {
    reason: String,
}

async fn revoke(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(number): Path<String>,
    Json(b): Json<ReasonBody>,
) -> ApiResult {
    ok(act::revoke(&st, &c, &number, &b.reason).await?)
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
}

async fn audit_log(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<AuditQuery>,
) -> ApiResult {
    let (entries, chain) = act::audit_log(&st, &c, q.after).await?;
    ok(json!({ "entries": entries, "chain": chain }))
}

#[derive(Deserialize)]
struct SearchQuery {
    manufacturer: Option<String>,
    model: Option<String>,
    q: Option<String>,
}

async fn public_certificates(
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

async fn public_certificate(State(st): State<AppState>, Path(number): Path<String>) -> ApiResult {
    ok(act::public_certificate(&st, &number).await?)
}

#[derive(Deserialize)]
struct VerifyBody {
    certificate: String,
}

async fn verify(State(st): State<AppState>, body: Bytes) -> ApiResult {
    // Accepts {"certificate": "…"} or the certificate file itself as the body.
    let text = String::from_utf8_lossy(&body);
    let cert = serde_json::from_str::<VerifyBody>(&text)
        .map(|b| b.certificate)
        .unwrap_or_else(|_| text.into_owned());
    ok(act::verify(&st, &cert).await?)
}

async fn lab_key(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        st.key.public_pem.clone(),
    )
        .into_response()
}
