//! The web application: server-rendered pages ([`pages`]) and the JSON API ([`api`]), both thin
//! over the same actions ([`actions`]), which is where authorization is decided. Middleware
//! checks the `Host` ([`origin`]), identifies the caller (session cookie or scoped API token;
//! tokens are for the API only), enforces CSRF tokens ([`csrf`]) and the origin on
//! state-changing requests of browser sessions, and sets security headers on every response.
//! Connections are accepted and bounded by [`conn`].

pub mod actions;
pub mod api;
pub mod conn;
pub mod csrf;
pub mod origin;
pub mod pages;
pub mod ui;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Scope;
use crate::bundle::BundleLimits;
use crate::certs::{IssueSettings, LabKey};
use crate::{RegistryError, Store, User};
use origin::{HostPolicy, Origin};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "phonecert_session";

/// Settings of the web application.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark the session cookie `Secure` (off only for plain-HTTP test setups off localhost).
    pub secure_cookies: bool,
    /// Certificate issuing.
    pub issue: IssueSettings,
    /// Archive checks for uploads.
    pub bundle: BundleLimits,
    /// Which `Host` headers (and so which origins) are the service's.
    pub host: HostPolicy,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for WebConfig {
    /// Answers loopback names on port 8080 only, like `phonecert serve`'s default listener.
    fn default() -> Self {
        WebConfig {
            secure_cookies: true,
            issue: IssueSettings {
                lab: "phonecert test lab".into(),
                validity_days: 365,
            },
            bundle: BundleLimits::default(),
            host: HostPolicy::Loopback { port: 8080 },
            trusted_proxies: Vec::new(),
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
    /// An API token (`Authorization: Bearer pct_…`): not ambient, so no CSRF token needed;
    /// limited to its scope and to the API.
    Token {
        /// What the token may do.
        scope: Scope,
    },
}

/// Who is calling, put into every request by the authentication middleware.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account, if any.
    pub user: Option<User>,
    /// How.
    pub auth: Auth,
    /// The client's address (for login throttling and the audit log): the peer, or the
    /// client a trusted proxy forwarded for; `local` for in-process requests.
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
    /// Refused for a stated reason (CSRF, cross-origin, a token's scope).
    Denied(String),
    /// No such thing (or not visible to the caller).
    NotFound(&'static str),
    /// Bad input.
    Bad(String),
    /// Not possible in the current state.
    Conflict(String),
    /// An upload refused by its checks.
    Rejected(String),
    /// Too many failed logins: seconds to wait.
    TooMany(i64),
    /// Too large.
    TooLarge(String),
    /// A request for a name that is not this service's (`Host`).
    Misdirected(String),
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
            WebError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::Misdirected(_) => StatusCode::MISDIRECTED_REQUEST,
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
            | WebError::TooLarge(m)
            | WebError::Misdirected(m) => m.clone(),
            WebError::TooMany(secs) => format!(
                "too many failed logins from your address: wait {secs} s before trying again"
            ),
            WebError::Internal => "internal error (the server log has the details)".into(),
        }
    }

    /// Seconds a client should wait before trying again (`Retry-After`), if any.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            WebError::TooMany(secs) => Some(*secs),
            _ => None,
        }
    }
}

impl From<RegistryError> for WebError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Invalid { .. } | RegistryError::UnknownManufacturer(_) => {
                WebError::Bad(e.to_string())
            }
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

/// Origin (or Referer) must be this service's, scheme, host and port, for state-changing
/// requests of browsers: a second line of defence besides CSRF tokens and SameSite cookies.
fn same_origin(headers: &HeaderMap, expected: &Origin) -> bool {
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .map(|o| o.to_str().unwrap_or(""));
    // Neither header: not a browser's cross-site request (those carry Origin). An opaque
    // origin ("null"), a malformed one or another origin is refused.
    match origin {
        None => true,
        Some(o) => Origin::of_url(o).as_ref() == Some(expected),
    }
}

fn error_for(req_path: &str, e: WebError) -> Response {
    if req_path.starts_with("/api/") {
        api::ApiError(e).into_response()
    } else {
        pages::PageError(e).into_response()
    }
}

/// The origin this request is for, from its `Host` (or an absolute request target), if the
/// service answers that name; the error to answer otherwise.
fn request_origin(st: &AppState, req: &Request) -> Result<Origin, WebError> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    let Some(host) = host else {
        return Err(WebError::Bad("the request has no Host header".into()));
    };
    st.config.host.origin_for_host(&host).ok_or_else(|| {
        let shown: String = host.chars().take(100).collect();
        WebError::Misdirected(format!(
            "this service answers as {}, not as {shown:?} (set --public-url to the name clients use)",
            st.config.host.describe()
        ))
    })
}

async fn authenticate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| {
            let forwarded = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok());
            origin::client_address(c.0.ip(), forwarded, &st.config.trusted_proxies).to_string()
        })
        .unwrap_or_else(|| "local".into());
    let path = req.uri().path().to_owned();
    // Health checks come by address from load balancers, and tell nothing.
    let expected = if path == "/healthz" {
        None
    } else {
        match request_origin(&st, &req) {
            Ok(o) => Some(o),
            Err(e) => return error_for(&path, e),
        }
    };
    let is_api = path.starts_with("/api/") || path == "/healthz";
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let cookie = cookie_value(headers, SESSION_COOKIE).map(str::to_owned);
    let mut caller = Caller {
        user: None,
        auth: Auth::Anonymous,
        client,
    };
    if let Some(token) = bearer {
        match st.store.token_user(&token).await {
            Ok(Some(_)) if !is_api => {
                return error_for(
                    &path,
                    WebError::Denied(
                        "API tokens are for the API (/api/v1/…); the pages need a browser login"
                            .into(),
                    ),
                );
            }
            Ok(Some((u, scope))) => {
                caller.user = Some(u);
                caller.auth = Auth::Token { scope };
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
    let is_token = matches!(caller.auth, Auth::Token { .. });
    if unsafe_method
        && !is_token
        && let Some(expected) = &expected
        && !same_origin(req.headers(), expected)
    {
        return error_for(
            &path,
            WebError::Denied("cross-origin request refused".into()),
        );
    }
    let mut req = req;
    if unsafe_method && let Auth::Session { csrf, .. } = &caller.auth {
        let (passed, given) = match csrf::given_token(req, !path.starts_with("/api/")).await {
            Ok(v) => v,
            Err(e) => return error_for(&path, e),
        };
        req = passed;
        if !given.is_some_and(|g| crate::auth::constant_time_eq(&g, csrf)) {
            return error_for(
                &path,
                WebError::Denied(
                    "CSRF token missing or wrong (it goes in the X-CSRF-Token header, or a \
                     form's csrf field): reload the page and try again"
                        .into(),
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
    /// Web settings (`web.host` is decided by [`serve`] from `listen` and `public_url`).
    pub web: WebConfig,
    /// The origin clients reach the service by; required unless listening on loopback.
    pub public_url: Option<Origin>,
    /// Connection bounds (`trusted_proxies` is taken from `web`).
    pub conn: conn::ConnLimits,
    /// Largest upload in bytes.
    pub max_upload: u64,
    /// Most bytes of uploads per submission.
    pub max_submission_total: u64,
    /// First administrator, created if the database has no account.
    pub bootstrap_admin: Option<(String, String)>,
    /// Where the workers run audits (a child process under a memory limit for `phonecert`).
    pub audit: crate::AuditExec,
}

/// Descriptors kept for everything but connections: the database pool, uploads being written,
/// audit pipelines, the listener.
const FD_RESERVE: u64 = 256;

/// The soft limit on open descriptors, from `/proc/self/limits` (Linux; `None` elsewhere or
/// when unlimited). Read, not raised: raising it takes `setrlimit`, which needs unsafe code.
fn soft_nofile_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Lowers the connection limit to what the descriptor limit leaves room for, so the limit is a
/// bound the process can keep (over it, `accept` would fail instead of answering 503).
fn fit_descriptors(mut limits: conn::ConnLimits) -> conn::ConnLimits {
    let want = (limits.max_connections as u64).saturating_add(FD_RESERVE);
    if let Some(have) = soft_nofile_limit()
        && have < want
    {
        let n = usize::try_from(have.saturating_sub(FD_RESERVE).max(16)).unwrap_or(16);
        eprintln!(
            "phonecert serve: the descriptor limit is {have}: serving at most {n} connections \
             instead of {} (raise `ulimit -n`)",
            limits.max_connections
        );
        limits.max_connections = n;
    }
    limits
}

/// Opens (creating if needed) and migrates the store, starts the workers, then serves until
/// the process ends. `/healthz` answers once the database is ready.
pub async fn serve(cfg: ServeConfig) -> Result<(), RegistryError> {
    let host = HostPolicy::for_listener(cfg.listen, cfg.public_url.clone()).ok_or(
        RegistryError::Invalid {
            field: "public URL",
            why: "listening on a non-loopback address needs --public-url, the URL clients use \
                  (requests naming other hosts are refused, against DNS rebinding)",
        },
    )?;
    let web = WebConfig {
        host,
        ..cfg.web.clone()
    };
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
    // Uploads cut off by a crash of this or another process sharing the folder go now, before
    // the service answers; files of the old naming after an hour without writes.
    let swept = store.sweep_stale_uploads(Duration::from_secs(3600)).await?;
    if swept > 0 {
        eprintln!("phonecert serve: removed {swept} cut-off upload(s)");
    }
    {
        // And again now and then: processes sharing the folder die while this one runs.
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
            worker_config(&cfg),
            crate::jobs::audit_handler(store.clone(), cfg.web.bundle.clone(), cfg.audit.clone()),
        )
    });
    let limits = fit_descriptors(conn::ConnLimits {
        trusted_proxies: web.trusted_proxies.clone(),
        ..cfg.conn.clone()
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(RegistryError::io("binding the listen address"))?;
    eprintln!(
        "phonecert serve: answering as {}; at most {} connections ({} per client), \
         {:?} for a request head, {:?} for a pause in a body",
        web.host.describe(),
        limits.max_connections,
        limits.max_per_client,
        limits.header_timeout,
        limits.body_timeout
    );
    let app = router(AppState::with(store, key, web));
    conn::serve_connections(listener, app, limits).await;
    if let Some(p) = pool {
        p.shutdown().await?;
    }
    Ok(())
}

fn worker_config(cfg: &ServeConfig) -> crate::WorkerConfig {
    crate::WorkerConfig {
        workers: cfg.workers.max(1),
        lease: cfg.lease,
        heartbeat: (cfg.lease / 4).max(Duration::from_millis(200)),
        poll: Duration::from_millis(500),
        name: worker_name(),
    }
}

/// Runs workers only (no web server), for labs that spread audits over machines sharing one
/// PostgreSQL database and artifact folder.
pub async fn work(cfg: ServeConfig) -> Result<(), RegistryError> {
    let store = Store::open(&cfg.data_dir, cfg.database_url.as_deref()).await?;
    store.migrate().await?;
    let pool = crate::WorkerPool::spawn(
        store.clone(),
        worker_config(&cfg),
        crate::jobs::audit_handler(store, cfg.web.bundle.clone(), cfg.audit.clone()),
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
