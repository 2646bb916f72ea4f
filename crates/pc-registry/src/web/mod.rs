//! The web application: server-rendered pages ([`pages`]) and the JSON API ([`api`]), both thin
//! over the same actions ([`actions`]), which is where authorization is decided. Middleware
//! checks the `Host` ([`origin`]), identifies the caller (session cookie or scoped API token;
//! tokens are for the API only), enforces CSRF tokens ([`csrf`]) and the origin on
//! state-changing requests of browser sessions, and sets security headers on every response.
//! Connections are accepted and bounded by [`conn`]; [`server`] starts the service and its
//! workers.

pub mod actions;
pub mod allowed;
pub mod api;
pub mod conn;
pub mod csrf;
mod middleware;
pub mod openapi;
pub mod origin;
pub mod pages;
mod server;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;

use crate::auth::Scope;
use crate::bundle::BundleLimits;
use crate::certs::{IssueSettings, LabKey};
use crate::{RegistryError, Store, User};
use origin::HostPolicy;
pub use server::{ServeConfig, serve, work};

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
            middleware::authenticate,
        ))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .with_state(state)
}
