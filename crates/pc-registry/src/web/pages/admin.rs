//! Administration: accounts, manufacturers and the audit log.

use axum::Form;
use axum::extract::{Extension, Query, State};
use maud::html;
use serde::Deserialize;

use super::layout::{page, post_form, table, when};
use super::{PageResult, render, see_other};
use crate::Role;
use crate::web::actions as act;
use crate::web::api::NameBody;
use crate::web::{AppState, Caller};

const ROLES: [&str; 5] = ["engineer", "reviewer", "manufacturer", "admin", "public"];

pub(super) async fn show(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> PageResult {
    let users = act::list_users(&st, &c).await?;
    let ms = act::list_manufacturers(&st, &c).await?;
    let rows = users
        .iter()
        .map(|u| {
            html! { tr {
                td { (u.user.email) } td { (u.user.role.as_str()) }
                td { (u.manufacturer.as_deref().unwrap_or("")) }
                td { (if u.disabled { "disabled" } else { "active" }) }
            } }
        })
        .collect();
    let body = html! {
        h1 { "Administration" }
        section {
            h2 { "Accounts" }
            (table("users", &["E-mail", "Role", "Manufacturer", "State"], rows, None))
            (post_form(&c, "/admin/users", html! {
                label { "E-mail " input #new-email name="email" type="email" required; }
                label { "Password (12 characters or more) " input #new-password name="password" type="password" minlength="12" required; }
                label { "Role " select #new-role name="role" { @for r in ROLES { option value=(r) { (r) } } } }
                label { "Manufacturer (for manufacturer accounts) " select name="manufacturer" {
                    option value="" {}
                    @for m in &ms { option value=(m.name) { (m.name) } }
                } }
                button #create-user { "Create account" }
            }))
        }
        section {
            h2 { "Manufacturers" }
            ul #manufacturers { @for m in &ms { li { (m.name) } } }
            (post_form(&c, "/admin/manufacturers", html! {
                label { "Name " input #new-manufacturer name="name" required; }
                button #create-manufacturer { "Add manufacturer" }
            }))
        }
        p { a href="/admin/audit" { "Audit log" } }
    };
    render(page("Administration", &c, None, body))
}

#[derive(Deserialize)]
pub(super) struct UserForm {
    email: String,
    password: String,
    role: String,
    #[serde(default)]
    manufacturer: String,
}

pub(super) async fn create_user(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<UserForm>,
) -> PageResult {
    let m = Some(f.manufacturer.as_str()).filter(|m| !m.trim().is_empty());
    act::create_user(&st, &c, &f.email, &f.password, &f.role, m).await?;
    see_other("/admin")
}

pub(super) async fn create_manufacturer(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<NameBody>,
) -> PageResult {
    act::create_manufacturer(&st, &c, &f.name).await?;
    // Engineers add manufacturers from the dashboard's needs but have no admin page.
    let to = match c.user.as_ref().map(|u| u.role) {
        Some(Role::Admin) => "/admin",
        _ => "/dashboard",
    };
    see_other(to)
}

#[derive(Deserialize)]
pub(super) struct AfterQuery {
    #[serde(default)]
    after: i64,
}

pub(super) async fn audit(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<AfterQuery>,
) -> PageResult {
    let (entries, chain) = act::audit_log(&st, &c, q.after).await?;
    let rows = entries
        .iter()
        .map(|e| {
            html! { tr {
                td { (e.seq) } td { (when(e.at)) } td { (e.actor) } td { (e.action) }
                td { (e.object) } td { (e.detail) }
            } }
        })
        .collect();
    let body = html! {
        h1 { "Audit log" }
        @match chain {
            crate::AuditCheck::Intact { entries } => p.notice { "Hash chain intact over " (entries) " entries." },
            crate::AuditCheck::Broken { at_seq } => p.error {
                "Hash chain broken at entry " (at_seq) ": the log was altered outside the application."
            },
        }
        (table("audit", &["#", "When", "Who", "What", "On", "Detail"], rows, None))
        @if let Some(last) = entries.last() {
            p { a href={ "/admin/audit?after=" (last.seq) } { "Next page" } }
        }
    };
    render(page("Audit log", &c, None, body))
}
