//! The REST API a business backend calls (`/authen-api/api/v1`): session tokens, TOTP toggle and
//! provisioning. Every call names its application (`client_id`), carries that application's
//! `X-API-Key` and comes from an allowed address.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::model::{Application, Tenant};
use castellan_core::services::hosted_2fa::FactorSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::error::Refusal;
use super::schemas::{EauthError, ProvisionAnswer, SessionTokenAnswer, ToggleAnswer};
use crate::client::Ctx;
use crate::dialects::json::parse_json;
use crate::state::AppState;

pub const BASE: &str = "/authen-api/api/v1";

/// `{"code", "message", "data"}` with its HTTP status.
pub struct Answer {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    data: Value,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"code": self.code, "message": self.message, "data": self.data}))).into_response()
    }
}

fn success(data: Value) -> Answer {
    Answer { status: StatusCode::OK, code: "SUCCESS", message: "Success", data }
}

/// The action failed, or the body was not what the call takes: 400 with the call's message.
fn invalid(message: &'static str) -> Answer {
    Answer { status: StatusCode::BAD_REQUEST, code: "INVALID_REQUEST", message, data: json!("") }
}

fn unauthorized() -> Answer {
    Answer { status: StatusCode::UNAUTHORIZED, code: "UNAUTHORIZED", message: "invalid API key", data: Value::Null }
}

/// This API's answer to a core error: the caller checks have answers of their own; anything
/// else is the call's own failure.
fn refused(e: CoreError, failure: &'static str) -> Answer {
    match Refusal::from(e) {
        Refusal::Unauthorized => unauthorized(),
        Refusal::Forbidden => {
            Answer { status: StatusCode::FORBIDDEN, code: "FORBIDDEN", message: "IP address not allowed", data: Value::Null }
        }
        Refusal::Disabled => {
            Answer { status: StatusCode::FORBIDDEN, code: "INACTIVE", message: "client not active", data: Value::Null }
        }
        Refusal::Unavailable(cause) => {
            tracing::warn!(cause = %cause, "eauthenticator: database unavailable");
            Answer {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "SERVICE_UNAVAILABLE",
                message: "service temporarily unavailable, try again shortly",
                data: Value::Null,
            }
        }
        Refusal::Internal(cause) => {
            tracing::error!(error = %cause, "eauthenticator API");
            Answer {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "INTERNAL_SERVER_ERROR",
                message: "internal server error",
                data: Value::Null,
            }
        }
        Refusal::Invalid(_)
        | Refusal::WrongCredentials
        | Refusal::EmailNotVerified
        | Refusal::Locked(_)
        | Refusal::InvalidToken
        | Refusal::NotFound
        | Refusal::Conflict(_)
        | Refusal::Unexpected(_) => invalid(failure),
    }
}

/// The calling application: the key of `client_id`, from an allowed address, active.
async fn caller(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    client_id: &str,
    failure: &'static str,
) -> Result<(Application, Tenant), Answer> {
    state.core.hosted_apps().authenticate_api_key(key, client_id, ctx.ip, &ctx.client).await.map_err(|e| refused(e, failure))
}

fn api_key(req: &Request) -> Option<String> {
    req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty()).map(str::to_string)
}

/// The body, or the call's failure. A missing key is refused before the body is read.
async fn body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: Request,
    failure: &'static str,
) -> Result<(String, T), Answer> {
    let key = api_key(&req).ok_or_else(unauthorized)?;
    let parsed = parse_json::<T>(req, state).await.map_err(|_| invalid(failure))?;
    Ok((key, parsed))
}

#[derive(Deserialize, ToSchema)]
pub struct SessionTokenRequest {
    email: String,
    client_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionTokenData {
    /// HS256 JWT: email, client_id, iat, exp = iat + 120, jti.
    session_token: String,
}

/// A session token for a user with 2FA enabled for this application.
#[utoipa::path(post, path = "/authen-api/api/v1/session-token", tag = "eauthenticator", request_body = SessionTokenRequest, params(("X-API-Key" = String, Header, description = "The application's API key")),
    responses((status = 200, description = "SUCCESS, data.session_token", body = SessionTokenAnswer),
        (status = 400, description = "INVALID_REQUEST \"get session token failed\": a bad body, an unknown user, or no TOTP for this application", body = EauthError),
        (status = 401, description = "UNAUTHORIZED: missing or wrong API key, or not this client_id's", body = EauthError),
        (status = 403, description = "FORBIDDEN: caller IP not allowed; INACTIVE: client not active", body = EauthError)))]
pub async fn session_token(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    const FAILED: &str = "get session token failed";
    let (key, b) = match body::<SessionTokenRequest>(&state, req, FAILED).await {
        Ok(x) => x,
        Err(a) => return a.into_response(),
    };
    let (app, tenant) = match caller(&state, &ctx, &key, &b.client_id, FAILED).await {
        Ok(x) => x,
        Err(a) => return a.into_response(),
    };
    match state.core.hosted().issue_session_token(&tenant, &app, &b.email, &ctx.client).await {
        Ok(token) => success(json!({ "session_token": token })).into_response(),
        Err(e) => refused(e, FAILED).into_response(),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ToggleRequest {
    email: String,
    client_id: String,
    /// Base32, at least 128 bits; required for ENABLE.
    #[serde(default)]
    secret: Option<String>,
    /// `ENABLE` or `DISABLE`.
    action: String,
    /// `TOTP`; or `WEBAUTHN` with DISABLE, which removes the user's passkeys and security keys
    /// (they are added on the hosted page).
    #[serde(rename = "type")]
    kind: String,
    /// `SHA1`, `SHA256` or `SHA512`.
    #[serde(default)]
    algorithm: Option<String>,
    /// 6 or 8.
    #[serde(default)]
    digits: Option<u32>,
    /// Seconds, normally 30.
    #[serde(default)]
    period: Option<u32>,
}

/// Enables or disables a user's TOTP factor for this application; or removes the user's keys.
#[utoipa::path(post, path = "/authen-api/api/v1/mfa/toggle", tag = "eauthenticator", request_body = ToggleRequest, params(("X-API-Key" = String, Header, description = "The application's API key")),
    responses((status = 200, description = "SUCCESS, data empty", body = ToggleAnswer),
        (status = 400, description = "INVALID_REQUEST \"toggle failed\"", body = EauthError),
        (status = 401, description = "UNAUTHORIZED: missing or wrong API key, or not this client_id's", body = EauthError),
        (status = 403, description = "FORBIDDEN: caller IP not allowed; INACTIVE: client not active", body = EauthError)))]
pub async fn toggle(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    const FAILED: &str = "toggle failed";
    let (key, b) = match body::<ToggleRequest>(&state, req, FAILED).await {
        Ok(x) => x,
        Err(a) => return a.into_response(),
    };
    let (app, tenant) = match caller(&state, &ctx, &key, &b.client_id, FAILED).await {
        Ok(x) => x,
        Err(a) => return a.into_response(),
    };
    let hosted = state.core.hosted();
    let result = match (b.kind.to_ascii_uppercase().as_str(), b.action.to_ascii_uppercase().as_str()) {
        ("WEBAUTHN", "DISABLE") => hosted.disable_app_keys(&tenant, &app, &b.email, &ctx.client).await,
        ("TOTP", "ENABLE") => {
            let spec =
                FactorSpec { secret: b.secret.unwrap_or_default(), algorithm: b.algorithm, digits: b.digits, period: b.period };
            hosted.enable_app_totp(&tenant, &app, &b.email, spec, &ctx.client).await
        }
        ("TOTP", "DISABLE") => hosted.disable_app_totp(&tenant, &app, &b.email, &ctx.client).await,
        _ => return invalid(FAILED).into_response(),
    };
    match result {
        Ok(()) => success(json!("")).into_response(),
        Err(e) => refused(e, FAILED).into_response(),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ProvisionRequest {
    email: String,
    client_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProvisionData {
    secret: String,
    otpauth_url: String,
    qr_svg: String,
}

/// A new TOTP secret with its otpauth URL and QR code (SVG); enabled only by a later toggle.
#[utoipa::path(post, path = "/authen-api/api/v1/mfa/provision", tag = "eauthenticator", request_body = ProvisionRequest, params(("X-API-Key" = String, Header, description = "The application's API key")),
    responses((status = 200, description = "SUCCESS", body = ProvisionAnswer),
        (status = 400, description = "INVALID_REQUEST \"provision failed\"", body = EauthError),
        (status = 401, description = "UNAUTHORIZED: missing or wrong API key, or not this client_id's", body = EauthError),
        (status = 403, description = "FORBIDDEN: caller IP not allowed; INACTIVE: client not active", body = EauthError)))]
pub async fn provision(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    const FAILED: &str = "provision failed";
    let (key, b) = match body::<ProvisionRequest>(&state, req, FAILED).await {
        Ok(x) => x,
        Err(a) => return a.into_response(),
    };
    let (app, _) = match caller(&state, &ctx, &key, &b.client_id, FAILED).await {
        Ok(x) => x,
        Err(a) => return a.into_response(),
    };
    match state.core.hosted().provision_app_totp(&app, &b.email) {
        Ok(p) => success(json!({"secret": p.secret, "otpauth_url": p.otpauth_url, "qr_svg": p.qr_svg})).into_response(),
        Err(e) => refused(e, FAILED).into_response(),
    }
}
