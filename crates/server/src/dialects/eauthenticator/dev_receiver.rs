//! `GET /dev/callback-receiver` (development mode only): a backend for the walk-through. It
//! checks the result callback's signature and keeps what it got in the development outbox
//! (`castellan outbox --to callback-receiver`).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use castellan_core::delivery::callbacks::SIGNATURE_HEADER;
use serde_json::json;

use super::error::Refusal;
use crate::openapi::schemas::ErrorEnvelope;
use crate::state::AppState;

/// What the receiver made of a callback.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Received {
    received: bool,
    /// The callback's `result`: `true` or `false`.
    result: Option<String>,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

pub const PATH: &str = "/dev/callback-receiver";

/// Receives a result callback: 200 when signed with the application's callback secret, 401
/// when not (Castellan then retries, as it would with a real backend), 400 without a session
/// token of this server, 404 outside development mode.
#[utoipa::path(get, path = "/dev/callback-receiver", tag = "eauthenticator", summary = "Development callback receiver",
    params(("result" = String, Query, description = "true or false"), ("session_token" = String, Query, description = "The session token the result is about"),
           ("X-Castellan-Signature" = Option<String>, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>")),
    responses((status = 200, description = "Signature valid; recorded", body = Received),
              (status = 401, description = "bad_signature: signature missing or wrong; recorded", body = ErrorEnvelope),
              (status = 400, description = "invalid_request: no session token of this server", body = ErrorEnvelope),
              (status = 404, description = "not_found: not in development mode", body = ErrorEnvelope)))]
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if !state.settings.dev {
        return error(StatusCode::NOT_FOUND, "not_found", "development mode only");
    }
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    match state.core.receive_dev_callback(query.as_deref().unwrap_or_default(), signature).await {
        Ok(r) if r.signature_valid => Json(json!({ "received": true, "result": r.result })).into_response(),
        Ok(_) => error(StatusCode::UNAUTHORIZED, "bad_signature", "signature missing or wrong (recorded)"),
        Err(e) => match Refusal::from(e) {
            Refusal::InvalidToken | Refusal::NotFound => {
                error(StatusCode::BAD_REQUEST, "invalid_request", "no session token of this server")
            }
            r @ (Refusal::Invalid(_)
            | Refusal::WrongCredentials
            | Refusal::EmailNotVerified
            | Refusal::Locked(_)
            | Refusal::Unauthorized
            | Refusal::Forbidden
            | Refusal::Disabled
            | Refusal::Conflict(_)
            | Refusal::Unexpected(_)
            | Refusal::Unavailable(_)
            | Refusal::Internal(_)) => {
                tracing::error!(refusal = ?r, "dev callback receiver");
                error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error")
            }
        },
    }
}
