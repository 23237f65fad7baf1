//! Dynamic client registration (RFC 7591) at Keycloak's path, and the management of a registered
//! client through its registration access token (RFC 7592). The rules are the core's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use castellan_core::model::{Application, Tenant};
use castellan_core::services::provider::{OAuthError, ProviderError, client_metadata};
use serde_json::{Value, json};

use super::error::{core_error, no_store, realm_not_found};
use super::realm;
use crate::client::Ctx;
use crate::dialects::bearer;
use crate::state::AppState;

/// RFC 7591 §3.2.2 errors: 400, but 401 with a Bearer challenge for a missing or bad token and
/// 403 where registration is off.
fn registration_error(e: ProviderError, realm: &str) -> Response {
    match e {
        ProviderError::OAuth(OAuthError { error, description }) => {
            let status = match error {
                "invalid_token" => StatusCode::UNAUTHORIZED,
                "access_denied" => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            let mut r = no_store(status, json!({"error": error, "error_description": description}));
            if status == StatusCode::UNAUTHORIZED
                && let Ok(v) = HeaderValue::from_str(&format!("Bearer realm=\"{realm}\", error=\"invalid_token\""))
            {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            r
        }
        ProviderError::Core(e) => core_error(e, realm),
    }
}

/// The request's JSON; `None` for a body that is not JSON at all.
fn metadata_json(body: &Bytes) -> Option<Value> {
    serde_json::from_slice::<Value>(body).ok()
}

fn not_json() -> Response {
    no_store(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_client_metadata", "error_description": "the body must be a JSON object"}),
    )
}

/// The realm of a registration path, or the answer for a realm that is not there.
async fn realm_or_answer(state: &AppState, slug: &str) -> Result<Tenant, Box<Response>> {
    match realm(state, slug).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(Box::new(realm_not_found())),
        Err(e) => Err(Box::new(core_error(e, slug))),
    }
}

/// What a registered client's endpoints answer: its metadata and where it is managed.
fn described(state: &AppState, slug: &str, app: &Application) -> Value {
    let mut out = client_metadata(app);
    out["registration_client_uri"] = json!(format!(
        "{}/realms/{slug}/clients-registrations/openid-connect/{}",
        state.core.config.public_url.trim_end_matches('/'),
        app.client_id
    ));
    out
}

/// Registers a client (RFC 7591).
#[utoipa::path(post, path = "/realms/{tenant}/clients-registrations/openid-connect", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    description = "RFC 7591. Off unless the realm's policy has client_registration `protected` (Authorization: Bearer <initial access token>) or `open`; 10 requests a minute per address.",
    request_body(content = super::schemas::OidcClientMetadata, content_type = "application/json"),
    responses((status = 201, description = "The client, its client_secret (unless public) and registration_access_token, each shown once", body = super::schemas::OidcRegisteredClient),
        (status = 400, description = "invalid_client_metadata, invalid_redirect_uri", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "invalid_token: no, an unknown, expired or used-up initial access token", body = crate::openapi::schemas::OAuthError),
        (status = 403, description = "access_denied: registration is off for this realm", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError),
        (status = 429, description = "slow_down: too many registrations from this address", body = crate::openapi::schemas::OAuthError)))]
pub async fn register(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let tenant = match realm_or_answer(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if let Err(wait) = state.registration_limiter.check(ctx.ip) {
        let retry_after_seconds = wait;
        return core_error(castellan_core::CoreError::RateLimited { retry_after_seconds }, &slug);
    }
    let Some(metadata) = metadata_json(&body) else { return not_json() };
    match state.core.provider().register_client(&tenant, bearer(&headers), &metadata, &ctx.client).await {
        Ok(r) => {
            let mut out = described(&state, &slug, &r.app);
            out["registration_access_token"] = json!(r.registration_access_token);
            if let Some(secret) = r.client_secret {
                out["client_secret"] = json!(secret);
                out["client_secret_expires_at"] = json!(0);
            }
            no_store(StatusCode::CREATED, out)
        }
        Err(e) => registration_error(e, &slug),
    }
}

/// Reads a registered client (RFC 7592 §2.1).
#[utoipa::path(get, path = "/realms/{tenant}/clients-registrations/openid-connect/{client_id}", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)"), ("client_id" = String, Path, description = "The registered client")),
    description = "RFC 7592, with Authorization: Bearer <registration access token>. The client secret is not shown again.",
    responses((status = 200, description = "The client's metadata", body = super::schemas::OidcRegisteredClient),
        (status = 401, description = "invalid_token", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
pub async fn read(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((slug, client_id)): Path<(String, String)>,
) -> Response {
    let tenant = match realm_or_answer(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return *r,
    };
    match state.core.provider().read_registered_client(&tenant, &client_id, bearer(&headers), &ctx.client).await {
        Ok(app) => no_store(StatusCode::OK, described(&state, &slug, &app)),
        Err(e) => registration_error(e, &slug),
    }
}

/// Replaces a registered client's metadata (RFC 7592 §2.2).
#[utoipa::path(put, path = "/realms/{tenant}/clients-registrations/openid-connect/{client_id}", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)"), ("client_id" = String, Path, description = "The registered client")),
    description = "RFC 7592, with Authorization: Bearer <registration access token>. The body is the whole metadata with the client_id; lists, URIs and flags left out are cleared; token_endpoint_auth_method, grant_types and scope left out keep their values; the kind of client (public, confidential, service) cannot change.",
    request_body(content = super::schemas::OidcClientMetadata, content_type = "application/json"),
    responses((status = 200, description = "The client's metadata", body = super::schemas::OidcRegisteredClient),
        (status = 400, description = "invalid_client_metadata, invalid_redirect_uri", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "invalid_token", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
pub async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((slug, client_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let tenant = match realm_or_answer(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return *r,
    };
    // A body that is not JSON is judged as metadata that is not an object, after the token: a
    // stranger learns nothing from how the body would have been judged.
    let metadata = metadata_json(&body).unwrap_or(Value::Null);
    match state.core.provider().update_registered_client(&tenant, &client_id, bearer(&headers), &metadata, &ctx.client).await {
        Ok(app) => no_store(StatusCode::OK, described(&state, &slug, &app)),
        Err(e) => registration_error(e, &slug),
    }
}

/// Deletes a registered client (RFC 7592 §2.3).
#[utoipa::path(delete, path = "/realms/{tenant}/clients-registrations/openid-connect/{client_id}", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)"), ("client_id" = String, Path, description = "The registered client")),
    description = "RFC 7592, with Authorization: Bearer <registration access token>. The client and its registration access token stop working.",
    responses((status = 204, description = "Deleted"),
        (status = 401, description = "invalid_token", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", body = crate::openapi::schemas::OAuthError)))]
pub async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((slug, client_id)): Path<(String, String)>,
) -> Response {
    let tenant = match realm_or_answer(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return *r,
    };
    match state.core.provider().delete_registered_client(&tenant, &client_id, bearer(&headers), &ctx.client).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => registration_error(e, &slug),
    }
}
