//! The console's operations as JSON (`/console/api`). Sign-in returns a bearer token (the same
//! session as the pages' cookie); bearer tokens are not sent by browsers on their own, so these
//! routes need no CSRF token. Errors: `{"error": {"code", "message"}}`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::model::AppId as Uuid;
use castellan_core::model::Application;
use castellan_core::services::console::ConsoleAccount;
use castellan_core::services::hosted_apps::{HostedAppSettings, HostedAppView};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::Refusal;
use super::extract::AppPath;
use super::html::mask_email;
use super::schemas::*;
use crate::client::Ctx;
use crate::dialects::json::parse_json;
use crate::openapi::schemas::ErrorEnvelope;
use crate::state::AppState;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// The console API's answer to a core error.
fn from_core(e: CoreError) -> Response {
    match Refusal::from(e) {
        Refusal::Invalid(message) => error(StatusCode::BAD_REQUEST, "invalid_request", &message),
        Refusal::WrongCredentials | Refusal::EmailNotVerified => {
            error(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong email or password, or email not confirmed")
        }
        Refusal::Locked(seconds) => error(StatusCode::TOO_MANY_REQUESTS, "locked", &format!("try again in {seconds} s")),
        Refusal::Unauthorized => error(StatusCode::UNAUTHORIZED, "unauthorized", "sign in first"),
        Refusal::InvalidToken => error(StatusCode::BAD_REQUEST, "invalid_token", "invalid or expired token"),
        Refusal::NotFound => error(StatusCode::NOT_FOUND, "not_found", "no such application"),
        Refusal::Conflict(field) => error(StatusCode::CONFLICT, "conflict", &format!("{field} already taken")),
        Refusal::Disabled => error(StatusCode::FORBIDDEN, "disabled", "registration is closed"),
        Refusal::Unavailable(cause) => {
            tracing::warn!(cause = %cause, "console API: database unavailable");
            error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database is unavailable; try again shortly")
        }
        r @ (Refusal::Forbidden | Refusal::Unexpected(_) | Refusal::Internal(_)) => {
            tracing::error!(refusal = ?r, "console API");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
        }
    }
}

/// The JSON body; another media type is 415, as on the admin API (both are Castellan's own).
async fn body<T: serde::de::DeserializeOwned>(state: &AppState, req: Request) -> Result<T, Response> {
    parse_json::<T>(req, state).await.map_err(|e| {
        if e.media_type {
            error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Content-Type must be application/json")
        } else {
            error(StatusCode::BAD_REQUEST, "invalid_request", &format!("{}: {}", e.field, e.reason))
        }
    })
}

/// The account of the bearer token: 401 without a live session, 500 if it cannot be told.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<(ConsoleAccount, String), Response> {
    let token = crate::dialects::bearer(headers).ok_or_else(|| from_core(CoreError::Unauthorized))?;
    let account = state.core.console().console_account(token).await.map_err(from_core)?;
    Ok((account, token.to_string()))
}

fn app_json(view: &HostedAppView) -> Value {
    let (app, prefix) = (&view.app, &view.key_prefix);
    json!({
        "id": app.id,
        "client_id": app.client_id,
        "name": app.name,
        "allowed_ips": app.allowed_ips,
        "callback_url": app.callback_url,
        "redirect_uris": app.redirect_uris,
        "webauthn": app.hosted_webauthn,
        "active": app.active,
        "api_key_prefix": prefix,
        "created_at": app.created_at,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    email: String,
    password: String,
}

/// Registers a console account; the confirmation link is mailed (same answer for a taken email).
#[utoipa::path(post, path = "/console/api/register", tag = "eauthenticator-console", request_body = Credentials,
    responses((status = 202, description = "The confirmation link is mailed (the same answer for a taken email)", body = ConsoleRegistered),
        (status = 400, description = "invalid_request: a bad body, an invalid email or a weak password", body = ErrorEnvelope),
        (status = 403, description = "disabled: registration is closed", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn register(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    let c: Credentials = match body(&state, req).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state.core.console().register_console_account(&c.email, &c.password, &ctx.client).await {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({"status": "verification_sent"}))).into_response(),
        Err(e) => from_core(e),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenBody {
    token: String,
}

/// Confirms the account's email with the mailed token.
#[utoipa::path(post, path = "/console/api/verify-email", tag = "eauthenticator-console", request_body = TokenBody,
    responses((status = 200, description = "Confirmed", body = ConsoleEmailVerified),
        (status = 400, description = "invalid_request (a bad body) or invalid_token (invalid, expired or used)", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn verify_email(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    let t: TokenBody = match body(&state, req).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match state.core.console().verify_console_email(&t.token, &ctx.client).await {
        Ok(_) => Json(json!({"email_verified": true})).into_response(),
        Err(e) => from_core(e),
    }
}

/// Signs in; the token is a bearer token for the other console routes (12 h, idle 1 h).
#[utoipa::path(post, path = "/console/api/sign-in", tag = "eauthenticator-console", request_body = Credentials,
    responses((status = 200, description = "A bearer token for the other console routes (12 h, idle 1 h)", body = ConsoleSignedIn),
        (status = 400, description = "invalid_request: a bad body", body = ErrorEnvelope),
        (status = 401, description = "invalid_credentials: wrong email or password, or email not confirmed", body = ErrorEnvelope),
        (status = 429, description = "locked: too many attempts", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn sign_in(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return from_core(CoreError::AccountLocked { retry_after_seconds: wait });
    }
    let c: Credentials = match body(&state, req).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state.core.console().sign_in_console(&c.email, &c.password, &ctx.client).await {
        Ok((token, a)) => Json(json!({"token": token, "token_type": "Bearer", "email": a.user.email})).into_response(),
        Err(e) => from_core(e),
    }
}

/// Ends the session.
#[utoipa::path(post, path = "/console/api/sign-out", tag = "eauthenticator-console", security(("bearer" = [])),
    responses((status = 204, description = "Signed out"),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope)))]
pub async fn sign_out(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap) -> Response {
    let (_, token) = match signed_in(&state, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.console().sign_out_console(&token, &ctx.client).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => from_core(e),
    }
}

/// The account's applications.
#[utoipa::path(get, path = "/console/api/applications", tag = "eauthenticator-console", security(("bearer" = [])),
    responses((status = 200, description = "The account's applications", body = ConsoleApplications),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope)))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (a, _) = match signed_in(&state, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().hosted_apps(&a.tenant).await {
        Ok(views) => Json(json!({"applications": views.iter().map(app_json).collect::<Vec<_>>()})).into_response(),
        Err(e) => from_core(e),
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct AppBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    allowed_ips: Option<Vec<String>>,
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    /// The hosted page offers the user's passkeys and security keys beside the code, and offers
    /// to add one after a code (default false).
    #[serde(default)]
    webauthn: Option<bool>,
}

impl From<AppBody> for HostedAppSettings {
    fn from(b: AppBody) -> Self {
        HostedAppSettings {
            name: b.name,
            allowed_ips: b.allowed_ips,
            callback_url: b.callback_url,
            redirect_uris: b.redirect_uris,
            webauthn: b.webauthn,
        }
    }
}

/// Creates an application; the API key and callback secret are in this answer only.
#[utoipa::path(post, path = "/console/api/applications", tag = "eauthenticator-console", security(("bearer" = [])), request_body = AppBody,
    responses((status = 201, description = "The application, its API key and callback secret (shown only here)", body = ConsoleCreated),
        (status = 400, description = "invalid_request: a bad body or setting", body = ErrorEnvelope),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn create(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    let (a, _) = match signed_in(&state, req.headers()).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let b: AppBody = match body(&state, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match state.core.hosted_apps().create_hosted_app(&a.tenant, b.into(), &ctx.client).await {
        Ok(c) => {
            let app = app_json(&HostedAppView { app: c.app, key_prefix: Some(c.api_key_prefix) });
            (StatusCode::CREATED, Json(json!({"application": app, "api_key": c.api_key, "callback_secret": c.callback_secret})))
                .into_response()
        }
        Err(e) => from_core(e),
    }
}

fn not_a_uuid() -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", "the application id is not a UUID")
}

/// The signed-in account and the application id of the path (not yet known to be the account's).
async fn signed_in_with_id(state: &AppState, headers: &HeaderMap, id: Option<Uuid>) -> Result<(ConsoleAccount, Uuid), Response> {
    let (a, _) = signed_in(state, headers).await?;
    Ok((a, id.ok_or_else(not_a_uuid)?))
}

/// The signed-in account and one of its applications, for a call that needs it found before
/// anything else is read.
async fn owned(state: &AppState, headers: &HeaderMap, id: Option<Uuid>) -> Result<(ConsoleAccount, Application), Response> {
    let (a, id) = signed_in_with_id(state, headers, id).await?;
    let app = state.core.applications().application_by_id(&a.tenant, id).await.map_err(from_core)?;
    Ok((a, app))
}

/// One application.
#[utoipa::path(get, path = "/console/api/applications/{id}", tag = "eauthenticator-console", security(("bearer" = [])), params(("id" = String, Path, format = "uuid", description = "The application id")),
    responses((status = 200, description = "The application", body = ConsoleApplication),
        (status = 400, description = "invalid_request: the id is not a UUID", body = ErrorEnvelope),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope),
        (status = 404, description = "not_found: no such application of the account", body = ErrorEnvelope)))]
pub async fn get_one(State(state): State<AppState>, headers: HeaderMap, AppPath(id): AppPath) -> Response {
    let (a, id) = match signed_in_with_id(&state, &headers, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().hosted_app(&a.tenant, id).await {
        Ok(view) => Json(app_json(&view)).into_response(),
        Err(e) => from_core(e),
    }
}

/// Changes name, allow-list, callback URL or redirect URIs (each checked as at creation).
#[utoipa::path(patch, path = "/console/api/applications/{id}", tag = "eauthenticator-console", security(("bearer" = [])), params(("id" = String, Path, format = "uuid", description = "The application id")), request_body = AppBody,
    responses((status = 200, description = "The application", body = ConsoleApplication),
        (status = 400, description = "invalid_request: the id is not a UUID, or a bad body or setting", body = ErrorEnvelope),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope),
        (status = 404, description = "not_found: no such application of the account", body = ErrorEnvelope),
        (status = 415, description = "unsupported_media_type: a body not sent as application/json", body = ErrorEnvelope)))]
pub async fn update(State(state): State<AppState>, ctx: Ctx, AppPath(id): AppPath, req: Request) -> Response {
    let (a, app) = match owned(&state, req.headers(), id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let b: AppBody = match body(&state, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match state.core.hosted_apps().update_hosted_app(&a.tenant, app.id, b.into(), &ctx.client).await {
        Ok(view) => Json(app_json(&view)).into_response(),
        Err(e) => from_core(e),
    }
}

/// A new API key; the old one stops working.
#[utoipa::path(post, path = "/console/api/applications/{id}/rotate-key", tag = "eauthenticator-console", security(("bearer" = [])), params(("id" = String, Path, format = "uuid", description = "The application id")),
    responses((status = 200, description = "The new API key; the old one stops working", body = ConsoleApiKey),
        (status = 400, description = "invalid_request: the id is not a UUID", body = ErrorEnvelope),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope),
        (status = 404, description = "not_found: no such application of the account", body = ErrorEnvelope)))]
pub async fn rotate_key(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, AppPath(id): AppPath) -> Response {
    let (a, id) = match signed_in_with_id(&state, &headers, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().rotate_hosted_api_key(&a.tenant, id, &ctx.client).await {
        Ok(key) => Json(json!({"api_key": key})).into_response(),
        Err(e) => from_core(e),
    }
}

/// A new callback secret.
#[utoipa::path(post, path = "/console/api/applications/{id}/rotate-callback-secret", tag = "eauthenticator-console", security(("bearer" = [])), params(("id" = String, Path, format = "uuid", description = "The application id")),
    responses((status = 200, description = "The new callback secret", body = ConsoleCallbackSecret),
        (status = 400, description = "invalid_request: the id is not a UUID", body = ErrorEnvelope),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope),
        (status = 404, description = "not_found: no such application of the account", body = ErrorEnvelope)))]
pub async fn rotate_callback_secret(State(state): State<AppState>, headers: HeaderMap, AppPath(id): AppPath) -> Response {
    let (a, app) = match owned(&state, &headers, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().rotate_callback_secret(&a.tenant, &app).await {
        Ok(secret) => Json(json!({"callback_secret": secret})).into_response(),
        Err(e) => from_core(e),
    }
}

async fn set_active(state: AppState, ctx: Ctx, headers: HeaderMap, id: Option<Uuid>, active: bool) -> Response {
    let (a, id) = match signed_in_with_id(&state, &headers, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted_apps().set_hosted_app_active(&a.tenant, id, active, &ctx.client).await {
        Ok(view) => Json(app_json(&view)).into_response(),
        Err(e) => from_core(e),
    }
}

/// Marks the application active.
#[utoipa::path(post, path = "/console/api/applications/{id}/activate", tag = "eauthenticator-console", security(("bearer" = [])), params(("id" = String, Path, format = "uuid", description = "The application id")),
    responses((status = 200, description = "The application", body = ConsoleApplication),
        (status = 400, description = "invalid_request: the id is not a UUID", body = ErrorEnvelope),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope),
        (status = 404, description = "not_found: no such application of the account", body = ErrorEnvelope)))]
pub async fn activate(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, AppPath(id): AppPath) -> Response {
    set_active(state, ctx, headers, id, true).await
}

/// Marks the application inactive: its API calls answer INACTIVE.
#[utoipa::path(post, path = "/console/api/applications/{id}/deactivate", tag = "eauthenticator-console", security(("bearer" = [])), params(("id" = String, Path, format = "uuid", description = "The application id")),
    responses((status = 200, description = "The application", body = ConsoleApplication),
        (status = 400, description = "invalid_request: the id is not a UUID", body = ErrorEnvelope),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope),
        (status = 404, description = "not_found: no such application of the account", body = ErrorEnvelope)))]
pub async fn deactivate(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, AppPath(id): AppPath) -> Response {
    set_active(state, ctx, headers, id, false).await
}

/// Recent verifications: time, masked email, result, IP.
#[utoipa::path(get, path = "/console/api/applications/{id}/verifications", tag = "eauthenticator-console", security(("bearer" = [])), params(("id" = String, Path, format = "uuid", description = "The application id")),
    responses((status = 200, description = "The 100 most recent verifications", body = ConsoleVerifications),
        (status = 400, description = "invalid_request: the id is not a UUID", body = ErrorEnvelope),
        (status = 401, description = "unauthorized: sign in first", body = ErrorEnvelope),
        (status = 404, description = "not_found: no such application of the account", body = ErrorEnvelope)))]
pub async fn verifications(State(state): State<AppState>, headers: HeaderMap, AppPath(id): AppPath) -> Response {
    let (a, app) = match owned(&state, &headers, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.core.hosted().recent_verifications(&a.tenant, &app, 100).await {
        Ok(list) => {
            let out: Vec<Value> = list
                .iter()
                .map(|v| json!({"time": v.created_at, "email": mask_email(&v.email), "result": v.status, "tries": v.tries, "ip": v.ip}))
                .collect();
            Json(json!({"verifications": out})).into_response()
        }
        Err(e) => from_core(e),
    }
}
