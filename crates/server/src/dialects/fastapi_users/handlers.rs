//! fastapi-users handlers: the form login, logout and the current user.

use axum::Form;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::model::{KeyAlg, Tenant, User};
use castellan_core::services::access_tokens::{AccessClaims, AccessGrant, Locator, TokenProfile};
use castellan_core::services::login::{LoginOutcome, PasswordLogin};
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::body::{Body, Declared, invalid_email};
use super::error::{FuError, FuResult, missing};
use super::schemas::*;
use super::{DIALECT, Mount};
use crate::client::Ctx;
use crate::openapi::schemas::Null;
use crate::state::AppState;
use axum::Extension;
use std::sync::Arc;

#[derive(OpenApi)]
#[openapi(
    paths(login, logout, me, update_me, register, request_verify_token, verify, forgot_password, reset_password),
    tags((name = "fastapi-users", description = "The fastapi-users library's JWT login (form-encoded) and companion routes. \
        Errors: {\"detail\": \"CODE\"}, FastAPI's 422 list, 401 {\"detail\": \"Unauthorized\"} with WWW-Authenticate: Bearer."))
)]
pub struct ApiDoc;

const AUDIENCE: &str = "fastapi-users:auth";

/// The library's tokens: HS256, `aud` as a list, no tenant claim, always a session.
const PROFILE: TokenProfile = TokenProfile {
    dialect: DIALECT,
    algs: &[KeyAlg::HS256],
    typ: "JWT",
    tenant_claim: None,
    not_before: false,
    audience_list: true,
    fixed: &[],
    client_claim: None,
    realm_issuer: false,
};

/// The tenant of a mount: the one it names, else `kyc` if it exists, else `default`; none if it
/// does not serve this dialect. Storage failures are errors, not a missing tenant.
async fn served_tenant(state: &AppState, mount: &Mount) -> FuResult<Option<Tenant>> {
    let tenant = match &mount.tenant {
        Some(name) => find_tenant(state, name).await?,
        None => match find_tenant(state, "kyc").await? {
            Some(t) => Some(t),
            None => find_tenant(state, "default").await?,
        },
    };
    Ok(tenant.filter(|t| t.serves(DIALECT)))
}

async fn find_tenant(state: &AppState, name: &str) -> FuResult<Option<Tenant>> {
    match state.core.tenants().find_tenant(name).await {
        Ok(t) => Ok(Some(t)),
        Err(CoreError::TenantNotFound) => Ok(None),
        Err(e) => Err(FuError::from(e)),
    }
}

/// The user of the bearer token, its tenant and claims; 401 otherwise. Only this dialect's
/// sessions count: another dialect's HS256 token of a shared tenant is not ours.
async fn authenticate(state: &AppState, mount: &Mount, headers: &HeaderMap) -> FuResult<(Tenant, User, AccessClaims)> {
    let token = crate::dialects::bearer(headers).ok_or_else(FuError::unauthorized)?;
    let tenant = served_tenant(state, mount).await?.ok_or_else(FuError::unauthorized)?;
    let access =
        state.core.tokens().locate_and_verify(token, &PROFILE, Locator::Tenant { tenant: &tenant, audience: AUDIENCE }).await?;
    let user = state.core.tokens().signed_in_user(&access).await?;
    Ok((access.tenant, user, access.claims))
}

/// The library's `UserRead`.
fn user_read(u: &User) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "is_active": u.active,
        "is_superuser": u.roles.iter().any(|r| r == "superuser"),
        "is_verified": u.email_verified,
    })
}

/// The form fields of `OAuth2PasswordRequestForm`, checked as FastAPI checks them: empty values
/// count as absent, and `grant_type`, when sent, must be `password`.
fn login_form(fields: &[(String, String)]) -> FuResult<(String, String)> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let mut errors = Vec::new();
    if let Some(grant) = field("grant_type")
        && grant != "password"
    {
        errors.push(json!({
            "type": "string_pattern_mismatch", "loc": ["body", "grant_type"], "msg": "String should match pattern '^password$'",
            "input": grant, "ctx": { "pattern": "^password$" }
        }));
    }
    let username = field("username");
    let password = field("password");
    if username.is_none() {
        errors.push(missing("username"));
    }
    if password.is_none() {
        errors.push(missing("password"));
    }
    match (username, password) {
        (Some(u), Some(p)) if errors.is_empty() => Ok((u, p)),
        _ => Err(FuError::unprocessable(errors)),
    }
}

/// Exchanges email and password for an access token (no refresh token).
#[utoipa::path(post, path = "/auth/jwt/login", tag = "fastapi-users", request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The bearer token", body = BearerResponse),
        (status = 400, description = "`{detail: LOGIN_BAD_CREDENTIALS}` or `{detail: LOGIN_USER_NOT_VERIFIED}`", body = FuErrorBody),
        (status = 422, description = "FastAPI's validation list", body = FuErrorBody),
        (status = 429, description = "`{detail: TOO_MANY_REQUESTS}` (Retry-After)", body = FuErrorBody)))]
pub async fn login(State(state): State<AppState>, Extension(mount): Extension<Arc<Mount>>, ctx: Ctx, req: Request) -> Response {
    match login_inner(&state, &mount, &ctx, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn login_inner(state: &AppState, mount: &Mount, ctx: &Ctx, req: Request) -> FuResult<Response> {
    // A body that is not a form (JSON, say) has none of the form's fields.
    let fields = Form::<Vec<(String, String)>>::from_request(req, state).await.map(|Form(f)| f).unwrap_or_default();
    let (username, password) = login_form(&fields)?;
    state.auth_limiter.check(ctx.ip).map_err(FuError::too_many)?;
    let bad = || FuError::bad_request("LOGIN_BAD_CREDENTIALS");
    let tenant = served_tenant(state, mount).await?.ok_or_else(bad)?;
    let login = PasswordLogin {
        identifier: username,
        password,
        totp_code: None,
        device: Value::Null,
        dialect: DIALECT,
        keys_as_second_factor: false,
    };
    let outcome = state.core.login().login_with_password(&tenant, login, &ctx.client).await;
    let auth = match outcome {
        Ok(LoginOutcome::Authenticated(auth)) => auth,
        // The library has no second step: a user with an authenticator cannot sign in here.
        Ok(LoginOutcome::MfaRequired { .. }) => return Err(bad()),
        Err(CoreError::EmailNotVerified) => return Err(FuError::bad_request("LOGIN_USER_NOT_VERIFIED")),
        // A locked account answers as a wrong password does: the library has no other code.
        Err(CoreError::InvalidCredentials | CoreError::AccountLocked { .. }) => {
            state.metrics.record_login(DIALECT, "failure");
            return Err(bad());
        }
        Err(e) => return Err(e.rename_field(castellan_core::services::login::IDENTIFIER_FIELD, "username").into()),
    };
    state.metrics.record_login(DIALECT, "success");
    let grant = AccessGrant::for_session(&auth.session, AUDIENCE, json!({}));
    let token = state.core.tokens().issue_access_token(&tenant, &PROFILE, grant).await?;
    Ok(axum::Json(json!({ "access_token": token, "token_type": "bearer" })).into_response())
}

/// Ends the bearer token (and its session) before it expires.
#[utoipa::path(post, path = "/auth/jwt/logout", tag = "fastapi-users", security(("bearer" = [])),
    responses((status = 204, description = "Token revoked"),
        (status = 401, description = "`{detail: Unauthorized}` with WWW-Authenticate: Bearer", body = FuErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Extension(mount): Extension<Arc<Mount>>,
    ctx: Ctx,
    headers: HeaderMap,
) -> FuResult<StatusCode> {
    let (tenant, _, claims) = authenticate(&state, &mount, &headers).await?;
    state.core.tokens().revoke_access_token(&tenant, &claims, &ctx.client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/users/me", tag = "fastapi-users", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = UserRead),
        (status = 401, description = "`{detail: Unauthorized}` with WWW-Authenticate: Bearer", body = FuErrorBody)))]
pub async fn me(
    State(state): State<AppState>,
    Extension(mount): Extension<Arc<Mount>>,
    headers: HeaderMap,
) -> FuResult<axum::Json<Value>> {
    let (_, user, _) = authenticate(&state, &mount, &headers).await?;
    Ok(axum::Json(user_read(&user)))
}

/// The password policy's refusal, as the library words it for `code`.
fn invalid_password(code: &str, e: CoreError) -> FuError {
    match e {
        CoreError::WeakPassword(rules) => FuError::bad_request_with_reason(code, &rules.join("; ")),
        other => other.into(),
    }
}

fn check_email(email: &str) -> FuResult<()> {
    castellan_core::model::Email::parse(email).map(|_| ()).map_err(|_| invalid_email(email))
}

/// Creates an account (unverified; a verification link is mailed). `is_superuser`, `is_verified`
/// and `is_active` sent by the client are ignored.
#[utoipa::path(post, path = "/auth/register", tag = "fastapi-users", request_body(content = UserCreate),
    responses((status = 201, description = "The new, unverified user", body = UserRead),
        (status = 400, description = "`{detail: REGISTER_USER_ALREADY_EXISTS}` or `{detail: {code: REGISTER_INVALID_PASSWORD, reason}}`", body = FuErrorBody),
        (status = 404, description = "`{detail: Not Found}`: the mount has no tenant, or it does not allow self-registration", body = FuErrorBody),
        (status = 422, description = "FastAPI's validation list", body = FuErrorBody),
        (status = 429, description = "`{detail: TOO_MANY_REQUESTS}` (Retry-After)", body = FuErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    Extension(mount): Extension<Arc<Mount>>,
    ctx: Ctx,
    req: Request,
) -> FuResult<Response> {
    let [email, password] = Body::read(req, &state, Declared::Model).await?.fields([("email", true), ("password", true)])?;
    let (email, password) = (email.unwrap_or_default(), password.unwrap_or_default());
    check_email(&email)?;
    state.auth_limiter.check(ctx.ip).map_err(FuError::too_many)?;
    let tenant = served_tenant(&state, &mount).await?.ok_or_else(FuError::not_found)?;
    let registration =
        castellan_core::services::registration::Registration { email, password, first_name: None, last_name: None, phone: None };
    let user = state.core.registrations().register(&tenant, registration, &ctx.client).await.map_err(|e| match e {
        CoreError::Conflict(_) => FuError::bad_request("REGISTER_USER_ALREADY_EXISTS"),
        CoreError::Disabled => FuError::not_found(),
        other => invalid_password("REGISTER_INVALID_PASSWORD", other),
    })?;
    Ok((StatusCode::CREATED, axum::Json(user_read(&user))).into_response())
}

/// Mails a verification link to an unverified account; 202 whatever the email.
#[utoipa::path(post, path = "/auth/request-verify-token", tag = "fastapi-users", request_body(content = EmailBody),
    responses((status = 202, description = "`null`, whatever the email", body = Null),
        (status = 422, description = "FastAPI's validation list", body = FuErrorBody),
        (status = 429, description = "`{detail: TOO_MANY_REQUESTS}` (Retry-After)", body = FuErrorBody)))]
pub async fn request_verify_token(
    State(state): State<AppState>,
    Extension(mount): Extension<Arc<Mount>>,
    ctx: Ctx,
    req: Request,
) -> FuResult<Response> {
    let Some((tenant, email)) = emailed_request(&state, &mount, &ctx, req).await? else { return Ok(accepted()) };
    state.core.request_verification(&tenant, &email);
    Ok(accepted())
}

/// The body of the routes that mail a link: a valid email, and the tenant (none: nothing to do).
async fn emailed_request(state: &AppState, mount: &Mount, ctx: &Ctx, req: Request) -> FuResult<Option<(Tenant, String)>> {
    let [email] = Body::read(req, state, Declared::Embedded).await?.fields([("email", true)])?;
    let email = email.unwrap_or_default();
    check_email(&email)?;
    state.auth_limiter.check(ctx.ip).map_err(FuError::too_many)?;
    Ok(served_tenant(state, mount).await?.map(|tenant| (tenant, email)))
}

/// 202 `null`: the answer whatever the email, so that it tells nothing.
fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(Value::Null)).into_response()
}

/// Verifies the email with the mailed token.
#[utoipa::path(post, path = "/auth/verify", tag = "fastapi-users", request_body(content = VerifyTokenBody),
    responses((status = 200, description = "The user, now verified", body = UserRead),
        (status = 400, description = "`{detail: VERIFY_USER_BAD_TOKEN}` or `{detail: VERIFY_USER_ALREADY_VERIFIED}`", body = FuErrorBody),
        (status = 422, description = "FastAPI's validation list", body = FuErrorBody),
        (status = 429, description = "`{detail: TOO_MANY_REQUESTS}` (Retry-After)", body = FuErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    Extension(mount): Extension<Arc<Mount>>,
    ctx: Ctx,
    req: Request,
) -> FuResult<axum::Json<Value>> {
    let [token] = Body::read(req, &state, Declared::Embedded).await?.fields([("token", true)])?;
    state.auth_limiter.check(ctx.ip).map_err(FuError::too_many)?;
    let tenant = served_tenant(&state, &mount).await?.ok_or_else(|| FuError::bad_request("VERIFY_USER_BAD_TOKEN"))?;
    match state.core.registrations().verify_email_once(&tenant, &token.unwrap_or_default(), &ctx.client).await {
        Ok((_, true)) => Err(FuError::bad_request("VERIFY_USER_ALREADY_VERIFIED")),
        Ok((user, false)) => Ok(axum::Json(user_read(&user))),
        Err(CoreError::InvalidToken | CoreError::NotFound) => Err(FuError::bad_request("VERIFY_USER_BAD_TOKEN")),
        Err(e) => Err(e.into()),
    }
}

/// Mails a reset link; 202 whatever the email.
#[utoipa::path(post, path = "/auth/forgot-password", tag = "fastapi-users", request_body(content = EmailBody),
    responses((status = 202, description = "`null`, whatever the email", body = Null),
        (status = 422, description = "FastAPI's validation list", body = FuErrorBody),
        (status = 429, description = "`{detail: TOO_MANY_REQUESTS}` (Retry-After)", body = FuErrorBody)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    Extension(mount): Extension<Arc<Mount>>,
    ctx: Ctx,
    req: Request,
) -> FuResult<Response> {
    let Some((tenant, email)) = emailed_request(&state, &mount, &ctx, req).await? else { return Ok(accepted()) };
    state.core.forgot_password(&tenant, &email, &ctx.client);
    Ok(accepted())
}

/// Sets a new password with the mailed token; every session ends.
#[utoipa::path(post, path = "/auth/reset-password", tag = "fastapi-users", request_body(content = ResetPasswordBody),
    responses((status = 200, description = "`null`", body = Null),
        (status = 400, description = "`{detail: RESET_PASSWORD_BAD_TOKEN}` or `{detail: {code: RESET_PASSWORD_INVALID_PASSWORD, reason}}`", body = FuErrorBody),
        (status = 422, description = "FastAPI's validation list", body = FuErrorBody),
        (status = 429, description = "`{detail: TOO_MANY_REQUESTS}` (Retry-After)", body = FuErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    Extension(mount): Extension<Arc<Mount>>,
    ctx: Ctx,
    req: Request,
) -> FuResult<axum::Json<Value>> {
    let [token, password] = Body::read(req, &state, Declared::Embedded).await?.fields([("token", true), ("password", true)])?;
    state.auth_limiter.check(ctx.ip).map_err(FuError::too_many)?;
    let tenant = served_tenant(&state, &mount).await?.ok_or_else(|| FuError::bad_request("RESET_PASSWORD_BAD_TOKEN"))?;
    let outcome = state
        .core
        .registrations()
        .reset_password(&tenant, &token.unwrap_or_default(), &password.unwrap_or_default(), &ctx.client)
        .await;
    match outcome {
        Ok(()) => Ok(axum::Json(Value::Null)),
        Err(CoreError::InvalidToken | CoreError::NotFound) => Err(FuError::bad_request("RESET_PASSWORD_BAD_TOKEN")),
        Err(e) => Err(invalid_password("RESET_PASSWORD_INVALID_PASSWORD", e)),
    }
}

/// Changes the signed-in user's email (it must be verified again) and/or password (every
/// session ends, this one included). Other fields are ignored.
#[utoipa::path(patch, path = "/users/me", tag = "fastapi-users", request_body(content = UserUpdate), security(("bearer" = [])),
    responses((status = 200, description = "The user", body = UserRead),
        (status = 400, description = "`{detail: UPDATE_USER_EMAIL_ALREADY_EXISTS}` or `{detail: {code: UPDATE_USER_INVALID_PASSWORD, reason}}`", body = FuErrorBody),
        (status = 401, description = "`{detail: Unauthorized}` with WWW-Authenticate: Bearer", body = FuErrorBody),
        (status = 422, description = "FastAPI's validation list", body = FuErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    Extension(mount): Extension<Arc<Mount>>,
    ctx: Ctx,
    headers: HeaderMap,
    req: Request,
) -> FuResult<axum::Json<Value>> {
    let (tenant, user, _) = authenticate(&state, &mount, &headers).await?;
    let [email, password] = Body::read(req, &state, Declared::Model).await?.fields([("email", false), ("password", false)])?;
    if let Some(email) = &email {
        check_email(email)?;
    }
    if let Some(password) = &password {
        state
            .core
            .users()
            .check_password_policy(&tenant, password)
            .map_err(|e| invalid_password("UPDATE_USER_INVALID_PASSWORD", e))?;
    }
    let mut user = user;
    let normalised = |e: &str| castellan_core::model::Email::parse(e).ok().map(|e| e.as_str().to_string());
    if let Some(email) = email.filter(|e| normalised(e) != user.email) {
        let patch = castellan_core::services::users::UserPatch {
            email: Some(Some(email)),
            email_verified: Some(false),
            ..Default::default()
        };
        user = state.core.users().update_user(&tenant, user.id, patch, &ctx.client).await.map_err(|e| match e {
            CoreError::Conflict(_) => FuError::bad_request("UPDATE_USER_EMAIL_ALREADY_EXISTS"),
            other => other.into(),
        })?;
    }
    if let Some(password) = password {
        state
            .core
            .users()
            .set_password(&tenant, user.id, &password, &ctx.client)
            .await
            .map_err(|e| invalid_password("UPDATE_USER_INVALID_PASSWORD", e))?;
    }
    Ok(axum::Json(user_read(&user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_form_is_checked_as_fastapi_checks_it() {
        assert!(login_form(&form(&[("username", "a@b.co"), ("password", "x"), ("grant_type", "password")])).is_ok());
        let e = login_form(&form(&[("username", ""), ("grant_type", "client_credentials")])).err();
        let body = e.map(|e| format!("{e:?}")).unwrap_or_default();
        assert!(
            body.contains("string_pattern_mismatch") && body.contains("\"username\"") && body.contains("\"password\""),
            "{body}"
        );
    }
}
