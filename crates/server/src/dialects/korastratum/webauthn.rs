//! Korastratum's 2FA with WebAuthn, for clients that can run a ceremony (apps with the platform's
//! passkey API, browsers): add, list and remove credentials with an access token; finish a login
//! that answered `mfaRequired` with `methods` naming `webauthn`. Options and answers are WebAuthn
//! JSON. docs/dialects/korastratum.md and docs/passkeys.md.

use axum::extract::{Path, State};
use axum::response::Response;
use castellan_core::CoreError;
use castellan_core::model::CredentialKind;
use castellan_core::services::login::SecondFactor;
use castellan_core::services::passkeys::RECENT_SIGN_IN;
use serde_json::{Value, json};

use super::DIALECT;
use super::dto::*;
use super::error::{KoraError, KoraResult};
use super::extract::{KJson, KTenant, Principal};
use super::handlers::{limit, ok, token_body};
use super::schemas::*;
use crate::client::Ctx;
use crate::state::AppState;

/// Changing how one signs in needs a login of the last ten minutes: a stolen access token (which
/// refreshes keep alive in the same session) cannot plant a passkey or remove a key.
fn recent(state: &AppState, p: &Principal) -> KoraResult<()> {
    if state.core.now() - p.session.created_at <= RECENT_SIGN_IN {
        return Ok(());
    }
    Err(KoraError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "REAUTHENTICATION_REQUIRED",
        "Log in again (within ten minutes) to change how you sign in",
    ))
}

fn kind(raw: Option<&str>) -> KoraResult<CredentialKind> {
    match raw {
        None | Some("") => Ok(CredentialKind::SecurityKey),
        Some(k) => Ok(CredentialKind::parse(k).ok_or_else(|| CoreError::field("kind", "passkey or security_key"))?),
    }
}

/// Options for adding a security key or passkey to the caller's account.
#[utoipa::path(post, path = "/api/v1/auth/2fa/webauthn/register-options", tag = "korastratum", request_body = WebauthnRegisterOptionsRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "`data.publicKey`: PublicKeyCredentialCreationOptions (WebAuthn JSON); `data.ceremony`: sent back with the credential (5 minutes, once)", body = KoraWebauthnOptions),
        (status = 400, description = "TENANT_REQUIRED, or VALIDATION_ERROR (a bad kind; WebAuthn not set up for the tenant: details.webauthn)", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session; REAUTHENTICATION_REQUIRED: the session's login is more than ten minutes old", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn webauthn_register_options(
    State(state): State<AppState>,
    p: Principal,
    KJson(req): KJson<WebauthnRegisterOptionsRequest>,
) -> KoraResult<Response> {
    recent(&state, &p)?;
    let user = state.core.users().get_user(&p.tenant, p.user_id).await?;
    let kind = kind(req.kind.as_deref())?;
    Ok(ok(state.core.passkeys().begin_registration(&p.tenant, &user, kind).await?.into_json()))
}

/// Adds the credential the client's authenticator made.
#[utoipa::path(post, path = "/api/v1/auth/2fa/webauthn/register", tag = "korastratum", request_body = WebauthnRegisterRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "The credential added", body = KoraWebauthnCredential),
        (status = 400, description = "TENANT_REQUIRED, or VALIDATION_ERROR: refused (details.credential says why: origin, RP ID, user verification, an authenticator not allowed, already registered) or a spent or expired ceremony (details.ceremony)", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session; REAUTHENTICATION_REQUIRED: the session's login is more than ten minutes old", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn webauthn_register(
    State(state): State<AppState>,
    ctx: Ctx,
    p: Principal,
    KJson(req): KJson<WebauthnRegisterRequest>,
) -> KoraResult<Response> {
    recent(&state, &p)?;
    let user = state.core.users().get_user(&p.tenant, p.user_id).await?;
    let kind = kind(req.kind.as_deref())?;
    let name = req.name.unwrap_or_default();
    let added = state
        .core
        .passkeys()
        .finish_registration(&p.tenant, &user, kind, &req.ceremony, &req.credential.to_string(), &name, &ctx.client)
        .await
        .map_err(|e| match e {
            CoreError::InvalidToken => CoreError::field("ceremony", "unknown, spent or expired: ask for new options"),
            e => e,
        })?;
    Ok(ok(credential_json(&added)))
}

fn credential_json(c: &castellan_core::model::WebauthnCredential) -> Value {
    json!({"id": c.id, "kind": c.kind.as_str(), "name": c.name, "createdAt": c.created_at, "lastUsedAt": c.last_used_at})
}

/// The caller's security keys and passkeys.
#[utoipa::path(get, path = "/api/v1/auth/2fa/webauthn/credentials", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "The credentials, oldest first", body = KoraWebauthnCredentials),
        (status = 400, description = "TENANT_REQUIRED: no X-Tenant-ID", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn webauthn_credentials(State(state): State<AppState>, p: Principal) -> KoraResult<Response> {
    let list = state.core.passkeys().list(&p.tenant, p.user_id).await?;
    Ok(ok(Value::Array(list.iter().map(credential_json).collect())))
}

/// Removes one of the caller's credentials.
#[utoipa::path(delete, path = "/api/v1/auth/2fa/webauthn/credentials/{id}", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug"), ("id" = String, Path, description = "The credential's id")), security(("bearer" = [])),
    responses((status = 200, description = "`data: null`", body = KoraDone),
        (status = 400, description = "TENANT_REQUIRED: no X-Tenant-ID", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session; REAUTHENTICATION_REQUIRED: the session's login is more than ten minutes old", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND / NOT_FOUND: no such credential of the caller", body = KoraErrorBody)))]
pub async fn webauthn_remove(
    State(state): State<AppState>,
    ctx: Ctx,
    p: Principal,
    Path(id): Path<String>,
) -> KoraResult<Response> {
    recent(&state, &p)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| CoreError::NotFound)?;
    state.core.passkeys().delete(&p.tenant, p.user_id, id, &ctx.client).await?;
    Ok(ok(Value::Null))
}

/// Options for the second step of a login that answered `mfaRequired` with `webauthn`.
#[utoipa::path(post, path = "/api/v1/auth/2fa/webauthn/login-options", tag = "korastratum", request_body = WebauthnLoginOptionsRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 200, description = "`data.publicKey`: PublicKeyCredentialRequestOptions naming the user's credentials; `data.ceremony`", body = KoraWebauthnOptions),
        (status = 400, description = "TENANT_REQUIRED or VALIDATION_ERROR", body = KoraErrorBody),
        (status = 401, description = "INVALID_MFA_CODE: an unknown, spent or expired mfaToken", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND / NOT_FOUND: the user has no credential", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn webauthn_login_options(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<WebauthnLoginOptionsRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    let user = state.core.login().mfa_user(&tenant, &req.mfa_token).await?;
    Ok(ok(state.core.passkeys().begin_sign_in(&tenant, Some(&user)).await?.into_json()))
}

/// Finishes a login that answered `mfaRequired` with a WebAuthn assertion.
#[utoipa::path(post, path = "/api/v1/auth/2fa/webauthn/verify-login", tag = "korastratum", request_body = WebauthnVerifyLoginRequest, params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")),
    responses((status = 200, description = "Tokens", body = KoraTokenResponse),
        (status = 400, description = "TENANT_REQUIRED (no X-Tenant-ID) or VALIDATION_ERROR (details name the field)", body = KoraErrorBody),
        (status = 401, description = "INVALID_MFA_CODE: the assertion was refused (wrong origin or RP ID, no user verification, another user's credential, a spent or expired ceremony, a counter that went back), or an unknown or expired mfaToken", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody),
        (status = 423, description = "ACCOUNT_LOCKED", body = KoraErrorBody),
        (status = 429, description = "RATE_LIMITED (Retry-After)", body = KoraErrorBody)))]
pub async fn webauthn_verify_login(
    State(state): State<AppState>,
    ctx: Ctx,
    KTenant(tenant): KTenant,
    KJson(req): KJson<WebauthnVerifyLoginRequest>,
) -> KoraResult<Response> {
    limit(&state, &ctx)?;
    let response = req.credential.to_string();
    let factor = SecondFactor::Key { ceremony: &req.ceremony, response: &response };
    let (auth, _) = state.core.login().complete_mfa_with(&tenant, &req.mfa_token, factor, &ctx.client).await?;
    state.metrics.record_login(DIALECT, "success");
    Ok(ok(token_body(&state, &tenant, &auth).await?))
}

/// Ten new recovery codes for the caller, shown once; the old ones stop working. Each finishes
/// one login's second step (as `token` of `/api/v1/auth/2fa/verify-login`).
#[utoipa::path(post, path = "/api/v1/auth/2fa/recovery-codes", tag = "korastratum", params(("X-Tenant-ID" = String, Header, example = "fmfb", description = "Tenant UUID or slug")), security(("bearer" = [])),
    responses((status = 200, description = "`data.codes`: ten codes, shown this once", body = KoraRecoveryCodes),
        (status = 400, description = "TENANT_REQUIRED: no X-Tenant-ID", body = KoraErrorBody),
        (status = 401, description = "UNAUTHORIZED: missing, invalid or expired access token, or ended session; REAUTHENTICATION_REQUIRED: the session's login is more than ten minutes old", body = KoraErrorBody),
        (status = 404, description = "TENANT_NOT_FOUND", body = KoraErrorBody)))]
pub async fn recovery_codes(State(state): State<AppState>, ctx: Ctx, p: Principal) -> KoraResult<Response> {
    recent(&state, &p)?;
    let user = state.core.users().get_user(&p.tenant, p.user_id).await?;
    let codes = state.core.passkeys().new_recovery_codes(&p.tenant, &user, &ctx.client).await?;
    Ok(ok(json!({ "codes": codes })))
}
