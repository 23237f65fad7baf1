//! MOSIP authmanager: OTP, password and client-credential authentication, token validation,
//! invalidation and refresh. Each handler reads the envelope, makes its core calls and answers
//! in the envelope, with the token in a header and a cookie.

use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use castellan_core::CoreError;
use castellan_core::model::{Application, ApplicationKind, Tenant};
use castellan_core::services::ClientContext;
use castellan_core::services::key_otp::{LoginCodeRequest, UserLookup};
use castellan_core::services::login::{LoginOutcome, PasswordLogin};
use castellan_core::services::otp_login::OtpChannel;
use castellan_core::services::sessions::{ApplicationGuard, Authenticated};
use serde_json::{Value, json};

use super::DIALECT;
use super::dto::*;
use super::envelope::{Fields, MosipError, MosipResult, Reply, read_envelope, respond};
use super::tokens::{self, add_refresh_cookie, token_headers};
use crate::client::Ctx;
use crate::state::AppState;

const SENDOTP: &str = "mosip.authentication.sendotp";
const USERID_OTP: &str = "mosip.authentication.useridOTP";
const INVALIDATE: &str = "mosip.authorize.invalidatetoken";

fn limit(state: &AppState, ctx: &Ctx) -> MosipResult<()> {
    state.auth_limiter.check(ctx.ip).map_err(MosipError::too_many)
}

/// The application an appId names and its tenant (the realm); `KER-ATH-026` otherwise.
async fn realm(state: &AppState, app_id: &str) -> MosipResult<(Application, Tenant)> {
    state.core.applications().application_by_alias(DIALECT, app_id).await.map_err(|e| realm_error(app_id, e))
}

/// A realm lookup's refusal: a fault or a malformed appId answers as such, anything else as an
/// unknown realm.
fn realm_error(app_id: &str, e: CoreError) -> MosipError {
    match e {
        CoreError::Storage(_) | CoreError::Internal(_) | CoreError::Validation(_) => MosipError::from(e),
        CoreError::UnknownApplication
        | CoreError::TenantNotFound
        | CoreError::NotFound
        | CoreError::Disabled
        | CoreError::Forbidden
        | CoreError::Unauthorized
        | CoreError::InvalidCredentials
        | CoreError::EmailNotVerified
        | CoreError::AccountLocked { .. }
        | CoreError::InvalidMfaCode
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
        | CoreError::InvalidToken
        | CoreError::RateLimited { .. }
        | CoreError::Overloaded => MosipError::realm_not_found(app_id),
    }
}

fn with_app(ctx: &Ctx, app: &Application) -> ClientContext {
    ClientContext { application_id: Some(app.id), ..ctx.client.clone() }
}

/// A signed user token and the headers that carry it (and the refresh cookie).
async fn user_tokens(state: &AppState, tenant: &Tenant, auth: &Authenticated, azp: &str) -> MosipResult<(String, HeaderMap)> {
    let now = state.core.now();
    let grant = tokens::user_grant(&auth.user, &auth.session, azp);
    let token = state.core.tokens().issue_access_token(tenant, &tokens::PROFILE, grant).await?;
    let mut headers = token_headers(state, &token, tenant.policy.tokens.access_ttl_seconds);
    add_refresh_cookie(state, &mut headers, &auth.refresh_token, auth.refresh_expires_at - now);
    Ok((token, headers))
}

/// The answer of useridPwd and refreshToken.
fn token_response(tenant: &Tenant, auth: &Authenticated, token: String, message: &str, now: i64) -> Value {
    json!({
        "token": token,
        "message": message,
        "refreshToken": auth.refresh_token,
        "expiryTime": tenant.policy.tokens.access_ttl_seconds,
        "userId": tokens::preferred_username(&auth.user),
        "status": "success",
        "refreshExpiryTime": auth.refresh_expires_at - now,
    })
}

/// Sends a one-time code to the user's email and/or phone.
#[utoipa::path(post, path = "/v1/authmanager/authenticate/sendotp", tag = "mosip", request_body(content = MosipRequest<SendOtpRequest>, description = "The envelope; `request` field names match case-insensitively"),
    responses((status = 200, description = "response {status: success, message}; or errors: KER-AUTH-CHANNEL_INVALID, \
        AUTH_ERR_MULTIPLE_CHANNELS, AUTH_ERR_USER_NOT_FOUND, AUTH_ERR_CHANNELPATH_NOT_FOUND, KER-ATH-026, KER-ATH-019, KER-ATH-004", body = MosipStatusEnvelope),
        (status = 400, description = "KER-ATH-004: the body is not JSON, or unreadable", body = ResponseEnvelope),
        (status = 429, description = "KER-ATH-429 (Retry-After)", body = ResponseEnvelope)))]
pub async fn sendotp(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    match read_envelope(req, &state, Some(SENDOTP), true).await {
        Ok(env) => respond(Some(SENDOTP), send_otp(&state, &ctx, &env.request).await),
        Err(refused) => refused,
    }
}

async fn send_otp(state: &AppState, ctx: &Ctx, f: &Fields) -> MosipResult<Reply> {
    limit(state, ctx)?;
    let user_id = f.required("userId", 320)?;
    let requested = f.strings("otpChannel")?.ok_or_else(|| MosipError::missing("otpChannel"))?;
    let id_type = f.required("useridtype", 20)?;
    let app_id = f.required("appId", 100)?;
    f.text("context", 100)?;
    let vars = f.string_map("templateVariables")?;
    let mut channels = Vec::new();
    for name in &requested {
        let channel = match name.trim().to_ascii_lowercase().as_str() {
            "email" => OtpChannel::Email,
            "phone" | "mobile" | "sms" => OtpChannel::Sms,
            _ => return Err(MosipError::new("KER-AUTH-CHANNEL_INVALID", "The passed channel is invalid.")),
        };
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    if channels.is_empty() {
        return Err(MosipError::new("KER-AUTH-CHANNEL_INVALID", "The passed channel is invalid."));
    }
    let (app, tenant) = realm(state, &app_id).await?;
    let lookup = match id_type.to_ascii_uppercase().as_str() {
        "UIN" => UserLookup::Uin(&user_id),
        "USERID" => UserLookup::Username(&user_id),
        _ => return Err(MosipError::invalid("useridtype", "must be UIN or USERID")),
    };
    let request = LoginCodeRequest { key: &user_id, lookup, channels: &channels, application: &app, template_vars: &vars };
    state.core.key_codes().send_login_code(&tenant, request, &with_app(ctx, &app)).await?;
    Ok(Reply::new(json!({ "status": "success", "message": "OTP had been sent successfully" })))
}

/// Signs in with the code sendotp sent: the token comes back in a header and a cookie.
#[utoipa::path(post, path = "/v1/authmanager/authenticate/useridOTP", tag = "mosip", request_body(content = MosipRequest<UserIdOtpRequest>, description = "The envelope; `request` field names match case-insensitively"),
    responses((status = 200, description = "Authorization header and Set-Cookie Authorization=Mosip-Token<JWT>; \
        response {status: success, message}; or errors AUTH_ERR_INVALIDOTP, AUTH_ERR_EXPIREDOTP, KER-ATH-026, KER-ATH-019", body = MosipStatusEnvelope),
        (status = 400, description = "KER-ATH-004: the body is not JSON, or unreadable", body = ResponseEnvelope),
        (status = 429, description = "KER-ATH-429 (Retry-After)", body = ResponseEnvelope)))]
pub async fn userid_otp(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    match read_envelope(req, &state, Some(USERID_OTP), true).await {
        Ok(env) => respond(Some(USERID_OTP), login_with_otp(&state, &ctx, &env.request).await),
        Err(refused) => refused,
    }
}

async fn login_with_otp(state: &AppState, ctx: &Ctx, f: &Fields) -> MosipResult<Reply> {
    limit(state, ctx)?;
    let user_id = f.required("userId", 320)?;
    let otp = f.required("otp", 16)?;
    let app_id = f.text("appId", 100)?;
    let (realm, client) = match &app_id {
        Some(app_id) => {
            let (app, tenant) = realm(state, app_id).await?;
            (Some(tenant), with_app(ctx, &app))
        }
        None => (None, ctx.client.clone()),
    };
    // Without an appId, the realm and the application are those the pending code was sent for.
    let (tenant, auth, sent_for) =
        state.core.key_codes().login_with_code(realm.as_ref(), &user_id, &otp, DIALECT, &client).await?;
    let azp = match (app_id, sent_for) {
        (Some(app_id), _) => app_id,
        (None, Some(id)) => state
            .core
            .applications()
            .application_by_id(&tenant, id)
            .await
            .ok()
            .and_then(|a| a.alias(DIALECT).map(str::to_string))
            .unwrap_or_default(),
        (None, None) => String::new(),
    };
    let (_, headers) = user_tokens(state, &tenant, &auth, &azp).await?;
    Ok(Reply { response: json!({ "status": "success", "message": "OTP validation is successfull" }), headers })
}

/// Signs a user in with username and password, through a confidential client of the realm.
#[utoipa::path(post, path = "/v1/authmanager/authenticate/internal/useridPwd", tag = "mosip", request_body(content = MosipRequest<UserIdPwdRequest>, description = "The envelope; `request` field names match case-insensitively"),
    responses((status = 200, description = "response {token, message, refreshToken, expiryTime, userId, status, refreshExpiryTime} \
        with the Authorization header and cookie; or errors KER-ATH-023 (credentials), KER-ATH-026 (appId), KER-ATH-019", body = MosipTokenEnvelope),
        (status = 400, description = "KER-ATH-004: the body is not JSON, or unreadable", body = ResponseEnvelope),
        (status = 429, description = "KER-ATH-429 (Retry-After)", body = ResponseEnvelope)))]
pub async fn userid_pwd(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    match read_envelope(req, &state, None, true).await {
        Ok(env) => respond(env.id.as_deref(), login_with_password(&state, &ctx, &env.request).await),
        Err(refused) => refused,
    }
}

async fn login_with_password(state: &AppState, ctx: &Ctx, f: &Fields) -> MosipResult<Reply> {
    limit(state, ctx)?;
    let app_id = f.required("appId", 100)?;
    let client_id = f.required("clientId", 100)?;
    let client_secret = f.required("clientSecret", 1024)?;
    let user_name = f.required("userName", 320)?;
    let password = f.required("password", 1024)?;
    let (_, tenant) = realm(state, &app_id).await?;
    // A user signs in only through a confidential client, never a service account.
    let client = state
        .core
        .applications()
        .authenticate_client(&tenant, &client_id, &client_secret, &[ApplicationKind::Confidential], &ctx.client)
        .await?;
    let login = PasswordLogin {
        identifier: user_name,
        password,
        totp_code: None,
        device: json!({ "azp": client.client_id }),
        dialect: DIALECT,
        keys_as_second_factor: false,
    };
    let auth = match state.core.login().login_with_password(&tenant, login, &with_app(ctx, &client)).await {
        Ok(LoginOutcome::Authenticated(auth)) => *auth,
        // This endpoint has no second step: a user with an authenticator signs in by OTP.
        Ok(LoginOutcome::MfaRequired { .. }) => return Err(CoreError::InvalidCredentials.into()),
        Err(e) => {
            state.metrics.record_login(DIALECT, "failure");
            return Err(e.rename_field(castellan_core::services::login::IDENTIFIER_FIELD, "userName").into());
        }
    };
    state.metrics.record_login(DIALECT, "success");
    let (token, headers) = user_tokens(state, &tenant, &auth, &client.client_id).await?;
    let message = "Username and password combination had been validated successfully";
    Ok(Reply { response: token_response(&tenant, &auth, token, message, state.core.now()), headers })
}

/// A service account's token (client credentials), in a header and a cookie.
#[utoipa::path(post, path = "/v1/authmanager/authenticate/clientidsecretkey", tag = "mosip", request_body(content = MosipRequest<ClientIdSecretKeyRequest>, description = "The envelope; `request` field names match case-insensitively"),
    responses((status = 200, description = "authorization header and cookie; response {status: Success, message}; or errors \
        {errorCode: \"500\", message: \"401 Unauthorized\"} (credentials), KER-ATH-026 (appId), KER-ATH-019", body = MosipStatusEnvelope),
        (status = 400, description = "KER-ATH-004: the body is not JSON, or unreadable", body = ResponseEnvelope),
        (status = 429, description = "KER-ATH-429 (Retry-After)", body = ResponseEnvelope)))]
pub async fn client_id_secret_key(State(state): State<AppState>, ctx: Ctx, req: Request) -> Response {
    match read_envelope(req, &state, None, true).await {
        Ok(env) => respond(env.id.as_deref(), client_credentials(&state, &ctx, &env.request).await),
        Err(refused) => refused,
    }
}

async fn client_credentials(state: &AppState, ctx: &Ctx, f: &Fields) -> MosipResult<Reply> {
    limit(state, ctx)?;
    let app_id = f.required("appId", 100)?;
    let client_id = f.required("clientId", 100)?;
    let secret = f.required("secretKey", 1024)?;
    let (_, tenant) = realm(state, &app_id).await?;
    let accepted = [ApplicationKind::Confidential, ApplicationKind::Service];
    let app = state.core.applications().authenticate_client(&tenant, &client_id, &secret, &accepted, &ctx.client).await.map_err(
        |e| match e {
            // The source answers bad client credentials this way.
            CoreError::InvalidCredentials => MosipError::new("500", "401 Unauthorized"),
            other => other.into(),
        },
    )?;
    let grant = tokens::service_grant(&app, &ctx.ip.to_string());
    let token = state.core.tokens().issue_access_token(&tenant, &tokens::PROFILE, grant).await?;
    let headers = token_headers(state, &token, tenant.policy.tokens.access_ttl_seconds);
    let response = json!({ "status": "Success", "message": "Clientid and Token combination had been validated successfully" });
    Ok(Reply { response, headers })
}

/// A new token pair for a refresh token (single use: a reused one ends the session).
#[utoipa::path(post, path = "/v1/authmanager/authorize/refreshToken/{appId}", tag = "mosip", request_body(content = MosipRequest<RefreshTokenRequest>, description = "The envelope; `request` field names match case-insensitively"), params(("appId" = String, Path, description = "The application (realm) the session belongs to")),
    responses((status = 200, description = "as useridPwd, with a new pair; or errors KER-ATH-401 (invalid, expired or reused), \
        KER-ATH-026, KER-ATH-019 (no refresh token in the body or cookie)", body = MosipTokenEnvelope),
        (status = 400, description = "KER-ATH-004: the body is not JSON, or unreadable", body = ResponseEnvelope),
        (status = 429, description = "KER-ATH-429 (Retry-After)", body = ResponseEnvelope)))]
pub async fn refresh_token(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    match read_envelope(req, &state, None, false).await {
        Ok(env) => respond(env.id.as_deref(), refresh(&state, &ctx, &app_id, &headers, &env.request).await),
        Err(refused) => refused,
    }
}

async fn refresh(state: &AppState, ctx: &Ctx, app_id: &str, headers: &HeaderMap, f: &Fields) -> MosipResult<Reply> {
    limit(state, ctx)?;
    let token = match f.text("refreshToken", 4096)? {
        Some(t) => t,
        None => tokens::refresh_cookie(headers).map(str::to_string).ok_or_else(|| MosipError::missing("refreshToken"))?,
    };
    let (app, tenant) = realm(state, app_id).await?;
    let auth = state.core.sessions().refresh(&tenant, &token, DIALECT, ApplicationGuard::Any, &with_app(ctx, &app)).await?.auth;
    let azp = auth.session.device.get("azp").and_then(Value::as_str).unwrap_or(app_id).to_string();
    let (access, headers) = user_tokens(state, &tenant, &auth, &azp).await?;
    Ok(Reply { response: token_response(&tenant, &auth, access, "Token refreshed successfully", state.core.now()), headers })
}

/// Who the presented token stands for, if it is valid and was not ended.
#[utoipa::path(get, path = "/v1/authmanager/authorize/admin/validateToken", tag = "mosip", params(("Authorization" = Option<String>, Header, description = "Bearer token, or the cookie Authorization=Mosip-Token<JWT>")),
    responses((status = 200, description = "response {userId, mobile, mail, langCode, userPassword, name, role, token, rid}; \
        or errors KER-ATH-401 (bad signature, expired, revoked), KER-ATH-006 (no token)", body = MosipValidatedTokenEnvelope)))]
pub async fn validate_token(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(None, validate(&state, &headers).await)
}

async fn validate(state: &AppState, headers: &HeaderMap) -> MosipResult<Reply> {
    let token = tokens::presented_token(headers)?;
    let access = state.core.tokens().locate_and_verify(token, &tokens::PROFILE, tokens::LOCATOR).await?;
    let c = &access.claims;
    let text = |name: &str| c.text(name);
    let role: String = tokens::roles(c).iter().map(|r| format!("{r},")).collect();
    Ok(Reply::new(json!({
        "userId": text("preferred_username"),
        "mobile": text("phone_number"),
        "mail": text("email"),
        "langCode": null,
        "userPassword": null,
        "name": text("name").or(text("preferred_username")),
        "role": role,
        "token": token,
        "rid": null,
    })))
}

/// Ends the presented token everywhere: its session ends and its `jti` is denied until expiry.
#[utoipa::path(post, path = "/v1/authmanager/authorize/invalidateToken", tag = "mosip", params(("Authorization" = Option<String>, Header, description = "Bearer token, or the cookie Authorization=Mosip-Token<JWT>")),
    responses((status = 200, description = "response {message: Token invalidated successfully}, cookie cleared; or errors \
        KER-ATH-006 (no token), KER-ATH-401 (invalid token)", body = MosipMessageEnvelope)))]
pub async fn invalidate_token(State(state): State<AppState>, ctx: Ctx, headers: HeaderMap) -> Response {
    respond(Some(INVALIDATE), invalidate(&state, &ctx, &headers).await)
}

async fn invalidate(state: &AppState, ctx: &Ctx, headers: &HeaderMap) -> MosipResult<Reply> {
    let token = tokens::presented_token(headers)?;
    let access = state.core.tokens().locate_and_verify(token, &tokens::PROFILE, tokens::LOCATOR).await?;
    state.core.tokens().revoke_access_token(&access.tenant, &access.claims, &ctx.client).await?;
    Ok(Reply { response: json!({ "message": "Token invalidated successfully" }), headers: tokens::clear_cookies(state) })
}
