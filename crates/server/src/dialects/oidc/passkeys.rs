//! Passkeys on the sign-in pages: the options a page's script asks for (WebAuthn JSON, and the
//! ceremony token that finishes them), and the forms that carry the browser's answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use castellan_core::CoreError;
use castellan_core::services::passkeys::Begun;
use castellan_core::services::provider::Step;
use serde_json::json;

use super::authorize::{Guard, Render, back_to, fault, field, page_form, refusal_message, resumed, signed_in_step};
use super::{SSO_COOKIE, cookie};
use crate::client::Ctx;
use crate::state::AppState;

/// The options and ceremony token, as the page's script reads them.
pub(super) fn options_json(begun: Begun) -> Response {
    let mut r = Json(begun.into_json()).into_response();
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}

pub(super) fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

pub(super) fn json_fault(e: CoreError) -> Response {
    match e {
        CoreError::Validation(_) => json_error(StatusCode::BAD_REQUEST, "unavailable", "passkeys are not set up for this realm"),
        CoreError::Overloaded | CoreError::RateLimited { .. } => {
            json_error(StatusCode::TOO_MANY_REQUESTS, "slow_down", "too many attempts; wait a moment")
        }
        e => {
            tracing::error!(error = %castellan_core::error::Chain(&e), "passkey options");
            json_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the server cannot answer now")
        }
    }
}

/// Options for a passkey sign-in (no identifier): for the button, and for the browser's
/// autofill (conditional UI).
#[utoipa::path(post, path = "/realms/{tenant}/login/passkey/options", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcPasskeyOptionsForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`publicKey`: PublicKeyCredentialRequestOptions as WebAuthn JSON (base64url binary); `ceremony`: the token the answer is posted with (5 minutes, once)", body = Object),
        (status = 400, description = "Stale sign-in page, or passkeys not set up for the realm", body = crate::openapi::schemas::OAuthError),
        (status = 403, description = "A cross-site form", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn passkey_options(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, params) = match page_form(&state, &headers, &slug, &body, Guard::FormToken).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if state.core.provider().resume(&tenant, field(&params, "request")).await.is_err() {
        return json_error(StatusCode::BAD_REQUEST, "invalid_request", "this sign-in page has expired");
    }
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return json_error(StatusCode::TOO_MANY_REQUESTS, "slow_down", &format!("try again in {wait} seconds"));
    }
    match state.core.passkeys().begin_sign_in(&tenant, None).await {
        Ok(begun) => options_json(begun),
        Err(e) => json_fault(e),
    }
}

/// The sign-in page's passkey answer.
#[utoipa::path(post, path = "/realms/{tenant}/login/passkey", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcPasskeyForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The next page (consent) or the form_post page", content_type = "text/html", body = String),
        (status = 303, description = "Signed in: back to the client", headers(("Location" = String, description = "The redirect URI with code, state and iss"))),
        (status = 400, description = "Stale sign-in form", content_type = "text/html", body = String),
        (status = 401, description = "The passkey was not accepted: the sign-in page again", content_type = "text/html", body = String),
        (status = 403, description = "A cross-site form", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited", content_type = "text/html", body = String),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn login_passkey(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, params) = match page_form(&state, &headers, &slug, &body, Guard::FormToken).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let sealed = field(&params, "request");
    let (app, request) = match resumed(&state, &tenant, sealed).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let back = back_to(&request.redirect_uri);
    let again = |error: &str, status: StatusCode| {
        let step = Step::Login { request: sealed.to_string(), client_name: app.name.clone(), login_hint: None };
        Render { state: &state, tenant: &tenant, headers: &headers, error: Some(error), status }.step(step, &back)
    };
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return again(&format!("Too many attempts. Try again in {wait} seconds."), StatusCode::TOO_MANY_REQUESTS);
    }
    let oidc = state.core.provider();
    let replacing = oidc.signed_in(&tenant, cookie(&headers, SSO_COOKIE)).await.ok().flatten();
    let (ceremony, credential) = (field(&params, "ceremony"), field(&params, "credential"));
    match oidc.sign_in_passkey(&tenant, sealed, ceremony, credential, replacing.as_ref(), &ctx.client).await {
        Ok((step, cookie_value)) => signed_in_step(&state, &tenant, &headers, step, cookie_value, &back),
        Err(CoreError::InvalidCredentials) => {
            again("That passkey was not accepted. Try again, or sign in with your password.", StatusCode::UNAUTHORIZED)
        }
        Err(e) => match refusal_message(&e) {
            Some(msg) => again(msg, StatusCode::UNAUTHORIZED),
            None => fault(e),
        },
    }
}

/// Options for the second step with a security key or passkey: a challenge naming the
/// credentials of the user the password step found.
#[utoipa::path(post, path = "/realms/{tenant}/login/second-factor/options", tag = "oidc",
    params(("tenant" = String, Path, description = "The realm (tenant slug)")),
    request_body(content = super::schemas::OidcSecondFactorOptionsForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`publicKey`: PublicKeyCredentialRequestOptions as WebAuthn JSON with the user's credentials; `ceremony`: the token the answer is posted with", body = Object),
        (status = 400, description = "Stale page, or the user has no credentials", body = crate::openapi::schemas::OAuthError),
        (status = 401, description = "The password step's token is spent, expired or unknown", body = crate::openapi::schemas::OAuthError),
        (status = 403, description = "A cross-site form", content_type = "text/html", body = String),
        (status = 429, description = "Rate limited", body = crate::openapi::schemas::OAuthError),
        (status = 404, description = "No such realm", content_type = "text/html", body = String),
        (status = 415, description = "Not a form", content_type = "text/html", body = String)))]
pub async fn second_factor_options(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: Bytes,
) -> Response {
    let (tenant, params) = match page_form(&state, &headers, &slug, &body, Guard::FormToken).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Err(wait) = state.auth_limiter.check(ctx.ip) {
        return json_error(StatusCode::TOO_MANY_REQUESTS, "slow_down", &format!("try again in {wait} seconds"));
    }
    let user = match state.core.login().mfa_user(&tenant, field(&params, "mfa_token")).await {
        Ok(u) => u,
        Err(CoreError::InvalidMfaCode) => {
            return json_error(StatusCode::UNAUTHORIZED, "invalid_token", "sign in with your password again");
        }
        Err(e) => return json_fault(e),
    };
    match state.core.passkeys().begin_sign_in(&tenant, Some(&user)).await {
        Ok(begun) => options_json(begun),
        Err(CoreError::NotFound) => json_error(StatusCode::BAD_REQUEST, "invalid_request", "no security key is registered"),
        Err(e) => json_fault(e),
    }
}
