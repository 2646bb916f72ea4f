//! The forms of a submission's page: upload, start a run, override, decide, issue; and a run's
//! report files. Each is a thin adapter over its action, answered with a redirect.

use axum::Form;
use axum::extract::{Extension, Multipart, Path, State};

use super::layout::url;
use super::{PageResult, see_other, to_submission};
use crate::web::actions as act;
use crate::web::api::{DecisionBody, OverrideBody, RunQuery};
use crate::web::api::{StreamRead, report_response};
use crate::web::{AppState, Caller, WebError};

pub(super) async fn upload(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    mut mp: Multipart,
) -> PageResult {
    let mut n = 0;
    let mut links = 0u64;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(WebError::Bad(format!("upload cut off or malformed: {e}")).into()),
        };
        let Some(name) = field.file_name().map(base_name) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let art = act::upload(&st, &c, &id, &name, StreamRead::new(field)).await?;
        links = links.saturating_add(art.links_skipped);
        n += 1;
    }
    if n == 0 {
        return Err(WebError::Bad("choose at least one file to upload".into()).into());
    }
    if links > 0 {
        return see_other(&format!("/submissions/{}?links={links}", url(&id)));
    }
    to_submission(&id)
}

/// Browsers send a bare name, old ones a full client path: keep the last component.
fn base_name(s: &str) -> String {
    s.rsplit(['/', '\\']).next().unwrap_or("").to_owned()
}

pub(super) async fn start_run(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Form(f): Form<RunQuery>,
) -> PageResult {
    act::start_run(&st, &c, &id, f.catalogue.as_deref()).await?;
    to_submission(&id)
}

pub(super) async fn override_verdict(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Form(f): Form<OverrideBody>,
) -> PageResult {
    act::override_verdict(&st, &c, &id, &f.requirement, &f.verdict, &f.reason).await?;
    see_other(&format!(
        "/submissions/{}#req-{}",
        url(&id),
        url(&f.requirement)
    ))
}

pub(super) async fn decide(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    Form(f): Form<DecisionBody>,
) -> PageResult {
    act::decide(&st, &c, &id, &f.decision, &f.comment).await?;
    to_submission(&id)
}

pub(super) async fn issue(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> PageResult {
    let cert = act::issue_certificate(&st, &c, &id).await?;
    see_other(&format!("/certificates/{}", url(&cert.number)))
}

pub(super) async fn run_file(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, name)): Path<(String, String)>,
) -> PageResult {
    let (file, media) = act::run_file(&st, &c, &id, &name).await?;
    Ok(report_response(file, media))
}
