//! Verifying a certificate in the browser (pasted or uploaded), and the lab's public key.

use axum::extract::{Extension, Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::layout::{csrf_field, page};
use super::{PageResult, render};
use crate::certs::Verification;
use crate::web::actions as act;
use crate::web::{AppState, Caller, WebError};

fn verify_page(c: &Caller, result: Option<&Verification>) -> Markup {
    let body = html! {
        h1 { "Verify a certificate" }
        @if let Some(v) = result {
            section {
                p { "Result: " strong #verify-status class=(v.status) { (v.status) } }
                p #verify-message { (v.message) }
                @if let Some(p) = &v.payload {
                    p {
                        (p.device.manufacturer) " " (p.device.model) " — serial " code { (p.serial) }
                        ", issued " (p.issued) " by " (p.lab) ", valid until " (p.not_after)
                    }
                }
            }
        }
        section {
            form method="post" enctype="multipart/form-data" action="/registry/verify" {
                (csrf_field(c))
                label { "Paste certificate.json " textarea #certificate name="certificate" rows="10" {} }
                label { "or upload it " input #certificate-file type="file" name="file"; }
                button #verify { "Verify" }
            }
        }
        p.muted {
            "Verification checks the lab's signature, the validity dates and the registry's record "
            "(revoked or superseded certificates are not valid). Offline: "
            code { "phonecert verify certificate.json --key lab.pub" }
            " with " a href="/lab.pub" { "the lab's public key" } "."
        }
    };
    page("Verify a certificate", c, None, body)
}

pub(super) async fn form(Extension(c): Extension<Caller>) -> PageResult {
    render(verify_page(&c, None))
}

/// The first non-empty part of the form (pasted text or an uploaded file), at most a
/// certificate's size.
async fn certificate_text(mut mp: Multipart) -> Result<String, WebError> {
    let mut text = String::new();
    let max = pc_certify::cert::MAX_CERT_BYTES;
    let malformed =
        |e: axum::extract::multipart::MultipartError| WebError::Bad(format!("form malformed: {e}"));
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        let mut buf = Vec::new();
        while let Some(ch) = field.chunk().await.map_err(malformed)? {
            if buf.len() + ch.len() > max {
                return Err(WebError::TooLarge(
                    "a certificate is at most 256 KiB".into(),
                ));
            }
            buf.extend_from_slice(&ch);
        }
        let part = String::from_utf8_lossy(&buf);
        if !part.trim().is_empty() && text.trim().is_empty() {
            text = part.into_owned();
        }
    }
    if text.trim().is_empty() {
        return Err(WebError::Bad("paste or upload a certificate".into()));
    }
    Ok(text)
}

pub(super) async fn verify(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    mp: Multipart,
) -> PageResult {
    let text = certificate_text(mp).await?;
    let v = act::verify(&st, &text).await?;
    let status = if v.valid {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Html(verify_page(&c, Some(&v)).into_string())).into_response())
}

pub(super) async fn lab_pub(State(st): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lab.pub\"",
            ),
        ],
        st.key.public_pem.clone(),
    )
        .into_response()
}
