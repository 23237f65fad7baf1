//! `GET /dev/callback-receiver` (development mode only): a backend for the walk-through. It
//! checks the result callback's signature and keeps what it got in the development outbox
//! (`castellan outbox --to callback-receiver`).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::delivery::callbacks::SIGNATURE_HEADER;
use serde_json::json;

use crate::state::AppState;

pub const PATH: &str = "/dev/callback-receiver";

/// Receives a result callback: 200 when signed with the application's callback secret, 401
/// when not (Castellan then retries, as it would with a real backend), 400 without a session
/// token of this server, 404 outside development mode.
#[utoipa::path(get, path = "/dev/callback-receiver", tag = "eauthenticator",
    params(("result" = String, Query, description = "true or false"), ("session_token" = String, Query, description = "The session token the result is about")),
    responses((status = 200, description = "Signature valid; recorded"), (status = 401, description = "Signature missing or wrong; recorded"),
              (status = 400, description = "No session token of this server"), (status = 404, description = "Not in development mode")))]
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if !state.settings.dev {
        return (StatusCode::NOT_FOUND, Json(json!({ "error": { "code": "not_found", "message": "development mode only" } })))
            .into_response();
    }
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    match state.core.receive_dev_callback(query.as_deref().unwrap_or_default(), signature).await {
        Ok(r) if r.signature_valid => Json(json!({ "received": true, "result": r.result })).into_response(),
        Ok(r) => (StatusCode::UNAUTHORIZED, Json(json!({ "received": true, "result": r.result, "error": "bad signature" })))
            .into_response(),
        Err(CoreError::InvalidToken | CoreError::NotFound) => {
            (StatusCode::BAD_REQUEST, Json(json!({ "error": "no session token of this server" }))).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "dev callback receiver");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "internal error" }))).into_response()
        }
    }
}
