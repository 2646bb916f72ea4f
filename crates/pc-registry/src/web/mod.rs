//! The web application: server-rendered pages ([`pages`]) and the JSON API ([`api`]), both thin
//! over the same actions ([`actions`]), which is where authorization is decided. Middleware
//! identifies the caller (session cookie or API token), enforces CSRF tokens on state-changing
//! requests of browser sessions, and sets security headers on every response.

pub mod actions;
pub mod api;
pub mod pages;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::bundle::BundleLimits;
use crate::certs::{IssueSettings, LabKey};
use crate::{RegistryError, Store, User};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "phonecert_session";
/// Largest urlencoded form body read to find its CSRF token.
const MAX_FORM_BYTES: usize = 1 << 20;

/// Settings of the web application.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark the session cookie `Secure` (off only for plain-HTTP test setups off localhost).
    pub secure_cookies: bool,
    /// Certificate issuing.
    pub issue: IssueSettings,
    /// Archive checks for uploads.
    pub bundle: BundleLimits,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: true,
            issue: IssueSettings {
                lab: "phonecert test lab".into(),
                validity_days: 365,
            },
            bundle: BundleLimits::default(),
        }
    }
}

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<Store>,
    /// The lab's signing key.
    pub key: Arc<LabKey>,
    /// Settings.
    pub config: Arc<WebConfig>,
}

impl AppState {
    /// State with default settings and the data folder's lab key (created if missing).
    pub fn new(store: Store) -> AppState {
        let key = LabKey::load_or_create(store.data_dir(), None)
            .or_else(|_| LabKey::new(pc_certify::keygen().0))
            .expect("an in-memory Ed25519 key can always be encoded");
        AppState::with(store, key, WebConfig::default())
    }

    /// State from its parts.
    pub fn with(store: Store, key: LabKey, config: WebConfig) -> AppState {
        AppState {
            store: Arc::new(store),
            key: Arc::new(key),
            config: Arc::new(config),
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Nobody: the public.
    Anonymous,
    /// A browser session; state-changing requests must carry its CSRF token.
    Session {
        /// Cookie value (to log out).
        cookie: String,
        /// The session's CSRF token.
        csrf: String,
    },
    /// An API token (`Authorization: Bearer pct_…`): not ambient, so no CSRF token needed.
    Token,
}

/// Who is calling, put into every request by the authentication middleware.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account, if any.
    pub user: Option<User>,
    /// How.
    pub auth: Auth,
    /// The client's address (for login rate limiting).
    pub client: String,
}

impl Caller {
    /// The session's CSRF token, for forms.
    pub fn csrf(&self) -> &str {
        match &self.auth {
            Auth::Session { csrf, .. } => csrf,
            _ => "",
        }
    }
}

/// Errors of actions, rendered as JSON by the API and as pages by the web application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebError {
    /// Not logged in.
    Unauthenticated,
    /// Logged in, but not allowed.
    Forbidden,
    /// Refused for a stated reason (CSRF, cross-origin).
    Denied(String),
    /// No such thing (or not visible to the caller).
    NotFound(&'static str),
    /// Bad input.
    Bad(String),
    /// Not possible in the current state.
    Conflict(String),
    /// An upload refused by its checks.
    Rejected(String),
    /// Too large.
    TooLarge(String),
    /// Too many failed logins.
    TooMany,
    /// Our fault; details are logged, not shown.
    Internal,
}

impl WebError {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::Forbidden | WebError::Denied(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Bad(_) => StatusCode::BAD_REQUEST,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::TooMany => StatusCode::TOO_MANY_REQUESTS,
            WebError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message shown.
    pub fn message(&self) -> String {
        match self {
            WebError::Unauthenticated => "log in first".into(),
            WebError::Forbidden => "your account is not allowed to do this".into(),
            WebError::NotFound(what) => format!("{what} not found"),
            WebError::Bad(m)
            | WebError::Denied(m)
            | WebError::Conflict(m)
            | WebError::Rejected(m)
            | WebError::TooLarge(m) => m.clone(),
            WebError::TooMany => {
                "too many failed logins: wait 15 minutes before trying again".into()
            }
            WebError::Internal => "internal error (the server log has the details)".into(),
        }
    }
}

impl From<RegistryError> for WebError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Invalid { .. } => WebError::Bad(e.to_string()),
            RegistryError::TooLarge { .. } | RegistryError::SubmissionFull { .. } => {
                WebError::TooLarge(e.to_string())
            }
            RegistryError::Upload { ref source, .. } if source.is_client_error() => {
                WebError::Rejected(e.to_string())
            }
            RegistryError::BodyRead(_) => WebError::Bad(e.to_string()),
            RegistryError::Refused(m) => WebError::Conflict(m),
            RegistryError::NotFound(w) => WebError::NotFound(w),
            ref db if db.is_unique_violation() => {
                WebError::Conflict("it exists already (same name)".into())
            }
            other => {
                eprintln!("phonecert serve: error: {other}");
                WebError::Internal
            }
        }
    }
}

/// The application's routes, with authentication, CSRF and security headers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn query_param(uri: &axum::http::Uri, name: &str) -> Option<String> {
    uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    })
}

/// Origin (or Referer) must be this server's for state-changing requests: a second line of
/// defence besides CSRF tokens and SameSite cookies.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return true;
    };
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|o| o.to_str().ok());
    // Neither header: not a browser's cross-site request (those carry Origin). An opaque
    // origin ("null") or another host is refused.
    let Some(o) = origin else { return true };
    let rest = o
        .strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))
        .unwrap_or("");
    rest.split('/').next() == Some(host)
}

fn error_for(req_path: &str, e: WebError) -> Response {
    if req_path.starts_with("/api/") {
        api::ApiError(e).into_response()
    } else {
        pages::PageError(e).into_response()
    }
}

async fn authenticate(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".into());
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let cookie = cookie_value(headers, SESSION_COOKIE).map(str::to_owned);
    let path = req.uri().path().to_owned();
    let mut caller = Caller {
        user: None,
        auth: Auth::Anonymous,
        client,
    };
    if let Some(token) = bearer {
        match st.store.token_user(&token).await {
            Ok(Some(u)) => {
                caller.user = Some(u);
                caller.auth = Auth::Token;
            }
            Ok(None) => return error_for(&path, WebError::Unauthenticated),
            Err(e) => return error_for(&path, e.into()),
        }
    } else if let Some(cookie) = cookie {
        match st.store.session(&cookie).await {
            Ok(Some(s)) => {
                caller.user = Some(s.user);
                caller.auth = Auth::Session {
                    cookie,
                    csrf: s.csrf,
                };
            }
            // A stale cookie is the same as none.
            Ok(None) => {}
            Err(e) => return error_for(&path, e.into()),
        }
    }
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && caller.auth != Auth::Token && !same_origin(req.headers()) {
        return error_for(
            &path,
            WebError::Denied("cross-origin request refused".into()),
        );
    }
    if unsafe_method && let Auth::Session { csrf, .. } = &caller.auth {
        let mut given = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| query_param(req.uri(), "csrf"));
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if given.is_none() && is_form {
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
                Ok(b) => b,
                Err(_) => return error_for(&path, WebError::TooLarge("form too large".into())),
            };
            given = form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.into_owned());
            req = Request::from_parts(parts, Body::from(bytes));
        }
        if !given.is_some_and(|g| crate::auth::constant_time_eq(&g, csrf)) {
            return error_for(
                &path,
                WebError::Denied(
                    "CSRF token missing or wrong: reload the page and try again".into(),
                ),
            );
        }
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        if !h.contains_key(k) {
            h.insert(k, HeaderValue::from_static(v));
        }
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    set(h, "cache-control", "no-store");
    resp
}

/// Everything `phonecert serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data folder (SQLite database when embedded, artifacts, lab key).
    pub data_dir: PathBuf,
    /// PostgreSQL URL instead of the embedded database.
    pub database_url: Option<String>,
    /// Workers running audits in this process (0: web only).
    pub workers: usize,
    /// Job lease: a crashed worker's run is taken up again after this.
    pub lease: Duration,
    /// Lab key file instead of `DATA_DIR/lab.key`.
    pub signing_key: Option<PathBuf>,
    /// Web settings.
    pub web: WebConfig,
    /// Largest upload in bytes.
    pub max_upload: u64,
    /// Most bytes of uploads per submission.
    pub max_submission_total: u64,
    /// First administrator, created if the database has no account.
    pub bootstrap_admin: Option<(String, String)>,
}

/// Opens (creating if needed) and migrates the store, starts the workers, then serves until
/// the process ends. `/healthz` answers once the database is ready.
pub async fn serve(cfg: ServeConfig) -> Result<(), RegistryError> {
    let store = Store::open(&cfg.data_dir, cfg.database_url.as_deref())
        .await?
        .with_limits(crate::ArtifactLimits {
            max_size: cfg.max_upload,
            max_submission_total: cfg.max_submission_total,
        });
    store.migrate().await?;
    if let Some((email, password)) = &cfg.bootstrap_admin
        && store.bootstrap_admin(email, password).await?
    {
        eprintln!("phonecert serve: created the first administrator {email}");
    }
    // Uploads cut off by an earlier crash leave temporary files; live ones are younger.
    store.sweep_stale_uploads(Duration::from_secs(3600)).await?;
    {
        // And again now and then: a long-running server outlives many cut-off uploads.
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(600)).await;
                if let Err(e) = store.sweep_stale_uploads(Duration::from_secs(3600)).await {
                    eprintln!("phonecert serve: sweeping cut-off uploads: {e}");
                }
            }
        });
    }
    let key = LabKey::load_or_create(&cfg.data_dir, cfg.signing_key.as_deref())?;
    eprintln!("phonecert serve: lab key {}", key.key_id);
    let pool = (cfg.workers > 0).then(|| {
        crate::WorkerPool::spawn(
            store.clone(),
            crate::WorkerConfig {
                workers: cfg.workers,
                lease: cfg.lease,
                heartbeat: (cfg.lease / 4).max(Duration::from_millis(200)),
                poll: Duration::from_millis(500),
                name: worker_name(),
            },
            crate::jobs::audit_handler(store.clone(), cfg.web.bundle.clone()),
        )
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(RegistryError::io("binding the listen address"))?;
    let app = router(AppState::with(store, key, cfg.web.clone()));
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(RegistryError::io("serving HTTP"));
    if let Some(p) = pool {
        p.shutdown().await?;
    }
    served
}

/// Runs workers only (no web server), for labs that spread audits over machines sharing one
/// PostgreSQL database and artifact folder.
pub async fn work(cfg: ServeConfig) -> Result<(), RegistryError> {
    let store = Store::open(&cfg.data_dir, cfg.database_url.as_deref()).await?;
    store.migrate().await?;
    let pool = crate::WorkerPool::spawn(
        store.clone(),
        crate::WorkerConfig {
            workers: cfg.workers.max(1),
            lease: cfg.lease,
            heartbeat: (cfg.lease / 4).max(Duration::from_millis(200)),
            poll: Duration::from_millis(500),
            name: worker_name(),
        },
        crate::jobs::audit_handler(store, cfg.web.bundle.clone()),
    );
    // Runs until killed; a killed worker's runs are taken up again after their lease.
    std::future::pending::<()>().await;
    pool.shutdown().await
}

/// Host and process id: who holds a lease, visible in the runs table.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}
