//! The middleware every request passes: the `Host` check, identifying the caller (session
//! cookie or API token), the origin and CSRF checks of state-changing browser requests, and the
//! security headers of every response.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::origin::{self, Origin};
use super::{AppState, Auth, Caller, SESSION_COOKIE, WebError, api, csrf, pages};
use std::net::SocketAddr;

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

pub(super) async fn authenticate(State(st): State<AppState>, req: Request, next: Next) -> Response {
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

pub(super) async fn security_headers(req: Request, next: Next) -> Response {
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
