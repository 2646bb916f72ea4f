//! Server-rendered pages, one file per screen. Forms post back and are answered with a redirect
//! (303), so the application works without JavaScript; a page with a run under way refreshes
//! itself. Which forms a page shows is what [`super::allowed`] permits the caller, the same rules
//! the actions authorise the posts with.

mod account;
mod admin;
mod certificates;
pub mod layout;
mod login;
mod submission;
mod submission_posts;
mod submissions;
mod verify;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::{AppState, Auth, Caller, WebError};
use crate::Role;
use layout::{page, url};

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
        let body = html! {
            h1 { (self.0.status().as_u16()) }
            p.error #error { (self.0.message()) }
            p { a href="/" { "Home" } }
        };
        (
            self.0.status(),
            Html(page("Error", &anon, None, body).into_string()),
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

/// A rendered page, 200.
fn render(m: Markup) -> PageResult {
    Ok(Html(m.into_string()).into_response())
}

fn see_other(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

/// Back to a submission's page.
fn to_submission(id: &str) -> PageResult {
    see_other(&format!("/submissions/{}", url(id)))
}

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/dashboard", get(submissions::dashboard))
        .route("/submissions", post(submissions::create))
        .route("/submissions/{id}", get(submission::show))
        .route(
            "/submissions/{id}/files",
            post(submission_posts::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/submissions/{id}/runs", post(submission_posts::start_run))
        .route(
            "/submissions/{id}/overrides",
            post(submission_posts::override_verdict),
        )
        .route("/submissions/{id}/decision", post(submission_posts::decide))
        .route(
            "/submissions/{id}/certificate",
            post(submission_posts::issue),
        )
        .route("/runs/{id}/files/{name}", get(submission_posts::run_file))
        .route("/certificates/{number}", get(certificates::show))
        .route(
            "/certificates/{number}/certificate.json",
            get(certificates::json),
        )
        .route("/certificates/{number}/revoke", post(certificates::revoke))
        .route("/registry", get(certificates::registry))
        .route("/registry/verify", get(verify::form).post(verify::verify))
        .route("/lab.pub", get(verify::lab_pub))
        .route("/account", get(account::show))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/admin", get(admin::show))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/manufacturers", post(admin::create_manufacturer))
        .route("/admin/audit", get(admin::audit))
}

async fn home(Extension(c): Extension<Caller>) -> PageResult {
    match &c.user {
        Some(u) if u.role != Role::Public => see_other("/dashboard"),
        _ => see_other("/registry"),
    }
}
