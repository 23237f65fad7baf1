//! MOSIP otpmanager: codes generated for trusted services (which deliver them themselves) and
//! validated by key. Callers must present a service-account token whose client holds the
//! `OTP_MANAGER` role.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use castellan_core::CoreError;
use castellan_core::model::Tenant;
use serde_json::json;

use super::dto::*;
use super::envelope::{MosipError, MosipResult, Reply, read_envelope, respond};
use super::tokens;
use crate::client::Ctx;
use crate::state::AppState;

const GENERATE: &str = "mosip.otp.generateOTP";
const VALIDATE: &str = "mosip.otp.validateOTP";
const ROLE: &str = "OTP_MANAGER";
const MAX_KEY: usize = 255;

/// The caller's realm, if it presents a live service-account token holding `OTP_MANAGER`.
async fn trusted_service(state: &AppState, headers: &HeaderMap) -> MosipResult<Tenant> {
    let token = tokens::presented_token(headers).map_err(|_| MosipError::invalid_token())?;
    match state.core.tokens().authorize_service(token, &tokens::PROFILE, tokens::LOCATOR, ROLE).await {
        Ok(service) => Ok(service.tenant),
        Err(e) => Err(service_refused(e)),
    }
}

/// Why a caller is not a trusted service: a valid token without the role is told so; any other
/// refusal is an invalid token.
fn service_refused(e: CoreError) -> MosipError {
    match e {
        CoreError::Forbidden => {
            MosipError::new("KER-ATH-401", "Authentication Failed : Forbidden : the OTP_MANAGER role is required")
        }
        CoreError::Storage(_) | CoreError::Internal(_) => MosipError::from(e),
        CoreError::Unauthorized
        | CoreError::InvalidToken
        | CoreError::Validation(_)
        | CoreError::TenantNotFound
        | CoreError::InvalidCredentials
        | CoreError::EmailNotVerified
        | CoreError::AccountLocked { .. }
        | CoreError::InvalidMfaCode
        | CoreError::UnknownApplication
        | CoreError::InvalidOtp { .. }
        | CoreError::OtpExpired
        | CoreError::ChallengeExhausted
        | CoreError::UserNotFound
        | CoreError::NoChannelAddress
        | CoreError::TooManyChannels
        | CoreError::InvalidRefreshToken
        | CoreError::RefreshTokenReused
        | CoreError::WeakPassword(_)
        | CoreError::Conflict(_)
        | CoreError::NotFound
        | CoreError::Disabled
        | CoreError::RateLimited { .. }
        | CoreError::Overloaded => MosipError::invalid_token(),
    }
}

/// A code for `key`, for the calling service to deliver.
#[utoipa::path(post, path = "/v1/otpmanager/otp/generate", tag = "mosip", request_body(content = MosipRequest<GenerateOtpRequest>, description = "The envelope; `request` field names match case-insensitively"), params(("Authorization" = Option<String>, Header, description = "Bearer service token, or the Authorization cookie")),
    responses((status = 200, description = "response {otp, status: GENERATION_SUCCESSFUL}, or {otp: \"null\", status: USER_BLOCKED} \
        while the key is frozen; errors KER-ATH-401 (no or insufficient service token), KER-OTG-001/003 (key)", body = MosipGeneratedOtpEnvelope),
        (status = 400, description = "KER-ATH-004: the body is not JSON, or unreadable", body = ResponseEnvelope)))]
pub async fn generate(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap, req: Request) -> Response {
    // The caller first: a stranger learns nothing about what the body should be.
    let tenant = match trusted_service(&state, &headers).await {
        Ok(tenant) => tenant,
        Err(e) => return respond(Some(GENERATE), Err(e)),
    };
    let env = match read_envelope(req, &state, Some(GENERATE), true).await {
        Ok(env) => env,
        Err(refused) => return refused,
    };
    let result = async {
        let key = match env.request.text("key", MAX_KEY) {
            Ok(Some(key)) => key,
            Ok(None) => return Err(MosipError::new("KER-OTG-001", "Key can't be empty or null")),
            Err(_) => return Err(MosipError::new("KER-OTG-003", "Length of key is not in the specified range")),
        };
        match state.core.key_codes().generate_service_code(&tenant, &key, &ctx.client).await {
            Ok(otp) => Ok(Reply::new(json!({ "otp": otp, "status": "GENERATION_SUCCESSFUL" }))),
            Err(CoreError::AccountLocked { .. }) => Ok(Reply::new(json!({ "otp": "null", "status": "USER_BLOCKED" }))),
            Err(e) => Err(e.into()),
        }
    }
    .await;
    respond(Some(GENERATE), result)
}

/// Checks a code for `key`; a right code is spent. Wrong tries up to the limit freeze the key.
#[utoipa::path(get, path = "/v1/otpmanager/otp/validate", tag = "mosip", params(("key" = String, Query, description = "The key the code was generated for"), ("otp" = String, Query, description = "The code"),
        ("Authorization" = Option<String>, Header, description = "Bearer service token, or the Authorization cookie")),
    responses((status = 200, description = "response {status: success, message: VALIDATION SUCCESSFUL}; errors AUTH_ERR_OTPNOTVALID, \
        AUTH_ERR_OTPEXPIRED, KER-OTP-006 (key frozen), KER-ATH-401, KER-OTV-001/002", body = MosipStatusEnvelope)))]
pub async fn validate(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let result = async {
        let tenant = trusted_service(&state, &headers).await?;
        let pairs = query.map(|Query(q)| q).unwrap_or_default();
        let param = |name: &str| {
            pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
        };
        let key = param("key")
            .filter(|k| k.len() <= MAX_KEY)
            .ok_or_else(|| MosipError::new("KER-OTV-001", "Key can't be empty or null"))?;
        let otp = param("otp").ok_or_else(|| MosipError::new("KER-OTV-002", "OTP can't be empty or null"))?;
        state.core.key_codes().validate_service_code(&tenant, key, otp, &ctx.client).await.map_err(|e| match e {
            CoreError::InvalidOtp { .. } => MosipError::new("AUTH_ERR_OTPNOTVALID", "The passed in OTP is not valid"),
            CoreError::OtpExpired => MosipError::new("AUTH_ERR_OTPEXPIRED", "The passed in OTP is expired"),
            CoreError::AccountLocked { .. } => MosipError::new("KER-OTP-006", "key is frozen"),
            other => other.into(),
        })?;
        Ok(Reply::new(json!({ "status": "success", "message": "VALIDATION SUCCESSFUL" })))
    }
    .await;
    respond(Some(VALIDATE), result)
}
