//! Operational endpoints: the front page, liveness, readiness, metrics, the shared JWKS, the dev
//! outbox.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::Api;
use crate::openapi::schemas::{ErrorEnvelope, JwkSet, OutboxMessage};
use crate::settings::Settings;
use crate::state::AppState;

/// `/metrics` is left out when it has a listen address of its own.
pub fn router(settings: &Settings) -> Api {
    let api = Api::default()
        .get("/", front_page)
        .get("/health", health)
        .get("/ready", ready)
        .get("/.well-known/jwks.json", jwks)
        .get("/t/{tenant}/.well-known/jwks.json", tenant_jwks)
        .get(REALM_CERTS, tenant_jwks)
        .get("/dev/outbox", dev_outbox);
    if settings.metrics_listen.is_some() { api } else { api.get("/metrics", metrics) }
}

/// What `/` answers a program: where to go next.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FrontPage {
    /// Always `Castellan`.
    name: &'static str,
    /// Paths of the API reference (`docs`, `openapi`), the eauthenticator console (`console`),
    /// the liveness check (`health`) and, in development mode, the outbox (`dev_outbox`).
    links: std::collections::BTreeMap<&'static str, &'static str>,
}

/// A small front page: HTML for browsers (`Accept: text/html`), JSON otherwise.
#[utoipa::path(get, path = "/", tag = "ops", summary = "Front page: links to the API reference, the console and the health check",
    responses((status = 200, description = "Links (an HTML page when the client accepts text/html)", body = FrontPage)))]
pub async fn front_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut links = std::collections::BTreeMap::from([
        ("docs", "/docs"),
        ("openapi", "/openapi.json"),
        ("console", "/console"),
        ("health", "/health"),
    ]);
    if state.settings.dev {
        links.insert("dev_outbox", "/dev/outbox");
    }
    let html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let mut response = if html {
        let items: String = [
            ("/docs", "API reference"),
            ("/console", "Application console"),
            ("/health", "Health check"),
            ("/dev/outbox", "Development outbox"),
        ]
        .iter()
        .filter(|(href, _)| links.values().any(|l| l == href))
        .map(|(href, label)| format!("<li><a href=\"{href}\">{label}</a></li>"))
        .collect();
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Castellan</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem;color:#222}}\
             li{{margin:.4rem 0}}</style></head><body><h1>Castellan</h1><p>A self-hosted identity server.</p>\
             <ul>{items}</ul></body></html>"
        );
        let mut r = Html(page).into_response();
        r.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
        );
        r
    } else {
        Json(FrontPage { name: "Castellan", links }).into_response()
    };
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
    response
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
    match state.core.ping().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %castellan_core::error::Chain(&e), "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" }))).into_response()
        }
    }
}

/// Prometheus metrics. With `metrics_token` set, only for `Authorization: Bearer <token>`.
#[utoipa::path(get, path = "/metrics", tag = "ops", summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
              (status = 401, description = "`metrics_token` is set and the request does not carry it", body = ErrorEnvelope)))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = state.settings.metrics_token.as_ref().filter(|t| !t.0.is_empty()) {
        let given = crate::dialects::bearer(&headers).unwrap_or_default();
        // Digests, so that the comparison takes as long whatever the token's length.
        let digest = castellan_core::crypto::sha256;
        if !castellan_core::crypto::ct_eq(&digest(given.as_bytes()), &digest(expected.0.as_bytes())) {
            let body = Json(json!({ "error": { "code": "unauthorized", "message": "metrics need the bearer token" } }));
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response();
        }
    }
    let body = state.metrics.render(
        state.core.hasher.queue_depth(),
        state.core.hasher.hashes_computed(),
        &state.core.sign_stats.snapshot(),
        &state.core.delivery_stats.snapshot(),
        state.core.cache_status(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Every tenant's public signing keys (active and retiring); kids are unique across tenants.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "ops", responses((status = 200, description = "A JWK set (RFC 7517)", body = JwkSet)))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    jwk_set(state.core.signing_keys().jwks(None).await)
}

/// Where Keycloak publishes a realm's keys: MOSIP's tokens and OpenID Connect's both name this
/// layout's issuer, so the route is the server's rather than either dialect's.
pub const REALM_CERTS: &str = "/realms/{tenant}/protocol/openid-connect/certs";

/// A realm's public signing keys (active and retiring), at Keycloak's path.
#[utoipa::path(get, path = "/realms/{tenant}/protocol/openid-connect/certs", tag = "ops",
    params(("tenant" = String, Path, description = "The realm (tenant slug or id)")),
    responses((status = 200, description = "A JWK set (RFC 7517)", body = JwkSet),
        (status = 404, description = "No such tenant: `tenant_not_found`", body = ErrorEnvelope)))]
#[allow(dead_code)]
async fn realm_certs() {}

/// One tenant's public signing keys (active and retiring).
#[utoipa::path(get, path = "/t/{tenant}/.well-known/jwks.json", tag = "ops",
    params(("tenant" = String, Path, description = "Tenant slug or id")),
    responses((status = 200, description = "A JWK set (RFC 7517)", body = JwkSet),
        (status = 404, description = "No such tenant: `tenant_not_found`", body = ErrorEnvelope)))]
pub async fn tenant_jwks(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    match state.core.tenants().find_tenant(&tenant).await {
        Ok(t) => jwk_set(state.core.signing_keys().jwks(Some(&t)).await),
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
            tracing::error!(error = %castellan_core::error::Chain(&e), "jwks");
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
        (status = 400, description = "invalid_request: a query that cannot be read", body = ErrorEnvelope),
        (status = 404, description = "Not in development mode: `not_found`", body = ErrorEnvelope)))]
pub async fn dev_outbox(State(state): State<AppState>, crate::admin::AQuery(q): crate::admin::AQuery<OutboxQuery>) -> Response {
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
            tracing::error!(error = %castellan_core::error::Chain(&e), "dev outbox");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "internal_error" }))).into_response()
        }
    }
}
