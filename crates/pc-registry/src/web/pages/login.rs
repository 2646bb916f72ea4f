//! Logging in and out.

use axum::Form;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect};
use maud::{Markup, html};

use super::layout::page;
use super::{PageResult, render};
use crate::Role;
use crate::web::actions as act;
use crate::web::api::LoginBody;
use crate::web::api::session_cookie;
use crate::web::{AppState, Caller, WebError};

fn login_page(c: &Caller, error: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.error #error { (e) } }
        section {
            form method="post" action="/login" {
                label { "E-mail " input #email name="email" type="email" autocomplete="username" required; }
                label { "Password " input #password name="password" type="password" autocomplete="current-password" required; }
                button #login { "Log in" }
            }
        }
        p.muted { "The public registry and certificate verification need no account." }
    };
    page("Log in", c, None, body)
}

pub(super) async fn form(Extension(c): Extension<Caller>) -> PageResult {
    render(login_page(&c, None))
}

/// A redirect that also sets (or, with an empty value, clears) the session cookie.
fn with_cookie(st: &AppState, to: &str, value: &str, max_age: i64) -> axum::response::Response {
    let mut r = Redirect::to(to).into_response();
    if let Ok(v) = session_cookie(value, st.config.secure_cookies, max_age).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub(super) async fn login(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<LoginBody>,
) -> PageResult {
    match act::login(&st, &c.client, &f.email, &f.password).await {
        Ok((u, cookie, _)) => {
            let to = if u.role == Role::Public {
                "/registry"
            } else {
                "/dashboard"
            };
            Ok(with_cookie(&st, to, &cookie, crate::auth::SESSION_TTL_SECS))
        }
        Err(e @ (WebError::Bad(_) | WebError::TooMany(_))) => Ok((
            e.status(),
            Html(login_page(&c, Some(&e.message())).into_string()),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn logout(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> PageResult {
    act::logout(&st, &c).await?;
    Ok(with_cookie(&st, "/registry", "", 0))
}
