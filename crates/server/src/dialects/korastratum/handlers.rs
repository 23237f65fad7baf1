//! Korastratum handlers: parse, make one core call, shape the answer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use castellan_core::model::{KeyAlg, Tenant};
use castellan_core::services::access_tokens::{AccessGrant, TokenProfile};
use castellan_core::services::login::{LoginOutcome, PasswordLogin, SecondFactor};
use castellan_core::services::registration::Registration;
use castellan_core::services::sessions::{ApplicationGuard, Authenticated};
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::DIALECT;
use super::dto::*;
use super::error::{KoraError, KoraResult};
use super::extract::{KJson, KTenant, Principal};
use super::schemas::*;
use crate::client::Ctx;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    paths(login, refresh, verify_login, totp_status, totp_setup, totp_verify_setup, totp_disable, list_sessions,
          revoke_session, logout, logout_all, register, verify_email, forgot_password, reset_password,
          super::webauthn::webauthn_register_options, super::webauthn::webauthn_register, super::webauthn::webauthn_credentials,
          super::webauthn::webauthn_remove, super::webauthn::webauthn_login_options, super::webauthn::webauthn_verify_login,
          super::webauthn::recovery_codes),
    components(schemas(LoginRequest, DeviceInfo, RefreshRequest, VerifyLoginRequest, TotpCodeRequest, RegisterRequest,
                       TokenRequest, ForgotPasswordRequest, ResetPasswordRequest, WebauthnRegisterOptionsRequest,
                       WebauthnRegisterRequest, WebauthnLoginOptionsRequest, WebauthnVerifyLoginRequest)),
    tags((name = "korastratum", description = "Tenant-scoped banking auth: send X-Tenant-ID on every request."))
)]
pub struct ApiDoc;

pub(super) fn ok(data: Value) -> Response {
    Json(json!({ "success": true, "data": data })).into_response()
}

pub(super) fn limit(state: &AppState, ctx: &Ctx) -> KoraResult<()> {
    state.auth_limiter.check(ctx.ip).map_err(KoraError::rate_limited)
}

/// Korastratum's access tokens: HS256, the tenant in `tenantId`, always a session.
pub const PROFILE: TokenProfile = TokenProfile {
    dialect: DIALECT,
    algs: &[KeyAlg::HS256],
    typ: "JWT",
    tenant_claim: Some("tenantId"),
    not_before: false,
    audience_list: false,
    fixed: &[],
    client_claim: None,
    realm_issuer: false,
};

/// The login success body: user, a fresh token pair, tenant.
pub(super) async fn token_body(state: &AppState, tenant: &Tenant, auth: &Authenticated) -> KoraResult<Value> {
    let u = &auth.user;
    let extra = json!({
        "userId": u.id,
        "email": u.email,
        "role": u.role,
        "permissions": u.permissions,
        "mfaEnabled": u.mfa_enabled,
        "kycStatus": kyc_status(u),
        "kycLevel": kyc_level(u),
    });
    let grant = AccessGrant::for_session(&auth.session, tenant.audience.clone(), extra);
    let access = state.core.tokens().issue_access_token(tenant, &PROFILE, grant).await?;
    let ttl = tenant.policy.tokens.access_ttl_seconds;
    Ok(json!({
        "user": user_json(u),
        "tokens": { "accessToken": access, "refreshToken": auth.refresh_token, "expiresIn": ttl, "tokenType": "Bearer" },
        "tenant": tenant_json(tenant),
    }))
}

/// Sign in with email and password (and a TOTP code, if the user has 2FA on).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "korastratum", request_body = LoginRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 200, description = "Tokens, or mfaRequired with an mfaToken for 2fa/verify-login", body = KoraLoginResponse),
        (status = 400, description = "TENANT_REQUIRED (no X-Tenant-ID) or VALIDATION_ERROR (details name the field)", body = KoraErrorBody),
        (status = 401, description = "INVALID_CREDENTIALS / INVALID_MFA_CODE", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody),
        (status = 423, description = "ACCOUNT_LOCKED (details.retryAfterSeconds, Retry-After)", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<LoginRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    let login = PasswordLogin {
        identifier: req.email,
        password: req.password,
        totp_code: req.totp_code.filter(|c| !c.is_empty()),
        device: device_json(req.device_info.as_ref()),
        dialect: DIALECT,
        // A user with WebAuthn credentials registered them through a client that runs the
        // ceremony (below, or the hosted pages): it can run one again at sign-in.
        keys_as_second_factor: true,
    };
    let outcome = state
        .core
        .login()
        .login_with_password(&tenant, login, &ctx.client)
        .await
        .map_err(|e| e.rename_field(castellan_core::services::login::IDENTIFIER_FIELD, "email"));
    let label = match &outcome {
        Ok(LoginOutcome::Authenticated(_)) => "success",
        Ok(LoginOutcome::MfaRequired { .. }) => "mfa_required",
        Err(castellan_core::CoreError::AccountLocked { .. }) => "locked",
        Err(_) => "failure",
    };
    state.metrics.record_login(DIALECT, label);
    match outcome? {
        LoginOutcome::Authenticated(auth) => Ok(ok(token_body(&state, &tenant, &auth).await?)),
        LoginOutcome::MfaRequired { mfa_token, methods } => {
            Ok(ok(json!({ "mfaRequired": true, "mfaToken": mfa_token, "methods": methods })))
        }
    }
}

/// Exchange a refresh token (single use) for a new pair.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "korastratum", request_body = RefreshRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 200, description = "A new token pair", body = KoraTokenResponse),
        (status = 400, description = "TENANT_REQUIRED (no X-Tenant-ID) or VALIDATION_ERROR (details name the field)", body = KoraErrorBody),
        (status = 401, description = "INVALID_REFRESH_TOKEN / REFRESH_TOKEN_REUSED (the session is revoked)", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<RefreshRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    let refreshed =
        state.core.sessions().refresh(&tenant, &req.refresh_token, DIALECT, ApplicationGuard::Any, &ctx.client).await?;
    Ok(ok(token_body(&state, &tenant, &refreshed.auth).await?))
}

/// Finish a login that answered `mfaRequired`: `token` is the TOTP code, or one of the user's
/// recovery codes (`XXXXX-XXXXX`).
#[utoipa::path(post, path = "/api/v1/auth/2fa/verify-login", tag = "korastratum", request_body = VerifyLoginRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 200, description = "Tokens", body = KoraTokenResponse),
        (status = 400, description = "TENANT_REQUIRED (no X-Tenant-ID) or VALIDATION_ERROR (details name the field)", body = KoraErrorBody),
        (status = 401, description = "INVALID_MFA_CODE, or an unknown or expired mfaToken", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody),
        (status = 423, description = "ACCOUNT_LOCKED", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn verify_login(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<VerifyLoginRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    // A TOTP code is digits; anything else is taken as one of the user's recovery codes.
    let code = req.token.as_str();
    let factor = if !code.is_empty() && code.len() <= 8 && code.bytes().all(|b| b.is_ascii_digit()) {
        SecondFactor::Totp(code)
    } else {
        SecondFactor::RecoveryCode(code)
    };
    let (auth, _) = state.core.login().complete_mfa_with(&tenant, &req.mfa_token, factor, &ctx.client).await?;
    state.metrics.record_login(DIALECT, "success");
    Ok(ok(token_body(&state, &tenant, &auth).await?))
}

/// Whether 2FA is on, or waiting for its first code.
#[utoipa::path(post, path = "/api/v1/auth/2fa/status", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "Whether TOTP is on, or enrolled and waiting for its first code", body = KoraTotpStatusResponse),
        (status = 400, description = "TENANT_REQUIRED: no X-Tenant-ID", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn totp_status(State(state): State<AppState>, p: Principal) -> KoraResult<Response> {
    let user = state.core.users().get_user(&p.tenant, p.user_id).await?;
    let s = state.core.totp().totp_status(&p.tenant, &user).await?;
    Ok(ok(json!({ "enabled": s.enabled, "pending": s.pending })))
}

/// Start TOTP enrolment: secret, otpauth URL and QR code; not active until verified.
#[utoipa::path(post, path = "/api/v1/auth/2fa/setup", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "secret, otpauthUrl, qrCodeUrl", body = KoraTotpSetupResponse),
        (status = 400, description = "TENANT_REQUIRED, or VALIDATION_ERROR: 2FA already enabled", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn totp_setup(State(state): State<AppState>, ctx: Ctx, p: Principal) -> KoraResult<Response> {
    let user = state.core.users().get_user(&p.tenant, p.user_id).await?;
    let e = state.core.totp().begin_totp_enrollment(&p.tenant, &user, &ctx.client).await?;
    Ok(ok(json!({ "secret": e.secret, "otpauthUrl": e.otpauth_url, "qrCodeUrl": e.qr_png_data_url })))
}

/// Activate TOTP with a first valid code.
#[utoipa::path(post, path = "/api/v1/auth/2fa/verify-setup", tag = "korastratum", request_body = TotpCodeRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "`{enabled: true}`", body = KoraEnabledResponse),
        (status = 400, description = "TENANT_REQUIRED (no X-Tenant-ID) or VALIDATION_ERROR (details name the field)", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED / INVALID_MFA_CODE", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn totp_verify_setup(
    State(state): State<AppState>,
    ctx: Ctx,
    p: Principal,
    KJson(req): KJson<TotpCodeRequest>,
) -> KoraResult<Response> {
    let user = state.core.users().get_user(&p.tenant, p.user_id).await?;
    state.core.totp().confirm_totp_enrollment(&p.tenant, &user, &req.token, &ctx.client).await?;
    Ok(ok(json!({ "enabled": true })))
}

/// Turn TOTP off (needs a valid current code).
#[utoipa::path(post, path = "/api/v1/auth/2fa/disable", tag = "korastratum", request_body = TotpCodeRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "`{enabled: false}`", body = KoraEnabledResponse),
        (status = 400, description = "TENANT_REQUIRED (no X-Tenant-ID) or VALIDATION_ERROR (details name the field)", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED / INVALID_MFA_CODE", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn totp_disable(
    State(state): State<AppState>,
    ctx: Ctx,
    p: Principal,
    KJson(req): KJson<TotpCodeRequest>,
) -> KoraResult<Response> {
    let user = state.core.users().get_user(&p.tenant, p.user_id).await?;
    state.core.totp().disable_totp(&p.tenant, &user, &req.token, &ctx.client).await?;
    Ok(ok(json!({ "enabled": false })))
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "The live sessions, the caller's marked current", body = KoraSessionsResponse),
        (status = 400, description = "TENANT_REQUIRED: no X-Tenant-ID", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn list_sessions(State(state): State<AppState>, p: Principal) -> KoraResult<Response> {
    let sessions = state.core.sessions().list_sessions(&p.tenant, p.user_id).await?;
    Ok(ok(Value::Array(sessions.iter().map(|s| session_json(s, p.session.id.as_str())).collect())))
}

/// End one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug"), ("id" = String, Path, description = "Session id (sess_…)")), security(("bearer" = [])),
    responses((status = 200, description = "`data: null`", body = KoraDone),
        (status = 400, description = "TENANT_REQUIRED: no X-Tenant-ID", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND / NOT_FOUND: no such session of the caller", body = KoraErrorBody)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    ctx: Ctx,
    p: Principal,
    Path(id): Path<String>,
) -> KoraResult<Response> {
    state.core.sessions().revoke_session(&p.tenant, p.user_id, &id, &ctx.client).await?;
    Ok(ok(Value::Null))
}

/// End the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "`data: null`", body = KoraDone),
        (status = 400, description = "TENANT_REQUIRED: no X-Tenant-ID", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn logout(State(state): State<AppState>, ctx: Ctx, p: Principal) -> KoraResult<Response> {
    state.core.sessions().revoke_session(&p.tenant, p.user_id, p.session.id.as_str(), &ctx.client).await?;
    Ok(ok(Value::Null))
}

/// End every session of the caller.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "How many sessions ended", body = KoraRevokedResponse),
        (status = 400, description = "TENANT_REQUIRED: no X-Tenant-ID", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn logout_all(State(state): State<AppState>, ctx: Ctx, p: Principal) -> KoraResult<Response> {
    let n = state.core.sessions().revoke_all_sessions(&p.tenant, p.user_id, &ctx.client).await?;
    Ok(ok(json!({ "revoked": n })))
}

/// Create an account (where the tenant allows self-registration); a verification email follows.
#[utoipa::path(post, path = "/api/v1/registration/register", tag = "korastratum", request_body = RegisterRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 201, description = "The new, unverified user", body = KoraRegisterResponse),
        (status = 400, description = "TENANT_REQUIRED / VALIDATION_ERROR / WEAK_PASSWORD (details.unmetRules)", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND, or NOT_FOUND: the tenant does not allow self-registration", body = KoraErrorBody),
        (status = 409, description = "EMAIL_TAKEN", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<RegisterRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    let r = Registration {
        email: req.email,
        password: req.password,
        first_name: Some(req.first_name),
        last_name: Some(req.last_name),
        phone: req.phone,
    };
    let user = state.core.registrations().register(&tenant, r, &ctx.client).await?;
    Ok((StatusCode::CREATED, Json(json!({ "success": true, "data": { "user": user_json(&user) } }))).into_response())
}

/// Confirm an email address with the token from the verification email.
#[utoipa::path(post, path = "/api/v1/registration/verify-email", tag = "korastratum", request_body = TokenRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 200, description = "`{emailVerified: true}`", body = KoraEmailVerifiedResponse),
        (status = 400, description = "TENANT_REQUIRED / VALIDATION_ERROR / INVALID_RESET_TOKEN (invalid, expired or used token)", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn verify_email(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<TokenRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    let user = state.core.registrations().verify_email(&tenant, &req.token, &ctx.client).await?;
    Ok(ok(json!({ "emailVerified": user.email_verified })))
}

/// Ask for a password-reset email. Always 200, whether or not the address has an account.
#[utoipa::path(post, path = "/api/v1/registration/forgot-password", tag = "korastratum", request_body = ForgotPasswordRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 200, description = "`data: null`, whether or not the address has an account", body = KoraDone),
        (status = 400, description = "TENANT_REQUIRED (no X-Tenant-ID) or VALIDATION_ERROR (details name the field)", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<ForgotPasswordRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    state.core.forgot_password(&tenant, &req.email, &ctx.client);
    Ok(ok(Value::Null))
}

/// Set a new password with the mailed token; every session of the user ends.
#[utoipa::path(post, path = "/api/v1/registration/reset-password", tag = "korastratum", request_body = ResetPasswordRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 200, description = "`data: null`", body = KoraDone),
        (status = 400, description = "TENANT_REQUIRED / VALIDATION_ERROR / INVALID_RESET_TOKEN / WEAK_PASSWORD", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<ResetPasswordRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    state.core.registrations().reset_password(&tenant, &req.token, &req.new_password, &ctx.client).await?;
    Ok(ok(Value::Null))
}
