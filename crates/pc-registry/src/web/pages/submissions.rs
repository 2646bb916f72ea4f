//! The dashboard: the submissions the caller may see, and the form that creates one.

use axum::Form;
use axum::extract::{Extension, State};
use maud::html;

use super::layout::{csrf_field, page, table, when};
use super::{PageResult, render, to_submission};
use crate::Role;
use crate::web::actions as act;
use crate::web::allowed::{self, Op, Subject};
use crate::web::api::SubmissionBody;
use crate::web::{AppState, Caller};

pub(super) async fn dashboard(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
) -> PageResult {
    let subs = act::list_submissions(&st, &c).await?;
    let u = act::user(&c, act::Need::Read)?;
    let can_create = allowed::allowed(&c, &Subject::Lab).has(Op::CreateSubmission);
    // A manufacturer's account submits for its own company: no choice to offer.
    let makers = if can_create && u.role != Role::Manufacturer {
        Some(act::list_manufacturers(&st, &c).await?)
    } else {
        None
    };
    let rows = subs
        .iter()
        .map(|s| {
            html! { tr {
                td { (s.manufacturer) }
                td { a href={ "/submissions/" (s.id) } { (s.model) } }
                td { (s.firmware) }
                td { (s.state) }
                td { (when(s.created_at)) }
            } }
        })
        .collect();
    let body = html! {
        h1 { "Submissions" }
        @if can_create {
            section {
                h2 { "New submission" }
                form method="post" action="/submissions" {
                    (csrf_field(&c))
                    @if let Some(ms) = &makers {
                        label { "Manufacturer " select #manufacturer name="manufacturer" {
                            @for m in ms { option { (m.name) } }
                        } }
                    }
                    label { "Device model " input #model name="model" required; }
                    label { "Firmware version " input #firmware name="firmware" required; }
                    label { "Build fingerprint (optional) " input #fingerprint name="fingerprint" size="80"; }
                    button #create-submission { "Create submission" }
                }
            }
        }
        (table("submissions", &["Manufacturer", "Model", "Firmware", "State", "Created"], rows, Some("No submissions yet.")))
    };
    render(page("Submissions", &c, None, body))
}

pub(super) async fn create(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Form(f): Form<SubmissionBody>,
) -> PageResult {
    let s = act::create_submission(
        &st,
        &c,
        &f.manufacturer,
        &f.model,
        &f.firmware,
        &f.fingerprint,
    )
    .await?;
    to_submission(&s.id)
}
