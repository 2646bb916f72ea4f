//! The web application. For now: the health check and the public certificate register.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::store::MAX_NAME_LEN;
use crate::{RegistryError, Store};

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<Store>,
}

impl AppState {
    /// Wraps a store.
    pub fn new(store: Store) -> AppState {
        AppState {
            store: Arc::new(store),
        }
    }
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/public/certificates", get(public_certificates))
        .with_state(state)
}

async fn healthz(State(st): State<AppState>) -> Response {
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct CertQuery {
    manufacturer: Option<String>,
    model: Option<String>,
}

/// Empty filter values mean "no filter", as an HTML form sends them.
fn filter(v: Option<&String>) -> Result<Option<&str>, StatusCode> {
    match v.map(String::as_str) {
        None | Some("") => Ok(None),
        Some(s) if s.len() > MAX_NAME_LEN => Err(StatusCode::BAD_REQUEST),
        Some(s) => Ok(Some(s)),
    }
}

async fn public_certificates(State(st): State<AppState>, Query(q): Query<CertQuery>) -> Response {
    let (manufacturer, model) = match (filter(q.manufacturer.as_ref()), filter(q.model.as_ref())) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return (StatusCode::BAD_REQUEST, "filter too long").into_response(),
    };
    match st.store.list_public_certificates(manufacturer, model).await {
        Ok(list) => Json(list).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    }
}

/// Opens (creating if needed) and migrates the store, then serves until the process ends.
/// `database_url` `None` uses embedded SQLite under `data_dir`.
pub async fn serve(
    listen: SocketAddr,
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<(), RegistryError> {
    let store = Store::open(data_dir, database_url).await?;
    store.migrate().await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(RegistryError::io("binding the listen address"))?;
    axum::serve(listener, router(AppState::new(store)))
        .await
        .map_err(RegistryError::io("serving HTTP"))
}
