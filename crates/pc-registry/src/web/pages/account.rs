//! The caller's account: who they are and their API tokens.

use axum::Form;
use axum::extract::{Extension, Path, State};
use maud::html;
use serde::Deserialize;

use super::layout::{page, post_form, table, when};
use super::{PageResult, render, see_other};
use crate::web::actions as act;
use crate::web::{AppState, Caller, WebError};

async fn account_page(st: &AppState, c: &Caller, new_token: Option<&str>) -> PageResult {
    let u = act::user(c, act::Need::Read)?;
    let tokens = act::list_tokens(st, c).await?;
    let rows = tokens
        .iter()
        .map(|t| {
            html! { tr {
                td { (t.label) } td { (t.scope.as_str()) } td { (when(t.created_at)) }
                td { (if t.revoked_at.is_some() { "revoked" } else { "active" }) }
                td {
                    @if t.revoked_at.is_none() {
                        (post_form(c, &format!("/account/tokens/{}/revoke", t.id), html! { button { "Revoke" } }))
                    }
                }
            } }
        })
        .collect();
    let body = html! {
        h1 { "Your account" }
        p { (u.email) " — role " strong { (u.role.as_str()) } }
        @if let Some(t) = new_token {
            p.notice {
                "New API token (shown once, store it now): " code #new-token { (t) } br;
                "Use it as " code { "Authorization: Bearer …" } " with the API ("
                a href="/api/v1/openapi.json" { "OpenAPI" } ")."
            }
        }
        section {
            h2 { "API tokens" }
            (table("tokens", &["Label", "Scope", "Created", "State", ""], rows, None))
            (post_form(c, "/account/tokens", html! {
                label { "Label " input #token-label name="label" required placeholder="CI pre-checks"; }
                label { "Scope " select #token-scope name="scope" {
                    option value="ci" selected { "ci: upload, start and follow runs" }
                    option value="read" { "read: submissions, runs, reports" }
                    option value="full" { "full: all your role allows" }
                } }
                button #create-token { "Create token" }
            }))
        }
    };
    render(page("Account", c, None, body))
}

pub(super) async fn show(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> PageResult {
    account_page(&st, &c, None).await
}

#[derive(Deserialize)]
pub(super) struct LabelForm {
    label: String,
    /// `ci` (the default), `read` or `full`.
    #[serde(default)]
    scope: Option<String>,
}

pub(super) async fn create_token(
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

pub(super) async fn revoke_token(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    act::revoke_token(&st, &c, &id).await?;
    see_other("/account")
}
