//! Operational endpoints: liveness, readiness, metrics, the shared JWKS, the dev outbox.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::Api;
use crate::openapi::schemas::{ErrorEnvelope, JwkSet, OutboxMessage};
use crate::state::AppState;

pub fn router() -> Api {
    Api::default()
        .get("/health", health)
        .get("/ready", ready)
        .get("/metrics", metrics)
        .get("/.well-known/jwks.json", jwks)
        .get("/t/{tenant}/.well-known/jwks.json", tenant_jwks)
        .get("/dev/outbox", dev_outbox)
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, description = "Always `{\"status\": \"ok\"}`", body = StatusBody)))]
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
#[utoipa::path(get, path = "/ready", tag = "ops", responses((status = 200, description = "`{\"status\": \"ready\"}`", body = StatusBody),
    (status = 503, description = "Database unreachable: `{\"status\": \"unavailable\"}`", body = StatusBody)))]
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.core.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" }))).into_response()
        }
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(
        state.core.hasher.queue_depth(),
        state.core.hasher.hashes_computed(),
        &state.core.sign_stats.snapshot(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Every tenant's public signing keys (active and retiring); kids are unique across tenants.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "ops", responses((status = 200, description = "A JWK set (RFC 7517)", body = JwkSet)))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    jwk_set(state.core.jwks(None).await)
}

/// One tenant's public signing keys (active and retiring).
#[utoipa::path(get, path = "/t/{tenant}/.well-known/jwks.json", tag = "ops",
    params(("tenant" = String, Path, description = "Tenant slug or id")),
    responses((status = 200, description = "A JWK set (RFC 7517)", body = JwkSet),
        (status = 404, description = "No such tenant: `tenant_not_found`", body = ErrorEnvelope)))]
pub async fn tenant_jwks(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    match state.core.find_tenant(&tenant).await {
        Ok(t) => jwk_set(state.core.jwks(Some(&t)).await),
        Err(_) => {
            (StatusCode::NOT_FOUND, Json(json!({ "error": { "code": "tenant_not_found", "message": "tenant not found" } })))
                .into_response()
        }
    }
}

/// Relying parties may cache the set for five minutes; a rotated key signs at once, so a
/// verifier that meets an unknown `kid` must fetch the set again (standard libraries do).
fn jwk_set(result: castellan_core::CoreResult<std::sync::Arc<String>>) -> Response {
    match result {
        Ok(doc) => (
            [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=300")],
            doc.as_str().to_owned(),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "jwks");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": { "code": "internal_error", "message": "internal error" } })),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct OutboxQuery {
    /// Only messages to this address or number.
    to: Option<String>,
}

/// `{"status": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct StatusBody {
    /// `ok`, `ready` or `unavailable`.
    status: String,
}

/// Development mode only: the messages kept in the development outbox.
#[utoipa::path(get, path = "/dev/outbox", tag = "ops", params(OutboxQuery),
    responses((status = 200, description = "The newest 50 messages, newest first", body = Vec<OutboxMessage>),
        (status = 404, description = "Not in development mode: `not_found`", body = ErrorEnvelope)))]
pub async fn dev_outbox(State(state): State<AppState>, Query(q): Query<OutboxQuery>) -> Response {
    if !state.settings.dev {
        return (StatusCode::NOT_FOUND, Json(json!({ "error": { "code": "not_found", "message": "development mode only" } })))
            .into_response();
    }
    match state.core.dev_outbox(q.to.as_deref(), 50).await {
        Ok(list) => Json(json!(list
            .into_iter()
            .map(|m| json!({ "id": m.id, "channel": m.channel, "to": m.recipient, "subject": m.subject, "body": m.body, "created_at": m.created_at }))
            .collect::<Vec<_>>()))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dev outbox");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "internal_error" }))).into_response()
        }
    }
}
