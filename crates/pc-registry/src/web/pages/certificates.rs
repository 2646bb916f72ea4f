//! The public side of certificates: a certificate's page (with the revoke form for those who
//! may), its signed file, and the registry of certified models.

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use maud::html;
use serde::Deserialize;

use super::layout::{page, post_form, table, url, when};
use super::{PageResult, render, see_other};
use crate::web::actions as act;
use crate::web::allowed::{self, Op, Subject};
use crate::web::api::ReasonBody;
use crate::web::{AppState, Caller};

pub(super) async fn show(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(number): Path<String>,
) -> PageResult {
    let v = act::public_certificate(&st, &number).await?;
    let r = &v.record;
    let state = r.state.to_string();
    let mut rows: Vec<(&str, String)> = vec![
        ("Manufacturer", r.manufacturer.clone()),
        ("Model", r.model.clone()),
        ("Firmware", r.firmware.clone()),
        ("Issued", when(r.issued_at)),
        ("Valid until", r.not_after.clone()),
    ];
    if let Some(p) = &v.payload {
        rows.push(("Issued by", p.lab.clone()));
        rows.push(("Serial", p.serial.clone()));
        rows.push((
            "Build fingerprint",
            p.device.build_fingerprint.clone().unwrap_or_default(),
        ));
        rows.push((
            "Firmware digest",
            format!("{} ({} apps)", p.firmware_digest, p.firmware_apps),
        ));
        rows.push((
            "Requirements",
            format!("{} {}", p.catalogue.id, p.catalogue.version),
        ));
        let verdicts: Vec<String> = p
            .verdicts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        rows.push(("Verdicts", verdicts.join(", ")));
        if !p.reviews.is_empty() {
            let set: Vec<String> = p
                .reviews
                .iter()
                .map(|r| {
                    format!(
                        "{}: automatic {}, final {} ({}, {}: {})",
                        r.requirement, r.automatic, r.verdict, r.reviewer, r.date, r.reason
                    )
                })
                .collect();
            rows.push(("Set by reviewers", set.join("; ")));
        } else if !p.reviewed.is_empty() {
            rows.push(("Set by reviewers", p.reviewed.join(", ")));
        }
    }
    if let Some(s) = &r.superseded_by {
        rows.push(("Superseded by", s.clone()));
    }
    let can_revoke = allowed::allowed(&c, &Subject::Certificate(&state)).has(Op::Revoke);
    let number = url(&r.number);
    let body = html! {
        h1 { "Certificate " (r.number) }
        p {
            "State: " strong #cert-state class=(state) { (state) }
            @if let Some(x) = &r.reason { " — " (x) }
        }
        table #certificate { @for (k, v) in &rows { tr { th { (k) } td { (v) } } } }
        section {
            h2 { "Verify it yourself" }
            p {
                "This certificate is signed (Ed25519, JWS). Anyone can check it offline with the lab's public key, "
                a href="/lab.pub" { "lab.pub" } " (key id " code { (st.key.key_id) } "):"
            }
            pre { "phonecert verify certificate.json --key lab.pub" }
            p {
                a #download href={ "/certificates/" (number) "/certificate.json" } { "Download certificate.json" }
                " · or paste it into " a href="/registry/verify" { "the verification page" } "."
            }
            details { summary { "The signed certificate" } pre #jws { (r.jws) } }
        }
        @if can_revoke {
            section.noprint {
                h2 { "Revoke" }
                (post_form(&c, &format!("/certificates/{number}/revoke"), html! {
                    label { "Reason " input #revoke-reason name="reason" size="60" required; }
                    button #revoke { "Revoke" }
                }))
            }
        }
    };
    render(page(&format!("Certificate {}", r.number), &c, None, body))
}

pub(super) async fn json(State(st): State<AppState>, Path(number): Path<String>) -> PageResult {
    let v = act::public_certificate(&st, &number).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"certificate.json\"",
            ),
        ],
        v.record.jws,
    )
        .into_response())
}

pub(super) async fn revoke(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(number): Path<String>,
    Form(f): Form<ReasonBody>,
) -> PageResult {
    act::revoke(&st, &c, &number, &f.reason).await?;
    see_other(&format!("/certificates/{}", url(&number)))
}

#[derive(Deserialize)]
pub(super) struct RegistryQuery {
    q: Option<String>,
}

pub(super) async fn registry(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<RegistryQuery>,
) -> PageResult {
    let text = q.q.unwrap_or_default();
    let search = Some(text.as_str()).filter(|t| !t.trim().is_empty());
    let list = act::public_search(&st, None, None, search).await?;
    let rows = list
        .iter()
        .map(|r| {
            html! { tr {
                td { (r.manufacturer) } td { (r.model) } td { (r.firmware) }
                td { a href={ "/certificates/" (url(&r.number)) } { (r.number) } }
                td class=(r.state) { (r.state) }
                td { (when(r.issued_at)) }
            } }
        })
        .collect();
    let heads = [
        "Manufacturer",
        "Model",
        "Firmware",
        "Certificate",
        "State",
        "Issued",
    ];
    let body = html! {
        h1 { "Certified models" }
        form method="get" action="/registry" {
            label { "Manufacturer or model " input #q name="q" value=(text); }
            button #search { "Search" }
        }
        (table("registry", &heads, rows, Some("No certificate matches.")))
    };
    render(page("Certified models", &c, None, body))
}
