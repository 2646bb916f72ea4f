//! Where a browser session's CSRF token is read from: the `X-CSRF-Token` header (the JSON API,
//! scripts), or, for the pages' HTML forms only, the form's `csrf` field — in an urlencoded body,
//! or as the first part of a multipart body. Never the query string: URLs end up in logs,
//! browser history and `Referer` headers, and a token there leaks.
//!
//! A multipart form (an upload of gigabytes) is not read to find its token: the token must be
//! its first part (the pages put the hidden field first, and browsers send fields in document
//! order), read through the first part only, then the bytes read are put back in front of the
//! body so the handler sees it whole.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use futures_util::StreamExt;

use super::WebError;

/// Largest urlencoded form body read to find its CSRF token.
const MAX_FORM_BYTES: usize = 1 << 20;
/// Most bytes of a multipart body read to find its first part, the CSRF field (plus the rest
/// of the chunk that passes it).
const MAX_MULTIPART_PREFIX: usize = 64 << 10;
/// The form field (and first multipart part) that carries the token.
pub const FIELD: &str = "csrf";
/// The header that carries the token.
pub const HEADER: &str = "x-csrf-token";

fn content_type(req: &Request) -> &str {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The token a state-changing request carries, and the request to pass on (its body read and
/// put back when the token was in it). `form_allowed`: the pages' forms may carry it in their
/// body; the API only in the header.
pub async fn given_token(
    req: Request,
    form_allowed: bool,
) -> Result<(Request, Option<String>), WebError> {
    if let Some(h) = req.headers().get(HEADER) {
        let t = h.to_str().ok().map(str::to_owned);
        return Ok((req, t));
    }
    if !form_allowed {
        return Ok((req, None));
    }
    let ct = content_type(&req).to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| WebError::TooLarge("form too large".into()))?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.into_owned());
        return Ok((Request::from_parts(parts, Body::from(bytes)), token));
    }
    if ct.starts_with("multipart/form-data") {
        let Ok(boundary) = multer::parse_boundary(content_type(&req)) else {
            return Ok((req, None));
        };
        return Ok(first_part_token(req, boundary).await);
    }
    Ok((req, None))
}

/// The value of the multipart body's first part if that part is the `csrf` field.
async fn first_part_token(req: Request, boundary: String) -> (Request, Option<String>) {
    let (parts, body) = req.into_parts();
    let mut data = body.into_data_stream();
    let mut seen: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    let token = {
        // Hands the body's chunks to the parser while keeping them, up to the bound.
        let recorder = futures_util::stream::poll_fn(|cx| {
            data.poll_next_unpin(cx).map(|item| {
                item.map(|r| {
                    // No further chunk once the bound is passed; the one that passed it is
                    // kept (a body sent whole arrives as one chunk, the field at its start).
                    if total >= MAX_MULTIPART_PREFIX {
                        return Err(std::io::Error::other(
                            "the form's first part (its CSRF field) is too long",
                        ));
                    }
                    let b = r.map_err(|e| std::io::Error::other(e.to_string()))?;
                    total = total.saturating_add(b.len());
                    seen.push(b.clone());
                    Ok(b)
                })
            })
        });
        let mut form = multer::Multipart::new(recorder, boundary);
        match form.next_field().await {
            Ok(Some(f)) if f.name() == Some(FIELD) => f.text().await.ok(),
            _ => None,
        }
    };
    let replay = futures_util::stream::iter(seen.into_iter().map(Ok::<_, axum::Error>));
    (
        Request::from_parts(parts, Body::from_stream(replay.chain(data))),
        token,
    )
}
