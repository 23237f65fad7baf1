//! Kumusoft handlers: parse, make one core call, shape the answer in the envelope.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use castellan_core::model::{Application, AuditAction, Tenant};
use castellan_core::services::access_tokens::{AccessGrant, AudienceTemplate, Locator, TokenProfile, VerifiedAccess};
use castellan_core::services::keys::ASYMMETRIC;
use castellan_core::services::otp_login::{OtpChallenge, OtpChannel, OtpLoginStart};
use castellan_core::services::sessions::{ApplicationGuard, Authenticated};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::DIALECT;
use super::dto::*;
use super::error::{KumuError, KumuResult};
use super::schemas::*;
use crate::client::Ctx;
use crate::dialects::json::parse_json;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    paths(login, verify_otp, resend_otp, refresh, logout, me),
    components(schemas(LoginRequest, VerifyRequest, ResendRequest, RefreshRequest, LogoutRequest)),
    tags((name = "kumusoft", description = "Password, then a one-time code, then an RS256 JWT verified through JWKS. \
        Every answer is {\"status\": {\"returnCode\", \"returnMessage\"}, \"data\"}."))
)]
pub struct ApiDoc;

/// A JSON body parsed into `T`, or `90` naming the field.
pub struct KumuJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for KumuJson<T> {
    type Rejection = KumuError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, KumuError> {
        Ok(KumuJson(parse_json(req, state).await?))
    }
}

fn ok(message: &str, data: Value) -> Response {
    Json(json!({ "status": { "returnCode": "00", "returnMessage": message }, "data": data })).into_response()
}

fn limit(state: &AppState, ctx: &Ctx) -> KumuResult<()> {
    state.auth_limiter.check(ctx.ip).map_err(|s| KumuError::too_many(s, "Too many requests; try again later"))
}

/// Kumusoft's access tokens: asymmetric, `nbf`, the tenant in `tid`, always a session.
const PROFILE: TokenProfile = TokenProfile {
    dialect: DIALECT,
    algs: ASYMMETRIC,
    typ: "JWT",
    tenant_claim: Some("tid"),
    not_before: true,
    audience_list: false,
    fixed: &[],
    client_claim: None,
    realm_issuer: false,
};

/// The claim that names the application, and selects it (and its tenant) when a token comes back.
const TAG_CLAIM: &str = "tagId";

/// The audience of an application's tokens: the configured template with its tag.
fn audience(state: &AppState) -> AudienceTemplate<'_> {
    AudienceTemplate { template: &state.settings.kumusoft_audience, placeholder: "{tagId}" }
}

/// The token answer of `otp/verify` and `token/refresh`: a new access token and the refresh token.
async fn token_data(state: &AppState, tenant: &Tenant, auth: &Authenticated, tag: &str) -> KumuResult<Value> {
    let extra = json!({ "name": display_name(&auth.user), TAG_CLAIM: tag });
    let grant = AccessGrant::for_session(&auth.session, audience(state).fill(tag), extra);
    let access = state.core.tokens().issue_access_token(tenant, &PROFILE, grant).await?;
    Ok(json!({
        "accessToken": access,
        "refreshToken": auth.refresh_token,
        "expiresIn": tenant.policy.tokens.access_ttl_seconds,
        "tokenType": "Bearer",
        "user": { "id": auth.user.id },
    }))
}

fn challenge_data(c: &OtpChallenge) -> Value {
    json!({
        "name": display_name(&c.user),
        "userId": c.user.id,
        "challengeId": c.challenge_id,
        "requires2FA": true,
        "channel": c.channel.as_str(),
        "destination": c.destination,
        "expiresIn": c.expires_in,
    })
}

/// The bearer's verified token: the tag inside selects the application and tenant, whose keys,
/// issuer and audience must then all agree, and the session must be alive.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> KumuResult<VerifiedAccess> {
    let token = crate::dialects::bearer(headers).ok_or(castellan_core::CoreError::Unauthorized)?;
    let locator = Locator::ApplicationTag { claim: TAG_CLAIM, audience: audience(state) };
    Ok(state.core.tokens().locate_and_verify(token, &PROFILE, locator).await?)
}

/// Phase 1: identifier and password. Sends a one-time code and answers with the challenge.
#[utoipa::path(post, path = "/v1/auth/login", tag = "kumusoft", request_body = LoginRequest,
    responses((status = 200, description = "00: a challenge; the code is sent (channel email or sms), or comes from the authenticator (totp)", body = KumuChallengeResponse),
        (status = 400, description = "90: a missing or malformed field, named in returnMessage", body = KumuErrorBody),
        (status = 401, description = "01: invalid credentials", body = KumuErrorBody),
        (status = 403, description = "06: unknown or inactive tagId", body = KumuErrorBody),
        (status = 423, description = "02: account locked (data.retryAfterSeconds)", body = KumuErrorBody),
        (status = 429, description = "05: too many requests (data.retryAfterSeconds, Retry-After)", body = KumuErrorBody)))]
pub async fn login(State(state): State<AppState>, ctx: Ctx, KumuJson(req): KumuJson<LoginRequest>) -> KumuResult<Response> {
    limit(&state, &ctx)?;
    let identifier = required(&req.identifier, "identifier", 320)?;
    let password = required(&req.password, "password", 1024)?;
    let tag = required(&req.tag_id, "tagId", 100)?;
    let (app, tenant) = state.core.applications().application_by_alias(DIALECT, tag.trim()).await?;
    let mut client = ctx.client.clone();
    client.application_id = Some(app.id);
    let start = OtpLoginStart { identifier, password, application: &app, device: Value::Null, dialect: DIALECT };
    let outcome = state.core.otp_login().start_otp_login(&tenant, start, &client).await;
    let label = match &outcome {
        Ok(_) => "otp_required",
        Err(castellan_core::CoreError::AccountLocked { .. }) => "locked",
        Err(_) => "failure",
    };
    state.metrics.record_login(DIALECT, label);
    let challenge = outcome?;
    let message = match challenge.channel {
        OtpChannel::Totp => "Login successful, enter the code from your authenticator app",
        _ => "Login successful, OTP sent",
    };
    Ok(ok(message, challenge_data(&challenge)))
}

/// Phase 2: the one-time code. Answers with the tokens.
#[utoipa::path(post, path = "/v1/auth/otp/verify", tag = "kumusoft", request_body = VerifyRequest,
    responses((status = 200, description = "00: the tokens", body = KumuTokensResponse),
        (status = 400, description = "90: a missing or malformed field, named in returnMessage", body = KumuErrorBody),
        (status = 401, description = "03: invalid code (data.attemptsRemaining) / 04: expired or unknown challenge", body = KumuErrorBody),
        (status = 403, description = "06: the application is gone or inactive", body = KumuErrorBody),
        (status = 429, description = "05: too many requests, or the challenge is exhausted", body = KumuErrorBody)))]
pub async fn verify_otp(State(state): State<AppState>, ctx: Ctx, KumuJson(req): KumuJson<VerifyRequest>) -> KumuResult<Response> {
    limit(&state, &ctx)?;
    let user_id = required_uuid(&req.user_id, "userId")?;
    let otp = required(&req.otp, "otp", 16)?;
    let challenge_id = required_uuid(&req.challenge_id, "challengeId")?;
    let (tenant, auth, data) =
        state.core.otp_login().verify_otp_login(challenge_id, user_id.into(), otp.trim(), DIALECT, &ctx.client).await?;
    let tag = data.get("tagId").and_then(Value::as_str).unwrap_or_default();
    Ok(ok("OTP verified successfully", token_data(&state, &tenant, &auth, tag).await?))
}

/// A new code for a pending challenge, on the same channel (the previous code stops working).
#[utoipa::path(post, path = "/v1/auth/otp/resend", tag = "kumusoft", request_body = ResendRequest,
    responses((status = 200, description = "00: a new code on the same channel", body = KumuResentResponse),
        (status = 400, description = "90: a missing or malformed field, named in returnMessage", body = KumuErrorBody),
        (status = 401, description = "04: expired or unknown challenge", body = KumuErrorBody),
        (status = 403, description = "06: the application is gone or inactive", body = KumuErrorBody),
        (status = 429, description = "05: resend too soon or too often (data.retryAfterSeconds)", body = KumuErrorBody)))]
pub async fn resend_otp(State(state): State<AppState>, ctx: Ctx, KumuJson(req): KumuJson<ResendRequest>) -> KumuResult<Response> {
    limit(&state, &ctx)?;
    let user_id = required_uuid(&req.user_id, "userId")?;
    let challenge_id = required_uuid(&req.challenge_id, "challengeId")?;
    let c = state.core.otp_login().resend_otp(challenge_id, user_id.into(), DIALECT, &ctx.client).await?;
    Ok(ok(
        "OTP resent",
        json!({ "challengeId": c.challenge_id, "channel": c.channel.as_str(), "destination": c.destination, "expiresIn": c.expires_in }),
    ))
}

/// A new token pair for a refresh token (single use; reuse ends the session).
#[utoipa::path(post, path = "/v1/auth/token/refresh", tag = "kumusoft", request_body = RefreshRequest,
    responses((status = 200, description = "00: as otp/verify, with a new refresh token", body = KumuTokensResponse),
        (status = 400, description = "90: a missing or malformed field, named in returnMessage", body = KumuErrorBody),
        (status = 401, description = "07: invalid, expired or reused refresh token", body = KumuErrorBody),
        (status = 403, description = "06: the application is gone or inactive", body = KumuErrorBody),
        (status = 429, description = "05: too many requests (data.retryAfterSeconds, Retry-After)", body = KumuErrorBody)))]
pub async fn refresh(State(state): State<AppState>, ctx: Ctx, KumuJson(req): KumuJson<RefreshRequest>) -> KumuResult<Response> {
    limit(&state, &ctx)?;
    let token = required(&req.refresh_token, "refreshToken", 8192)?;
    let tenant = state.core.sessions().tenant_of_refresh_token(token, DIALECT, AuditAction::Refresh, &ctx.client).await?;
    // The application must still be there, active and tagged to get new tokens; if it is not, the
    // refresh token is not spent.
    let guard = ApplicationGuard::Active { admits: |app: &Application| app.alias(DIALECT).is_some() };
    let refreshed = state.core.sessions().refresh(&tenant, token, DIALECT, guard, &ctx.client).await?;
    let tag = refreshed
        .application
        .and_then(|a| a.alias(DIALECT).map(str::to_string))
        .ok_or(castellan_core::CoreError::UnknownApplication)?;
    Ok(ok("Token refreshed successfully", token_data(&state, &tenant, &refreshed.auth, &tag).await?))
}

/// Ends the session of the bearer token, or of the refresh token in the body.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "kumusoft", request_body(content = LogoutRequest, description = "Only without a bearer token"), security(("bearer" = [])),
    responses((status = 200, description = "00: the session ended; data null", body = KumuDone),
        (status = 400, description = "90: a missing or malformed field, named in returnMessage", body = KumuErrorBody),
        (status = 401, description = "08: bad access token / 07: bad refresh token", body = KumuErrorBody),
        (status = 429, description = "05: too many requests (data.retryAfterSeconds, Retry-After)", body = KumuErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    KumuJson(req): KumuJson<LogoutRequest>,
) -> KumuResult<Response> {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        let access = authenticate(&state, &headers).await?;
        let session = access.require_session()?;
        state.core.sessions().revoke_session(&access.tenant, session.user_id, session.id.as_str(), &ctx.client).await?;
        return Ok(ok("Logged out successfully", Value::Null));
    }
    let Some(token) = req.refresh_token.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(castellan_core::CoreError::Unauthorized.into());
    };
    limit(&state, &ctx)?;
    let tenant = state.core.sessions().tenant_of_refresh_token(token, DIALECT, AuditAction::Logout, &ctx.client).await?;
    state.core.sessions().end_session_by_refresh_token(&tenant, token, &ctx.client).await?;
    Ok(ok("Logged out successfully", Value::Null))
}

/// The signed-in user's profile.
#[utoipa::path(get, path = "/v1/auth/me", tag = "kumusoft", security(("bearer" = [])),
    responses((status = 200, description = "00: the profile", body = KumuProfileResponse),
        (status = 401, description = "08: missing, invalid, expired or revoked access token", body = KumuErrorBody)))]
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> KumuResult<Response> {
    let access = authenticate(&state, &headers).await?;
    let user = state.core.tokens().signed_in_user(&access).await?;
    Ok(ok("Profile retrieved successfully", profile(&user, access.claims.text(TAG_CLAIM).unwrap_or_default())))
}
